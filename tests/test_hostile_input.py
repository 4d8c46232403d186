"""Issue 20's concrete cases, each a regression test: wrong-typed journals and smartctl reports, NaN and infinite
durations, unbounded reads, FIFOs, links out of a captured tree, deep TOML, long extends chains, a zero-second
run, and a crash anywhere: one line and a documented exit code each, never a traceback, never exit 1 from a crash.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from burnin.cli import main
from burnin.host import Host

DATA = Path(__file__).parent / "data"


def _cli(args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output and "internal error" not in result.stderr, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


@pytest.fixture(scope="module")
def journal_lines(tmp_path_factory) -> list[dict]:
    """A real journal: a check of the hot dual-socket capture (a FAIL, a WARN, samples, inventory)."""
    path = tmp_path_factory.mktemp("j") / "real.jsonl"
    result = CliRunner().invoke(main, ["check", "--profile", "ci", "--plain", "--only", "thermal,inventory",
                                       "--sysroot", str(DATA / "thermal" / "dual-socket-hot"), "--journal", str(path)])
    assert result.exit_code == 1
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(tmp_path: Path, records: list[dict], name="broken.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _first(records, kind, **match):
    return next(i for i, r in enumerate(records) if r["type"] == kind and all(r.get(k) == v for k, v in match.items()))


@pytest.mark.parametrize("case", ["severity", "module-list", "duration-string", "evidence-list", "sample-time"])
def test_wrong_typed_journal_records_are_said_in_one_line_and_the_rest_read(journal_lines, tmp_path, case):
    records = json.loads(json.dumps(journal_lines))
    if case == "severity":
        index = _first(records, "finding", severity="warn")
        records[index]["severity"] = "catastrophic"
        said = "finding with unknown severity 'catastrophic' ignored"
    elif case == "module-list":
        index = _first(records, "module_end", module="inventory")
        records[index]["module"] = ["inventory"]
        said = "module_end whose module is a list"
    elif case == "duration-string":
        index = _first(records, "run_end")
        records[index]["duration_s"] = "long"
        said = "run_end whose duration_s is not a number of seconds ('long') ignored"
    elif case == "evidence-list":
        index = _first(records, "finding", severity="warn")
        records[index]["evidence"] = [1]
        said = "finding whose evidence is a list ([1]) ignored"
    else:
        index = _first(records, "sample")
        records[index]["t"] = "x"
        said = "sample whose time t is not a number ('x') ignored"
    path = _write(tmp_path, records)
    for extra in ([], ["--json"], ["--html", tmp_path / "r.html", "--junit", tmp_path / "j.xml"]):
        result = _cli(["report", path, *extra])
        assert f"journal line {index + 1}: {said}" in result.stderr
        # The thermal FAIL is in the rest of the journal and still decides.
        assert result.exit_code == 1
    assert "temp-critical" in (tmp_path / "r.html").read_text()
    compared = _cli(["compare", _write(tmp_path, journal_lines, "good.jsonl"), path])
    assert compared.exit_code in (0, 1, 3) and said in compared.stderr


def test_a_journal_with_records_ignored_is_never_a_pass(journal_lines, tmp_path):
    # Without the FAIL, what is left would pass: a record left out may have been the failure.
    records = [r for r in json.loads(json.dumps(journal_lines)) if r.get("severity") != "fail"
               and r["type"] not in ("run_end",)]
    for r in records:
        if r["type"] == "module_end":
            r["verdict"], r["reason"] = "PASS", ""
    records.append({"type": "run_end", "t": records[-1]["t"], "seq": 999, "verdict": "PASS", "duration_s": 1.0})
    assert _cli(["report", _write(tmp_path, records, "clean.jsonl")]).exit_code == 0
    records[3] = {**records[3], "severity": "catastrophic", "type": "finding"}
    result = _cli(["report", _write(tmp_path, records)])
    assert result.exit_code == 3 and "ERROR" in result.output and "ignored" in result.stderr


def test_a_broken_run_start_is_not_a_journal(journal_lines, tmp_path):
    records = json.loads(json.dumps(journal_lines))
    records[0]["host"] = ["not", "an", "object"]
    result = _cli(["report", _write(tmp_path, records)])
    assert result.exit_code == 2 and "run_start: host is a list" in result.stderr


SMART = DATA / "smart" / "json"


@pytest.mark.parametrize("case", ["smart_status", "raw-number", "worst-nan", "id-null", "scsi-float", "binary"])
def test_wrong_typed_smartctl_reports_are_that_reports_error(tmp_path, case):
    doc = json.loads((SMART / "ST3500418AS_11.json").read_text())
    path = tmp_path / f"{case}.json"
    if case == "smart_status":
        doc["smart_status"] = -1
    elif case == "raw-number":
        doc["ata_smart_attributes"]["table"][0]["raw"] = 5
    elif case == "worst-nan":
        doc["ata_smart_attributes"]["table"][0]["worst"] = float("nan")
    elif case == "id-null":
        doc["ata_smart_attributes"]["table"][0]["id"] = None
    elif case == "scsi-float":
        doc = json.loads((SMART / "SEAGATE_ST373453LC_26.json").read_text())
        doc["scsi_error_counter_log"]["read"]["total_uncorrected_errors"] = 1.5
        doc["scsi_error_counter_log"]["write"] = 2.5
    if case == "binary":
        path.write_bytes(bytes(range(256)) * 20)
    else:
        path.write_text(json.dumps(doc))
    result = _cli(["smart", path])
    line = result.output.splitlines()[0]
    if case == "scsi-float":
        # A float count is still a count; the write log that is not an object is left out and said.
        assert result.exit_code == 1 and line.startswith("FAIL")
        assert "scsi_error_counter_log.write is not an object" in _cli(["smart", path, "--json"]).output
    else:
        assert result.exit_code == 3 and line.startswith("ERROR"), result.output


@pytest.mark.parametrize("value, words", [("nan", "bad duration"), ("inf", "bad duration"), ("1e400", "bad duration"),
                                          ("9" * 400, "too long"), ("400d", "longer than a year")])
def test_durations_are_finite_and_bounded(value, words):
    result = _cli(["run", "--duration", value])
    assert result.exit_code == 2 and words in result.stderr


def test_a_zero_second_burn_in_is_refused(tmp_path):
    result = _cli(["run", "--profile", "ci", "--duration", "0s", "--journal", tmp_path / "j.jsonl"])
    assert result.exit_code == 2 and "above 0 s" in result.stderr
    assert not (tmp_path / "j.jsonl").exists()


@pytest.mark.parametrize("line, key", [("stop_grace = nan", "stop_grace"), ("duration = inf", "duration"),
                                       ("duration = 1e400", "duration"), ("check_timeout = -inf", "check_timeout")])
def test_nan_and_infinite_profile_durations_are_refused(tmp_path, line, key):
    path = tmp_path / "p.toml"
    path.write_text(f'extends = "ci"\n{line}\n')
    result = _cli(["run", "--profile", path])
    assert result.exit_code == 2 and f"p.toml:2: {key}:" in result.stderr


def test_a_nan_module_setting_is_refused(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('extends = "ci"\n[settings.thermal]\ninterval_s = nan\n')
    result = _cli(["check", "--profile", path])
    assert result.exit_code == 2 and "settings.thermal.interval_s" in result.stderr


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    yield path
    # Should a reader have blocked on it, a writer releases it (the test then fails on its timeout).
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
    except OSError:
        pass


def _in_time(args, seconds=30.0):
    out = {}
    thread = threading.Thread(target=lambda: out.setdefault("result", _cli(args)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert "result" in out, f"burnin {' '.join(map(str, args))} hung"
    return out["result"]


@pytest.mark.parametrize("args, words", [
    (["run", "--profile", "{special}"], "not a regular file"),
    (["check", "--expect", "{special}"], "not a regular file"),
    (["inventory", "--dmidecode", "{special}"], "not a regular file"),
    (["inventory", "--expect", "{special}"], "not a regular file"),
    (["report", "{special}"], "not a regular file"),
])
@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_devices_and_fifos_as_input_files_are_refused_at_once(fifo, args, words, special):
    path = "/dev/zero" if special == "/dev/zero" else str(fifo)
    result = _in_time([a.replace("{special}", path) for a in args])
    assert result.exit_code == 2 and words in result.stderr and path in result.stderr


def test_smart_refuses_devices_and_fifos(fifo):
    result = _in_time(["smart", "/dev/zero", fifo])
    assert result.exit_code == 3 and result.output.count("not a regular file") == 2


def test_extends_dev_zero_is_refused(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('extends = "/dev/zero"\n')
    result = _in_time(["run", "--profile", path])
    assert result.exit_code == 2 and "/dev/zero" in result.stderr


def test_oversized_profiles_are_refused(tmp_path):
    path = tmp_path / "big.toml"
    path.write_text('extends = "ci"\n' + "# padding\n" * 120_000)
    result = _cli(["run", "--profile", path])
    assert result.exit_code == 2 and "too large" in result.stderr and "1 MiB" in result.stderr


def test_deep_toml_and_long_extends_chains_are_refused_in_one_line(tmp_path):
    deep = tmp_path / "deep.toml"
    deep.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    result = _cli(["run", "--profile", deep])
    assert result.exit_code == 2 and "nested deeper than" in result.stderr
    dotted = tmp_path / "dotted.toml"
    dotted.write_text("a" + ".a" * 3000 + " = 1\n")
    assert "nested deeper than" in _cli(["check", "--expect", dotted]).stderr
    for n in range(20):
        (tmp_path / f"c{n}.toml").write_text(f'extends = "c{n + 1}.toml"\n' if n < 19 else 'extends = "ci"\n')
    result = _cli(["run", "--profile", tmp_path / "c0.toml"])
    assert result.exit_code == 2 and "extends chain longer than" in result.stderr


def test_a_captured_tree_cannot_read_outside_itself(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("judging machine's own data\n")
    tree = tmp_path / "tree"
    shutil.copytree(DATA / "sysfs" / "procfs", tree, symlinks=True)
    dmi = tree / "sys/class/dmi/id"
    (dmi / "sys_vendor").unlink()
    (dmi / "sys_vendor").symlink_to(secret)
    (dmi / "product_name").unlink()
    (dmi / "product_name").symlink_to("/dev/zero")
    (dmi / "product_serial").unlink()
    os.mkfifo(dmi / "product_serial")
    (tree / "sys/class/net/eth0/speed").unlink()
    (tree / "sys/class/net/eth0/speed").symlink_to("../../../../../../../../../../../" + str(secret))
    host = Host(tree)
    assert host.read_text("/sys/class/dmi/id/sys_vendor") is None
    assert host.read_text("/sys/class/dmi/id/product_name") is None
    assert host.read_text("/sys/class/dmi/id/product_serial") is None
    assert host.read_text("/sys/class/net/eth0/speed") is None
    assert "/sys/class/dmi/id/sys_vendor" in host.outside
    assert host.read_text("/sys/class/dmi/id/board_vendor")  # the tree's own files still read
    result = _in_time(["inventory", "--sysroot", tree, "--json"])
    assert result.exit_code == 0 and "judging machine" not in result.output


def test_a_crash_is_one_line_exit_3_and_the_traceback_in_a_file(monkeypatch, tmp_path):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)

    def explode(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr("burnin.profile.builtin_names", explode)
    result = CliRunner().invoke(main, ["profiles"])
    assert result.exit_code == 3
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("burnin: internal error, please report: ")
    saved = Path(lines[0].split("report: ", 1)[1].split(" (", 1)[0])
    assert saved.parent == tmp_path and "KeyError: 'boom'" in saved.read_text()
    assert "Traceback" not in result.output


def test_html_of_samples_whose_span_a_float_cannot_hold(journal_lines, tmp_path):
    # Found by the fuzz suite: a metric at 2**53 + 4 has no span between its min and max as a float.
    records = json.loads(json.dumps(journal_lines))
    for index, record in enumerate(r for r in records if r["type"] == "sample"):
        record["metrics"] = {"temp_c:x": 9007199254740996.0 + (4.0 if index % 2 else 0.0), "fan_rpm:y": 1e308}
    result = _cli(["report", _write(tmp_path, records), "--html", tmp_path / "r.html"])
    assert result.exit_code == 1 and "<svg" in (tmp_path / "r.html").read_text()
