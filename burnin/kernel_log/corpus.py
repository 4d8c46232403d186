"""The labelled corpus of real kernel log lines (tests/data/kernel-log/corpus.txt) and how the judge scores on it.

Format: `[block-id driver]` starts a block (one machine's log excerpt; sources in the README by block id).
Each line is `EXPECTED | message`, EXPECTED being `fail CODE COMPONENT` or `warn CODE COMPONENT` (an error line:
the finding whose evidence holds it must say this), `+` (an error line of the same event as the labelled line
above it), or `-` (a benign line: it must be in no finding's evidence).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from burnin.kernel_log.judge import Event, Line, classify, group_lines


@dataclass
class CorpusLine:
    block: str
    driver: str
    lineno: int
    expected: str  # "fail CODE COMPONENT", "warn ...", "+", "-"
    message: str
    anchor: "CorpusLine | None" = None  # for "+": the labelled line whose event it belongs to

    @property
    def benign(self) -> bool:
        return self.expected == "-"

    @property
    def label(self) -> "CorpusLine":
        return self.anchor if self.anchor is not None else self

    @property
    def severity(self) -> str | None:
        return None if self.benign else self.label.expected.split(" ", 1)[0]

    @property
    def code(self) -> str | None:
        return None if self.benign else self.label.expected.split(" ", 2)[1]

    @property
    def component(self) -> str | None:
        return None if self.benign else self.label.expected.split(" ", 2)[2]


@dataclass
class Block:
    block: str
    driver: str
    lines: list[CorpusLine] = field(default_factory=list)


def load(path: Path) -> list[Block]:
    blocks: list[Block] = []
    anchor: CorpusLine | None = None
    for lineno, raw in enumerate(path.read_text().split("\n"), 1):
        if not raw or raw.startswith("#"):
            continue
        if raw.startswith("[") and " | " not in raw:
            name, _, driver = raw.strip("[]").partition(" ")
            blocks.append(Block(name, driver or name))
            anchor = None
            continue
        expected, sep, message = raw.partition(" | ")
        if not sep or not blocks:
            raise ValueError(f"{path.name}:{lineno}: expected 'EXPECTED | message' inside a [block]")
        line = CorpusLine(blocks[-1].block, blocks[-1].driver, lineno, expected.strip(), message)
        if line.expected == "+":
            if anchor is None:
                raise ValueError(f"{path.name}:{lineno}: '+' with no labelled line before it in the block")
            line.anchor = anchor
        elif not line.benign:
            if len(line.expected.split(" ")) < 3:
                raise ValueError(f"{path.name}:{lineno}: label must be 'fail|warn CODE COMPONENT', '+' or '-'")
            anchor = line
        blocks[-1].lines.append(line)
    return blocks


def judge_block(block: Block) -> dict[int, tuple[Event, Any]]:
    """lineno -> (event, finding) for every corpus line that ended up in a finding's evidence."""
    from burnin.modules.kernel_log import finding_of

    lines = []
    for cl in block.lines:
        line = Line(cl.message, match=classify(cl.message))
        line.seq = cl.lineno
        lines.append(line)
    out: dict[int, tuple[Event, Any]] = {}
    for event in group_lines(lines):
        finding = finding_of(event)
        for ln in event.lines:
            out[ln.seq] = (event, finding)  # type: ignore[index]
    return out


@dataclass
class Score:
    error_lines: int = 0
    in_evidence: int = 0
    fatal_lines: int = 0
    fatal_failed: int = 0
    benign_lines: int = 0
    benign_flagged: int = 0

    def add(self, other: "Score") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @staticmethod
    def pct(n: int, d: int) -> float | None:
        return round(100.0 * n / d, 1) if d else None

    def as_dict(self) -> dict[str, Any]:
        return {"error_lines": self.error_lines, "recall_pct": self.pct(self.in_evidence, self.error_lines),
                "fatal_lines": self.fatal_lines, "fatal_fail_pct": self.pct(self.fatal_failed, self.fatal_lines),
                "benign_lines": self.benign_lines,
                "benign_flagged_pct": self.pct(self.benign_flagged, self.benign_lines)}


def score(blocks: Iterable[Block], subsystem_of) -> dict[str, Score]:
    """Per subsystem (of the expected code, or the block's driver for benign lines) and "all"."""
    from burnin.model import Severity

    scores: dict[str, Score] = defaultdict(Score)
    for block in blocks:
        judged = judge_block(block)
        for cl in block.lines:
            sub = subsystem_of(cl)
            s = Score()
            got = judged.get(cl.lineno)
            if cl.benign:
                s.benign_lines = 1
                s.benign_flagged = int(got is not None)
            else:
                s.error_lines = 1
                s.in_evidence = int(got is not None)
                if cl.severity == "fail":
                    s.fatal_lines = 1
                    s.fatal_failed = int(got is not None and got[1].severity is Severity.FAIL)
            scores[sub].add(s)
            scores["all"].add(s)
    return dict(scores)
