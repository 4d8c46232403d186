"""Disks from /sys/block: identity, transport, size, and whether they hold data or the running system."""

from __future__ import annotations

from pathlib import Path

from burnin.host import Host
from burnin.inventory.disks import collect_disks, parse_vpd_serial, transport_of

DATA = Path(__file__).parent / "data" / "sysfs"


def _by_name(host: Host, **kwargs):
    disks, notes = collect_disks(host, **kwargs)
    return {d.name: d for d in disks}, notes


def test_nvme_and_sas_expander_drives_of_a_real_tree():
    disks, _ = _by_name(Host(DATA / "procfs"))
    assert sorted(disks) == ["nvme0n1", "sdv", "sdw", "sdx"]
    nvme = disks["nvme0n1"]
    assert (nvme.model, nvme.serial, nvme.firmware) == ("CT2000P3SSD8", "2328E6EDD8A7", "P9CR30A")
    assert nvme.wwn == "nvme.c0a9-323332384536454444384137-435432303030503353534438-00000001"
    assert (nvme.transport, nvme.size_bytes, nvme.rotational) == ("NVMe", 3907029168 * 512, False)
    assert nvme.pci_address == "0000:01:00.0"
    # a previous owner's partitions are still there
    assert nvme.partitions == ("nvme0n1p1", "nvme0n1p2", "nvme0n1p3") and nvme.partitioned


def test_serials_from_vpd_page_80_and_transport_behind_a_sas_expander():
    disks, _ = _by_name(Host(DATA / "procfs"))
    sas, sata = disks["sdw"], disks["sdv"]
    assert (sas.vendor, sas.model, sas.serial, sas.wwn) == ("HITACHI", "HUH72808CLAR8000", "VJGRBU1X",
                                                           "naa.5000cca26128b1f4")
    assert sas.transport == "SAS"
    # a SATA drive on a SAS HBA: the SCSI layer reports vendor "ATA"
    assert (sata.vendor, sata.model, sata.serial, sata.transport) == ("ATA", "ST8000DM004-2CX1", "ZCT0CQLK", "SATA")
    assert sata.size_bytes == 15628053168 * 512
    assert sata.pci_address == "0000:03:00.0"
    assert "/expander-11:0/" in sata.sysfs_path
    assert not sata.partitioned and sata.mountpoints == () and not sata.system


def test_vm_root_disk_is_in_use_by_the_system():
    disks, notes = _by_name(Host(DATA / "vm-virtio"))
    assert sorted(disks) == ["vda"]  # loop0-7 and zram0 are not disks to test
    vda = disks["vda"]
    assert (vda.transport, vda.serial, vda.size_bytes) == ("virtio", "1576631095289453", 256 * 2**30)
    assert (vda.mountpoints, vda.system) == (("/",), True)
    assert vda.pci_address == "0000:00:02.0"
    assert notes == []


def test_virtual_block_devices_are_listed_when_asked():
    disks, _ = _by_name(Host(DATA / "vm-virtio"), include_virtual=True)
    assert sorted(disks) == ["loop0", "loop1", "loop2", "loop3", "loop4", "loop5", "loop6", "loop7", "vda", "zram0"]


def test_a_disk_mounted_through_lvm_and_used_as_swap(tmp_path):
    """sda1 holds an LVM volume mounted as /, sda2 is swap; sdb is untouched."""
    block = tmp_path / "sys/block"
    for path in ("sda/sda1/holders/dm-0", "sda/sda2/holders", "sda/holders", "dm-0/holders", "sdb/holders"):
        (block / path).mkdir(parents=True)
    for part in ("sda1", "sda2"):
        (block / "sda" / part / "partition").write_text("1\n")
    (block / "dm-0/dm").mkdir()
    (block / "dm-0/dm/name").write_text("vg0-root\n")
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/mounts").write_text("/dev/mapper/vg0-root / ext4 rw 0 0\nproc /proc proc rw 0 0\n")
    (tmp_path / "proc/swaps").write_text(
        "Filename\tType\tSize\tUsed\tPriority\n/dev/sda2 partition\t999420\t0\t-2\n")
    disks, _ = _by_name(Host(tmp_path))
    assert disks["sda"].holders == ("dm-0",)
    assert set(disks["sda"].mountpoints) == {"/", "[swap]"}
    assert disks["sda"].system
    assert disks["sdb"].mountpoints == () and not disks["sdb"].system


