"""Judge a saved kernel log (dmesg, journalctl -k, kern.log, a /dev/kmsg copy): what `burnin kmsg FILE` does with
the log a seller pasted. Every event is a finding with its own severity, as it would be during a run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from burnin.kernel_log.judge import Line, classify, group_lines, split_lines
from burnin.kernel_log.kmsg import parse_text
from burnin.kernel_log.parts import event_aliases
from burnin.model import Severity


@dataclass(frozen=True)
class TextVerdict:
    lines: int  # kernel lines read
    findings: list  # JudgedEvent, in log order

    @property
    def worst(self) -> Severity | None:
        sevs = {f.severity for f in self.findings}
        return Severity.FAIL if Severity.FAIL in sevs else Severity.WARN if Severity.WARN in sevs else None


def lines_of_text(text_lines: Iterable[str]) -> list[Line]:
    out: list[Line] = []
    for tl in parse_text(text_lines):
        for part in split_lines(tl.message):
            line = Line(part, tl.kernel_time_s, None, tl.level, 0, {}, classify(part))
            line.seq = tl.lineno  # where it is in the file, for the reader
            out.append(line)
    return out


def judge_text(text_lines: Iterable[str], inventory: Any = None) -> TextVerdict:
    from burnin.modules.kernel_log import finding_of

    lines = lines_of_text(text_lines)
    events = group_lines(lines, event_aliases(inventory) if inventory is not None else None)
    events.sort(key=lambda e: e.lines[0].seq or 0)
    return TextVerdict(len(lines), [finding_of(e, inventory) for e in events])
