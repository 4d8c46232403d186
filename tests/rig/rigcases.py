"""Shared by the rig tests (marker `rig`): running burnin in the guest, reading its journal, and fault cases
with the finding that must name them.

The rig runs whole burnin runs on the emulated server of scripts/rig, with real kernel drivers under the
devices, and injects faults from the host (QMP) or inside the guest (scripts/rig/guest/usr/local/sbin/rig-fault)
while burnin watches. Two boots keep the suite inside CI's time, one guest at a time (each test file's guest is
shut down before the next file's boots): test_healthy_server.py (short `burnin check` runs with one fault each
that need a clean machine, then the healthy run, then smartctl missing or hanging) and test_injected_faults.py
(one `burnin run` during which independent faults are injected a few seconds apart, each on its own
component). Every case records what was injected and what burnin said; the session prints the table
"fault -> detected / component named" at the end (conftest.py).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from rigvm.guest import AGENT_JOB, Guest, new_run_dir
from rigvm.server import SERVER

MIB = 1 << 20
RIG = "--profile profiles/rig.toml"  # ci with phase budgets for emulation (scripts/rig/profiles)
RIG_FAULTS = "--profile profiles/rig-faults.toml"  # ... without the network traffic test
FAULT_RUN_DURATION_S = 150
TRANSPORTS = {"nvme": "NVMe", "sata": "SATA", "megasas": "SCSI", "virtio-scsi": "virtio"}
# A corrected memory error (MCi_STATUS VAL|EN|ADDRV, MCACOD 0x90) in bank 1 of CPU 0. An uncorrected one panics
# the emulated CPU (it has no MCA recovery), so the rig injects corrected ones only.
MCE_CORRECTED = "mce 0 1 0x9400000000000090 0 0x7e000000 0"


# -- helpers -------------------------------------------------------------------------------------------------


def kv(text: str) -> dict[str, str]:
    """rig-fault's output: key=value pairs on any line."""
    return dict(m.groups() for m in re.finditer(r"(\w+)=(\S+)", text))


def journal(path: Path) -> list[dict]:
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            pass  # a torn last line
    return records


def findings(records: list[dict]) -> list[dict]:
    return [r for r in records if r["type"] == "finding"]


def describe(finding: dict) -> str:
    return f"{finding['severity'].upper()} {finding['module']}/{finding['code']} {finding['component']}"


def boot(label: str, image: Path, report) -> Guest:
    guest = Guest(new_run_dir(label), image).start(AGENT_JOB)
    try:
        boot_s = guest.wait_ready(timeout_s=600)
    except BaseException:
        guest.kill()
        raise
    report.timing(f"{label}: boot to agent", boot_s)
    return guest


def burnin(guest: Guest, args: str, name: str, timeout_s: float = 900) -> tuple[int, list[dict], dict | None, str]:
    """Run burnin in the guest: (exit status, journal, --json summary, stderr). The journal is written on the
    guest's own disk (as on a real machine: fsync on the 9p share is slow) and copied to RUN/share/out."""
    out = guest.share / "out"
    result = guest.sh(f"cd /mnt/rig && mkdir -p /var/tmp/rig && timeout {int(timeout_s)} nice -n 10 burnin {args} --json "
                      f"--journal /var/tmp/rig/{name}.jsonl > out/{name}.json 2> out/{name}.log; echo rc=$?; "
                      f"cp /var/tmp/rig/{name}.jsonl out/ 2>/dev/null", timeout_s=timeout_s + 60)
    rc = int(kv(result.out).get("rc", "-1"))
    text = (out / f"{name}.json").read_text()
    summary = json.loads(text) if text.strip() else None
    records = journal(out / f"{name}.jsonl") if (out / f"{name}.jsonl").exists() else []
    return rc, records, summary, (out / f"{name}.log").read_text()


def module_verdicts(records: list[dict]) -> dict[str, str]:
    return {r["module"]: r["verdict"] for r in records if r["type"] == "module_end"}


def claims_toml(dimm_count: int, total_gib: float) -> str:
    disks = {}
    for d in SERVER.disks:
        disks.setdefault(TRANSPORTS[d.kind], []).append(d)
    text = [
        "[system]", f'vendor = "{SERVER.system["manufacturer"]}"', f'product = "{SERVER.system["product"]}"',
        "[cpu]", f"sockets = {SERVER.sockets}", f"threads = {SERVER.cpus}",
        "[memory]", f"total_gib = {total_gib}", f"dimm_count = {dimm_count}", "speed_mts = 3200", "ecc = true",
        "[nics]", f"count = {len(SERVER.nics)}", "links_up = 2",
    ]
    for transport, members in disks.items():
        text += ["[[disks]]", f"count = {len(members)}", f'transport = "{transport}"']
    return "\n".join(text) + "\n"


# -- the fault cases -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One fault, and the finding that must name it."""

    name: str
    injected: str  # how, in words
    module: str
    codes: tuple[str, ...]
    severities: tuple[str, ...]
    component: Callable[[dict], str]  # the text the finding's component must contain, from the injection's details
    evidence: Callable[[dict], bool] = lambda _: True  # and what its evidence must show
    requires: tuple[str, ...] = ()  # modules that must be registered in the guest
    max_latency_s: float | None = None  # from the injection (guest clock) to the finding
    timed: bool = True  # False: the fault existed before the run, so no latency is measured

    @property
    def expected(self) -> str:
        return f"{'/'.join(self.severities)} {self.module} {'|'.join(self.codes)}"

    def matches(self, finding: dict, details: dict) -> bool:
        return (finding["module"] == self.module and finding["code"] in self.codes
                and finding["severity"] in self.severities and self.component(details) in finding["component"]
                and self.evidence(finding.get("evidence") or {}))


def check_case(case: Case, details: dict | None, records: list[dict], modules: set[str], report) -> None:
    """Assert that `case` was detected; record the row for the report either way."""
    injected = case.injected + (f" @+{float(details['at_s']):.0f}s" if details and "at_s" in details else "")
    row = report.add_case(case.name, injected, case.expected)
    missing = [m for m in case.requires if m not in modules]
    if missing:
        row.result = f"SKIP: no {', '.join(missing)} module"
        pytest.skip(f"module {', '.join(missing)} is not registered in this burnin")
    if details is None or "error" in details:
        row.result = "FAIL: injection failed"
        pytest.fail(f"injecting {case.name} failed: {details}")
    hits = [f for f in findings(records) if case.matches(f, details)]
    near = [describe(f) for f in findings(records) if f["module"] == case.module and f["code"] in case.codes]
    if hits:
        first = min(hits, key=lambda f: f["t"])
        row.detected = describe(first)
        row.component = first["component"]
        if "time" in details and case.timed:
            # Only findings after the injection measure its latency: burnin may have found the same fault first
            # (its read scan hits the bad sectors that the injection reads again).
            after = [f["t"] - float(details["time"]) for f in hits if f["t"] >= float(details["time"])]
            row.latency = f"{min(after):.1f} s" if after else "found before"
            if case.max_latency_s is not None and after and min(after) > case.max_latency_s:
                row.result = f"FAIL: {min(after):.1f} s > {case.max_latency_s:g} s"
                pytest.fail(f"{case.name}: found after {min(after):.1f} s, more than {case.max_latency_s} s")
        row.result = "PASS"
        return
    row.detected = "; ".join(near[:3]) or f"no {'|'.join(case.codes)} from {case.module}"
    row.result = "FAIL: not detected"
    pytest.fail(f"{case.name}: no {case.expected} finding naming {case.component(details)!r}; "
                f"{case.module} said: {near or 'nothing'}")


