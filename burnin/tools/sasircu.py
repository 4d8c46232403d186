"""LSI/Broadcom SAS HBAs with integrated RAID: `sas2ircu`/`sas3ircu`: argv and parsing of `LIST` (the adapters and
their PCI addresses) and `N DISPLAY` (controller, IR volumes with their status, physical devices with their
state and serial). Never judges.
"""

from __future__ import annotations

import re

from burnin.tools.raid_records import Controller, PhysicalDrive, VirtualDrive, pci_address

NAMES = ("sas3ircu", "sas2ircu")
_LIST = re.compile(r"^\s*(?P<index>\d+)\s+(?P<type>\S+)\s+\w+h\s+\w+h\s+(?P<pci>[0-9a-fA-F]+h:[0-9a-fA-F]+h:"
                   r"[0-9a-fA-F]+h:[0-9a-fA-F]+h)")
_KV = re.compile(r"^\s*(?P<key>[^:]+?)\s*:\s*(?P<value>.*?)\s*$")
_CODE = re.compile(r"\((?P<code>[A-Z]+)\)")
VOLUME_HEALTH = {"OKY": "optimal", "DGD": "degraded", "FLD": "failed", "MIS": "offline", "INA": "offline",
                 "RBLD": "rebuilding", "RSY": "rebuilding"}
DRIVE_HEALTH = {"OPT": "ok", "RDY": "ok", "AVL": "ok", "SBY": "ok", "HSP": "spare", "FLD": "failed",
                "MIS": "missing", "RBLD": "rebuilding", "OSY": "rebuilding", "DGD": "offline", "UNK": "unknown"}


def list_argv(tool: str) -> list[str]:
    return [tool, "LIST"]


def display_argv(tool: str, index: str) -> list[str]:
    return [tool, index, "DISPLAY"]


def parse_list(text: str) -> dict[str, str | None]:
    """`LIST` -> adapter index -> PCI address ("0000:01:00.0")."""
    out: dict[str, str | None] = {}
    for line in text.splitlines():
        match = _LIST.match(line)
        if match:
            parts = [int(p.rstrip("h"), 16) for p in match.group("pci").split(":")]
            out[match.group("index")] = pci_address(*parts)
    return out


def _code(value: str) -> str:
    match = _CODE.search(value)
    return match.group("code") if match else value.upper()


def parse_display(text: str, tool: str = "sas3ircu", index: str = "0", pci: str | None = None) -> Controller:
    section = ""
    ctl: dict[str, str] = {}
    volumes: list[dict[str, str | list[str]]] = []
    devices: list[dict[str, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line in ("Controller information", "IR Volume information", "Physical device information",
                    "Enclosure information"):
            section = line.split()[0].lower()
            continue
        if section == "ir" and re.match(r"^IR volume \d+", line):
            volumes.append({"id": line, "members": []})
            continue
        if section == "physical" and line.startswith("Device is a"):
            devices.append({"kind": line[len("Device is a"):].strip()})
            continue
        match = _KV.match(raw)
        if not match or set(line) <= {"-"}:
            continue
        key, value = match.group("key"), match.group("value")
        if section == "controller":
            ctl.setdefault(key, value)
        elif section == "ir" and volumes:
            if key.startswith("PHY["):
                volumes[-1]["members"].append(value)  # type: ignore[union-attr]
            else:
                volumes[-1].setdefault(key, value)
        elif section == "physical" and devices:
            devices[-1].setdefault(key, value)
    vds = []
    for v in volumes:
        state = str(v.get("Status of volume", "?"))
        vds.append(VirtualDrive(str(v["id"]), str(v.get("RAID level")) if v.get("RAID level") else None, state,
                                VOLUME_HEALTH.get(_code(state), "unknown"), size=f"{v.get('Size (in MB)')} MB"
                                if v.get("Size (in MB)") else None, members=tuple(v["members"])))  # type: ignore
    pds = []
    for d in devices:
        if "hard disk" not in d.get("kind", "").lower():
            continue
        state = d.get("State", "?")
        pds.append(PhysicalDrive(f"{d.get('Enclosure #', '?')}:{d.get('Slot #', '?')}", state,
                                 DRIVE_HEALTH.get(_code(state), "unknown"), d.get("Model Number"),
                                 d.get("Serial No") or None, d.get("Size (in MB)/(in sectors)"),
                                 firmware=d.get("Firmware Revision")))
    if pci is None and all(k in ctl for k in ("Bus", "Device", "Function")):
        try:
            pci = pci_address(int(ctl.get("Segment", "0")), int(ctl["Bus"]), int(ctl["Device"]), int(ctl["Function"]))
        except ValueError:
            pci = None
    return Controller(tool, index, ctl.get("Controller type"), pci_address=pci,
                      slot=None if ctl.get("Slot") in (None, "Unknown") else ctl.get("Slot"),
                      firmware=ctl.get("Firmware version"), virtual_drives=tuple(vds), physical_drives=tuple(pds))
