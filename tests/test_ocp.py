"""`--ocp FILE`: the OCP Test & Validation output validates against the spec's JSON schema (tests/data/ocp) and
says every finding as a diagnosis, for a real run, a failing capture and a run cut short."""

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fleet_captures import DIMM, FAN, failing_capture

from burnin import journal
from burnin.cli import main
from burnin.report.ocp import FINDING_EXTENSION, diagnoses, ocp_lines, read_ocp
from burnin.verdict import summarize

jsonschema = pytest.importorskip("jsonschema")
referencing = pytest.importorskip("referencing")

DATA = Path(__file__).parent / "data"
SCHEMA = DATA / "ocp" / "schema"
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "bench"))
from make_journal import HOSTILE, write_journal  # noqa: E402


def validator():
    """The spec's root schema with its siblings resolvable by their $id (https://github.com/.../NAME)."""
    resources = []
    for path in SCHEMA.glob("*.json"):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], referencing.Resource.from_contents(schema)))
    registry = referencing.Registry().with_resources(resources)
    root = json.loads((SCHEMA / "root.json").read_text())
    return jsonschema.Draft202012Validator(root, registry=registry,
                                           format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def assert_valid(lines):
    check = validator()
    assert lines, "no OCP output"
    for number, line in enumerate(lines, 1):
        errors = sorted(check.iter_errors(json.loads(line)), key=lambda e: e.path)
        assert not errors, f"line {number}: {errors[0].message}\n{line}"


def assert_every_finding_is_a_diagnosis(journal_path: Path, artifacts):
    findings = [r for r in journal.read(journal_path).of_type("finding")]
    found = diagnoses(artifacts)
    expected_type = {"fail": "FAIL", "warn": "UNKNOWN", "info": "UNKNOWN"}
    for finding in findings:
        match = [d for d in found if d["step"] == finding["module"] and d["component"] == finding["component"]
                 and d["verdict"] == f"burnin.{finding['severity']}.{finding['code']}"
                 and d["message"] == finding["message"]]
        assert match, f"no diagnosis for {finding['module']} {finding['component']} {finding['code']}"
        assert match[0]["type"] == expected_type[finding["severity"]]
    extensions = [a["testStepArtifact"]["extension"] for a in artifacts
                  if "extension" in a.get("testStepArtifact", {})]
    recorded = [e["content"] for e in extensions if e["name"] == FINDING_EXTENSION]
    assert sorted((e["code"], e["component"]) for e in recorded) == \
        sorted((f["code"], f["component"]) for f in findings)
    assert all(json.loads(e["evidence"]) is not None for e in recorded)  # the raw evidence travels with it
    return found


def test_the_schema_refuses_what_the_spec_forbids():
    """The vendored schema is strict: a diagnosis of an unknown type, or an artifact without a timestamp, fails."""
    check = validator()
    good = {"testStepArtifact": {"testStepId": "0", "diagnosis": {"verdict": "x", "type": "FAIL"}},
            "sequenceNumber": 3, "timestamp": "2026-01-01T00:00:00Z"}
    assert not list(check.iter_errors(good))
    bad_type = json.loads(json.dumps(good))
    bad_type["testStepArtifact"]["diagnosis"]["type"] = "BROKEN"
    assert list(check.iter_errors(bad_type))
    assert list(check.iter_errors({k: v for k, v in good.items() if k != "timestamp"}))


def test_a_real_run_writes_ocp_output_that_validates(tmp_path):
    """A real (short) `burnin run` on this machine with --ocp: every line validates; one step per module; a PASS
    module says so in a PASS diagnosis and a SKIPped one in a not-tested one; the run ends PASS or FAIL as burnin."""
    out, journal_path = tmp_path / "run.ocp.jsonl", tmp_path / "j.jsonl"
    result = CliRunner().invoke(main, ["run", "--profile", "ci", "--duration", "2s", "--only",
                                       "inventory,thermal,cpu,pcie,kernel-log", "--journal", str(journal_path),
                                       "--ocp", str(out), "--json", "--plain"])
    data = json.loads(result.stdout)
    lines = out.read_text().splitlines()
    assert_valid(lines)
    artifacts = read_ocp(out.read_text())
    steps = [a["testStepArtifact"]["testStepStart"]["name"] for a in artifacts
             if "testStepStart" in a.get("testStepArtifact", {})]
    assert steps == list(data["modules"])
    start = artifacts[1]["testRunArtifact"]["testRunStart"]
    assert start["name"] == "burnin" and start["parameters"]["profile"] == "ci"
    assert start["dutInfo"]["hardwareInfos"], "the inventory's parts are the DUT's hardware"
    end = artifacts[-1]["testRunArtifact"]["testRunEnd"]
    assert end["result"] == {"PASS": "PASS", "WARN": "PASS", "FAIL": "FAIL"}.get(data["verdict"], "NOT_APPLICABLE")
    found = assert_every_finding_is_a_diagnosis(journal_path, artifacts)
    for module, verdict in data["modules"].items():
        kinds = {d["verdict"] for d in found if d["step"] == module}
        if verdict == "PASS":
            assert "burnin.pass" in kinds
        if verdict == "SKIP":
            assert "burnin.not-tested" in kinds
    cpu_measurements = [a["testStepArtifact"]["measurement"] for a in artifacts
                        if "measurement" in a.get("testStepArtifact", {})]
    assert any(m["name"].startswith("busy_pct:") and m["unit"] == "%" for m in cpu_measurements)


def test_a_failing_capture_says_each_failed_part_as_a_fail_diagnosis(tmp_path):
    """The capture with a stopped fan and a DIMM with uncorrected errors (see test_coverage): `check --sysroot`
    with --ocp validates, FAILs, and names the fan and the DIMM in FAIL diagnoses."""
    tree = failing_capture(tmp_path)
    out, journal_path = tmp_path / "fail.ocp.jsonl", tmp_path / "j.jsonl"
    result = CliRunner().invoke(main, ["check", "--sysroot", str(tree), "--journal", str(journal_path), "--ocp",
                                       str(out), "--plain"])
    assert result.exit_code == 1
    assert_valid(out.read_text().splitlines())
    artifacts = read_ocp(out.read_text())
    found = assert_every_finding_is_a_diagnosis(journal_path, artifacts)
    fails = {(d["step"], d["component"]) for d in found if d["type"] == "FAIL"}
    assert ("thermal", FAN) in fails and ("memory", DIMM) in fails
    assert artifacts[-1]["testRunArtifact"]["testRunEnd"] == {"status": "COMPLETE", "result": "FAIL"}


def test_report_writes_ocp_of_a_cut_short_hostile_journal(tmp_path):
    """`burnin report --ocp` of a journal cut short (no run_end) with hostile strings: valid, the run ends in
    ERROR with an error artifact, the strings are kept as data, the disk finding points at the disk's hardware
    info, and artifacts carry the journal's times."""
    path = write_journal(tmp_path / "cut.jsonl", hours=0.01, fail=True, hostile=True, complete=False)
    out = tmp_path / "cut.ocp.jsonl"
    result = CliRunner().invoke(main, ["report", str(path), "--ocp", str(out)])
    assert result.exit_code == 1  # the FAIL found before the cut stands
    lines = out.read_text().splitlines()
    assert_valid(lines)
    artifacts = read_ocp(out.read_text())
    assert artifacts[-1]["testRunArtifact"]["testRunEnd"] == {"status": "ERROR", "result": "FAIL"}
    assert any(a.get("testRunArtifact", {}).get("error", {}).get("symptom") == "burnin.run-incomplete"
               for a in artifacts)
    found = assert_every_finding_is_a_diagnosis(path, artifacts)
    disk = next(d for d in found if d["step"] == "disk" and d["type"] == "UNKNOWN" and HOSTILE in d["message"])
    hardware = artifacts[1]["testRunArtifact"]["testRunStart"]["dutInfo"]["hardwareInfos"]
    assert next(h for h in hardware if h["hardwareInfoId"] == disk["hardwareInfoId"])["name"] == "disk /dev/sda"
    assert artifacts[1]["timestamp"].startswith("2023-11-14T22:13:20")
    errors = [a["testStepArtifact"]["error"] for a in artifacts if "error" in a.get("testStepArtifact", {})]
    assert {e["symptom"] for e in errors} == {"burnin.module-incomplete"}  # cpu and disk did not finish


def test_a_temperature_with_a_known_critical_limit_gets_a_validator(tmp_path):
    path = write_journal(tmp_path / "j.jsonl", hours=0.01, fail=True)
    contents = journal.read(path)
    artifacts = [json.loads(line) for line in ocp_lines(summarize(contents), contents)]
    peak = next(a["testStepArtifact"]["measurement"] for a in artifacts
                if a.get("testStepArtifact", {}).get("measurement", {}).get("name")
                == "temp_c:coretemp.0/Package id 0 max")
    assert peak["value"] == 97.5 and peak["unit"] == "°C"
    assert peak["validators"] == [{"name": "critical limit", "type": "LESS_THAN", "value": 95.0}]


def test_a_module_that_errs_is_an_error_artifact_and_the_run_not_a_pass(tmp_path, fake_registry):
    from fake_modules import Healthy, Raises

    fake_registry(Healthy, Raises)
    profile = tmp_path / "p.toml"
    profile.write_text('duration = "1s"\n')
    out = tmp_path / "o.jsonl"
    result = CliRunner().invoke(main, ["run", "--profile", str(profile), "--journal", str(tmp_path / "j.jsonl"),
                                       "--ocp", str(out), "--plain"])
    assert result.exit_code == 3, result.output
    assert_valid(out.read_text().splitlines())
    artifacts = read_ocp(out.read_text())
    names = {a["testStepArtifact"]["testStepId"]: a["testStepArtifact"]["testStepStart"]["name"] for a in artifacts
             if "testStepStart" in a.get("testStepArtifact", {})}
    errors = [(names[a["testStepArtifact"]["testStepId"]], a["testStepArtifact"]["error"]) for a in artifacts
              if "error" in a.get("testStepArtifact", {})]
    assert [(step, e["symptom"]) for step, e in errors] == [("raises", "burnin.module-error")]
    assert "sensor bus exploded" in errors[0][1]["message"]
    ends = {names[a["testStepArtifact"]["testStepId"]]: a["testStepArtifact"]["testStepEnd"]["status"]
            for a in artifacts if "testStepEnd" in a.get("testStepArtifact", {})}
    assert ends == {"healthy": "COMPLETE", "raises": "ERROR"}
    assert artifacts[-1]["testRunArtifact"]["testRunEnd"] == {"status": "ERROR", "result": "NOT_APPLICABLE"}
