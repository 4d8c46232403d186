"""PCI(e) devices from /sys/bus/pci/devices: ids, names, class, link speed and width (now and at most), NUMA
node, driver, power state, upstream port, and the board slot a device sits in (from the SMBIOS slot list); the
kernel's hotplug slots (/sys/bus/pci/slots) and each device's AER error counters.

This is the one PCIe reader: the inventory lists what it returns and the pcie module judges it.
Names come from pci.ids when the host has it (/usr/share/misc/pci.ids or /usr/share/hwdata/pci.ids).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from burnin.host import Host
from burnin.inventory._record import Record
from burnin.inventory._sysfs import PCI_ADDRESS, link_name
from burnin.inventory.smbios import SlotRecord

PCI_DEVICES = "/sys/bus/pci/devices"
PCI_SLOTS = "/sys/bus/pci/slots"
LINK_ATTRS = ("current_link_speed", "max_link_speed", "current_link_width", "max_link_width")
AER_KINDS = ("correctable", "nonfatal", "fatal")
PCI_IDS_PATHS = ("/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids", "/usr/share/pci.ids")
IPMI_DEVICES = ("/dev/ipmi0", "/dev/ipmi/0", "/dev/ipmidev/0")
# Graphics functions that are part of a BMC chip, not a GPU: ASPEED AST2xxx.
BMC_VGA_VENDORS = {0x1A03: "ASPEED"}
# Matrox G200 variants are the video of HPE iLO and Dell iDRAC chips; they are not GPUs either.
SERVER_VGA_VENDORS = {0x1A03: "ASPEED", 0x102B: "Matrox"}

STORAGE_KINDS = {0x0100: "scsi", 0x0101: "ide", 0x0104: "raid", 0x0106: "sata", 0x0107: "sas", 0x0108: "nvme"}


@dataclass(frozen=True)
class PcieDevice(Record):
    address: str
    class_code: int | None  # 24-bit: class, subclass, prog-if (0x010802 = NVMe)
    kind: str  # nvme, raid, sas, sata, scsi, ide, storage, nic, gpu, display, ipmi, bridge, other
    class_name: str | None
    vendor_id: int | None
    device_id: int | None
    subsystem_vendor_id: int | None
    subsystem_device_id: int | None
    vendor_name: str | None
    device_name: str | None
    driver: str | None
    numa_node: int | None
    link_speed_gts: float | None
    link_speed_max_gts: float | None
    link_width: int | None
    link_width_max: int | None
    has_link: bool  # all four link attributes exist (legacy PCI and virtio devices have none)
    power_state: str | None  # "D0", "D3cold"; None when the kernel does not say
    virtual_function: bool  # an SR-IOV VF: it shares its physical function's link
    parent: str | None  # the upstream port's address
    slot: str | None  # the board's name for the slot it sits in ("PCIe Slot 3"), from SMBIOS
    sysfs_path: str
    is_storage_controller: bool
    is_nic: bool
    is_gpu: bool

    @property
    def name(self) -> str:
        words = " ".join(w for w in (self.vendor_name, self.device_name) if w)
        ids = f"[{self.vendor_id or 0:04x}:{self.device_id or 0:04x}]"
        return f"{words} {ids}" if words else ids

    @property
    def ancestors(self) -> tuple[str, ...]:
        """PCI addresses from the root down to the upstream port."""
        chain = _pci_chain(self.sysfs_path)
        return tuple(chain[:-1]) if chain and chain[-1] == self.address else tuple(chain)

    @property
    def link_degraded(self) -> bool:
        speed = self.link_speed_gts is not None and self.link_speed_max_gts is not None and (
            self.link_speed_gts < self.link_speed_max_gts)
        width = self.link_width is not None and self.link_width_max is not None and (
            self.link_width < self.link_width_max)
        return speed or width


@dataclass(frozen=True)
class PcieInfo(Record):
    devices: tuple[PcieDevice, ...]
    bmc_present: bool | None  # True with evidence; None: no sign of one (which does not prove there is none)
    bmc_evidence: str | None
    names_source: str | None  # the pci.ids file names came from


@dataclass(frozen=True)
class PciNames:
    vendors: Mapping[int, str]
    devices: Mapping[tuple[int, int], str]
    classes: Mapping[tuple[int, int | None], str]  # (class, subclass) and (class, None)


def parse_pci_ids(text: str, vendor_ids: Iterable[int]) -> PciNames:
    """Vendor and device names for the given vendors, and all class names, from pci.ids text."""
    wanted = set(vendor_ids)
    vendors: dict[int, str] = {}
    devices: dict[tuple[int, int], str] = {}
    classes: dict[tuple[int, int | None], str] = {}
    vendor: int | None = None
    klass: int | None = None
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if line.startswith("C "):
            code, _, name = line[2:].partition("  ")
            klass, vendor = int(code, 16), None
            classes[(klass, None)] = name.strip()
            continue
        if not line.startswith("\t"):
            code, _, name = line.partition("  ")
            klass = None
            try:
                vendor = int(code, 16)
            except ValueError:
                vendor = None
                continue
            if vendor in wanted:
                vendors[vendor] = name.strip()
            continue
        if line.startswith("\t\t"):
            continue  # subsystems and programming interfaces
        code, _, name = line[1:].partition("  ")
        try:
            value = int(code, 16)
        except ValueError:
            continue
        if klass is not None:
            classes[(klass, value)] = name.strip()
        elif vendor in wanted:
            devices[(vendor, value)] = name.strip()
    return PciNames(vendors, devices, classes)


def parse_link_speed(text: str | None) -> float | None:
    """"8.0 GT/s PCIe" (newer kernels), "8 GT/s" (older) -> 8.0; "Unknown" or absent -> None."""
    match = re.match(r"^\s*(\d+(?:\.\d+)?)\s*GT/s", text or "")
    return float(match[1]) if match else None


def parse_link_width(text: str | None) -> int | None:
    """"16" or "x16" -> 16; "0" (link down), "Unknown" or absent -> None."""
    try:
        return int((text or "").strip().lstrip("x")) or None
    except ValueError:
        return None


def device_kind(class_code: int | None, vendor_id: int | None) -> str:
    if class_code is None:
        return "other"
    base, sub = class_code >> 16, (class_code >> 8) & 0xFF
    if base == 0x01:
        return STORAGE_KINDS.get(class_code >> 8, "storage")
    if base == 0x02:
        return "nic"
    if base == 0x03:
        return "display" if vendor_id in SERVER_VGA_VENDORS else "gpu"
    if base == 0x06:
        return "bridge"
    if base == 0x0C and sub == 0x07:
        return "ipmi"
    return "other"


def _hex(host: Host, path: str) -> int | None:
    text = host.read_text(path)
    try:
        return int(text, 16) if text else None
    except ValueError:
        return None


def _pci_chain(real_path: str) -> list[str]:
    return [part for part in real_path.split("/") if PCI_ADDRESS.match(part)]


def slot_map(slots: Sequence[SlotRecord]) -> dict[str, str]:
    return {s.bus_address.lower(): s.designation for s in slots if s.bus_address and s.designation}


def read_device(host: Host, address: str, names: PciNames | None = None,
                slots: Mapping[str, str] | None = None) -> PcieDevice:
    """One device; `names` from pci.ids and `slots` (bus address -> SMBIOS slot name) when known."""
    slots = slots or {}
    base = f"{PCI_DEVICES}/{address}"
    real = host.realpath(base)
    chain = _pci_chain(real)
    class_code = _hex(host, f"{base}/class")
    vendor_id, device_id = _hex(host, f"{base}/vendor"), _hex(host, f"{base}/device")
    kind = device_kind(class_code, vendor_id)
    class_name = None
    if names and class_code is not None:
        class_name = names.classes.get((class_code >> 16, (class_code >> 8) & 0xFF)) or names.classes.get(
            (class_code >> 16, None))
    driver = link_name(host, f"{base}/driver")
    numa = host.read_int(f"{base}/numa_node")
    slot = next((slots[a] for a in reversed(chain or [address]) if a in slots), None)
    return PcieDevice(
        address=address,
        class_code=class_code,
        kind=kind,
        class_name=class_name,
        vendor_id=vendor_id,
        device_id=device_id,
        subsystem_vendor_id=_hex(host, f"{base}/subsystem_vendor"),
        subsystem_device_id=_hex(host, f"{base}/subsystem_device"),
        vendor_name=names.vendors.get(vendor_id) if names and vendor_id is not None else None,
        device_name=names.devices.get((vendor_id, device_id)) if names and vendor_id is not None else None,
        driver=driver,
        numa_node=numa if numa is not None and numa >= 0 else None,
        link_speed_gts=parse_link_speed(host.read_text(f"{base}/current_link_speed")),
        link_speed_max_gts=parse_link_speed(host.read_text(f"{base}/max_link_speed")),
        link_width=parse_link_width(host.read_text(f"{base}/current_link_width")),
        link_width_max=parse_link_width(host.read_text(f"{base}/max_link_width")),
        has_link=all(host.exists(f"{base}/{attr}") for attr in LINK_ATTRS),
        power_state=host.read_text(f"{base}/power_state"),
        virtual_function=host.exists(f"{base}/physfn"),
        parent=chain[-2] if len(chain) >= 2 else None,
        slot=slot,
        sysfs_path=real,
        is_storage_controller=kind in STORAGE_KINDS.values() or kind == "storage",
        is_nic=kind == "nic",
        is_gpu=kind == "gpu",
    )


def read_devices(host: Host) -> dict[str, PcieDevice]:
    """Every PCI device by address, without names or SMBIOS slots (what a judge of links needs, fast)."""
    return {a: read_device(host, a) for a in host.listdir(PCI_DEVICES) if PCI_ADDRESS.match(a)}


def read_sysfs_slots(host: Host) -> dict[str, str]:
    """The kernel's slots: address ("0000:3b:00", or "0000:3b" when the device number is unknown) -> slot name."""
    slots = {}
    for slot_dir in host.glob(PCI_SLOTS, "*"):
        address = host.read_text(f"{slot_dir}/address")
        if address:
            slots[address.strip().lower()] = slot_dir.rsplit("/", 1)[1]
    return slots


