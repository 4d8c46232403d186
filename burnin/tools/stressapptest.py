"""stressapptest: the argv of a memory run and a parser of what it printed. Never judges.

What the parser relies on, seen in real output of stressapptest 1.0.6 (Debian 12; tests/data/stressapptest/) and
in hardware failures users posted (stressapptest issues #53, #71):

- every line is ``<Kind>: <text>``, optionally after a ``YYYY/MM/DD-HH:MM:SS(TZ) `` timestamp; kinds are
  ``Log``, ``Stats``, ``Report Error``, ``Hardware Error``, ``Page Error``, ``Process Error`` and ``Status``.
- the verdict is its last ``Status:`` line, from `Sat::PrintResults` in src/sat.cc:
  ``Status: PASS - please verify no corrected errors``, ``Status: FAIL - test discovered HW problems`` (data
  miscompares) or ``Status: FAIL - test encountered procedural errors`` (the tool itself failed: no memory,
  a thread died). A bad option prints the usage and ``Unknown argument ...`` with no Status line; exit code 1.
- ``Hardware Error: miscompare on CPU 1(0x2) at 0x7fdab1589de8(0x533f39:DIMM Unknown): read:0x...,
  reread:0x... expected:0x...`` is one wrong 64-bit word (virtual address, then physical address and DIMM where
  it could tell); ``Page Error:`` is the same when a whole page miscompared.
- ``Stats: Completed: 61738.00M in 5.00s 12346.18MB/s, with 0 hardware incidents, 0 errors`` and
  ``Stats: Memory Copy: 61738.00M at 12347.11MB/s``: copy threads count each copied page twice (read and write,
  `CopyThread::GetMemoryCopiedData` in src/worker.h), and verify the page they read, so the bytes verified are
  half the "Memory Copy" figure.
- SIGINT makes it stop early (``Log: User exiting early (17 seconds remaining)``), still report, and exit 0.
- its main loop sleeps in 5-second steps (`kSleepFrequency` in src/sat.cc): ``-s 3`` runs 5 s. Ask for
  multiples of 5 (`whole_run_seconds`).
- exit status 0 on PASS, 1 otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from burnin.load import Program

SLEEP_STEP_S = 5  # stressapptest checks its deadline every 5 s

_TIMESTAMP = re.compile(r"^\d{4}/\d{2}/\d{2}-\d{2}:\d{2}:\d{2}\([^)]*\)\s+")
_LINE = re.compile(r"^(?P<kind>Log|Stats|Report Error|Hardware Error|Page Error|Process Error|Status):\s?(?P<text>.*)$")
_MISCOMPARE = re.compile(
    r"miscompare on CPU (?P<cpu>-?\d+)(?:\([^)]*\))? at (?P<vaddr>0x[0-9a-fA-F]+)"
    r"\((?P<paddr>0x[0-9a-fA-F]+):(?P<dimm>[^)]*)\): read:(?P<read>0x[0-9a-fA-F]+), "
    r"reread:(?P<reread>0x[0-9a-fA-F]+) expected:(?P<expected>0x[0-9a-fA-F]+)"
)
_COMPLETED = re.compile(
    r"Completed: (?P<mb>[\d.]+)M in (?P<secs>[\d.]+)s (?P<mbps>[\d.]+)MB/s, with (?P<incidents>\d+) hardware "
    r"incidents, (?P<errors>\d+) errors"
)
_COPY = re.compile(r"Memory Copy: (?P<mb>[\d.]+)M at (?P<mbps>[\d.]+)MB/s")
_CHECK = re.compile(r"Data Check: (?P<mb>[\d.]+)M at (?P<mbps>[\d.]+)MB/s")
_FOUND = re.compile(r"Found (?P<n>\d+) hardware incidents")
_NODES = re.compile(r"(?P<nodes>\d+) nodes, (?P<cpus>\d+) cpus")


def whole_run_seconds(seconds: float) -> int:
    """The longest run that fits in `seconds` given stressapptest's 5-second steps (0: none fits)."""
    return int(max(0.0, seconds) // SLEEP_STEP_S) * SLEEP_STEP_S


def argv(
    megabytes: int,
    seconds: int,
    copy_threads: int,
    *,
    cpus: Sequence[int] | None = None,
    program: str = "stressapptest",
    taskset: str | None = None,
    pause_delay_s: int | None = None,
    pause_duration_s: int | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """One stressapptest run over `megabytes` MiB for `seconds`, with `copy_threads` memory copy threads.

    With `cpus` and a `taskset` program the run is bound to those CPUs, so its memory is placed (first touch) on
    their NUMA node. ``--pause_delay``/``--pause_duration`` set its power-spike pauses (default: every 600 s).
    """
    core = [
        program,
        "-M", str(int(megabytes)),
        "-s", str(int(seconds)),
        "-m", str(max(1, int(copy_threads))),
    ]
    if pause_delay_s is not None:
        core += ["--pause_delay", str(int(pause_delay_s))]
    if pause_duration_s is not None:
        core += ["--pause_duration", str(int(pause_duration_s))]
    core += [str(a) for a in extra]
    if cpus and taskset:
        return [taskset, "-c", ",".join(str(c) for c in sorted(cpus)), *core]
    return core


def program(name: str, run_argv: Sequence[str], oom_score_adj: int | None = None) -> Program:
    """One stressapptest run (`argv(...)`) as a load: stdout and stderr together, parsed into an `Outcome`."""
    return Program(name, list(run_argv), parse=lambda end: parse_outcome(end.returncode, end.stdout),
                   stderr="stdout", oom_score_adj=oom_score_adj)


@dataclass(frozen=True)
class Miscompare:
    """One wrong 64-bit word, as stressapptest reported it."""

    kind: str  # "Hardware Error" or "Page Error"
    cpu: int | None
    virtual_address: int
    physical_address: int | None  # None where stressapptest printed 0x0 (no pagemap access)
    dimm: str | None  # None for "DIMM Unknown"
    read: int
    reread: int
    expected: int

    @property
    def flipped(self) -> int:
        return self.read ^ self.expected

    @property
    def flipped_bits(self) -> tuple[int, ...]:
        return tuple(i for i in range(64) if self.flipped >> i & 1)

    @property
    def persistent(self) -> bool:
        """The reread saw the same wrong value: the bad data is in memory, not a one-off read error."""
        return self.reread == self.read

    def to_record(self) -> dict:
        return {
            "kind": self.kind, "cpu": self.cpu,
            "virtual_address": f"0x{self.virtual_address:x}",
            "physical_address": None if self.physical_address is None else f"0x{self.physical_address:x}",
            "dimm": self.dimm, "expected": f"0x{self.expected:016x}", "actual": f"0x{self.read:016x}",
            "reread": f"0x{self.reread:016x}", "xor": f"0x{self.flipped:016x}",
            "flipped_bits": list(self.flipped_bits),
        }


@dataclass(frozen=True)
class Outcome:
    """What one stressapptest run said about itself."""

    returncode: int | None  # None: never ran; negative: ended by that signal
    status: str | None  # "PASS", "FAIL" or None (no Status line)
    status_text: str | None  # the whole Status line's text
    hardware_incidents: int | None
    errors: int | None  # procedural errors ("with N errors")
    completed_mb: float | None
    seconds: float | None
    total_mbps: float | None
    memory_copy_mb: float | None
    memory_copy_mbps: float | None
    data_check_mb: float | None
    miscompares: tuple[Miscompare, ...] = ()
    error_lines: tuple[str, ...] = ()  # Hardware/Page/Report/Process Error lines, as printed
    process_errors: tuple[str, ...] = ()
    usage_error: str | None = None  # "Unknown argument --x"
    interrupted: bool = False  # "User exiting early"
    nodes: int | None = None
    cpus: int | None = None

    @property
    def reported(self) -> str:
        """What stressapptest itself concluded: pass, hardware (miscompares), procedural, or none (no verdict)."""
        if self.status == "PASS":
            return "pass"
        if self.status == "FAIL":
            if "procedural" in (self.status_text or "") or (self.errors and not self.hardware_incidents):
                return "procedural"
            return "hardware"
        return "none"

    @property
    def verified_bytes(self) -> int:
        """Bytes whose data stressapptest checked: half its copy figure (each page copied is counted read and
        written, and the page read is verified), plus what its check threads verified."""
        mb = (self.memory_copy_mb or 0.0) / 2 + (self.data_check_mb or 0.0)
        return int(mb * 1024 * 1024)

    def to_record(self) -> dict:
        return {
            "returncode": self.returncode, "status": self.status, "status_text": self.status_text,
            "reported": self.reported, "hardware_incidents": self.hardware_incidents, "errors": self.errors,
            "completed_mb": self.completed_mb, "seconds": self.seconds, "memory_copy_mbps": self.memory_copy_mbps,
            "interrupted": self.interrupted, "error_lines": list(self.error_lines[:10]),
            "process_errors": list(self.process_errors[:5]), "usage_error": self.usage_error,
        }


def _hex(value: str) -> int:
    return int(value, 16)


def parse_miscompare(kind: str, text: str) -> Miscompare | None:
    m = _MISCOMPARE.search(text)
    if not m:
        return None
    paddr = _hex(m["paddr"])
    dimm = m["dimm"].strip()
    return Miscompare(
        kind=kind, cpu=int(m["cpu"]), virtual_address=_hex(m["vaddr"]),
        physical_address=paddr or None, dimm=None if dimm in ("", "DIMM Unknown") else dimm,
        read=_hex(m["read"]), reread=_hex(m["reread"]), expected=_hex(m["expected"]),
    )


def parse_outcome(returncode: int | None, stdout: str, stderr: str = "") -> Outcome:
    status = status_text = usage_error = None
    incidents = errors = nodes = cpus = None
    completed = secs = total_mbps = copy_mb = copy_mbps = check_mb = None
    miscompares: list[Miscompare] = []
    error_lines: list[str] = []
    process_errors: list[str] = []
    interrupted = False
    for raw in (stdout + "\n" + stderr).splitlines():
        line = _TIMESTAMP.sub("", raw.strip())
        if line.startswith("Unknown argument"):
            usage_error = line
            continue
        m = _LINE.match(line)
        if not m:
            continue
        kind, text = m["kind"], m["text"].strip()
        if kind == "Status":
            status = "PASS" if text.startswith("PASS") else "FAIL" if text.startswith("FAIL") else text.split()[0]
            status_text = text
        elif kind in ("Hardware Error", "Page Error"):
            error_lines.append(line)
            found = parse_miscompare(kind, text)
            if found:
                miscompares.append(found)
        elif kind == "Report Error":
            error_lines.append(line)
        elif kind == "Process Error":
            error_lines.append(line)
            process_errors.append(text)
        elif kind == "Stats":
            if c := _COMPLETED.search(text):
                completed, secs, total_mbps = float(c["mb"]), float(c["secs"]), float(c["mbps"])
                incidents, errors = int(c["incidents"]), int(c["errors"])
            elif c := _COPY.search(text):
                copy_mb, copy_mbps = float(c["mb"]), float(c["mbps"])
            elif c := _CHECK.search(text):
                check_mb = float(c["mb"])
            elif c := _FOUND.search(text):
                incidents = int(c["n"]) if incidents is None else incidents
        elif kind == "Log":
            if "User exiting early" in text:
                interrupted = True
            elif c := _NODES.search(text):
                nodes, cpus = int(c["nodes"]), int(c["cpus"])
    return Outcome(
        returncode=returncode, status=status, status_text=status_text, hardware_incidents=incidents,
        errors=errors, completed_mb=completed, seconds=secs, total_mbps=total_mbps, memory_copy_mb=copy_mb,
        memory_copy_mbps=copy_mbps, data_check_mb=check_mb, miscompares=tuple(miscompares),
        error_lines=tuple(error_lines), process_errors=tuple(process_errors), usage_error=usage_error,
        interrupted=interrupted, nodes=nodes, cpus=cpus,
    )
