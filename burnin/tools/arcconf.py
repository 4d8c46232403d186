"""Microchip/Adaptec `arcconf`: argv and parsing of `arcconf getconfig N` (controller status, model, serial,
slot, memory, firmware, battery; logical devices with their status; physical drives with their state). Never
judges.
"""

from __future__ import annotations

import re

from burnin.tools.raid_records import Battery, Controller, PhysicalDrive, VirtualDrive

NAMES = ("arcconf",)
_KV = re.compile(r"^\s*(?P<key>[^:]+?)\s+:\s*(?P<value>.*?)\s*$")
_LD = re.compile(r"^Logical (?:device|Device) number (?P<n>\d+)", re.I)
_PD = re.compile(r"^\s*Device #(?P<n>\d+)\s*$")
_FOUND = re.compile(r"Controllers found:\s*(\d+)")
LD_HEALTH = {"optimal": "optimal", "okay": "optimal", "degraded": "degraded", "failed": "failed",
             "offline": "failed", "rebuilding": "rebuilding", "building": "rebuilding", "impacted": "degraded",
             "suboptimal, fault tolerant": "partially-degraded", "logically failed": "failed"}
PD_HEALTH = {"online": "ok", "ready": "unconfigured", "hot spare": "spare", "failed": "failed",
             "rebuilding": "rebuilding", "offline": "offline", "missing": "missing", "raw (pass through)": "ok",
             "optimal": "ok", "unconfigured": "unconfigured", "dedicated hot-spare": "spare",
             "global hot-spare": "spare"}


def getconfig_argv(controller: int = 1) -> list[str]:
    return ["arcconf", "getconfig", str(controller)]


def controllers_found(text: str) -> int | None:
    match = _FOUND.search(text)
    return int(match.group(1)) if match else None


def parse_getconfig(text: str, index: int = 1) -> Controller:
    section = ""
    ctl: dict[str, str] = {}
    battery: dict[str, str] = {}
    lds: list[dict[str, str]] = []
    pds: list[dict[str, str]] = []
    sub = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or set(line) <= {"-"}:
            continue
        lower = line.lower()
        if lower in ("controller information", "logical device information", "physical device information"):
            section, sub = lower.split()[0], ""
            continue
        if "battery information" in lower:
            sub = "battery"
            continue
        if lower.startswith("controller version information"):
            sub = ""
            continue
        if _LD.match(line):
            section = "logical"
            lds.append({"number": _LD.match(line).group("n")})
            continue
        if _PD.match(raw):
            pds.append({"number": _PD.match(raw).group("n")})
            continue
        if section == "physical" and pds and line.startswith("Device is a"):
            pds[-1]["kind"] = line[len("Device is a"):].strip().removeprefix("n ").strip()
            continue
        match = _KV.match(raw)
        if not match:
            continue
        key, value = match.group("key"), match.group("value")
        if section == "controller":
            (battery if sub == "battery" else ctl).setdefault(key, value)
        elif section == "logical" and lds:
            lds[-1].setdefault(key, value)
        elif section == "physical" and pds:
            pds[-1].setdefault(key, value)
    status = ctl.get("Controller Status")
    memory = re.match(r"(\d+)\s*MB", ctl.get("Installed memory", ""))
    bat = None
    if battery:
        state = battery.get("Status")
        bat = Battery("battery", state is not None and state.lower() != "not installed", state, None, battery)
    vds = []
    for ld in lds:
        state = ld.get("Status of logical device") or ld.get("Status of Logical Device") or "?"
        vds.append(VirtualDrive(f"logical device {ld['number']}", ld.get("RAID level"), state,
                                LD_HEALTH.get(state.lower(), "unknown"), ld.get("Logical device name") or None,
                                ld.get("Size"), ld.get("Write-cache mode"),
                                "write-back" in (ld.get("Write-cache setting") or "").lower() or None,
                                "write-back" in (ld.get("Write-cache mode") or "").lower()))
    drives = []
    for pd in pds:
        if "hard drive" not in pd.get("kind", "hard drive").lower():
            continue
        state = pd.get("State", "?")
        where = pd.get("Reported Location") or pd.get("Reported Channel,Device") or f"device {pd['number']}"
        smart = pd.get("S.M.A.R.T. warnings")
        drives.append(PhysicalDrive(where, state, PD_HEALTH.get(state.lower(), "unknown"), pd.get("Model"),
                                    pd.get("Serial number") or pd.get("Serial Number"), pd.get("Size"),
                                    smart_alert=None if smart is None else smart.strip() not in ("0", "No"),
                                    firmware=pd.get("Firmware")))
    return Controller("arcconf", str(index), (ctl.get("Controller Model") or "").strip() or None,
                      serial=ctl.get("Controller Serial Number"), slot=ctl.get("Physical Slot"),
                      firmware=ctl.get("Firmware"), status=status,
                      status_ok=None if status is None else status.lower() == "optimal",
                      cache_mb=int(memory.group(1)) if memory else None, battery=bat,
                      virtual_drives=tuple(vds), physical_drives=tuple(drives))
