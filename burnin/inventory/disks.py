"""Disks from /sys/block: identity (model, serial, WWN, firmware), size, transport, where they hang in the
device tree, and whether they are in use: mounted (directly, through a partition, or under a dm/md holder) or
holding the running system. Partitions present mean a previous owner's data may still be there.

loop, ram, zram, device-mapper, md, nbd and optical devices are left out unless asked for.

The stick burnin's live image booted from is never a server disk: it is known by its volume labels (BURNIN_LIVE on
the image, BURNIN on its results partition: scripts/build-live-image) and by the live system's own mounts of it
(/run/live/medium, /run/burnin/stick), never by its name (sda on one server is the stick, on the next a data disk).
`split_boot_media` takes it out of the disks every module judges, scans and charts.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from burnin.host import Host
from burnin.inventory._record import Record
from burnin.inventory._sysfs import last_pci_address

BLOCK = "/sys/block"
VIRTUAL_PREFIXES = ("loop", "ram", "zram", "dm-", "md", "nbd", "sr", "fd", "zd", "rbd")
SYSTEM_MOUNTS = frozenset({"/", "/boot", "/boot/efi", "/usr", "/var", "[swap]", "/run/live/medium",
                           "/lib/live/mount/medium", "/run/initramfs/live", "/cdrom",
                           "/run/burnin/stick"})  # burnin's live image: the stick it booted from (BURNIN partition)
BOOT_MEDIUM_LABELS = ("BURNIN_LIVE", "BURNIN")  # the live image's volume id and its results partition's label
BOOT_MEDIUM_MOUNTS = frozenset({"/run/live/medium", "/lib/live/mount/medium", "/run/initramfs/live", "/cdrom",
                                "/run/burnin/stick"})
BY_LABEL = "/dev/disk/by-label"


@dataclass(frozen=True)
class Disk(Record):
    name: str  # "sda"
    dev_path: str  # "/dev/sda"
    model: str | None
    vendor: str | None
    serial: str | None
    wwn: str | None
    firmware: str | None
    size_bytes: int | None
    transport: str | None  # "SATA", "SAS", "NVMe", "USB", "virtio", "SCSI", "MMC"
    rotational: bool | None
    removable: bool | None
    sysfs_path: str  # the physical path: /sys/devices/pci0000:00/…/block/sda
    pci_address: str | None  # the controller it hangs off
    partitions: tuple[str, ...]
    holders: tuple[str, ...]  # dm/md devices built on it or its partitions
    mountpoints: tuple[str, ...]
    system: bool  # holds the running system (/, /boot, swap, the live medium)
    boot_medium: str | None = None  # why this is the stick the live system booted from ("label BURNIN_LIVE"), or None

    @property
    def partitioned(self) -> bool:
        return bool(self.partitions)


def parse_vpd_serial(data: bytes | None) -> str | None:
    """The Unit Serial Number VPD page (0x80): 4-byte header, then the serial as ASCII."""
    if not data or len(data) < 4 or data[1] != 0x80:
        return None
    length = int.from_bytes(data[2:4], "big")
    serial = data[4 : 4 + length].decode("ascii", "replace").strip().strip("\0")
    return serial or None


def transport_of(name: str, real_path: str, vendor: str | None, nvme_transport: str | None) -> str | None:
    path = real_path + "/"
    if name.startswith("nvme") or "/nvme/" in path:
        if nvme_transport and nvme_transport != "pcie":
            return f"NVMe/{nvme_transport}"
        return "NVMe"
    if "/usb" in path:
        return "USB"
    if "/virtio" in path:
        return "virtio"
    if re.search(r"/ata\d+/", path):
        return "SATA"
    if "/end_device-" in path or "/expander-" in path or "/sas_" in path:
        # SATA drives behind a SAS HBA report the SCSI vendor "ATA"
        return "SATA" if vendor == "ATA" else "SAS"
    if name.startswith("mmcblk"):
        return "MMC"
    if re.search(r"/host\d+/", path):
        return "SCSI"
    return None


def _text(host: Host, path: str) -> str | None:
    value = host.read_text(path)
    return value.strip() if value and value.strip() else None


def partitions_of(host: Host, name: str) -> list[str]:
    return [p for p in host.listdir(f"{BLOCK}/{name}")
            if p.startswith(name) and host.exists(f"{BLOCK}/{name}/{p}/partition")]


def holders_of(host: Host, name: str, partitions: list[str]) -> list[str]:
    """dm/md devices stacked on the disk or its partitions, recursively (dm-1 on md0 on sda1…)."""
    found: list[str] = []
    todo = [f"{BLOCK}/{name}/holders"] + [f"{BLOCK}/{name}/{p}/holders" for p in partitions]
    while todo:
        for holder in host.listdir(todo.pop()):
            if holder not in found:
                found.append(holder)
                todo.append(f"{BLOCK}/{holder}/holders")
    return found


def _unescape(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def mounted_devices(host: Host) -> dict[str, list[str]]:
    """Block device name -> mount points (and "[swap]"), from /proc/self/mounts and /proc/swaps."""
    dm_names = {}
    for dm in host.glob(BLOCK, "dm-*"):
        mapped = _text(host, f"{dm}/dm/name")
        if mapped:
            dm_names[mapped] = dm.rsplit("/", 1)[1]
    result: dict[str, list[str]] = {}

    def add(source: str, mountpoint: str) -> None:
        if not source.startswith("/dev/"):
            return
        if source.startswith("/dev/mapper/"):
            name = dm_names.get(source[len("/dev/mapper/"):])
        elif source == "/dev/root" and host.live and mountpoint.startswith("/"):
            name = _device_of_mountpoint(host, mountpoint)
        else:
            real = host.realpath(source) if host.live else source
            name = real.rsplit("/", 1)[1]
        if name:
            result.setdefault(name, []).append(mountpoint)

    for line in (host.read_text("/proc/self/mounts") or "").splitlines():
        fields = line.split()
        if len(fields) >= 2:
            add(_unescape(fields[0]), _unescape(fields[1]))
    for line in (host.read_text("/proc/swaps") or "").splitlines()[1:]:
        fields = line.split()
        if fields and fields[1:2] == ["partition"]:
            add(_unescape(fields[0]), "[swap]")
    return result


def _device_of_mountpoint(host: Host, mountpoint: str) -> str | None:
    try:
        st_dev = os.stat(host.path(mountpoint)).st_dev
    except OSError:
        return None
    real = host.realpath(f"/sys/dev/block/{os.major(st_dev)}:{os.minor(st_dev)}")
    return real.rsplit("/", 1)[1] if real else None


def labelled_devices(host: Host, labels: tuple[str, ...] = BOOT_MEDIUM_LABELS) -> dict[str, str]:
    """Block device name -> volume label, for the given labels, from udev's /dev/disk/by-label links."""
    found = {}
    for label in labels:
        if host.exists(f"{BY_LABEL}/{label}"):
            found[host.realpath(f"{BY_LABEL}/{label}").rsplit("/", 1)[-1]] = label
    return found


