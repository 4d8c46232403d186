"""HPE Smart Array `ssacli` (formerly `hpssacli`, `hpacucli`): argv and parsing of `ctrl all show config` (arrays,
logical and physical drives with their status words, the tool's warnings) and `ctrl all show status` (controller,
cache and battery/capacitor status). Never judges.
"""

from __future__ import annotations

import re
from dataclasses import replace

from burnin.tools.raid_records import Battery, Controller, PhysicalDrive, VirtualDrive

NAMES = ("ssacli", "hpssacli", "hpacucli")
_CONTROLLER = re.compile(r"^(?P<model>\S.*?) in Slot (?P<slot>\S+)(?: \((?P<where>[^)]*)\))?\s*"
                         r"(?:\(sn: (?P<sn>[^)]+)\))?\s*$")
_ARRAY = re.compile(r"^array (?P<name>\S+)(?: \((?P<info>[^)]*)\))?\s*$", re.I)
_LD = re.compile(r"^logicaldrive (?P<id>\d+) \((?P<size>[^,]+), (?P<raid>RAID [^,]+|[^,]+), (?P<status>.+)\)\s*$")
_PD = re.compile(r"^physicaldrive (?P<id>\S+) \((?P<info>.*)\)\s*$")
_STATUS = re.compile(r"^(?P<what>Controller|Cache|Battery/Capacitor) Status:\s*(?P<value>.+)$")
_PROGRESS = re.compile(r"(\d+(?:\.\d+)?)% complete")


def config_argv(tool: str) -> list[str]:
    return [tool, "ctrl", "all", "show", "config"]


def status_argv(tool: str) -> list[str]:
    return [tool, "ctrl", "all", "show", "status"]


def ld_health(status: str) -> str:
    s = status.lower()
    if s == "ok":
        return "optimal"
    if "recovering" in s or "rebuild" in s and "ready" not in s:
        return "rebuilding"
    if "interim recovery" in s or "ready for rebuild" in s or "degraded" in s:
        return "degraded"
    if "failed" in s or "offline" in s:
        return "failed"
    return "unknown"


def pd_health(status: str) -> str:
    s = status.lower()
    if "predictive failure" in s:
        return "predictive"
    if "failed" in s:
        return "failed"
    if "rebuilding" in s:
        return "rebuilding"
    if s.startswith("ok"):
        return "ok"
    return "unknown"


def parse_config(text: str, tool: str = "ssacli") -> list[Controller]:
    controllers: list[Controller] = []
    array, array_failed = None, False
    lds: list[VirtualDrive] = []
    pds: list[PhysicalDrive] = []
    warnings: list[str] = []
    warning: list[str] = []

    def close() -> None:
        if controllers:
            controllers[-1] = replace(controllers[-1], virtual_drives=tuple(lds), physical_drives=tuple(pds),
                                      warnings=tuple(warnings))

    for raw in text.splitlines() + [""]:
        line = raw.strip()
        if warning and not line:
            warnings.append(" ".join(warning))
            warning = []
            continue
        if warning:
            warning.append(line)
            continue
        if line.startswith(("Warning:", "FIRMWARE UPGRADE REQUIRED")):
            warning = [line]
            continue
        match = _CONTROLLER.match(raw)
        if match and not raw.startswith(" "):
            close()
            lds, pds, warnings = [], [], warnings if not controllers else []
            controllers.append(Controller(tool, f"slot={match.group('slot')}", match.group("model").strip(),
                                          serial=match.group("sn"), slot=match.group("slot")))
            continue
        match = _ARRAY.match(line)
        if match:
            array = match.group("name")
            array_failed = "failed" in (match.group("info") or "").lower()
            continue
        match = _LD.match(line)
        if match:
            status = match.group("status").strip()
            health = ld_health(status)
            if array_failed and health == "optimal":
                health, status = "degraded", f"{status} (array {array}: Failed)"
            progress = _PROGRESS.search(status)
            lds.append(VirtualDrive(f"logicaldrive {match.group('id')}", match.group("raid"), status, health,
                                    size=match.group("size"), progress_pct=float(progress.group(1)) if progress
                                    else None))
            continue
        match = _PD.match(line)
        if match:
            parts = [p.strip() for p in match.group("info").split(",")]
            status = parts[-1] if parts else "?"
            if status.lower() == "spare" and len(parts) > 1:
                status = f"{parts[-2]}, spare"
            pds.append(PhysicalDrive(match.group("id"), status, "spare" if status.endswith("spare")
                                     and pd_health(status) == "ok" else pd_health(status),
                                     size=parts[-2] if len(parts) >= 2 else None, array=array,
                                     predictive_failures=1 if "predictive failure" in status.lower() else None))
    close()
    if warnings and not controllers:
        controllers.append(Controller(tool, "?", None, warnings=tuple(warnings)))
    return controllers


def parse_status(text: str) -> dict[str, dict[str, str]]:
    """`ctrl all show status` -> slot -> {"Controller": "OK", "Cache": "OK", "Battery/Capacitor": "OK"}."""
    out: dict[str, dict[str, str]] = {}
    slot = None
    for raw in text.splitlines():
        match = _CONTROLLER.match(raw)
        if match and not raw.startswith(" "):
            slot = match.group("slot")
            out[slot] = {}
            continue
        match = _STATUS.match(raw.strip())
        if match and slot is not None:
            out[slot][match.group("what")] = match.group("value").strip()
    return out


def merge_status(controllers: list[Controller], status: dict[str, dict[str, str]]) -> list[Controller]:
    merged = []
    for c in controllers:
        s = status.get(c.slot or "")
        if s:
            word = s.get("Controller")
            battery_word = s.get("Battery/Capacitor")
            battery = None
            if battery_word is not None:
                absent = "not present" in battery_word.lower()
                battery = Battery("battery/capacitor", not absent, None if absent else battery_word)
            warnings = c.warnings
            cache = s.get("Cache")
            if cache and cache.lower() not in ("ok", "not configured"):
                warnings = (*warnings, f"Cache Status: {cache}")
            c = replace(c, status=word, status_ok=None if word is None else word.lower() == "ok", battery=battery,
                        warnings=warnings)
        merged.append(c)
    return merged
