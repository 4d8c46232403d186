"""Output formats are registered once in burnin/report/: `run`, `check` and `report` offer every registered format
with no per-format code in cli.py."""

import json

import pytest
from click.testing import CliRunner

from burnin.cli import main
from burnin.report import outputs
from fake_modules import Fails, Healthy


@pytest.fixture
def ocp_format():
    """A format added the way a new one would be: one register() call, nothing in cli.py."""
    written = []

    def write(summary, contents, path):
        written.append(path)
        with open(path, "w") as f:
            json.dump({"verdict": summary.verdict.value, "findings": len(summary.findings)}, f)

    output = outputs.register(outputs.OutputFormat("ocp-example", "--ocp-json", "an OCP diagnostic result", write))
    yield output, written
    outputs.unregister("ocp-example")


def test_the_builtin_formats_are_registered_with_their_options():
    assert {o.name: o.option for o in outputs.registered()} == {"junit": "--junit", "html": "--html",
                                                               "prometheus": "--prom", "ocp": "--ocp",
                                                               "wipe-certificate": "--wipe-certificate"}


def test_a_registered_format_is_an_option_of_run_check_and_report(ocp_format):
    for command in ("run", "check", "report"):
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0
        assert "--ocp-json FILE" in result.output and "OCP diagnostic result" in result.output, command
    outputs.unregister("ocp-example")
    assert "--ocp-json" not in CliRunner().invoke(main, ["report", "--help"]).output


def test_run_and_report_write_a_registered_format(tmp_path, fake_registry, ocp_format):
    _, written = ocp_format
    fake_registry(Healthy, Fails)
    profile = tmp_path / "p.toml"
    profile.write_text('duration = "1s"\n')
    journal = tmp_path / "j.jsonl"
    run = CliRunner().invoke(main, ["run", "--profile", str(profile), "--journal", str(journal),
                                    "--ocp-json", str(tmp_path / "run.json")])
    assert run.exit_code == 1, run.output
    report = CliRunner().invoke(main, ["report", str(journal), "--ocp-json", str(tmp_path / "report.json")])
    assert report.exit_code == 1
    assert written == [str(tmp_path / "run.json"), str(tmp_path / "report.json")]
    assert json.loads((tmp_path / "run.json").read_text()) == json.loads((tmp_path / "report.json").read_text())
    assert json.loads((tmp_path / "report.json").read_text())["verdict"] == "FAIL"


def test_a_format_written_live_gets_a_reporter_during_the_run(tmp_path, fake_registry, monkeypatch):
    events = []

    class Live:
        def __init__(self, path):
            self.path = path

        def __getattr__(self, name):
            return lambda *args, **kwargs: events.append(name)

    outputs.register(outputs.OutputFormat("trace", "--trace", "a trace", lambda s, c, p: None, live=Live))
    try:
        fake_registry(Healthy)
        profile = tmp_path / "p.toml"
        profile.write_text('duration = "1s"\n')
        result = CliRunner().invoke(main, ["run", "--profile", str(profile), "--journal", str(tmp_path / "j.jsonl"),
                                           "--trace", str(tmp_path / "t")])
    finally:
        outputs.unregister("trace")
    assert result.exit_code == 0, result.output
    assert events[0] == "run_started" and "module_ended" in events and events[-1] == "close"


def test_cli_has_no_per_format_code():
    import inspect
    import re

    import burnin.cli

    source = inspect.getsource(burnin.cli)
    for pattern in (r"junit", r"\bhtml", r"\bprom\b|prom_path|prometheus", r"PromFileWriter"):
        assert not re.search(pattern, source, re.IGNORECASE), pattern
