"""The kernel log, followed live: hardware errors the kernel reports while the machine is under test.

It reads /dev/kmsg (one record per read(): "prio,seq,usec,flags;message", continuation lines " KEY=value").
- check(): reads everything the kernel still holds since boot, counts hardware-error lines already logged and
  WARNs `kernel-errors-before-run` with counts per kind and a few example lines; remembers where it stopped.
- run(): polls the log and turns every new matching line into a finding within about a second.
- finish(): reads what is left, and sums up floods.

Every line is judged by ONE table, `PATTERNS`: machine checks, EDAC and firmware (GHES) memory errors, PCIe AER,
disk I/O errors, ATA link resets and failed commands, NVMe timeouts and controller resets, SCSI sense errors, NIC
link drops and transmit timeouts, CPU thermal throttling, soft/hard lockups, hung tasks and OOM kills. The first
matching row wins; rows with no severity mark detail lines of a report that another row already judged.

What makes it FAIL: any row of FAIL severity matching a line written during the run: an uncorrected machine
check, an uncorrected memory error, an uncorrectable PCIe error, a disk I/O error, a failed ATA command, an NVMe
timeout or controller reset, a SCSI medium/hardware error, a NIC transmit timeout, a soft or hard lockup.

Only kernel messages are judged: lines that userspace wrote into /dev/kmsg (facility other than 0, see the
kernel's Documentation/ABI/testing/dev-kmsg) could be forged by any root process and are ignored unless the
setting `userspace_lines` is on (the live test uses it to inject lines). The same (code, component) is reported
at most `max_findings_per_code` times; the rest are counted into one summary finding.

Link lines about a port that burnin itself moved or brought up or down moments before (the network module
announces each change, burnin.tools.netns.announce_change) are noted, not judged.

Unreadable /dev/kmsg (not root, a container) or a captured tree (--sysroot) -> probe unavailable.
"""

from __future__ import annotations

import errno
import os
import re
import select
import string
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from burnin.model import Probe, Severity
from burnin.module import Module, ModuleContext, Skip
from burnin.tools import netns

KMSG = "/dev/kmsg"
READ_SIZE = 16384  # larger than the kernel's biggest record (8 KiB); a smaller buffer fails with EINVAL
POLL_MS = 250  # how long run() waits for a record before looking at ctx.stopping() again
BEFORE_RUN_EXAMPLES = 5
OWN_CHANGE_CODES = ("nic-link-down",)  # codes of lines that burnin's own port moves cause

FAIL, WARN = Severity.FAIL, Severity.WARN

_PCI = r"[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]"


@dataclass(frozen=True)
class Pattern:
    """One row of the table: what a matching line means."""

    code: str
    severity: Severity | None  # None: a detail line of a report judged by another row; never a finding
    regex: re.Pattern
    components: tuple[str, ...]  # templates over the regex's named groups; the first whose fields all matched
    message: str  # one sentence; may use the regex's named groups


def _p(code: str, severity: Severity | None, regex: str, components: tuple[str, ...] = ("kernel",),
       message: str = "") -> Pattern:
    return Pattern(code, severity, re.compile(regex), components, message)


