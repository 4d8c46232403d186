"""The journal's sample budget: a run of any length on any server fits `journal_max_mb`, with per-second detail
kept around every finding.

A module's samples cost the length of their line, every period. When a module's raw samples over the whole run
would outgrow its share of the budget, its samples are folded: each interval becomes three sample records (the
minimum, the mean and the maximum of every metric over the interval, marked with `fold`), the interval growing
with the run's length and the module's number of metrics. Peaks survive (the maximum and minimum are exact) and the
verdicts are untouched (modules judge every reading live, not the journal).

Around every finding, the finding's module's samples stay raw: the last DETAIL_S seconds of each folding module
are held back in memory (not yet written) so that a finding can still have them written raw, and the DETAIL_S
seconds after it are written raw too. These windows have their own share of the budget (DETAIL_SHARE): once it is
spent, later findings keep only the folded envelope (whose extremes are exact). A module whose samples fit its
share is written as before, at once.

What a held-back sample costs: a crash (SIGKILL, power cut) loses at most DETAIL_S seconds of samples of a folding
module; every finding is still written and fsynced at once.
"""

from __future__ import annotations

import collections
import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable

DETAIL_S = 120.0  # raw, per-second samples kept before and after every finding
DETAIL_SHARE = 0.3  # of the budget: the raw windows around findings
OTHER_SHARE = 0.05  # of the budget: every record that is not a sample (findings, notes, inventory, commands)
FOLD_STATS = ("min", "mean", "max")
_MEASURE = 5  # samples of a module measured (line length, period) before its plan is made
_LINE_OVERHEAD = 95  # bytes of a sample line around its metrics: type, t, seq, module, punctuation
_FOLD_OVERHEAD = 80  # the `fold` object of a folded line


def planned_interval_s(line_bytes: int, period_s: float, duration_s: float, share_bytes: float) -> float:
    """The fold interval of a module (0: no folding): its raw samples over the run if they fit `share_bytes`,
    else intervals of three folded lines each that fit it."""
    if duration_s <= 0 or period_s <= 0 or line_bytes * duration_s / period_s <= share_bytes:
        return 0.0
    folded_line = line_bytes + _FOLD_OVERHEAD
    return max(2 * period_s, len(FOLD_STATS) * folded_line * duration_s / max(1.0, share_bytes))


def planned_journal_bytes(duration_s: float, cpus: int, budget_bytes: float) -> float:
    """What the journal may grow to, for the free-space check before a run: at most the budget, less for a short
    run (a rough rate: the per-CPU metrics of thermal and cpu dominate, ~34 bytes each per second)."""
    raw_per_s = (60 + 4 * max(1, cpus)) * 34
    return min(budget_bytes, 1_000_000 + raw_per_s * max(0.0, duration_s))


@dataclass
class _Module:
    name: str
    measured: list[tuple[float, int]] = field(default_factory=list)  # (t, line bytes) of the first samples
    interval_s: float | None = None  # None: not planned yet; 0: raw
    line_bytes: int = 0
    period_s: float = 1.0
    held: collections.deque = field(default_factory=collections.deque)  # (t, metrics, raw?) held back
    raw_until: float = -math.inf
    names: tuple[str, ...] | None = None  # of the interval being folded
    start: float = 0.0
    end: float = 0.0
    count: int = 0
    mins: list[Any] = field(default_factory=list)
    maxs: list[Any] = field(default_factory=list)
    sums: list[float] = field(default_factory=list)