def boot_medium_reason(name: str, partitions: tuple[str, ...], mountpoints: tuple[str, ...],
                       labels: dict[str, str]) -> str | None:
    """Why the disk `name` is the live system's boot stick (a label on it or a partition, or a live mount), or
    None."""
    for member in (name, *partitions):
        if member in labels:
            return f"label {labels[member]} on {member}"
    live = [m for m in mountpoints if m in BOOT_MEDIUM_MOUNTS]
    return f"mounted by the live system at {', '.join(live)}" if live else None


def read_disk(host: Host, name: str, mounts: dict[str, list[str]], labels: dict[str, str] | None = None) -> Disk:
    """One disk; `labels`: the boot medium's labelled devices (read here when not given)."""
    labels = labelled_devices(host) if labels is None else labels
    base = f"{BLOCK}/{name}"
    real = host.realpath(base)
    device = f"{base}/device"
    vendor = _text(host, f"{device}/vendor")
    if vendor and vendor.startswith("0x"):  # virtio puts its PCI vendor id here
        vendor = None
    sectors = host.read_int(f"{base}/size")
    rotational = host.read_int(f"{base}/queue/rotational")
    removable = host.read_int(f"{base}/removable")
    partitions = partitions_of(host, name)
    holders = holders_of(host, name, partitions)
    mountpoints: list[str] = []
    for member in [name, *partitions, *holders]:
        mountpoints.extend(m for m in mounts.get(member, []) if m not in mountpoints)
    boot = boot_medium_reason(name, tuple(partitions), tuple(mountpoints), labels)
    serial = (_text(host, f"{device}/serial") or _text(host, f"{base}/serial")
              or parse_vpd_serial(host.read_bytes(f"{device}/vpd_pg80")))
    return Disk(
        name=name,
        dev_path=f"/dev/{name}",
        model=_text(host, f"{device}/model"),
        vendor=vendor,
        serial=serial,
        wwn=_text(host, f"{device}/wwid") or _text(host, f"{base}/wwid"),
        firmware=_text(host, f"{device}/firmware_rev") or _text(host, f"{device}/rev"),
        size_bytes=sectors * 512 if sectors is not None else None,
        transport=transport_of(name, real, vendor, _text(host, f"{device}/transport")),
        rotational=None if rotational is None else rotational == 1,
        removable=None if removable is None else removable == 1,
        sysfs_path=real,
        pci_address=last_pci_address(real),
        partitions=tuple(partitions),
        holders=tuple(holders),
        mountpoints=tuple(mountpoints),
        system=any(m in SYSTEM_MOUNTS for m in mountpoints) or boot is not None,
        boot_medium=boot,
    )


def is_virtual(name: str) -> bool:
    return name.startswith(VIRTUAL_PREFIXES)


def collect_disks(host: Host, include_virtual: bool = False) -> tuple[list[Disk], list[str]]:
    names = host.listdir(BLOCK)
    notes = []
    if not host.is_dir(BLOCK):
        notes.append(f"no disks listed: {BLOCK} absent")
    if not include_virtual:
        names = [n for n in names if not is_virtual(n)]
    mounts = mounted_devices(host)
    if not host.exists("/proc/self/mounts"):
        notes.append("mount points not known: /proc/self/mounts absent, so no disk is known to be in use")
    labels = labelled_devices(host)
    return [read_disk(host, n, mounts, labels) for n in names], notes


def split_boot_media(disks: list[Disk]) -> tuple[list[Disk], list[Disk], list[str]]:
    """The server's disks, the live system's boot stick(s), and a note naming each stick and how it was known."""
    media = [d for d in disks if d.boot_medium]
    notes = [f"{d.dev_path} ({' '.join(filter(None, (d.vendor, d.model))) or 'no model'}) is the stick this live "
             f"system booted from ({d.boot_medium}): not a server disk, so not judged, scanned or charted"
             for d in media]
    return [d for d in disks if not d.boot_medium], media, notes