# First match wins, so specific rows come before general ones.
PATTERNS: tuple[Pattern, ...] = (
    # -- machine checks (x86 mce, AMD decoder, firmware-first GHES) ------------------------------------------
    # "CPU 2: Machine Check: 0 Bank 6: cc59dec000041152": MCi_STATUS is printed as 16 hex digits, so its first
    # digit holds bits 63..60; bit 61 (UC) is set for digits 2,3,6,7,a,b,e,f: the error was NOT corrected.
    _p("machine-check", FAIL,
       r"CPU (?P<cpu>\d+): Machine Check(?: Exception)?: (?P<mcg>\w+) Bank (?P<bank>\d+): "
       r"(?P<status>[2367abef][0-9a-f]{15})\b",
       ("cpu:{cpu}",), "CPU {cpu} reported an uncorrected machine-check error in bank {bank}."),
    _p("machine-check-corrected", WARN,
       r"CPU (?P<cpu>\d+): Machine Check(?: Exception)?: (?P<mcg>\w+) Bank (?P<bank>\d+): (?P<status>[0-9a-f]{16})\b",
       ("cpu:{cpu}",), "CPU {cpu} reported a corrected machine-check error in bank {bank}."),
    # The kernel prints this line when its machine-check handler has logged events, corrected ones included (from
    # CMCI or polling), and the line carries no severity: that is in mcelog/rasdaemon's records. Uncorrected
    # errors print lines of their own (above and below, "Memory failure: ...", or a panic).
    _p("machine-check-logged", WARN, r"Machine check events logged", ("cpu",),
       "The CPU logged machine-check events (hardware errors, perhaps corrected ones); run mcelog or rasdaemon "
       "for their severity and source."),
    _p("machine-check", FAIL,
       r"Machine check: (?P<reason>.+)|Fatal [Mm]achine check|Uncorrected hardware memory error",
       ("cpu",), "The CPU reported an uncorrected machine-check error."),
    # AMD's decoder (edac_mce_amd): "CPU:0 (17:31:0) MC255_STATUS[-|CE|-|-|AddrV|-|-|-]", where UE/CE says
    # uncorrected/corrected; the plain-text lines it prints around it describe the same event.
    _p("machine-check", FAIL,
       r"\[Hardware Error\]: CPU:? ?(?P<cpu>\d+)\s+\([0-9a-f:]+\) MC(?P<bank>\d+)_STATUS\[[^\]]*\|UE\|",
       ("cpu:{cpu}",), "CPU {cpu} reported an uncorrected machine-check error in bank {bank}."),
    _p("machine-check-corrected", WARN,
       r"\[Hardware Error\]: CPU:? ?(?P<cpu>\d+)\s+\([0-9a-f:]+\) MC(?P<bank>\d+)_STATUS\[[^\]]*\|CE\|",
       ("cpu:{cpu}",), "CPU {cpu} reported a corrected machine-check error in bank {bank}."),
    _p("machine-check", None,
       r"\[Hardware Error\]: (?:Corrected error|Uncorrected|Deferred error|(?:Error Status: )?System Fatal error)"),
    _p("hardware-error-corrected", WARN, r"\{(?P<record>\d+)\}\[Hardware Error\]: event severity: corrected",
       ("platform",), "The firmware reported a corrected hardware error."),
    _p("hardware-error-uncorrected", FAIL,
       r"\{(?P<record>\d+)\}\[Hardware Error\]: event severity: (?P<sev>recoverable|fatal)",
       ("platform",), "The firmware reported an uncorrected ({sev}) hardware error."),
    # -- memory --------------------------------------------------------------------------------------------
    _p("edac-uncorrected", FAIL,
       r"EDAC MC(?P<mc>\d+): (?P<count>\d+) UE (?P<what>.*?)(?: on (?P<label>[^\s(]+))?(?: \(|$)",
       ("dimm:{label}", "memory:mc{mc}"), "The memory controller reported {count} uncorrected memory error(s)."),
    _p("edac-corrected", WARN,
       r"EDAC MC(?P<mc>\d+): (?P<count>\d+) CE (?P<what>.*?)(?: on (?P<label>[^\s(]+))?(?: \(|$)",
       ("dimm:{label}", "memory:mc{mc}"), "The memory controller corrected {count} memory error(s)."),
    _p("edac-uncorrected", FAIL, r"EDAC MC(?P<mc>\d+): UE\b(?:.*?\"(?P<label>[^\"-][^\"]*)\")?",
       ("dimm:{label}", "memory:mc{mc}"), "The memory controller reported an uncorrected memory error."),
    _p("edac-corrected", WARN, r"EDAC MC(?P<mc>\d+): CE\b(?:.*?\"(?P<label>[^\"-][^\"]*)\")?",
       ("dimm:{label}", "memory:mc{mc}"), "The memory controller corrected a memory error."),
    _p("memory-failure", FAIL,
       r"Memory failure: (?P<pfn>0x[0-9a-f]+): (?:recovery action|Sending SIGBUS|Killing)",
       ("memory:page {pfn}",), "The kernel took a memory page out of use after an uncorrected memory error."),
    # -- PCIe AER (kernels before 6.x say Corrected/Uncorrected, later ones Correctable/Uncorrectable) -------------
    _p("pcie-aer-correctable", WARN,
       r"(?:(?P<pci>" + _PCI + r"): )?(?:AER: )?PCIe Bus Error: severity=Correct(?:ed|able)",
       ("pcie:{pci}", "pcie"), "A PCIe link reported a corrected error."),
    _p("pcie-aer-uncorrectable", FAIL,
       r"(?:(?P<pci>" + _PCI + r"): )?(?:AER: )?PCIe Bus Error: severity=(?P<sev>Uncorrect\w+ \(\S+\)|Uncorrect\w+)",
       ("pcie:{pci}", "pcie"), "A PCIe link reported an uncorrectable error ({sev})."),
    # -- disks ---------------------------------------------------------------------------------------------
    # Errors on virtual block devices repeat what the disk below them already reported.
    _p("disk-io-error", None, r"error, dev (?:loop|ram|zram|nbd|dm-|md)\d*, sector"),
    # Optical and floppy drives: often a BMC's empty virtual media, not a fault of the machine.
    _p("removable-io-error", WARN,
       r"(?P<kind>critical [\w ]+ error|I/O error|timeout error), dev (?P<disk>(?:sr|fd)\d+), sector (?P<sector>\d+)",
       ("disk:/dev/{disk}",), "Reading the removable drive /dev/{disk} failed (often an empty virtual drive)."),
    _p("disk-io-error", FAIL,
       r"(?P<kind>critical [\w ]+ error|I/O error|timeout error), dev (?P<disk>[^\s,]+), sector (?P<sector>\d+)",
       ("disk:/dev/{disk}",), "Disk /dev/{disk} failed an I/O at sector {sector} ({kind})."),
    _p("nvme-io-error", FAIL,
       r"(?P<ns>nvme\d+n\d+): I/O Cmd\((?P<op>0x[0-9a-f]+)\) @ LBA (?P<lba>\d+), (?P<blocks>\d+) blocks, "
       r"(?P<status>.+)",
       ("disk:/dev/{ns}",), "NVMe namespace /dev/{ns} failed an I/O at LBA {lba}."),
    _p("ata-command-failed", FAIL, r"(?P<port>ata\d+)(?:\.(?P<dev>\d+))?: failed command: (?P<cmd>.+)",
       ("ata:{port}",), "A command to the drive on {port} failed ({cmd})."),
    _p("ata-link-reset", WARN, r"(?P<port>ata\d+)(?:\.\d+)?: (?:hard resetting link|COMRESET failed)",
       ("ata:{port}",), "The SATA link on {port} had to be reset."),
    _p("ata-link-slowed", WARN, r"(?P<port>ata\d+)(?:\.\d+)?: limiting SATA link speed to (?P<speed>\S+ Gbps)",
       ("ata:{port}",), "The SATA link on {port} was slowed to {speed} after errors."),
    _p("nvme-timeout", WARN,
       r"nvme (?P<ctrl>nvme\d+): I/O (?P<tag>\d+) (?:\([^)]*\) )?QID (?P<qid>\d+) timeout, completion polled",
       ("nvme:{ctrl}",), "NVMe controller {ctrl} missed an interrupt (I/O completed only when polled)."),
    _p("nvme-timeout", FAIL, r"nvme (?P<ctrl>nvme\d+): I/O (?P<tag>\d+) (?:\([^)]*\) )?QID (?P<qid>\d+) timeout",
       ("nvme:{ctrl}",), "NVMe controller {ctrl} timed out on an I/O (queue {qid})."),
    _p("nvme-controller-reset", FAIL,
       r"nvme (?P<ctrl>nvme\d+): "
       r"(?:resetting controller|controller is down; will reset|Device not ready; aborting reset)",
       ("nvme:{ctrl}",), "NVMe controller {ctrl} stopped responding and was reset."),
    _p("nvme-controller-lost", FAIL, r"nvme (?P<ctrl>nvme\d+): Removing after probe failure",
       ("nvme:{ctrl}",), "NVMe controller {ctrl} failed and was removed."),
    _p("scsi-sense-error", FAIL,
       # Kernels built without SCSI_CONSTANTS print the sense key as a number: 0x3 medium, 0x4 hardware.
       r"\[(?P<disk>sd[a-z]+)\] (?:tag#\d+ )?Sense Key : (?P<key>Medium Error|Hardware Error|0x3|0x4)\b",
       ("disk:/dev/{disk}",), "Disk /dev/{disk} reported a media or hardware error (sense key: {key})."),
    _p("scsi-device-offlined", FAIL, r"sd (?P<hctl>[\d:]+): (?:\[(?P<disk>sd[a-z]+)\] )?Device offlined",
       ("disk:/dev/{disk}", "scsi:{hctl}"), "A disk stopped responding and was taken offline."),
    _p("scsi-task-abort", WARN, r"(?:sd (?P<hctl>[\d:]+)|mptscsih: (?P<ioc>ioc\d+)): attempting task abort",
       ("scsi:{hctl}", "scsi:{ioc}"), "A SCSI/SAS command hung and was aborted."),
    # -- network -------------------------------------------------------------------------------------------
    _p("nic-tx-timeout", FAIL,
       r"(?:(?P<pci>" + _PCI + r") (?P<ndev>[^\s:]+): )?NETDEV WATCHDOG: (?:CPU: \d+: )?"
       r"(?:(?P<iface>[^\s:]+) \((?P<driver>[^)]*)\): )?transmit queue (?P<queue>\d+) timed out",
       ("nic:{iface}", "nic:{ndev}", "nic"), "A network port stopped transmitting (queue {queue} timed out)."),
    _p("nic-hardware-hang", FAIL,
       r"^(?P<driver>\S+) (?P<pci>" + _PCI + r") (?P<iface>[^\s:]+): Detected Hardware Unit Hang",
       ("nic:{iface}",), "Network port {iface} hung (the driver detected a hardware unit hang)."),
    _p("nic-link-down", WARN,
       r"^(?P<driver>\S+) (?P<pci>" + _PCI + r") (?P<iface>[^\s:]+): (?:.*\s)?(?:NIC )?[Ll]ink (?:is )?[Dd]own",
       ("nic:{iface}",), "Network port {iface} lost its link."),
    # e1000 (QEMU's and many older Intel NICs) names only the interface: "e1000: eth1 NIC Link is Down".
    _p("nic-link-down", WARN, r"^(?P<driver>e1000|e100|ixgb|tg3|bnx2|r8169|atl1c?): (?P<iface>[^\s:]+):? NIC Link is Down",
       ("nic:{iface}",), "Network port {iface} lost its link."),
    # -- CPU -----------------------------------------------------------------------------------------------
    _p("cpu-thermal-throttle", WARN,
       r"CPU(?P<cpu>\d+): (?P<scope>Core|Package) temperature above threshold, (?:cpu|CPU) clock throttled",
       ("cpu:{cpu}",), "CPU {cpu} was throttled because its {scope} temperature crossed the limit."),
    _p("soft-lockup", FAIL, r"soft lockup - CPU#(?P<cpu>\d+) stuck for (?P<secs>\d+)s",
       ("cpu:{cpu}",), "CPU {cpu} was stuck for {secs} s (soft lockup)."),
    _p("hard-lockup", FAIL, r"Watchdog detected hard LOCKUP on cpu (?P<cpu>\d+)|Watchdog CPU:(?P<cpu2>\d+) Hard LOCKUP",
       ("cpu:{cpu}", "cpu:{cpu2}"), "A CPU stopped responding to interrupts (hard lockup)."),
    _p("rcu-stall", WARN, r"(?:rcu: )?INFO: (?P<flavor>rcu_\w+) (?:self-)?detected stalls? on CPU",
       ("kernel",), "The kernel detected a CPU stall ({flavor})."),
    # -- system --------------------------------------------------------------------------------------------
    _p("hung-task", WARN, r"INFO: task (?P<task>.+):(?P<pid>\d+) blocked for more than (?P<secs>\d+) seconds",
       ("task:{task}",), "Task {task} was blocked for more than {secs} s."),
    _p("oom-kill", WARN, r"^Out of memory: Kill(?:ed)? process (?P<pid>\d+) \((?P<comm>[^)]*)\)",
       ("memory",), "The kernel ran out of memory and killed {comm} (pid {pid})."),
)


