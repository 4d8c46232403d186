"""Memory bandwidth per NUMA node: measured with pinned threads (`patterns.measure_bandwidth`), compared with the
node's siblings (the main signal: same machine, same method) and, as information, with what its populated DIMMs
could give (channels x configured MT/s x 8 bytes, from the inventory; a few Python threads rarely come close).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from burnin.host import natural_key
from burnin.model import Judgement, Severity
from burnin.module import ModuleContext
from burnin.modules.memory import patterns
from burnin.modules.memory.ecc import dimms
from burnin.modules.memory.plan import NodeInfo


@dataclass(frozen=True)
class Expectation:
    """What a node's populated DIMMs could deliver: channels x MT/s x 8 bytes."""

    node: int
    sockets: tuple[int, ...]
    slots: tuple[str, ...]  # populated slots on those sockets
    channels: int | None
    mts: int | None
    gbps: float | None
    unknown_reason: str | None = None


def expected_bandwidth(node: NodeInfo, dimms: Sequence[Any], socket_count: int | None) -> Expectation:
    """Channels populated x configured MT/s x 8 bytes for the DIMMs on the node's socket(s)."""
    populated = [d for d in dimms if d.populated]
    if not populated:
        return Expectation(node.node, node.sockets, (), None, None, None,
                           "no DIMM list (SMBIOS tables unreadable: run as root, or a VM)")
    if not node.sockets:
        return Expectation(node.node, (), (), None, None, None, "the node's processor socket is not known")
    mine = [d for d in populated if d.place.socket in node.sockets]
    if not mine and socket_count == 1:
        mine = [d for d in populated if d.place.socket in (None, 0)]
    slots = tuple(sorted((d.name for d in mine), key=natural_key))
    if not mine:
        return Expectation(node.node, node.sockets, (), None, None, None,
                           "no DIMM could be placed on this node's socket from its slot names")
    channels = {d.place.channel for d in mine}
    speeds = [d.configured_speed_mts or d.speed_mts for d in mine]
    if None in channels:
        return Expectation(node.node, node.sockets, slots, None, None, None,
                           "the slot names do not say which memory channel each DIMM is on")
    if not all(speeds):
        return Expectation(node.node, node.sockets, slots, len(channels), None, None,
                           "the DIMMs' transfer rate is not listed")
    mts = min(s for s in speeds if s)
    return Expectation(node.node, node.sockets, slots, len(channels), mts, round(len(channels) * mts * 8 / 1000, 1))


