"""Broadcom/LSI MegaRAID `storcli`/`storcli64` and Dell PERC `perccli`/`perccli64` (the same program, rebranded):
argv and parsing of their JSON output (the trailing `J`), never judging.

    /call show all J          every controller: model, serial, PCI address, firmware, status, memory error
                              counters, cache size, BBU/CacheVault/Energy Pack, the VD and PD lists
    /call/vall show all J     each VD's properties: write cache asked for, OS drive name, active operations
    /call/eall/sall show all J   each drive's error counters (media, other, predictive failure), S.M.A.R.T. alert,
                              serial number

Both JSON layouts seen in the field are read: the 7.x one (`Basics`, `Version`, `Bus`, `Status`, `HwCfg`) and
the older flat one (`Product Name`, `FW Version`, ... in `Response Data`).
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Any, Iterable, Mapping

from burnin.tools.raid_records import Battery, Controller, PhysicalDrive, VirtualDrive, pci_address

NAMES = ("storcli64", "storcli", "perccli64", "perccli", "storcli2")
VD_HEALTH = {"optl": "optimal", "dgrd": "degraded", "pdgd": "partially-degraded", "ofln": "offline",
             "rec": "rebuilding", "cac": "optimal", "frgn": "foreign"}
PD_HEALTH = {"onln": "ok", "ugood": "unconfigured", "ugunsp": "unconfigured", "ghs": "spare", "dhs": "spare",
             "jbod": "ok", "ubad": "unconfigured-bad", "offln": "offline", "rbld": "rebuilding", "cpybck": "rebuilding",
             "msng": "missing", "failed": "failed", "ugshld": "unconfigured-bad", "hspshld": "spare",
             "cfshld": "offline", "sanit": "unknown"}
_MB = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]?B)", re.I)
_DRIVE_KEY = re.compile(r"^Drive /c(?P<c>\d+)(?:/e(?P<e>\d+))?/s(?P<s>\d+)$")
_VD_KEY = re.compile(r"^/c(?P<c>\d+)/v(?P<v>\d+)$")


def show_all_argv(tool: str) -> list[str]:
    return [tool, "/call", "show", "all", "J"]


def vds_argv(tool: str) -> list[str]:
    return [tool, "/call/vall", "show", "all", "J"]


def drives_argv(tool: str) -> list[str]:
    return [tool, "/call/eall/sall", "show", "all", "J"]


def _controllers(text: str) -> list[Mapping[str, Any]]:
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("Controllers"), list):
        raise ValueError("not storcli JSON: no \"Controllers\" list")
    return [c for c in data["Controllers"] if isinstance(c, dict)]


def _responses(text: str) -> list[tuple[str, Mapping[str, Any]]]:
    """(controller number, its "Response Data") for every controller that answered with data."""
    out = []
    for entry in _controllers(text):
        data = entry.get("Response Data")
        if isinstance(data, dict):
            out.append((str((entry.get("Command Status") or {}).get("Controller", "?")), data))
    return out


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip(), 0)
    except (TypeError, ValueError):
        return None


def _str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def size_mb(text: Any) -> int | None:
    """"4096MB" -> 4096, "2GB" -> 2048, "0MB" -> 0."""
    match = _MB.search(str(text or ""))
    if not match:
        return None
    number, unit = float(match.group(1)), match.group(2).upper()
    return int(number * {"KB": 1 / 1024, "B": 1 / 2**20, "MB": 1, "GB": 1024, "TB": 2**20}[unit])


def _pci(data: Mapping[str, Any], bus_block: Mapping[str, Any]) -> str | None:
    address = pci_address(_int(bus_block.get("Domain ID")), _int(bus_block.get("Bus Number")),
                          _int(bus_block.get("Device Number")), _int(bus_block.get("Function Number")))
    if address:
        return address
    text = _str(data.get("PCI Address"))  # "00:64:00:00": domain, bus, device, function (hex)
    parts = (text or "").split(":")
    if len(parts) == 4 and all(re.fullmatch(r"[0-9a-fA-F]{1,4}", p) for p in parts):
        return pci_address(*(int(p, 16) for p in parts))
    return None


def _battery(data: Mapping[str, Any], status: Mapping[str, Any], hw: Mapping[str, Any]) -> Battery | None:
    for key, kind in (("Cachevault_Info", "CacheVault"), ("BBU_Info", "BBU"), ("Energy Pack Info", "Energy Pack")):
        info = data.get(key)
        if isinstance(info, list) and info and isinstance(info[0], dict):
            first = info[0]
            return Battery(kind, True, _str(first.get("State")), _str(first.get("Model")),
                           {k: v for k, v in first.items() if isinstance(v, (str, int, float))})
    for key, kind in (("Energy Pack", "Energy Pack"), ("BBU", "BBU"), ("CacheVault", "CacheVault")):
        present = _str(hw.get(key))
        if present is None:
            continue
        state = _str(status.get(f"{kind} Status"))
        if present.lower() == "present":
            return Battery(kind, True, state, None, {f"{kind} Status": state})
        if present.lower() in ("absent", "missing"):
            return Battery(kind, False, None)
    return None


def _vd(row: Mapping[str, Any]) -> VirtualDrive:
    state = _str(row.get("State")) or "?"
    cache = _str(row.get("Cache")) or ""
    wb_now = ("WB" in cache.upper() and "WT" not in cache.upper()) if cache else None
    return VirtualDrive(_str(row.get("DG/VD")) or "?", _str(row.get("TYPE")), state,
                        VD_HEALTH.get(state.lower(), "unknown"), _str(row.get("Name")), _str(row.get("Size")),
                        cache or None, None, wb_now)


def _pd(row: Mapping[str, Any]) -> PhysicalDrive:
    state = _str(row.get("State")) or "?"
    group = _str(row.get("DG"))
    foreign = group == "F" or _str(row.get("Sp")) == "F"
    return PhysicalDrive(_str(row.get("EID:Slt")) or f"DID {row.get('DID')}", state,
                         PD_HEALTH.get(state.lower(), "unknown"), _str(row.get("Model")), None,
                         _str(row.get("Size")), group if group not in (None, "-", "F") else None, foreign)


def parse_show_all(text: str, tool: str = "storcli") -> tuple[list[Controller], list[str]]:
    """`/call show all J` -> the controllers, and the problems the tool reported (a controller it could not read)."""
    controllers, problems = [], []
    for entry in _controllers(text):
        command = entry.get("Command Status") or {}
        data = entry.get("Response Data")
        index = str(command.get("Controller", len(controllers)))
        if str(command.get("Status", "")).lower() != "success" or not isinstance(data, dict):
            problems.append(f"controller {index}: {command.get('Status')}: {command.get('Description')}")
            continue
        basics = data.get("Basics") if isinstance(data.get("Basics"), dict) else data
        version = data.get("Version") if isinstance(data.get("Version"), dict) else data
        bus = data.get("Bus") if isinstance(data.get("Bus"), dict) else data
        status = data.get("Status") if isinstance(data.get("Status"), dict) else {}
        hw = data.get("HwCfg") if isinstance(data.get("HwCfg"), dict) else {}
        controller_status = _str(status.get("Controller Status"))
        firmware = _str(version.get("Firmware Version") or version.get("FW Version"))
        package = _str(version.get("Firmware Package Build") or version.get("FW Package Build"))
        controllers.append(Controller(
            tool=tool, index=index,
            model=_str(basics.get("Model") or basics.get("Product Name")),
            serial=_str(basics.get("Serial Number")),
            pci_address=_pci(basics, bus),
            slot=_str(basics.get("PCI Slot Number")),
            firmware=f"{firmware} (package {package})" if firmware and package else firmware or package,
            status=controller_status,
            status_ok=None if controller_status is None else controller_status.lower() == "optimal",
            cache_mb=size_mb(hw.get("On Board Memory Size")),
            battery=_battery(data, status, hw),
            memory_correctable=_int(status.get("Memory Correctable Errors")),
            memory_uncorrectable=_int(status.get("Memory Uncorrectable Errors")),
            virtual_drives=tuple(_vd(r) for r in data.get("VD LIST") or () if isinstance(r, dict)),
            physical_drives=tuple(_pd(r) for r in data.get("PD LIST") or () if isinstance(r, dict)),
        ))
    return controllers, problems


def parse_vds(text: str) -> dict[str, dict[str, dict[str, Any]]]:
    """`/call/vall show all J` -> controller -> VD number -> its properties (write cache asked for, OS drive)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for index, data in _responses(text):
        for key, value in data.items():
            match = _VD_KEY.match(key)
            if not match:
                continue
            vd = match.group("v")
            props = data.get(f"VD{vd} Properties") if isinstance(data.get(f"VD{vd} Properties"), dict) else {}
            members = [str(r.get("EID:Slt")) for r in data.get(f"PDs for VD {vd}") or () if isinstance(r, dict)]
            out.setdefault(index, {})[vd] = {"properties": dict(props), "members": members,
                                             "row": value[0] if isinstance(value, list) and value else {}}
    return out


