"""Memory: the OS total, every DIMM slot the firmware lists, where each slot sits, and the NUMA nodes.

The socket, channel and slot of a DIMM are read from its locator strings using the naming schemes of the
common vendors (Supermicro `P1-DIMMA1`, Intel `CPU0_DIMM_A1`, Huawei `DIMM010`, HPE `PROC 1 DIMM 3`, Dell `A1`
/ `DIMM_B2`, AMI bank locators `P0_Node0_Channel1_Dimm0`, …). What a scheme does not say stays None: this
module never guesses a channel layout it cannot read from the strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from burnin.host import Host, parse_cpulist
from burnin.inventory._record import Record
from burnin.inventory.smbios import ECC_PROTECTING, MemoryDeviceRecord, Smbios


@dataclass(frozen=True)
class DimmPlace(Record):
    """Where a slot sits. Any part the locator does not state is None."""

    socket: int | None  # 0-based index of the processor socket, in SMBIOS type-4 order
    channel: str | None  # channel label within the socket, as the board names it ("A", "0")
    slot: int | None  # position within the channel; 1 is the slot to fill first
    group: str | None  # numbered schemes (Dell): slots of a group are filled in numeric order…
    number: int | None  # …and this is the slot's number in it
    rule: str | None  # which naming scheme matched


UNKNOWN_PLACE = DimmPlace(None, None, None, None, None, None)


@dataclass(frozen=True)
class Dimm(Record):
    locator: str | None
    bank_locator: str | None
    populated: bool
    size_bytes: int | None  # None: populated, size unknown; 0: empty
    type: str | None
    type_detail: str | None
    form_factor: str | None
    speed_mts: int | None
    configured_speed_mts: int | None
    rank: int | None
    manufacturer: str | None
    part_number: str | None
    serial: str | None
    total_width_bits: int | None
    data_width_bits: int | None
    place: DimmPlace

    @property
    def name(self) -> str:
        return self.locator or self.bank_locator or "?"


@dataclass(frozen=True)
class NumaNode(Record):
    node: int
    cpulist: str | None
    cpu_count: int
    mem_total_bytes: int | None


@dataclass(frozen=True)
class MemoryInfo(Record):
    total_bytes: int | None  # /proc/meminfo MemTotal: what the OS can use
    dimm_source: str | None  # where the slot list came from ("sysfs", "dmidecode-text"); None: no SMBIOS
    ecc: str | None  # the memory array's error correction ("Multi-bit ECC", "None")
    ecc_protected: bool | None
    slot_count: int
    dimm_count: int
    dimm_total_bytes: int | None
    dimms: tuple[Dimm, ...]
    numa_nodes: tuple[NumaNode, ...]


# -- locator schemes -------------------------------------------------------------------------------


@dataclass
class _Raw:
    socket: int | None = None  # index already known
    socket_label: str | None = None  # to resolve against the processor sockets
    channel: str | None = None
    slot: int | None = None
    group: str | None = None
    number: int | None = None
    rule: str | None = None


_HUAWEI = re.compile(r"^DIMM(\d)(\d)(\d)$")
_SOCKET_CHANNEL_SLOT = re.compile(r"^((?:P|CPU|PROC|SOCKET)\s*\d+)[\s_-]*(?:DIMM)?[\s_-]*([A-Z])(\d+)$", re.I)
_HPE = re.compile(r"^(PROC\s*\d+)\s+DIMM\s*(\d+)$", re.I)
_DELL_LETTER = re.compile(r"^(?:DIMM[\s_-]?)?([A-Z])(\d+)$", re.I)
_DIMM_LETTER = re.compile(r"^DIMM[\s_-]?([A-Z])(\d+)$", re.I)
_DIMM_N_CPU = re.compile(r"^DIMM\s*(\d+)[\s_-]+(CPU\s*\d+)$", re.I)
_SUPERDOME = re.compile(r"^(\d+/\d+/\d+)/(\d+)[A-Z]$")
_CHANNEL_DIMM = re.compile(r"^(?:CHANNEL|CH)\s*([A-Z0-9])[\s_-]*DIMM\s*(\d+)$", re.I)
_DIMM_NUMBER = re.compile(r"^DIMM[\s_-]*(\d+)$", re.I)
_BANK_SOCKET = re.compile(r"^P(\d+)_Node\d+_Channel(\d+)_Dimm(\d+)$", re.I)
_BANK_NODE = re.compile(r"^_?Node\d+_Channel(\d+)_Dimm(\d+)$", re.I)
_BANK_CHANNEL = re.compile(r"^Channel\s*([A-Z0-9]+)$", re.I)


def _parse_locator(locator: str, dell: bool) -> _Raw:
    loc = locator.strip()
    if m := _HUAWEI.match(loc):
        return _Raw(socket=int(m[1]), channel=m[2], slot=int(m[3]) + 1, rule="huawei DIMM<socket><channel><slot>")
    if m := _SOCKET_CHANNEL_SLOT.match(loc):
        return _Raw(socket_label=m[1], channel=m[2].upper(), slot=int(m[3]), rule="<socket>-DIMM<channel><slot>")
    if m := _HPE.match(loc):
        return _Raw(socket_label=m[1], number=int(m[2]), rule="hpe PROC <n> DIMM <n>")
    if m := _DIMM_N_CPU.match(loc):
        return _Raw(socket_label=m[2], number=int(m[1]), rule="DIMM<n>_CPU<n>")
    if m := _SUPERDOME.match(loc):
        return _Raw(socket_label=m[1], number=int(m[2]), rule="<cabinet/blade/cpu>/<n><letter>")
    if dell and (m := _DELL_LETTER.match(loc)):
        return _Raw(socket_label=m[1].upper(), group=m[1].upper(), number=int(m[2]), rule="dell <letter><n>")
    if m := _DIMM_LETTER.match(loc):
        return _Raw(channel=m[1].upper(), slot=int(m[2]), rule="DIMM<channel><slot>")
    if m := _CHANNEL_DIMM.match(loc):
        return _Raw(channel=m[1].upper(), slot=int(m[2]) + 1, rule="Channel<c>-DIMM<n>")
    if m := _DIMM_NUMBER.match(loc):
        return _Raw(number=int(m[1]), rule="DIMM <n>")
    return _Raw()


def _apply_bank(raw: _Raw, bank: str) -> None:
    bank = bank.strip()
    if m := _BANK_SOCKET.match(bank):
        if raw.socket is None and raw.socket_label is None:
            raw.socket = int(m[1])
        if raw.channel is None:
            raw.channel, raw.slot = m[2], int(m[3]) + 1
        raw.rule = raw.rule or "bank P<socket>_Node_Channel_Dimm"
    elif m := _BANK_NODE.match(bank):
        if raw.channel is None:
            raw.channel, raw.slot = m[1], int(m[2]) + 1
            raw.rule = raw.rule or "bank Node_Channel_Dimm"
    elif m := _BANK_CHANNEL.match(bank):
        if raw.channel is None:
            raw.channel = m[1].upper()
            raw.rule = raw.rule or "bank Channel <c>"


def _norm(label: str) -> str:
    return re.sub(r"[\s_-]", "", label).lower()


def _resolve_sockets(raws: list[_Raw], sockets: Sequence[str | None]) -> None:
    """Turn socket labels into socket indexes: by the processor sockets' names, else by numbering."""
    labels = {r.socket_label for r in raws if r.socket_label is not None}
    if not labels:
        return
    by_name = {_norm(name): i for i, name in enumerate(sockets) if name}
    mapping: dict[str, int] = {}
    if all(_norm(label) in by_name for label in labels):
        mapping = {label: by_name[_norm(label)] for label in labels}
    elif all(label.isalpha() and len(label) == 1 for label in labels):
        # Dell letters are sockets only where there are as many letters as sockets (R910 letters are risers).
        if len(labels) == len(sockets):
            mapping = {label: i for i, label in enumerate(sorted(labels))}
    else:
        numbers = {}
        for label in labels:
            digits = re.search(r"(\d+)$", label)
            if digits is None:
                return
            numbers[label] = int(digits[1])
        base = min(numbers.values())
        if base in (0, 1) and (not sockets or max(numbers.values()) - base < len(sockets)):
            mapping = {label: n - base for label, n in numbers.items()}
    for r in raws:
        if r.socket_label is not None and r.socket is None:
            r.socket = mapping.get(r.socket_label)


