"""The stick's last screen and its index of runs (scripts/live/overlay/usr/local/sbin/burnin-live), without booting:
a large verdict box with the top findings, the areas NOT tested and where the results are, in 80x25 ASCII; an
index.html of every run on the stick. The boot itself shows the same box (test_live_image.py, marker `live`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from burnin.journal import JournalWriter
from test_live_menu import live

T0 = 1_764_660_000.0  # 2025-12-02 07:20:00 UTC

# What `burnin report --json` says of a capture with a stopped fan and uncorrected ECC errors on which disk health,
# temperatures of the BMC and PCIe were not tested (the fields verdict_screen reads).
SUMMARY = {
    "verdict": "FAIL", "reason": "failed: memory, thermal",
    "findings": [
        {"severity": "fail", "component": "fan:nct6779/fan2", "message": "fan2 stopped: 0 RPM (minimum 600 RPM)."},
        {"severity": "fail", "component": "dimm:DIMM_A1", "message": "DIMM_A1 reported 2 uncorrected ECC errors."},
        {"severity": "info", "component": "thermal", "message": "Closest to its limit: the package."},
    ],
    "untested": [
        {"module": "disk", "area": "disk health and surface (SMART, read scan)", "verdict": "SKIP",
         "reason": "SMART: smartctl is not installed"},
        {"module": "bmc", "area": "the BMC's event log and sensors", "verdict": "SKIP", "reason": "no BMC"},
        {"module": "pcie", "area": "PCIe links and errors", "verdict": "SKIP", "reason": "no PCIe links"},
    ],
}


def test_the_verdict_screen_fits_an_80x25_console_with_the_top_failure_and_what_was_not_tested():
    box = live.verdict_screen("FAIL", SUMMARY, "on the BURNIN stick: runs/7XK2Q53_20251202T072000Z/report.html",
                              "Dell Inc. PowerEdge R640, S/N 7XK2Q53", T0 + 1800)
    assert len(box) <= 23 and all(len(line) == 80 for line in box)
    assert all(ord(ch) < 128 for line in box for ch in line), "ASCII: the Linux console and serial consoles"
    text = "\n".join(box)
    assert "#####" in text, "the verdict in large letters"
    assert "| FAIL - faults found" in text
    assert "FAIL fan:nct6779/fan2: fan2 stopped" in text and "FAIL dimm:DIMM_A1" in text
    assert "Closest to its limit" not in text, "information is not a finding to show here"
    flat = " ".join(line.strip("| ") for line in box)
    assert "NOT tested: disk health and surface (SMART, read scan) (SMART: smartctl is not installed)" in flat
    assert "runs/7XK2Q53_20251202T072000Z/report.html" in text
    assert "finished 2025-12-02 07:50:00 UTC" in text


def test_a_pass_with_untested_areas_never_reads_as_everything_tested():
    box = "\n".join(live.verdict_screen("PASS", {"findings": [], "untested": SUMMARY["untested"]}, "x", "m", T0))
    assert "PASS - no faults in what was tested; 3 area(s) NOT tested" in box
    assert "everything tested" not in box and "tested, no faults found" not in box
    full = "\n".join(live.verdict_screen("PASS", {"findings": [], "untested": []}, "x", "m", T0))
    assert "PASS - everything tested, no faults found" in full


def test_an_unreadable_summary_still_shows_the_verdict():
    box = live.verdict_screen("ERROR", None, "IN RAM ONLY (lost at power-off): runs/x", "m", T0)
    assert "ERROR - some parts could not be tested" in "\n".join(box)


def test_the_hold_before_an_unattended_power_off_is_60_s_unless_the_command_line_says():
    assert live.settings_from("boot=live burnin.poweroff=1").hold_s == 60
    assert live.settings_from("boot=live burnin.poweroff=1 burnin.hold=90").hold_s == 90
    assert live.settings_from("boot=live burnin.hold=x").hold_s == 60


def _journal(folder: Path, serial: str, t: float, verdict: str | None) -> None:
    folder.mkdir(parents=True)
    writer = JournalWriter(folder / live.JOURNAL_NAME)
    writer.write("run_start", schema=1, run_id=serial, t=t, profile={"name": "seller"},
                 host={"system_vendor": "Dell Inc.", "system_product": "PowerEdge R640", "system_serial": serial},
                 modules=["thermal"])
    if verdict:
        writer.write("run_end", verdict=verdict, reason="", modules={}, counts={}, duration_s=1800.0,
                     interrupted=None, t=t + 1800)
    writer.close()
    if verdict:
        (folder / "report.html").write_text("<html></html>")


def test_the_stick_index_lists_every_run_with_machine_serial_date_and_verdict(tmp_path):
    runs = tmp_path / "runs"
    _journal(runs / "7XK2Q53_20251202T072000Z", "7XK2Q53", T0, "FAIL")
    _journal(runs / "CZ2<b>X_20251203T080000Z", "CZ2<b>X", T0 + 86400, None)  # hung: no run_end
    (runs / "ABC_20251204T090000Z").mkdir()
    (runs / "ABC_20251204T090000Z/inventory.txt").write_text("System ...\n")
    rows = live.run_rows(tmp_path)
    assert [r["verdict"] for r in rows] == ["inventory only", "FAIL (did not finish)", "FAIL"]
    page = live.index_html(rows)
    assert "2025-12-02 07:20:00 UTC" in page and "started (UTC)" in page
    assert "Dell Inc. PowerEdge R640" in page and "7XK2Q53" in page
    assert 'href="runs/7XK2Q53_20251202T072000Z/report.html"' in page
    assert "CZ2&lt;b&gt;X" in page and "<b>X" not in page, "strings from hardware are data"
    assert page.count("<tr>") == 4


def test_burnin_runs_in_the_run_folder_with_relative_paths():
    source = live.Live.run_burnin.__code__.co_consts
    assert "--journal" in source and "report.html" in source
    text = Path(live.__file__).read_text()
    assert '"--journal", JOURNAL_NAME' in text, "the journal path is relative to the run folder"


def test_report_json_of_a_real_journal_feeds_the_verdict_screen(tmp_path):
    # burnin's own `report --json` (the live program reads exactly this) on a run with a FAIL.
    folder = tmp_path / "run"
    _journal(folder, "7XK2Q53", T0, None)
    with open(folder / live.JOURNAL_NAME, "a") as stream:
        stream.write(json.dumps({"type": "finding", "t": T0 + 5, "seq": 9, "module": "thermal", "severity": "fail",
                                 "component": "fan:nct6779/fan2", "code": "fan-stopped",
                                 "message": "fan2 stopped.", "evidence": {}}) + "\n")
    out = subprocess.run([sys.executable, "-m", "burnin", "report", live.JOURNAL_NAME, "--json"], cwd=folder,
                         capture_output=True, text=True)
    summary = json.loads(out.stdout)
    assert summary["journal"] == live.JOURNAL_NAME, "the journal named as the run folder holds it"
    box = "\n".join(live.verdict_screen(summary["verdict"], summary, "x", "m", T0))
    assert "FAIL fan:nct6779/fan2: fan2 stopped." in box


def test_the_initrd_addition_is_a_newc_archive_of_the_progress_script(tmp_path):
    # scripts/build-live-image appends this archive to the base's initrd; the kernel reads the "newc" format.
    import gzip

    root = Path(__file__).resolve().parents[2] / "scripts/live"
    out = subprocess.run([sys.executable, str(root / "initrd-append"), str(root / "initrd")], capture_output=True,
                         check=True).stdout
    data = gzip.decompress(out)
    entries, at = [], 0
    while True:
        header = data[at:at + 110]
        assert header[:6] == b"070701"
        fields = [int(header[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name = data[at + 110:at + 110 + namesize - 1].decode()
        at += 110 + namesize
        at += -at % 4
        body = data[at:at + size]
        at += size + (-size % 4)
        if name == "TRAILER!!!":
            break
        entries.append((name, mode, body))
    assert [(n, oct(m)) for n, m, _ in entries] == [("lib/live/boot/9996-burnin-toram-progress", "0o100755")]
    script = tmp_path / "progress.sh"
    script.write_bytes(entries[0][2])
    assert subprocess.run(["sh", "-n", str(script)]).returncode == 0
    assert b"copying the system into RAM... %3d %%" in entries[0][2]
