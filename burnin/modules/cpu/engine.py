"""The cpu module's two engines, run as loads (`burnin.load`): pinned built-in workers, and stress-ng per CPU.

The built-in worker body (`worker_main`) runs in a `WorkerPool` process pinned to its CPU; what it sends back is
turned into findings here (`BuiltinEvents`). stress-ng runs as one `ProgramLoad` per CPU (`stress_ng.cpu_program`)
and each outcome is judged by `judge.judge_stress_ng`.
"""

from __future__ import annotations

import math
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from burnin.host import Host, format_cpulist
from burnin.load import ProgramLoad, WorkerPool, describe_exit, drive, exit_signal
from burnin.module import ModuleContext
from burnin.modules.cpu import kernels as cpu_kernels
from burnin.modules.cpu.judge import CpuTopology, judge_stress_ng
from burnin.modules.cpu.monitor import Monitor
from burnin.tools import stress_ng

MAX_RESTARTS_PER_CPU = 3  # a worker that keeps dying is reported each time, then its CPU is left alone
PROGRESS_INTERVAL_S = 0.5  # how often a worker reports its iteration counts
STRESS_NG_OVERRUN_S = 10.0  # how long past its --timeout a stress-ng may run before it is stopped
STRESS_NG_SETTLE_S = 0.5  # stress-ng's own start-up, left out of the measured load window


def _inject_fault(cpu: int, kernel: str, result: str) -> str:
    """Test seam: the result a worker on `cpu` got from `kernel`, unchanged. Tests replace this function to make
    one CPU compute wrong; workers are forked, so the replacement reaches them."""
    return result


# -- the built-in engine's workers -----------------------------------------------------------------
def worker_main(cpu, names, golden, inputs, retest_count, rounds, stop, conn) -> None:
    """Body of one worker (pinned to `cpu` by the pool): run the kernels in turn until told to stop (or `rounds`
    times)."""
    try:
        counts: Counter = Counter()
        mismatches: Counter = Counter()
        retested: set[str] = set()
        last_report = time.monotonic()
        done = 0
        while not stop.is_set():
            name = names[done % len(names)]
            actual = _run_kernel(cpu, name, inputs)
            done += 1
            counts[name] += 1
            if actual != golden[name]:
                mismatches[name] += 1
                if name not in retested:  # retest once per kernel: then keep loading, just count
                    retested.add(name)
                    reproduced = tries = 0
                    for _ in range(retest_count):
                        if stop.is_set():
                            break
                        tries += 1
                        reproduced += _run_kernel(cpu, name, inputs) != golden[name]
                    conn.send(("mismatch", cpu, name, golden[name], actual, reproduced, tries))
            now = time.monotonic()
            if now - last_report >= PROGRESS_INTERVAL_S:
                conn.send(("progress", cpu, dict(counts), dict(mismatches)))
                counts.clear()
                mismatches.clear()
                last_report = now
            if rounds and done >= rounds * len(names):
                break
        conn.send(("progress", cpu, dict(counts), dict(mismatches)))
    except BaseException as exc:  # MemoryError and friends: report, then die with a non-zero exit code
        try:
            conn.send(("error", cpu, f"{type(exc).__name__}: {exc}", traceback.format_exc()[-1500:]))
        finally:
            raise


def _run_kernel(cpu: int, name: str, inputs: cpu_kernels.KernelInputs) -> str:
    try:
        result = cpu_kernels.KERNELS[name](inputs)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - a kernel that raises where the reference did not computed wrong
        result = f"raised {type(exc).__name__}: {exc}"
    return _inject_fault(cpu, name, result)


def worker_pool(cpus: Sequence[int], names, golden, inputs, retest_count: int, rounds: int | None = None) -> WorkerPool:
    """One pinned worker per CPU."""
    workers = {cpu: (cpu, list(names), dict(golden), inputs, retest_count, rounds) for cpu in cpus}
    return WorkerPool("cpu", worker_main, workers, cpus={cpu: [cpu] for cpu in cpus})


@dataclass
class BuiltinTally:
    """What the built-in engine did in one phase."""

    iterations: dict[int, Counter] = field(default_factory=lambda: defaultdict(Counter))
    mismatches: dict[int, Counter] = field(default_factory=lambda: defaultdict(Counter))
    reported: set = field(default_factory=set)  # (cpu, kernel) with a finding in this phase
    errors: dict[int, str] = field(default_factory=dict)
    deaths: Counter = field(default_factory=Counter)
    ops_since_sample: int = 0