# -- records ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KmsgRecord:
    """One /dev/kmsg record."""

    facility: int  # 0 = kernel; userspace writes get 1 (user) or more
    level: int  # 0 emerg .. 7 debug
    seq: int
    usec: int  # since boot
    message: str
    context: Mapping[str, str] = field(default_factory=dict)  # continuation lines: SUBSYSTEM=, DEVICE=

    @property
    def time_s(self) -> float:
        return self.usec / 1e6


@dataclass(frozen=True)
class Match:
    pattern: Pattern
    component: str
    message: str
    fields: Mapping[str, str]


def parse_record(data: bytes) -> KmsgRecord | None:
    """b"6,339,5140900,-;NET: Registered protocol family 10\\n SUBSYSTEM=net\\n" -> KmsgRecord; None if malformed."""
    text = data.decode("utf-8", errors="replace")
    head, sep, rest = text.partition(";")
    if not sep:
        return None
    fields = head.split(",")
    try:
        prio, seq, usec = int(fields[0]), int(fields[1]), int(fields[2])
    except (IndexError, ValueError):
        return None
    lines = rest.split("\n")
    context = {}
    for line in lines[1:]:
        if line.startswith(" ") and "=" in line:
            key, _, value = line[1:].partition("=")
            context[key] = value
    return KmsgRecord(prio >> 3, prio & 7, seq, usec, lines[0], context)


