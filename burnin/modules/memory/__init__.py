"""Memory: pattern tests on every NUMA node, bandwidth per node, and the ECC error counters of every DIMM.

Engines (setting `engines`; with both, the run phase alternates them in slices of `engine_slice_s`):
- ``builtin`` (`memory_patterns`): per NUMA node, one worker process per CPU of the node (or
  `workers_per_node`), pinned to the node's CPUs so its memory is placed there (first touch), locked in memory
  where allowed (`lock_memory`). The workers sweep their share of memory with solid, checkerboard, walking
  ones/zeros, seeded random, address-in-address and moving-inversion patterns (`patterns`, `seed`).
- ``stressapptest`` (where installed): one run per node, bound to the node's CPUs (taskset), over the same
  amount of memory, with `stressapptest_args` added (e.g. ``["-W"]``) and power-spike pauses every
  `stressapptest_pause_delay_s` (0: its default). It is very good at memory-bus and signal-integrity faults. Its
  own verdict is folded in; the journal's "engine" notes say which engine ran when.
How much memory: `share_of_available` of MemAvailable, never more than MemAvailable minus a reserve (the larger
of `reserve_mib` and `reserve_pct` of MemTotal), never more than the free part of this process's memory cgroup,
and at most `max_mib` (0: no cap). Workers raise their own oom_score_adj to +500 so that under memory pressure
the kernel kills a worker, never the agent.

Bandwidth (start of run, `bandwidth`): read, write and copy GB/s per NUMA node, one pinned thread per CPU (the
same number on every node), samples ``mem_read_gbps:nodeN`` ... It is compared with the node's siblings (the main
signal: same machine, same method) and, as information only, with what its populated DIMMs could give
(channels x configured MT/s x 8 bytes, from the inventory; a few Python threads rarely come close to that).

ECC (EDAC counters, `burnin.tools.edac`): read in check(), every `edac_interval_s` during run() and in
finish(); each finding names the DIMM by its EDAC label and, where the label or location can be matched, by the
inventory's slot name.

FAIL: a pattern check or stressapptest found wrong data (`memory-mismatch`, with virtual and physical address,
expected and actual word, flipped bits, NUMA node and the DIMMs that may hold it); a worker crashed under load, e.g.
SIGBUS from a poisoned page (`memory-worker-died`); an uncorrected ECC error, since boot or during the run
(`ecc-uncorrected`); corrected ECC errors at more than `ce_per_hour_fail` per hour (`ecc-corrected-rate`; over a
window of at least one hour, so one error in a short run is not a rate); a node's bandwidth below
`min_sibling_fraction` of its siblings' when `sibling_severity` is "fail" (`memory-bandwidth-low`).
WARN: any corrected ECC error (`ecc-corrected`); a node's bandwidth below its siblings' (default severity); the
OOM killer ended a worker, so that memory was not tested to the end (`memory-worker-oom-killed`, severity
`worker_oom_killed`); stressapptest could not run properly (`tool-error`; if it was the only engine the phase
raises: ERROR); a worker could not allocate or failed (`memory-worker-error`), or was killed from outside
(`memory-worker-died` as WARN: SIGKILL while memory was not short).
INFO: no EDAC driver, so ECC errors cannot be seen (`ecc-counters-unavailable`); per-node bandwidth against the
DIMMs' theoretical figure (`memory-bandwidth`); a node below `min_expected_fraction` of that figure is named in
it, or is its own finding (`memory-bandwidth-below-expected`) when `expected_severity` is "warn" or "fail".
A DIMM that vanished during the run is reported by the inventory module (`memory-shrank`, `hardware-vanished`),
not here.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import re
import signal
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from burnin.host import Host, kill_process_group
from burnin.inventory.memory import parse_cpulist, read_numa_nodes
from burnin.model import Probe, Severity
from burnin.module import Module, ModuleContext, Skip
from burnin.modules import memory_patterns as patterns
from burnin.tools import edac, stressapptest

ENGINES = ("builtin", "stressapptest")
MIB = 1 << 20
MIN_WORKER_BYTES = 16 * MIB  # below this a worker is not worth its process
CGROUP_RESERVE_MIN = 64 * MIB  # left free inside a memory cgroup (its processes need some)
CGROUP_RESERVE_FRACTION = 0.1
UNLIMITED = 1 << 60  # cgroup v1 writes 9223372036854771712 for "no limit"
STOP_GRACE_S = 1.5  # workers get this long to finish their chunk after a stop request
SAT_STOP_GRACE_S = 1.5  # after SIGINT stressapptest checks its memory and reports; a cancelled run waits no longer
SAT_MARGIN_S = 3.0  # left at the end of the last slice for stressapptest's final check and report
MAX_MISMATCH_FINDINGS = 5  # per engine slice; the rest are counted in the journal
_SEVERITIES = ("fail", "warn", "info")
DURING = "during the test"
SINCE_RESET = "since the counters were last reset (boot)"


# -- records ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Judgement:
    severity: Severity
    component: str
    code: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Meminfo:
    total: int | None
    available: int | None
    free: int | None


@dataclass(frozen=True)
class NodeInfo:
    node: int
    cpus: tuple[int, ...]  # online CPUs of the node this process may run on
    available_bytes: int | None  # the node's MemFree + Inactive(file): what it could give without swapping
    total_bytes: int | None
    sockets: tuple[int, ...]  # processor packages of its CPUs

    @property
    def label(self) -> str:
        sockets = ",".join(str(s) for s in self.sockets) or "?"
        return f"node {self.node} (socket {sockets})"


@dataclass(frozen=True)
class CgroupMemory:
    path: str  # the cgroup directory whose limit is the tightest
    limit: int
    usage: int

    @property
    def free(self) -> int:
        return max(0, self.limit - self.usage)


@dataclass(frozen=True)
class MemoryPlan:
    per_node: Mapping[int, int]  # bytes to test on each node
    want: int  # share_of_available x MemAvailable
    limits: Mapping[str, int]  # every cap that applied, in bytes
    limited_by: str  # the cap that decided

    @property
    def total(self) -> int:
        return sum(self.per_node.values())

    def to_record(self) -> dict:
        return {"total_mib": self.total // MIB, "per_node_mib": {n: b // MIB for n, b in self.per_node.items()},
                "want_mib": self.want // MIB, "limited_by": self.limited_by,
                "limits_mib": {k: v // MIB for k, v in self.limits.items()}}


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


# -- reading the host ------------------------------------------------------------------------------------
def parse_meminfo(text: str | None) -> Meminfo:
    values: dict[str, int] = {}
    for line in (text or "").splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[key.strip()] = int(parts[0]) * (1024 if parts[1:2] == ["kB"] else 1)
    available = values.get("MemAvailable")
    if available is None and "MemFree" in values:
        available = values["MemFree"] + values.get("Cached", 0)  # kernels before 3.14
    return Meminfo(values.get("MemTotal"), available, values.get("MemFree"))


def parse_node_meminfo(text: str | None) -> tuple[int | None, int | None]:
    """(total, available estimate = MemFree + Inactive(file)) from /sys/devices/system/node/nodeN/meminfo."""
    values: dict[str, int] = {}
    for line in (text or "").splitlines():
        m = re.match(r"^Node\s+\d+\s+([\w()]+):\s+(\d+)\s*(kB)?", line.strip())
        if m:
            values[m[1]] = int(m[2]) * (1024 if m[3] else 1)
    if "MemFree" not in values:
        return values.get("MemTotal"), None
    return values.get("MemTotal"), values["MemFree"] + values.get("Inactive(file)", 0)


def read_oom_kills(host: Host) -> int | None:
    """The kernel's count of OOM kills since boot (/proc/vmstat oom_kill, Linux 4.13+)."""
    for line in (host.read_text("/proc/vmstat") or "").splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill" and value.strip().isdigit():
            return int(value)
    return None


