"""The whole inventory: on this live host, on captured trees (--sysroot), and from a dmidecode dump.

The captured procfs tree is also compared with a golden JSON file (tests/data/sysfs/procfs.inventory.json);
after an intended change, rewrite it with BURNIN_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from burnin.host import Host
from burnin.inventory import SmbiosError, collect, inventory_findings
from burnin.inventory.claims import check_claims, claims_template, load_claims

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "sysfs" / "procfs.inventory.json"


def test_live_host_inventory_matches_the_os_and_is_fast():
    start = time.monotonic()
    inventory = collect(Host("/"))
    elapsed = time.monotonic() - start
    assert elapsed < 2.0, f"collect() took {elapsed:.2f} s"
    assert inventory.source == "host"
    assert inventory.cpu.threads == os.cpu_count()
    if len(os.sched_getaffinity(0)) == os.cpu_count():  # nproc counts only the CPUs we may run on
        assert inventory.cpu.threads == int(subprocess.run(["nproc"], capture_output=True, text=True).stdout)
    meminfo = Path("/proc/meminfo").read_text()
    mem_kib = int(next(line for line in meminfo.splitlines() if line.startswith("MemTotal:")).split()[1])
    assert inventory.memory.total_bytes == mem_kib * 1024
    physical = sorted(n for n in os.listdir("/sys/class/net") if os.path.exists(f"/sys/class/net/{n}/device"))
    assert sorted(n.name for n in inventory.nics) == physical
    assert sorted(d.address for d in inventory.pcie.devices) == sorted(os.listdir("/sys/bus/pci/devices"))
    json.dumps(inventory.to_dict())  # the journal record is plain JSON
    if not os.path.exists("/sys/firmware/dmi/tables/DMI"):
        why = "SMBIOS tables not readable: /sys/firmware/dmi/tables/DMI absent"
        assert any(n.startswith(why) for n in inventory.notes)


def test_captured_tree_inventory_matches_the_golden_file():
    record = collect(Host(DATA / "sysfs" / "procfs")).to_dict()
    if os.environ.get("BURNIN_UPDATE_GOLDEN"):
        GOLDEN.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    assert record == json.loads(GOLDEN.read_text())


def test_captured_tree_system_identity_comes_from_dmi_id():
    inventory = collect(Host(DATA / "sysfs" / "procfs"))
    system = inventory.system
    assert (system.vendor, system.product, system.serial, system.source) == (
        "Dell Inc.", "PowerEdge R6515", "7N62AI2", "dmi-id")
    assert (system.bios_version, system.bios_date, system.chassis_type) == ("2.2.4", "04/12/2021", "Rack Mount Chassis")
    assert inventory.notes == (
        "SMBIOS tables not readable: /sys/firmware/dmi/tables/DMI absent (not in the captured tree)",
        "memory total not read: /proc/meminfo absent",
        "mount points not known: /proc/self/mounts absent, so no disk is known to be in use",
    )


def test_captured_vm_states_what_it_lacks():
    inventory = collect(Host(DATA / "sysfs" / "vm-virtio"))
    assert inventory.notes == (
        "SMBIOS tables not readable: /sys/firmware/dmi/tables/DMI absent (not in the captured tree)",
        "system identity not readable: /sys/class/dmi/id absent (not in the captured tree)",
        "PCI names not available: no pci.ids at /usr/share/misc/pci.ids or /usr/share/hwdata/pci.ids",
    )
    assert inventory_findings(inventory) == []  # no DIMM list: nothing to judge, and nothing invented


def test_dmidecode_dump_inventory_describes_the_dumped_machine_only():
    (path,) = (DATA / "dmidecode").glob("*PowerEdge_R740*.dmidecode.txt")
    inventory = collect(Host("/"), path.read_text())
    assert inventory.source == "dmidecode"
    assert (inventory.system.product, inventory.system.source, inventory.system.smbios_version) == (
        "PowerEdge R740", "dmidecode-text", "3.2.0")
    assert (inventory.cpu.sockets, inventory.memory.dimm_count, inventory.memory.total_bytes) == (2, 16, None)
    assert inventory.disks == () and inventory.nics == () and inventory.pcie.devices == ()
    assert inventory.notes[0].startswith("from a dmidecode dump:")
    # the OS total of *this* machine is never compared with the dump's DIMMs
    assert [f.code for f in inventory_findings(inventory)] == ["dimm-speed-below-rated"]
    json.dumps(inventory.to_dict())


def test_a_file_that_is_not_a_dump_raises_a_clear_error():
    with pytest.raises(SmbiosError, match="not dmidecode output"):
        collect(Host("/"), (DATA / "dmidecode" / "Server__README.md.dmidecode.txt").read_text())


def test_live_template_round_trip(tmp_path):
    inventory = collect(Host("/"))
    path = tmp_path / "claims.toml"
    path.write_text(claims_template(inventory))
    checks = check_claims(load_claims(path), inventory)
    assert [c.key for c in checks if c.ok is not True] == []
