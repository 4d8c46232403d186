"""Kernel log lines -> catalogue matches -> events -> findings.

A hardware error is usually reported in several lines (an ATA exception block, a SCSI sense block, a GHES
record, an MCE with its detail, an AER header with its status lines). `EventGrouper` gathers the lines of one
report into an `Event`: lines share an event key (the port, the device, the record number), a DETAIL line with
no key joins the latest open event of its family. An event closes when its last line says so, when a new report
begins on the same key, when nothing joined it for `quiet_s` (wall clock, live) or `kernel_gap_s` (kernel
time), when it is `max_age_s` old, or at the end of the input. Its severity is the worst of its lines; its
evidence carries every line.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from burnin.kernel_log.catalogue import CATALOGUE
from burnin.kernel_log.entry import Entry
from burnin.model import Severity

_RANK = {None: 0, Severity.INFO: 0, Severity.WARN: 1, Severity.FAIL: 2}
# Components that only say which kind of part: a detail line's named part is better.
GENERIC = frozenset({"kernel", "platform", "cpu", "memory", "pcie", "nic", "disk", "controller", "gpu", "ipmi"})


@dataclass(frozen=True)
class Match:
    entry: Entry
    component: str
    message: str
    fields: Mapping[str, str]
    keys: tuple[str, ...]

    @property
    def severity(self) -> Severity | None:
        return self.entry.severity

    @property
    def code(self) -> str:
        return self.entry.code


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _fill(template: str, groups: Mapping[str, str]) -> str:
    return string.Formatter().vformat(template, (), _Fields(groups))


_TEMPLATE_FIELDS: dict[str, tuple[str, ...]] = {}


def _template_fields(template: str) -> tuple[str, ...]:
    names = _TEMPLATE_FIELDS.get(template)
    if names is None:
        names = _TEMPLATE_FIELDS[template] = tuple(n for _, n, _, _ in string.Formatter().parse(template) if n)
    return names


def _filled(templates: Iterable[str], groups: Mapping[str, str]) -> list[str]:
    return [_fill(t, groups) for t in templates if all(f in groups for f in _template_fields(t))]


def classify(message: str, catalogue: tuple[Entry, ...] = CATALOGUE) -> Match | None:
    """The first catalogue row matching the line; None when no row does."""
    for entry in catalogue:
        m = entry.regex.search(message)
        if not m:
            continue
        groups = {k: v for k, v in m.groupdict().items() if v is not None}
        parts = _filled(entry.part, groups)
        component = parts[0] if parts else "kernel"
        return Match(entry, component, _fill(entry.message, groups), groups, tuple(_filled(entry.keys, groups)))
    return None


@dataclass
class Line:
    """One line of the kernel log, with where it came from."""

    text: str
    kernel_time_s: float | None = None
    seq: int | None = None
    level: int | None = None
    facility: int | None = None
    context: Mapping[str, str] = field(default_factory=dict)
    match: Match | None = None
    wall: float = 0.0  # when burnin read it (monotonic); the latency of a finding is counted from here


@dataclass(eq=False)  # identity: two events with the same lines are still two events
class Event:
    lines: list[Line] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    heads: set[str] = field(default_factory=set)  # subsystems whose report-beginning line the event holds
    opened_wall: float = 0.0
    last_wall: float = 0.0
    last_kernel_s: float | None = None

    @property
    def judged(self) -> list[Line]:
        return [ln for ln in self.lines if ln.match is not None and ln.match.severity is not None]

    @property
    def judged_subsystems(self) -> set[str]:
        """Layers whose report body was judged here; a report's judged first line (`opens`) does not count, so
        the body that follows it joins it."""
        return {ln.match.entry.subsystem for ln in self.judged if not ln.match.entry.opens}

    @property
    def worst(self) -> Line | None:
        """The first line of the highest severity."""
        best = None
        for ln in self.judged:
            if best is None or _RANK[ln.match.severity] > _RANK[best.match.severity]:
                best = ln
        return best

    @property
    def severity(self) -> Severity | None:
        worst = self.worst
        return worst.match.severity if worst else None

    @property
    def code(self) -> str | None:
        worst = self.worst
        return worst.match.code if worst else None

    @property
    def component(self) -> str:
        """The worst line's part; when that only says the kind (``pcie``), the first line naming the part."""
        worst = self.worst
        named = [ln for ln in self.lines if ln.match is not None and ln.match.component not in GENERIC]
        ranked = max(named, key=lambda ln: ln.match.entry.part_rank, default=None)
        if ranked is not None and ranked.match.entry.part_rank > 0:
            return ranked.match.component
        # A SCSI address or ATA port says less than the disk name another line of the same event gives.
        if worst is not None and worst.match.component.startswith(("scsi:", "ata:")):
            disk = next((ln.match.component for ln in named if ln.match.component.startswith("disk:/dev/")), None)
            if disk:
                return disk
        if worst is not None and worst.match.component not in GENERIC:
            return worst.match.component
        if named:
            return named[0].match.component
        return worst.match.component if worst else "kernel"

    @property
    def codes(self) -> list[str]:
        out: list[str] = []
        for ln in self.judged:
            if ln.match.code not in out:
                out.append(ln.match.code)
        return out