def infer_places(
    devices: Sequence[MemoryDeviceRecord], sockets: Sequence[str | None], vendor: str | None = None
) -> list[DimmPlace]:
    """Socket/channel/slot of each memory device, read from its locator and bank locator."""
    dell = bool(vendor and "dell" in vendor.lower())
    raws = []
    for d in devices:
        raw = _parse_locator(d.locator or "", dell)
        _apply_bank(raw, d.bank_locator or "")
        raws.append(raw)
    _resolve_sockets(raws, sockets)
    places = []
    for raw in raws:
        socket = raw.socket
        if socket is None and len(sockets) == 1:
            socket = 0  # one processor socket: every slot belongs to it
        if socket is not None and sockets and socket >= len(sockets):
            socket = None  # a number we could not place on a known socket
        places.append(DimmPlace(socket, raw.channel, raw.slot, raw.group, raw.number, raw.rule))
    return places


# -- collection ------------------------------------------------------------------------------------


def system_memory_devices(smbios: Smbios) -> list[MemoryDeviceRecord]:
    """Type-17 devices of the arrays that hold system memory (not flash or video arrays)."""
    system_arrays = {a.handle for a in smbios.memory_arrays if a.use in (None, "System Memory")}
    if not smbios.memory_arrays:
        return list(smbios.memory_devices)
    return [d for d in smbios.memory_devices if d.array_handle is None or d.array_handle in system_arrays]


