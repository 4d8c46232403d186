"""Pure judges of the raid module: software RAID arrays (/proc/mdstat + sysfs) and hardware RAID controllers (the
records the vendor-tool adapters fill, `burnin.tools.raid_records`). Each returns `Judgement`s; none reads the
machine."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from burnin.judge import counter_growth
from burnin.model import Judgement, Severity
from burnin.tools.mdstat import MdArray, MdSysfs
from burnin.tools.raid_records import Controller, PhysicalDrive, VirtualDrive

FAIL, WARN, INFO = Severity.FAIL, Severity.WARN, Severity.INFO
# A battery/CacheVault state word -> severity (checked in order, substrings, lower case).
BATTERY_FAIL = ("fail", "replace", "missing", "dead", "not present", "error", "bad")
BATTERY_WARN = ("learn", "charg", "degrad", "capacitance", "low", "temperature", "warn", "recondition",
                "not optimal", "needs attention")
BATTERY_OK = ("optimal", "ok", "ready", "good", "charged", "present")
PD_FAIL_HEALTH = {"failed": "failed", "unconfigured-bad": "unconfigured bad (UBad)", "offline": "offline",
                  "missing": "missing"}
# What serial a member disk has: disk name ("sdb") -> serial, from the inventory.
Serials = Mapping[str, str]


# -- software RAID ---------------------------------------------------------------------------------
def md_component(array: MdArray | str) -> str:
    return f"md:/dev/{array if isinstance(array, str) else array.name}"


def _member_name(device: str, parent: Callable[[str], str], serials: Serials) -> str:
    disk = parent(device)
    serial = serials.get(disk)
    return f"/dev/{device}" + (f" (disk /dev/{disk}, S/N {serial})" if serial else
                               f" (disk /dev/{disk})" if disk != device else "")


def judge_md(array: MdArray, sysfs: MdSysfs | None, serials: Serials = {},
             parent: Callable[[str], str] = lambda d: d) -> list[Judgement]:
    """One array: failed or missing members and a degraded or stopped array FAIL; a recovery or resync in
    progress WARNs with its progress; a mismatch count after a check WARNs."""
    found: list[Judgement] = []
    component = md_component(array)
    what = f"Software RAID /dev/{array.name}" + (f" ({array.level})" if array.level else "")
    evidence: dict[str, Any] = {"array": array.name, "level": array.level, "mdstat": list(array.lines),
                                "members": [m.device for m in array.members], "status_map": array.status_map}
    if sysfs is not None:
        evidence["sysfs"] = {"array_state": sysfs.array_state, "degraded": sysfs.degraded,
                             "sync_action": sysfs.sync_action, "mismatch_cnt": sysfs.mismatch_cnt,
                             "members": {d: list(m.state) for d, m in sysfs.members.items()}}
    if not array.active:
        if array.container:
            return []  # an IMSM/DDF container: its member arrays are listed and judged on their own
        found.append(Judgement(FAIL, component, "md-array-inactive",
                               f"{what} is not running (inactive): members "
                               f"{', '.join(_member_name(m.device, parent, serials) for m in array.members)}.",
                               evidence))
        return found
    faulty = [m.device for m in array.members if m.faulty]
    if sysfs is not None:
        faulty += [d for d, m in sysfs.members.items() if "faulty" in m.state and d not in faulty]
    for device in faulty:
        found.append(Judgement(FAIL, f"{component}/{device}", "md-member-failed",
                               f"{what}: member {_member_name(device, parent, serials)} has failed (faulty).",
                               {**evidence, "member": device, "disk": parent(device),
                                "serial": serials.get(parent(device))}))
    degraded_by = (sysfs.degraded if sysfs is not None and sysfs.degraded else None) or \
        ((array.raid_disks or 0) - (array.active_disks or 0) if array.degraded else 0)
    recovering = array.sync_action in ("recovery", "reshape") or (
        sysfs is not None and sysfs.sync_action in ("recover", "reshape"))
    if degraded_by:
        missing = array.missing_slots
        slots = f" (slot{'s' if len(missing) > 1 else ''} {', '.join(map(str, missing))} empty)" if missing else ""
        if recovering:
            pct = array.sync_pct if array.sync_pct is not None else (sysfs.sync_pct if sysfs else None)
            found.append(Judgement(WARN, component, "md-array-recovering",
                                   f"{what} is degraded and rebuilding onto a spare{slots}: "
                                   f"{pct if pct is not None else '?'} % done"
                                   + (f", about {array.sync_finish} left" if array.sync_finish else "") + ".",
                                   {**evidence, "progress_pct": pct, "finish": array.sync_finish,
                                    "missing": degraded_by}))
        else:
            found.append(Judgement(FAIL, component, "md-array-degraded",
                                   f"{what} is degraded: {degraded_by} of {array.raid_disks} members missing"
                                   f"{slots}" + (f"; failed: {', '.join(faulty)}" if faulty else "") + ".",
                                   {**evidence, "missing": degraded_by}))
    elif array.sync_action in ("resync", "repair") or (sysfs is not None and sysfs.sync_action == "resync"):
        pct = array.sync_pct if array.sync_pct is not None else (sysfs.sync_pct if sysfs else None)
        found.append(Judgement(WARN, component, "md-array-resync",
                               f"{what} is resynchronising its members: {pct if pct is not None else '?'} % done"
                               + (f", about {array.sync_finish} left" if array.sync_finish else "") + ".",
                               {**evidence, "progress_pct": pct}))
    idle = sysfs is None or sysfs.sync_action in (None, "idle")
    if sysfs is not None and sysfs.mismatch_cnt and idle and sysfs.last_sync_action in (None, "check", "repair"):
        found.append(Judgement(WARN, component, "md-mismatch",
                               f"{what}: the last check found {sysfs.mismatch_cnt} sectors whose copies differ "
                               f"(mismatch_cnt).", {**evidence, "mismatch_cnt": sysfs.mismatch_cnt}))
    if sysfs is not None:
        for device, member in sorted(sysfs.members.items()):
            if "write_error" in member.state or "blocked" in member.state:
                found.append(Judgement(FAIL, f"{component}/{device}", "md-member-failed",
                                       f"{what}: member {_member_name(device, parent, serials)} has write errors "
                                       f"({', '.join(member.state)}).", {**evidence, "member": device}))
    return found


def judge_md_errors(before: Mapping[str, Mapping[str, int | None]], after: Mapping[str, Mapping[str, int | None]],
                    serials: Serials = {}, parent: Callable[[str], str] = lambda d: d) -> list[Judgement]:
    """Read errors corrected on members (dev-X/errors) that grew during the run: WARN, naming the member."""
    found = []
    for array, old in sorted(before.items()):
        grown = counter_growth(old, after.get(array, {}))
        for device, n in sorted(grown.items()):
            found.append(Judgement(WARN, f"{md_component(array)}/{device}", "md-member-errors",
                                   f"Software RAID /dev/{array}: member {_member_name(device, parent, serials)} "
                                   f"had {n} read error(s) during the run, corrected from the other copies.",
                                   {"array": array, "member": device, "grown": n}))
    return found


# -- hardware RAID ---------------------------------------------------------------------------------
def controller_component(c: Controller) -> str:
    return f"raid:{c.pci_address or c.key}"


def battery_severity(state: str | None) -> Severity | None:
    text = (state or "").lower()
    if not text or text in ("na", "n/a"):
        return None
    if text in ("0", "ok", "optimal"):
        return None
    if any(w in text for w in BATTERY_FAIL):
        return FAIL
    if any(w in text for w in BATTERY_WARN):
        return WARN
    if any(text.startswith(w) for w in BATTERY_OK):
        return None
    return WARN


def _vd_line(c: Controller, vd: VirtualDrive) -> str:
    parts = [vd.raid, vd.size, f"\"{vd.name}\"" if vd.name else None, vd.os_device]
    return f"virtual drive {vd.id}" + (f" ({', '.join(p for p in parts if p)})" if any(parts) else "")


def _pd_line(pd: PhysicalDrive) -> str:
    parts = [pd.model, pd.size, f"S/N {pd.serial}" if pd.serial else None]
    return f"drive {pd.id}" + (f" ({', '.join(p for p in parts if p)})" if any(parts) else "")


def judge_controller(c: Controller) -> list[Judgement]:
    """Everything one look at a controller tells: its status, battery, cache policy, VDs, PDs, foreign
    configuration, memory errors and the tool's own warnings."""
    found: list[Judgement] = []
    comp = controller_component(c)
    name = c.describe()
    base = {"controller": c.key, "model": c.model, "serial": c.serial, "pci_address": c.pci_address,
            "firmware": c.firmware, "tool": c.tool}
    if c.status_ok is False:
        text = (c.status or "").lower()
        severity = FAIL if any(w in text for w in ("fail", "fault", "dead", "error")) else WARN
        found.append(Judgement(severity, comp, "raid-controller-status",
                               f"{name} reports its status as \"{c.status}\".", {**base, "status": c.status}))
    battery = c.battery
    if battery is not None and battery.present:
        severity = battery_severity(battery.state)
        if severity is not None:
            code = "raid-battery-failed" if severity is FAIL else "raid-battery-degraded"
            found.append(Judgement(severity, comp, code,
                                   f"{name}: its cache {battery.kind}"
                                   + (f" {battery.model}" if battery.model else "")
                                   + f" reports \"{battery.state}\"" + (
                                       ": the write cache is not protected against power loss." if severity is FAIL
                                       else " (learn cycle, charging or worn: write-back may be off meanwhile)."),
                                   {**base, "battery": battery.kind, "state": battery.state,
                                    "details": dict(battery.details)}))
    forced = [vd for vd in c.virtual_drives if vd.write_back_configured and vd.write_back_now is False]
    if forced:
        found.append(Judgement(WARN, comp, "raid-cache-write-through",
                               f"{name}: {len(forced)} virtual drive(s) were set to write-back but run write-through "
                               f"({', '.join(vd.id for vd in forced)}): the controller turned its cache off, "
                               f"usually for a failed or missing battery.",
                               {**base, "virtual_drives": [vd.id for vd in forced],
                                "battery_state": battery.state if battery else None}))
    for vd in c.virtual_drives:
        vd_evidence = {**base, "virtual_drive": vd.id, "state": vd.state, "raid": vd.raid, "members": list(vd.members),
                       "os_device": vd.os_device}
        if vd.health in ("degraded", "partially-degraded"):
            found.append(Judgement(FAIL, f"{comp}/vd{vd.id}", "raid-vd-degraded",
                                   f"{name}: {_vd_line(c, vd)} is {vd.health.replace('-', ' ')} (\"{vd.state}\"): "
                                   f"it has lost redundancy.", vd_evidence))
        elif vd.health in ("offline", "failed"):
            found.append(Judgement(FAIL, f"{comp}/vd{vd.id}", "raid-vd-failed",
                                   f"{name}: {_vd_line(c, vd)} is {vd.health} (\"{vd.state}\"): its data is not "
                                   f"reachable.", vd_evidence))
        elif vd.health == "rebuilding":
            found.append(Judgement(WARN, f"{comp}/vd{vd.id}", "raid-vd-rebuilding",
                                   f"{name}: {_vd_line(c, vd)} is rebuilding (\"{vd.state}\")"
                                   + (f", {vd.progress_pct:g} % done." if vd.progress_pct is not None else "."),
                                   {**vd_evidence, "progress_pct": vd.progress_pct}))
        elif vd.health == "unknown":
            found.append(Judgement(WARN, f"{comp}/vd{vd.id}", "raid-vd-state-unknown",
                                   f"{name}: {_vd_line(c, vd)} is in a state burnin does not know: \"{vd.state}\".",
                                   vd_evidence))
    for pd in c.physical_drives:
        pd_comp = f"{comp}/pd{pd.id}" + (f" S/N {pd.serial}" if pd.serial else "")
        pd_evidence = {**base, "drive": pd.id, "state": pd.state, "model": pd.model, "serial": pd.serial,
                       "array": pd.array, **pd.counters(), "smart_alert": pd.smart_alert}
        if pd.health in PD_FAIL_HEALTH:
            found.append(Judgement(FAIL, pd_comp, "raid-pd-failed",
                                   f"{name}: {_pd_line(pd)} is {PD_FAIL_HEALTH[pd.health]} (\"{pd.state}\").",
                                   pd_evidence))
        elif pd.health == "rebuilding":
            found.append(Judgement(WARN, pd_comp, "raid-pd-rebuilding",
                                   f"{name}: {_pd_line(pd)} is being rebuilt (\"{pd.state}\").", pd_evidence))
        if pd.predictive_failures or pd.smart_alert or pd.health == "predictive":
            found.append(Judgement(FAIL, pd_comp, "raid-pd-predictive-failure",
                                   f"{name}: {_pd_line(pd)} predicts its own failure (predictive failure count "
                                   f"{pd.predictive_failures or 0}, S.M.A.R.T. alert "
                                   f"{'yes' if pd.smart_alert else 'no'}).", pd_evidence))
        if pd.media_errors or pd.other_errors:
            found.append(Judgement(WARN, pd_comp, "raid-pd-errors",
                                   f"{name}: {_pd_line(pd)} has counted {pd.media_errors or 0} media error(s) and "
                                   f"{pd.other_errors or 0} other error(s) since the controller last cleared them.",
                                   pd_evidence))
    foreign = [pd for pd in c.physical_drives if pd.foreign]
    if foreign:
        found.append(Judgement(WARN, comp, "raid-foreign-config",
                               f"{name}: {len(foreign)} drive(s) carry a foreign configuration, an array from "
                               f"another controller (a previous owner's): {', '.join(_pd_line(pd) for pd in foreign)}."
                               " Import it to read that data, or clear it to use the drives.",
                               {**base, "drives": [pd.id for pd in foreign],
                                "serials": [pd.serial for pd in foreign]}))
    if c.memory_uncorrectable or c.memory_correctable:
        severity = FAIL if c.memory_uncorrectable else WARN
        found.append(Judgement(severity, comp, "raid-controller-memory-errors",
                               f"{name} has counted {c.memory_uncorrectable or 0} uncorrectable and "
                               f"{c.memory_correctable or 0} correctable errors in its cache memory.",
                               {**base, **c.counters()}))
    for warning in c.warnings:
        found.append(Judgement(WARN, comp, "raid-controller-warning", f"{name}: the tool warns: {warning}",
                               {**base, "warning": warning}))
    return found


