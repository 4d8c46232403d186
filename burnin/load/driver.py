"""The `Load` protocol, the one loop that drives loads to a deadline, and the one way every load is stopped."""

from __future__ import annotations

import math
import signal
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping, Protocol, Sequence, runtime_checkable

STOP_GRACE_S = 1.5  # after the stop request, how long a load has to end by itself before it is killed
TICK_S = 0.2  # the longest the loop waits before it looks at the deadline, cancellation and the module's tick


@runtime_checkable
class Load(Protocol):
    """Something that keeps hardware busy until told to stop (see the package docstring)."""

    name: str

    def start(self) -> None: ...

    def poll(self, timeout: float) -> bool: ...

    def metrics(self) -> Mapping[str, float]: ...

    def stop(self) -> None: ...

    def kill(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class DriveOutcome:
    """How a drive ended."""

    reason: str  # "ended": the loads ended by themselves; "until": their time was up; "stopping": the phase ended
    seconds: float
    killed: tuple[str, ...] = ()  # loads still running after the grace, killed

    @property
    def interrupted(self) -> bool:
        """True when the loads were stopped rather than ending by themselves."""
        return self.reason != "ended"


def grace_for(ctx: Any) -> float:
    """How long a load gets between the stop request and the kill: the default, or less when the profile's
    `stop_grace` (the module's whole time to stop) is short, so that the module itself still stops in time."""
    profile_grace = getattr(ctx, "stop_grace_s", None)
    if isinstance(profile_grace, (int, float)) and profile_grace > 0:
        return min(STOP_GRACE_S, profile_grace / 2)
    return STOP_GRACE_S


def drive(
    ctx: Any,
    loads: Sequence[Load],
    *,
    until: float | None = None,
    interval_s: float | None = None,
    tick: Callable[[], None] | None = None,
    sample: Callable[[dict[str, float], float], None] | None = None,
    before_stop: Callable[[], None] | None = None,
    grace_s: float | None = None,
    **note: Any,
) -> DriveOutcome:
    """Start `loads`, keep them running until they end, `until` (a time.monotonic() value) passes, or the phase
    is stopping; then stop what still runs (ask, grace, kill) and close them.

    `tick()` runs after every poll (and once more after the stop): the module handles its workers' messages and
    reads its counters there. Every `interval_s` the loads' metrics are merged and handed to `sample(metrics,
    elapsed_s)`, or emitted as a sample when no `sample` is given. `before_stop()` runs when the loads are about to
    be stopped (a module's load window ends there). `note` is added to the "load started" note."""
    loads = list(loads)
    grace = grace_for(ctx) if grace_s is None else grace_s
    begun = time.monotonic()
    names = [load.name for load in loads]
    ctx.note("load started", loads=names, seconds=None if until is None else round(max(0.0, until - begun), 1),
             **note)
    reason = "stopping"
    killed: tuple[str, ...] = ()
    try:
        for load in loads:
            load.start()
        interval = max(0.05, interval_s) if interval_s else None
        last_sample = begun
        next_sample = begun + interval if interval else math.inf
        while True:
            now = time.monotonic()
            if ctx.stopping():
                reason = "stopping"
                break
            if until is not None and now >= until:
                reason = "until"
                break
            timeout = min(TICK_S, ctx.remaining(), next_sample - now, math.inf if until is None else until - now)
            _poll_all(loads, max(0.0, timeout))
            if tick is not None:
                tick()
            now = time.monotonic()
            if now >= next_sample:
                metrics: dict[str, float] = {}
                for load in loads:
                    metrics.update(load.metrics())
                if sample is not None:
                    sample(metrics, now - last_sample)
                elif metrics:
                    ctx.sample(metrics)
                last_sample, next_sample = now, now + (interval or math.inf)
            if not _poll_all(loads, 0.0):
                reason = "ended"
                break
    finally:
        try:
            if before_stop is not None:
                before_stop()
            killed = stop_loads(loads, grace)
            if tick is not None:
                tick()
        finally:
            for load in loads:
                load.close()
            ctx.note("load stopped", loads=names, reason=reason, seconds=round(time.monotonic() - begun, 2),
                     killed=list(killed))
    return DriveOutcome(reason, time.monotonic() - begun, killed)


def stop_loads(loads: Sequence[Load], grace_s: float = STOP_GRACE_S) -> tuple[str, ...]:
    """The one stop rule: ask every running load to stop, give them `grace_s` together, kill the rest.
    Returns the names of the loads that had to be killed."""
    running = [load for load in loads if load.poll(0.0)]
    for load in running:
        load.stop()
    give_up = time.monotonic() + grace_s
    while running:
        left = give_up - time.monotonic()
        if left <= 0:
            break
        running = [load for load in running if load.poll(min(0.05, left))]
    for load in running:
        load.kill()
    for load in running:
        load.poll(1.0)  # reap what was killed
    return tuple(load.name for load in running)


def _poll_all(loads: Sequence[Load], timeout: float) -> bool:
    """Poll every load; only the first that still runs waits (up to `timeout`). True while any runs."""
    running = False
    for load in loads:
        if load.poll(0.0 if running else timeout):
            running = True
    return running


def plan_slices(total_s: float, engines: Sequence[str], slice_s: float) -> list[tuple[str, float]]:
    """Alternate the engines, in the given order, in slices of about `slice_s`; short runs split evenly."""
    if not engines or total_s <= 0:
        return []
    if len(engines) == 1:
        return [(engines[0], total_s)]
    rounds = max(1, round(total_s / (slice_s * len(engines))))
    each = total_s / (rounds * len(engines))
    return [(engine, each) for _ in range(rounds) for engine in engines]


def engine_slices(ctx: Any, engines: Sequence[str], slice_s: float) -> Iterator[tuple[str, float, bool]]:
    """The phase's remaining time as `plan_slices`: (engine, until, final) for each slice, while the phase runs.
    Each slice ends `seconds` after it starts, so one that ended early hands its time to the next; the last runs
    to the deadline."""
    planned = plan_slices(ctx.remaining(), engines, slice_s)
    for index, (engine, seconds) in enumerate(planned):
        if ctx.stopping():
            return
        final = index == len(planned) - 1
        yield engine, (ctx.deadline if final else time.monotonic() + seconds), final


def pick_engines(wanted: Sequence[str], known: Sequence[str], missing: Callable[[str], str | None],
                 note: Callable[..., None] | None = None) -> list[str]:
    """The engines to run, in the order `wanted`, each once: known ones for which `missing(engine)` names nothing
    missing. Each one left out is told to `note` (a ModuleContext's note), with the reason."""
    engines: list[str] = []
    for engine in wanted:
        if engine not in known:
            if note:
                note(f"unknown engine {engine!r} ignored", known=list(known))
            continue
        why = missing(engine)
        if why:
            if note:
                note(why, engine=engine)
        elif engine not in engines:
            engines.append(engine)
    return engines


def exit_signal(exitcode: int | None) -> str | None:
    """The name of the signal that ended a process (negative exit code, as subprocess and multiprocessing give
    it), or None when it exited by itself."""
    if exitcode is None or exitcode >= 0:
        return None
    try:
        return signal.Signals(-exitcode).name
    except ValueError:
        return f"signal {-exitcode}"


def describe_exit(exitcode: int | None) -> str:
    """How a process ended, in words: "killed by SIGSEGV" or "exit code 1"."""
    name = exit_signal(exitcode)
    return f"killed by {name}" if name else f"exit code {exitcode}"