# -- AER error counters ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AerCounters:
    """The kernel's per-device AER counters, by kind ("correctable", "nonfatal", "fatal") and error name."""

    counts: Mapping[str, Mapping[str, int]]

    def total(self, kind: str) -> int:
        named = self.counts.get(kind, {})
        totals = [v for k, v in named.items() if k.startswith("TOTAL_")]
        return totals[0] if totals else sum(named.values())

    def nonzero(self) -> dict[str, dict[str, int]]:
        return {kind: {k: v for k, v in named.items() if v and not k.startswith("TOTAL_")}
                for kind, named in self.counts.items() if self.total(kind)}


def parse_aer(text: str | None) -> dict[str, int]:
    """Lines like "RxErr 0" / "TOTAL_ERR_COR 2" -> {"RxErr": 0, "TOTAL_ERR_COR": 2}."""
    counts: dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


def read_aer(host: Host, address: str) -> AerCounters | None:
    texts = {kind: host.read_text(f"{PCI_DEVICES}/{address}/aer_dev_{kind}") for kind in AER_KINDS}
    if all(text is None for text in texts.values()):
        return None
    return AerCounters({kind: parse_aer(text) for kind, text in texts.items() if text is not None})


def read_all_aer(host: Host, addresses: Iterable[str]) -> dict[str, AerCounters]:
    counters = {}
    for address in addresses:
        aer = read_aer(host, address)
        if aer is not None:
            counters[address] = aer
    return counters


