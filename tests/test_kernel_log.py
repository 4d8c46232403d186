"""The kernel-log module: the catalogue against its own examples and a corpus of real kernel lines, events,
naming the part with the inventory, /dev/kmsg records, the offline paths, and live following.

The live tests write lines into this machine's kernel log through /dev/kmsg (root only; skipped otherwise).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from burnin.cli import main
from burnin.host import Host
from burnin.inventory.disks import Disk
from burnin.inventory.memory import Dimm, DimmPlace
from burnin.inventory.nics import Nic
from burnin.inventory.pcie import PcieDevice
from burnin.kernel_log import corpus
from burnin.kernel_log.catalogue import CATALOGUE, SUBSYSTEM_OF_CODE
from burnin.kernel_log.judge import EventGrouper, Line, classify, group_lines
from burnin.kernel_log.kmsg import parse_text
from burnin.kernel_log.offline import judge_text
from burnin.model import Severity
from burnin.module import Skip
from burnin.modules.kernel_log import (
    SAVED_LOG,
    KernelLogModule,
    KmsgRecord,
    finding_of,
    parse_record,
    summarize_before_run,
)
from burnin.testing import RecordingContext

CORPUS_PATH = Path(__file__).parent / "data" / "kernel-log" / "corpus.txt"
BLOCKS = corpus.load(CORPUS_PATH)
JUDGED = {b.block: corpus.judge_block(b) for b in BLOCKS}


def record(message: str, seq: int = 1, usec: int = 1_000_000, facility: int = 0, level: int = 3) -> KmsgRecord:
    return KmsgRecord(facility, level, seq, usec, message)


def judged_alone(*messages: str, inventory=None):
    """The findings a few consecutive kernel lines become."""
    lines = [Line(m, match=classify(m)) for m in messages]
    from burnin.kernel_log.parts import event_aliases

    return [finding_of(e, inventory) for e in group_lines(lines, event_aliases(inventory) if inventory else None)]


# -- the catalogue: every row is tested from its own example lines -------------------------------------
@pytest.mark.parametrize("entry,example", [
    pytest.param(e, ex, id=f"{e.subsystem}:{e.code}:{i}:{j}")
    for i, e in enumerate(CATALOGUE) for j, ex in enumerate(e.examples)])
def test_catalogue_row_matches_its_own_example(entry, example):
    match = classify(example.line)
    assert match is not None and match.entry is entry, (match and match.entry.code, match and match.entry.pattern)
    assert example.source.strip(), "every example names where it was seen"
    if entry.severity is not None:
        (finding,) = judged_alone(example.line)
        assert (finding.severity, finding.code) == (entry.severity, entry.code)
        assert finding.evidence["lines"] == [example.line]
        assert "{" not in finding.message


def test_every_catalogue_row_has_an_example_and_every_table_a_severity_rule():
    assert [e.code for e in CATALOGUE if not e.examples] == []
    from burnin.kernel_log.catalogue import TABLES
    import importlib

    for name, _ in TABLES:
        doc = importlib.import_module(f"burnin.kernel_log.catalogue.{name}").__doc__
        assert "Severity rule" in doc and "Sources" in doc, name


# -- the corpus of real lines ----------------------------------------------------------------------------
@pytest.mark.parametrize("line", [pytest.param(cl, id=f"{cl.block}:{cl.lineno}")
                                  for b in BLOCKS for cl in b.lines])
def test_real_kernel_line_ends_up_where_the_corpus_says(line):
    got = JUDGED[line.block].get(line.lineno)
    if line.benign:
        assert got is None, (got[1].code, got[1].component)
        return
    assert got is not None, "in no finding's evidence"
    event, finding = got
    assert line.message in finding.evidence["lines"]
    if line.expected == "+":
        anchor = JUDGED[line.block].get(line.anchor.lineno)
        assert anchor is not None and anchor[0] is event, "not in the same event as the line above it"
    else:
        assert (finding.severity.value, finding.code, finding.component) == (line.severity, line.code, line.component)


def test_corpus_acceptance_figures():
    """The issue's acceptance: >= 95 % of error lines in a finding's evidence, >= 95 % of fatal lines FAIL,
    <= 2 % of benign lines flagged, on >= 500 real error lines from >= 40 drivers and >= 100 benign lines."""
    scores = corpus.score(BLOCKS, lambda cl: SUBSYSTEM_OF_CODE.get(cl.code or "", cl.driver))
    total = scores["all"]
    assert total.error_lines >= 500 and total.benign_lines >= 100
    assert len({b.driver for b in BLOCKS}) >= 40
    assert total.in_evidence / total.error_lines >= 0.95
    assert total.fatal_failed / total.fatal_lines >= 0.95
    assert total.benign_flagged / total.benign_lines <= 0.02


def test_every_corpus_block_has_a_source_in_the_readme():
    readme = (CORPUS_PATH.parent / "README.md").read_text()
    assert [b.block for b in BLOCKS if f"| {b.block} |" not in readme] == []


# -- events --------------------------------------------------------------------------------------------
def test_ata_exception_block_is_one_event_and_an_unc_error_fails_it():
    # ocaml/infrastructure#58: a READ that hit an unreadable sector, then the SCSI layer's report.
    block = next(b for b in BLOCKS if b.block == "ocaml-58")
    judged = JUDGED["ocaml-58"]
    ata_lines = [cl for cl in block.lines if cl.message.startswith("ata2") and not cl.benign]
    events = {id(judged[cl.lineno][0]) for cl in ata_lines}
    assert len(events) == 1
    finding = judged[ata_lines[0].lineno][1]
    assert (finding.severity, finding.code) == (Severity.FAIL, "ata-media-error")
    assert [cl.message for cl in ata_lines] == [ln for ln in finding.evidence["lines"] if ln.startswith("ata2")]


def test_ata_timeout_that_a_link_reset_recovered_is_a_warning():
    block = next(b for b in BLOCKS if b.block == "storage-monitoring-4")
    finding = JUDGED[block.block][block.lines[0].lineno][1]
    assert (finding.severity, finding.code) == (Severity.WARN, "ata-command-failed")
    assert "ata1: EH complete" in finding.evidence["lines"]


def test_ghes_record_names_the_dimm_location_over_the_fru_text():
    block = next(b for b in BLOCKS if b.block == "lkml-luck-2021")
    line = next(cl for cl in block.lines if "event severity: recoverable" in cl.message)
    finding = JUDGED[block.block][line.lineno][1]
    assert (finding.severity, finding.component) == (Severity.FAIL, "dimm:NODE 3 CPU0_DIMM_G1")
    assert len([ln for ln in finding.evidence["lines"] if ln.startswith("{1}")]) == 9


def test_two_aer_reports_on_one_device_are_two_events():
    line = "pcieport 0000:00:1c.5: AER: PCIe Bus Error: severity=Corrected, type=Physical Layer, (Receiver ID)"
    detail = "pcieport 0000:00:1c.5:    [ 0] RxErr                  (First)"
    findings = judged_alone(line, detail, line, detail)
    assert [(f.code, len(f.evidence["lines"])) for f in findings] == [("pcie-aer-correctable", 2)] * 2


def test_printk_with_embedded_newlines_is_split_into_its_lines():
    module = KernelLogModule(Host("/"))
    ctx = RecordingContext(module.name, module.host, phase="run")
    module.judge_record(ctx, record("e1000e 0000:00:19.0 eth0: Detected Hardware Unit Hang:\\x0a  TDH                  <5b>"
                                    "\\x0a  TDT                  <60>"))
    module.flush(ctx)
    (finding,) = ctx.findings
    assert finding.code == "nic-hardware-hang" and len(finding.evidence["lines"]) == 3


def test_open_event_closes_after_a_quiet_time_and_at_most_after_max_age():
    grouper = EventGrouper(quiet_s=0.3, max_age_s=1.0)
    head = "ata1.00: exception Emask 0x0 SAct 0x0 SErr 0x0 action 0x6 frozen"
    fail = "ata1.00: failed command: READ FPDMA QUEUED"
    assert grouper.feed(Line(head, match=classify(head)), now=10.0) == []
    assert grouper.feed(Line(fail, match=classify(fail)), now=10.1) == []
    assert grouper.next_deadline() == pytest.approx(10.4)
    assert grouper.expire(10.2) == []
    (event,) = grouper.expire(10.45)
    assert event.code == "ata-command-failed" and len(event.lines) == 2


# -- naming the part -----------------------------------------------------------------------------------
def _disk(name, serial, sysfs_path, pci=None):
    fields = {f.name: None for f in dataclasses.fields(Disk)}
    fields.update(name=name, dev_path=f"/dev/{name}", serial=serial, model="ST4000NM0035-1V4107", transport="SATA",
                  sysfs_path=sysfs_path, pci_address=pci, partitions=(), holders=(), mountpoints=(), system=False)
    return Disk(**fields)


def _pci(address, driver, slot=None, device=None):
    fields = {f.name: None for f in dataclasses.fields(PcieDevice)}
    fields.update(address=address, kind="other", driver=driver, slot=slot, device_name=device, vendor_name="Broadcom",
                  sysfs_path=f"/sys/bus/pci/devices/{address}", is_storage_controller=False, is_nic=False,
                  is_gpu=False)
    return PcieDevice(**fields)


def _dimm(locator, socket, channel, slot):
    fields = {f.name: None for f in dataclasses.fields(Dimm)}
    fields.update(locator=locator, bank_locator=f"NODE {socket}", populated=True, serial="1234ABCD",
                  part_number="M393A2K40BB1-CRC", place=DimmPlace(socket, channel, slot, None, None, "test"))
    return Dimm(**fields)


def _nic(name, pci):
    fields = {f.name: None for f in dataclasses.fields(Nic)}
    fields.update(name=name, physical=True, driver="igb", pci_address=pci, mac="00:25:90:aa:bb:cc")
    return Nic(**fields)


# The sysfs paths are those of tests/data/storage-links/ata-ahci (a real AHCI controller's tree).
INVENTORY = SimpleNamespace(
    disks=(_disk("sda", "ZC1A2B3C", "/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0/block/sda",
                 "0000:00:1f.2"),
           _disk("sdb", "ZC4D5E6F", "/sys/devices/pci0000:00/0000:00:1f.2/ata2/host1/target1:0:0/1:0:0:0/block/sdb",
                 "0000:00:1f.2")),
    pcie=SimpleNamespace(devices=(_pci("0000:03:00.0", "mpt3sas", "PCIe Slot 2", "SAS3008 PCI-Express Fusion-MPT SAS-3"),
                                  _pci("0000:00:1c.5", "pcieport", None, "Sunrise Point PCIe Root Port"),
                                  _pci("0000:05:00.0", "igb", "PCIe Slot 4", "I350 Gigabit Network Connection"))),
    memory=SimpleNamespace(dimms=(_dimm("A1", 0, "A", 1), _dimm("B1", 0, "B", 1), _dimm("A1", 1, "A", 1))),
    nics=(_nic("eno1", "0000:05:00.0"),),
)


def test_ata_port_and_scsi_address_name_the_disk_and_its_serial_and_join_one_event():
    block = next(b for b in BLOCKS if b.block == "ocaml-58")
    (finding, *rest) = judged_alone(*(cl.message for cl in block.lines), inventory=INVENTORY)
    assert rest == []  # ata2, sd 1:0:0:0 and sdb are one disk: one event
    assert (finding.severity, finding.code, finding.component) == (Severity.FAIL, "ata-media-error", "disk:/dev/sdb")
    assert finding.evidence["part"]["serial"] == "ZC4D5E6F" and "serial ZC4D5E6F" in finding.message


def test_firmware_dimm_label_names_the_inventory_slot():
    line = ("EDAC MC1: 1 CE memory scrubbing error on CPU_SrcID#1_Ha#0_Chan#0_DIMM#0 (channel:0 slot:0 page:0xee30a0 "
            "offset:0x0 grain:32 syndrome:0x0 -  area:DRAM err_code:0008:00c2 socket:1 ha:0 channel_mask:1 rank:0)")
    (finding,) = judged_alone(line, inventory=INVENTORY)
    assert finding.component == "dimm:A1" and finding.evidence["part"]["bank_locator"] == "NODE 1"


def test_a_part_the_inventory_cannot_name_is_said():
    (finding,) = judged_alone("EDAC MC0: 1 UE memory read error on CPU1_DIMM_Z9 (channel:0 slot:0 page:0x1234 "
                              "offset:0x0 grain:8 syndrome:0x0)", inventory=INVENTORY)
    assert finding.component == "dimm:CPU1_DIMM_Z9"
    assert finding.evidence["unmapped"] == "DIMM label CPU1_DIMM_Z9 matches no DIMM slot of the inventory"


def test_pci_address_names_the_slot_and_sas_instance_the_controller():
    (aer,) = judged_alone("pcieport 0000:03:00.0: AER: PCIe Bus Error: severity=Uncorrected (Fatal), "
                          "type=Transaction Layer, (Receiver ID)", inventory=INVENTORY)
    assert aer.evidence["part"]["slot"] == "PCIe Slot 2" and "PCIe Slot 2" in aer.message
    (fault,) = judged_alone("mpt3sas_cm0: fault_state(0x2622)!", inventory=INVENTORY)
    assert fault.component == "controller:0000:03:00.0" and fault.evidence["part"]["instance"] == "mpt3sas_cm0"
    (link,) = judged_alone("igb 0000:05:00.0 eno1: igb: eno1 NIC Link is Down", inventory=INVENTORY)
    assert link.component == "nic:eno1" and link.evidence["part"]["slot"] == "PCIe Slot 4"


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


def test_mce_status_decides_corrected_or_not_by_the_uc_bit():
    # Same line shape; bit 61 (UC) of MCi_STATUS is set in the first, clear in the second.
    assert classify("mce: [Hardware Error]: CPU 5: Machine Check: 0 Bank 1: b200000000070005").code == "machine-check"
    assert classify("mce: [Hardware Error]: CPU 5: Machine Check: 0 Bank 1: 9000004000010005").code \
        == "machine-check-corrected"


# -- judging and floods ------------------------------------------------------------------------------
def test_finding_evidence_holds_the_raw_line_and_kernel_time():
    module = KernelLogModule(Host("/"))
    ctx = RecordingContext(module.name, module.host, phase="run")
    line = "nvme nvme0: I/O 12 QID 5 timeout, aborting"
    module.judge_record(ctx, record(line, seq=42, usec=384589758045))
    module.flush(ctx)
    (finding,) = ctx.findings
    assert (finding.severity, finding.code, finding.component) == (Severity.FAIL, "nvme-timeout", "nvme:nvme0")
    assert finding.evidence["line"] == line and finding.evidence["lines"] == [line]
    assert finding.evidence["kernel_time_s"] == 384589.758045
    assert finding.evidence["seq"] == 42


def test_flood_of_one_kind_is_capped_and_summed_up_once():
    module = KernelLogModule(Host("/"), {"max_findings_per_code": 3})
    ctx = RecordingContext(module.name, module.host, phase="run")
    line = "pcieport 0000:00:1c.5: AER: PCIe Bus Error: severity=Corrected, type=Physical Layer, (Receiver ID)"
    for i in range(10):
        module.judge_record(ctx, record(line, seq=i, usec=1_000_000 + i))
    module.judge_record(ctx, record("ata1: hard resetting link", seq=11))
    module.flush(ctx)
    assert ctx.codes() == ["pcie-aer-correctable"] * 3 + ["ata-link-reset"]
    module.summarize_floods(ctx)
    summary = ctx.findings[-1]
    assert (summary.code, summary.component, summary.severity) == \
        ("pcie-aer-correctable", "pcie:0000:00:1c.5", Severity.WARN)
    assert summary.evidence["suppressed"] == 7
    assert summary.evidence["last_kernel_time_s"] == 1.000009
    module.summarize_floods(ctx)  # nothing new: no second summary
    assert len(ctx.findings) == 5


def test_lines_before_the_run_are_counted_per_event_kind_with_one_example_each():
    lines = [
        "mce: [Hardware Error]: CPU 0: Machine Check: 0 Bank 4: a600000000020408",
        "mce: [Hardware Error]: TSC 0 ADDR fef4c9e0 ",
        "EDAC MC0: 4 CE error on CPU#0Channel#2_DIMM#0 (channel:2 slot:0 page:0x0 offset:0x0 grain:8 syndrome:0x0)",
        "EDAC MC0: 2 CE error on CPU#0Channel#2_DIMM#0 (channel:2 slot:0 page:0x0 offset:0x0 grain:8 syndrome:0x0)",
        "EXT4-fs (sda1): mounted filesystem with ordered data mode. Quota mode: none.",
    ]
    before = summarize_before_run(record(line, seq=i) for i, line in enumerate(lines))
    assert dict(before.counts) == {"machine-check": 1, "edac-corrected": 2}
    assert before.fail_kinds == ("machine-check",)
    assert [e["line"] for e in before.examples] == [lines[0], lines[2]]
    assert before.examples[0]["lines"] == lines[:2]


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


# -- offline: a capture's saved log, and pasted text -----------------------------------------------------
def test_captured_tree_without_a_saved_kernel_log_has_none(tmp_path):
    module = KernelLogModule(Host(tmp_path))
    probe = module.probe()
    assert not probe.available and probe.reason == "no kernel log in a captured tree"
    with pytest.raises(Skip):
        module.check(RecordingContext(module.name, module.host))


def test_capture_saved_kernel_log_is_judged_by_check_with_the_catalogue(tmp_path):
    saved = tmp_path / SAVED_LOG
    saved.parent.mkdir(parents=True)
    block = next(b for b in BLOCKS if b.block == "ocaml-58")
    saved.write_text("".join(f"{(0 << 3) | 3},{i},{1000 + i},-;{cl.message}\n SUBSYSTEM=scsi\n"
                             for i, cl in enumerate(block.lines)))
    module = KernelLogModule(Host(tmp_path))
    assert module.probe().available
    ctx = RecordingContext(module.name, module.host, phase="check")
    module.check(ctx)
    (warn,) = ctx.findings
    assert warn.code == "kernel-errors-before-run"
    assert warn.evidence["counts"] == {"ata-media-error": 1, "scsi-sense-error": 1}
    assert warn.evidence["fail_kinds"] == ["ata-media-error", "scsi-sense-error"]


DMESG = """\
[  302.123456] ata2.00: exception Emask 0x0 SAct 0x5c50001f SErr 0x0 action 0x0
[  302.123460] ata2.00: irq_stat 0x40000008
[  302.123470] ata2.00: failed command: READ FPDMA QUEUED
[  302.123480] ata2.00: status: { DRDY ERR }
[  302.123490] ata2.00: error: { UNC }
[  302.130000] ata2: EH complete
[  400.000000] igb 0000:05:00.0 eno1: igb: eno1 NIC Link is Up 1000 Mbps Full Duplex, Flow Control: RX
"""


@pytest.mark.parametrize("fmt", ["dmesg", "dmesg -T", "journalctl", "syslog", "kmsg"])
def test_pasted_kernel_log_in_any_usual_format_gives_the_same_findings(fmt):
    lines = DMESG.splitlines()
    if fmt == "dmesg -T":
        lines = [f"[Mon Jun  3 13:30:{i:02d} 2024] {ln.split('] ', 1)[1]}" for i, ln in enumerate(lines)]
    elif fmt == "journalctl":
        lines = [f"Jun 03 13:30:13 r640 kernel: {ln.split('] ', 1)[1]}" for ln in lines]
        lines.insert(2, "Jun 03 13:30:13 r640 smartd[812]: Device: /dev/sdb [SAT], 8 Currently unreadable sectors")
    elif fmt == "syslog":
        lines = [f"2024-06-03T13:30:13.123456+02:00 r640 kernel: {ln}" for ln in lines]
    elif fmt == "kmsg":
        lines = [f"3,{i},{i * 1000},-;{ln.split('] ', 1)[1]}" for i, ln in enumerate(lines)]
    result = judge_text(lines)
    assert result.lines == 7
    assert [(f.severity, f.code, len(f.evidence["lines"])) for f in result.findings] == \
        [(Severity.FAIL, "ata-media-error", 6)]


def test_kmsg_command_fails_on_a_fatal_event_and_passes_a_clean_log(tmp_path):
    bad = tmp_path / "dmesg.txt"
    bad.write_text(DMESG)
    result = CliRunner().invoke(main, ["kmsg", str(bad)])
    assert result.exit_code == 1, result.output
    assert "FAIL ata:ata2 ata-media-error" in result.output and "| ata2.00: error: { UNC }" in result.output
    clean = tmp_path / "clean.txt"
    clean.write_text(DMESG.splitlines()[-1] + "\n")
    result = CliRunner().invoke(main, ["kmsg", "--json", str(clean)])
    assert result.exit_code == 0 and '"verdict": "PASS"' in result.output


def test_kmsg_command_on_bad_input_says_one_line_and_exits_2(tmp_path):
    for content in (None, b"\x00\x01binary", b""):
        path = tmp_path / "log"
        if content is not None:
            path.write_bytes(content)
        result = CliRunner().invoke(main, ["kmsg", str(path)])
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1 and "burnin: error:" in result.output
        if path.exists():
            path.unlink()


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
        for i in range(12):  # each AER report begins a new event
            write_kmsg(f"<4>pcieport 0000:00:1c.7: AER: PCIe Bus Error: severity=Corrected, type=Physical Layer, "
                       f"(burnin flood test {marker} #{i})")
        assert run.wait_for(f"{marker} #4", timeout=2.0) is not None
        run.join(timeout=5)
    mine = [f for f in run.ctx.findings if marker in str(f.evidence.get("line", f.evidence.get("last_line")))
            or marker in str(f.evidence.get("last_line", ""))]
    assert [f.code for f in mine] == ["pcie-aer-correctable"] * 6
    assert mine[-1].evidence["suppressed"] == 7
    assert f"{marker} #11" in mine[-1].evidence["last_line"]


def test_link_down_of_a_port_burnin_just_moved_is_noted_not_judged(tmp_path, monkeypatch):
    from burnin.tools import netns

    monkeypatch.setattr(KernelLogModule, "state_dir", str(tmp_path))
    module = KernelLogModule(Host("/"))
    ctx = RecordingContext(module.name, module.host, phase="run")
    line = "e1000: enp0s11 NIC Link is Down"
    module.judge_record(ctx, record(line, seq=1))
    module.flush(ctx)
    assert [(f.severity, f.code, f.component) for f in ctx.findings] == [(Severity.WARN, "nic-link-down", "nic:enp0s11")]
    netns.announce_change("enp0s11", "moved into a namespace for the traffic test", tmp_path)
    module.judge_record(ctx, record(line, seq=2))
    module.judge_record(ctx, record("e1000e 0000:05:00.0 enp5s0: NIC Link is Down", seq=3))  # not announced
    module.flush(ctx)
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
