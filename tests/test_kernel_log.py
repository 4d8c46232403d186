"""The kernel-log module: real kernel lines through the pattern table, /dev/kmsg records, and live following.

The live tests write lines into this machine's kernel log through /dev/kmsg (root only; skipped otherwise).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import uuid
from pathlib import Path

import pytest

from burnin.host import Host
from burnin.model import Severity
from burnin.module import Skip
from burnin.modules.kernel_log import (
    PATTERNS,
    KernelLogModule,
    KmsgRecord,
    classify,
    parse_record,
    summarize_before_run,
)
from burnin.testing import RecordingContext

SAMPLES = Path(__file__).parent / "data" / "kernel-log" / "samples.txt"


def load_samples():
    block = None
    for lineno, raw in enumerate(SAMPLES.read_text().split("\n"), 1):
        if not raw or raw.startswith("#"):
            continue
        if raw.startswith("[") and " | " not in raw:
            block = raw.strip("[]")
            continue
        expected, sep, message = raw.partition(" | ")
        assert sep, f"samples.txt:{lineno}: no ' | ' separator"
        yield block, lineno, expected, message


SAMPLE_LINES = list(load_samples())


def record(message: str, seq: int = 1, usec: int = 1_000_000, facility: int = 0, level: int = 3) -> KmsgRecord:
    return KmsgRecord(facility, level, seq, usec, message)


# -- the pattern table against real lines ------------------------------------------------------------
@pytest.mark.parametrize(
    "expected,message", [pytest.param(e, m, id=f"{b}:{n}") for b, n, e, m in SAMPLE_LINES]
)
def test_real_kernel_line_becomes_the_expected_finding(expected, message):
    match = classify(message)
    if expected == "-":
        assert match is None or match.pattern.severity is None, (match.pattern.code, match.component)
        return
    severity, code, component = expected.split(" ", 2)
    assert match is not None, "no row matched"
    assert (match.pattern.severity, match.pattern.code, match.component) == (Severity(severity), code, component)
    assert "?" not in match.message, match.message  # every field the sentence names was in the line


def test_every_judging_row_of_the_table_is_exercised_by_a_real_line():
    matched_rows = {id(classify(m).pattern) for _, _, e, m in SAMPLE_LINES if e != "-"}
    untested = [(p.code, p.regex.pattern[:60]) for p in PATTERNS
                if p.severity is not None and id(p) not in matched_rows]
    assert untested == []


def test_ordinary_boot_lines_are_not_findings():
    for line in (
        "e1000e: Intel(R) PRO/1000 Network Driver",
        "EXT4-fs (sda1): mounted filesystem with ordered data mode. Quota mode: none.",
        "ata3: SATA link down (SStatus 0 SControl 300)",  # an empty SATA port at boot
        "mce: CPU supports 7 MCE banks",
        "igb 0000:00:14.0 eth0: igb: eth0 NIC Link is Up 1000 Mbps Full Duplex, Flow Control: RX",
    ):
        match = classify(line)
        assert match is None or match.pattern.severity is None, line


def test_mce_status_decides_corrected_or_not_by_the_uc_bit():
    # Same line shape; bit 61 (UC) of MCi_STATUS is set in the first, clear in the second.
    assert classify("mce: [Hardware Error]: CPU 5: Machine Check: 0 Bank 1: b200000000070005").pattern.code \
        == "machine-check"
    assert classify("mce: [Hardware Error]: CPU 5: Machine Check: 0 Bank 1: 9000004000010005").pattern.code \
        == "machine-check-corrected"


# -- /dev/kmsg records -------------------------------------------------------------------------------
def test_kmsg_record_with_continuation_lines_parses():
    # The example in the kernel's Documentation/ABI/testing/dev-kmsg.
    rec = parse_record(b"7,160,424069,-;pci_root PNP0A03:00: host bridge window [io  0x0000-0x0cf7] (ignored)\n"
                       b" SUBSYSTEM=acpi\n DEVICE=+acpi:PNP0A03:00\n")
    assert (rec.facility, rec.level, rec.seq, rec.usec) == (0, 7, 160, 424069)
    assert rec.message == "pci_root PNP0A03:00: host bridge window [io  0x0000-0x0cf7] (ignored)"
    assert rec.context == {"SUBSYSTEM": "acpi", "DEVICE": "+acpi:PNP0A03:00"}


def test_kmsg_record_from_userspace_has_a_nonzero_facility():
    rec = parse_record(b"30,340,5690716,-;udevd[80]: starting version 181\n")
    assert (rec.facility, rec.level, rec.message) == (3, 6, "udevd[80]: starting version 181")


def test_kmsg_record_with_extra_header_fields_still_parses():
    rec = parse_record(b"6,339,5140900,-,caller=T1;NET: Registered protocol family 10\n")
    assert rec.seq == 339 and rec.message == "NET: Registered protocol family 10"


def test_malformed_kmsg_record_is_none():
    assert parse_record(b"garbage without header\n") is None


# -- judging and floods ------------------------------------------------------------------------------
def test_finding_evidence_holds_the_raw_line_and_kernel_time():
    module = KernelLogModule(Host("/"))
    ctx = RecordingContext(module.name, module.host, phase="run")
    line = "nvme nvme0: I/O 12 QID 5 timeout, aborting"
    module.judge_record(ctx, record(line, seq=42, usec=384589758045))
    (finding,) = ctx.findings
    assert (finding.severity, finding.code, finding.component) == (Severity.FAIL, "nvme-timeout", "nvme:nvme0")
    assert finding.evidence["line"] == line
    assert finding.evidence["kernel_time_s"] == 384589.758045
    assert finding.evidence["seq"] == 42


def test_flood_of_one_kind_is_capped_and_summed_up_once():
    module = KernelLogModule(Host("/"), {"max_findings_per_code": 3})
    ctx = RecordingContext(module.name, module.host, phase="run")
    line = "pcieport 0000:00:1c.5: AER: PCIe Bus Error: severity=Corrected, type=Physical Layer, (Receiver ID)"
    for i in range(10):
        module.judge_record(ctx, record(line, seq=i, usec=1_000_000 + i))
    module.judge_record(ctx, record("ata1: hard resetting link", seq=11))
    assert ctx.codes() == ["pcie-aer-correctable"] * 3 + ["ata-link-reset"]
    module.summarize_floods(ctx)
    summary = ctx.findings[-1]
    assert (summary.code, summary.component, summary.severity) == \
        ("pcie-aer-correctable", "pcie:0000:00:1c.5", Severity.WARN)
    assert summary.evidence["suppressed"] == 7
    assert summary.evidence["last_kernel_time_s"] == 1.000009
    module.summarize_floods(ctx)  # nothing new: no second summary
    assert len(ctx.findings) == 5


def test_lines_before_the_run_are_counted_per_kind_with_one_example_each():
    lines = [
        "mce: [Hardware Error]: CPU 0: Machine Check: 0 Bank 4: a600000000020408",
        "EDAC MC0: 4 CE error on CPU#0Channel#2_DIMM#0 (channel:2 slot:0 page:0x0 offset:0x0 grain:8 syndrome:0x0)",
        "EDAC MC0: 2 CE error on CPU#0Channel#2_DIMM#0 (channel:2 slot:0 page:0x0 offset:0x0 grain:8 syndrome:0x0)",
        "EXT4-fs (sda1): mounted filesystem with ordered data mode. Quota mode: none.",
    ]
    before = summarize_before_run(record(line, seq=i) for i, line in enumerate(lines))
    assert dict(before.counts) == {"machine-check": 1, "edac-corrected": 2}
    assert before.fail_kinds == ("machine-check",)
    assert [e["line"] for e in before.examples] == lines[:2]


def test_overwritten_records_are_noted_with_how_many_were_lost_and_reading_goes_on(monkeypatch):
    # EPIPE from read() means the ring buffer overwrote records we had not read yet (dev-kmsg ABI).
    reads = [b"6,10,100,-;NET: Registered PF_INET6 protocol family\n", BrokenPipeError(32, "Broken pipe"),
             b"3,15,200,-;ata1: hard resetting link\n", BlockingIOError(11, "again")]

    def fake_read(fd, size):
        item = reads.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    monkeypatch.setattr(os, "open", lambda *a, **k: 99)
    monkeypatch.setattr(os, "read", fake_read)
    module = KernelLogModule(Host("/"))
    ctx = RecordingContext(module.name, module.host)
    module.check(ctx)
    (lost,) = [n for n in ctx.notes if "overwritten" in n["message"]]
    assert lost["data"] == {"lost": 4, "resumed_at_seq": 15}
    (warn,) = ctx.findings
    assert warn.code == "kernel-errors-before-run" and warn.evidence["counts"] == {"ata-link-reset": 1}
    assert warn.evidence["log_complete_since_boot"] is False  # the first record held was seq 10, not 0


# -- availability ------------------------------------------------------------------------------------
def test_captured_tree_has_no_kernel_log(tmp_path):
    module = KernelLogModule(Host(tmp_path))
    probe = module.probe()
    assert not probe.available and probe.reason == "no kernel log in a captured tree"
    with pytest.raises(Skip):
        module.check(RecordingContext(module.name, module.host))


def test_unreadable_kmsg_makes_the_probe_unavailable_with_the_reason(monkeypatch):
    def denied(path, flags, *args):
        raise PermissionError(1, "Operation not permitted", str(path))

    monkeypatch.setattr(os, "open", denied)
    probe = KernelLogModule(Host("/")).probe()
    assert not probe.available and probe.reason == "cannot read /dev/kmsg: Operation not permitted"


# -- live: this machine's /dev/kmsg ------------------------------------------------------------------
def _kmsg_usable() -> bool:
    try:
        os.close(os.open("/dev/kmsg", os.O_RDWR | os.O_NONBLOCK))
        return True
    except OSError:
        return False


live = pytest.mark.skipif(not _kmsg_usable(), reason="needs root: reads and writes /dev/kmsg")


def write_kmsg(line: str) -> None:
    fd = os.open("/dev/kmsg", os.O_WRONLY)
    try:
        os.write(fd, line.encode() + b"\n")
    finally:
        os.close(fd)


@contextlib.contextmanager
def unlimited_kmsg_writes():
    """/dev/kmsg rate-limits writers ("ratelimit"); a test writing many lines lifts it and restores it."""
    path = Path("/proc/sys/kernel/printk_devkmsg")
    old = path.read_text().strip()
    path.write_text("on\n")
    try:
        yield
    finally:
        path.write_text(old + "\n")


class LiveRun:
    """check() on the calling thread, then run() in a thread, as the runner would do in one process."""

    def __init__(self, seconds: float, **settings):
        self.module = KernelLogModule(Host("/"), {"userspace_lines": True, **settings})
        self.check_ctx = RecordingContext(self.module.name, self.module.host, phase="check")
        self.module.check(self.check_ctx)
        self.cancel = threading.Event()
        self.ctx = RecordingContext(self.module.name, self.module.host, phase="run", seconds=seconds,
                                    cancel=self.cancel)
        self.thread = threading.Thread(target=self.module.run, args=(self.ctx,), daemon=True)
        self.thread.start()

    def wait_for(self, text: str, timeout: float) -> float | None:
        """Seconds until a finding whose line contains `text` arrived, or None."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if any(text in str(f.evidence.get("line", "")) for f in self.ctx.findings):
                return time.monotonic() - start
            time.sleep(0.01)
        return None

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "run() did not return"