def load_names(host: Host, vendor_ids: Iterable[int]) -> tuple[PciNames | None, str | None]:
    for path in PCI_IDS_PATHS:
        text = host.read_text(path)
        if text:
            return parse_pci_ids(text, vendor_ids), path
    return None, None


def collect_pcie(host: Host, slots: Sequence[SlotRecord] = ()) -> tuple[PcieInfo, list[str]]:
    notes: list[str] = []
    addresses = host.listdir(PCI_DEVICES)
    if not addresses:
        notes.append(f"no PCI devices listed: {PCI_DEVICES} absent or empty")
    vendor_ids = {v for a in addresses if (v := _hex(host, f"{PCI_DEVICES}/{a}/vendor")) is not None}
    names, names_source = load_names(host, vendor_ids) if addresses else (None, None)
    if addresses and names is None:
        notes.append(f"PCI names not available: no pci.ids at {' or '.join(PCI_IDS_PATHS[:2])}")
    mapping = slot_map(slots)
    devices = tuple(read_device(host, a, names, mapping) for a in addresses)
    bmc, evidence = bmc_evidence(host, devices)
    return PcieInfo(devices, bmc, evidence, names_source), notes


def bmc_evidence(host: Host, devices: Sequence[PcieDevice]) -> tuple[bool | None, str | None]:
    for path in IPMI_DEVICES:
        if host.exists(path):
            return True, f"{path} present"
    for d in devices:
        if d.kind == "ipmi":
            return True, f"IPMI interface at {d.address}"
    for d in devices:
        if d.vendor_id in BMC_VGA_VENDORS and d.class_code is not None and d.class_code >> 16 == 0x03:
            return True, f"{BMC_VGA_VENDORS[d.vendor_id]} BMC graphics at {d.address}"
    return None, None
