"""Memory population checks: is the memory installed the way the board needs it, and is all of it used?

Pure functions from the memory and CPU-socket records to findings (module "inventory"):

- `dimm-slot-order` (WARN): a slot is empty while a later slot of the same channel (or, on Dell boards, a
  higher-numbered slot of the same socket) holds a DIMM.
- `memory-socket-empty` (WARN): a socket with a CPU has no DIMM; `dimm-socket-without-cpu` (FAIL): a DIMM sits
  in a slot of a socket that has no CPU, so nothing can use it.
- `memory-sockets-unbalanced` (WARN): sockets hold different amounts of memory.
- `memory-channels-partial` / `memory-channels-uneven` (WARN): a socket leaves channels empty (less bandwidth),
  or its channels hold different numbers of DIMMs.
- `dimm-mixed-sizes`, `dimm-mixed-speeds`, `dimm-mixed-parts` (WARN): DIMMs differ.
- `dimm-speed-below-rated` (WARN): DIMMs run below their rated speed (often the CPU's or board's rule).
- `dimm-not-used` (FAIL): the DIMMs add up to more than the OS sees, beyond a reserve for firmware and kernel.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from math import gcd
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from burnin.inventory._record import GIB
from burnin.inventory.cpu import CpuSocket
from burnin.inventory.memory import Dimm, MemoryInfo
from burnin.model import Finding, Severity

MODULE = "inventory"


@dataclass(frozen=True)
class PopulationPolicy:
    """Severities and the OS reserve; `from_settings` reads them from a profile's settings."""

    slot_order: Severity = Severity.WARN
    sockets: Severity = Severity.WARN
    channels: Severity = Severity.WARN
    mixed: Severity = Severity.WARN
    speed_below_rated: Severity = Severity.WARN
    not_used: Severity = Severity.FAIL
    reserve_pct: float = 5.0  # of the DIMM total, kept by firmware and kernel
    reserve_gib: float = 1.0

    SETTINGS = {
        "dimm_slot_order": "warn",
        "memory_sockets": "warn",
        "memory_channels": "warn",
        "dimm_mixed": "warn",
        "dimm_speed_below_rated": "warn",
        "dimm_not_used": "fail",
        "memory_reserve_pct": 5.0,
        "memory_reserve_gib": 1.0,
    }

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "PopulationPolicy":
        s = {**cls.SETTINGS, **{k: v for k, v in settings.items() if k in cls.SETTINGS}}
        return cls(
            slot_order=Severity(s["dimm_slot_order"]),
            sockets=Severity(s["memory_sockets"]),
            channels=Severity(s["memory_channels"]),
            mixed=Severity(s["dimm_mixed"]),
            speed_below_rated=Severity(s["dimm_speed_below_rated"]),
            not_used=Severity(s["dimm_not_used"]),
            reserve_pct=float(s["memory_reserve_pct"]),
            reserve_gib=float(s["memory_reserve_gib"]),
        )


def gib(size_bytes: int | float | None) -> str:
    if size_bytes is None:
        return "?"
    value = size_bytes / GIB
    return f"{value:.0f} GiB" if abs(value - round(value)) < 0.05 else f"{value:.1f} GiB"


def _finding(severity: Severity, component: str, code: str, message: str, **evidence: Any) -> Finding:
    return Finding(MODULE, severity, component, code, message, evidence)


def _socket_label(index: int | None, sockets: Sequence[CpuSocket]) -> str:
    if index is not None and index < len(sockets):
        return sockets[index].name
    return f"socket {index + 1}" if index is not None else "socket ?"


def slot_order_findings(dimms: Sequence[Dimm], sockets: Sequence[CpuSocket], severity: Severity) -> list[Finding]:
    findings: list[Finding] = []
    channels: dict[tuple, list[Dimm]] = defaultdict(list)
    groups: dict[str, list[Dimm]] = defaultdict(list)
    for d in dimms:
        p = d.place
        if p.channel is not None and p.slot is not None and (p.socket is not None or len(sockets) <= 1):
            channels[(p.socket, p.channel)].append(d)
        if p.group is not None and p.number is not None:
            groups[p.group].append(d)
    for (socket, channel), members in channels.items():
        filled = [d for d in members if d.populated]
        for empty in (d for d in members if not d.populated):
            later = [d.name for d in filled if d.place.slot > empty.place.slot]
            if later:
                findings.append(_finding(
                    severity, f"dimm:{empty.name}", "dimm-slot-order",
                    f"Slot {empty.name} is empty while {', '.join(later)} on the same channel holds a DIMM: "
                    "boards expect the first slot of each channel to be filled first.",
                    socket=_socket_label(socket, sockets), channel=channel, empty_slot=empty.name,
                    filled_later=later,
                ))
    for group, members in groups.items():
        filled = [d for d in members if d.populated]
        for empty in (d for d in members if not d.populated):
            later = [d.name for d in filled if d.place.number > empty.place.number]
            if later:
                findings.append(_finding(
                    severity, f"dimm:{empty.name}", "dimm-slot-order",
                    f"Slot {empty.name} is empty while {', '.join(later)} holds a DIMM: this board fills the "
                    f"{group} slots in numeric order ({group}1, {group}2, …).",
                    group=group, empty_slot=empty.name, filled_later=later,
                ))
    return findings


