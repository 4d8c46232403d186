"""Issue 17: nothing unseen is a pass, the drive database's quirks, drive provenance, and the wipe's HPA check."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from burnin.model import Severity, Verdict
from burnin.modules.disk import judge_reports, judge_smart
from burnin.modules.disk.destructive import certificate_verdict
from burnin.modules.disk.history import CONSISTENT, RESET, history_signals, unwrap_log_hours
from burnin.modules.disk.quirks import knowledge_of
from burnin.tools import drivedb
from burnin.tools.hdparm import parse_hpa
from burnin.tools.smart import read_saved_report, report_from_json

DATA = Path(__file__).parent / "data" / "smart"
SYN = DATA / "synthesized"
DRIVEDB = DATA / "drivedb" / "drivedb-7.3-5319.h"


@pytest.fixture(autouse=True)
def packaged_drivedb(monkeypatch):
    monkeypatch.setenv(drivedb.DRIVEDB_ENV, str(DRIVEDB))


def codes(findings, severities=("fail", "warn")):
    return {(f.severity.value, f.code) for f in findings if f.severity.value in severities}


def judged(path):
    [result] = judge_reports([str(path)])
    return result


# -- the drive database --------------------------------------------------------------------------
def test_drivedb_reader_quotes_the_maintainers_comment_on_the_mx500_preset():
    db = drivedb.load_drivedb()
    entry = db.match("CT500MX500SSD1", "M3CR023")
    assert entry.family == "Crucial/Micron Client SSDs"
    assert entry.preset(197).name == "Current_Pending_ECC_Cnt"
    assert "May flip 0 <> 1" in entry.preset(197).comment
    # two more database entries the judge applies: a firmware warning, and a log-hours firmware bug
    assert "There are known problems" in db.match("ST31500341AS", "SD15").warning
    assert "xerrorlba" in db.match("INTEL SSDSC2BB480G4", "D2010370").fixes


def test_mx500_197_flipping_to_1_is_discounted_with_the_database_quote_not_failed():
    result = judged(SYN / "mx500-197-flip.json")
    assert result.verdict is Verdict.PASS, result.reason
    [note] = [f for f in result.findings if f.code == "smart-quirk-discounted"]
    assert note.severity is Severity.INFO and note.evidence["attribute"] == 197
    assert "May flip 0 <> 1 (ticket #1227)" in note.message and "Crucial/Micron Client SSDs" in note.message


def test_mx500_197_far_above_1_still_warns_but_is_no_failure():
    result = judged(SYN / "mx500-197-twelve.json")
    assert result.verdict is Verdict.WARN
    assert codes(result.findings) == {("warn", "smart-pending-sectors")}


def test_a_drivedb_warning_about_bogus_raw_values_discounts_that_attribute():
    report = report_from_json(json.loads((SYN / "mx500-197-twelve.json").read_text()))
    # older drive databases (smartmontools 7.1) flagged the MX500 firmware with this warning instead
    old = replace(report, drivedb_warnings=("This firmware returns bogus raw values in attribute 197",))
    knowledge = knowledge_of(old, db=drivedb.DriveDb("none"))
    assert knowledge.quirks[197].kind == "bogus-raw"
    assert codes(judge_smart(old, "disk:x", knowledge=knowledge)) == set()


def test_firmware_log_bug_in_the_database_makes_log_history_unknown_not_reset():
    report, _ = read_saved_report(str(DATA / "text" / "megaraid_ph_sata_ssd_0.txt"))
    reset = replace(report, power_on_hours=10)
    assert codes(judge_smart(reset, "disk:x")) == set()
    [history] = [j for j in judge_smart(reset, "disk:x") if j.code == "drive-history"]
    assert history.evidence["signals"][0]["conclusion"] == "unknown" and "xerrorlba" in history.message


# -- nothing unseen is a pass --------------------------------------------------------------------
def test_every_corpus_report_lists_what_was_seen_and_not_seen():
    paths = sorted((DATA / "json").glob("*.json")) + sorted((DATA / "text").glob("*.txt"))
    for result in judge_reports([str(p) for p in paths]):
        assert any(f.code == "smart-seen" for f in result.findings), result.path


def test_a_blank_nvme_health_log_is_not_a_pass():
    result = judged(SYN / "nvme-blank-health-log.json")
    assert result.verdict is Verdict.WARN
    [warn] = [f for f in result.findings if f.code == "smart-not-reported"]
    assert warn.evidence["blank"] is True and "all zero" in warn.message


def test_nvme_behind_scsi_translation_says_what_is_hidden_and_worn_scsi_endurance_fails():
    result = judged(SYN / "nvme-behind-scsi-translation.json")
    assert result.verdict is Verdict.FAIL
    assert codes(result.findings) == {("warn", "smart-not-reported"), ("fail", "scsi-worn-out")}
    [warn] = [f for f in result.findings if f.code == "smart-not-reported"]
    assert "SCSI translation" in warn.message and warn.evidence["missing"] == ["error counters"]


def test_real_sas_report_reads_endurance_manufacture_date_and_background_scan_hours():
    report, _ = read_saved_report(str(DATA / "text" / "sas_ssd_0_issue_57__x.txt"))
    assert (report.scsi_endurance_used_pct, report.manufactured, report.start_stop_cycles,
            report.background_scan_power_on_minutes) == (0, "2021-W32", 892, 8762)
    [sas] = [s for s in history_signals(report) if s.name == "SAS logs"]
    assert sas.conclusion == CONSISTENT


# -- provenance ----------------------------------------------------------------------------------
def test_farm_head_hours_far_above_smart_flag_a_reset_and_a_forged_farm():
    reset = judged(SYN / "farm-smart-reset.json")
    assert ("warn", "smart-history-reset") in codes(reset.findings)
    forged = judged(SYN / "farm-forged.json")
    [f] = [f for f in forged.findings if f.code == "smart-history-forged"]
    assert "heads have flown" in f.message and f.evidence["evidence"]["farm_head_flight_hours"] > 40000
    consistent = judged(SYN / "farm-consistent.json")
    [history] = [f for f in consistent.findings if f.code == "drive-history"]
    assert history.evidence["conclusion"] == CONSISTENT


def test_a_self_test_log_that_wraps_at_65536_hours_is_not_flagged():
    report = report_from_json(json.loads((DATA / "json" / "sat-Toshiba_MG05ACA..._Enterprise_Capacity_HDD-"
                                                          "TOSHIBA_MG05ACA800E-sdw.json").read_text()))
    # the drive's real error log (16-bit stamps, as self-test stamps are), moved so that it spans the wrap
    stamps = [e.hours for e in report.error_log]
    assert len(stamps) > 1
    wrapped = replace(report, power_on_hours=65536 + 100, error_log=tuple(
        replace(e, hours=(h + 65536 + 100 - max(stamps)) % 65536) for e, h in zip(report.error_log, stamps)),
        self_tests=tuple(replace(t, hours=90) for t in report.self_tests))
    signals = history_signals(wrapped)
    [log] = [s for s in signals if s.name == "log hours"]
    assert log.conclusion == CONSISTENT and log.evidence["wrapped"]
    assert unwrap_log_hours([100, 65000], 65636) == [65636, 65000]
    assert [s.conclusion for s in history_signals(replace(report, power_on_hours=120))
            if s.name == "log hours"] == [RESET]


# -- the wipe certificate's hidden-area check ----------------------------------------------------
def test_hpa_hiding_sectors_gets_no_wiped_certificate():
    hpa = parse_hpa((SYN / "hdparm-N-hpa-enabled.txt").read_text())
    assert (hpa.visible_sectors, hpa.native_sectors, hpa.hidden_sectors, hpa.enabled) == (976771055, 976773168,
                                                                                          2113, True)
    ok, state = certificate_verdict(hpa, "")
    assert not ok and "2113 sectors hidden" in state
    assert certificate_verdict(parse_hpa((SYN / "hdparm-N-hpa-disabled.txt").read_text()), "")[0]
    assert parse_hpa((SYN / "hdparm-N-bad-sense.txt").read_text()) is None
    ok, state = certificate_verdict(None, "hdparm -N gave no answer")
    assert ok and state.startswith("not read")


def test_wipe_certificate_page_prints_each_drive_and_refuses_wiped_for_a_hidden_area(tmp_path):
    from burnin.report.wipe_certificate import certificate_html, certificates

    records = [{"type": "note", "message": "wipe-certificate",
                "data": {"serial": "S1<b>", "device": "/dev/sdb", "model": "M", "method": "overwrite with zeros, 1 pass",
                         "bytes": 10, "verified": "full", "hpa": "HPA disabled (20 sectors, all visible)",
                         "result": "wiped"}},
               {"type": "note", "message": "wipe-certificate",
                "data": {"serial": "S2", "device": "/dev/sdc", "hpa": "HPA enabled: 2113 sectors hidden",
                         "result": "NOT WIPED: hidden area"}},
               {"type": "note", "message": "other", "data": {}}]
    page = certificate_html(certificates(records), host="h1")
    assert page.count("<section") == 2 and "NOT WIPED: hidden area" in page and "2113 sectors hidden" in page
    assert "S1&lt;b&gt;" in page and "<b>" not in page.split("<body>")[1].replace("<h", "")
    assert "<script" not in page


def test_a_real_drivedb_warning_printed_by_smartctl_is_a_warning_quoted_once():
    result = judged(DATA / "text-issue17" / "seagate_7200.11_drivedb_warning.txt")
    warnings = [f for f in result.findings if f.code == "smart-drivedb-warning"]
    assert len(warnings) == 1 and warnings[0].severity is Severity.WARN
    assert "There are known problems with these drives" in warnings[0].evidence["warning"]
    assert ("warn", "smart-reallocated-sectors") in codes(result.findings)  # 3 reallocated sectors, real