class EventGrouper:
    """Feeds lines in, hands closed events out. `aliases` maps event keys to one key per part (the inventory
    knows that ata3, scsi 2:0:0:0 and sdb are one disk)."""

    def __init__(self, aliases: Mapping[str, str] | None = None, quiet_s: float = 0.3, max_age_s: float = 1.0,
                 kernel_gap_s: float = 2.0, max_lines: int = 64):
        self.aliases = dict(aliases or {})
        self.quiet_s, self.max_age_s, self.kernel_gap_s, self.max_lines = quiet_s, max_age_s, kernel_gap_s, max_lines
        self._open: list[Event] = []  # most recently touched last
        self._by_key: dict[str, Event] = {}

    # -- closing -----------------------------------------------------------------------------------
    def _close(self, event: Event) -> Event | None:
        if event in self._open:
            self._open.remove(event)
        for key in event.keys:
            if self._by_key.get(key) is event:
                del self._by_key[key]
        return event if event.severity is not None else None

    def expire(self, now: float | None = None, kernel_time_s: float | None = None) -> list[Event]:
        """Close events nothing joined for a while (wall clock `now`, or kernel time)."""
        closed = []
        for event in list(self._open):
            stale = now is not None and (now - event.last_wall >= self.quiet_s
                                         or now - event.opened_wall >= self.max_age_s)
            gap = (kernel_time_s is not None and event.last_kernel_s is not None
                   and kernel_time_s - event.last_kernel_s > self.kernel_gap_s)
            if stale or gap:
                done = self._close(event)
                if done:
                    closed.append(done)
        return closed

    def next_deadline(self) -> float | None:
        """The wall-clock time at which the next open event will have to close."""
        return min((min(e.last_wall + self.quiet_s, e.opened_wall + self.max_age_s) for e in self._open), default=None)

    def flush(self) -> list[Event]:
        closed = [self._close(e) for e in list(self._open)]
        return [e for e in closed if e]

    def _merge(self, into: Event, other: Event) -> None:
        order = {id(ln): i for i, ln in enumerate(into.lines + other.lines)}
        into.lines = sorted(into.lines + other.lines,
                            key=lambda ln: (ln.seq if ln.seq is not None else 0, order[id(ln)]))
        into.heads |= other.heads
        into.opened_wall = min(into.opened_wall, other.opened_wall)
        into.last_wall = max(into.last_wall, other.last_wall)
        for key in other.keys:
            into.keys.add(key)
            self._by_key[key] = into
        self._open.remove(other)

    # -- feeding -----------------------------------------------------------------------------------
    def feed(self, line: Line, now: float | None = None) -> list[Event]:
        """Add one line; returns the events that closed (with a severity) because of it or of time."""
        closed = self.expire(now, line.kernel_time_s)
        m = line.match
        if m is None:
            return closed
        keys = list(dict.fromkeys(self.aliases.get(k, k) for k in m.keys))  # in the row's order, no repeats
        hits = list(dict.fromkeys(self._by_key[k] for k in keys if k in self._by_key))
        target = hits[0] if hits else None
        for other in hits[1:]:
            # The line says two open events are about one part (the SCSI address and the disk name): one event.
            self._merge(target, other)
        if target is None and not keys and m.entry.follows:
            prefixes = tuple(f + ":" for f in m.entry.follows.split("|"))
            target = next((e for e in reversed(self._open) if any(k.startswith(prefixes) for k in e.keys)), None)
        # A report beginning where the same layer's report (its first line or its judged line) is already open
        # is a second event; the disk's ATA block and its SCSI block are one.
        if target is not None and m.entry.head and (m.entry.subsystem in target.heads
                                                    or m.entry.subsystem in target.judged_subsystems):
            done = self._close(target)
            if done:
                closed.append(done)
            target = None
        if target is None:
            if m.severity is None and not m.entry.opens and not m.entry.head:
                return closed  # a detail line with no report open: not ours to judge alone
            wall = now if now is not None else 0.0
            target = Event(opened_wall=wall, last_wall=wall)
            self._open.append(target)
        else:
            self._open.remove(target)
            self._open.append(target)
        target.lines.append(line)
        if m.entry.head:
            target.heads.add(m.entry.subsystem)
        target.last_wall = now if now is not None else target.last_wall
        if line.kernel_time_s is not None:
            target.last_kernel_s = line.kernel_time_s
        for key in keys:
            target.keys.add(key)
            self._by_key.setdefault(key, target)
        if m.entry.ends or len(target.lines) >= self.max_lines:
            done = self._close(target)
            if done:
                closed.append(done)
        return closed


