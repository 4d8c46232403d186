"""The CLI surface: modules, profiles, report, --version, and a start-up path free of heavy imports."""

import json
import subprocess
import sys

from click.testing import CliRunner

from burnin import __version__
from burnin.cli import main
from fake_modules import Fails, Healthy, Unavailable


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_every_command_has_help():
    for command in ("run", "check", "modules", "profiles", "report"):
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0, command
        assert "Usage: main " + command in result.output or f"Usage: burnin {command}" in result.output
    assert "Exit codes: 0 PASS" in CliRunner().invoke(main, ["run", "--help"]).output


def test_help_path_imports_nothing_heavy():
    # `burnin --help` must answer at once: no runner, psutil, pySMART or cpuinfo on that path.
    code = ("import sys; from burnin.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('burnin.runner', 'psutil', 'pySMART', 'cpuinfo', 'pyudev', 'rich', "
            "'multiprocessing', 'burnin.modules.thermal') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_modules_lists_availability_and_reason(fake_registry, monkeypatch):
    from burnin.registry import Registered

    monkeypatch.setattr("burnin.registry.discover", lambda: [
        Registered("healthy", Healthy), Registered("unavailable", Unavailable),
        Registered("broken", None, "cannot load thirdparty.mod:Broken: ImportError: nope")])
    result = CliRunner().invoke(main, ["modules", "--json"])
    rows = {r["name"]: r for r in json.loads(result.stdout)["modules"]}
    assert rows["healthy"]["available"] is True
    assert rows["unavailable"]["available"] is False
    assert rows["unavailable"]["reason"] == "no such hardware on this host"
    assert "ImportError" in rows["broken"]["reason"] and rows["broken"]["available"] is False
    text = CliRunner().invoke(main, ["modules"]).output
    assert "why: no such hardware on this host" in text


def test_real_registry_lists_the_builtin_modules():
    result = CliRunner().invoke(main, ["modules", "--json"])
    assert result.exit_code == 0
    names = [r["name"] for r in json.loads(result.stdout)["modules"]]
    assert "thermal" in names


def test_profiles_lists_builtins_with_duration_and_modules():
    result = CliRunner().invoke(main, ["profiles", "--json"])
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.stdout)["profiles"]}
    assert rows["seller"]["duration_s"] == 1800
    assert "thermal" in rows["seller"]["modules"]
    assert rows["soak"]["duration_s"] == 86400


def test_report_reproduces_the_verdict_of_the_run_and_writes_junit(tmp_path, fake_registry):
    fake_registry(Healthy, Fails)
    profile = tmp_path / "p.toml"
    profile.write_text('duration = "1s"\n')
    journal = tmp_path / "j.jsonl"
    run = CliRunner().invoke(main, ["run", "--profile", str(profile), "--journal", str(journal), "--json"])
    assert run.exit_code == 1
    report = CliRunner().invoke(main, ["report", str(journal), "--json", "--junit", str(tmp_path / "r.xml")])
    assert report.exit_code == 1
    assert json.loads(report.stdout)["verdict"] == json.loads(run.stdout)["verdict"] == "FAIL"
    assert json.loads(report.stdout)["modules"] == json.loads(run.stdout)["modules"]
    import xml.etree.ElementTree as ET

    suite = ET.parse(tmp_path / "r.xml").getroot()
    assert suite.get("failures") == "2"  # the module and its finding
    failure = suite.find(".//testcase[@name='dimm-missing dimm:P1-DIMMA1']/failure")
    assert failure is not None and "not detected" in failure.get("message")
    human = CliRunner().invoke(main, ["report", str(journal)])
    assert "VERDICT: FAIL" in human.stdout and "dimm:P1-DIMMA1" in human.stdout
    assert all(len(line) <= 80 for line in human.stdout.splitlines())


def test_report_on_a_missing_or_foreign_file_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(main, ["report", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2 and "cannot read journal" in result.stderr
    other = tmp_path / "other.txt"
    other.write_text("hello\n")
    result = CliRunner().invoke(main, ["report", str(other)])
    assert result.exit_code == 2 and "not a burnin journal" in result.stderr


def test_python_dash_m_burnin_works():
    out = subprocess.run([sys.executable, "-m", "burnin", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout


def test_smart_judges_saved_reports_with_run_exit_codes(data_dir):
    failing = str(data_dir / "smart/json/SEAGATE_ST373453LC_26.json")  # grown defects 260, 536 uncorrected
    healthy = [str(p) for p in sorted((data_dir / "smart/json").glob("nvme-null-INTEL*.json"))[:2]]
    result = CliRunner().invoke(main, ["smart", failing, *healthy, "--json"])
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["verdict"] == "FAIL"
    assert [r["verdict"] for r in out["reports"]] == ["FAIL", "PASS", "PASS"]
    assert CliRunner().invoke(main, ["smart", *healthy]).exit_code == 0
    missing = CliRunner().invoke(main, ["smart", "/nonexistent/report.json"])
    assert missing.exit_code == 2 and "Traceback" not in missing.output
