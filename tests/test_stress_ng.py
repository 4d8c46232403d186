"""The stress-ng adapter against real stress-ng 0.15.06 output (tests/data/stress-ng/, see SOURCE.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from burnin.tools import stress_ng

DATA = Path(__file__).parent / "data" / "stress-ng"


def captured(case: str) -> stress_ng.Outcome:
    yaml = DATA / f"{case}.yaml"
    return stress_ng.parse_outcome(
        int((DATA / f"{case}.rc").read_text()),
        (DATA / f"{case}.stderr").read_text(),
        yaml_text=yaml.read_text() if yaml.exists() else None,
    )


def test_cpu_argv_pins_one_verified_stressor_per_listed_cpu():
    argv = stress_ng.cpu_argv([3], 60, "/tmp/x/cpu3.yaml", "/tmp/x", program="/usr/bin/stress-ng")
    assert argv == [
        "/usr/bin/stress-ng", "--cpu", "1", "--cpu-method", "all", "--verify", "--taskset", "3",
        "--timeout", "60s", "--metrics-brief", "--yaml", "/tmp/x/cpu3.yaml", "--temp-path", "/tmp/x", "-v",
    ]
    assert stress_ng.cpu_argv([0, 1, 2], 0.4, "y", "t")[1:3] == ["--cpu", "3"]
    assert "0,1,2" in stress_ng.cpu_argv([0, 1, 2], 0.4, "y", "t")
    assert "1s" in stress_ng.cpu_argv([0], 0.4, "y", "t")  # never a zero timeout (stress-ng: run forever)


def test_captured_argv_is_what_the_adapter_builds():
    recorded = (DATA / "ok.argv").read_text().split()
    built = stress_ng.cpu_argv([1], 3, recorded[recorded.index("--yaml") + 1], "/tmp")
    assert built == recorded


def test_healthy_run_is_a_success_with_metrics_from_yaml():
    out = captured("ok")
    assert (out.returncode, out.status) == (0, "success")
    assert out.completed and out.workers_invoked
    assert out.fail_lines == () and out.deaths == () and out.skipped == ()
    assert out.bogo_ops == 2989
    assert out.metrics[0].stressor == "cpu" and out.metrics[0].real_time_s == pytest.approx(3.0, abs=0.05)
    # the --metrics-brief table in the log says the same, for runs without a YAML file
    from_log = stress_ng.parse_metrics_brief(stress_ng.parse_log((DATA / "ok.stderr").read_text()))
    assert [(m.stressor, m.bogo_ops) for m in from_log] == [("cpu", 2989)]


def test_wrong_result_is_a_verification_failure_and_the_abort_a_death():
    out = captured("bitflip")
    assert (out.returncode, out.status) == (2, "stressor-failed")
    assert out.verification_failures == ("cpu: queens solution error detected on board size 11",)
    assert len(out.metrics_failures) == 3 and all("bogo-ops" in f or "metrics" in f for f in out.metrics_failures)
    assert [(d.stressor, d.signal, d.signal_name) for d in out.deaths] == [("cpu", 6, "Aborted")]


def test_segfaulted_stressor_is_a_death_not_a_verification_failure():
    out = captured("segv")
    assert out.returncode == 2
    assert out.verification_failures == ()
    assert out.metrics_failures  # what stress-ng 0.15 prints without -v: only corrupted metrics
    assert [(d.signal, d.signal_name) for d in out.deaths] == [(11, "Segmentation fault")]


def test_sigint_to_stress_ng_ends_it_cleanly_with_metrics():
    out = captured("interrupted")
    assert (out.returncode, out.status) == (0, "success")
    assert out.completed and out.fail_lines == ()
    assert out.bogo_ops == 1283


def test_bad_option_is_an_error():
    out = captured("bad-method")
    assert (out.returncode, out.status) == (1, "error")
    assert not out.completed


def test_missing_resources_name_the_skipped_stressor():
    out = captured("no-resources")
    assert (out.returncode, out.status) == (3, "no-resources")
    assert any("skipping stressor" in s for s in out.skipped)
    assert any("out of system resources" in w for w in out.warn_lines)


def test_unsupported_stressor_exits_zero_but_nothing_ran():
    out = captured("unsupported")
    assert out.returncode == 0
    assert not out.workers_invoked
    assert any("will be skipped" in s for s in out.skipped)
    assert out.error_lines == ("No stress workers invoked (one or more were unsupported)",)


def test_every_documented_exit_code_has_a_name_and_the_man_page_meaning():
    text = (DATA / "exit-status.txt").read_text()
    documented = {int(m.group(1)): m.group(2) for m in re.finditer(r"^\s+(\d)\s+(\S[^\n]*)", text, re.M)}
    assert sorted(documented) == list(range(8))
    for code, first_words in documented.items():
        name, meaning = stress_ng.exit_status(code)
        assert name == stress_ng.EXIT_CODES[code][0]
        assert meaning.split()[0].rstrip(";.") == first_words.split()[0].rstrip(";.")
        assert stress_ng.parse_outcome(code, "").status == name


@pytest.mark.parametrize(
    "returncode, status",
    [(None, "not-run"), (-9, "signalled"), (-2, "signalled"), (42, "unknown-exit")],
)
def test_exit_codes_outside_the_documented_set_are_named_not_guessed(returncode, status):
    assert stress_ng.parse_outcome(returncode, "").status == status


def test_log_lines_without_the_stress_ng_prefix_are_ignored():
    lines = stress_ng.parse_log((DATA / "bitflip.stderr").read_text())
    assert all(line.level in {"info", "fail", "error", "warn", "debug", "metrc"} for line in lines)
    assert not any("Stack overflow" in line.text for line in lines)


def test_cpu_program_writes_its_yaml_into_the_scratch_directory_and_parses_the_end(tmp_path):
    from burnin.load import Ended

    program = stress_ng.cpu_program(3, 60, program="/usr/bin/stress-ng")
    argv = program.argv_for(str(tmp_path))
    assert argv == stress_ng.cpu_argv([3], 60, f"{tmp_path}/metrics.yaml", str(tmp_path), program="/usr/bin/stress-ng")
    (tmp_path / "metrics.yaml").write_text((DATA / "bitflip.yaml").read_text())
    end = Ended(int((DATA / "bitflip.rc").read_text()), "", (DATA / "bitflip.stderr").read_text(), str(tmp_path), 5.0)
    assert program.parse(end) == captured("bitflip")
    assert program.parse(end).verification_failures and program.parse(end).metrics