class BuiltinEvents:
    """Turns the workers' messages into tallies and findings; restarts a dead worker while the load runs."""

    def __init__(self, ctx: ModuleContext, pool: WorkerPool, topology: Mapping[int, CpuTopology],
                 restart: bool, once: bool = False):
        self.ctx = ctx
        self.pool = pool
        self.topology = topology
        self.restart = restart
        self.once = once  # workers run a fixed number of rounds: exit code 0 is their normal end
        self.tally = BuiltinTally()

    def handle(self) -> None:
        ctx, tally = self.ctx, self.tally
        for event in self.pool.events():
            kind, cpu = event[0], event[1]
            topo = self.topology.get(cpu, CpuTopology(cpu, None, None))
            if kind == "progress":
                tally.iterations[cpu].update(event[2])
                tally.mismatches[cpu].update(event[3])
                tally.ops_since_sample += sum(event[2].values())
            elif kind == "mismatch":
                _, _, kernel, expected, actual, reproduced, tries = event
                if (cpu, kernel) in tally.reported:
                    continue
                tally.reported.add((cpu, kernel))
                ctx.fail(
                    topo.component, "cpu-wrong-result",
                    f"CPU {cpu} (core {topo.core_id}, socket {topo.socket_id}) gave a wrong answer in the {kernel} "
                    "test; a CPU that miscalculates is faulty.",
                    {"engine": "builtin", "phase": ctx.phase, "kernel": kernel, "expected": expected,
                     "actual": actual, "reproduced": f"{reproduced} of {tries}", "reproduced_count": reproduced,
                     "retests": tries, "input_seed": cpu_kernels.INPUT_SEED},
                )
            elif kind == "error":
                tally.errors[cpu] = event[2]
            elif kind == "exit":
                self._exit(cpu, topo, event[2])

    def _exit(self, cpu: int, topo: CpuTopology, exitcode: int | None) -> None:
        ctx, tally = self.ctx, self.tally
        if self.pool.stopping or (self.once and exitcode == 0):
            return
        tally.deaths[cpu] += 1
        ctx.fail(
            topo.component, "cpu-worker-died",
            f"The test process on CPU {cpu} died under load ({describe_exit(exitcode)}); a crash under stress is a "
            "hardware symptom.",
            {"engine": "builtin", "phase": ctx.phase, "exitcode": exitcode, "signal": exit_signal(exitcode),
             "error": tally.errors.pop(cpu, None), "death_number": tally.deaths[cpu],
             "iterations_before": sum(tally.iterations[cpu].values())},
        )
        if not self.restart:
            return
        if self.pool.starts[cpu] <= MAX_RESTARTS_PER_CPU and not ctx.stopping():
            self.pool.start_worker(cpu)
        else:
            ctx.note(f"CPU {cpu} left unloaded after {tally.deaths[cpu]} worker deaths", cpu=cpu)


def run_builtin(ctx: ModuleContext, pool: WorkerPool, topology: Mapping[int, CpuTopology], until: float | None,
                monitor: Monitor | None, interval_s: float | None, once: bool = False) -> BuiltinTally:
    """Drive the pool until `until` (None: until its workers end); the monitor's load window is the drive's."""
    events = BuiltinEvents(ctx, pool, topology, restart=not once, once=once)

    def tick() -> None:
        if monitor is not None and not monitor.loaded and not pool.stopping:
            monitor.load_started()
        events.handle()

    def sample(_metrics, _elapsed) -> None:
        if monitor is not None:
            monitor.sample(ctx, events.tally.ops_since_sample)
            events.tally.ops_since_sample = 0

    drive(ctx, [pool], until=until, interval_s=interval_s, tick=tick, sample=sample,
          before_stop=monitor.load_ended if monitor is not None else None, engine="builtin")
    events.handle()
    return events.tally


# -- stress-ng, one per CPU -------------------------------------------------------------------------
def run_stress_ng(ctx: ModuleContext, host: Host, cpus: Sequence[int], topology: Mapping[int, CpuTopology],
                  until: float, monitor: Monitor, final: bool, interval_s: float) -> tuple[bool, list[str]]:
    """One verified stress-ng CPU stressor per CPU until `until`; (the engine tested, its tool problems)."""
    program = host.which("stress-ng") or "stress-ng"
    # whole seconds; in the last slice rounded down, so stress-ng ends by itself before the phase does
    left = until - time.monotonic()
    seconds = math.floor(left) if final else round(left)
    if seconds < 1:
        ctx.note("stress-ng not started: less than 1 s left for its slice", engine="stress-ng",
                 seconds_left=round(left, 2))
        return True, []
    loads = [ProgramLoad(host, stress_ng.cpu_program(cpu, seconds, program=program)) for cpu in cpus]
    window: dict[str, float] = {}

    def tick() -> None:
        now = time.monotonic()
        if not window:
            spawned = min(load.started_at for load in loads)
            ctx.note("engine", engine="stress-ng", cpus=format_cpulist(cpus), seconds=seconds,
                     argv=list(loads[0].argv))
            # the load window: after stress-ng's start-up, until its stressors' timeout (before it reports)
            window.update(start=spawned + min(STRESS_NG_SETTLE_S, seconds / 2), end=spawned + seconds)
        if not monitor.loaded and window["start"] <= now < window["end"]:
            monitor.load_started()
        if monitor.loaded and (now >= window["end"] or any(not load.running() for load in loads)):
            monitor.load_ended()
            window["end"] = now  # a stress-ng that ended early closes the window for good

    def sample(_metrics, _elapsed) -> None:
        if monitor.loaded:
            monitor.sample(ctx, None)

    outcome = drive(ctx, loads, until=time.monotonic() + seconds + STRESS_NG_OVERRUN_S, interval_s=interval_s,
                    tick=tick, sample=sample, before_stop=monitor.load_ended, engine="stress-ng")
    ok_any = False
    problems: list[str] = []
    for cpu, load in zip(cpus, loads):
        result: stress_ng.Outcome = load.outcome
        verdict = judge_stress_ng(topology[cpu], result, outcome.interrupted)
        for j in verdict.judgements:
            ctx.report(j)
            if j.code == "tool-error":
                problems.append(verdict.note)
        ctx.note(verdict.note, engine="stress-ng", cpu=cpu, **result.to_record())
        ok_any = ok_any or verdict.engine_ok
    return ok_any and not problems, problems
