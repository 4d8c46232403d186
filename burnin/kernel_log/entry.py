"""One row of the kernel-log catalogue: what a kernel message means, and the real line that shows it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from burnin.model import Severity

FAIL, WARN = Severity.FAIL, Severity.WARN
DETAIL = None  # a line that belongs to an event another row judges; never a finding on its own

PCI = r"[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]"


@dataclass(frozen=True)
class Example:
    line: str  # verbatim, without the dmesg/syslog prefix
    source: str  # where it was seen (a URL), or "format: FILE" when written from the kernel's format string


@dataclass(frozen=True)
class Entry:
    """A row: a regex over the message, and what a match means.

    severity: FAIL (data lost, a device given up on), WARN (corrected, retried, reset and recovered), or DETAIL.
    part: component templates over the regex's named groups; the first whose fields all matched names the part.
    keys: event-key templates; lines sharing a key belong to the same event (an ATA exception block, an AER
      report, a GHES record). A line with no key joins the latest open event of the family `follows` names.
    head: the line begins a new event (a second report on the same device is a second event).
    opens: a DETAIL row that may open an event (the block's first line comes before the judged one).
    ends: the line closes its event (``EH complete``).
    """

    code: str
    severity: Severity | None
    pattern: str
    part: tuple[str, ...] = ()
    message: str = ""
    examples: tuple[Example, ...] = ()
    keys: tuple[str, ...] = ()
    follows: str | None = None
    head: bool = False
    opens: bool = False
    ends: bool = False
    part_rank: int = 0  # among an event's lines naming a part, the highest rank names the event's part
    rule: str = ""  # why this severity, when the line alone does not say it plainly
    subsystem: str = ""  # filled in by the catalogue: the table the row comes from
    regex: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern))


def row(code: str, severity: Severity | None, pattern: str, part: tuple[str, ...] | str = (), message: str = "",
        examples: tuple[tuple[str, str], ...] = (), **kwargs) -> Entry:
    """A table row; examples are (line, source) pairs."""
    if isinstance(part, str):
        part = (part,)
    return Entry(code, severity, pattern, tuple(part), message, tuple(Example(*e) for e in examples), **kwargs)