class SampleBudget:
    """Decides, sample by sample, what reaches the journal. `write(t, module, metrics, fold)` writes one sample
    record (fold: None for a raw sample, else {"stat", "from", "to", "samples"})."""

    def __init__(self, write: Callable[[float, str, dict[str, Any], dict[str, Any] | None], None],
                 budget_bytes: float, duration_s: float, modules: int):
        self._write = write
        self.duration_s = duration_s
        self.share_bytes = budget_bytes * (1 - DETAIL_SHARE - OTHER_SHARE) / max(1, modules)
        self.detail_left = budget_bytes * DETAIL_SHARE  # bytes the raw windows around findings may still take
        self._modules: dict[str, _Module] = {}

    def interval_s(self, module: str) -> float | None:
        state = self._modules.get(module)
        return state.interval_s if state else None

    # -- input ---------------------------------------------------------------------------------
    def sample(self, t: float, module: str, metrics: dict[str, Any]) -> None:
        state = self._modules.get(module)
        if state is None:
            state = self._modules[module] = _Module(module)
        if state.interval_s is None:
            self._measure(state, t, metrics)
        if not state.interval_s:
            self._write(t, module, metrics, None)
            return
        state.held.append((t, metrics, t <= state.raw_until))
        while state.held and state.held[0][0] < t - DETAIL_S:
            self._release(state, *state.held.popleft())

    def finding(self, t: float, module: str) -> None:
        """A finding of `module` at `t`: its samples from DETAIL_S before to DETAIL_S after stay raw, while the
        budget of the raw windows lasts."""
        state = self._modules.get(module)
        if state is None or not state.interval_s:
            return
        window = state.line_bytes * (t + DETAIL_S - max(t - DETAIL_S, state.raw_until)) / state.period_s
        if window > self.detail_left:
            return
        self.detail_left -= max(0.0, window)
        state.raw_until = max(state.raw_until, t + DETAIL_S)
        state.held = collections.deque((ts, m, raw or ts >= t - DETAIL_S) for ts, m, raw in state.held)

    def flush(self, module: str | None = None) -> None:
        """Write what is held back (a module ended, the run ends)."""
        for name, state in list(self._modules.items()):
            if module is not None and name != module:
                continue
            while state.held:
                self._release(state, *state.held.popleft())
            self._close(state)

    # -- planning ------------------------------------------------------------------------------
    def _measure(self, state: _Module, t: float, metrics: dict[str, Any]) -> None:
        line = _LINE_OVERHEAD + len(state.name) + len(json.dumps(metrics, ensure_ascii=False, default=str))
        state.measured.append((t, line))
        if len(state.measured) < _MEASURE:
            return
        times = [m[0] for m in state.measured]
        period = (times[-1] - times[0]) / (len(times) - 1) or 1.0
        state.line_bytes, state.period_s = max(m[1] for m in state.measured), period
        state.interval_s = planned_interval_s(state.line_bytes, period, self.duration_s, self.share_bytes)
        state.measured = []

    # -- folding -------------------------------------------------------------------------------
    def _release(self, state: _Module, t: float, metrics: dict[str, Any], raw: bool) -> None:
        """A sample leaves the held-back window: raw, or into the interval being folded."""
        if raw or not _numbers(metrics):
            self._close(state)
            self._write(t, state.name, metrics, None)
            return
        names = tuple(metrics)
        if state.names is not None and (names != state.names or t >= state.start + state.interval_s):
            self._close(state)
        values = list(metrics.values())
        if state.names is None:
            state.names, state.start, state.count = names, t, 0
            state.mins, state.maxs, state.sums = values, list(values), [0.0] * len(values)
        else:
            state.mins = list(map(min, state.mins, values))
            state.maxs = list(map(max, state.maxs, values))
        state.sums = list(map(float.__add__, state.sums, map(float, values)))
        state.count += 1
        state.end = t

    def _close(self, state: _Module) -> None:
        """Write the interval being folded: one sample alone as it was, else its minimum, mean and maximum."""
        if state.names is None:
            return
        names, count = state.names, state.count
        state.names = None
        if count == 1:
            self._write(state.end, state.name, dict(zip(names, state.mins)), None)
            return
        mid = round((state.start + state.end) / 2, 3)
        means = [round(s / count, 3) for s in state.sums]
        for stat, values in zip(FOLD_STATS, (state.mins, means, state.maxs)):
            self._write(mid, state.name, dict(zip(names, values)),
                        {"stat": stat, "from": state.start, "to": state.end, "samples": count})


def _numbers(metrics: dict[str, Any]) -> bool:
    """Whether every value is a finite number (only those fold; a null, a string or NaN goes raw)."""
    try:
        return bool(metrics) and all(type(v) in (int, float) and math.isfinite(v) for v in metrics.values())
    except TypeError:
        return False
