"""The "before this boot" section that opens the verdict block, the HTML report and the dashboard: what the
machine recorded before this boot (the history module's findings), or "nothing recorded" and which sources were
read. Nothing here when the history module did not run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from burnin.model import Finding, Severity

MODULE = "history"
SUMMARY = "history-summary"
_ORDER = {Severity.FAIL: 0, Severity.WARN: 1, Severity.INFO: 2}


@dataclass(frozen=True)
class BeforeBoot:
    records: tuple[Finding, ...]  # worst first
    summary: Finding | None

    @property
    def worst(self) -> Severity | None:
        return min((f.severity for f in self.records), key=_ORDER.get, default=None)

    @property
    def sources(self) -> dict:
        evidence = self.summary.evidence if self.summary else {}
        sources = evidence.get("sources") if isinstance(evidence, dict) else None
        return sources if isinstance(sources, dict) else {}

    def headline(self) -> str:
        if self.summary is not None:
            return self.summary.message
        return f"{len(self.records)} record(s) from before this boot."


def before_boot(findings: Sequence[Finding]) -> BeforeBoot | None:
    own = [f for f in findings if f.module == MODULE]
    if not own:
        return None
    summary = next((f for f in own if f.code == SUMMARY), None)
    records = sorted((f for f in own if f.code != SUMMARY), key=lambda f: _ORDER.get(f.severity, 3))
    return BeforeBoot(tuple(records), summary)


def source_lines(section: BeforeBoot) -> list[str]:
    return [f"{name}: {status}" for name, status in section.sources.items()]
