"""CPU identity and topology from /proc/cpuinfo and /sys/devices/system/cpu (through the host, so --sysroot works).

py-cpuinfo is not used: it takes ~1.3 s (it re-runs Python and probes programs), misreports cache sizes, and
cannot read a captured tree; /proc/cpuinfo and sysfs hold everything recorded here. The SMBIOS processor
sockets (type 4) add what the OS cannot see: empty sockets, and the CPU model of a machine known only from
a dmidecode dump.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from burnin.host import Host
from burnin.inventory._record import Record
from burnin.inventory.memory import parse_cpulist
from burnin.inventory.smbios import ProcessorRecord, Smbios

CPU_ROOT = "/sys/devices/system/cpu"

# Flags a buyer or a stress test cares about (x86 /proc/cpuinfo "flags" and arm64 "Features").
NOTABLE_FLAGS = frozenset({
    "sse4_2", "avx", "avx2", "fma", "f16c", "bmi2", "adx", "aes", "vaes", "pclmulqdq", "vpclmulqdq", "sha_ni",
    "rdrand", "rdseed", "popcnt", "avx_vnni", "vmx", "svm", "hypervisor", "nx", "lm", "pdpe1gb", "x2apic",
    "sgx", "sme", "sev", "sev_es", "sev_snp", "tme",
    "asimd", "sha1", "sha2", "sha3", "sha512", "pmull", "crc32", "atomics", "sve", "sve2",
})
NOTABLE_PREFIXES = ("avx512", "amx")


@dataclass(frozen=True)
class CpuCache(Record):
    level: int | None
    type: str | None  # "Data", "Instruction", "Unified"
    size_kib: int | None  # one instance
    ways: int | None
    shared_cpu_list: str | None  # the logical CPUs sharing one instance (as seen from cpu0)
    instances: int  # how many of these the machine has
    total_kib: int | None


@dataclass(frozen=True)
class LogicalCpu(Record):
    cpu: int
    package: int | None
    die: int | None
    core: int | None
    node: int | None


@dataclass(frozen=True)
class CpuSocket(Record):
    """A processor socket as the firmware lists it (SMBIOS type 4)."""

    name: str
    populated: bool
    model: str | None
    status: str | None
    cores: int | None
    threads: int | None


@dataclass(frozen=True)
class CpuInfo(Record):
    model: str | None
    vendor: str | None
    family: int | None
    model_number: int | None
    stepping: int | None
    microcode: str | None
    sockets: int | None  # sockets with a working CPU
    cores: int | None  # physical cores in all sockets
    cores_per_socket: int | None
    threads_per_core: int | None
    threads: int | None  # logical CPUs online
    base_mhz: float | None
    max_mhz: float | None
    caches: tuple[CpuCache, ...]
    flags: tuple[str, ...]  # the notable ones present
    flag_count: int
    virtualized: bool | None  # the CPU reports a hypervisor
    topology: tuple[LogicalCpu, ...]
    socket_records: tuple[CpuSocket, ...]  # SMBIOS sockets, empty ones included
    source: str  # "proc" or "smbios"
    ppins: tuple[SocketPpin, ...] = ()  # each socket's Protected Processor Inventory Number, where enabled


@dataclass(frozen=True)
class SocketPpin(Record):
    """A socket's PPIN (`topology/ppin`, Linux 6.2+, where the firmware enables it): the processor's identity."""

    package: int
    ppin: str  # "0x8c1f0a6b2e4d1234" as the kernel prints it


def read_ppins(host: Host, topology: Sequence[LogicalCpu]) -> tuple[SocketPpin, ...]:
    """One PPIN per package, from its first online CPU; () where the kernel or firmware does not expose it.
    "0x0" (PPIN disabled or locked off) identifies nothing and is left out."""
    found: dict[int, str] = {}
    for cpu in sorted(topology, key=lambda c: c.cpu):
        if cpu.package is None or cpu.package in found:
            continue
        value = (host.read_text(f"{CPU_ROOT}/cpu{cpu.cpu}/topology/ppin") or "").strip().lower()
        if _is_hex(value) and int(value, 16):
            found[cpu.package] = value
    return tuple(SocketPpin(package, ppin) for package, ppin in sorted(found.items()))


def _is_hex(value: str) -> bool:
    try:
        int(value, 16)
    except ValueError:
        return False
    return True


def parse_cpuinfo(text: str | None) -> list[dict[str, str]]:
    """/proc/cpuinfo as one dict per block (per logical CPU on x86; arm64 adds a trailing global block)."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in (text or "").splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, sep, value = line.partition(":")
        if sep:
            current[key.strip()] = value.strip()
    if current:
        blocks.append(current)
    return blocks