def judge_bandwidth(measured: Mapping[int, patterns.Bandwidth], nodes: Mapping[int, NodeInfo],
                    expected: Mapping[int, Expectation], min_sibling_fraction: float, sibling_severity: str,
                    min_expected_fraction: float, expected_severity: str) -> list[Judgement]:
    out: list[Judgement] = []
    for n, bw in sorted(measured.items()):
        node = nodes[n]
        exp = expected.get(n)
        slots = list(exp.slots) if exp else []
        where = node.label
        siblings = [b.read_gbps for m, b in measured.items() if m != n and b.read_gbps > 0]
        if siblings:
            reference = statistics.median(siblings)
            if reference > 0 and bw.read_gbps < min_sibling_fraction * reference:
                out.append(Judgement(
                    Severity(sibling_severity), f"memory:node{n}", "memory-bandwidth-low",
                    f"Memory on NUMA {where} reads at {bw.read_gbps:g} GB/s, only "
                    f"{bw.read_gbps / reference:.0%} of the other nodes' {reference:g} GB/s: a memory channel "
                    f"missing or degraded? Slots on this socket: {', '.join(slots) or 'unknown'}.",
                    {"read_gbps": bw.read_gbps, "write_gbps": bw.write_gbps, "copy_gbps": bw.copy_gbps,
                     "siblings_median_read_gbps": reference, "fraction": round(bw.read_gbps / reference, 3),
                     "min_sibling_fraction": min_sibling_fraction, "threads": bw.threads,
                     "sockets": list(node.sockets), "slots": slots,
                     "channels_populated": exp.channels if exp else None},
                ))
    # the theoretical figure: information, never a verdict of its own unless the profile says so
    lines = []
    evidence: dict[str, Any] = {"min_expected_fraction": min_expected_fraction}
    below = []
    for n, bw in sorted(measured.items()):
        exp = expected.get(n)
        entry: dict[str, Any] = {"read_gbps": bw.read_gbps, "write_gbps": bw.write_gbps,
                                 "copy_gbps": bw.copy_gbps, "threads": bw.threads}
        if exp and exp.gbps:
            fraction = bw.read_gbps / exp.gbps
            entry.update(expected_gbps=exp.gbps, channels=exp.channels, mts=exp.mts,
                         fraction_of_expected=round(fraction, 3), slots=list(exp.slots))
            lines.append(f"node {n}: {bw.read_gbps:g} GB/s read of {exp.gbps:g} GB/s possible "
                         f"({exp.channels} channels x {exp.mts} MT/s)")
            if fraction < min_expected_fraction:
                below.append(n)
        else:
            why = exp.unknown_reason if exp else "no DIMM data"
            entry.update(expected_gbps=None, expected_unknown=why)
            lines.append(f"node {n}: {bw.read_gbps:g} GB/s read (expected figure unknown: {why})")
        evidence[f"node{n}"] = entry
    if measured:
        message = ("Memory bandwidth per NUMA node, with one test thread per CPU: " + "; ".join(lines) + ".")
        if below:
            message += (f" Node(s) {', '.join(map(str, below))} reached less than {min_expected_fraction:.0%} "
                        "of what the populated DIMMs could give.")
        out.append(Judgement(Severity.INFO, "memory", "memory-bandwidth", message, evidence))
    if Severity(expected_severity) is not Severity.INFO:
        for n in below:
            bw, exp, node = measured[n], expected[n], nodes[n]
            out.append(Judgement(
                Severity(expected_severity), f"memory:node{n}", "memory-bandwidth-below-expected",
                f"Memory on NUMA {node.label} reads at {bw.read_gbps:g} GB/s, less than {min_expected_fraction:.0%} "
                f"of the {exp.gbps:g} GB/s its {exp.channels} populated channels at {exp.mts} MT/s could give: a "
                f"memory channel missing or degraded? Slots: {', '.join(exp.slots)}.",
                {"read_gbps": bw.read_gbps, "expected_gbps": exp.gbps, "channels": exp.channels, "mts": exp.mts,
                 "fraction_of_expected": round(bw.read_gbps / exp.gbps, 3),
                 "min_expected_fraction": min_expected_fraction, "threads": bw.threads,
                 "sockets": list(node.sockets), "slots": list(exp.slots)},
            ))
    return out


def measure_and_judge(ctx: ModuleContext, nodes: Mapping[int, NodeInfo], settings: Any) -> None:
    """Read, write and copy GB/s of every node, one pinned thread per CPU (the same number on every node),
    sampled and judged against the siblings and the DIMMs' figure."""
    threads = min(len(n.cpus) for n in nodes.values())
    per_kind = settings.bandwidth_seconds
    needed = len(nodes) * (3 * per_kind + 0.5)
    if ctx.remaining() < 2 * needed:
        ctx.note("bandwidth not measured: too little time", seconds_left=round(ctx.remaining(), 1))
        return
    measured: dict[int, patterns.Bandwidth] = {}
    for n, node in sorted(nodes.items()):
        if ctx.stopping():
            return
        try:
            bw = patterns.measure_bandwidth(n, node.cpus[:threads], settings.bandwidth_mib, per_kind,
                                            ctx.stopping)
        except (RuntimeError, OSError) as exc:
            ctx.note(f"bandwidth of node {n} not measured: {exc}", node=n)
            continue
        measured[n] = bw
        ctx.sample({f"mem_read_gbps:node{n}": bw.read_gbps, f"mem_write_gbps:node{n}": bw.write_gbps,
                    f"mem_copy_gbps:node{n}": bw.copy_gbps})
    if ctx.stopping() or not measured:
        return
    populated = dimms(ctx)
    sockets = getattr(getattr(ctx.inventory, "cpu", None), "sockets", None)
    expected = {n: expected_bandwidth(nodes[n], populated, sockets) for n in measured}
    ctx.note("bandwidth", **{f"node{n}": {"read_gbps": b.read_gbps, "write_gbps": b.write_gbps,
                                           "copy_gbps": b.copy_gbps, "threads": b.threads,
                                           "buffer_mib_per_thread": b.buffer_mib}
                              for n, b in measured.items()})
    for j in judge_bandwidth(measured, nodes, expected, settings.min_sibling_fraction,
                             settings.sibling_severity, settings.min_expected_fraction,
                             settings.expected_severity):
        ctx.report(j)
