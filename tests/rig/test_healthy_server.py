"""The healthy emulated server: inventory against the QEMU configuration, a whole run with no false FAIL,
and faults that need a clean machine (claims, a narrowed PCIe link, smartctl missing or hanging)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest

from rigcases import (MIB, RIG, TRANSPORTS, Case, boot, burnin, check_case, claims_toml, describe, findings, kv,
                      module_verdicts)
from rigvm.guest import Guest
from rigvm.server import SERVER

pytestmark = pytest.mark.rig

# -- the healthy boot ----------------------------------------------------------------------------------------
# Short `burnin check` invocations first (each with one fault that needs an otherwise clean machine, undone
# after), then the healthy run, then the disk tool faults.


@dataclass
class HealthyBoot:
    guest: Guest
    modules: dict[str, dict]  # burnin modules --json, by name


@dataclass
class HealthyRun:
    rc: int
    records: list[dict]
    summary: dict | None
    log: str
    modules: dict[str, dict]

    @property
    def inventory(self) -> dict:
        return next(r for r in self.records if r["type"] == "inventory")["inventory"]


@pytest.fixture(scope="module")
def healthy_boot(rig_image, rig_report):
    with boot("healthy", rig_image, rig_report) as guest:
        listing = guest.sh("burnin modules --json", check=True)
        yield HealthyBoot(guest, {m["name"]: m for m in json.loads(listing.out)["modules"]})


@pytest.fixture(scope="module")
def healthy(healthy_boot, rig_report) -> HealthyRun:
    started = time.monotonic()
    rc, records, summary, log = burnin(healthy_boot.guest, f"run {RIG}", "healthy")
    rig_report.timing("healthy: burnin run (rig = ci + budgets)", time.monotonic() - started)
    return HealthyRun(rc, records, summary, log, healthy_boot.modules)


def test_claims_that_match_the_configuration_all_hold(healthy_boot):
    (healthy_boot.guest.share / "out" / "claims-true.toml").write_text(claims_toml(4, 2))
    rc, records, _, log = burnin(healthy_boot.guest, f"check {RIG} --only inventory --expect out/claims-true.toml",
                                 "claims-true")
    checked = [f for f in findings(records) if f["code"].startswith("claim-")]
    assert checked, log[-2000:]
    wrong = [describe(f) + f" {f['evidence']}" for f in checked if f["code"] != "claim-match"]
    assert not wrong
    # The exit status is not the point here: ci requires the cpu module, which --only leaves out (run ERROR).
    assert module_verdicts(records)["inventory"] == "PASS"


def test_dimm_claimed_but_empty_fails_claim_mismatch(healthy_boot, rig_report):
    # The listing promises 5 DIMMs / 2.5 GiB: one of the empty slots is claimed populated.
    (healthy_boot.guest.share / "out" / "claims-extra-dimm.toml").write_text(claims_toml(5, 2.5))
    rc, records, _, _ = burnin(healthy_boot.guest, f"check {RIG} --only inventory --expect out/claims-extra-dimm.toml",
                               "claims-extra-dimm")
    case = Case("dimm-claimed-but-empty", "claims file: dimm_count = 5, total_gib = 2.5 (SMBIOS: 4 of 8 slots)",
                "inventory", ("claim-mismatch",), ("fail",), lambda _: "claim:memory.dimm_count")
    check_case(case, {}, records, set(healthy_boot.modules), rig_report)
    assert rc == 1


def test_pcie_link_below_its_slot_fails_naming_the_device(healthy_boot, rig_report):
    # QEMU 7.2 trains every endpoint at 2.5 GT/s x1 and says x1 is its best, so no emulated link is ever
    # narrower than it could be. The device's own capability is raised in sysfs instead (a bind mount over
    # max_link_width: "this drive can do x4"), behind a root port that offers x4: the real link stays x1.
    guest = healthy_boot.guest
    details = kv(guest.sh("rig-fault pcie-max-width nvme0n1 4", check=True).out)
    try:
        rc, records, _, _ = burnin(guest, f"check {RIG} --only pcie", "pcie-narrow")
    finally:
        guest.sh("rig-fault pcie-restore")
    case = Case("pcie-link-below-slot", "sysfs: NVMe max_link_width 4, trained x1, port x4 (bind mount)", "pcie",
                ("pcie-link-degraded",), ("fail",), lambda d: f"pcie:{d['pci']}")
    check_case(case, details, records, set(healthy_boot.modules), rig_report)
    assert rc == 1


def test_healthy_run_finds_no_fault(healthy):
    assert healthy.summary is not None, f"no --json summary; stderr:\n{healthy.log[-3000:]}"
    fails = [describe(f) + ": " + f["message"] for f in findings(healthy.records) if f["severity"] == "fail"]
    assert not fails, "false FAIL on the healthy emulated server:\n" + "\n".join(fails)
    assert healthy.summary["verdict"] in ("PASS", "WARN"), healthy.log[-3000:]
    assert healthy.rc == 0


def test_healthy_run_runs_every_module_that_applies(healthy):
    verdicts = module_verdicts(healthy.records)
    available = {name for name, m in healthy.modules.items() if m["available"]}
    assert available <= set(verdicts), f"modules that can run but did not: {available - set(verdicts)}"
    untested = {name: verdicts[name] for name in available if verdicts[name] in ("SKIP", "ERROR", "INCOMPLETE")}
    reasons = {r["module"]: r["reason"] for r in healthy.records if r["type"] == "module_end"}
    assert not untested, {name: f"{v}: {reasons[name]}" for name, v in untested.items()}


def test_healthy_run_warnings_are_the_known_emulation_ones(healthy):
    """WARNs the emulated server causes, each explained: anything else is a regression to look at."""
    explained = {
        # QEMU's MegaRAID emulation answers the kernel's first TEST UNIT READY with "Hardware Error / Internal
        # target failure" while the disk attaches at boot: real kernel lines, logged before burnin starts.
        ("kernel-log", "kernel-errors-before-run"),
        # The emulated disks are files on a host that other jobs share: some regions read far slower than others.
        ("disk", "disk-slow-region"),
        # ... and when the host is busy (TCG shares its cores with other work), a single read of an emulated disk
        # can stall past the 2 s `slow_read_s` (seen on sdc while the host ran several test suites).
        ("disk", "disk-slow-read"),
        # Emulated memory moves at well under 1% of the DIMMs' rate, and each node's figure depends on which host
        # core runs its vCPU and what else runs there: nodes differ by more than the 60% the module accepts.
        ("memory", "memory-bandwidth-low"),
        # QEMU's e1000 misses frames (rx_missed_errors) when the slow emulated guest does not empty its receive
        # ring in time, in the traffic test and after it (rig.toml makes the traffic test's drops a WARN).
        ("network", "traffic-drops"),
        ("network", "drop-growth"),
        # The emulated MegaRAID (megasas-gen2) has no storcli in the guest: the raid module says what it could not
        # examine without it (a true statement about any MegaRAID without its tool, not an emulation fault).
        ("raid", "raid-not-examined"),
    }
    warns = {(f["module"], f["code"]): describe(f) for f in findings(healthy.records) if f["severity"] == "warn"}
    unexplained = sorted(v for k, v in warns.items() if k not in explained)
    assert not unexplained, "unexplained WARNs on the healthy emulated server: " + "; ".join(unexplained)


def test_inventory_matches_the_qemu_configuration(healthy):
    inv = healthy.inventory
    system = inv["system"]
    assert (system["vendor"], system["product"], system["serial"]) == (
        SERVER.system["manufacturer"], SERVER.system["product"], SERVER.system["serial"])
    assert (system["board_serial"], system["bios_version"]) == (SERVER.board["serial"], SERVER.bios["version"])
    cpu = inv["cpu"]
    assert (cpu["sockets"], cpu["threads"]) == (SERVER.sockets, SERVER.cpus)
    assert [s["model"] for s in cpu["socket_records"]] == [SERVER.processor["version"]] * SERVER.sockets

    memory = inv["memory"]
    slots = SERVER.dimm_slots
    assert (memory["slot_count"], memory["dimm_count"]) == (len(slots), sum(s.populated for s in slots))
    assert memory["ecc_protected"] is True
    seen = [(d["locator"], d["populated"], d["size_bytes"], d["serial"], d["part_number"], d["speed_mts"])
            for d in memory["dimms"]]
    wanted = [(s.locator, s.populated, s.size_mb * MIB, s.serial or None, s.part or None, s.speed_mts or None)
              for s in slots]
    assert seen == wanted
    nodes = {n["node"]: n for n in memory["numa_nodes"]}
    assert sorted(nodes) == list(range(SERVER.sockets))
    for node in nodes.values():
        assert node["cpulist"] == str(node["node"])  # one CPU per socket, socket = node
        assert abs(node["mem_total_bytes"] - SERVER.mem_mb // SERVER.sockets * MIB) < 128 * MIB

    disks = {d["serial"]: d for d in inv["disks"] if d["serial"]}
    assert set(disks) == {d.serial for d in SERVER.disks}
    for d in SERVER.disks:
        assert disks[d.serial]["transport"] == TRANSPORTS[d.kind], d
        assert disks[d.serial]["size_bytes"] == d.size_mb * MIB, d
        assert not disks[d.serial]["system"]
    system_disks = [d["name"] for d in inv["disks"] if d["system"]]
    assert system_disks == ["vda"]

    nics = {n["mac"]: n for n in inv["nics"]}
    assert set(nics) == {n.mac for n in SERVER.nics}
    for n in SERVER.nics:
        assert (nics[n.mac]["driver"], nics[n.mac]["carrier"], nics[n.mac]["speed_mbps"]) == (n.driver, True, 1000)

    # PCIe: every root port offers the link QEMU was told (x-speed, x-width); each NVMe drive sits behind its port.
    devices = {d["address"]: d for d in inv["pcie"]["devices"]}
    ports = sorted((d["link_speed_max_gts"], d["link_width_max"]) for d in devices.values()
                   if (d["device_name"] or "").endswith("Root port") or "Root port" in (d["device_name"] or ""))
    assert ports == sorted((float(rp.speed_gts), rp.width) for rp in SERVER.root_ports)
    for d in SERVER.disks:
        if d.kind != "nvme":
            continue
        disk = disks[d.serial]
        port = devices[devices[disk["pci_address"]]["parent"]]
        rp = next(r for r in SERVER.root_ports if r.id == d.bus)
        assert (port["link_speed_max_gts"], port["link_width_max"]) == (float(rp.speed_gts), rp.width), d


def test_smartctl_missing_disk_module_cannot_test_and_the_run_ends(healthy_boot, rig_report):
    row = rig_report.add_case("smartctl-missing", "smartctl moved out of PATH", "ERROR/SKIP disk, the run ends")
    if "disk" not in healthy_boot.modules:
        row.result = "SKIP: no disk module"
        pytest.skip("no disk module registered")
    guest = healthy_boot.guest
    guest.sh("rig-fault hide-tool smartctl", check=True)
    try:
        started = time.monotonic()
        rc, records, summary, log = burnin(guest, f"run {RIG} --only disk --duration 10s", "no-smartctl",
                                           timeout_s=300)
        elapsed = time.monotonic() - started
    finally:
        guest.sh("rig-fault restore-tool smartctl")
    verdict = module_verdicts(records).get("disk")
    reason = next((r["reason"] for r in records if r["type"] == "module_end" and r["module"] == "disk"), "")
    row.detected, row.component = f"disk {verdict}: {reason}"[:120], f"run ended in {elapsed:.0f} s"
    assert any(r["type"] == "run_end" for r in records), log[-2000:]
    # The disk module still read-scans without smartctl; what it must not do is judge SMART it never read, or
    # end a clean PASS: it WARNs that the drives' health is unknown.
    unread = [f for f in findings(records) if f["module"] == "disk" and f["code"] == "smart-not-read"]
    assert verdict in ("ERROR", "SKIP", "WARN"), f"disk said {verdict}: {reason}"
    assert unread and "smartctl is not installed" in unread[0]["message"], [describe(f) for f in findings(records)]
    row.result = "PASS" if verdict in ("ERROR", "SKIP") else f"PASS ({verdict}: smart-not-read, read scan ran)"


def test_smartctl_hanging_disk_module_errors_and_the_run_ends(healthy_boot, rig_report):
    row = rig_report.add_case("smartctl-hangs", "smartctl that never answers, first in PATH",
                              "ERROR disk, the run ends")
    if "disk" not in healthy_boot.modules:
        row.result = "SKIP: no disk module"
        pytest.skip("no disk module registered")
    guest = healthy_boot.guest
    guest.sh("rig-fault hang-tool smartctl", check=True)
    try:
        started = time.monotonic()
        # ci's own 30 s phase budget is what must end the hang (rig's 3 minutes would only make it slower)
        rc, records, summary, log = burnin(guest, "run --profile ci --only disk --duration 10s", "hung-smartctl",
                                           timeout_s=400)
        elapsed = time.monotonic() - started
    finally:
        guest.sh("rig-fault restore-tool smartctl; pkill -f 'sleep 86400' || true")
    verdict = module_verdicts(records).get("disk")
    reason = next((r["reason"] for r in records if r["type"] == "module_end" and r["module"] == "disk"), "")
    row.detected, row.component = f"disk {verdict}: {reason}"[:120], f"run ended in {elapsed:.0f} s"
    assert any(r["type"] == "run_end" for r in records), log[-2000:]
    assert verdict == "ERROR", f"disk said {verdict}: {reason}"
    row.result = "PASS"