def socket_findings(dimms: Sequence[Dimm], sockets: Sequence[CpuSocket], policy: PopulationPolicy) -> list[Finding]:
    populated = [d for d in dimms if d.populated]
    if not sockets or not populated or any(d.place.socket is None for d in dimms):
        return []  # sockets unknown for some slots: nothing honest to say per socket
    findings: list[Finding] = []
    for d in populated:
        if not sockets[d.place.socket].populated:
            findings.append(_finding(
                policy.not_used, f"dimm:{d.name}", "dimm-socket-without-cpu",
                f"DIMM {d.name} sits in a slot of {sockets[d.place.socket].name}, which has no CPU: "
                "nothing can use it.",
                socket=sockets[d.place.socket].name, size_bytes=d.size_bytes,
            ))
    totals = {}
    for i, socket in enumerate(sockets):
        if not socket.populated:
            continue
        mine = [d for d in populated if d.place.socket == i]
        totals[socket.name] = (len(mine), sum(d.size_bytes or 0 for d in mine))
        if not mine:
            findings.append(_finding(
                policy.sockets, f"memory:{socket.name}", "memory-socket-empty",
                f"{socket.name} has no DIMMs: its cores reach all memory through another socket, "
                "which is slower.",
                socket=socket.name,
            ))
    filled = {name: v for name, v in totals.items() if v[0]}
    if len(filled) > 1 and len(set(filled.values())) > 1:
        described = "; ".join(f"{name}: {gib(size)} in {count} DIMMs" for name, (count, size) in filled.items())
        findings.append(_finding(
            policy.sockets, "memory", "memory-sockets-unbalanced",
            f"Sockets hold different amounts of memory ({described}): programs on one socket get less "
            "local memory and bandwidth.",
            sockets={name: {"dimms": c, "bytes": s} for name, (c, s) in filled.items()},
        ))
    return findings


_FRACTIONS = {(1, 2): "half", (1, 4): "a quarter", (3, 4): "three quarters", (1, 3): "a third",
              (2, 3): "two thirds", (1, 6): "a sixth", (5, 6): "five sixths", (1, 8): "an eighth",
              (3, 8): "three eighths", (5, 8): "five eighths", (7, 8): "seven eighths"}


