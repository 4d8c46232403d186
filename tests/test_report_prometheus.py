"""Prometheus text exposition: parsed back with prometheus_client's own parser, during a run (rewritten
atomically, at most every few seconds) and after it."""

import sys
from pathlib import Path

import pytest

from burnin import journal
from burnin.model import Finding, Severity, Verdict
from burnin.report.prometheus import PromFileWriter, latest_samples, prometheus_text
from burnin.verdict import summarize

parser = pytest.importorskip("prometheus_client.parser", reason="prometheus_client (the test extra) is not installed")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "bench"))
from make_journal import write_journal  # noqa: E402

NASTY = 'a "quoted" back\\slash\nnewline'


def families(text):
    return {f.name: f for f in parser.text_string_to_metric_families(text)}


def samples(family):
    return {tuple(sorted(s.labels.items())): s.value for s in family.samples}


def test_exposition_of_a_finished_run_parses_with_the_reference_parser(tmp_path):
    path = write_journal(tmp_path / "j.jsonl", hours=0.01, fail=True)
    contents = journal.read(path)
    text = prometheus_text(summarize(contents), latest_samples(contents))
    metrics = families(text)
    verdicts = samples(metrics["burnin_run_verdict"])
    assert verdicts[(("verdict", "FAIL"),)] == 1 and sum(verdicts.values()) == 1
    modules = samples(metrics["burnin_module_verdict"])
    assert modules[(("module", "thermal"), ("verdict", "FAIL"))] == 1
    assert modules[(("module", "cpu"), ("verdict", "PASS"))] == 1
    assert sum(modules.values()) == 3
    assert samples(metrics["burnin_findings"]) == {(("severity", "fail"),): 1, (("severity", "warn"),): 0,
                                                    (("severity", "info"),): 1}
    assert samples(metrics["burnin_run_duration_seconds"]) == {(): 36.0}
    assert samples(metrics["burnin_run_complete"]) == {(): 1}
    assert samples(metrics["burnin_run_phase"])[(("phase", "done"),)] == 1
    info = metrics["burnin_run_info"].samples[0].labels
    assert info["system_serial"] == "SN-0001" and info["profile"] == "soak"
    values = samples(metrics["burnin_sample"])
    last = contents.of_type("sample")[-3]["metrics"]  # thermal's last sample
    assert values[(("metric", "temp_c:coretemp.0/Package id 0"), ("module", "thermal"))] == \
        last["temp_c:coretemp.0/Package id 0"]
    assert len(values) == 42


def test_label_values_are_escaped_and_read_back_exactly(tmp_path):
    path = write_journal(tmp_path / "j.jsonl", hours=0.001, system_serial=NASTY)
    contents = journal.read(path)
    latest = {NASTY: {f"temp_c:{NASTY}": 1.5, "nan:x": float("nan"), "inf:x": float("inf"), "text:x": "n/a"}}
    metrics = families(prometheus_text(summarize(contents), latest))
    assert metrics["burnin_run_info"].samples[0].labels["system_serial"] == NASTY
    values = {s.labels["metric"]: s.value for s in metrics["burnin_sample"].samples}
    assert values[f"temp_c:{NASTY}"] == 1.5 and values["inf:x"] == float("inf") and values["nan:x"] != values["nan:x"]
    assert "text:x" not in values  # not a number: left out


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class FakeRun:
    run_id, mode, journal = "r1", "run", "j.jsonl"
    host = {"hostname": "srv1", "system_serial": "S1"}
    modules = ("thermal", "disk")

    class profile:
        name, required = "seller", ()


