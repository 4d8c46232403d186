"""Name the part a kernel line is about, with what the inventory knows: ataN / sd H:C:T:L / sdX -> the disk
and its serial, a PCI address -> the slot and the device, an EDAC or firmware DIMM label -> the board's slot
name, mptNsas_cmN -> the controller, an interface -> the NIC. When the inventory cannot name it, say which."""

from __future__ import annotations

import re
from typing import Any, Mapping

_ATA = re.compile(r"/(ata\d+)/")
_HCTL = re.compile(r"/(\d+:\d+:\d+:\d+)/block/")


def _disks(inventory: Any) -> list[Any]:
    return list(getattr(inventory, "disks", ()) or ())


def _pcie(inventory: Any) -> list[Any]:
    return list(getattr(getattr(inventory, "pcie", None), "devices", ()) or ())


def _nics(inventory: Any) -> list[Any]:
    return list(getattr(inventory, "nics", ()) or ())


def event_aliases(inventory: Any) -> dict[str, str]:
    """Event keys that mean the same part -> one key: ataN, scsi H:C:T:L and nvmeN are the disk they lead to;
    a NIC's PCI address is its interface."""
    aliases: dict[str, str] = {}
    for disk in _disks(inventory):
        key = f"disk:{disk.name}"
        path = disk.sysfs_path or ""
        m = _ATA.search(path)
        if m:
            aliases[f"ata:{m[1]}"] = key
        m = _HCTL.search(path)
        if m:
            aliases[f"scsi:{m[1]}"] = key
        m = re.match(r"(nvme\d+)n\d+$", disk.name)
        if m:
            aliases.setdefault(f"nvme:{m[1]}", key)
    for nic in _nics(inventory):
        if nic.pci_address:
            aliases[f"pci:{nic.pci_address}"] = f"nic:{nic.name}"
    return aliases


def _disk_part(disk: Any) -> dict[str, Any]:
    return {k: v for k, v in {"disk": disk.name, "serial": disk.serial, "model": disk.model,
                              "transport": disk.transport, "pci": disk.pci_address}.items() if v}


def _pci_part(dev: Any) -> dict[str, Any]:
    name = " ".join(x for x in (dev.vendor_name, dev.device_name) if x) or None
    return {k: v for k, v in {"pci": dev.address, "slot": dev.slot, "device": name, "driver": dev.driver}.items() if v}


def _base_disk(name: str) -> str:
    m = re.match(r"(nvme\d+n\d+|mmcblk\d+)(?:p\d+)?$", name)
    return m[1] if m else re.sub(r"\d+$", "", name)


def name_part(component: str, inventory: Any) -> tuple[str, dict[str, Any] | None, str | None]:
    """(component, part, unmapped): the component as the inventory names it, what the inventory says about the
    part, or one sentence saying what could not be mapped."""
    kind, _, what = component.partition(":")
    if not what or kind in ("cpu", "task", "thermal", "kernel", "platform", "bmc"):
        return component, None, None
    if inventory is None:
        return component, None, f"no inventory to map {what} to a part"
    if kind == "disk":
        name = what.rsplit("/", 1)[-1]
        for d in _disks(inventory):
            if d.name in (name, _base_disk(name)):
                return f"disk:/dev/{d.name}", _disk_part(d), None
        return component, None, f"disk {name} is not in the inventory"
    if kind in ("ata", "scsi"):
        pattern = f"/{what}/"
        for d in _disks(inventory):
            if pattern in (d.sysfs_path or ""):
                return f"disk:/dev/{d.name}", {**_disk_part(d), kind: what}, None
        return component, None, f"no disk of the inventory sits on {kind} {what}"
    if kind == "nvme":
        for d in _disks(inventory):
            if re.match(rf"{re.escape(what)}n\d+$", d.name):
                return component, {**_disk_part(d), "controller": what}, None
        return component, None, f"NVMe controller {what} has no namespace in the inventory"
    if kind in ("pcie", "gpu", "controller") and re.match(r"[0-9a-fA-F]{4}:", what):
        for dev in _pcie(inventory):
            if dev.address.lower() == what.lower():
                return component, _pci_part(dev), None
        return component, None, f"PCI device {what} is not in the inventory"
    if kind == "controller":
        m = re.match(r"(mpt\d?sas|mpt\wsas|ioc)(?:_cm)?(\d+)$", what)
        if m:
            drivers = ("mpt3sas", "mpt2sas") if m[1] != "ioc" else ("mptsas", "mptspi", "mptfc")
            devs = sorted((d for d in _pcie(inventory) if d.driver in drivers), key=lambda d: d.address)
            n = int(m[2])
            if n < len(devs):
                return f"controller:{devs[n].address}", {**_pci_part(devs[n]), "instance": what,
                        "matched_by": f"the {n + 1}. {devs[n].driver} controller in PCI address order"}, None
        return component, None, f"controller {what} matches no PCI device of the inventory"
    if kind == "dimm":
        from burnin.modules.memory import match_dimm

        dimms = [d for d in getattr(getattr(inventory, "memory", None), "dimms", ()) or () if d.populated]
        dimm, how = match_dimm(what, dimms)
        if dimm is not None:
            part = {k: v for k, v in {"dimm": dimm.name, "bank_locator": dimm.bank_locator, "serial": dimm.serial,
                                      "part_number": dimm.part_number, "label": what, "matched_by": how}.items() if v}
            return f"dimm:{dimm.name}", part, None
        return component, None, f"DIMM label {what} matches no DIMM slot of the inventory"
    if kind == "memory" and what.startswith("mc"):
        return component, None, f"the line names memory controller {what} but no DIMM"
    if kind == "nic":
        for nic in _nics(inventory):
            if what in (nic.name, nic.pci_address):
                part = {k: v for k, v in {"interface": nic.name, "pci": nic.pci_address, "driver": nic.driver,
                                          "mac": nic.mac}.items() if v}
                dev = next((d for d in _pcie(inventory) if d.address == nic.pci_address), None)
                if dev is not None and dev.slot:
                    part["slot"] = dev.slot
                return f"nic:{nic.name}", part, None
        return component, None, f"network port {what} is not in the inventory"
    return component, None, None


def describe_part(part: Mapping[str, Any] | None) -> str:
    """" (disk sdb, serial ZA1234, ST4000NM0035)" for a finding's message; "" when nothing is known."""
    if not part:
        return ""
    bits = [f"{k} {part[k]}" for k in ("disk", "dimm", "interface", "slot", "serial") if part.get(k)]
    for k in ("model", "device"):
        if part.get(k):
            bits.append(str(part[k]))
    return f" ({', '.join(bits)})" if bits else ""
