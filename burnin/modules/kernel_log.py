"""The kernel log, followed live: hardware errors the kernel reports while the machine is under test.

It reads /dev/kmsg (one record per read(): "prio,seq,usec,flags;message", continuation lines " KEY=value") and
judges every line through the catalogue in burnin/kernel_log/catalogue/ (one table per subsystem: MCE, GHES,
EDAC, memory failure and OOM, PCIe AER, ATA, SCSI, block/md, NVMe, RAID/HBA, NIC, GPU, IPMI, lockups/panics/
thermal). The lines of one report (an ATA exception block, a SCSI sense block, a GHES record, an MCE with its
detail, an AER header with its status lines) are grouped into one event (burnin.kernel_log.judge), and an event
is one finding whose evidence carries every raw line. The part is named with the inventory (the disk and its
serial, the PCIe slot, the DIMM slot, the controller, the interface) or the finding says what it could not map.
- check(): reads everything the kernel still holds since boot, counts the hardware-error events already logged
  and WARNs `kernel-errors-before-run` with counts per kind and a few examples; remembers where it stopped. On a
  capture (--sysroot), it judges the kernel log the capture saved (.burnin-capture/kmsg.txt) the same way.
- run(): polls the log and turns every new event into a finding within about a second.
- finish(): reads what is left, and sums up floods.

What makes it FAIL: an event of FAIL severity written during the run (the catalogue's rule: data lost or a
device given up on, e.g. an uncorrected machine check or memory error, an unrecovered PCIe error, an
uncorrectable media error, a controller in firmware fault, a disk or NIC that vanished, a lockup).

Only kernel messages are judged: lines that userspace wrote into /dev/kmsg (facility other than 0, see the
kernel's Documentation/ABI/testing/dev-kmsg) could be forged by any root process and are ignored unless the
setting `userspace_lines` is on (the live test uses it to inject lines). The same (code, component) is reported
at most `max_findings_per_code` times; the rest are counted into one summary finding. Records the kernel
overwrote before burnin read them (EPIPE) are journalled as a note with how many were lost.

Link lines about a port that burnin itself moved or brought up or down moments before (the network module
announces each change, burnin.tools.netns.announce_change) are noted, not judged.

Unreadable /dev/kmsg (not root, a container), or a captured tree without a saved log -> probe unavailable.
"""

from __future__ import annotations

import os
import select
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from burnin.host import CAPTURE_DIR
from burnin.kernel_log.catalogue import CATALOGUE
from burnin.kernel_log.judge import Event, EventGrouper, Line, classify, evidence_of, group_lines, split_lines
from burnin.kernel_log.kmsg import KmsgRecord, parse_record, read_available
from burnin.kernel_log.parts import describe_part, event_aliases, name_part
from burnin.model import Probe, Severity
from burnin.module import Module, ModuleContext, Skip
from burnin.settings import setting
from burnin.tools import netns

__all__ = ["CATALOGUE", "KernelLogModule", "KmsgRecord", "classify", "parse_record", "summarize_before_run",
           "read_available", "finding_of", "SAVED_LOG"]

KMSG = "/dev/kmsg"
SAVED_LOG = f"{CAPTURE_DIR}/kmsg.txt"  # where `burnin capture` saves the kernel log, in /dev/kmsg's format
POLL_MS = 250  # how long run() waits for a record before looking at ctx.stopping() again
BEFORE_RUN_EXAMPLES = 5
OWN_CHANGE_CODES = ("nic-link-down",)  # codes of lines that burnin's own port moves cause

FAIL, WARN = Severity.FAIL, Severity.WARN


@dataclass(frozen=True)
class JudgedEvent:
    """An event as a finding says it: severity, part, code, sentence, evidence."""

    severity: Severity
    component: str
    code: str
    message: str
    evidence: Mapping[str, Any]


