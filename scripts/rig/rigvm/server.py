"""The emulated server: what QEMU is told to build, in one place, so the tests can compare burnin's inventory
with the configuration that produced it.

Two sockets with one CPU each on two NUMA nodes; 8 DIMM slots (2 channels x 2 slots per socket, the first
slot of each channel filled: a balanced 1-DIMM-per-channel population), SMBIOS types 0-4, three NVMe drives
behind PCIe root ports with set link speeds and widths, a SATA disk on AHCI, a disk behind a MegaRAID SAS
controller, a virtio-scsi disk (the bus hot-plugged disks go onto), two Intel NICs cabled to each other
through a QEMU hub (no traffic leaves QEMU), spare root ports for hot-plug, a serial console, QMP and a 9p
share. The guest boots the image's kernel directly (-kernel/-initrd).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from rigvm.smbios import DimmSlot, write_blobs


@dataclass(frozen=True)
class RootPort:
    id: str
    chassis: int
    speed_gts: int  # x-speed: the slot's link capability (the endpoints in QEMU 7.2 still train at 2.5 GT/s x1)
    width: int


@dataclass(frozen=True)
class Disk:
    id: str  # QEMU device id (the QMP handle for device_del / qom-set)
    kind: str  # "nvme", "sata", "megasas", "virtio-scsi"
    serial: str
    size_mb: int
    model: str = ""
    vendor: str = ""
    bus: str = ""  # root port, or the controller's bus


@dataclass(frozen=True)
class Nic:
    id: str
    model: str  # QEMU device: "e1000e" (82574L, PCIe) or "e1000" (82540EM, conventional PCI)
    mac: str
    driver: str  # what the guest binds
    bus: str = "pcie.0"


@dataclass(frozen=True)
class Server:
    sockets: int = 2
    cpus_per_socket: int = 1
    mem_mb: int = 2048
    system: dict = field(default_factory=lambda: {
        "manufacturer": "RigCorp", "product": "RigServer R740", "version": "A01", "serial": "SYS-SN-0001",
        "uuid": "8a3b2c1d-0000-4000-8000-000000000001", "sku": "SKU-R740", "family": "RigServers"})
    bios: dict = field(default_factory=lambda: {"vendor": "Rig BIOS Inc.", "version": "2.1.7", "date": "01/02/2025"})
    board: dict = field(default_factory=lambda: {"manufacturer": "RigCorp", "product": "RigBoard X11",
                                                 "version": "1.02", "serial": "MB-SN-0001", "asset": "MB-ASSET-1"})
    chassis: dict = field(default_factory=lambda: {"manufacturer": "RigCorp", "version": "1", "serial": "CHS-SN-0001",
                                                   "asset": "CHS-ASSET-1"})
    processor: dict = field(default_factory=lambda: {"sock_pfx": "CPU", "manufacturer": "RigCPU",
                                                     "version": "RigCPU Xeon-ish 4000", "max-speed": 3200,
                                                     "current-speed": 2400})
    root_ports: tuple[RootPort, ...] = (
        RootPort("rp1", 1, 8, 4), RootPort("rp2", 2, 16, 4), RootPort("rp3", 3, 8, 4),
        RootPort("rp4", 4, 8, 8), RootPort("rp5", 5, 5, 1), RootPort("rp6", 6, 8, 8),
        RootPort("rp7", 7, 16, 16),  # empty: a free slot for hot-plug
    )
    disks: tuple[Disk, ...] = (
        Disk("nvme0", "nvme", "NVME-SN-0001", 2048, bus="rp1"),
        Disk("nvme1", "nvme", "NVME-SN-0002", 2048, bus="rp2"),
        Disk("nvme2", "nvme", "NVME-SN-0003", 2048, bus="rp3"),
        Disk("sata0", "sata", "SATA-SN-0001", 4096, model="RigSSD-SATA-256"),
        Disk("sas0", "megasas", "SAS-SN-0001", 4096, vendor="RIGVEND", model="RigMR-256"),
        Disk("scsi0", "virtio-scsi", "SCSI-SN-0001", 1024, vendor="RIGVEND", model="RigVS-256"),
    )
    nics: tuple[Nic, ...] = (
        Nic("nic0", "e1000e", "52:54:00:00:01:01", "e1000e", bus="rp5"),
        Nic("nic1", "e1000", "52:54:00:00:01:02", "e1000"),
    )

    @property
    def cpus(self) -> int:
        return self.sockets * self.cpus_per_socket

    @property
    def dimm_slots(self) -> tuple[DimmSlot, ...]:
        """Per socket: channels A and B, two slots each, slot 1 filled. Same part everywhere (no mixed-DIMM warning)."""
        per_dimm = self.mem_mb // (self.sockets * 2)
        slots = []
        serial = 0
        for socket in range(self.sockets):
            for ch, letter in enumerate("AB"):
                for slot in (1, 2):
                    filled = slot == 1
                    serial += filled
                    slots.append(DimmSlot(
                        locator=f"CPU{socket + 1}_DIMM_{letter}{slot}",
                        bank=f"P{socket}_Node{socket}_Channel{ch}_Dimm{slot - 1}",
                        size_mb=per_dimm if filled else 0,
                        manufacturer="Samsung" if filled else "",
                        serial=f"DIMM-SN-{serial:04d}" if filled else "",
                        part="M393A2K40DB3-CWE" if filled else "",
                        speed_mts=3200 if filled else 0,
                    ))
        return tuple(slots)

    def disk(self, disk_id: str) -> Disk:
        return next(d for d in self.disks if d.id == disk_id)

    def nic(self, nic_id: str) -> Nic:
        return next(n for n in self.nics if n.id == nic_id)


SERVER = Server()


def _smbios(kind: int, values: dict) -> list[str]:
    text = ",".join(f"{k}={str(v).replace(',', ',,')}" for k, v in values.items())
    return ["-smbios", f"type={kind},{text}"]


def qemu_argv(server: Server, run: Path, image: Path, *, accel: str = "tcg", cpu: str = "max",
              append: str = "", share: Path | None = None, console: str = "file", reboot: bool = False,
              extra: tuple[str, ...] = ()) -> list[str]:
    """The whole QEMU command line for one boot. Writes the per-run files it needs into `run`: the copy-on-write
    overlay of the root image, the blank data disks (sparse files) and the SMBIOS blobs. `reboot`: a guest reset
    (panic, watchdog, reboot) boots again in the same QEMU process, RAM kept (ramoops), instead of ending it;
    `extra`: more QEMU arguments (an i6300esb watchdog)."""
    share = share or run / "share"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(image / "rootfs.img"),
                    str(run / "root.qcow2")], check=True)
    half = server.mem_mb // server.sockets
    per = server.cpus_per_socket
    argv = [
        "qemu-system-x86_64", "-machine", f"q35,accel={accel}", "-cpu", cpu, "-m", str(server.mem_mb),
        "-smp", f"{server.cpus},sockets={server.sockets},cores={per},threads=1",
        "-nodefaults", *(() if reboot else ("-no-reboot",)), "-vga", "none", "-display", "none",
        "-kernel", str(image / "vmlinuz"), "-initrd", str(image / "initrd.img"),
        "-append", ("root=/dev/vda rw console=ttyS0,115200 panic=-1 mitigations=off "
                    "init=/usr/local/sbin/rig-init " + append).strip(),
        "-serial", f"file:{run / 'console.log'}" if console == "file" else "mon:stdio",
        "-qmp", f"unix:{run / 'qmp.sock'},server=on,wait=off",
        "-virtfs", f"local,path={share},mount_tag=rigshare,security_model=none,id=rigfs",
        # root disk: virtio-blk on the root complex, so it is /dev/vda and the disks under test keep their names
        "-drive", f"file={run / 'root.qcow2'},if=none,id=root,format=qcow2,cache=unsafe,discard=unmap",
        "-device", "virtio-blk-pci,drive=root,bus=pcie.0",
    ]
    for socket in range(server.sockets):
        argv += ["-object", f"memory-backend-ram,id=mem{socket},size={half}M",
                 "-numa", f"node,nodeid={socket},cpus={socket * per}-{socket * per + per - 1},memdev=mem{socket}"]
    argv += _smbios(0, server.bios) + _smbios(1, server.system) + _smbios(2, server.board)
    argv += _smbios(3, server.chassis) + _smbios(4, server.processor)
    for blob in write_blobs(run / "smbios", list(server.dimm_slots)):
        argv += ["-smbios", f"file={blob}"]
    for rp in server.root_ports:
        argv += ["-device", f"pcie-root-port,id={rp.id},bus=pcie.0,chassis={rp.chassis},slot={rp.chassis},"
                            f"x-speed={rp.speed_gts},x-width={rp.width}"]
    if any(d.kind == "megasas" for d in server.disks):
        argv += ["-device", "megasas-gen2,id=sas0ctl,bus=pcie.0"]
    if any(d.kind == "virtio-scsi" for d in server.disks):
        argv += ["-device", "virtio-scsi-pci,id=vscsi0,bus=rp6"]  # rp6: Gen3 x8, the HBA slot
    sata_port = 0
    for d in server.disks:
        image_file = run / f"{d.id}.img"
        with open(image_file, "wb") as f:
            f.truncate(d.size_mb << 20)
        argv += ["-drive", f"file={image_file},if=none,id=drv-{d.id},format=raw,cache=unsafe"]
        if d.kind == "nvme":
            argv += ["-device", f"nvme,id={d.id},serial={d.serial},drive=drv-{d.id},bus={d.bus}"]
        elif d.kind == "sata":
            argv += ["-device", f"ide-hd,id={d.id},drive=drv-{d.id},bus=ide.{sata_port},serial={d.serial},"
                                f"model={d.model},rotation_rate=1"]
            sata_port += 1  # q35's own AHCI controller (ICH9, 00:1f.2): buses ide.0 .. ide.5
        elif d.kind == "megasas":
            argv += ["-device", f"scsi-hd,id={d.id},drive=drv-{d.id},bus=sas0ctl.0,serial={d.serial},"
                                f"vendor={d.vendor},product={d.model}"]
        elif d.kind == "virtio-scsi":
            argv += ["-device", f"scsi-hd,id={d.id},drive=drv-{d.id},bus=vscsi0.0,serial={d.serial},"
                                f"vendor={d.vendor},product={d.model}"]
        else:
            raise ValueError(f"unknown disk kind {d.kind}")
    for i, nic in enumerate(server.nics):
        argv += ["-netdev", f"hubport,id=hub{i},hubid=1",
                 "-device", f"{nic.model},id={nic.id},netdev=hub{i},mac={nic.mac},bus={nic.bus}"]
    return argv + list(extra)
