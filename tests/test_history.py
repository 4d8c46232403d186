"""The history module: what the machine recorded before this boot, judged on real captures (tests/data/history/
SOURCE.md) and, where no public capture exists, on records this test builds from the UEFI/ACPI specs (marked)."""

import datetime as dt
import json
import os
import struct
import uuid
from pathlib import Path

import pytest

from burnin.host import CAPTURE_DIR, Host
from burnin.model import Severity
from burnin.modules.history import (
    DatedEvent, HistoryModule, before_boot, bert_from_kernel, judge_bert, judge_bert_lines, judge_bmc_history,
    judge_pstore, judge_reset, sel_date, sel_events,
)
from burnin.testing import run_phases
from burnin.tools import amd_reset, cper, ipmitool, pstore

DATA = Path(__file__).parent / "data" / "history"
IPMI = Path(__file__).parent / "data" / "ipmitool"
MEMORY_GUID = "a5bc1114-6f64-4ede-b863-3e83ed7c83b1"
BOOT = dt.datetime(2023, 1, 10, 12, 0, tzinfo=dt.timezone.utc)


# -- records built by this test from the specs (NOT captures) ------------------------------------
def _bcd(n):
    return (n // 10) << 4 | n % 10


def build_memory_record(severity=1, when=(2026, 3, 20, 13, 13, 8), fru_text=b"CPU1_DIMM_A1", address=0x31A53F0000,
                        status=0x1):
    """One Generic Error Status Block holding one platform memory error section, laid out as ACPI 6.5 tables
    18.11/18.12 and UEFI 2.10 N.2.5 say (the kernel's struct acpi_hest_generic_status/_data, cper_sec_mem_err)."""
    valid = (1 << 1) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 8) | (1 << 9) | (1 << 14)
    mem = struct.pack("<QQQQHHHHHHHHQQQBBHHH", valid, 0, address, 0, 2, 1, 0, 1, 0, 3541, 0, 0, 0, 0, 0, 3, 0, 0,
                      0, 0)
    year, month, day, hour, minute, sec = when
    stamp = bytes([_bcd(sec), _bcd(minute), _bcd(hour), 1, _bcd(day), _bcd(month), _bcd(year % 100),
                   _bcd(year // 100)])
    entry = (uuid.UUID(MEMORY_GUID).bytes_le + struct.pack("<IHBBI", severity, 0x300, 0x2 | 0x4, 0, len(mem))
             + bytes(16) + fru_text.ljust(20, b"\0") + stamp + mem)
    return struct.pack("<5I", status, 0, 0, len(entry), severity) + entry


# -- BERT -------------------------------------------------------------------------------------------
def test_a_real_bert_table_points_at_its_error_region():
    table = cper.parse_table(cper.parse_hexdump((DATA / "fwts-bert-table.acpidump").read_text()))
    assert (table.region_length, hex(table.region_address), table.oem_table_id) == (1024, "0xafe96000", "WHEAPTL")
    assert cper.parse_table(b"FACP" + bytes(60)) is None and cper.parse_table(b"BERT") is None


def test_a_real_truncated_bert_region_decodes_as_far_as_it_goes_and_fails_fatal():
    """A firmware crash-log record (i7-12700H freezes, Intel microcode issue #67): only the first 160 bytes were
    quoted. It is fatal; the decoder says where it stopped instead of raising."""
    region = cper.parse_region(cper.parse_hexdump((DATA / "intel-microcode-67-bert-region.hexdump").read_text()))
    (record,) = region.records
    assert record.severity == "fatal" and record.sections[0].type_name == "Firmware Error Record Reference"
    assert record.sections[0].fields["record_identifier_guid"] == "8f87f311-c998-4d9e-a0c4-6065518c4f6d"
    assert any("truncated" in p for p in region.problems) and any("block status 0" in p for p in region.problems)
    (finding,) = judge_bert(region, "data/BERT")
    assert (finding.severity, finding.code) == (Severity.FAIL, "history-bert-fatal")
    assert "crashed on a hardware error before you booted it" in finding.message
    assert finding.evidence["problems"]


def test_a_fatal_memory_record_fails_naming_the_dimm_the_address_and_the_time():
    """Built by this test from the spec (no public BERT binary with a memory section was found)."""
    region = cper.parse_region(build_memory_record() + bytes(64))
    assert not region.problems
    (finding,) = judge_bert(region, "data/BERT")
    assert (finding.severity, finding.code, finding.component) == (
        Severity.FAIL, "history-bert-fatal", "dimm:CPU1_DIMM_A1")
    for words in ("CPU1_DIMM_A1", "0x00000031a53f0000", "2026-03-20 13:13:08", "node 2", "row 3541",
                  "multi-bit ECC", "crashed on a hardware error before you booted it"):
        assert words in finding.message
    assert finding.evidence["record_time"] == "2026-03-20 13:13:08"


def test_corrected_and_garbage_regions():
    corrected = judge_bert(cper.parse_region(build_memory_record(severity=2, when=(0,) * 6)), "x")
    assert [(f.severity, f.code) for f in corrected] == [(Severity.WARN, "history-bert-corrected")]
    assert corrected[0].evidence["record_time"] is None  # its timestamp is no date: said as none
    for junk in (b"", bytes(20), b"\xff" * 300, build_memory_record()[:50]):
        cper.parse_region(junk)  # never raises


def test_the_kernels_print_of_a_real_bert_record_fails_when_the_table_is_not_readable():
    blocks = bert_from_kernel((DATA / "kernel-bert-fatal-processor.txt").read_text().splitlines())
    assert len(blocks) == 1 and not any("Bank 5" in ln or "something else" in ln for ln in blocks[0])
    (finding,) = judge_bert_lines(blocks)
    assert (finding.severity, finding.code, finding.component) == (Severity.FAIL, "history-bert-fatal", "cpu:apic0x34")
    assert "IA32/X64 processor error" in finding.message and "cache error" in finding.message
    (fw,) = judge_bert_lines(bert_from_kernel((DATA / "kernel-bert-firmware-record.txt").read_text().splitlines()))
    assert fw.code == "history-bert-fatal" and "unknown" in fw.message


# -- AMD reset reason -----------------------------------------------------------------------------
def test_amd_reset_reasons_from_real_lines_are_decoded_and_judged_by_meaning():
    reasons = amd_reset.parse_lines((DATA / "amd-reset-reasons.txt").read_text().splitlines())
    judged = {r.text: judge_reset(r) for r in reasons}
    flood = judged["an uncorrected error caused a data fabric sync flood event"]
    assert (flood.severity, flood.code) == (Severity.FAIL, "history-reset-hardware")
    assert "0x08000800" in flood.message and "sync flood" in flood.message
    assert flood.evidence["unnamed_bits"] == [11]
    watchdog = judged["hardware watchdog timer expired"]
    assert (watchdog.severity, watchdog.code) == (Severity.WARN, "history-reset-unexpected")
    assert judged["software wrote 0x6 to reset control register 0xCF9"].severity is Severity.INFO
    assert judged["ACPI power state transition occurred"].code == "history-reset-reason"
    assert len(reasons) == 4  # the 0xCF9 value seen twice is one reason
    assert amd_reset.parse_line("x86/amd: Previous system reset reason [0xffffffff]: a parity error occurred") is None


# -- pstore ---------------------------------------------------------------------------------------
def _pstore_records(folder):
    return pstore.group([(p.name, p.read_text()) for p in sorted((DATA / "pstore" / folder).iterdir())])


def test_a_pstore_panic_of_a_hardware_error_fails_and_shows_its_last_lines():
    (record,) = _pstore_records("mce-ramoops")
    finding = judge_pstore(record)
    assert (finding.severity, finding.code) == (Severity.FAIL, "history-pstore-hardware-panic")
    assert "Kernel panic - not syncing: Fatal machine check" in finding.message
    assert finding.evidence["last_lines"][-1].endswith("Rebooting in 30 seconds..")


def test_a_real_efi_pstore_panic_in_parts_is_one_record_that_warns():
    (record,) = _pstore_records("ath11k-efi")
    assert (record.reason, record.count, len(record.files)) == ("Panic", 1, 2)
    assert record.lines[0].endswith("device_resume+0x105/0x280")  # Part3 (older) first, Part1 last
    finding = judge_pstore(record)
    assert (finding.severity, finding.code) == (Severity.WARN, "history-pstore-panic")
    assert "ath11k_pci 0000:01:00.0: unrecoverable failure" in finding.message
    (sysrq,) = _pstore_records("sysrq-ramoops")
    assert judge_pstore(sysrq).code == "history-pstore-panic"


def test_ramoops_time_header_and_console_records():
    meta, lines = pstore.parse_file("dmesg-ramoops-0", "====1721721600.123456-D\nOops#1 Part1\n<4>[ 1.0] x\n")
    assert (meta["time_s"], meta["reason"], lines) == (1721721600, "Oops", ["[ 1.0] x"])
    (console,) = pstore.group([("console-ramoops-0", "[ 5.0] login:\n")])
    assert judge_pstore(console).code == "history-pstore-record"


# -- the BMC's log ---------------------------------------------------------------------------------
def test_before_boot_keeps_only_entries_dated_before_the_boot():
    events = sel_events(ipmitool.parse_sel_list((IPMI / "hp-dl360g7-sel-list.txt").read_text()
                                                + (IPMI / "quanta-sel-elist.txt").read_text()))
    assert sel_date("12/14/22", "23:09:44 CET") == dt.datetime(2022, 12, 14, 23, 9, 44, tzinfo=dt.timezone.utc)
    before, undated = before_boot(events, BOOT)
    assert len(before) == 4 and not undated
    assert before_boot(events, dt.datetime(2022, 1, 1, tzinfo=dt.timezone.utc))[0][0].when.year == 2021
    found = judge_bmc_history(before, BOOT, recent_days=60)
    assert [(f.severity, f.code) for f in found] == [(Severity.WARN, "history-bmc-recent"),
                                                     (Severity.INFO, "history-bmc-older")]
    assert found[0].evidence["counts"] == {"memory": 1} and "Correctable ECC" in found[0].message
    later = DatedEvent(BOOT + dt.timedelta(hours=1), "redfish", "fan", Severity.FAIL, "Fan 3 failed", "bmc:fan3")
    assert before_boot([later], BOOT) == ([], [])


# -- the whole module on captured trees --------------------------------------------------------------
def _tree(tmp_path, kmsg_lines=(), pstore_from=None, bert=None, sel=None, btime=int(BOOT.timestamp())):
    root = tmp_path / "capture"
    (root / CAPTURE_DIR).mkdir(parents=True)
    (root / "proc").mkdir()
    (root / "proc" / "stat").write_text(f"cpu 1 2 3\nbtime {btime}\n")
    (root / CAPTURE_DIR / "kmsg.txt").write_text(
        "".join(f"6,{i},{i * 1000},-;{line}\n" for i, line in enumerate(kmsg_lines)))
    if pstore_from is not None:
        target = root / "sys" / "fs" / "pstore"
        target.mkdir(parents=True)
        for p in (DATA / "pstore" / pstore_from).iterdir() if pstore_from else ():
            (target / p.name).write_bytes(p.read_bytes())
    if bert is not None:
        tables = root / "sys" / "firmware" / "acpi" / "tables"
        (tables / "data").mkdir(parents=True)
        (tables / "BERT").write_bytes(cper.parse_hexdump((DATA / "fwts-bert-table.acpidump").read_text()))
        (tables / "data" / "BERT").write_bytes(bert)
    if sel is not None:
        (root / CAPTURE_DIR / "commands.json").write_text(json.dumps([
            {"argv": ipmitool.sel_list_argv(), "returncode": 0, "stdout": sel, "stderr": "", "duration_s": 0.1}]))
    return Host(root)


def test_a_clean_capture_says_nothing_recorded_and_lists_what_it_read(tmp_path):
    ctx = run_phases(HistoryModule(_tree(tmp_path, ["Linux version 6.1.0"], pstore_from="")))
    (summary,) = ctx.findings
    assert summary.code == "history-summary" and "Nothing recorded before this boot" in summary.message
    assert summary.evidence["sources"]["pstore"].startswith("0 record(s), empty")
    assert summary.evidence["sources"]["ACPI BERT"].startswith("not available: no BERT table")
    assert "Not available: ACPI BERT, AMD reset reason, BMC event log" in summary.message


def test_a_machine_with_a_past_lists_every_source(tmp_path):
    lines = (DATA / "amd-reset-reasons.txt").read_text().splitlines()[:1] + \
        (DATA / "kernel-ghes-fatal-memory-sr650.txt").read_text().splitlines()
    host = _tree(tmp_path, [ln.split("] ", 1)[-1] for ln in lines], pstore_from="mce-ramoops",
                 bert=build_memory_record(), sel=(IPMI / "quanta-sel-elist.txt").read_text())
    ctx = run_phases(HistoryModule(host, {"recent_days": 60}))
    codes = ctx.codes()
    for code in ("history-bert-fatal", "history-reset-hardware", "history-pstore-hardware-panic",
                 "history-bmc-recent", "history-kernel-errors", "history-summary"):
        assert code in codes, codes
    kernel = next(f for f in ctx.findings if f.code == "history-kernel-errors")
    assert kernel.severity is Severity.INFO and "hardware-error-uncorrected" in kernel.message
    summary = ctx.findings[-1]
    assert "the worst FAIL" in summary.message and not summary.evidence["nothing_recorded"]


def test_nothing_readable_is_a_skip_not_a_pass(tmp_path):
    root = tmp_path / "bare"
    root.mkdir()
    from burnin.module import Skip

    with pytest.raises(Skip, match="no source of the machine's history could be read"):
        run_phases(HistoryModule(Host(root)))


def test_the_verdict_block_and_the_html_report_open_with_before_this_boot(tmp_path):
    from click.testing import CliRunner

    from burnin.cli import main

    host = _tree(tmp_path, ["Linux version 6.1.0"], pstore_from="mce-ramoops", bert=build_memory_record())
    journal, page = tmp_path / "run.jsonl", tmp_path / "report.html"
    result = CliRunner().invoke(main, ["check", "--sysroot", str(host.root), "--only", "history", "--plain",
                                       "--journal", str(journal), "--html", str(page)])
    assert result.exit_code == 1, result.output
    block = result.output[result.output.index("BEFORE THIS BOOT"):]
    assert block.index("BEFORE THIS BOOT") < block.index(" history ")  # above the module rows
    assert "DIMM CPU1_DIMM_A1 (node 2 card 1" in " ".join(block.split())
    assert "ACPI BERT: 1 record(s)" in block and "pstore: 1 record(s)" in block
    html = page.read_text()
    assert html.index('id="before-boot"') < html.index('id="findings"')
    assert "Fatal machine check" in html


def test_a_clean_history_reads_nothing_recorded_on_the_dashboard():
    from burnin.model import Finding
    from burnin.report.dashboard import ASCII, DashboardReporter, frame

    reporter = DashboardReporter.__new__(DashboardReporter)
    from burnin.report.dashboard import State

    reporter.state, reporter._draw = State(), lambda force=False: None
    reporter.finding(Finding("history", Severity.INFO, "history", "history-summary",
                             "Nothing recorded before this boot in the sources read (kernel log, pstore).",
                             {"worst": None}))
    text = "\n".join(line for line, _ in frame(reporter.state, 100, 30, ASCII))
    assert "before this boot: Nothing recorded before this boot" in text


def test_a_hard_lockup_panic_is_not_called_a_hardware_error():
    (record,) = pstore.group([("dmesg-ramoops-0", "Panic#1 Part1\n"
                               "<0>[ 80.1] NMI watchdog: Watchdog detected hard LOCKUP on cpu 3\n"
                               "<0>[ 80.2] Kernel panic - not syncing: Hard LOCKUP\n")])
    assert judge_pstore(record).code == "history-pstore-panic"
    (nmi,) = pstore.group([("dmesg-ramoops-1", "Panic#1 Part1\n"
                            "<0>[ 9.1] Kernel panic - not syncing: NMI IOCK error: Not continuing\n")])
    assert judge_pstore(nmi).code == "history-pstore-hardware-panic"


def test_records_systemd_pstore_moved_at_this_boot_are_read_older_ones_are_not(tmp_path):
    host = _tree(tmp_path, ["Linux version 6.1.0"])
    archive = host.root / "var" / "lib" / "systemd" / "pstore"
    for name, when in (("1700000000", BOOT.timestamp() + 30), ("1500000000", BOOT.timestamp() - 86400 * 400)):
        (archive / name).mkdir(parents=True)
        (archive / name / "dmesg-ramoops-0").write_text((DATA / "pstore/mce-ramoops/dmesg-ramoops-0").read_text())
        os.utime(archive / name, (when, when))
    ctx = run_phases(HistoryModule(host))
    (crash,) = [f for f in ctx.findings if f.code == "history-pstore-hardware-panic"]
    assert crash.evidence["archived"] == "/var/lib/systemd/pstore/1700000000"
    assert "1 folder(s) archived by systemd-pstore at this boot" in ctx.findings[-1].evidence["sources"]["pstore"]