def read_cgroup_memory(host: Host) -> CgroupMemory | None:
    """The tightest memory limit over this process's cgroup and its ancestors (cgroup v2 or v1), or None."""
    best: CgroupMemory | None = None
    for line in (host.read_text("/proc/self/cgroup") or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":  # v2 unified hierarchy
            roots = [("/sys/fs/cgroup", "memory.max", "memory.current"),
                     ("/sys/fs/cgroup/unified", "memory.max", "memory.current")]
        elif "memory" in controllers.split(","):
            roots = [("/sys/fs/cgroup/memory", "memory.limit_in_bytes", "memory.usage_in_bytes")]
        else:
            continue
        for root, limit_file, usage_file in roots:
            if not host.exists(f"{root}/cgroup.procs"):
                continue
            directory = path.rstrip("/")
            while True:
                where = f"{root}{directory}"
                limit_text = host.read_text(f"{where}/{limit_file}")
                usage = host.read_int(f"{where}/{usage_file}")
                if limit_text and limit_text.strip() != "max" and usage is not None:
                    try:
                        limit = int(limit_text.split()[0])
                    except ValueError:
                        limit = UNLIMITED
                    if limit < UNLIMITED:
                        found = CgroupMemory(where, limit, usage)
                        if best is None or found.free < best.free:
                            best = found
                if not directory:
                    break
                directory = directory.rsplit("/", 1)[0]
    return best


def plan_memory(meminfo: Meminfo, nodes: Sequence[NodeInfo], share: float, max_mib: int, reserve_mib: int,
                reserve_pct: float, cgroup: CgroupMemory | None) -> MemoryPlan:
    """How many bytes to test on each node. Never more than MemAvailable minus the reserve, nor the cgroup's free
    memory minus its own reserve, nor `max_mib`; split between nodes by what each node has free."""
    available = meminfo.available or 0
    want = int(max(0.0, share) * available)
    reserve = max(int(reserve_mib) * MIB, int((reserve_pct / 100.0) * (meminfo.total or 0)))
    limits = {"share": want, "reserve": max(0, available - reserve)}
    if cgroup is not None:
        keep = max(CGROUP_RESERVE_MIN, int(CGROUP_RESERVE_FRACTION * cgroup.limit))
        limits["cgroup"] = max(0, cgroup.free - keep)
    if max_mib and max_mib > 0:
        limits["max_mib"] = int(max_mib) * MIB
    limited_by = min(limits, key=lambda k: limits[k])
    budget = limits[limited_by]
    usable = [n for n in nodes if n.cpus]
    if not usable or budget <= 0:
        return MemoryPlan({}, want, limits, limited_by)
    weights = {n.node: (n.available_bytes if n.available_bytes else 1) for n in usable}
    total_weight = sum(weights.values())
    per_node: dict[int, int] = {}
    capped = False
    for n in usable:
        share_bytes = budget * weights[n.node] // total_weight
        if n.available_bytes and share_bytes > int(n.available_bytes * 0.95):
            share_bytes = int(n.available_bytes * 0.95)
            capped = True
        per_node[n.node] = share_bytes // patterns.CHUNK * patterns.CHUNK
    if capped:
        limits = dict(limits, node=sum(per_node.values()))
        if limits["node"] < budget:
            limited_by = "node"
    return MemoryPlan({k: v for k, v in per_node.items() if v > 0}, want, limits, limited_by)


def split_workers(node_bytes: int, cpus: Sequence[int], workers_per_node: int) -> list[tuple[tuple[int, ...], int]]:
    """[(cpus of the worker, bytes)] for one node: one worker per CPU (or `workers_per_node`), at least
    MIN_WORKER_BYTES each, sizes in whole chunks. A worker may run on every CPU of its node."""
    count = workers_per_node if workers_per_node > 0 else len(cpus)
    count = max(1, min(count, node_bytes // MIN_WORKER_BYTES or 1))
    each = node_bytes // count // patterns.CHUNK * patterns.CHUNK
    if each <= 0:
        return []
    cpu_list = list(cpus)
    out = []
    for i in range(count):
        mine = tuple(cpu_list[j] for j in range(i, len(cpu_list), count)) if count <= len(cpu_list) else (
            cpu_list[i % len(cpu_list)],)
        out.append((mine or tuple(cpu_list), each))
    return out


# -- inventory ---------------------------------------------------------------------------------------------
def _natural(text: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def _norm(label: str) -> str:
    return re.sub(r"[\s_\-#.:]", "", label).lower()


# Intel firmware-style labels (sb_edac, skx_edac, i10nm_edac): CPU_SrcID#1_Ha#0_Chan#0_DIMM#0,
# CPU_SrcID#0_MC#1_Chan#2_DIMM#0. The channel number counts within one home agent / memory controller.
_SRCID = re.compile(
    r"SrcID#(?P<socket>\d+)(?:_(?:Ha|MC)#(?P<controller>\d+))?_Chan#(?P<channel>\d+)_DIMM#(?P<slot>\d+)", re.I)


def match_dimm(label: str | None, dimms: Sequence[Any]) -> tuple[Any | None, str | None]:
    """The inventory DIMM an EDAC label names, and how it was matched; (None, None) when it cannot be told."""
    if not label or not dimms:
        return None, None
    want = _norm(label)
    for d in dimms:
        names = [d.locator or "", f"{d.bank_locator or ''}{d.locator or ''}"]
        if any(n and _norm(n) == want for n in names):
            return d, "label equals the SMBIOS locator"
    for d in dimms:
        if d.locator and len(_norm(d.locator)) >= 3 and re.search(
                rf"(^|[\s_\-]){re.escape(d.locator)}$", label, re.I):
            return d, "label ends with the SMBIOS locator"
    m = _SRCID.search(label)
    if m and not int(m["controller"] or 0):  # a second controller's channels: where they start is not known
        socket, channel, slot = int(m["socket"]), int(m["channel"]), int(m["slot"])
        on_socket = [d for d in dimms if d.place.socket == socket and d.place.channel is not None]
        channels = sorted({d.place.channel for d in on_socket}, key=_natural)
        if channel < len(channels):
            for d in on_socket:
                if d.place.channel == channels[channel] and d.place.slot == slot + 1:
                    return d, (f"firmware label socket {socket}, channel {channel} (the socket's "
                               f"{channel + 1}. channel, {channels[channel]}), slot {slot}")
    return None, None


def node_sockets(inventory: Any, host: Host, cpus: Iterable[int]) -> tuple[int, ...]:
    packages: set[int] = set()
    topology = {c.cpu: c.package for c in (getattr(getattr(inventory, "cpu", None), "topology", None) or ())}
    for cpu in cpus:
        package = topology.get(cpu)
        if package is None:
            package = host.read_int(f"/sys/devices/system/cpu/cpu{cpu}/topology/physical_package_id")
        if package is not None and package >= 0:
            packages.add(package)
    return tuple(sorted(packages))


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
    slots = tuple(sorted((d.name for d in mine), key=_natural))
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


# -- judging (pure) ------------------------------------------------------------------------------------------
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


def judge_ecc(grown: Sequence[edac.EdacIncrease], hours: float | None, ce_per_hour_fail: float,
              names: Mapping[tuple[str, str], tuple[str, Mapping[str, Any]]], when: str) -> list[Judgement]:
    """Findings for counters that grew. `hours` is the window (None: unknown, so no rate); `when` says which
    window (SINCE_RESET or DURING); `names` maps (key, kind) to (component, place evidence)."""
    out = []
    for inc in grown:
        c = inc.counter
        component, place = names.get((c.key, c.kind), (f"memory-controller:mc{c.mc}", {}))
        where = place.get("slot") or c.label or c.key
        evidence = {"edac_counter": c.key, "edac_label": c.label, "edac_location": c.location,
                    "before": inc.before, "after": inc.after, "increase": inc.delta, "window": when,
                    "window_hours": None if hours is None else round(hours, 3), **place}
        if c.kind == "ue":
            out.append(Judgement(
                Severity.FAIL, component, "ecc-uncorrected",
                f"{where} had {inc.delta} uncorrected memory error{'s' if inc.delta != 1 else ''} {when} "
                "(data was lost: the module or its slot is faulty).", evidence))
            continue
        if hours is not None:
            per_hour = inc.delta / max(hours, 1.0)  # at least an hour: one error in a short run is not a rate
            evidence["per_hour"] = round(per_hour, 2)
            evidence["ce_per_hour_fail"] = ce_per_hour_fail
            if per_hour > ce_per_hour_fail:
                out.append(Judgement(
                    Severity.FAIL, component, "ecc-corrected-rate",
                    f"{where} had {inc.delta} corrected memory errors {when}, {per_hour:.1f} per hour (more than "
                    f"{ce_per_hour_fail:g}): ECC is hiding a failing module.", evidence))
                continue
        out.append(Judgement(
            Severity.WARN, component, "ecc-corrected",
            f"{where} had {inc.delta} corrected memory error{'s' if inc.delta != 1 else ''} {when}: ECC fixed "
            "them, but a healthy module has none.", evidence))
    return out


def plan_slices(total_s: float, engines: Sequence[str], slice_s: float) -> list[tuple[str, float]]:
    """Alternate the engines in slices of about `slice_s`; short runs are split evenly."""
    if not engines or total_s <= 0:
        return []
    if len(engines) == 1:
        return [(engines[0], total_s)]
    rounds = max(1, round(total_s / (slice_s * len(engines))))
    each = total_s / (rounds * len(engines))
    return [(engine, each) for _ in range(rounds) for engine in engines]


def describe_exit(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


# -- the worker pool -------------------------------------------------------------------------------------------
class _Pool:
    """The built-in engine's worker processes and their pipes."""

    def __init__(self, specs: Sequence[patterns.WorkerSpec]):
        self._mp = multiprocessing.get_context("fork")
        self.stop_event = self._mp.Event()
        self.specs = {s.worker: s for s in specs}
        self.procs: dict[int, Any] = {}
        self.conns: dict[int, Any] = {}
        self.stopping = False
        for spec in specs:
            reader, writer = self._mp.Pipe(duplex=False)
            proc = self._mp.Process(target=patterns.worker_main, args=(spec, self.stop_event, writer),
                                    name=f"burnin-memory-{spec.worker}", daemon=True)
            proc.start()
            writer.close()
            self.procs[spec.worker] = proc
            self.conns[spec.worker] = reader

    def poll(self, timeout: float) -> list[tuple]:
        waitables = list(self.conns.values()) + [p.sentinel for p in self.procs.values()]
        if waitables:
            multiprocessing.connection.wait(waitables, timeout=max(0.0, timeout))
        else:
            time.sleep(max(0.0, timeout))
        events: list[tuple] = []
        for wid in list(self.conns):
            events.extend(self._drain(wid))
        for wid, proc in list(self.procs.items()):
            if proc.is_alive():
                continue
            proc.join(0.5)
            events.extend(self._drain(wid))
            events.append(("exit", wid, proc.exitcode))
            del self.procs[wid]
            conn = self.conns.pop(wid, None)
            if conn is not None:
                conn.close()
        return events

    def _drain(self, wid: int) -> list[tuple]:
        conn = self.conns.get(wid)
        out: list[tuple] = []
        while conn is not None:
            try:
                if not conn.poll():
                    break
                out.append(conn.recv())
            except (EOFError, OSError):
                self.conns.pop(wid, None)
                conn.close()
                break
        return out

    def stop(self) -> list[tuple]:
        self.stopping = True
        self.stop_event.set()
        events: list[tuple] = []
        give_up = time.monotonic() + STOP_GRACE_S
        while self.procs and time.monotonic() < give_up:
            events.extend(self.poll(0.05))
        for proc in self.procs.values():
            proc.kill()
        for proc in self.procs.values():
            proc.join(1.0)
        events.extend(self.poll(0))
        for conn in self.conns.values():
            conn.close()
        self.conns.clear()
        return events


@dataclass
class _Tally:
    verified: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # node -> bytes checked
    written: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    since_sample: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    passes: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    mismatched_words: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    findings: int = 0
    errors: dict[int, str] = field(default_factory=dict)
    died: set = field(default_factory=set)
    locked: dict[int, int] = field(default_factory=dict)
    lock_errors: set = field(default_factory=set)


# -- the module ------------------------------------------------------------------------------------------------
class MemoryModule(Module):
    """Pattern tests per NUMA node, bandwidth per node, ECC counters per DIMM; see the module docstring."""

    name = "memory"
    summary = "memory patterns on every NUMA node (built-in, stressapptest if present), bandwidth, ECC counters"
    needs = ("Linux", "root for physical addresses and memory locking (optional)", "stressapptest (optional)",
             "an EDAC driver for ECC counters (optional)")
    stress = True
    settings = {
        "engines": ["builtin", "stressapptest"],
        "share_of_available": 0.5,
        "max_mib": 0,
        "reserve_mib": 1024,
        "reserve_pct": 5.0,
        "workers_per_node": 0,
        "patterns": list(patterns.PATTERNS),
        "seed": 0,
        "lock_memory": True,
        "engine_slice_s": 300.0,
        "sample_interval_s": 2.0,
        "bandwidth": True,
        "bandwidth_mib": 64,
        "bandwidth_seconds": 0.3,
        "min_sibling_fraction": 0.6,
        "sibling_severity": "warn",
        "min_expected_fraction": 0.1,
        "expected_severity": "info",
        "ce_per_hour_fail": 10.0,
        "edac_interval_s": 10.0,
        "worker_oom_killed": "warn",
        "stressapptest_pause_delay_s": 0,
        "stressapptest_args": [],
    }
    choices = {"sibling_severity": _SEVERITIES, "expected_severity": _SEVERITIES,
               "worker_oom_killed": ("warn", "fail")}

    def __init__(self, host: Host, settings: Mapping[str, Any] | None = None):
        super().__init__(host, settings)
        self._edac_start: edac.EdacSnapshot | None = None
        self._edac_last: edac.EdacSnapshot | None = None
        self._edac_next = 0.0
        self._ecc_reported: dict[tuple[str, str, str], str] = {}
        self._nodes: dict[int, NodeInfo] | None = None
        self._seed: int | None = None
        self._engine_ran: dict[str, bool] = {}
        self._explained = False  # a finding already says why some memory went untested

    # -- setup -------------------------------------------------------------------------------------
    def probe(self) -> Probe:
        if not hasattr(os, "sched_setaffinity") or not hasattr(patterns.mmap, "MAP_ANONYMOUS"):
            return Probe.unavailable("needs Linux (anonymous mmap and CPU pinning)")
        unknown = [p for p in self.config["patterns"] if p not in patterns.PATTERNS]
        if unknown:
            return Probe.unavailable(f"unknown memory patterns {unknown}; known: {list(patterns.PATTERNS)}")
        if not self._engines(quiet=True):
            return Probe.unavailable("stressapptest is not installed and the built-in engine is not enabled")
        return Probe.ok()

    def _engines(self, ctx: ModuleContext | None = None, quiet: bool = False) -> list[str]:
        engines = []
        for engine in [str(e) for e in self.config["engines"]]:
            if engine not in ENGINES:
                if ctx and not quiet:
                    ctx.note(f"unknown engine {engine!r} ignored", known=list(ENGINES))
            elif engine == "stressapptest" and not self.host.which("stressapptest"):
                if ctx and not quiet:
                    ctx.note("stressapptest is not installed: built-in engine only", engine="stressapptest")
            elif engine not in engines:
                engines.append(engine)
        return engines

    def _seed_value(self) -> int:
        if self._seed is None:
            configured = int(self.config["seed"])
            self._seed = configured if configured else int.from_bytes(os.urandom(4), "little") or 1
        return self._seed

    def nodes(self, ctx: ModuleContext) -> dict[int, NodeInfo]:
        """The NUMA nodes with the CPUs this process may use; nodes without such CPUs are noted and left out."""
        if self._nodes is not None:
            return self._nodes
        inventory = ctx.inventory
        numa = list(getattr(getattr(inventory, "memory", None), "numa_nodes", ()) or ()) or read_numa_nodes(self.host)
        allowed = set(os.sched_getaffinity(0))
        found: dict[int, NodeInfo] = {}
        if not numa:
            found[0] = NodeInfo(0, tuple(sorted(allowed)), None, None, node_sockets(inventory, self.host, allowed))
        for n in numa:
            cpus = tuple(c for c in parse_cpulist(n.cpulist) if c in allowed)
            total, available = parse_node_meminfo(self.host.read_text(f"/sys/devices/system/node/node{n.node}/meminfo"))
            if not cpus:
                ctx.note(f"NUMA node {n.node} has no CPU this process may run on (a memory-only node, or a "
                         "cpuset): its memory is not tested by the pattern engines", node=n.node,
                         cpulist=n.cpulist)
                continue
            found[n.node] = NodeInfo(n.node, cpus, available, total or n.mem_total_bytes,
                                     node_sockets(inventory, self.host, cpus))
        if not found:
            raise Skip("no NUMA node has a CPU this process may run on")
        self._nodes = found
        return found

    def plan(self, ctx: ModuleContext) -> MemoryPlan:
        meminfo = parse_meminfo(self.host.read_text("/proc/meminfo"))
        if not meminfo.available:
            raise Skip("MemAvailable not readable from /proc/meminfo: cannot size the test safely")
        return plan_memory(meminfo, list(self.nodes(ctx).values()), float(self.config["share_of_available"]),
                           int(self.config["max_mib"]), int(self.config["reserve_mib"]),
                           float(self.config["reserve_pct"]), read_cgroup_memory(self.host))

    def _dimms(self, ctx: ModuleContext) -> list[Any]:
        return [d for d in getattr(getattr(ctx.inventory, "memory", None), "dimms", ()) or ()]

    # -- ECC ---------------------------------------------------------------------------------------
    def _edac_names(self, ctx: ModuleContext, snapshot: edac.EdacSnapshot) -> dict[tuple[str, str], tuple[str, dict]]:
        dimms = [d for d in self._dimms(ctx) if d.populated]
        names = {}
        for key, counter in edac.counters(snapshot).items():
            if counter.key.endswith("/noinfo"):
                names[key] = (f"memory-controller:mc{counter.mc}", {"slot": f"Memory controller mc{counter.mc} "
                                                                             "(DIMM not identified)"})
                continue
            dimm, how = match_dimm(counter.label, dimms)
            if dimm is not None:
                place = {"slot": f"DIMM {dimm.name}", "inventory_locator": dimm.locator,
                         "inventory_bank_locator": dimm.bank_locator, "matched_by": how,
                         "dimm_serial": dimm.serial, "dimm_part_number": dimm.part_number}
                names[key] = (f"dimm:{dimm.name}", place)
            else:
                label = counter.label or counter.key
                extra = f" ({counter.location})" if counter.location and counter.label else ""
                names[key] = (f"dimm:{label}", {"slot": f"DIMM {label}{extra}", "matched_by": None})
        return names

    def _emit_ecc(self, ctx: ModuleContext, judgements: Iterable[Judgement]) -> None:
        for j in judgements:
            key = (j.evidence.get("edac_counter"), j.code, j.evidence.get("window"))
            if key in self._ecc_reported:
                continue
            self._ecc_reported[key] = j.code
            ctx.finding(j.severity, j.component, j.code, j.message, j.evidence)

    def _edac_begin(self, ctx: ModuleContext) -> None:
        snapshot = edac.read_edac(self.host)
        self._edac_start = self._edac_last = snapshot
        self._edac_next = time.monotonic() + float(self.config["edac_interval_s"])
        if not snapshot.available:
            ctx.info("memory", "ecc-counters-unavailable",
                     "ECC error counters unavailable: no EDAC driver is loaded, so corrected and uncorrected memory "
                     "errors cannot be seen here (silence is not health).",
                     {"path": edac.EDAC_MC, "edac_core_present": snapshot.present,
                      "hint": "load the EDAC driver for this memory controller (e.g. skx_edac, i10nm_edac, "
                              "amd64_edac) or check the BMC's event log"})
            return
        ctx.note("ecc counters", controllers=len(snapshot.controllers), **edac.totals(snapshot),
                 places=len(edac.counters(snapshot)))

    def _edac_poll(self, ctx: ModuleContext, force: bool = False) -> None:
        if self._edac_start is None or not self._edac_start.available:
            return
        now = time.monotonic()
        if not force and now < self._edac_next:
            return
        self._edac_next = now + float(self.config["edac_interval_s"])
        snapshot = edac.read_edac(self.host)
        self._edac_last = snapshot
        totals = edac.totals(snapshot)
        ctx.sample({"ecc_ce_total": totals["ce"], "ecc_ue_total": totals["ue"]})
        grown = edac.increases(self._edac_start, snapshot)
        hours = (snapshot.taken_at - self._edac_start.taken_at) / 3600
        limit = float(self.config["ce_per_hour_fail"])
        urgent = [inc for inc in grown if inc.counter.kind == "ue"
                  or inc.delta / max(hours, 1.0) > limit]  # corrected ones wait for finish() unless over the rate
        if urgent:
            self._emit_ecc(ctx, judge_ecc(urgent, hours, limit, self._edac_names(ctx, snapshot),
                                          DURING))

    # -- phases ------------------------------------------------------------------------------------
    def check(self, ctx: ModuleContext) -> None:
        self._edac_begin(ctx)
        snapshot = self._edac_start
        if snapshot is not None and snapshot.available:
            since_boot = [edac.EdacIncrease(c, 0, c.count) for c in edac.counters(snapshot).values() if c.count > 0]
            resets = [ctl.seconds_since_reset for ctl in snapshot.controllers if ctl.seconds_since_reset]
            hours = min(resets) / 3600 if resets else None
            self._emit_ecc(ctx, judge_ecc(since_boot, hours, float(self.config["ce_per_hour_fail"]),
                                          self._edac_names(ctx, snapshot), SINCE_RESET))
        if self.host.live:
            plan = self.plan(ctx)
            ctx.note("memory plan", seed=self._seed_value(),
                     nodes={n: list(i.cpus) for n, i in self.nodes(ctx).items()}, **plan.to_record())

    def run(self, ctx: ModuleContext) -> None:
        if self._edac_start is None:
            self._edac_begin(ctx)
        engines = self._engines(ctx)
        if not engines:
            raise Skip("no memory engine: stressapptest is not installed and the built-in engine is disabled")
        nodes = self.nodes(ctx)
        if self.config["bandwidth"] and not ctx.stopping():
            self._bandwidth(ctx, nodes)
        self._edac_poll(ctx)
        slices = plan_slices(ctx.remaining(), engines, float(self.config["engine_slice_s"]))
        engine_ok: dict[str, bool] = {}
        problems: list[str] = []
        for index, (engine, seconds) in enumerate(slices):
            if ctx.stopping():
                break
            final = index == len(slices) - 1
            until = ctx.deadline if final else time.monotonic() + seconds
            plan = self.plan(ctx)
            if not plan.per_node:
                ctx.note("nothing to test: no memory left after the reserve", **plan.to_record())
                continue
            if engine == "builtin":
                ok = self._run_builtin(ctx, plan, nodes, until)
            else:
                ok, more = self._run_stressapptest(ctx, plan, nodes, until, final)
                problems.extend(more)
            engine_ok[engine] = engine_ok.get(engine, True) and ok
        self._edac_poll(ctx, force=True)
        self._engine_ran.update(engine_ok)
        if any(engine_ok.values()):
            return
        if problems:
            raise RuntimeError("stressapptest, the only memory engine that ran, could not test: "
                               + "; ".join(problems[:3]))
        cancelled = ctx.stopping() and time.monotonic() < ctx.deadline
        if not cancelled and not self._explained:
            # Asked to test memory and did not: not a pass, and not "nothing to test" either.
            raise RuntimeError("no memory was verified: " + ("no engine had time to run in the run phase"
                                                             if not engine_ok else "see the notes for why"))

    def finish(self, ctx: ModuleContext) -> None:
        if self._edac_start is None:
            self._edac_begin(ctx)
            return
        if not self._edac_start.available:
            return
        snapshot = edac.read_edac(self.host)
        hours = (snapshot.taken_at - self._edac_start.taken_at) / 3600
        grown = edac.increases(self._edac_start, snapshot)
        names = self._edac_names(ctx, snapshot)
        judgements = judge_ecc(grown, hours, float(self.config["ce_per_hour_fail"]), names, DURING)
        self._emit_ecc(ctx, [j for j in judgements if (j.evidence.get("edac_counter"), "ecc-corrected-rate",
                                                       DURING) not in self._ecc_reported])
        totals = edac.totals(snapshot)
        ctx.note("ecc counters at the end", **totals, grown=[
            {"counter": g.counter.key, "kind": g.counter.kind, "increase": g.delta} for g in grown])

    # -- bandwidth ---------------------------------------------------------------------------------
    def _bandwidth(self, ctx: ModuleContext, nodes: Mapping[int, NodeInfo]) -> None:
        threads = min(len(n.cpus) for n in nodes.values())
        per_kind = float(self.config["bandwidth_seconds"])
        needed = len(nodes) * (3 * per_kind + 0.5)
        if ctx.remaining() < 2 * needed:
            ctx.note("bandwidth not measured: too little time", seconds_left=round(ctx.remaining(), 1))
            return
        measured: dict[int, patterns.Bandwidth] = {}
        for n, node in sorted(nodes.items()):
            if ctx.stopping():
                return
            try:
                bw = patterns.measure_bandwidth(n, node.cpus[:threads], int(self.config["bandwidth_mib"]), per_kind,
                                                ctx.stopping)
            except (RuntimeError, OSError) as exc:
                ctx.note(f"bandwidth of node {n} not measured: {exc}", node=n)
                continue
            measured[n] = bw
            ctx.sample({f"mem_read_gbps:node{n}": bw.read_gbps, f"mem_write_gbps:node{n}": bw.write_gbps,
                        f"mem_copy_gbps:node{n}": bw.copy_gbps})
        if ctx.stopping() or not measured:
            return
        dimms = self._dimms(ctx)
        sockets = getattr(getattr(ctx.inventory, "cpu", None), "sockets", None)
        expected = {n: expected_bandwidth(nodes[n], dimms, sockets) for n in measured}
        ctx.note("bandwidth", **{f"node{n}": {"read_gbps": b.read_gbps, "write_gbps": b.write_gbps,
                                               "copy_gbps": b.copy_gbps, "threads": b.threads,
                                               "buffer_mib_per_thread": b.buffer_mib}
                                  for n, b in measured.items()})
        for j in judge_bandwidth(measured, nodes, expected, float(self.config["min_sibling_fraction"]),
                                 str(self.config["sibling_severity"]), float(self.config["min_expected_fraction"]),
                                 str(self.config["expected_severity"])):
            ctx.finding(j.severity, j.component, j.code, j.message, j.evidence)

    # -- the built-in engine -------------------------------------------------------------------------
    def _specs(self, plan: MemoryPlan, nodes: Mapping[int, NodeInfo]) -> list[patterns.WorkerSpec]:
        specs = []
        for n, size in sorted(plan.per_node.items()):
            for cpus, each in split_workers(size, nodes[n].cpus, int(self.config["workers_per_node"])):
                specs.append(patterns.WorkerSpec(
                    worker=len(specs), node=n, cpus=cpus, size=each,
                    patterns=tuple(str(p) for p in self.config["patterns"]), seed=self._seed_value(),
                    pagemap=str(self.host.path("/proc/self/pagemap")),
                    oom_score_adj_path=str(self.host.path("/proc/self/oom_score_adj")),
                    lock=bool(self.config["lock_memory"]),
                ))
        return specs

    def _run_builtin(self, ctx: ModuleContext, plan: MemoryPlan, nodes: Mapping[int, NodeInfo], until: float) -> bool:
        specs = self._specs(plan, nodes)
        if not specs:
            ctx.note("built-in engine: nothing to test", **plan.to_record())
            return False
        ctx.note("engine", engine="builtin", seed=self._seed_value(), patterns=list(specs[0].patterns),
                 workers=[{"worker": s.worker, "node": s.node, "cpus": list(s.cpus), "mib": s.size // MIB}
                          for s in specs], seconds=round(max(0.0, until - time.monotonic()), 1), **plan.to_record())
        tally = _Tally()
        oom_before = read_oom_kills(self.host)
        interval = max(0.2, float(self.config["sample_interval_s"]))
        next_sample = last_sample = time.monotonic()
        next_sample += interval
        pool = _Pool(specs)
        try:
            while not ctx.stopping() and time.monotonic() < until and pool.procs:
                timeout = min(0.2, max(0.0, until - time.monotonic()))
                self._handle(ctx, pool, tally, pool.poll(timeout), oom_before, plan)
                now = time.monotonic()
                if now >= next_sample:
                    metrics = {f"mem_verified_gbps:node{n}": round(b / (now - last_sample) / 1e9, 3)
                               for n, b in tally.since_sample.items()}
                    meminfo = parse_meminfo(self.host.read_text("/proc/meminfo"))
                    if meminfo.available is not None:
                        metrics["mem_available_mib"] = meminfo.available // MIB
                    ctx.sample(metrics)
                    tally.since_sample.clear()
                    last_sample, next_sample = now, now + interval
                self._edac_poll(ctx)
        finally:
            self._handle(ctx, pool, tally, pool.stop(), oom_before, plan)
        ctx.note("engine done", engine="builtin",
                 verified_mib={n: b // MIB for n, b in tally.verified.items()},
                 written_mib={n: b // MIB for n, b in tally.written.items()},
                 passes_completed=dict(tally.passes), mismatched_words=dict(tally.mismatched_words),
                 locked_mib={w: b // MIB for w, b in tally.locked.items()}, workers_died=sorted(tally.died))
        return sum(tally.verified.values()) > 0

    def _handle(self, ctx: ModuleContext, pool: _Pool, tally: _Tally, events, oom_before, plan) -> None:
        for event in events:
            kind, wid = event[0], event[1]
            spec = pool.specs[wid]
            if kind == "progress":
                data = event[2]
                tally.verified[spec.node] += data["verified"]
                tally.written[spec.node] += data["written"]
                tally.since_sample[spec.node] += data["verified"]
                tally.mismatched_words[spec.node] += data["mismatched_words"]
                tally.passes[spec.node] += data["passes"]
            elif kind == "ready":
                info = event[2]
                tally.locked[wid] = info["locked"]
                if info.get("lock_error") and "lock" not in tally.lock_errors:
                    tally.lock_errors.add("lock")
                    ctx.note("memory could not be locked (mlock); the test runs unlocked", error=info["lock_error"])
            elif kind == "mismatch":
                self._mismatch(ctx, tally, spec, event[2])
            elif kind == "error":
                tally.errors[wid] = event[2]
            elif kind == "exit":
                exitcode = event[2]
                if pool.stopping and exitcode in (0, -signal.SIGKILL, -signal.SIGTERM, None):
                    continue
                if exitcode == 0:
                    continue
                tally.died.add(wid)
                self._worker_died(ctx, spec, exitcode, tally.errors.pop(wid, None), oom_before, plan)

    def _mismatch(self, ctx: ModuleContext, tally: _Tally, spec: patterns.WorkerSpec, data: dict) -> None:
        if tally.findings >= MAX_MISMATCH_FINDINGS:
            return
        tally.findings += 1
        node = (self._nodes or {}).get(spec.node)
        candidates = self._candidates(ctx, node)
        hint = self._edac_hint(ctx)
        bits = data["flipped_bits"]
        bit_text = (f"bit {bits[0]}" if len(bits) == 1 else f"{len(bits)} bits ({', '.join(map(str, bits[:8]))}"
                    f"{', ...' if len(bits) > 8 else ''})")
        where = node.label if node else f"node {spec.node}"
        phys = data.get("physical_address")
        ctx.fail(
            f"memory:node{spec.node}", "memory-mismatch",
            f"Memory on NUMA {where} returned wrong data: {bit_text} of the word at "
            f"{phys or data['virtual_address']} flipped (expected {data['expected']}, read {data['actual']}) in the "
            f"{data['pattern']} test.",
            {"engine": "builtin", "phase": ctx.phase, **data, "dimm_candidates": candidates, **hint},
        )

    def _candidates(self, ctx: ModuleContext, node: NodeInfo | None) -> list[str]:
        dimms = [d for d in self._dimms(ctx) if d.populated]
        if node is None or not dimms:
            return []
        on_node = [d.name for d in dimms if d.place.socket in node.sockets]
        return sorted(on_node, key=_natural)

    def _edac_hint(self, ctx: ModuleContext) -> dict:
        """Which EDAC counters grew since the last reading: the DIMM that just reported an error, if any."""
        if self._edac_last is None or not self._edac_last.available:
            return {}
        now = edac.read_edac(self.host)
        grown = edac.increases(self._edac_last, now)
        if not grown:
            return {}
        names = self._edac_names(ctx, now)
        return {"edac_grew": [{"counter": g.counter.key, "kind": g.counter.kind, "increase": g.delta,
                               "label": g.counter.label, "component": names.get((g.counter.key, g.counter.kind),
                                                                                ("?",))[0]} for g in grown]}

    def _worker_died(self, ctx, spec: patterns.WorkerSpec, exitcode, error, oom_before, plan: MemoryPlan) -> None:
        self._explained = True
        node = (self._nodes or {}).get(spec.node)
        where = node.label if node else f"node {spec.node}"
        oom_after = read_oom_kills(self.host)
        meminfo = parse_meminfo(self.host.read_text("/proc/meminfo"))
        evidence = {"engine": "builtin", "phase": ctx.phase, "worker": spec.worker, "node": spec.node,
                    "cpus": list(spec.cpus), "mib": spec.size // MIB, "exitcode": exitcode,
                    "how": describe_exit(exitcode), "oom_kills_before": oom_before, "oom_kills_after": oom_after,
                    "mem_available_mib": None if meminfo.available is None else meminfo.available // MIB,
                    "plan": plan.to_record()}
        if exitcode == -signal.SIGKILL:
            oom = oom_before is not None and oom_after is not None and oom_after > oom_before
            short = meminfo.available is not None and meminfo.available < int(self.config["reserve_mib"]) * MIB // 2
            if oom or short:
                ctx.finding(
                    str(self.config["worker_oom_killed"]), f"memory:node{spec.node}", "memory-worker-oom-killed",
                    f"The kernel's out-of-memory killer ended the memory test process on NUMA {where}: memory ran "
                    f"short, so {spec.size // MIB} MiB were not tested to the end.", evidence)
                return
            ctx.warn(f"memory:node{spec.node}", "memory-worker-died",
                     f"The memory test process on NUMA {where} was killed from outside (SIGKILL); its "
                     f"{spec.size // MIB} MiB were not tested to the end.", evidence)
            return
        if exitcode is not None and exitcode < 0:
            hardware = exitcode == -signal.SIGBUS
            ctx.fail(f"memory:node{spec.node}", "memory-worker-died",
                     f"The memory test process on NUMA {where} crashed ({describe_exit(exitcode)})"
                     + (": the kernel found a memory page it could not read (hardware memory error)."
                        if hardware else "; a crash under memory stress is a hardware symptom."),
                     {**evidence, "error": error})
            return
        ctx.warn(f"memory:node{spec.node}", "memory-worker-error",
                 f"The memory test process on NUMA {where} stopped with an error ({error or describe_exit(exitcode)}); "
                 f"its {spec.size // MIB} MiB were not tested.", {**evidence, "error": error})

    # -- stressapptest ---------------------------------------------------------------------------------
    def _run_stressapptest(self, ctx: ModuleContext, plan: MemoryPlan, nodes: Mapping[int, NodeInfo],
                           until: float, final: bool) -> tuple[bool, list[str]]:
        program = self.host.which("stressapptest") or "stressapptest"
        left = until - time.monotonic() - (SAT_MARGIN_S if final else 0.0)
        seconds = stressapptest.whole_run_seconds(left)
        if seconds < stressapptest.SLEEP_STEP_S:
            ctx.note("stressapptest not started: its slice is shorter than its 5 s step", engine="stressapptest",
                     seconds_left=round(left, 1))
            return True, []
        taskset = self.host.which("taskset")
        pause = int(self.config["stressapptest_pause_delay_s"])
        tmp = tempfile.mkdtemp(prefix="burnin-memory-sat-")
        procs: dict[int, subprocess.Popen] = {}
        logs: dict[int, Any] = {}
        argvs = {}
        oom_before = read_oom_kills(self.host)
        interrupted = False
        try:
            for n, size in sorted(plan.per_node.items()):
                argv = stressapptest.argv(size // MIB, seconds, len(nodes[n].cpus), cpus=nodes[n].cpus,
                                          program=program, taskset=taskset,
                                          pause_delay_s=pause or None,
                                          extra=[str(a) for a in self.config["stressapptest_args"]])
                argvs[n] = argv
                logs[n] = open(os.path.join(tmp, f"node{n}.log"), "w+")
                procs[n] = self.host.spawn(argv, stdout=logs[n], stderr=subprocess.STDOUT)
                self._raise_oom_score(procs[n].pid)
            ctx.note("engine", engine="stressapptest", seconds=seconds, argv={n: a for n, a in argvs.items()},
                     taskset=bool(taskset), **plan.to_record())
            give_up = time.monotonic() + seconds + 60 + plan.total / (200 * MIB)  # its final check reads it all
            while any(p.poll() is None for p in procs.values()):
                if ctx.stopping() or time.monotonic() > give_up:
                    interrupted = True
                    break
                self._edac_poll(ctx)
                ctx.wait(0.2)
            if interrupted:
                self._stop_sat(procs)
            ok_any = False
            problems: list[str] = []
            for n, proc in procs.items():
                logs[n].seek(0)
                outcome = stressapptest.parse_outcome(proc.returncode, logs[n].read())
                ok, problem = self._judge_sat(ctx, nodes[n], outcome, interrupted, oom_before, argvs[n])
                ok_any = ok_any or ok
                if problem:
                    problems.append(problem)
                if outcome.verified_bytes and outcome.seconds:
                    ctx.sample({f"mem_verified_gbps:node{n}": round(outcome.verified_bytes / outcome.seconds / 1e9, 3)})
            return ok_any and not problems, problems
        finally:
            self._stop_sat(procs)
            for f in logs.values():
                f.close()
            shutil.rmtree(tmp, ignore_errors=True)

    def _raise_oom_score(self, pid: int) -> None:
        try:
            with open(self.host.path(f"/proc/{pid}/oom_score_adj"), "w") as f:  # our own child
                f.write("500")
        except OSError:
            pass

    @staticmethod
    def _stop_sat(procs: Mapping[int, subprocess.Popen]) -> None:
        """SIGINT: stressapptest stops early, checks and reports; after the grace, SIGKILL."""
        running = [p for p in procs.values() if p.poll() is None]
        for p in running:
            try:
                p.send_signal(signal.SIGINT)
            except ProcessLookupError:
                pass
        give_up = time.monotonic() + SAT_STOP_GRACE_S
        for p in running:
            try:
                p.wait(max(0.0, give_up - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                try:
                    p.wait(1.0)
                except subprocess.TimeoutExpired:
                    kill_process_group(p.pid)

    def _judge_sat(self, ctx, node: NodeInfo, outcome: stressapptest.Outcome, interrupted: bool, oom_before,
                   argv) -> tuple[bool, str | None]:
        evidence = {"engine": "stressapptest", "phase": ctx.phase, "argv": list(argv), **outcome.to_record()}
        component = f"memory:node{node.node}"
        reported = outcome.reported
        if reported == "hardware" or outcome.miscompares:
            first = outcome.miscompares[0] if outcome.miscompares else None
            detail = (f": the word at {first.to_record()['physical_address'] or first.to_record()['virtual_address']} "
                      f"read {first.read:#018x} instead of {first.expected:#018x}" if first else "")
            ctx.fail(component, "memory-mismatch",
                     f"stressapptest found wrong data in memory on NUMA {node.label}"
                     f" ({outcome.hardware_incidents or len(outcome.miscompares)} hardware incidents){detail}.",
                     {**evidence, "miscompares": [m.to_record() for m in outcome.miscompares[:10]],
                      "dimm_candidates": self._candidates(ctx, node)})
            ctx.note("stressapptest found miscompares", engine="stressapptest", node=node.node)
            return True, None
        if reported == "pass":
            ctx.note(f"stressapptest on node {node.node} passed" + (" (stopped early)" if outcome.interrupted else ""),
                     engine="stressapptest", node=node.node, verified_mib=outcome.verified_bytes // MIB,
                     seconds=outcome.seconds, memory_copy_mbps=outcome.memory_copy_mbps)
            return True, None
        if outcome.returncode == -signal.SIGKILL:
            oom_after = read_oom_kills(self.host)
            if oom_before is not None and oom_after is not None and oom_after > oom_before:
                self._explained = True
                ctx.finding(str(self.config["worker_oom_killed"]), component, "memory-worker-oom-killed",
                            f"The kernel's out-of-memory killer ended stressapptest on NUMA {node.label}: memory "
                            "ran short, so its memory was not tested to the end.",
                            {**evidence, "oom_kills_before": oom_before, "oom_kills_after": oom_after})
                return False, None
        if interrupted and outcome.returncode in (None, 0, -signal.SIGINT, -signal.SIGKILL):
            ctx.note(f"stressapptest on node {node.node} was stopped before it reported", engine="stressapptest",
                     node=node.node, returncode=outcome.returncode)
            return False, None
        why = (outcome.usage_error or "; ".join(outcome.process_errors[:3]) or outcome.status_text
               or describe_exit(outcome.returncode))
        ctx.warn(component, "tool-error",
                 f"stressapptest could not test memory on NUMA {node.label} (exit code {outcome.returncode}: {why}); "
                 "this is a tool problem, not a hardware fault.", {**evidence, "why": why})
        return False, f"node {node.node}: {why}"