def controller_counters(c: Controller) -> dict[str, int | None]:
    """Every counter of a controller that must not grow during a run, flat: "memory_correctable",
    "pd 251:1 media_errors", ..."""
    counters = dict(c.counters())
    for pd in c.physical_drives:
        for key, value in pd.counters().items():
            counters[f"pd {pd.id} {key}"] = value
    return counters


def judge_growth(before: Iterable[Controller], after: Iterable[Controller]) -> list[Judgement]:
    """Counters that grew during the run FAIL (`raid-counter-grew`); a controller that vanished FAILs."""
    found = []
    now = {c.key: c for c in after}
    for old in before:
        new = now.get(old.key)
        if new is None:
            found.append(Judgement(FAIL, controller_component(old), "raid-controller-vanished",
                                   f"{old.describe()} answered its tool before the run and not after it.",
                                   {"controller": old.key, "tool": old.tool}))
            continue
        grown = counter_growth(controller_counters(old), controller_counters(new))
        if grown:
            found.append(Judgement(FAIL, controller_component(new), "raid-counter-grew",
                                   f"{new.describe()}: error counters grew during the run ("
                                   + ", ".join(f"{k} +{v}" for k, v in grown.items()) + ").",
                                   {"controller": new.key, "grown": grown,
                                    "serials": {pd.id: pd.serial for pd in new.physical_drives if pd.serial}}))
    return found


