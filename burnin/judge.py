"""Helpers every judge shares: how much counters grew, and reporting each (component, code) once.

Judges are small pure functions from typed readings to `model.Judgement`s; these are the pieces they all need.
"""

from __future__ import annotations

from typing import Hashable, Iterable, Mapping, TypeVar

from burnin.model import SEVERITY_RANK, Judgement, Severity

K = TypeVar("K", bound=Hashable)


def counter_growth(before: Mapping[K, int | None], after: Mapping[K, int | None], *,
                   keys: Iterable[K] | None = None, width_bits: int | None = None) -> dict[K, int]:
    """How much each counter grew between two snapshots, for the counters that grew.

    Only counters read in both snapshots count (a counter that appeared or vanished is not growth). A counter
    that went down wrapped, when its width is known (it grew across the wrap), or else was reset (a driver or
    device reset clears it): then it grew by its new value, counted from zero."""
    grown: dict[K, int] = {}
    for key in (keys if keys is not None else after.keys()):
        old, new = before.get(key), after.get(key)
        if old is None or new is None:
            continue
        if new >= old:
            delta = new - old
        elif width_bits is not None and old < 2 ** width_bits:
            delta = 2 ** width_bits - old + new
        else:
            delta = new
        if delta > 0:
            grown[key] = delta
    return grown


def worse(a: Severity | str, b: Severity | str) -> bool:
    """True when severity `a` is worse than `b`."""
    return SEVERITY_RANK[Severity(a)] > SEVERITY_RANK[Severity(b)]


class Reported:
    """Which (component, code) pairs were already reported, so that each is reported once — or again only when
    it got worse (a WARN that became a FAIL). `should_report` answers and remembers."""

    def __init__(self) -> None:
        self._worst: dict[tuple[str, str], Severity] = {}

    def should_report(self, judgement: Judgement) -> bool:
        key = (judgement.component, judgement.code)
        seen = self._worst.get(key)
        if seen is not None and not worse(judgement.severity, seen):
            return False
        self._worst[key] = Severity(judgement.severity)
        return True

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._worst

    def __len__(self) -> int:
        return len(self._worst)