def finding_of(event: Event, inventory: Any = None) -> JudgedEvent:
    """The finding an event becomes: the worst line decides code and severity; the part is named with the
    inventory, or the evidence says which part could not be mapped."""
    worst = event.worst
    assert worst is not None and worst.match is not None
    component, part, unmapped = name_part(event.component, inventory)
    evidence = evidence_of(event)
    if part:
        evidence["part"] = part
    if unmapped:
        evidence["unmapped"] = unmapped
    message = worst.match.message or f"The kernel reported {worst.match.code}."
    if "?" in message and event.component != worst.match.component:
        message = f"The kernel reported {worst.match.code} on {event.component}."
    suffix = describe_part(part)
    if suffix:
        message = message.rstrip(".") + suffix + "."
    return JudgedEvent(worst.match.severity, component, worst.match.code, message, evidence)


def _line_of(record: KmsgRecord, text: str, now: float = 0.0) -> Line:
    return Line(text, record.time_s, record.seq, record.level, record.facility, record.context, classify(text), now)


def record_lines(record: KmsgRecord, now: float = 0.0) -> list[Line]:
    return [_line_of(record, text, now) for text in split_lines(record.message)]


@dataclass(frozen=True)
class BeforeRun:
    counts: Counter  # code -> events
    fail_kinds: tuple[str, ...]  # codes of FAIL severity among them
    examples: tuple[Mapping[str, Any], ...]  # the first event of each kind, at most BEFORE_RUN_EXAMPLES


def summarize_before_run(records: Iterable[KmsgRecord], inventory: Any = None) -> BeforeRun:
    """Hardware-error events the kernel logged before the run: counts per code and one example of each."""
    lines = [ln for record in records for ln in record_lines(record)]
    counts: Counter = Counter()
    fail_kinds: list[str] = []
    examples: list[dict[str, Any]] = []
    for event in group_lines(lines, event_aliases(inventory) if inventory is not None else None):
        judged = finding_of(event, inventory)
        counts[judged.code] += 1
        if judged.severity is FAIL and judged.code not in fail_kinds:
            fail_kinds.append(judged.code)
        # One example per kind, so a flood of one kind does not hide the others.
        if counts[judged.code] == 1 and len(examples) < BEFORE_RUN_EXAMPLES:
            example = {"line": judged.evidence["line"], "component": judged.component,
                       "severity": judged.severity.value}
            if "kernel_time_s" in judged.evidence:
                example["kernel_time_s"] = judged.evidence["kernel_time_s"]
            if len(event.lines) > 1:
                example["lines"] = judged.evidence["lines"]
            examples.append(example)
    return BeforeRun(counts, tuple(fail_kinds), tuple(examples))


def read_saved_log(path: Path) -> list[KmsgRecord]:
    """The records of a saved /dev/kmsg copy (one record per line, continuation lines start with a space)."""
    records: list[KmsgRecord] = []
    chunk: list[str] = []
    for line in path.read_text(errors="replace").split("\n") + [""]:
        if line.startswith(" ") and chunk:
            chunk.append(line)
            continue
        if chunk:
            record = parse_record("\n".join(chunk))
            if record is not None:
                records.append(record)
        chunk = [line] if line else []
    return records


# -- the module ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KernelLogSettings:
    max_findings_per_code: int = setting(20, "findings per (code, component); the rest are counted into one "
                                             "summary finding")
    userspace_lines: bool = setting(False, "also judge lines that userspace wrote into /dev/kmsg (tests inject "
                                           "lines this way); off, since any root process could forge them")