def _fraction(part: int, whole: int) -> str:
    g = gcd(part, whole)
    return _FRACTIONS.get((part // g, whole // g), f"{part}/{whole}")


def channel_findings(dimms: Sequence[Dimm], sockets: Sequence[CpuSocket], severity: Severity) -> list[Finding]:
    by_socket: dict[int | None, list[Dimm]] = defaultdict(list)
    for d in dimms:
        by_socket[d.place.socket].append(d)
    findings: list[Finding] = []
    for socket, members in by_socket.items():
        if socket is None and len(sockets) > 1:
            continue
        if any(d.place.channel is None for d in members):
            continue
        if sockets and socket is not None and socket < len(sockets) and not sockets[socket].populated:
            continue
        per_channel: dict[str, int] = {}
        for d in members:
            per_channel[d.place.channel] = per_channel.get(d.place.channel, 0) + (1 if d.populated else 0)
        used = sorted(c for c, n in per_channel.items() if n)
        if not used:
            continue  # an empty socket is memory-socket-empty's business
        name = _socket_label(socket, sockets) if sockets else "the CPU"
        component = f"memory:{name}"
        total = len(per_channel)
        if len(used) < total:
            findings.append(_finding(
                severity, component, "memory-channels-partial",
                f"{name} has {len(used)} of {total} memory channels populated: memory bandwidth is about "
                f"{_fraction(len(used), total)} of what it could be.",
                socket=name, channels_populated=used,
                channels_empty=sorted(c for c, n in per_channel.items() if not n),
            ))
        depths = {c: per_channel[c] for c in used}
        if len(set(depths.values())) > 1:
            findings.append(_finding(
                severity, component, "memory-channels-uneven",
                f"{name}'s channels hold different numbers of DIMMs "
                f"({', '.join(f'{c}: {n}' for c, n in depths.items())}): memory is interleaved unevenly.",
                socket=name, dimms_per_channel=depths,
            ))
    return findings


def mixed_findings(dimms: Sequence[Dimm], severity: Severity) -> list[Finding]:
    populated = [d for d in dimms if d.populated]
    findings: list[Finding] = []
    sizes = Counter(d.size_bytes for d in populated if d.size_bytes)
    if len(sizes) > 1:
        findings.append(_finding(
            severity, "memory", "dimm-mixed-sizes",
            f"DIMMs of different sizes are installed "
            f"({', '.join(f'{n}x {gib(s)}' for s, n in sorted(sizes.items()))}).",
            sizes_bytes={str(s): n for s, n in sizes.items()},
        ))
    speeds = Counter(d.speed_mts for d in populated if d.speed_mts)
    if len(speeds) > 1:
        findings.append(_finding(
            severity, "memory", "dimm-mixed-speeds",
            f"DIMMs rated for different speeds are installed "
            f"({', '.join(f'{n}x {s} MT/s' for s, n in sorted(speeds.items()))}): all run at the slowest.",
            speeds_mts={str(s): n for s, n in speeds.items()},
        ))
    parts = Counter(d.part_number.strip().upper() for d in populated if d.part_number)
    if len(parts) > 1:
        findings.append(_finding(
            severity, "memory", "dimm-mixed-parts",
            f"DIMMs with {len(parts)} different part numbers are installed "
            f"({', '.join(f'{n}x {p}' for p, n in parts.most_common())}).",
            part_numbers=dict(parts),
        ))
    return findings


def speed_findings(dimms: Sequence[Dimm], severity: Severity) -> list[Finding]:
    slow: dict[tuple[int, int], list[str]] = defaultdict(list)
    for d in dimms:
        if d.populated and d.speed_mts and d.configured_speed_mts and d.configured_speed_mts < d.speed_mts:
            slow[(d.speed_mts, d.configured_speed_mts)].append(d.name)
    return [
        _finding(
            severity, "memory", "dimm-speed-below-rated",
            f"{len(names)} DIMMs rated {rated} MT/s run at {configured} MT/s: this may be the CPU's or the "
            "board's limit (for example with 2 DIMMs per channel) rather than a fault.",
            rated_mts=rated, configured_mts=configured, dimms=names,
        )
        for (rated, configured), names in sorted(slow.items())
    ]


def unused_memory_findings(memory: MemoryInfo, os_total_bytes: int | None, policy: PopulationPolicy) -> list[Finding]:
    dimm_total = memory.dimm_total_bytes
    if not dimm_total or not os_total_bytes:
        return []
    reserve = dimm_total * policy.reserve_pct / 100 + policy.reserve_gib * GIB
    missing = dimm_total - os_total_bytes
    if missing <= reserve:
        return []
    return [_finding(
        policy.not_used, "memory", "dimm-not-used",
        f"The DIMMs add up to {gib(dimm_total)} but the OS sees {gib(os_total_bytes)}: "
        "a DIMM the BIOS or OS does not use (failed training, a disabled channel, or memory mapped out).",
        dimm_total_bytes=dimm_total, os_total_bytes=os_total_bytes, missing_bytes=missing,
        reserve_bytes=int(reserve),
    )]


def population_findings(
    memory: MemoryInfo,
    sockets: Sequence[CpuSocket],
    *,
    os_total_bytes: int | None = None,
    policy: PopulationPolicy = PopulationPolicy(),
) -> list[Finding]:
    """Every population finding for one machine. Pass `os_total_bytes` only when the DIMM list came from
    this same running machine (not from a dump of another one)."""
    dimms = memory.dimms
    return [
        *slot_order_findings(dimms, sockets, policy.slot_order),
        *socket_findings(dimms, sockets, policy),
        *channel_findings(dimms, sockets, policy.channels),
        *mixed_findings(dimms, policy.mixed),
        *speed_findings(dimms, policy.speed_below_rated),
        *unused_memory_findings(memory, os_total_bytes, policy),
    ]
