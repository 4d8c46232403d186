"""One burnin run on the emulated server while independent faults are injected a few seconds apart, each on its
own component; every fault must be found and its component named.

Before the run: an LM75 sensor on an emulated SMBus (45.5 C), machine-check polling every second, and a 64 MiB
scsi_debug disk whose sectors 4660-4667 cannot be read (burnin's read scan is expected to find them itself).
During the run phase: the timeline below, from the host (QMP) and inside the guest (rig-fault).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Callable

import pytest

from rigcases import (FAULT_RUN_DURATION_S, MCE_CORRECTED, RIG_FAULTS, Case, boot, check_case, describe, findings,
                      journal, kv)
from rigvm.guest import Guest
from rigvm.server import SERVER

pytestmark = pytest.mark.rig

NVME0, NVME1, NVME2 = SERVER.disk("nvme0"), SERVER.disk("nvme1"), SERVER.disk("nvme2")
E1000 = SERVER.nic("nic1")  # QEMU 7.2's e1000e ignores set_link (its carrier stays up); the e1000 honours it
HOT_SERIAL = "SCSI-SN-HOT1"
INJECTION_WINDOW_S = FAULT_RUN_DURATION_S - 30  # every injection must land this early: finish() must see it


@dataclass
class FaultRun:
    modules: set[str]
    setup: dict[str, str] = field(default_factory=dict)  # what was prepared before the run (devices, interfaces)
    injections: dict[str, dict] = field(default_factory=dict)  # case name -> details (or {"error": ...})
    records: list[dict] = field(default_factory=list)
    summary: dict | None = None
    log: str = ""


def _qmp(guest: Guest, command: str, **arguments) -> dict:
    guest.qmp(command, **arguments)
    return {"host_time": f"{time.time():.3f}"}


def _in_guest(guest: Guest, script: str) -> dict:
    result = guest.sh(script)
    if result.rc != 0:
        return {"error": f"rc {result.rc}: {result.out}{result.err}"}
    return kv(result.out)


def _nic_flap(guest: Guest, setup: dict) -> dict:
    guest.qmp("set_link", name=E1000.id, up=False)
    t = time.time()
    time.sleep(4)
    guest.qmp("set_link", name=E1000.id, up=True)
    return {"host_time": f"{t:.3f}", "iface": setup["e1000"]}


def _disk_added(guest: Guest) -> dict:
    guest.qmp("blockdev-add", driver="null-co", **{"node-name": "hotdisk", "size": 1 << 30})
    guest.qmp("device_add", driver="scsi-hd", id="scsi-hot", drive="hotdisk", bus="vscsi0.0", serial=HOT_SERIAL,
              **{"scsi-id": 0, "lun": 1})
    return {"host_time": f"{time.time():.3f}", "serial": HOT_SERIAL}


def _aer_line(guest: Guest) -> dict:
    return _in_guest(guest, "pci=$(basename $(readlink -f /sys/block/nvme0n1/device/device)); echo pci=$pci; "
                            "rig-fault kmsg 3 \"nvme $pci: PCIe Bus Error: severity=Uncorrected (Non-Fatal), "
                            "type=Transaction Layer, (Requester ID)\"")


# (case, how to inject it given the setup, seconds to wait before the next one). Each touches its own component.
FAULT_TIMELINE: list[tuple[Case, Callable[[Guest, dict], dict], float]] = [
    (Case("nvme-removed", f"QMP device_del nvme2 ({NVME2.serial})", "inventory", ("hardware-vanished",),
          ("fail",), lambda _: NVME2.serial),
     lambda g, s: _qmp(g, "device_del", id=NVME2.id), 1),
    (Case("kmsg-memory-ue", "kernel log line: EDAC MC0: 1 UE ... on CPU1_DIMM_A1", "kernel-log",
          ("edac-uncorrected",), ("fail",), lambda _: "dimm:CPU1_DIMM_A1", max_latency_s=2.0),
     lambda g, s: _in_guest(g, "rig-fault kmsg 3 'EDAC MC0: 1 UE memory read error on CPU1_DIMM_A1 "
                               "(channel:0 slot:0 page:0x1234 offset:0x0 grain:8 syndrome:0x0)'"), 1),
    (Case("disk-added", f"QMP device_add scsi-hd {HOT_SERIAL} on virtio-scsi", "inventory", ("hardware-appeared",),
          ("warn",), lambda d: d["serial"]),
     lambda g, s: _disk_added(g), 1),
    (Case("lm75-over-max", "i2c-stub LM75 set to 90 C (max 80 C)", "thermal", ("temp-above-max", "temp-critical"),
          ("warn", "fail"), lambda _: "lm75"),
     lambda g, s: _in_guest(g, "rig-fault lm75-set 90"), 1),
    (Case("host-mce-corrected", f"QMP HMP '{MCE_CORRECTED}'", "kernel-log", ("machine-check-corrected",),
          ("warn",), lambda _: "cpu:0"),
     lambda g, s: {"host_time": f"{time.time():.3f}", "hmp": g.hmp(MCE_CORRECTED)}, 1),
    (Case("nvme-critical-warning", f"QMP qom-set nvme0 smart_critical_warning=0x4 ({NVME0.serial})", "disk",
          ("nvme-critical-warning", "smart-health-failed"), ("fail",), lambda _: NVME0.serial, requires=("disk",)),
     lambda g, s: _qmp(g, "qom-set", path=f"/machine/peripheral/{NVME0.id}", property="smart_critical_warning",
                       value=4), 1),
    (Case("nvme-over-temperature", "nvme set-feature: nvme1 temperature threshold 46 C < 50 C", "thermal",
          ("temp-above-max", "temp-critical"), ("warn", "fail"), lambda _: "nvme1"),
     lambda g, s: _in_guest(g, "rig-fault nvme-overtemp nvme1"), 1),
    (Case("nic-link-flap", f"QMP set_link {E1000.id} (e1000) off 4 s, on", "network", ("link-flap",),
          ("fail", "warn"), lambda d: f"nic:{d['iface']}", requires=("network",)),
     _nic_flap, 1),
    (Case("kmsg-pcie-aer", "kernel log line: nvme <nvme0>: PCIe Bus Error: severity=Uncorrected (Non-Fatal)",
          "kernel-log", ("pcie-aer-uncorrectable",), ("fail",), lambda d: f"pcie:{d['pci']}", max_latency_s=2.0),
     lambda g, s: _aer_line(g), 1),
    # No latency bound here: it is counted from the start of dd, and the kernel logs the error only after the
    # SCSI layer gives up on the sectors (the 2 s bound is for lines written straight into the log, above).
    (Case("disk-medium-error", "scsi_debug sectors 4660-4667 unreadable; dd reads them", "kernel-log",
          ("disk-io-error", "scsi-sense-error"), ("fail",), lambda d: f"disk:/dev/{d['dev']}"),
     lambda g, s: _in_guest(g, "rig-fault read-bad-sector"), 1),
]
# More findings of the same faults, by other modules (the source case's injection details apply).
EXTRA_CASES: list[tuple[str, Case]] = [
    ("nvme-removed", Case("nvme-removed/pcie", f"QMP device_del nvme2 ({NVME2.serial})", "pcie",
                          ("pcie-device-missing",), ("fail",), lambda _: "pcie:")),
    ("nvme-removed", Case("nvme-removed/devices", f"QMP device_del nvme2 ({NVME2.serial})", "devices",
                          ("device-removed",), ("fail",), lambda _: NVME2.serial, requires=("devices",))),
    ("disk-medium-error", Case("disk-medium-error/read-scan", "scsi_debug sectors 4660-4667 unreadable (before run)",
                               "disk", ("disk-read-error",), ("fail",), lambda d: f"disk:/dev/{d['dev']}",
                               evidence=lambda e: 4660 <= int(e.get("lba", -1)) <= 4667, requires=("disk",),
                               timed=False)),
    ("nic-link-flap", Case("nic-link-flap/kernel-log", f"QMP set_link {E1000.id} (e1000) off 4 s, on",
                           "kernel-log", ("nic-link-down",), ("warn", "fail"), lambda d: f"nic:{d['iface']}")),
]


@pytest.fixture(scope="module")
def fault_run(rig_image, rig_report):
    with boot("faults", rig_image, rig_report) as guest:
        run = FaultRun(set(m["name"] for m in json.loads(guest.sh("burnin modules --json").out)["modules"]))
        prepared = guest.sh("echo on > /proc/sys/kernel/printk_devkmsg; rig-fault mce-poll; rig-fault lm75-add 45.5; "
                            "rig-fault scsi-debug-add; "
                            f"echo e1000=$(grep -l {E1000.mac} /sys/class/net/*/address | cut -d/ -f5)", check=True)
        run.setup = kv(prepared.out)
        guest.sh(f"cd /mnt/rig && mkdir -p /var/tmp/rig && (nice -n 10 burnin run {RIG_FAULTS} "
                 f"--duration {FAULT_RUN_DURATION_S}s --json --journal /var/tmp/rig/faults.jsonl "
                 f"> out/faults.json 2> out/faults.log; rc=$?; cp /var/tmp/rig/faults.jsonl out/; echo $rc > out/faults.rc)"
                 f" > /dev/null 2>&1 < /dev/null &", check=True)
        log = guest.share / "out" / "faults.log"
        deadline = time.monotonic() + 400
        while "== stress and monitor" not in (log.read_text() if log.exists() else ""):
            assert time.monotonic() < deadline, f"the run phase never started:\n{log.read_text()[-2000:]}"
            assert not (guest.share / "out" / "faults.rc").exists(), log.read_text()[-2000:]
            time.sleep(0.5)
        started = time.monotonic()
        for case, inject, pause in FAULT_TIMELINE:
            at = time.monotonic() - started
            try:
                details = inject(guest, run.setup)
            except Exception as exc:  # noqa: BLE001 - one failed injection must not hide the others' results
                details = {"error": f"{type(exc).__name__}: {exc}"}
            if at > INJECTION_WINDOW_S:
                details = {"error": f"injected {at:.0f} s into a {FAULT_RUN_DURATION_S} s run phase: too late to judge"}
            run.injections[case.name] = {**run.setup, **details, "at_s": f"{at:.1f}"}
            time.sleep(pause)
        rig_report.timing(f"faults: {len(FAULT_TIMELINE)} injections", time.monotonic() - started)
        guest.wait_for(guest.share / "out" / "faults.rc", timeout_s=900, poll_s=1)
        rig_report.timing(f"faults: burnin run, {FAULT_RUN_DURATION_S} s run phase to the end",
                          time.monotonic() - started)
        out = guest.share / "out"
        run.records = journal(out / "faults.jsonl")
        text = (out / "faults.json").read_text()
        run.summary = json.loads(text) if text.strip() else None
        run.log = log.read_text()
    yield run


@pytest.mark.parametrize("case", [c for c, _, _ in FAULT_TIMELINE], ids=lambda c: c.name)
def test_fault_injected_during_the_run_is_found(fault_run, rig_report, case):
    check_case(case, fault_run.injections.get(case.name), fault_run.records, fault_run.modules, rig_report)


@pytest.mark.parametrize("source,case", EXTRA_CASES, ids=[c.name for _, c in EXTRA_CASES])
def test_other_modules_see_the_same_fault(fault_run, rig_report, source, case):
    check_case(case, fault_run.injections.get(source), fault_run.records, fault_run.modules, rig_report)


def test_fault_run_ends_with_a_fail_verdict(fault_run):
    assert fault_run.summary is not None, fault_run.log[-3000:]
    assert fault_run.summary["verdict"] == "FAIL"
    assert any(r["type"] == "run_end" for r in fault_run.records)


def test_corrected_machine_check_is_not_a_fail(fault_run):
    t = float(fault_run.injections["host-mce-corrected"]["host_time"])
    fails = [describe(f) for f in findings(fault_run.records)
             if f["module"] == "kernel-log" and f["code"] == "machine-check" and f["t"] >= t - 5]
    assert not fails, fails
