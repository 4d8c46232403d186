"""The runner through the CLI: isolation of modules, deadlines, verdict folding, interruption."""

import json
import os
import signal
import threading
import time

import psutil
import pytest
from click.testing import CliRunner

from burnin.cli import main
from burnin.journal import read
from burnin.testing import wait_for
from fake_modules import (Dies, Fails, Hangs, Healthy, Raises, Skips, StressWithChild, Unavailable)


@pytest.fixture
def profile(tmp_path):
    def make(text='duration = "2s"\nstop_grace = "1s"\n'):
        path = tmp_path / "p.toml"
        path.write_text(text)
        return str(path)
    return make


def invoke(tmp_path, *args):
    journal = tmp_path / f"journal-{len(list(tmp_path.glob('journal-*')))}.jsonl"
    result = CliRunner().invoke(main, [*args, "--journal", str(journal), "--json"])
    out = json.loads(result.stdout) if result.stdout.strip().startswith("{") else None
    return result, out, journal


def test_raising_and_hanging_modules_are_errors_and_the_others_go_on(tmp_path, fake_registry, profile):
    fake_registry(Healthy, Raises, Hangs, Dies)
    started = time.monotonic()
    result, out, journal = invoke(tmp_path, "run", "--profile", profile())
    elapsed = time.monotonic() - started
    assert result.exit_code == 3, result.output
    assert out["modules"] == {"healthy": "PASS", "raises": "ERROR", "hangs": "ERROR", "dies": "ERROR"}
    reasons = read(journal).of_type("module_end")
    by_name = {r["module"]: r["reason"] for r in reasons}
    assert "RuntimeError: sensor bus exploded" in by_name["raises"]
    assert "hung" in by_name["hangs"] and "killed" in by_name["hangs"]
    assert "SIGKILL" in by_name["dies"]
    assert elapsed < 10  # 2 s of run + 1 s grace + start/stop; a hang must not stall the run
    samples = read(journal).of_type("sample")
    assert samples and all(s["module"] == "healthy" for s in samples)


def test_fail_finding_makes_the_run_fail_with_exit_1(tmp_path, fake_registry, profile):
    fake_registry(Healthy, Fails)
    result, out, _ = invoke(tmp_path, "run", "--profile", profile())
    assert result.exit_code == 1
    assert out["verdict"] == "FAIL"
    fail = [f for f in out["findings"] if f["severity"] == "fail"]
    assert fail[0]["component"] == "dimm:P1-DIMMA1"
    assert "DIMM P1-DIMMA1 is not detected" in result.stderr  # the verdict block names it


def test_run_where_every_module_skips_is_error_not_pass(tmp_path, fake_registry, profile):
    fake_registry(Unavailable, Skips)
    result, out, _ = invoke(tmp_path, "run", "--profile", profile())
    assert result.exit_code == 3
    assert out["verdict"] == "ERROR"
    assert out["modules"] == {"unavailable": "SKIP", "skips": "SKIP"}
    assert "nothing was tested" in out["reason"]


def test_required_module_that_skips_makes_the_run_error(tmp_path, fake_registry, profile):
    fake_registry(Healthy, Skips)
    result, out, _ = invoke(tmp_path, "run", "--profile",
                            profile('duration = "1s"\nrequired = ["skips"]\n'))
    assert result.exit_code == 3
    assert out["verdict"] == "ERROR" and "skips" in out["reason"]


def test_optional_module_that_skips_leaves_a_pass(tmp_path, fake_registry, profile):
    fake_registry(Healthy, Unavailable)
    result, out, _ = invoke(tmp_path, "run", "--profile", profile('duration = "1s"\n'))
    assert result.exit_code == 0, result.output
    assert out["verdict"] == "PASS"
    assert out["modules"]["unavailable"] == "SKIP"