def dimms_from_smbios(smbios: Smbios) -> list[Dimm]:
    devices = system_memory_devices(smbios)
    sockets = [p.socket for p in smbios.processors]
    vendor = smbios.system.manufacturer if smbios.system else None
    places = infer_places(devices, sockets, vendor)
    return [
        Dimm(
            locator=d.locator,
            bank_locator=d.bank_locator,
            populated=d.populated,
            size_bytes=d.size_bytes,
            type=d.type,
            type_detail=d.type_detail,
            form_factor=d.form_factor,
            speed_mts=d.speed_mts,
            configured_speed_mts=d.configured_speed_mts,
            rank=d.rank,
            manufacturer=d.manufacturer,
            part_number=d.part_number,
            serial=d.serial,
            total_width_bits=d.total_width_bits,
            data_width_bits=d.data_width_bits,
            place=place,
        )
        for d, place in zip(devices, places)
    ]


def array_ecc(smbios: Smbios) -> tuple[str | None, bool | None]:
    kinds = sorted({a.ecc for a in smbios.memory_arrays if a.use in (None, "System Memory") and a.ecc})
    if not kinds:
        return None, None
    return ", ".join(kinds), all(k in ECC_PROTECTING for k in kinds)


def parse_meminfo_total(text: str | None) -> int | None:
    """MemTotal in bytes from /proc/meminfo (or a node's meminfo: "Node 0 MemTotal: … kB")."""
    for line in (text or "").splitlines():
        key, _, value = line.partition(":")
        if key.split()[-1:] == ["MemTotal"]:
            parts = value.split()
            if parts and parts[0].isdigit():
                return int(parts[0]) * (1024 if parts[1:2] == ["kB"] else 1)
    return None


def read_numa_nodes(host: Host) -> list[NumaNode]:
    nodes = []
    for path in host.glob("/sys/devices/system/node", "node[0-9]*"):
        number = path.rsplit("node", 1)[1]
        if not number.isdigit():
            continue
        cpulist = host.read_text(f"{path}/cpulist")
        nodes.append(NumaNode(int(number), cpulist or None, len(parse_cpulist(cpulist)),
                              parse_meminfo_total(host.read_text(f"{path}/meminfo"))))
    return nodes


def memory_from_smbios(smbios: Smbios | None, total_bytes: int | None, numa_nodes: Sequence[NumaNode]) -> MemoryInfo:
    dimms = dimms_from_smbios(smbios) if smbios else []
    populated = [d for d in dimms if d.populated]
    ecc, protected = array_ecc(smbios) if smbios else (None, None)
    dimm_total = sum(d.size_bytes or 0 for d in populated) if smbios else None
    return MemoryInfo(
        total_bytes=total_bytes,
        dimm_source=smbios.source if smbios else None,
        ecc=ecc,
        ecc_protected=protected,
        slot_count=len(dimms),
        dimm_count=len(populated),
        dimm_total_bytes=dimm_total,
        dimms=tuple(dimms),
        numa_nodes=tuple(numa_nodes),
    )


def collect_memory(host: Host, smbios: Smbios | None) -> MemoryInfo:
    total = parse_meminfo_total(host.read_text("/proc/meminfo"))
    return memory_from_smbios(smbios, total, read_numa_nodes(host))