@live
def test_live_machine_check_written_to_kmsg_fails_within_two_seconds():
    marker = uuid.uuid4().hex[:12]
    write_kmsg(f"<3>mce: [Hardware Error]: CPU 2: Machine Check: 0 Bank 6: be00000000800400 (burnin test, "
               f"before run {marker})")
    run = LiveRun(seconds=4)
    time.sleep(0.5)
    write_kmsg(f"<3>mce: [Hardware Error]: CPU 2: Machine Check: 0 Bank 6: be00000000800400 (burnin test {marker})")
    latency = run.wait_for(f"burnin test {marker}", timeout=2.0)
    assert latency is not None and latency <= 2.0
    run.join(timeout=5)
    mine = [f for f in run.ctx.findings if marker in f.evidence["line"]]
    assert [(f.severity, f.code) for f in mine] == [(Severity.FAIL, "machine-check")]
    assert mine[0].evidence["level"] == 3 and mine[0].evidence["facility"] == 1  # written by userspace
    finish_ctx = RecordingContext(run.module.name, run.module.host, phase="finish")
    run.module.finish(finish_ctx)
    assert not any(marker in str(f.evidence.get("line")) for f in finish_ctx.findings)


@live
def test_live_lines_written_by_userspace_are_ignored_by_default():
    marker = uuid.uuid4().hex[:12]
    module = KernelLogModule(Host("/"))
    module.check(RecordingContext(module.name, module.host))
    ctx = RecordingContext(module.name, module.host, phase="run", seconds=1.0)
    write_kmsg(f"<3>mce: [Hardware Error]: Machine check events logged (burnin test {marker})")
    module.run(ctx)
    assert not any(marker in f.evidence["line"] for f in ctx.findings)