def test_check_runs_no_stress_phase(tmp_path, fake_registry, profile):
    fake_registry(Healthy, StressWithChild)
    started = time.monotonic()
    result, out, journal = invoke(tmp_path, "check", "--profile", profile('duration = "1h"\n'))
    assert time.monotonic() - started < 10
    assert out["modules"]["stresschild"] == "SKIP"
    assert out["modules"]["healthy"] == "PASS"
    assert not read(journal).of_type("sample")


def test_sysroot_skips_stress_modules_and_judges_the_capture(tmp_path, fake_registry, profile):
    fake_registry(Healthy, StressWithChild)
    (tmp_path / "capture" / "sys").mkdir(parents=True)
    result, out, journal = invoke(tmp_path, "run", "--profile", profile('duration = "1h"\n'),
                                  "--sysroot", str(tmp_path / "capture"))
    assert out["modules"] == {"healthy": "PASS", "stresschild": "SKIP"}
    end = {r["module"]: r for r in read(journal).of_type("module_end")}
    assert "captured tree" in end["stresschild"]["reason"] and end["stresschild"]["applicable"] is False


def test_only_and_skip_select_modules_and_unknown_names_are_usage_errors(tmp_path, fake_registry, profile):
    fake_registry(Healthy, Fails)
    result, out, _ = invoke(tmp_path, "check", "--profile", profile(), "--only", "healthy")
    assert list(out["modules"]) == ["healthy"]
    result, out, _ = invoke(tmp_path, "check", "--profile", profile(), "--skip", "fails")
    assert list(out["modules"]) == ["healthy"]
    result = CliRunner().invoke(main, ["check", "--profile", profile(), "--only", "nosuch"])
    assert result.exit_code == 2
    assert "unknown module 'nosuch'" in result.stderr and "Traceback" not in result.output


def test_sigint_stops_the_run_records_it_and_exits_130(tmp_path, fake_registry, profile):
    fake_registry(Healthy, StressWithChild)
    pidfile = tmp_path / "pids"
    text = f'duration = "1h"\nstop_grace = "2s"\n[settings.stresschild]\npidfile = "{pidfile}"\n'

    def interrupt():
        # Interrupt once the stress module runs and its tool is started (both pids written).
        wait_for(lambda: pidfile.exists() and len(pidfile.read_text().split()) == 2, timeout=20,
                 what="the stress module starting its tool")
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    started = time.monotonic()
    result, out, journal = invoke(tmp_path, "run", "--profile", profile(text))
    assert time.monotonic() - started < 20
    assert result.exit_code == 130, result.output
    assert out["verdict"] == "INCOMPLETE"
    end = read(journal).first("run_end")
    assert end["interrupted"] == "SIGINT"
    module_pid, tool_pid = map(int, pidfile.read_text().split())
    for pid in (module_pid, tool_pid):
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_module_settings_from_the_profile_reach_the_module(tmp_path, fake_registry, profile):
    fake_registry(Healthy)
    result, out, journal = invoke(tmp_path, "run", "--profile",
                                  profile('duration = "1s"\n[settings.healthy]\ninterval_s = 0.5\n'))
    start = read(journal).first("run_start")
    assert start["profile"]["settings"]["modules_settings"] == {"healthy": {"interval_s": 0.5}}
    assert 1 <= len(read(journal).of_type("sample")) <= 3  # 1 s at one sample per 0.5 s


class _SaysItsGrace(Healthy):
    name = "grace"

    def check(self, ctx):
        ctx.note("grace", stop_grace_s=ctx.stop_grace_s)


def test_the_profile_stop_grace_reaches_each_phase_and_its_loads(tmp_path, fake_registry, profile):
    fake_registry(_SaysItsGrace)
    invoke(tmp_path, "check", "--profile", profile('duration = "1s"\nstop_grace = "3s"\n'))
    [journal] = tmp_path.glob("journal-*.jsonl")
    [note] = [r for r in read(journal).of_type("note") if r.get("message") == "grace"]
    assert note["data"]["stop_grace_s"] == 3.0
