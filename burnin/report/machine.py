"""The machine a journal is about, as the fleet outputs need it: its identity and its parts, from the journal's
`inventory` record (the one taken at the start; the end one when the run was cut before) and `run_start.host`.

The inventory record's fields are whatever `burnin.inventory` wrote (docs/journal-schema.md); an older or
hand-written journal may lack any of them, so every reader here takes what is there and says None for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from burnin.journal import JournalContents


def inventory_of(contents: JournalContents) -> dict[str, Any]:
    """The `inventory` object of the journal's start inventory (else the end one); {} when there is none."""
    records = [r for r in contents.of_type("inventory") if isinstance(r.get("inventory"), dict)]
    start = [r for r in records if r.get("when") in (None, "start")]
    chosen = (start or records or [None])[0]
    return dict(chosen["inventory"]) if chosen else {}


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).strip()
    return text or None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


@dataclass(frozen=True)
class Part:
    """One field-replaceable part: what OCP calls hardware info and what a buyer sends back."""

    kind: str  # "system", "cpu", "dimm", "disk", "nic"
    name: str  # "/dev/sda", "P1-DIMMA1", "eno1"
    serial: str | None = None
    part_number: str | None = None  # model or part number
    manufacturer: str | None = None
    version: str | None = None  # firmware
    location: str | None = None  # slot, PCI address


@dataclass(frozen=True)
class Machine:
    hostname: str | None
    vendor: str | None
    product: str | None
    serial: str | None
    cpu_model: str | None
    cpu_sockets: int | None
    cpu_threads: int | None
    memory_bytes: int | None
    disk_count: int
    disk_bytes: int | None
    parts: list[Part] = field(default_factory=list)

    @property
    def model(self) -> str | None:
        return " ".join(filter(None, (self.vendor, self.product))) or None


def machine_of(contents: JournalContents) -> Machine:
    """The machine of a journal: what its run_start and inventory record say."""
    run_start = contents.records[0] if contents.records else {}
    host = run_start.get("host") if isinstance(run_start.get("host"), dict) else {}
    inventory = inventory_of(contents)
    system = inventory.get("system") if isinstance(inventory.get("system"), dict) else {}
    cpu = inventory.get("cpu") if isinstance(inventory.get("cpu"), dict) else {}
    memory = inventory.get("memory") if isinstance(inventory.get("memory"), dict) else {}
    disks = [d for d in inventory.get("disks") or [] if isinstance(d, dict)] \
        if isinstance(inventory.get("disks"), list) else []
    nics = [n for n in inventory.get("nics") or [] if isinstance(n, dict)] \
        if isinstance(inventory.get("nics"), list) else []
    dimms = [d for d in memory.get("dimms") or [] if isinstance(d, dict)] \
        if isinstance(memory.get("dimms"), list) else []

    vendor = _text(system.get("vendor")) or _text(system.get("manufacturer")) or _text(host.get("system_vendor"))
    product = _text(system.get("product")) or _text(host.get("system_product"))
    serial = _text(system.get("serial")) or _text(host.get("system_serial"))
    parts = [Part("system", product or "system", serial, _text(system.get("sku")) or product, vendor,
                  _text(system.get("bios_version")))]
    if cpu:
        sockets = cpu.get("sockets")
        parts.append(Part("cpu", _text(cpu.get("model")) or "cpu", None, _text(cpu.get("model")),
                          _text(cpu.get("vendor")), _text(cpu.get("microcode")),
                          f"{sockets} socket(s)" if isinstance(sockets, int) else None))
    for dimm in dimms:
        if dimm.get("populated") is False or dimm.get("size_bytes") == 0:
            continue
        name = _text(dimm.get("locator")) or _text(dimm.get("bank_locator")) or "dimm"
        parts.append(Part("dimm", name, _text(dimm.get("serial")), _text(dimm.get("part_number")),
                          _text(dimm.get("manufacturer")), None, name))
    for disk in disks:
        name = _text(disk.get("dev_path")) or _text(disk.get("name")) or "disk"
        parts.append(Part("disk", name, _text(disk.get("serial")), _text(disk.get("model")),
                          _text(disk.get("vendor")), _text(disk.get("firmware")), _text(disk.get("pci_address"))))
    for nic in nics:
        name = _text(nic.get("name")) or "nic"
        parts.append(Part("nic", name, _text(nic.get("mac")), _text(nic.get("driver")), None,
                          _text(nic.get("firmware")), _text(nic.get("pci_address"))))

    disk_sizes = [_number(d.get("size_bytes")) for d in disks]
    threads = cpu.get("threads")
    sockets = cpu.get("sockets")
    total = _number(memory.get("dimm_total_bytes")) or _number(memory.get("total_bytes"))
    return Machine(
        hostname=_text(host.get("hostname")),
        vendor=vendor,
        product=product,
        serial=serial,
        cpu_model=_text(cpu.get("model")),
        cpu_sockets=sockets if isinstance(sockets, int) and not isinstance(sockets, bool) else None,
        cpu_threads=threads if isinstance(threads, int) and not isinstance(threads, bool) else None,
        memory_bytes=int(total) if total else None,
        disk_count=len(disks),
        disk_bytes=int(sum(s for s in disk_sizes if s)) if any(disk_sizes) else None,
        parts=parts,
    )


def part_of(component: str, parts: list[Part]) -> Part | None:
    """The part a finding's component names: `disk:/dev/sda S/N Z1X2` -> the disk /dev/sda (or of that serial),
    `dimm:P1-DIMMA1` -> that DIMM, `nic:eno1` -> that port. None when it names no inventoried part."""
    kind, _, rest = component.partition(":")
    if kind not in ("disk", "dimm", "nic") or not rest:
        return None
    for part in parts:
        if part.kind != kind:
            continue
        if kind == "disk":
            words = rest.split()
            if part.name in words or (part.serial and part.serial in words):
                return part
        elif rest.split()[0] == part.name:
            return part
    return None