def _int(value: str | None, base: int = 10) -> int | None:
    if value is None:
        return None
    try:
        return int(value, base)
    except ValueError:
        return None


def notable_flags(flags: Sequence[str]) -> tuple[str, ...]:
    return tuple(sorted(f for f in set(flags) if f in NOTABLE_FLAGS or f.startswith(NOTABLE_PREFIXES)))


def mhz_from_model(model: str | None) -> float | None:
    """The base clock in a model string: "Intel(R) Xeon(R) Gold 6154 CPU @ 3.00GHz" -> 3000.0."""
    match = re.search(r"@\s*(\d+(?:\.\d+)?)\s*([GM])Hz", model or "")
    if not match:
        return None
    value = float(match[1])
    return value * 1000 if match[2] == "G" else value


def _size_kib(text: str | None) -> int | None:
    match = re.match(r"^(\d+)\s*([KMG]?)", text or "")
    if not match:
        return None
    return int(match[1]) * {"": 1, "K": 1, "M": 1024, "G": 1024 * 1024}[match[2]]


def read_topology(host: Host) -> list[LogicalCpu]:
    """Online logical CPUs with their package, die and core, and their NUMA node."""
    node_of: dict[int, int] = {}
    for node_path in host.glob("/sys/devices/system/node", "node[0-9]*"):
        number = _int(node_path.rsplit("node", 1)[1])
        if number is not None:
            for cpu in parse_cpulist(host.read_text(f"{node_path}/cpulist")):
                node_of[cpu] = number
    online = host.read_text(f"{CPU_ROOT}/online")
    online_set = set(parse_cpulist(online)) if online else None
    cpus = []
    for path in host.glob(CPU_ROOT, "cpu[0-9]*"):
        number = _int(path.rsplit("cpu", 1)[1])
        if number is None:
            continue
        if online_set is not None and number not in online_set:
            continue
        if online_set is None and host.read_text(f"{path}/online") == "0":
            continue
        cpus.append(LogicalCpu(
            cpu=number,
            package=host.read_int(f"{path}/topology/physical_package_id"),
            die=host.read_int(f"{path}/topology/die_id"),
            core=host.read_int(f"{path}/topology/core_id"),
            node=node_of.get(number),
        ))
    return cpus


def read_caches(host: Host, cpus: Sequence[int]) -> list[CpuCache]:
    caches = []
    first = cpus[0] if cpus else 0
    for index_path in host.glob(f"{CPU_ROOT}/cpu{first}/cache", "index[0-9]*"):
        index = index_path.rsplit("/", 1)[1]
        shared_sets = set()
        for cpu in cpus:
            shared = host.read_text(f"{CPU_ROOT}/cpu{cpu}/cache/{index}/shared_cpu_list")
            if shared is not None:
                shared_sets.add(shared)
        size = _size_kib(host.read_text(f"{index_path}/size"))
        instances = max(len(shared_sets), 1)
        caches.append(CpuCache(
            level=host.read_int(f"{index_path}/level"),
            type=host.read_text(f"{index_path}/type"),
            size_kib=size,
            ways=host.read_int(f"{index_path}/ways_of_associativity"),
            shared_cpu_list=host.read_text(f"{index_path}/shared_cpu_list"),
            instances=instances,
            total_kib=size * instances if size is not None else None,
        ))
    return caches


