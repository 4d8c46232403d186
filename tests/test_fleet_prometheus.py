"""Prometheus for a fleet: the textfile metrics a dashboard needs (verdict per module, findings by severity, run
progress), read back with prometheus_client's parser; and the example alert rules (scripts/prometheus), checked
and unit-tested with promtool (Debian's `prometheus` package) on series made from burnin's own files."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from burnin.cli import main
from burnin.model import Finding, Severity, Verdict
from burnin.report.prometheus import PromFileWriter, render

parser = pytest.importorskip("prometheus_client.parser", reason="prometheus_client (the test extra) is not installed")

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "scripts" / "prometheus" / "burnin-alerts.yml"
PROMTOOL = shutil.which("promtool")
sys.path.insert(0, str(ROOT / "scripts" / "bench"))
from make_journal import write_journal  # noqa: E402
from test_report_prometheus import Clock  # noqa: E402


class Run:
    run_id, mode, journal = "r-running", "run", "j.jsonl"
    host = {"hostname": "rack4-u12", "system_serial": "SN-RUN"}
    modules = ("thermal", "memory")

    class profile:
        name, required, duration_s = "seller", (), 1800.0


def samples(text):
    """{(name, ((label, value), ...)): value} of an exposition, read by the reference parser."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in parser.text_string_to_metric_families(text) for s in family.samples}


def finished(tmp_path, name: str, **journal) -> str:
    path = write_journal(tmp_path / f"{name}.jsonl", hours=0.01, **journal)
    out = tmp_path / f"{name}.prom"
    CliRunner().invoke(main, ["report", str(path), "--prom", str(out)])
    return out.read_text()


def running(tmp_path):
    """A run 10 minutes into its 30-minute stress phase with one failure found, written by the live writer."""
    clock = Clock()
    writer = PromFileWriter(tmp_path / "running.prom", interval_s=5.0, clock=clock)
    writer.run_started(Run())
    writer.phase_started("run", 1800, list(Run.modules))
    writer.finding(Finding("memory", Severity.FAIL, "dimm:P1-DIMMA1", "ecc-uncorrected", "2 uncorrected errors."))
    writer.finding(Finding("thermal", Severity.WARN, "sensor:cpu", "temp-above-max", "Hot."))
    writer.module_ended("memory", Verdict.FAIL, "1 failure(s)")
    clock.now = 600.0
    return writer


def test_the_textfile_has_what_a_fleet_dashboard_needs(tmp_path):
    done = samples(finished(tmp_path, "failed", fail=True))
    assert done[("burnin_run_verdict", (("verdict", "FAIL"),))] == 1
    assert done[("burnin_run_verdict", (("verdict", "RUNNING"),))] == 0
    assert done[("burnin_module_verdict", (("module", "thermal"), ("verdict", "FAIL")))] == 1
    assert done[("burnin_module_verdict", (("module", "cpu"), ("verdict", "PASS")))] == 1
    assert {labels: v for (name, labels), v in done.items() if name == "burnin_findings"} == {
        (("severity", "fail"),): 1, (("severity", "warn"),): 0, (("severity", "info"),): 1}
    assert done[("burnin_run_complete", ())] == 1
    assert done[("burnin_run_planned_seconds", ())] == 36.0  # the profile's duration: progress = duration / this
    info = next(labels for name, labels in done if name == "burnin_run_info")
    assert ("system_serial", "SN-0001") in info and ("hostname", "srv1") in info

    live = samples(render(running(tmp_path).state(), now=1_700_000_600.0))
    assert live[("burnin_run_verdict", (("verdict", "RUNNING"),))] == 1
    assert live[("burnin_run_phase", (("phase", "run"),))] == 1
    assert live[("burnin_run_duration_seconds", ())] / live[("burnin_run_planned_seconds", ())] == pytest.approx(1 / 3)
    assert live[("burnin_findings", (("severity", "fail"),))] == 1
    assert live[("burnin_module_verdict", (("module", "memory"), ("verdict", "FAIL")))] == 1
    assert live[("burnin_module_verdict", (("module", "thermal"), ("verdict", "RUNNING")))] == 1
    assert live[("burnin_report_timestamp_seconds", ())] == 1_700_000_600.0


def series(text: str, instance: str, values: str) -> list[dict]:
    """promtool input series from one burnin textfile, as node_exporter exposes it for `instance`."""
    out = []
    for (name, labels), value in samples(text).items():
        rendered = ",".join(f'{k}="{v}"' for k, v in (*labels, ("instance", instance), ("job", "node")))
        out.append({"series": f"{name}{{{rendered}}}", "values": values.format(value=value)})
    return out


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (apt-get install prometheus)")
def test_the_alert_rules_fire_on_burnins_own_files(tmp_path):
    """Three machines scraped for 20 minutes: one finished FAIL, one finished PASS, one RUNNING with a failure
    found whose file stopped being rewritten at minute 0 (a hung machine). promtool evaluates the rules."""
    check = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    fail, ok = finished(tmp_path, "fail", fail=True), finished(tmp_path, "pass")
    hung = render(running(tmp_path).state(), now=0.0)  # written at time 0 of promtool's clock, never again
    inputs = series(fail, "m-fail", "{value}x20") + series(ok, "m-pass", "{value}x20") \
        + series(hung, "m-hung", "{value}x20")
    running_labels = {"instance": "m-hung", "job": "node"}
    tests = {"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": inputs,
        "alert_rule_test": [
            {"eval_time": "10m", "alertname": "BurninFailed", "exp_alerts": [{
                "exp_labels": {"severity": "critical", "verdict": "FAIL", "instance": "m-fail", "job": "node"},
                "exp_annotations": {"summary": "burnin FAIL on m-fail", "description": "burnin found a failing "
                                    "part; see the journal and the report on the machine."}}]},
            {"eval_time": "10m", "alertname": "BurninFailureDuringRun", "exp_alerts": [{
                # the rule's severity label replaces burnin_findings' own (the expression keeps only "fail")
                "exp_labels": {**running_labels, "severity": "warning"},
                "exp_annotations": {"summary": "burnin found 1 failure(s) on m-hung, run still going"}}]},
            {"eval_time": "10m", "alertname": "BurninStale", "exp_alerts": [{
                "exp_labels": {**running_labels, "severity": "critical"},
                "exp_annotations": {"summary": "burnin on m-hung stopped reporting while running: hung machine?"}}]},
            {"eval_time": "4m", "alertname": "BurninStale", "exp_alerts": []},  # not yet 5 min + 2 min
            {"eval_time": "10m", "alertname": "BurninCouldNotTest", "exp_alerts": []},
            {"eval_time": "10m", "alertname": "BurninOverdue", "exp_alerts": []},
        ]}]}
    test_file = tmp_path / "burnin-alerts.test.yml"
    test_file.write_text(json.dumps(tests, indent=1))  # JSON is YAML
    result = subprocess.run([PROMTOOL, "test", "rules", str(test_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