class _Fields(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def _fill(template: str, groups: Mapping[str, str | None]) -> str:
    return string.Formatter().vformat(template, (), _Fields({k: v for k, v in groups.items() if v is not None}))


def _template_fields(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def classify(message: str, patterns: tuple[Pattern, ...] = PATTERNS) -> Match | None:
    """The first table row matching the line; None when no row does."""
    for pattern in patterns:
        m = pattern.regex.search(message)
        if not m:
            continue
        groups = {k: v for k, v in m.groupdict().items() if v is not None}
        component = next(
            (_fill(t, groups) for t in pattern.components if all(f in groups for f in _template_fields(t))),
            "kernel",
        )
        return Match(pattern, component, _fill(pattern.message, groups), groups)
    return None


@dataclass(frozen=True)
class BeforeRun:
    counts: Counter  # code -> lines
    fail_kinds: tuple[str, ...]  # codes of FAIL severity among them
    examples: tuple[Mapping[str, Any], ...]  # the first line of each kind, at most BEFORE_RUN_EXAMPLES


def summarize_before_run(records) -> BeforeRun:
    """Hardware-error lines the kernel logged before the run: counts per code and one example of each."""
    counts: Counter = Counter()
    fail_kinds: list[str] = []
    examples: list[dict[str, Any]] = []
    for record in records:
        match = classify(record.message)
        if match is None or match.pattern.severity is None:
            continue
        code = match.pattern.code
        counts[code] += 1
        if match.pattern.severity is FAIL and code not in fail_kinds:
            fail_kinds.append(code)
        # One example per kind, so a flood of one kind does not hide the others.
        if counts[code] == 1 and len(examples) < BEFORE_RUN_EXAMPLES:
            examples.append({"kernel_time_s": round(record.time_s, 6), "line": record.message})
    return BeforeRun(counts, tuple(fail_kinds), tuple(examples))


def read_available(fd: int) -> Iterator[tuple[str, object]]:
    """Everything /dev/kmsg has for this reader now: ("record", bytes) items, and ("overrun", None) when records
    were overwritten before we read them (EPIPE; the kernel moves us to the oldest record still held)."""
    while True:
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                yield "overrun", None
                continue
            if exc.errno == errno.EINTR:
                continue
            raise
        if not data:
            return
        yield "record", data


# -- the module ------------------------------------------------------------------------------------
class KernelLogModule(Module):
    name = "kernel-log"
    summary = "follows the kernel log for hardware errors: machine checks, ECC, PCIe, disk, NVMe, NIC, lockups"
    needs = ("root (to read /dev/kmsg)", "a live host")
    stress = False
    settings = {
        "max_findings_per_code": 20,  # per (code, component); the rest are counted into one summary
        "userspace_lines": False,  # also judge lines that userspace wrote into /dev/kmsg (tests inject lines)
    }

    state_dir: str | None = None  # where the network module announces its port changes (tests point it elsewhere)

    def __init__(self, host, settings=None):
        super().__init__(host, settings)
        self._fd: int | None = None
        self._last_seq: int | None = None
        self._emitted: Counter = Counter()  # (code, component) -> findings emitted
        self._suppressed: dict[tuple[str, str], dict[str, Any]] = {}  # pending summaries
        self._overruns = 0

    # -- plumbing --------------------------------------------------------------------------------------
    def probe(self) -> Probe:
        if not self.host.live:
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
        """New records, in order, skipping any at or before the last one seen."""
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
        return record.facility == 0 or bool(self.config["userspace_lines"])

    # -- phases ----------------------------------------------------------------------------------------
    def check(self, ctx: ModuleContext) -> None:
        if not self.host.live:
            raise Skip("no kernel log in a captured tree")
        records = list(self._records(ctx))
        first_seq = records[0].seq if records else None
        ctx.note("kernel log read up to the start of the run", records=len(records), first_seq=first_seq,
                 last_seq=self._last_seq)
        # Only real kernel lines count here, whatever `userspace_lines` says: lines injected by earlier test runs
        # are no evidence about this machine's history.
        before = summarize_before_run(r for r in records if r.facility == 0)
        if before.counts:
            ctx.warn(
                "kernel", "kernel-errors-before-run",
                f"The kernel logged {sum(before.counts.values())} hardware-error message(s) before this run "
                f"({', '.join(f'{code} x{n}' for code, n in before.counts.most_common())}); they may come from "
                f"earlier use of this machine.",
                {"counts": dict(before.counts), "fail_kinds": list(before.fail_kinds),
                 "examples": list(before.examples), "first_seq": first_seq,
                 # A first_seq above 0 means the oldest boot messages were already overwritten.
                 "log_complete_since_boot": first_seq == 0},
            )

    def run(self, ctx: ModuleContext) -> None:
        fd = self._open()
        if self._last_seq is None:
            # No baseline from check(): start after the last record the kernel holds now.
            os.lseek(fd, 0, os.SEEK_END)
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLPRI | select.POLLERR)
        while not ctx.stopping():
            if poller.poll(POLL_MS):
                self._drain(ctx)
        self._drain(ctx)
        self.summarize_floods(ctx)

    def finish(self, ctx: ModuleContext) -> None:
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

    def judge_record(self, ctx: ModuleContext, record: KmsgRecord) -> None:
        """Turn one new record into a finding, or count it into a flood summary."""
        match = classify(record.message)
        if match is None or match.pattern.severity is None:
            return
        own = self._own_change(match)
        if own is not None:
            ctx.note(f"kernel line about {own}, which burnin itself changed moments before: not judged",
                     line=record.message, code=match.pattern.code, seq=record.seq)
            return
        key = (match.pattern.code, match.component)
        evidence = {
            "line": record.message,
            "kernel_time_s": round(record.time_s, 6),
            "seq": record.seq,
            "level": record.level,
            "facility": record.facility,
            **{f"field_{k}": v for k, v in match.fields.items()},
        }
        if record.context:
            evidence["context"] = dict(record.context)
        if self._emitted[key] < int(self.config["max_findings_per_code"]):
            self._emitted[key] += 1
            ctx.finding(match.pattern.severity, match.component, match.pattern.code, match.message, evidence)
            return
        pending = self._suppressed.setdefault(
            key, {"severity": match.pattern.severity, "count": 0, "first_line": record.message,
                  "first_kernel_time_s": evidence["kernel_time_s"]})
        pending["count"] += 1
        pending["last_line"] = record.message
        pending["last_kernel_time_s"] = evidence["kernel_time_s"]

    def _own_change(self, match: Match) -> str | None:
        """The port a link line is about, when burnin itself just moved it or brought it up or down."""
        if match.pattern.code not in OWN_CHANGE_CODES:
            return None
        port = match.fields.get("iface")
        if port and port in netns.own_changes(self.state_dir):
            return port
        return None

    def summarize_floods(self, ctx: ModuleContext) -> None:
        """One finding per (code, component) whose lines went over `max_findings_per_code`."""
        for (code, comp), pending in sorted(self._suppressed.items()):
            severity = pending.pop("severity")
            ctx.finding(
                severity, comp, code,
                f"{pending['count']} more kernel line(s) of this kind for {comp} were logged and summed up here.",
                {"suppressed": pending["count"], "limit": int(self.config["max_findings_per_code"]), **pending},
            )
        self._suppressed.clear()