def parse_drives(text: str) -> dict[str, dict[str, dict[str, Any]]]:
    """`/call/eall/sall show all J` -> controller -> "EID:Slt" -> error counters, S.M.A.R.T. alert, serial."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for index, data in _responses(text):
        for key, value in data.items():
            match = _DRIVE_KEY.match(key)
            if not match or not isinstance(value, list) or not value or not isinstance(value[0], dict):
                continue
            slot = _str(value[0].get("EID:Slt")) or f"{match.group('e') or ''}:{match.group('s')}"
            detail = data.get(f"{key} - Detailed Information")
            detail = detail if isinstance(detail, dict) else {}
            state = detail.get(f"{key} State") if isinstance(detail.get(f"{key} State"), dict) else {}
            attrs = detail.get(f"{key} Device attributes")
            attrs = attrs if isinstance(attrs, dict) else {}
            alert = _str(state.get("S.M.A.R.T alert flagged by drive"))
            out.setdefault(index, {})[slot] = {
                "media_errors": _int(state.get("Media Error Count")),
                "other_errors": _int(state.get("Other Error Count")),
                "predictive_failures": _int(state.get("Predictive Failure Count")),
                "smart_alert": None if alert is None else alert.lower() == "yes",
                "serial": _str(attrs.get("SN")),
                "firmware": _str(attrs.get("Firmware Revision")),
                "model": _str(attrs.get("Model Number")),
            }
    return out


def merge(controllers: Iterable[Controller], vds: Mapping[str, Mapping[str, Mapping[str, Any]]],
          drives: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> list[Controller]:
    """The controllers with what the per-VD and per-drive commands added."""
    merged = []
    for c in controllers:
        vd_props = vds.get(c.index, {})
        new_vds = []
        for vd in c.virtual_drives:
            number = vd.id.split("/")[-1]
            extra = vd_props.get(number)
            if extra:
                props = extra["properties"]
                asked = _str(props.get("Write Cache(initial setting)"))
                vd = replace(vd, write_back_configured=None if asked is None else "back" in asked.lower(),
                             os_device=_str(props.get("OS Drive Name")), members=tuple(extra["members"]))
                progress = re.search(r"(\d+(?:\.\d+)?)\s*%", str(props.get("Active Operations") or ""))
                if progress:
                    vd = replace(vd, progress_pct=float(progress.group(1)))
            new_vds.append(vd)
        per_drive = drives.get(c.index, {})
        new_pds = []
        for pd in c.physical_drives:
            info = per_drive.get(pd.id)
            if info:
                pd = replace(pd, serial=info["serial"], firmware=info["firmware"], media_errors=info["media_errors"],
                             other_errors=info["other_errors"], predictive_failures=info["predictive_failures"],
                             smart_alert=info["smart_alert"])
            new_pds.append(pd)
        merged.append(replace(c, virtual_drives=tuple(new_vds), physical_drives=tuple(new_pds)))
    return merged
