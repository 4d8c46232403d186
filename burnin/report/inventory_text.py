"""`burnin inventory` for a person: what is in the box, on an 80-column console."""

from __future__ import annotations

from typing import Any, Sequence

from burnin.model import Finding, Severity
from burnin.report.terminal import field


def _gib(size: int | None) -> str:
    return "?" if size is None else f"{size / 2**30:.0f} GiB" if size >= 2**30 else f"{size / 2**20:.0f} MiB"


def _gb(size: int | None) -> str:
    return "?" if size is None else f"{size / 1e9:.0f} GB"


def _join(*parts: Any) -> str:
    return " ".join(str(p) for p in parts if p not in (None, "", ()))


def inventory_text(inv, checks: Sequence[Any] = (), findings: Sequence[Finding] = ()) -> str:
    lines: list[str] = []
    system = inv.system
    lines.append(f"System   {_join(system.vendor, system.product) or 'unknown'}"
                 + (f"  S/N {system.serial}" if system.serial else ""))
    if system.bios_version:
        lines.append(f"BIOS     {_join(system.bios_vendor, system.bios_version, system.bios_date)}")
    cpu = inv.cpu
    lines.append(f"CPU      {cpu.model or 'unknown'}")
    lines.append(f"         {cpu.sockets or '?'} socket(s), {cpu.cores or '?'} cores, {cpu.threads or '?'} threads")
    memory = inv.memory
    populated = [d for d in memory.dimms if d.populated]
    lines.append(f"Memory   {_gib(memory.total_bytes)} seen by the OS"
                 + (f"; {len(populated)} of {len(memory.dimms)} DIMM slots populated" if memory.dimms else "")
                 + (f"; ECC: {memory.ecc}" if memory.ecc else ""))
    for dimm in memory.dimms:
        if dimm.populated:
            lines.append(f"  {dimm.name:<16} {_gib(dimm.size_bytes):>8} {dimm.type or ''} "
                         f"{dimm.speed_mts or '?'} MT/s {_join(dimm.manufacturer, dimm.part_number)}"[:79])
        else:
            lines.append(f"  {dimm.name:<16} {'empty':>8}")
    lines.append(f"Disks    {len(inv.disks)}")
    for disk in inv.disks:
        state = "SYSTEM" if disk.system else "mounted" if disk.mountpoints else ""
        lines.append(f"  {disk.name:<8} {_gb(disk.size_bytes):>8} {disk.transport or '?':<6} "
                     f"{_join(disk.model, 'S/N ' + disk.serial if disk.serial else '')} {state}"[:79])
    for disk in getattr(inv, "boot_media", ()):
        lines.append(f"  {disk.name:<8} {_gb(disk.size_bytes):>8} {disk.transport or '?':<6} "
                     f"{_join(disk.model, '')} BOOT STICK, not tested"[:79])
    lines.append(f"NICs     {len(inv.nics)}")
    for nic in inv.nics:
        speed = f"{nic.speed_mbps} Mb/s" if nic.speed_mbps and nic.speed_mbps > 0 else "speed ?"
        link = "link up" if nic.carrier else "no link"
        lines.append(f"  {nic.name:<10} {nic.mac or '':<17} {nic.driver or '?':<8} {link}, {speed}"[:79])
    lines.append(f"PCIe     {len(inv.pcie.devices)} devices")
    for note in inv.notes:
        lines.append(f"note: {note}"[:200])
    if checks:
        lines.append("")
        lines.append("Claims")
        for check in checks:
            mark = {True: "ok  ", False: "FAIL", None: "??  "}[check.ok]
            lines.append(f"  {mark} {check.key}: expected {check.expected}, found {check.found}"[:200])
    judged = [f for f in findings if f.severity is not Severity.INFO]
    if judged:
        lines.append("")
        lines.append("Memory population")
        for finding in judged:
            lines.append(f"  {finding.severity.value.upper()} {finding.component}: {finding.message}")
    # Each entry is one line: a hardware string's controls and newlines are shown, not obeyed; bounded.
    return "\n".join(field(line, 400) for line in lines)
