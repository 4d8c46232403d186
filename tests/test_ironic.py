"""burnin's Ironic hardware manager, driven by the REAL ironic-python-agent (marker `ironic`: its own venv with
`burnin[ironic]`, see .ci/run): IPA finds the manager by its entry point, lists burnin_run among its clean and
service steps, runs it through its own clean/service extensions, and fails the step naming the part on a FAIL."""

import json
from pathlib import Path

import pytest
from fleet_captures import failing_capture

pytestmark = pytest.mark.ironic

ipa = pytest.importorskip("ironic_python_agent", reason="ironic-python-agent is not installed: pip install "
                                                         "'burnin[ironic]' (the `ironic` CI step does)")
from ironic_python_agent import config  # noqa: E402,F401 - IPA's options must exist before its hardware module
from ironic_python_agent import hardware, inspector, utils  # noqa: E402
from ironic_python_agent.extensions import clean, service  # noqa: E402

# The node as the conductor sends it: IPA's own disk wait reads instance_info and properties.
NODE = {"uuid": "00000000-0000-0000-0000-000000000023", "instance_info": {}, "properties": {},
        "driver_internal_info": {}}
SHORT = {"profile": "ci", "duration": "2s", "only": ["inventory", "cpu"]}


@pytest.fixture(autouse=True)
def results(tmp_path, monkeypatch):
    folder = tmp_path / "var-log-burnin"
    monkeypatch.setenv("BURNIN_RESULTS_DIR", str(folder))
    return folder


def run_step(extension, kind: str, args: dict, state: str):
    """A step through IPA's own async command, as the conductor's agent client calls it."""
    step = {"step": "burnin_run", "priority": 0, "interface": "deploy", "args": args}
    node = dict(NODE, provision_state=state)
    if kind == "clean":
        command = extension.execute_clean_step(step=step, node=node, ports=[], clean_version=None)
    else:
        command = extension.execute_service_step(step=step, node=node, ports=[], service_version=None)
    command.join()
    return command


def test_ipa_finds_the_manager_and_lists_burnin_run_as_clean_and_service_step():
    managers = {m["name"]: m["support"] for m in hardware.get_managers_detail()}
    assert managers["BurninHardwareManager"] == hardware.HardwareSupport.SERVICE_PROVIDER
    for method in ("get_clean_steps", "get_service_steps"):
        steps = hardware.dispatch_to_all_managers(method, NODE, [])["BurninHardwareManager"]
        assert [(s["step"], s["priority"], s["interface"]) for s in steps] == [("burnin_run", 0, "deploy")]
        assert set(steps[0]["argsinfo"]) >= {"profile", "duration", "expect", "only", "skip", "sysroot"}


def test_a_clean_step_on_this_machine_passes_with_the_results_where_ipa_collects_logs(results):
    command = run_step(clean.CleanExtension(), "clean", dict(SHORT, expect={"cpu": {"sockets": 1}}), "cleaning")
    assert command.command_status == "SUCCEEDED", command.command_error
    result = command.command_result["clean_result"]
    assert result["verdict"] in ("PASS", "WARN") and result["exit_code"] == 0
    folder = Path(result["folder"])
    assert folder.parent == results
    for name in ("journal", "html", "ocp"):
        assert Path(result[name]).stat().st_size > 0
    assert any("memory" in area for area in result["untested"])  # left out by `only`: said, not hidden
    journal = [json.loads(line) for line in Path(result["journal"]).read_text().splitlines()]
    claims = next(r for r in journal if r["type"] == "inventory")["claims"]
    assert claims and claims[0]["key"] == "cpu.sockets"  # the expect argument reached burnin as claims
    # IPA ships burnin's results with its own logs.
    file_list = []
    hardware.dispatch_to_all_managers("collect_system_logs", {}, file_list)
    assert str(results) in file_list


def test_a_fail_in_a_captured_tree_fails_the_service_step_naming_the_parts(tmp_path):
    command = run_step(service.ServiceExtension(), "service",
                       {"profile": "ci", "duration": "2s", "sysroot": str(failing_capture(tmp_path))}, "servicing")
    assert command.command_status == "FAILED"
    error = command.command_error
    assert type(error).__name__ == "ServicingError"
    details = error.details
    assert details.startswith("burnin FAIL: failed: ")
    assert "FAIL fan:nct6779/fan2" in details and "dimm:CPU_SrcID#0_Ha#0_Chan#0_DIMM#0" in details


def test_destructive_work_is_refused_in_a_service_step(results):
    command = run_step(service.ServiceExtension(), "service",
                       dict(SHORT, destructive=["/dev/sdz"], yes_destroy_data=["Z1X2"]), "servicing")
    assert command.command_status == "FAILED"
    assert "never done in a service step" in command.command_error.details
    assert not list(results.glob("*/journal.jsonl"))  # nothing ran


def test_destructive_work_in_a_clean_step_needs_the_command_lines_consent(results):
    """A device that is not there (or whose serial does not match) is refused by burnin's own consent check,
    before anything runs: the step fails with burnin's one line."""
    command = run_step(clean.CleanExtension(), "clean",
                       dict(SHORT, profile="quick", destructive=["/dev/burnin-no-such-disk"],
                            yes_destroy_data=["Z1X2"]), "cleaning")
    assert command.command_status == "FAILED"
    details = command.command_error.details
    assert type(command.command_error).__name__ == "CleaningError"
    assert details.startswith("burnin refused (bad arguments): burnin: error:")


def test_the_inspection_collector_adds_the_inventory_and_the_last_verdict(tmp_path):
    run_step(service.ServiceExtension(), "service",
             {"profile": "ci", "duration": "2s", "sysroot": str(failing_capture(tmp_path))}, "servicing")
    data, failures = {}, utils.AccumulatedFailures()
    for extension in inspector.extension_manager(["burnin"]):
        extension.plugin(data, failures)
    assert failures.get_error() is None
    assert data["burnin"]["last_run"]["verdict"] == "FAIL"
    assert any("fan:nct6779/fan2" in f for f in data["burnin"]["last_run"]["top_findings"])
    assert data["burnin"]["inventory"]["cpu"]["threads"] >= 1
