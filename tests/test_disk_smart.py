"""SMART: saved smartctl reports (JSON and text) of real drives parsed and judged with the disk module's rules."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from burnin.model import Severity, Verdict
from burnin.modules.disk import (
    SmartLimits, decode_critical_warning, history_findings, judge_reports, judge_smart,
    smart_absent_reason, smart_counter_growth,
)
from burnin.tools import smart
from burnin.tools.smart import (
    SmartReport, merge_reports, parse_ata_attribute_table, parse_scan, read_saved_report, report_from_json,
)

DATA = Path(__file__).parent / "data" / "smart"
JSON = DATA / "json"
TEXT = DATA / "text"

# Drives with something wrong, and exactly what the rules must say about each.
FAILING = {
    "SEAGATE_ST373453LC_26.json": (Verdict.FAIL, {("fail", "scsi-grown-defects"),
                                                  ("fail", "scsi-uncorrected-errors")}),
    "nvme-null-SAMSUNG_MZWLL3T2HAJQ-00005-nvme0.json": (Verdict.FAIL, {("fail", "smart-health-failed"),
                                                                       ("fail", "nvme-critical-warning")}),
    "ST3500418AS_12.json": (Verdict.FAIL, {("fail", "smart-reallocated-sectors")}),
    "ST3500418AS_11.json": (Verdict.WARN, {("warn", "smart-reallocated-sectors"), ("warn", "smart-command-timeouts")}),
    "sat-Western_Digital_RE4-WDC_WD2003FYYS-02W0B1-sdi.json": (Verdict.WARN, {("warn", "smart-crc-errors")}),
    "HGST_HUS724020ALE640_28.json": (Verdict.WARN, {("warn", "smart-crc-errors"), ("warn", "smart-error-log")}),
    "MB0500EBNCR_13.json": (Verdict.WARN, {("warn", "smart-reported-uncorrect")}),
    "ST3200820AS_16.json": (Verdict.WARN, {("warn", "smart-error-log")}),
    "sat-Phison_Driven_SSDs-KINGSTON_SKC400S371T-sda.json": (Verdict.WARN, {("warn", "smart-reallocated-sectors"),
                                                                            ("warn", "smart-reallocation-events")}),
}
# Every other capture whose flattened summary shows a non-zero error counter (they must not PASS either)
FLAGGED_BY_SUMMARY = {
    "MB0500EBNCR_14.json", "sat-Intel_730_and_DC_S35x0_3610_3700_Series_SSDs-INTEL_SSDSC2BB480G4-sda.json",
    "sat-Intel_S3520_Series_SSDs-INTEL_SSDSC2BB016T7-sdc.json",
    "sat-Intel_S4510_S4610_S4500_S4600_Series_SSDs-INTEL_SSDSC2KB240G7-sdd.json",
    "sat-Micron_5100_Pro___52x0___5300_SSDs-Micron_5300_MTFDDAK1T9TDS-sda.json",
    "sat-Micron_5100___52x0___5300___5400_SSDs-Micron_5300_MTFDDAK480TDS-sda.json",
    "sat-Seagate_Constellation_ES.3-ST3000NM0033-9ZM178-sdc.json",
    "sat-Toshiba_MG05ACA..._Enterprise_Capacity_HDD-TOSHIBA_MG05ACA800E-sdw.json",
    "sat-Western_Digital_RE3_Serial_ATA-WDC_WD5002ABYS-02B1B0-sda.json",
    "sat-Western_Digital_RE4-WDC_WD1003FBYX-01Y7B0-sda.json",
    "sat-Western_Digital_Ultrastar_DC_HC550-WDC__WUH721816ALE6L4-sdx.json",
}
# Real command timeouts (ATA 188, one of Backblaze's five failure predictors): WARN since issue 17
COMMAND_TIMEOUTS = {
    "sat-Micron_5100_Pro___52x0___5300_SSDs-Micron_5300_MTFDDAK240TDS-sda.json": 10,
    "sat-Micron_5100_Pro___52x0___5300_SSDs-Micron_5300_MTFDDAK3T8TDS-sdc.json": 11,
    "sat-Micron_5100_Pro___52x0___5300_SSDs-Micron_5300_MTFDDAK960TDS-sdi.json": 8,
    "sat-Micron_5100_Pro___52x0___5300_SSDs-Micron_5300_MTFDDAV240TDS-sda.json": 33,
    "sat-Micron_5100_Pro___52x0___5300_SSDs-Micron_5300_MTFDDAV480TDS-sda.json": 12,
    "sat-Seagate_Enterprise_Capacity_3.5_HDD-ST2000NM0008-2F3100-sdl.json": 2,
    "sat-Seagate_Exos_X16-ST16000NM001G-2KK103-sda.json": 12,
}
ALL_JSON = sorted(p.name for p in JSON.glob("*.json"))
HEALTHY_JSON = [n for n in ALL_JSON if n not in FAILING and n not in FLAGGED_BY_SUMMARY and n not in COMMAND_TIMEOUTS]
NO_SMART_TEXT = {"megaraid_vd_0.txt", "unsupported_0.txt"}  # RAID volumes: the controller hides the drives
ALL_TEXT = sorted(p.name for p in TEXT.glob("*.txt"))


def codes(findings, severities=("fail", "warn")):
    return {(f.severity.value, f.code) for f in findings if f.severity.value in severities}


@pytest.mark.parametrize("name", sorted(FAILING))
def test_failing_drives_get_the_exact_verdict_and_codes(name):
    [(path, verdict, findings, reason)] = judge_reports([str(JSON / name)])
    expected_verdict, expected_codes = FAILING[name]
    assert verdict is expected_verdict, reason
    assert codes(findings) == expected_codes
    assert all(f.component.startswith("disk:/dev/") for f in findings)


def test_every_capture_flagged_by_the_summary_is_not_a_pass():
    results = judge_reports([str(JSON / n) for n in sorted(FLAGGED_BY_SUMMARY)])
    assert {r.path.rsplit("/", 1)[1]: r.verdict for r in results if r.verdict is Verdict.PASS} == {}


def test_healthy_json_captures_pass():
    assert len(HEALTHY_JSON) > 140
    results = judge_reports([str(JSON / n) for n in HEALTHY_JSON])
    not_passing = {r.path.rsplit("/", 1)[1]: (r.verdict.value, r.reason) for r in results
                   if r.verdict is not Verdict.PASS}
    assert not_passing == {}


def test_command_timeouts_warn_with_the_count():
    results = judge_reports([str(JSON / n) for n in COMMAND_TIMEOUTS])
    for result in results:
        name = result.path.rsplit("/", 1)[1]
        assert result.verdict is Verdict.WARN, result.reason
        [finding] = [f for f in result.findings if f.code == "smart-command-timeouts"]
        assert finding.evidence["command_timeout"] == COMMAND_TIMEOUTS[name]


def test_seagate_packed_command_timeout_raw_counts_only_the_total_word():
    from burnin.modules.disk.smart import command_timeouts
    # rkarlsba/ymse smartctl-ting/attr-list-example.md: a Seagate's 188 raw 4295032853 = 0x0001_0001_0015
    attr = smart.AtaAttribute(188, "Command_Timeout", 100, 97, 0, 4295032853, "4295032853", False, "")
    assert command_timeouts(attr) == 21
    assert command_timeouts(replace(attr, raw=0, raw_text="0 0 0")) is None or command_timeouts(
        replace(attr, raw=0, raw_text="0 0 0")) == 0


def test_failing_sas_drive_evidence_has_the_raw_counts():
    [result] = judge_reports([str(JSON / "SEAGATE_ST373453LC_26.json")])
    by_code = {f.code: f for f in result.findings}
    assert by_code["scsi-grown-defects"].evidence["grown_defect_list"] == 260
    assert by_code["scsi-uncorrected-errors"].evidence == {"uncorrected_read": 1, "uncorrected_write": 535}
    assert by_code["scsi-grown-defects"].component == "disk:/dev/sdb S/N REDACTED"


def test_nvme_critical_warning_names_the_failed_part():
    [result] = judge_reports([str(JSON / "nvme-null-SAMSUNG_MZWLL3T2HAJQ-00005-nvme0.json")])
    warning = next(f for f in result.findings if f.code == "nvme-critical-warning")
    assert warning.evidence["meaning"] == ["volatile memory backup device failed"]
    assert "0x10" in warning.message
    assert decode_critical_warning(0x05) == ["available spare below its threshold",
                                             "NVM subsystem reliability degraded"]


def test_reallocated_limit_comes_from_the_settings():
    [result] = judge_reports([str(JSON / "ST3500418AS_12.json")], {"reallocated_fail": 500})
    assert result.verdict is Verdict.WARN
    assert codes(result.findings) == {("warn", "smart-reallocated-sectors")}


@pytest.mark.parametrize("name", [n for n in ALL_TEXT if n not in NO_SMART_TEXT])
def test_healthy_text_reports_parsed_by_pysmart_pass(name):
    [(path, verdict, findings, reason)] = judge_reports([str(TEXT / name)])
    if name == "usb_ssd_0_issue_50.txt":  # 1 command timeout (188): WARN since issue 17
        assert verdict is Verdict.WARN and codes(findings) == {("warn", "smart-command-timeouts")}
    else:
        assert verdict is Verdict.PASS, (reason, findings)
    report, gaps = read_saved_report(str(TEXT / name))
    assert report.protocol in ("ATA", "NVMe", "SCSI") and report.health_passed is True
    assert gaps == []


@pytest.mark.parametrize("name", sorted(NO_SMART_TEXT))
def test_raid_volume_without_smart_is_an_error_with_the_reason_not_a_pass(name):
    [result] = judge_reports([str(TEXT / name)])
    assert result.verdict is Verdict.ERROR
    assert "no SMART" in result.reason


def test_nvme_error_log_of_the_hosts_own_invalid_commands_is_not_a_warning():
    # smartctl 7.3+ prints a Message column that pySMART's error-log parser does not expect
    report, _ = read_saved_report(str(TEXT / "nvme_11_issue_75.txt"))
    assert report.nvme.error_log_entries == 2888
    assert [(e.status_code_type, e.status_code) for e in report.nvme.errors] == [(0, 0x02)]  # Invalid Field
    assert codes(judge_smart(report, "disk:x")) == set()
    drive_fault = replace(report, nvme=replace(report.nvme, errors=(smart.NvmeErrorEntry(2889, 0x0281 << 1),)))
    assert codes(judge_smart(drive_fault, "disk:x")) == {("warn", "smart-error-log")}


def test_text_and_json_readers_agree_on_the_same_kind_of_fields():
    report, _ = read_saved_report(str(TEXT / "megaraid_ph_sata_hdd_0.txt"))
    assert report.protocol == "ATA" and report.power_on_hours == 47396 and report.error_count == 0
    assert report.attribute(5).raw == 0 and report.attribute(9).raw == 47396
    assert [t.result for t in report.self_tests] == ["passed"]
    sas, _ = read_saved_report(str(TEXT / "sas_ssd_0_issue_57__x.txt"))
    assert sas.protocol == "SCSI" and sas.scsi.grown_defects == 0 and sas.power_on_hours == 146


def test_running_self_test_is_seen_with_its_progress():
    report, _ = read_saved_report(str(TEXT / "sata_hdd_0_issue42.txt"))
    assert report.self_test_running is True and report.self_test_remaining_pct is not None
    nvme, _ = read_saved_report(str(TEXT / "nvme_win10_0_issue_64.txt"))
    assert nvme.self_test_running is True


def test_own_attribute_table_parser_matches_pysmart_on_every_ata_report():
    for name in ALL_TEXT:
        report, _ = read_saved_report(str(TEXT / name))
        if report.protocol != "ATA":
            continue
        lines = (TEXT / name).read_text(errors="replace").splitlines()
        mine = {(a.id, a.value, a.worst, a.thresh, a.raw, a.prefailure) for a in parse_ata_attribute_table(lines)}
        theirs = {(a.id, a.value, a.worst, a.thresh, a.raw, a.prefailure) for a in report.attributes}
        assert mine == theirs, name


def test_brief_attribute_table_of_smartctl_x_is_read():
    # The -x layout (smartmontools ataprint.cpp, brief format): flags as letters, a FAIL column, no TYPE/UPDATED
    lines = [
        "ID# ATTRIBUTE_NAME          FLAGS    VALUE WORST THRESH FAIL RAW_VALUE",
        "  5 Reallocated_Sector_Ct   PO--CK   035   035   036    NOW  1345",
        "190 Airflow_Temperature_Cel -O---K   060   026   045    Past 40 (Min/Max 38/40 #197)",
        "197 Current_Pending_Sector  -O--C-   100   100   000    -    114",
        "                            ||||||_ K auto-keep",
        "",
    ]
    attrs = {a.id: a for a in parse_ata_attribute_table(lines)}
    assert attrs[5].prefailure and attrs[5].when_failed == "now" and attrs[5].raw == 1345
    assert attrs[190].when_failed == "past" and attrs[190].raw == 40 and not attrs[190].prefailure
    report = SmartReport("/dev/sdz", "sat", "ATA", health_passed=False, attributes=tuple(attrs.values()))
    assert codes(judge_smart(report, "disk:/dev/sdz")) == {
        ("fail", "smart-health-failed"), ("fail", "smart-attribute-failing"), ("fail", "smart-pending-sectors"),
        ("fail", "smart-reallocated-sectors"), ("warn", "smart-attribute-failed-before")}


def test_counter_growth_names_the_counter():
    # Two real readings of the same drive model stand in for a drive before and after a run
    before = report_from_json(json.loads((JSON / "ST3500418AS_11.json").read_text()))
    after = report_from_json(json.loads((JSON / "ST3500418AS_12.json").read_text()))
    [grew] = smart_counter_growth(before, after, "disk:/dev/sda S/N X", "/dev/sda")
    assert grew.severity is Severity.FAIL and grew.code == "smart-counter-grew"
    assert grew.evidence == {"counter": "reallocated_sectors", "before": 1, "after": 304}
    assert "/dev/sda" in grew.message and "reallocated sectors" in grew.message
    assert smart_counter_growth(after, after, "c", "l") == []


def test_logs_stamped_after_the_power_on_hours_warn_of_a_reset_history():
    report = report_from_json(json.loads((JSON / "sat-Toshiba_MG05ACA..._Enterprise_Capacity_HDD-TOSHIBA_MG05ACA800E"
                                                  "-sdw.json").read_text()))
    assert history_findings(report, "disk:x") == []
    newest = max(e.hours for e in report.error_log)
    reset = replace(report, power_on_hours=120)  # the same drive with its power-on counter wound back
    [finding] = history_findings(reset, "disk:x")
    assert finding.code == "smart-history-reset" and finding.severity is Severity.WARN
    assert finding.evidence["latest_log_hours"] == newest and finding.evidence["power_on_hours"] == 120
    wrapped = replace(report, power_on_hours=70000)  # ATA log stamps are 16-bit: no comparison past 65535 hours
    assert history_findings(wrapped, "disk:x") == []


def test_failed_latest_self_test_fails_but_an_older_failure_does_not():
    report, _ = read_saved_report(str(TEXT / "sata_ssd_0_issue_49.txt"))
    assert [t.result for t in report.self_tests].count("aborted") == 1 and "failed" not in [
        t.result for t in report.self_tests]
    failed = smart.SelfTestEntry("Short offline", "Completed: read failure", "failed", 2370, 123456)
    latest_failed = replace(report, self_tests=(failed, *report.self_tests))
    [finding] = [f for f in judge_smart(latest_failed, "disk:x") if f.code == "self-test-failed"]
    assert finding.severity is Severity.FAIL and finding.evidence["lba"] == 123456
    older_failed = replace(report, self_tests=(report.self_tests[0], failed))
    assert [f for f in judge_smart(older_failed, "disk:x") if f.code == "self-test-failed"] == []


def test_nvme_wear_and_spare_thresholds():
    report, _ = read_saved_report(str(TEXT / "nvme_0.txt"))
    limits = SmartLimits()
    worn = replace(report, nvme=replace(report.nvme, percentage_used=93))
    assert codes(judge_smart(worn, "c", limits)) == {("warn", "nvme-worn-out")}
    spent = replace(report, nvme=replace(report.nvme, percentage_used=100, available_spare=5))
    assert codes(judge_smart(spent, "c", limits)) == {("fail", "nvme-worn-out"), ("fail", "nvme-spare-low")}


def test_pysmart_gaps_are_filled_from_the_json_and_listed():
    witness = report_from_json(json.loads((JSON / "nvme-null-SAMSUNG_MZWLL3T2HAJQ-00005-nvme0.json").read_text()))
    # pySMART's NVMe parse read the drive but missed its critical warning (as when its parser breaks on a new
    # smartctl release): the JSON supplies it and the gap is listed
    parsed, _ = read_saved_report(str(TEXT / "nvme_0.txt"))
    partial = replace(parsed, nvme=replace(parsed.nvme, critical_warning=None), health_passed=None)
    merged, gaps = merge_reports(partial, witness)
    assert merged.nvme.critical_warning == 0x10 and merged.health_passed is False
    assert gaps == ["health passed", "NVMe critical_warning"]
    assert merged.nvme.percentage_used == parsed.nvme.percentage_used  # pySMART's own values stay
    assert codes(judge_smart(merged, "c")) == {("fail", "smart-health-failed"), ("fail", "nvme-critical-warning")}
    # pySMART read nothing at all: the JSON is the report, and that is said
    merged, gaps = merge_reports(SmartReport("/dev/nvme0", "nvme", None, source="pysmart"), witness)
    assert gaps == ["everything (pySMART read no SMART data)"] and merged.nvme == witness.nvme
    merged, gaps = merge_reports(None, witness)
    assert gaps and merged is witness


def test_scan_lists_drives_behind_raid_with_their_type():
    entries = parse_scan((DATA / "scan" / "linux_multiple_devices.txt").read_text().splitlines())
    assert [(e.name, e.dev_type, e.behind_raid) for e in entries] == [
        ("/dev/nvme0", "nvme", False), ("/dev/nvme1", "nvme", False), ("/dev/bus/0", "sat+megaraid,60", True)]
    assert parse_scan(["# /dev/sdb -d usbcypress # /dev/sdb [USB Cypress], failed: Unknown USB bridge", ""]) == []


def test_no_smart_reason_comes_from_smartctl():
    vm = {"smartctl": {"exit_status": 1, "messages": [{"string": "/dev/vda: Unable to detect device type",
                                                       "severity": "error"}]}, "device": {}}
    assert "Unable to detect device type" in smart_absent_reason(report_from_json(vm))
    denied = {"smartctl": {"exit_status": 2, "messages": [{"string": "Smartctl open device: /dev/sda failed: "
                                                                     "Permission denied"}]}, "device": {}}
    assert "may not open it here" in smart_absent_reason(report_from_json(denied))  # said, never a pass
    assert smart_absent_reason(report_from_json({"smartctl": {"exit_status": 4}, "device": {}})) is None


def test_garbage_files_are_errors_not_passes(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n")
    other = tmp_path / "other.json"
    other.write_text('{"a": 1}')
    missing = tmp_path / "missing.json"
    results = judge_reports([str(junk), str(other), str(missing)])
    assert [r.verdict for r in results] == [Verdict.ERROR] * 3
    assert "not a smartctl report" in results[0].reason and "cannot read" in results[2].reason


def test_pysmart_import_leaves_the_process_as_it_was():
    import subprocess
    import sys
    code = ("import logging, os; os.environ['LANG']='de_DE.UTF-8'; cls = logging.getLoggerClass();"
            "from burnin.tools import smart; smart.pysmart();"
            "print(os.environ['LANG'], logging.getLoggerClass() is cls)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["de_DE.UTF-8", "True"]