@live
def test_live_run_without_check_starts_at_the_end_of_the_log():
    marker = uuid.uuid4().hex[:12]
    write_kmsg(f"<3>ata9: hard resetting link (burnin test, before run {marker})")
    module = KernelLogModule(Host("/"), {"userspace_lines": True})
    ctx = RecordingContext(module.name, module.host, phase="run", seconds=0.5)
    module.run(ctx)
    assert not any(marker in f.evidence["line"] for f in ctx.findings)


@live
def test_live_run_returns_soon_after_cancellation():
    run = LiveRun(seconds=60)
    time.sleep(0.3)
    cancelled = time.monotonic()
    run.cancel.set()
    run.join(timeout=2)
    assert time.monotonic() - cancelled < 0.6


@live
def test_live_flood_is_capped_and_summed_up():
    marker = uuid.uuid4().hex[:12]
    with unlimited_kmsg_writes():
        run = LiveRun(seconds=3, max_findings_per_code=5)
        for i in range(12):
            write_kmsg(f"<4>ata7: hard resetting link (burnin flood test {marker} #{i})")
        assert run.wait_for(f"{marker} #4", timeout=2.0) is not None
        run.join(timeout=5)
    mine = [f for f in run.ctx.findings if marker in str(f.evidence.get("line", f.evidence.get("last_line")))
            or marker in str(f.evidence.get("last_line", ""))]
    assert [f.code for f in mine] == ["ata-link-reset"] * 6
    assert mine[-1].evidence["suppressed"] == 7
    assert f"{marker} #11" in mine[-1].evidence["last_line"]


