"""PCIe devices from /sys/bus/pci/devices: ids, names, class, links, NUMA node, slot names, BMC evidence."""

from __future__ import annotations

import shutil
from pathlib import Path

from burnin.host import Host
from burnin.inventory.pcie import (
    collect_pcie,
    device_kind,
    parse_aer,
    parse_link_speed,
    parse_link_width,
    parse_pci_ids,
)
from burnin.inventory.smbios import SlotRecord

DATA = Path(__file__).parent / "data" / "sysfs"
PROCFS = Host(DATA / "procfs")


def _devices(host=PROCFS, slots=()):
    info, notes = collect_pcie(host, slots)
    return {d.address: d for d in info.devices}, info, notes


def test_devices_of_a_real_tree_with_names_links_and_numa_node():
    devices, info, notes = _devices()
    assert sorted(devices) == ["0000:00:02.1", "0000:01:00.0", "0000:a2:00.0"]
    assert info.names_source == "/usr/share/misc/pci.ids" and notes == []
    nvme = devices["0000:01:00.0"]
    assert (nvme.kind, nvme.class_code, nvme.is_storage_controller) == ("nvme", 0x010802, True)
    assert (nvme.vendor_name, nvme.device_name) == ("Micron/Crucial Technology", "P2 NVMe PCIe SSD")
    assert nvme.driver == "nvme"
    assert nvme.class_name == "Non-Volatile memory controller"
    assert (nvme.link_speed_gts, nvme.link_speed_max_gts, nvme.link_width, nvme.link_width_max) == (8.0, 8.0, 4, 4)
    assert nvme.parent == "0000:00:02.1" and not nvme.link_degraded
    nic = devices["0000:a2:00.0"]
    assert (nic.kind, nic.is_nic, nic.driver, nic.numa_node) == ("nic", True, "ice", 1)
    assert nic.name == "Intel Corporation Ethernet Controller E810-XXV for SFP [8086:159b]"
    assert nic.link_speed_gts == 16.0 and nic.parent is None


def test_root_port_running_below_its_maximum_width_is_visible():
    devices, _, _ = _devices()
    port = devices["0000:00:02.1"]
    assert (port.kind, port.driver, port.numa_node) == ("bridge", "pcieport", None)  # numa_node -1: none
    assert (port.link_width, port.link_width_max, port.link_degraded) == (4, 8, True)


def test_slot_names_from_smbios_apply_to_the_device_and_what_sits_behind_it():
    slots = (SlotRecord(0x900, "PCIe Slot 2", "x8 PCI Express 3 x8", "In Use", "0000:00:02.1"),
             SlotRecord(0x901, "PCIe Slot 5", "x16 PCI Express 4 x16", "Available", None))
    devices, _, _ = _devices(slots=slots)
    assert devices["0000:00:02.1"].slot == "PCIe Slot 2"
    assert devices["0000:01:00.0"].slot == "PCIe Slot 2"  # behind that port
    assert devices["0000:a2:00.0"].slot is None


def test_without_pci_ids_names_are_missing_and_that_is_said():
    devices, info, notes = _devices(Host(DATA / "vm-virtio"))
    assert len(devices) == 6 and info.names_source is None
    assert notes == ["PCI names not available: no pci.ids at /usr/share/misc/pci.ids or /usr/share/hwdata/pci.ids"]
    disk = devices["0000:00:02.0"]
    assert (disk.vendor_id, disk.device_id, disk.kind, disk.driver) == (0x1AF4, 0x1042, "storage", "virtio-pci")
    assert disk.name == "[1af4:1042]"
    assert info.bmc_present is None  # no sign of one: not the same as "none"


def test_ipmi_device_node_is_evidence_of_a_bmc(tmp_path):
    root = tmp_path / "root"
    shutil.copytree(DATA / "procfs", root, symlinks=True)
    (root / "dev").mkdir()
    (root / "dev/ipmi0").write_text("")
    _, info, _ = _devices(Host(root))
    assert (info.bmc_present, info.bmc_evidence) == (True, "/dev/ipmi0 present")


def test_device_kinds_from_class_codes():
    assert device_kind(0x010400, 0x1000) == "raid"
    assert device_kind(0x010700, 0x1000) == "sas"
    assert device_kind(0x010601, 0x8086) == "sata"
    assert device_kind(0x030200, 0x10DE) == "gpu"
    assert device_kind(0x030000, 0x1A03) == "display"  # ASPEED BMC graphics, not a GPU
    assert device_kind(0x0C0700, 0x8086) == "ipmi"


def test_link_speed_parses_new_and_old_kernel_formats():
    assert parse_link_speed("8.0 GT/s PCIe") == 8.0
    assert parse_link_speed("2.5 GT/s") == 2.5
    assert parse_link_speed("16 GT/s") == 16.0
    assert parse_link_speed("Unknown") is None
    assert parse_link_speed("Unknown speed") is None


def test_link_width_zero_means_link_down():
    assert parse_link_width("16") == 16
    assert parse_link_width("x4") == 4
    assert parse_link_width("0") is None


def test_aer_file_parses_every_counter_line():
    # A real capture (prometheus/procfs fixtures, tests/data/pcie/SOURCE.md) whose counters were hand-set.
    aer = Path(__file__).parent / "data" / "pcie" / "procfs-fixture" / "sys/devices/pci0000:00/0000:00:1f.6"
    counts = parse_aer((aer / "aer_dev_correctable").read_text())
    assert counts["RxErr"] == 1 and counts["HeaderOF"] == 8 and counts["TOTAL_ERR_COR"] == 9


def test_pci_ids_parser_keeps_only_wanted_vendors():
    text = (DATA / "procfs/usr/share/misc/pci.ids").read_text()
    names = parse_pci_ids(text, {0x8086})
    assert names.vendors == {0x8086: "Intel Corporation"}
    assert names.devices[(0x8086, 0x15D7)] == "Ethernet Connection (4) I219-LM"
    assert (0x1022, 0x1634) not in names.devices
    assert names.classes[(0x02, 0x00)] == "Ethernet controller"
    assert names.classes[(0x01, None)] == "Mass storage controller"
