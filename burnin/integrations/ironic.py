"""burnin as an Ironic hardware manager: `pip install 'burnin[ironic]'` into the ramdisk next to ironic-python-agent.

Ironic's agent (IPA) finds this manager by its entry point (`ironic_python_agent.hardware_managers`: burnin) and
offers its step to the conductor:

    burnin_run   clean step and service step, priority 0 (run only when asked for, e.g.
                 `baremetal node clean NODE --clean-steps '[{"interface": "deploy", "step": "burnin_run",
                 "args": {"profile": "seller", "duration": "2h"}}]'`)
        args:    profile (default quick), duration ("30m"), expect (the claims as a dict of tables,
                 {"cpu": {"sockets": 2}, "memory": {"total_gib": 256}}), only / skip (module names, a list or
                 "a,b"), sysroot (judge a captured tree instead), and in a clean step only: destructive (devices)
                 with yes_destroy_data (their serials), the same consent as on the command line.

A PASS or WARN returns the verdict, the top findings, the areas not tested and where the journal, the HTML report
and the OCP output are; FAIL, ERROR or INCOMPLETE fails the step (CleaningError, ServicingError) with the verdict
and the top findings in its message, so the node goes to `clean failed` naming the part. The results are written
under /var/log/burnin (BURNIN_RESULTS_DIR), which this manager adds to the logs IPA collects and ships to the
conductor. Destructive disk work is refused in a service step, as Ironic itself keeps data in servicing.

evaluate_hardware_support() says SERVICE_PROVIDER where burnin can run (a Linux /proc and /sys to read), else
NONE. The inspection collector (entry point `ironic_python_agent.inspector.collectors`: burnin) adds burnin's
inventory (every DIMM slot, disk serials, NICs) and the last run's verdict to the node's introspection data, as
`data["burnin"]`.

This module imports ironic_python_agent; it is only loaded by IPA through the entry points.
"""

from __future__ import annotations

import os
from typing import Any

from ironic_python_agent import errors, hardware

from burnin import __version__
from burnin.integrations.steps import RESULTS_DIR, StepArgs, StepFailed, last_result, run_step

STEP_ARGS = {
    "profile": {"description": "burnin profile: quick, seller, soak, ci, or a TOML file's path", "required": False},
    "duration": {"description": "length of the stress phase, e.g. 30m (default: the profile's)", "required": False},
    "expect": {"description": "the claims as a dict of tables, e.g. {\"cpu\": {\"sockets\": 2}}", "required": False},
    "only": {"description": "run only these modules (a list, or \"a,b\")", "required": False},
    "skip": {"description": "do not run these modules", "required": False},
    "sysroot": {"description": "judge a captured /sys, /proc and SMBIOS tree instead of this machine",
                "required": False},
    "destructive": {"description": "clean steps only: devices to write-verify and wipe (DESTROYS THEIR DATA)",
                    "required": False},
    "yes_destroy_data": {"description": "clean steps only: the serial of each destructive device, as consent",
                         "required": False},
}


def results_dir() -> str:
    return os.environ.get("BURNIN_RESULTS_DIR") or RESULTS_DIR


def _servicing(node: Any) -> bool:
    """Whether the step runs as a service step (an active node keeps its data). Unknown counts as servicing:
    destruction needs a clear yes."""
    state = (node or {}).get("provision_state") if isinstance(node, dict) else None
    return state != "cleaning"


class BurninHardwareManager(hardware.HardwareManager):
    HARDWARE_MANAGER_NAME = "BurninHardwareManager"
    HARDWARE_MANAGER_VERSION = "1"

    def evaluate_hardware_support(self):
        readable = all(os.access(path, os.R_OK) for path in ("/proc/cpuinfo", "/proc/meminfo", "/sys/class"))
        return hardware.HardwareSupport.SERVICE_PROVIDER if readable else hardware.HardwareSupport.NONE

    def _step(self) -> dict[str, Any]:
        return {"step": "burnin_run", "priority": 0, "interface": "deploy", "reboot_requested": False,
                "abortable": True, "argsinfo": STEP_ARGS}

    def get_clean_steps(self, node, ports):
        return [self._step()]

    def get_service_steps(self, node, ports):
        return [self._step()]

    def burnin_run(self, node, ports, profile: str = "quick", duration: str | None = None, expect=None, only=None,
                   skip=None, sysroot: str | None = None, destructive=None, yes_destroy_data=None, **unknown):
        servicing = _servicing(node)
        failure = errors.ServicingError if servicing else errors.CleaningError
        if unknown:
            raise failure(f"burnin_run: unknown argument(s) {', '.join(sorted(unknown))} "
                          f"(known: {', '.join(STEP_ARGS)})")
        args = StepArgs(profile=profile or "quick", duration=duration, expect=expect, only=only, skip=skip,
                        sysroot=sysroot, destructive=destructive, yes_destroy_data=yes_destroy_data)
        try:
            return run_step(args, allow_destructive=not servicing, results_dir=results_dir())
        except StepFailed as exc:
            raise failure(str(exc)) from None

    def collect_system_logs(self, io_dict, file_list):
        """Ship burnin's results with the agent's logs (IPA calls this on every manager when it collects them)."""
        if os.path.isdir(results_dir()):
            file_list.append(results_dir())


def collect_burnin(data, failures):
    """Inspection collector: burnin's inventory of this machine and the last burnin verdict, as data["burnin"]."""
    from burnin.host import Host
    from burnin.inventory import collect

    found: dict[str, Any] = {"version": __version__, "last_run": last_result(results_dir())}
    try:
        found["inventory"] = collect(Host("/")).to_dict()
    except Exception as exc:  # noqa: BLE001 - one failing collector must not fail the inspection
        failures.add("burnin inventory failed: %s", exc)
    data["burnin"] = found