def test_writer_keeps_the_file_current_at_most_every_interval(tmp_path):
    out, clock = tmp_path / "burnin.prom", Clock()
    writer = PromFileWriter(out, interval_s=5.0, clock=clock)
    writer.run_started(FakeRun())
    assert writer.writes == 1
    metrics = families(out.read_text())
    assert samples(metrics["burnin_run_verdict"])[(("verdict", "RUNNING"),)] == 1
    assert samples(metrics["burnin_module_verdict"])[(("module", "disk"), ("verdict", "RUNNING"))] == 1
    writer.phase_started("run", 60, ["thermal", "disk"])
    for second in range(1, 12):
        clock.now = float(second)
        writer.sample("thermal", {"temp_c:cpu": 40.0 + second})
        writer.tick()
    assert writer.writes == 3  # at 0 (start), 5 and 10 s: never more often than every 5 s
    metrics = families(out.read_text())
    assert samples(metrics["burnin_sample"]) == {(("metric", "temp_c:cpu"), ("module", "thermal")): 50.0}
    assert samples(metrics["burnin_run_phase"])[(("phase", "run"),)] == 1
    assert samples(metrics["burnin_run_duration_seconds"]) == {(): 10.0}
    writer.finding(Finding("disk", Severity.FAIL, "disk:/dev/sda", "smart-failed", "SMART says failing."))
    writer.module_ended("disk", Verdict.FAIL, "1 failure(s)")
    writer.tick()
    assert writer.writes == 3  # due again only at 15 s
    clock.now = 15.0
    writer.tick()
    metrics = families(out.read_text())
    assert samples(metrics["burnin_findings"])[(("severity", "fail"),)] == 1
    assert samples(metrics["burnin_module_verdict"])[(("module", "disk"), ("verdict", "FAIL"))] == 1
    assert samples(metrics["burnin_run_complete"]) == {(): 0}
    assert [p.name for p in tmp_path.iterdir()] == ["burnin.prom"]  # no temporary file left behind


def test_closing_without_a_summary_folds_the_verdict_like_the_runner(tmp_path):
    out = tmp_path / "burnin.prom"
    writer = PromFileWriter(out, clock=Clock())
    writer.run_started(FakeRun())
    writer.module_ended("thermal", Verdict.PASS, "")
    writer.module_ended("disk", Verdict.WARN, "1 warning(s)")
    writer.close()
    metrics = families(out.read_text())
    assert samples(metrics["burnin_run_verdict"])[(("verdict", "WARN"),)] == 1
    assert samples(metrics["burnin_run_complete"]) == {(): 1}
    assert samples(metrics["burnin_run_phase"])[(("phase", "done"),)] == 1

    interrupted = PromFileWriter(out, clock=Clock())
    interrupted.run_started(FakeRun())
    interrupted.module_ended("thermal", Verdict.PASS, "")
    interrupted.stopping("Ctrl-C: stopping")
    interrupted.close()
    metrics = families(out.read_text())
    assert samples(metrics["burnin_run_verdict"])[(("verdict", "INCOMPLETE"),)] == 1


def test_a_write_that_fails_never_stops_the_run(tmp_path):
    writer = PromFileWriter(tmp_path / "missing-dir" / "burnin.prom", clock=Clock())
    writer.run_started(FakeRun())
    writer.close()
    assert writer.writes == 0 and "cannot write" in writer.last_error


def test_writer_as_the_runners_reporter_ends_with_the_runs_verdict(tmp_path, fake_registry):
    from burnin import profile as profiles
    from burnin.host import Host
    from burnin.runner import Runner
    from fake_modules import Fails, Healthy

    classes = fake_registry(Healthy, Fails)
    profile_path = tmp_path / "p.toml"
    profile_path.write_text('duration = "1s"\nstop_grace = "1s"\n')
    profile = profiles.load(str(profile_path), {n: c.setting_specs() for n, c in classes.items()})
    out = tmp_path / "burnin.prom"
    writer = PromFileWriter(out, interval_s=0.2)
    runner = Runner(profile, classes, ["healthy", "fails"], Host("/"), journal.JournalWriter(tmp_path / "j.jsonl"),
                    writer)
    summary = runner.execute()
    writer.finish(summary)
    writer.close()  # after finish(): changes nothing
    metrics = families(out.read_text())
    assert samples(metrics["burnin_run_verdict"])[(("verdict", "FAIL"),)] == 1
    assert samples(metrics["burnin_module_verdict"])[(("module", "fails"), ("verdict", "FAIL"))] == 1
    assert samples(metrics["burnin_sample"]) == {(("metric", "value"), ("module", "healthy")): 1.0}
    assert writer.writes >= 2