# -- SCSI enclosure services -----------------------------------------------------------------------
SES_FAIL_STATUS = ("critical", "unrecoverable")
SES_FAIL_FLAGS = ("Fail", "OT failure", "UT failure", "AC fail", "DC fail", "Overtmp fail")
SES_WARN_FLAGS = ("Predicted failure", "OT warning", "UT warning", "Temperature warn")


def judge_ses(device: str, name: str, page) -> list[Judgement]:
    """An enclosure's elements (`sg_ses --page=es`): a critical or unrecoverable element, or one with a fail bit,
    FAILs; a non-critical one or a warning bit WARNs. Empty bays and absent parts ("Not installed") are not
    faults."""
    found = []
    for e in page.elements:
        status = e.status.lower()
        bad_flags = [f for f in SES_FAIL_FLAGS if e.flags.get(f)]
        warn_flags = [f for f in SES_WARN_FLAGS if e.flags.get(f)]
        if status in ("not installed", "unsupported", "not available") and not bad_flags:
            continue
        what = f"{e.type} {e.index}"
        figures = (f", {e.rpm} rpm" if e.rpm is not None else "") + \
            (f", {e.temperature_c} C" if e.temperature_c is not None else "")
        evidence = {"device": device, "enclosure": name, "type": e.type, "element": e.index, "status": e.status,
                    "flags": dict(e.flags), "rpm": e.rpm, "temperature_c": e.temperature_c,
                    "page_summary": dict(page.summary)}
        if status in SES_FAIL_STATUS or bad_flags:
            found.append(Judgement(FAIL, f"enclosure:{device}/{what}", "ses-element-failed",
                                   f"Enclosure {name} ({device}): {what} reports {e.status}"
                                   + (f" ({', '.join(bad_flags)})" if bad_flags else "") + figures + ".", evidence))
        elif status == "noncritical" or warn_flags:
            found.append(Judgement(WARN, f"enclosure:{device}/{what}", "ses-element-warning",
                                   f"Enclosure {name} ({device}): {what} reports {e.status}"
                                   + (f" ({', '.join(warn_flags)})" if warn_flags else "") + figures + ".", evidence))
    return found