def test_missing_mount_table_is_stated():
    _, notes = _by_name(Host(DATA / "procfs"))
    assert notes == ["mount points not known: /proc/self/mounts absent, so no disk is known to be in use"]


def test_vpd_page_80_parsing():
    raw = (DATA / "procfs/sys/block/sdw/device/vpd_pg80").read_bytes()
    assert raw[:4] == b"\x00\x80\x00\x10"
    assert parse_vpd_serial(raw) == "VJGRBU1X"
    assert parse_vpd_serial(b"\x00\x83\x00\x04abcd") is None  # another page
    assert parse_vpd_serial(None) is None


def test_transport_is_read_from_the_device_path():
    usb = "/sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdc"
    sata = "/sys/devices/pci0000:00/0000:00:17.0/ata3/host2/target2:0:0/2:0:0:0/block/sda"
    raid = "/sys/devices/pci0000:00/0000:00:01.0/0000:02:00.0/host0/target0:2:0/0:2:0:0/block/sda"
    assert transport_of("sdc", usb, "SanDisk", None) == "USB"
    assert transport_of("sda", sata, "ATA", None) == "SATA"
    assert transport_of("sda", raid, "DELL", None) == "SCSI"  # a RAID controller's logical disk
    assert transport_of("nvme1n1", "/sys/devices/virtual/nvme-fabrics/ctl/nvme1/nvme1n1", None, "tcp") == "NVMe/tcp"


def _live_stick_tree(tmp_path, mounts: str, by_label: dict[str, str]):
    """A server disk sda and the live stick sdb (partitions sdb1: the image, sdb2: the BURNIN results partition),
    as the live image under QEMU shows them (scripts/build-live-image, tests/live)."""
    block = tmp_path / "sys/block"
    for path in ("sda/holders", "sdb/sdb1/holders", "sdb/sdb2/holders", "sdb/holders"):
        (block / path).mkdir(parents=True)
    for part in ("sdb1", "sdb2"):
        (block / "sdb" / part / "partition").write_text("1\n")
    for name, model in (("sda", "QEMU HARDDISK"), ("sdb", "QEMU USB HARDDRIVE")):
        (block / name / "device").mkdir()
        (block / name / "device/model").write_text(model + "\n")
        (block / name / "removable").write_text("0\n")
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/mounts").write_text(mounts)
    labels = tmp_path / "dev/disk/by-label"
    labels.mkdir(parents=True)
    for label, device in by_label.items():
        (tmp_path / "dev" / device).touch()
        (labels / label).symlink_to(f"../../{device}")
    return Host(tmp_path)


def test_the_live_stick_is_known_by_its_label_even_when_nothing_of_it_is_mounted(tmp_path):
    # toram: the image was copied into RAM and its medium unmounted; no results partition.
    host = _live_stick_tree(tmp_path, "tmpfs / tmpfs rw 0 0\n", {"BURNIN_LIVE": "sdb1"})
    disks, _ = _by_name(host)
    assert disks["sdb"].boot_medium == "label BURNIN_LIVE on sdb1" and disks["sdb"].system
    assert disks["sda"].boot_medium is None and not disks["sda"].system


def test_the_live_stick_is_known_by_the_live_systems_mount_of_its_results_partition(tmp_path):
    host = _live_stick_tree(tmp_path, "tmpfs / tmpfs rw 0 0\n/dev/sdb2 /run/burnin/stick vfat rw 0 0\n", {})
    disks, _ = _by_name(host)
    assert disks["sdb"].boot_medium == "mounted by the live system at /run/burnin/stick"


def test_the_inventory_leaves_the_live_stick_out_of_the_server_disks(tmp_path):
    from burnin.inventory import collect

    host = _live_stick_tree(tmp_path, "/dev/sdb1 /run/live/medium iso9660 ro 0 0\n",
                            {"BURNIN_LIVE": "sdb1", "BURNIN": "sdb2"})
    inventory = collect(host)
    assert [d.name for d in inventory.disks] == ["sda"]
    assert [d.name for d in inventory.boot_media] == ["sdb"]
    assert any("/dev/sdb (QEMU USB HARDDRIVE) is the stick this live system booted from" in n for n in inventory.notes)
    from burnin.report.inventory_text import inventory_text

    text = inventory_text(inventory)
    assert "Disks    1" in text and "sdb" in text and "BOOT STICK, not tested" in text