def socket_records(processors: Sequence[ProcessorRecord]) -> tuple[CpuSocket, ...]:
    return tuple(
        CpuSocket(
            name=p.socket or f"socket {i + 1}",
            populated=p.populated,
            model=p.version,
            status=p.status,
            cores=p.core_enabled or p.core_count,
            threads=p.thread_count,
        )
        for i, p in enumerate(processors)
    )


def _ratio(whole: int | None, part: int | None) -> int | None:
    if not whole or not part or whole % part:
        return None
    return whole // part


def collect_cpu(host: Host, smbios: Smbios | None = None) -> CpuInfo:
    blocks = parse_cpuinfo(host.read_text("/proc/cpuinfo"))
    first = next((b for b in blocks if "processor" in b), blocks[0] if blocks else {})
    flags = (first.get("flags") or first.get("Features") or "").split()
    topology = read_topology(host)
    if topology and all(c.package is not None and c.core is not None for c in topology):
        packages = {c.package for c in topology}
        cores = len({(c.package, c.die, c.core) for c in topology})
    else:  # no sysfs topology: fall back on the cpuinfo ids
        ids = [(b.get("physical id"), b.get("core id")) for b in blocks if "processor" in b]
        packages = {p for p, _ in ids if p is not None}
        cores = len({i for i in ids if None not in i}) or None
    threads = len(topology) or len([b for b in blocks if "processor" in b]) or None
    sockets = len(packages) or None
    model = first.get("model name") or first.get("cpu model")
    base_khz = host.read_int(f"{CPU_ROOT}/cpu0/cpufreq/base_frequency")
    max_khz = host.read_int(f"{CPU_ROOT}/cpu0/cpufreq/cpuinfo_max_freq")
    cpu_numbers = [c.cpu for c in topology] or [0]
    return CpuInfo(
        model=model,
        vendor=first.get("vendor_id") or first.get("CPU implementer"),
        family=_int(first.get("cpu family")),
        model_number=_int(first.get("model")),
        stepping=_int(first.get("stepping")),
        microcode=first.get("microcode"),
        sockets=sockets,
        cores=cores,
        cores_per_socket=_ratio(cores, sockets),
        threads_per_core=_ratio(threads, cores),
        threads=threads,
        base_mhz=base_khz / 1000 if base_khz else mhz_from_model(model),
        max_mhz=max_khz / 1000 if max_khz else None,
        caches=tuple(read_caches(host, cpu_numbers)),
        flags=notable_flags(flags),
        flag_count=len(set(flags)),
        virtualized=("hypervisor" in flags) if flags else None,
        topology=tuple(topology),
        socket_records=socket_records(smbios.processors) if smbios else (),
        source="proc",
        ppins=read_ppins(host, topology),
    )


def cpu_from_smbios(smbios: Smbios) -> CpuInfo:
    """What a dmidecode dump says about the CPUs (no OS view: no caches, flags or topology)."""
    records = socket_records(smbios.processors)
    working = [p for p in smbios.processors if p.populated]
    model = next((p.version for p in working if p.version), None)
    cores = sum(p.core_enabled or p.core_count or 0 for p in working) or None
    threads = sum(p.thread_count or 0 for p in working) or None
    sockets = len(working) or None
    return CpuInfo(
        model=model,
        vendor=next((p.manufacturer for p in working if p.manufacturer), None),
        family=None, model_number=None, stepping=None, microcode=None,
        sockets=sockets,
        cores=cores,
        cores_per_socket=_ratio(cores, sockets),
        threads_per_core=_ratio(threads, cores),
        threads=threads,
        base_mhz=mhz_from_model(model),
        max_mhz=None,
        caches=(), flags=(), flag_count=0, virtualized=None, topology=(),
        socket_records=records,
        source="smbios",
    )
