"""Coverage is part of the verdict: what was NOT tested is named, in a buyer's words, on every output."""

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from burnin.cli import main
from fake_modules import Healthy, Skips

CAPTURE = Path(__file__).parent / "data" / "sysfs" / "procfs"


def _outputs(tmp_path, journal):
    text = CliRunner().invoke(main, ["report", str(journal), "--html", str(tmp_path / "r.html")]).stdout
    data = json.loads(CliRunner().invoke(main, ["report", str(journal), "--json"]).stdout)
    return text, data, (tmp_path / "r.html").read_text()


def test_a_pass_with_skipped_areas_never_reads_as_everything_tested(tmp_path, fake_registry):
    fake_registry(Healthy, Skips)
    profile = tmp_path / "p.toml"
    profile.write_text('duration = "1s"\nplain = true\n')
    journal = tmp_path / "j.jsonl"
    result = CliRunner().invoke(main, ["run", "--profile", str(profile), "--journal", str(journal)])
    assert result.exit_code == 0, result.output
    text, data, html = _outputs(tmp_path, journal)
    assert data["verdict"] == "PASS"
    assert [u["module"] for u in data["untested"]] == ["skips"]
    for output in (text, html, result.stderr):
        assert "everything tested" not in output and "no faults found" not in output
        assert "1 area(s) NOT tested" in output
    box = text.rstrip().splitlines()[-4:]  # the verdict box closes the output: the last screen shows it
    assert box[-1].startswith("+=") and any("NOT tested: skips" in line for line in box)


def test_a_pass_that_tested_everything_says_so(tmp_path, fake_registry):
    fake_registry(Healthy)
    profile = tmp_path / "p.toml"
    profile.write_text('duration = "1s"\nplain = true\n')
    journal = tmp_path / "j.jsonl"
    assert CliRunner().invoke(main, ["run", "--profile", str(profile), "--journal", str(journal)]).exit_code == 0
    text, data, html = _outputs(tmp_path, journal)
    assert data["untested"] == []
    assert "VERDICT: PASS - everything tested, no faults found" in text
    assert "everything tested, no faults found" in html


def test_a_left_out_module_is_named_as_not_run(tmp_path, fake_registry):
    fake_registry(Healthy, Skips)
    journal = tmp_path / "j.jsonl"
    profile = tmp_path / "p.toml"
    profile.write_text('duration = "1s"\nplain = true\n')
    CliRunner().invoke(main, ["run", "--profile", str(profile), "--only", "healthy", "--journal", str(journal)])
    text, data, _ = _outputs(tmp_path, journal)
    assert data["untested"] == [{"module": "skips", "area": "skips", "verdict": "not run",
                                 "reason": "left out of this run"}]
    assert re.search(r"^ skips +not run +left out of this run$", text, re.M)  # a row above the box says why
    CliRunner().invoke(main, ["report", str(journal), "--junit", str(tmp_path / "r.xml")])
    import xml.etree.ElementTree as ET

    suite = ET.parse(tmp_path / "r.xml").getroot()
    skipped = suite.find("testcase[@name='skips']/skipped")
    assert skipped is not None and "left out of this run" in skipped.get("message")
    assert suite.get("skipped") == "1"


def test_a_capture_is_judged_without_an_error_for_the_stress_modules(tmp_path):
    journal = tmp_path / "j.jsonl"
    result = CliRunner().invoke(main, ["check", "--sysroot", str(CAPTURE), "--journal", str(journal), "--json",
                                       "--plain"])
    data = json.loads(result.stdout)
    assert data["verdict"] != "ERROR" and result.exit_code != 3, data["reason"]
    untested = {u["module"]: u for u in data["untested"]}
    assert untested["cpu"]["verdict"] == "not applicable"
    assert "captured tree" in untested["cpu"]["reason"]
    assert untested["thermal"]["area"] == "temperatures and fans" and untested["thermal"]["verdict"] == "SKIP"
    assert "NOT tested:" in result.stderr and "temperatures and fans" in result.stderr


def test_the_verdict_box_is_coloured_on_a_terminal_and_is_the_last_screen(tmp_path):
    """`burnin report` in a real 80x25 tmux pane (TERM=linux): the verdict box is on the last screen, coloured."""
    journal = tmp_path / "j.jsonl"
    CliRunner().invoke(main, ["check", "--sysroot", str(CAPTURE), "--journal", str(journal), "--plain"])
    session = f"burnin-cov-{time.monotonic_ns()}"
    command = f"TERM=linux {sys.executable} -m burnin report {journal}; echo DONE-$?; sleep 30"
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "25", command], check=True)
    try:
        screen = ""
        give_up = time.monotonic() + 30
        while "DONE-" not in screen and time.monotonic() < give_up:
            screen = subprocess.run(["tmux", "capture-pane", "-p", "-e", "-t", session], capture_output=True,
                                    text=True).stdout
            time.sleep(0.05)  # poll interval of the wait above
        assert "DONE-0" in screen
        assert "VERDICT: PASS - no faults in what was tested" in screen
        assert re.search(r"\x1b\[(?:\d+;)*32m\+=+\+", screen)  # the box in green: a PASS, painted
        assert "NOT tested:" in screen and "Journal:" in screen
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def test_a_capture_with_a_stopped_fan_and_uncorrected_ecc_errors_fails_on_both(tmp_path):
    """The capture of a machine whose fan stopped and whose DIMM logged uncorrected errors: `check --sysroot` FAILs
    naming both parts, and the stress modules are not applicable, not an ERROR that hides the failures."""
    tree = tmp_path / "capture"
    data = Path(__file__).parent / "data"
    for part in (CAPTURE, data / "thermal" / "dual-socket-fan-stopped", data / "edac" / "s2600kpr-sb_edac"):
        shutil.copytree(part, tree, symlinks=True, dirs_exist_ok=True)
    # The EDAC tree is a real one with corrected errors; the uncorrected ones are raised here (tests/data/edac).
    (tree / "sys/devices/system/edac/mc/mc0/dimm0/dimm_ue_count").write_text("2\n")
    journal = tmp_path / "j.jsonl"
    result = CliRunner().invoke(main, ["check", "--sysroot", str(tree), "--journal", str(journal), "--json",
                                       "--plain"])
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and data["verdict"] == "FAIL", data["reason"]
    fails = {(f["module"], f["component"]) for f in data["findings"] if f["severity"] == "fail"}
    assert ("thermal", "fan:nct6779/fan2") in fails
    assert ("memory", "dimm:CPU_SrcID#0_Ha#0_Chan#0_DIMM#0") in fails
    assert data["modules"]["memory"] == "FAIL"
    untested = {u["module"]: u["verdict"] for u in data["untested"]}
    assert untested["cpu"] == "not applicable" and "memory" not in untested