_ESCAPE = re.compile(r"\\x([0-9a-f]{2})")


def split_lines(message: str) -> list[str]:
    """/dev/kmsg escapes non-printable bytes and the backslash as \\xNN; a printk with embedded newlines is one
    record but several dmesg lines."""
    if "\\x" in message:
        message = _ESCAPE.sub(lambda m: chr(int(m[1], 16)), message)
    return [part for part in message.split("\n") if part.strip()] if "\n" in message else [message]


def group_lines(lines: Iterable[Line], aliases: Mapping[str, str] | None = None) -> list[Event]:
    """Offline: every event (with a severity) in a finished sequence of lines."""
    grouper = EventGrouper(aliases)
    events: list[Event] = []
    order: dict[int, int] = {}
    for i, line in enumerate(lines):
        order[id(line)] = i
        if line.match is None:
            line.match = classify(line.text)
        events.extend(grouper.feed(line))
    events.extend(grouper.flush())
    events.sort(key=lambda e: order[id(e.lines[0])])  # in the order they began
    return events


def evidence_of(event: Event) -> dict[str, Any]:
    """What a finding carries: the worst line, every raw line of the event, and where they were in the log."""
    worst = event.worst
    assert worst is not None and worst.match is not None
    evidence: dict[str, Any] = {"line": worst.text, "lines": [ln.text for ln in event.lines]}
    if all(ln.seq is not None for ln in event.lines):
        evidence["seqs"] = [ln.seq for ln in event.lines]  # each line's record (/dev/kmsg seq, or line in the file)
    for name in ("kernel_time_s", "seq", "level", "facility"):
        value = getattr(worst, name)
        if value is not None:
            evidence[name] = round(value, 6) if name == "kernel_time_s" else value
    evidence.update({f"field_{k}": v for k, v in worst.match.fields.items()})
    if len(event.codes) > 1:
        evidence["codes"] = event.codes
    if worst.context:
        evidence["context"] = dict(worst.context)
    return evidence