class KernelLogModule(Module):
    name = "kernel-log"
    summary = ("follows the kernel log for hardware errors through a catalogue of driver messages: machine checks, "
               "ECC, PCIe, disk, NVMe, RAID/HBA, NIC, GPU, lockups")
    needs = ("root (to read /dev/kmsg)", "a live host, or a capture with its saved kernel log")
    stress = False
    Settings = KernelLogSettings

    state_dir: str | None = None  # where the network module announces its port changes (tests point it elsewhere)

    def __init__(self, host, settings=None):
        super().__init__(host, settings)
        self._fd: int | None = None
        self._last_seq: int | None = None
        self._emitted: Counter = Counter()  # (code, component) -> findings emitted
        self._suppressed: dict[tuple[str, str], dict[str, Any]] = {}  # pending summaries
        self._overruns = 0
        self._grouper: EventGrouper | None = None
        self._inventory: Any = None

    # -- plumbing --------------------------------------------------------------------------------------
    def _saved_log(self) -> Path:
        return self.host.path("/" + SAVED_LOG)

    def probe(self) -> Probe:
        if not self.host.live:
            if self._saved_log().is_file():
                return Probe.ok()
            return Probe.unavailable("no kernel log in a captured tree")
        try:
            fd = os.open(self.host.path(KMSG), os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            return Probe.unavailable(f"cannot read {KMSG}: {exc.strerror or exc}")
        os.close(fd)
        return Probe.ok()

    def _open(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self.host.path(KMSG), os.O_RDONLY | os.O_NONBLOCK)
            except OSError as exc:
                raise Skip(f"cannot read {KMSG}: {exc.strerror or exc}") from exc
        return self._fd

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _records(self, ctx: ModuleContext) -> Iterator[KmsgRecord]:
        """New records, in order, skipping any at or before the last one seen. An overrun (records the kernel
        overwrote before we read them) is journalled with how many were lost."""
        overrun = False
        for kind, data in read_available(self._open()):
            if kind == "overrun":
                self._overruns += 1
                overrun = True
                continue
            record = parse_record(data)  # type: ignore[arg-type]
            if record is None:
                continue
            if self._last_seq is not None and record.seq <= self._last_seq:
                continue
            if overrun:
                overrun = False
                ctx.note("kernel log records were overwritten before burnin could read them",
                         lost=record.seq - (self._last_seq + 1 if self._last_seq is not None else 0),
                         resumed_at_seq=record.seq)
            self._last_seq = record.seq
            yield record

    def _judged(self, record: KmsgRecord) -> bool:
        return record.facility == 0 or self.settings.userspace_lines

    def _grouper_for(self, ctx: ModuleContext) -> EventGrouper:
        if self._grouper is None:
            self._inventory = getattr(ctx, "inventory", None)
            self._grouper = EventGrouper(event_aliases(self._inventory) if self._inventory is not None else None)
        return self._grouper

    # -- phases ----------------------------------------------------------------------------------------
    def check(self, ctx: ModuleContext) -> None:
        if not self.host.live:
            saved = self._saved_log()
            if not saved.is_file():
                raise Skip("no kernel log in a captured tree")
            records = read_saved_log(saved)
            where = f"the capture's saved kernel log ({SAVED_LOG})"
        else:
            records = list(self._records(ctx))
            where = "the kernel log"
        first_seq = records[0].seq if records else None
        ctx.note(f"{where} read up to the start of the run", records=len(records), first_seq=first_seq,
                 last_seq=records[-1].seq if records else None)
        # Only real kernel lines count here, whatever `userspace_lines` says: lines injected by earlier test runs
        # are no evidence about this machine's history.
        before = summarize_before_run((r for r in records if r.facility == 0), getattr(ctx, "inventory", None))
        if before.counts:
            ctx.warn(
                "kernel", "kernel-errors-before-run",
                f"The kernel logged {sum(before.counts.values())} hardware-error event(s) before this run "
                f"({', '.join(f'{code} x{n}' for code, n in before.counts.most_common())}); they may come from "
                f"earlier use of this machine.",
                {"counts": dict(before.counts), "fail_kinds": list(before.fail_kinds),
                 "examples": list(before.examples), "first_seq": first_seq,
                 # A first_seq above 0 means the oldest boot messages were already overwritten.
                 "log_complete_since_boot": first_seq == 0},
            )

    def run(self, ctx: ModuleContext) -> None:
        if not self.host.live:
            raise Skip("no live kernel log in a captured tree")
        fd = self._open()
        if self._last_seq is None:
            # No baseline from check(): start after the last record the kernel holds now.
            os.lseek(fd, 0, os.SEEK_END)
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI | select.POLLERR)
        grouper = self._grouper_for(ctx)
        while not ctx.stopping():
            deadline = grouper.next_deadline()
            wait_ms = POLL_MS if deadline is None else max(0, min(POLL_MS, int((deadline - time.monotonic()) * 1000) + 1))
            if poller.poll(wait_ms):
                self._drain(ctx)
            self._emit(ctx, grouper.expire(time.monotonic()))
        self._drain(ctx)
        self.summarize_floods(ctx)

    def finish(self, ctx: ModuleContext) -> None:
        if not self.host.live:
            raise Skip("no live kernel log in a captured tree")
        if self._fd is None and self._last_seq is None:
            raise Skip("the kernel log was not followed (check and run did not run)")
        self._drain(ctx)
        self.summarize_floods(ctx)
        ctx.note("kernel log followed to the end of the run", last_seq=self._last_seq, overruns=self._overruns,
                 findings=sum(self._emitted.values()))
        self._close()

    # -- judging ---------------------------------------------------------------------------------------
    def _drain(self, ctx: ModuleContext) -> None:
        for record in self._records(ctx):
            if self._judged(record):
                self.judge_record(ctx, record)

    def judge_record(self, ctx: ModuleContext, record: KmsgRecord, now: float | None = None) -> None:
        """Feed one new record's lines into the open events; events that closed become findings."""
        grouper = self._grouper_for(ctx)
        now = time.monotonic() if now is None else now
        for line in record_lines(record, now):
            own = self._own_change(line)
            if own is not None:
                ctx.note(f"kernel line about {own}, which burnin itself changed moments before: not judged",
                         line=line.text, code=line.match.code, seq=record.seq)  # type: ignore[union-attr]
                continue
            self._emit(ctx, grouper.feed(line, now))

    def flush(self, ctx: ModuleContext) -> None:
        """Close every open event now (the end of a phase)."""
        if self._grouper is not None:
            self._emit(ctx, self._grouper.flush())

    def _emit(self, ctx: ModuleContext, events: list[Event]) -> None:
        for event in events:
            judged = finding_of(event, self._inventory)
            key = (judged.code, judged.component)
            if self._emitted[key] < self.settings.max_findings_per_code:
                self._emitted[key] += 1
                ctx.finding(judged.severity, judged.component, judged.code, judged.message, dict(judged.evidence))
                continue
            pending = self._suppressed.setdefault(
                key, {"severity": judged.severity, "count": 0, "first_line": judged.evidence["line"],
                      "first_kernel_time_s": judged.evidence.get("kernel_time_s")})
            pending["count"] += 1
            pending["last_line"] = judged.evidence["line"]
            pending["last_kernel_time_s"] = judged.evidence.get("kernel_time_s")

    def _own_change(self, line: Line) -> str | None:
        """The port a link line is about, when burnin itself just moved it or brought it up or down."""
        if line.match is None or line.match.code not in OWN_CHANGE_CODES:
            return None
        port = line.match.fields.get("iface") or line.match.fields.get("iface2")
        if port and port in netns.own_changes(self.state_dir):
            return port
        return None

    def summarize_floods(self, ctx: ModuleContext) -> None:
        """Close open events, then one finding per (code, component) whose events went over
        `max_findings_per_code`."""
        self.flush(ctx)
        for (code, comp), pending in sorted(self._suppressed.items()):
            severity = pending.pop("severity")
            ctx.finding(
                severity, comp, code,
                f"{pending['count']} more kernel event(s) of this kind for {comp} were logged and summed up here.",
                {"suppressed": pending["count"], "limit": self.settings.max_findings_per_code, **pending},
            )
        self._suppressed.clear()