def test_link_down_of_a_port_burnin_just_moved_is_noted_not_judged(tmp_path, monkeypatch):
    from burnin.tools import netns

    monkeypatch.setattr(KernelLogModule, "state_dir", str(tmp_path))
    module = KernelLogModule(Host("/"))
    ctx = RecordingContext(module.name, module.host, phase="run")
    line = "e1000: enp0s11 NIC Link is Down"
    module.judge_record(ctx, record(line, seq=1))
    assert [(f.severity, f.code, f.component) for f in ctx.findings] == [(Severity.WARN, "nic-link-down", "nic:enp0s11")]
    netns.announce_change("enp0s11", "moved into a namespace for the traffic test", tmp_path)
    module.judge_record(ctx, record(line, seq=2))
    module.judge_record(ctx, record("e1000e 0000:05:00.0 enp5s0: NIC Link is Down", seq=3))  # not announced
    assert [f.component for f in ctx.findings] == ["nic:enp0s11", "nic:enp5s0"]
    assert ctx.notes[-1]["data"]["line"] == line and ctx.notes[-1]["data"]["code"] == "nic-link-down"


def test_announced_port_changes_count_for_a_minute_and_torn_lines_are_skipped():
    from burnin.tools.netns import parse_changes

    text = ('{"port": "eth0", "what": "moved", "time": 1000.0, "pid": 1}\n'
            '{"port": "eth1", "what": "moved", "time": 1050.0, "pid": 1}\n'
            '{"port": "eth1", "what": "back", "time": 1090.0, "pid": 1}\n'
            '{"port": "eth2", "wh')
    assert parse_changes(text, now=1100.0) == {"eth1": 10.0}
    assert parse_changes(text, now=1100.0, within_s=200) == {"eth0": 100.0, "eth1": 10.0}
