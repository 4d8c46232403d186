"""How much memory the memory module tests, where: NUMA nodes, MemAvailable, cgroup limits, the plan per node.

Readers of /proc/meminfo, the nodes' meminfo, /proc/vmstat's OOM-kill count and the memory cgroup, and the pure
sizing (`plan_memory`, `split_workers`). Never more than MemAvailable minus a reserve, never more than the free part
of this process's memory cgroup.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from burnin.host import Host
from burnin.inventory.cpu import read_topology as read_cpu_topology
from burnin.modules.memory import patterns

MIB = 1 << 20
MIN_WORKER_BYTES = 16 * MIB  # below this a worker is not worth its process
CGROUP_RESERVE_MIN = 64 * MIB  # left free inside a memory cgroup (its processes need some)
CGROUP_RESERVE_FRACTION = 0.1
UNLIMITED = 1 << 60  # cgroup v1 writes 9223372036854771712 for "no limit"


# -- records ---------------------------------------------------------------------------------------------
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


def cpu_packages(inventory: Any, host: Host) -> dict[int, int | None]:
    """Processor package of every online CPU: the inventory's reading when it has one, else its reader."""
    logical = getattr(getattr(inventory, "cpu", None), "topology", None) or read_cpu_topology(host)
    return {c.cpu: c.package for c in logical}


def node_sockets(packages: Mapping[int, int | None], cpus: Iterable[int]) -> tuple[int, ...]:
    """The processor packages (sockets) of these CPUs."""
    return tuple(sorted({p for p in (packages.get(cpu) for cpu in cpus) if p is not None and p >= 0}))
