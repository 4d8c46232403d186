"""SMBIOS: the firmware's own list of what is in the box, parsed natively from the binary tables.

Reads `/sys/firmware/dmi/tables/smbios_entry_point` and `/sys/firmware/dmi/tables/DMI` (root only) or a
`dmidecode --dump-bin` file, walks the structures and decodes the types burnin uses: 0 (BIOS), 1 (system),
2 (board), 3 (chassis), 4 (processor sockets), 9 (system slots), 16 (memory arrays), 17 (memory devices),
20 (memory device mapped addresses: which physical address range lies on which DIMM) and 42 (the management
controller's host interface: where the BMC's Redfish service answers from inside the host, DSP0270).
`burnin.inventory.dmidecode` turns a `dmidecode` text dump into the very same records, so a seller's dump and
the live tables are judged by the same code. Strings that the firmware leaves unset ("Not Specified") are None.
Enumerated values are decoded to the words dmidecode prints, so both sources compare equal.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace

from burnin.host import Host
from burnin.inventory._record import Record

ENTRY_POINT_PATH = "/sys/firmware/dmi/tables/smbios_entry_point"
TABLE_PATH = "/sys/firmware/dmi/tables/DMI"


class SmbiosError(ValueError):
    """The bytes are not an SMBIOS entry point or table we can read."""


# -- records ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BiosRecord(Record):
    vendor: str | None
    version: str | None
    release_date: str | None
    revision: str | None  # "2.22": the BIOS major.minor release, when the firmware states it


@dataclass(frozen=True)
class SystemRecord(Record):
    manufacturer: str | None
    product: str | None
    version: str | None
    serial: str | None
    uuid: str | None
    sku: str | None
    family: str | None


@dataclass(frozen=True)
class BoardRecord(Record):
    manufacturer: str | None
    product: str | None
    version: str | None
    serial: str | None


@dataclass(frozen=True)
class ChassisRecord(Record):
    manufacturer: str | None
    type: str | None  # "Rack Mount Chassis"
    version: str | None
    serial: str | None
    asset_tag: str | None


@dataclass(frozen=True)
class ProcessorRecord(Record):
    """One processor socket (type 4), populated or not."""

    handle: int
    socket: str | None  # the socket's name on the board: "CPU1", "Proc 2", "1/1/0"
    manufacturer: str | None
    version: str | None  # the model string
    populated: bool
    status: str | None  # "Enabled", "Idle", "Disabled By BIOS"…; None when unpopulated
    max_speed_mhz: int | None
    current_speed_mhz: int | None
    core_count: int | None
    core_enabled: int | None
    thread_count: int | None


@dataclass(frozen=True)
class SlotRecord(Record):
    """One system slot (type 9): its printed name and, when the firmware says so, the PCI address in it."""

    handle: int
    designation: str | None  # "PCIe Slot 1"
    type: str | None  # "x8 PCI Express 3 x16"
    usage: str | None  # "In Use", "Available"
    bus_address: str | None  # "0000:3b:00.0"


@dataclass(frozen=True)
class MemoryArrayRecord(Record):
    handle: int
    location: str | None
    use: str | None  # "System Memory"
    ecc: str | None  # "Multi-bit ECC", "Single-bit ECC", "None"…
    max_capacity_bytes: int | None
    device_count: int | None


@dataclass(frozen=True)
class MemoryDeviceRecord(Record):
    """One memory slot (type 17). `size_bytes` is 0 for an empty slot and None when the size is unknown."""

    handle: int
    array_handle: int | None
    locator: str | None
    bank_locator: str | None
    size_bytes: int | None
    form_factor: str | None
    type: str | None  # "DDR4"
    type_detail: str | None  # "Synchronous Registered (Buffered)"
    speed_mts: int | None  # rated
    configured_speed_mts: int | None  # what the board runs it at
    rank: int | None
    manufacturer: str | None
    serial: str | None
    part_number: str | None
    total_width_bits: int | None
    data_width_bits: int | None

    @property
    def populated(self) -> bool:
        return self.size_bytes != 0


@dataclass(frozen=True)
class MemoryMappedRecord(Record):
    """A memory device mapped address (type 20): the physical byte range [start, end] that lies on one device."""

    handle: int
    start: int  # bytes
    end: int  # bytes, inclusive (as dmidecode prints "Ending Address")
    device_handle: int | None  # the type 17 structure
    array_mapped_handle: int | None  # the type 19 structure
    partition_row: int | None  # None: unknown
    interleave_position: int | None  # None: not interleaved, or unknown
    interleaved_depth: int | None


@dataclass(frozen=True)
class RedfishOverIp(Record):
    """A "Redfish over IP" protocol record (DSP0270 8.4.1) of a host interface."""

    service_uuid: str | None
    host_ip_assignment: str | None  # "Static", "DHCP", "AutoConf", "Host Selected", "Unknown"
    host_ip: str | None  # only stated for Static/AutoConf
    host_mask: str | None
    service_discovery: str | None
    service_ip: str | None
    service_mask: str | None
    service_port: int | None
    service_vlan: int | None
    service_hostname: str | None


@dataclass(frozen=True)
class HostInterfaceRecord(Record):
    """The management controller host interface (type 42): how the host reaches its BMC."""

    handle: int
    interface_type: str  # "Network", "KCS: Keyboard Controller Style", ...
    device_type: str | None  # "USB", "PCI/PCIe", "USB v2", "PCI/PCIe v2", "OEM"
    usb_id: str | None  # "0d28:0204"
    pci_id: str | None  # "8086:1533"
    mac: str | None  # the BMC end's MAC of the USB/PCI NIC (v2 descriptors)
    credential_bootstrapping: bool  # DSP0270 1.3: the BMC hands out credentials over IPMI
    redfish: tuple[RedfishOverIp, ...] = ()
    protocols: tuple[int, ...] = ()  # every protocol record's id (4: Redfish over IP)


@dataclass(frozen=True)
class Smbios(Record):
    """Everything burnin reads from one SMBIOS table (live tables, a binary dump or a dmidecode text dump)."""

    version: str | None  # "3.2.0"
    source: str  # "sysfs", "dump-bin", "dmidecode-text"
    bios: BiosRecord | None
    system: SystemRecord | None
    board: BoardRecord | None
    chassis: ChassisRecord | None
    processors: tuple[ProcessorRecord, ...]
    slots: tuple[SlotRecord, ...]
    memory_arrays: tuple[MemoryArrayRecord, ...]
    memory_devices: tuple[MemoryDeviceRecord, ...]
    structure_count: int
    memory_mapped: tuple[MemoryMappedRecord, ...] = ()
    host_interfaces: tuple[HostInterfaceRecord, ...] = ()


# -- the words dmidecode prints for enumerated values (SMBIOS spec DSP0134) --------------------------

CHASSIS_TYPES = (
    "Other", "Unknown", "Desktop", "Low Profile Desktop", "Pizza Box", "Mini Tower", "Tower", "Portable",
    "Laptop", "Notebook", "Hand Held", "Docking Station", "All In One", "Sub Notebook", "Space-saving",
    "Lunch Box", "Main Server Chassis", "Expansion Chassis", "Sub Chassis", "Bus Expansion Chassis",
    "Peripheral Chassis", "RAID Chassis", "Rack Mount Chassis", "Sealed-case PC", "Multi-system", "CompactPCI",
    "AdvancedTCA", "Blade", "Blade Enclosing", "Tablet", "Convertible", "Detachable", "IoT Gateway",
    "Embedded PC", "Mini PC", "Stick PC",
)  # 0x01..0x24
PROCESSOR_STATUS = {0: "Unknown", 1: "Enabled", 2: "Disabled By User", 3: "Disabled By BIOS", 4: "Idle", 7: "Other"}
SLOT_WIDTHS = ("", "", "8-bit ", "16-bit ", "32-bit ", "64-bit ", "128-bit ", "x1 ", "x2 ", "x4 ", "x8 ",
               "x12 ", "x16 ", "x32 ")  # 0x01..0x0E
SLOT_TYPES = (
    "Other", "Unknown", "ISA", "MCA", "EISA", "PCI", "PC Card (PCMCIA)", "VLB", "Proprietary", "Processor Card",
    "Proprietary Memory Card", "I/O Riser Card", "NuBus", "PCI-66", "AGP", "AGP 2x", "AGP 4x", "PCI-X",
    "AGP 8x", "M.2 Socket 1-DP", "M.2 Socket 1-SD", "M.2 Socket 2", "M.2 Socket 3", "MXM Type I",
    "MXM Type II", "MXM Type III", "MXM Type III-HE", "MXM Type IV", "MXM 3.0 Type A", "MXM 3.0 Type B",
    "PCI Express 2 SFF-8639 (U.2)", "PCI Express 3 SFF-8639 (U.2)",
    "PCI Express Mini 52-pin with bottom-side keep-outs", "PCI Express Mini 52-pin without bottom-side keep-outs",
    "PCI Express Mini 76-pin", "PCI Express 4 SFF-8639 (U.2)", "PCI Express 5 SFF-8639 (U.2)",
    "OCP NIC 3.0 Small Form Factor (SFF)", "OCP NIC 3.0 Large Form Factor (LFF)", "OCP NIC Prior to 3.0",
)  # 0x01..0x28
SLOT_TYPES_A0 = (
    "PC-98/C20", "PC-98/C24", "PC-98/E", "PC-98/Local Bus", "PC-98/Card", "PCI Express", "PCI Express x1",
    "PCI Express x2", "PCI Express x4", "PCI Express x8", "PCI Express x16", "PCI Express 2", "PCI Express 2 x1",
    "PCI Express 2 x2", "PCI Express 2 x4", "PCI Express 2 x8", "PCI Express 2 x16", "PCI Express 3",
    "PCI Express 3 x1", "PCI Express 3 x2", "PCI Express 3 x4", "PCI Express 3 x8", "PCI Express 3 x16", None,
    "PCI Express 4", "PCI Express 4 x1", "PCI Express 4 x2", "PCI Express 4 x4", "PCI Express 4 x8",
    "PCI Express 4 x16", "PCI Express 5", "PCI Express 5 x1", "PCI Express 5 x2", "PCI Express 5 x4",
    "PCI Express 5 x8", "PCI Express 5 x16", "PCI Express 6+", "EDSFF E1", "EDSFF E3",
)  # 0xA0..0xC6
SLOT_USAGE = ("Other", "Unknown", "Available", "In Use", "Unavailable")  # 0x01..0x05
ARRAY_LOCATIONS = ("Other", "Unknown", "System Board Or Motherboard", "ISA Add-on Card", "EISA Add-on Card",
                   "PCI Add-on Card", "MCA Add-on Card", "PCMCIA Add-on Card", "Proprietary Add-on Card", "NuBus")
ARRAY_LOCATIONS_A0 = ("PC-98/C20 Add-on Card", "PC-98/C24 Add-on Card", "PC-98/E Add-on Card",
                      "PC-98/Local Bus Add-on Card", "CXL Add-on Card")
ARRAY_USES = ("Other", "Unknown", "System Memory", "Video Memory", "Flash Memory", "Non-volatile RAM",
              "Cache Memory")
ECC_TYPES = ("Other", "Unknown", "None", "Parity", "Single-bit ECC", "Multi-bit ECC", "CRC")
ECC_PROTECTING = frozenset({"Single-bit ECC", "Multi-bit ECC", "CRC"})
FORM_FACTORS = ("Other", "Unknown", "SIMM", "SIP", "Chip", "DIP", "ZIP", "Proprietary Card", "DIMM", "TSOP",
                "Row Of Chips", "RIMM", "SODIMM", "SRIMM", "FB-DIMM", "Die")
MEMORY_TYPES = (
    "Other", "Unknown", "DRAM", "EDRAM", "VRAM", "SRAM", "RAM", "ROM", "Flash", "EEPROM", "FEPROM", "EPROM",
    "CDRAM", "3DRAM", "SDRAM", "SGRAM", "RDRAM", "DDR", "DDR2", "DDR2 FB-DIMM", "Reserved", "Reserved",
    "Reserved", "DDR3", "FBD2", "DDR4", "LPDDR", "LPDDR2", "LPDDR3", "LPDDR4", "Logical non-volatile device",
    "HBM", "HBM2", "DDR5", "LPDDR5", "HBM3",
)  # 0x01..0x24
TYPE_DETAILS = ("Other", "Unknown", "Fast-paged", "Static Column", "Pseudo-static", "RAMBus", "Synchronous",
                "CMOS", "EDO", "Window DRAM", "Cache DRAM", "Non-Volatile", "Registered (Buffered)",
                "Unbuffered (Unregistered)", "LRDIMM")  # bits 1..15

# What firmware and dmidecode print where a string is unset; all of them mean "not stated".
UNSET_STRINGS = frozenset({"", "Not Specified", "<BAD INDEX>", "Not Provided", "<OUT OF SPEC>"})


def clean_string(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return None if value in UNSET_STRINGS else value


def _lookup(table: tuple, code: int, first: int = 1) -> str | None:
    index = code - first
    if 0 <= index < len(table):
        return table[index]
    return None


def slot_type_name(width: int, code: int) -> str | None:
    if code >= 0xA0:
        name = _lookup(SLOT_TYPES_A0, code, 0xA0)
    else:
        name = _lookup(SLOT_TYPES, code)
    if name is None:
        return None
    return (_lookup(SLOT_WIDTHS, width) or "") + name


def type_detail_name(code: int) -> str:
    if code & 0xFFFE == 0:
        return "None"
    return " ".join(TYPE_DETAILS[bit - 1] for bit in range(1, 16) if code & (1 << bit))


# -- entry point and table -------------------------------------------------------------------------


@dataclass(frozen=True)
class EntryPoint:
    version: str  # "3.2.0" (SMBIOS 3) or "2.7"
    major: int
    minor: int
    table_address: int
    table_length: int  # for SMBIOS 3 the maximum size
    structure_count: int | None  # SMBIOS 2.x states it; SMBIOS 3 does not


def parse_entry_point(data: bytes) -> EntryPoint:
    """Decode an SMBIOS 3 (`_SM3_`), SMBIOS 2.1 (`_SM_`) or legacy (`_DMI_`) entry point."""
    if data.startswith(b"_SM3_") and len(data) >= 0x18:
        major, minor, docrev = data[0x07], data[0x08], data[0x09]
        (max_size,) = struct.unpack_from("<I", data, 0x0C)
        (address,) = struct.unpack_from("<Q", data, 0x10)
        return EntryPoint(f"{major}.{minor}.{docrev}", major, minor, address, max_size, None)
    if data.startswith(b"_SM_") and len(data) >= 0x1F and data[0x10:0x15] == b"_DMI_":
        major, minor = data[0x06], data[0x07]
        length, address, count = struct.unpack_from("<HIH", data, 0x16)
        return EntryPoint(f"{major}.{minor}", major, minor, address, length, count)
    if data.startswith(b"_DMI_") and len(data) >= 0x0F:
        length, address, count, bcd = struct.unpack_from("<HIHB", data, 0x06)
        major, minor = bcd >> 4, bcd & 0x0F
        return EntryPoint(f"{major}.{minor}", major, minor, address, length, count)
    raise SmbiosError("not an SMBIOS entry point (no _SM3_, _SM_ or _DMI_ anchor)")


def split_dump(data: bytes) -> tuple[bytes, bytes]:
    """Split a `dmidecode --dump-bin` file into (entry point, table).

    The file holds the entry point at offset 0 with its table address rewritten to the offset of the
    table inside the file (32).
    """
    entry = parse_entry_point(data)
    start = entry.table_address
    if start >= len(data):
        raise SmbiosError(f"table address {start:#x} lies beyond the end of the dump ({len(data)} bytes)")
    return data[:32], data[start : start + entry.table_length]


@dataclass(frozen=True)
class Structure:
    type: int
    handle: int
    data: bytes  # the formatted area, header included (offsets as in the spec)
    strings: tuple[str, ...]

    def byte(self, offset: int) -> int | None:
        return self.data[offset] if offset < len(self.data) else None

    def word(self, offset: int) -> int | None:
        return struct.unpack_from("<H", self.data, offset)[0] if offset + 2 <= len(self.data) else None

    def dword(self, offset: int) -> int | None:
        return struct.unpack_from("<I", self.data, offset)[0] if offset + 4 <= len(self.data) else None

    def qword(self, offset: int) -> int | None:
        return struct.unpack_from("<Q", self.data, offset)[0] if offset + 8 <= len(self.data) else None

    def string(self, offset: int) -> str | None:
        index = self.byte(offset)
        if not index or index > len(self.strings):
            return None
        return clean_string(self.strings[index - 1])


def walk_structures(table: bytes, count: int | None = None) -> list[Structure]:
    """Split a table into structures; stops at the end-of-table structure (type 127) or a broken length."""
    structures: list[Structure] = []
    offset = 0
    while offset + 4 <= len(table) and (count is None or len(structures) < count):
        stype, length, handle = struct.unpack_from("<BBH", table, offset)
        if length < 4 or offset + length > len(table):
            break  # a broken structure: what follows cannot be located
        end = table.find(b"\0\0", offset + length)
        if end < 0:
            break
        raw_strings = table[offset + length : end]
        strings = tuple(s.decode("latin-1") for s in raw_strings.split(b"\0")) if raw_strings else ()
        structures.append(Structure(stype, handle, table[offset : offset + length], strings))
        offset = end + 2
        if stype == 127:
            break
    return structures


# -- decoders per type -----------------------------------------------------------------------------


def _uuid(s: Structure, major: int, minor: int) -> str | None:
    raw = s.data[0x08:0x18]
    if len(raw) < 16 or raw == b"\0" * 16 or raw == b"\xff" * 16:
        return None
    if (major, minor) >= (2, 6):  # the first three fields are little-endian from SMBIOS 2.6 on
        raw = raw[3::-1] + raw[5:3:-1] + raw[7:5:-1] + raw[8:]
    h = raw.hex().upper()
    return f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _bios(s: Structure) -> BiosRecord:
    revision = None
    major, minor = s.byte(0x14), s.byte(0x15)
    if len(s.data) >= 0x18 and major is not None and minor is not None and major != 0xFF and minor != 0xFF:
        revision = f"{major}.{minor}"
    return BiosRecord(s.string(0x04), s.string(0x05), s.string(0x08), revision)


def _system(s: Structure, major: int, minor: int) -> SystemRecord:
    uuid = _uuid(s, major, minor) if len(s.data) >= 0x19 else None
    sku = s.string(0x19) if len(s.data) >= 0x1B else None
    family = s.string(0x1A) if len(s.data) >= 0x1B else None
    return SystemRecord(s.string(0x04), s.string(0x05), s.string(0x06), s.string(0x07), uuid, sku, family)


def _board(s: Structure) -> BoardRecord:
    return BoardRecord(s.string(0x04), s.string(0x05), s.string(0x06), s.string(0x07))


def _chassis(s: Structure) -> ChassisRecord:
    code = s.byte(0x05) or 0
    return ChassisRecord(
        s.string(0x04), _lookup(CHASSIS_TYPES, code & 0x7F), s.string(0x06), s.string(0x07), s.string(0x08)
    )


def _count(s: Structure, short: int, long: int) -> int | None:
    value = s.byte(short)
    if not value:
        return None
    if value == 0xFF and len(s.data) >= long + 2:
        return s.word(long) or None
    return value


def _processor(s: Structure) -> ProcessorRecord:
    status = s.byte(0x18) or 0
    populated = bool(status & 0x40)
    cores = enabled = threads = None
    if len(s.data) >= 0x28:
        cores, enabled, threads = _count(s, 0x23, 0x2A), _count(s, 0x24, 0x2C), _count(s, 0x25, 0x2E)
    return ProcessorRecord(
        handle=s.handle,
        socket=s.string(0x04),
        manufacturer=s.string(0x07),
        version=s.string(0x10),
        populated=populated,
        status=PROCESSOR_STATUS.get(status & 0x07) if populated else None,
        max_speed_mhz=s.word(0x14) or None,
        current_speed_mhz=s.word(0x16) or None,
        core_count=cores,
        core_enabled=enabled,
        thread_count=threads,
    )


def _slot(s: Structure) -> SlotRecord:
    bus_address = None
    if len(s.data) >= 0x11:
        segment, bus, devfn = s.word(0x0D), s.byte(0x0F), s.byte(0x10)
        if not (segment == 0xFFFF and bus == 0xFF and devfn == 0xFF):
            bus_address = f"{segment:04x}:{bus:02x}:{devfn >> 3:02x}.{devfn & 7:x}"
    return SlotRecord(
        handle=s.handle,
        designation=s.string(0x04),
        type=slot_type_name(s.byte(0x06) or 0, s.byte(0x05) or 0),
        usage=_lookup(SLOT_USAGE, s.byte(0x07) or 0),
        bus_address=bus_address,
    )


def _memory_array(s: Structure) -> MemoryArrayRecord:
    location_code = s.byte(0x04) or 0
    location = (_lookup(ARRAY_LOCATIONS_A0, location_code, 0xA0) if location_code >= 0xA0
                else _lookup(ARRAY_LOCATIONS, location_code))
    capacity_kib = s.dword(0x07)
    if capacity_kib == 0x80000000:
        capacity = s.qword(0x0F) if len(s.data) >= 0x17 else None
    else:
        capacity = capacity_kib * 1024 if capacity_kib is not None else None
    return MemoryArrayRecord(
        handle=s.handle,
        location=location,
        use=_lookup(ARRAY_USES, s.byte(0x05) or 0),
        ecc=_lookup(ECC_TYPES, s.byte(0x06) or 0),
        max_capacity_bytes=capacity,
        device_count=s.word(0x0D),
    )


def _memory_size(s: Structure) -> int | None:
    code = s.word(0x0C)
    if code is None or code == 0xFFFF:
        return None
    if code == 0x7FFF and len(s.data) >= 0x20:
        return ((s.dword(0x1C) or 0) & 0x7FFFFFFF) * 1024**2
    if code & 0x8000:
        return (code & 0x7FFF) * 1024
    return code * 1024**2


def _speed(s: Structure, offset: int, extended: int) -> int | None:
    code = s.word(offset)
    if code == 0xFFFF:
        return (s.dword(extended) or None) if len(s.data) >= 0x5C else None
    return code or None


def _width(code: int | None) -> int | None:
    return None if code in (None, 0, 0xFFFF) else code


def blank_empty_slot(device: MemoryDeviceRecord) -> MemoryDeviceRecord:
    """An empty slot has no module: firmware fills its identity with placeholders ("NO DIMM", "Dimm1_PartNum")
    and dmidecode 3.4+ no longer prints them, so they are dropped."""
    if device.size_bytes != 0:
        return device
    return replace(device, speed_mts=None, configured_speed_mts=None, rank=None, manufacturer=None, serial=None,
                   part_number=None)


def _memory_device(s: Structure) -> MemoryDeviceRecord:
    n = len(s.data)
    array_handle = s.word(0x04)
    rank = ((s.byte(0x1B) or 0) & 0x0F) or None if n >= 0x1C else None
    return blank_empty_slot(MemoryDeviceRecord(
        handle=s.handle,
        array_handle=None if array_handle in (None, 0xFFFE) else array_handle,
        locator=s.string(0x10),
        bank_locator=s.string(0x11),
        size_bytes=_memory_size(s),
        form_factor=_lookup(FORM_FACTORS, s.byte(0x0E) or 0),
        type=_lookup(MEMORY_TYPES, s.byte(0x12) or 0),
        type_detail=type_detail_name(s.word(0x13) or 0) if n >= 0x15 else None,
        speed_mts=_speed(s, 0x15, 0x54) if n >= 0x17 else None,
        configured_speed_mts=_speed(s, 0x20, 0x58) if n >= 0x22 else None,
        rank=rank,
        manufacturer=s.string(0x17) if n >= 0x1B else None,
        serial=s.string(0x18) if n >= 0x1B else None,
        part_number=s.string(0x1A) if n >= 0x1B else None,
        total_width_bits=_width(s.word(0x08)),
        data_width_bits=_width(s.word(0x0A)),
    ))


def _memory_mapped(s: Structure) -> MemoryMappedRecord | None:
    start_kib, end_kib = s.dword(0x04), s.dword(0x08)
    if start_kib is None or end_kib is None:
        return None
    if start_kib == 0xFFFFFFFF and len(s.data) >= 0x23:  # SMBIOS 2.7: the extended byte addresses
        start, end = s.qword(0x13) or 0, s.qword(0x1B) or 0
    else:
        start, end = start_kib * 1024, (end_kib + 1) * 1024 - 1
    device, array = s.word(0x0C), s.word(0x0E)
    row, position, depth = s.byte(0x10), s.byte(0x11), s.byte(0x12)
    return MemoryMappedRecord(  # 0xFF is "Unknown" and 0 "not interleaved": None, as dmidecode leaves them out
        handle=s.handle, start=start, end=end,
        device_handle=None if device in (None, 0xFFFE, 0xFFFF) else device,
        array_mapped_handle=None if array in (None, 0xFFFE, 0xFFFF) else array,
        partition_row=None if row in (None, 0xFF) else row,
        interleave_position=None if position in (None, 0, 0xFF) else position,
        interleaved_depth=None if depth in (None, 0, 0xFF) else depth)


HOST_INTERFACE_TYPES = {0x02: "KCS: Keyboard Controller Style", 0x03: "8250 UART Register Compatible",
                        0x04: "16450 UART Register Compatible", 0x05: "16550/16550A UART Register Compatible",
                        0x06: "16650/16650A UART Register Compatible", 0x07: "16750/16750A UART Register Compatible",
                        0x08: "16850/16850A UART Register Compatible", 0x40: "Network"}
HOST_DEVICE_TYPES = {0x02: "USB", 0x03: "PCI/PCIe", 0x04: "USB v2", 0x05: "PCI/PCIe v2"}
IP_ASSIGNMENT = ("Unknown", "Static", "DHCP", "AutoConf", "Host Selected")


def _ip(raw: bytes, fmt: int) -> str | None:
    import ipaddress

    if fmt == 1 and len(raw) >= 4:
        return str(ipaddress.IPv4Address(raw[:4]))
    if fmt == 2 and len(raw) >= 16:
        return str(ipaddress.IPv6Address(raw[:16]))
    return None


def _redfish_over_ip(data: bytes) -> RedfishOverIp | None:
    """DSP0270 8.4.1, with dmidecode's offsets (dmi_parse_protocol_record); None when too short."""
    if len(data) < 91:
        return None
    raw = data[0:16]
    uuid = None
    if raw not in (b"\0" * 16, b"\xff" * 16):
        raw = raw[3::-1] + raw[5:3:-1] + raw[7:5:-1] + raw[8:]
        h = raw.hex()
        uuid = f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
    host_assign, host_fmt = data[16], data[17]
    service_assign, service_fmt = data[50], data[51]
    static_host = host_assign in (1, 3)
    static_service = service_assign in (1, 3)
    name_len = data[90]
    hostname = data[91:91 + name_len].decode("latin-1").rstrip("\0") if 91 + name_len <= len(data) else None
    return RedfishOverIp(
        service_uuid=uuid,
        host_ip_assignment=_lookup(IP_ASSIGNMENT, host_assign, 0),
        host_ip=_ip(data[18:34], host_fmt) if static_host else None,
        host_mask=_ip(data[34:50], host_fmt) if static_host else None,
        service_discovery=_lookup(IP_ASSIGNMENT, service_assign, 0),
        service_ip=_ip(data[52:68], service_fmt) if static_service else None,
        service_mask=_ip(data[68:84], service_fmt) if static_service else None,
        service_port=struct.unpack_from("<H", data, 84)[0] if static_service else None,
        service_vlan=struct.unpack_from("<I", data, 86)[0] if static_service else None,
        service_hostname=clean_string(hostname),
    )


def _host_interface(s: Structure) -> HostInterfaceRecord | None:
    """Type 42 with the network interface descriptors of DSP0270 8.3 (dmidecode's dmi_parse_controller_structure)."""
    data = s.data
    if len(data) < 0x0B:
        return None
    kind, length = data[0x04], data[0x05]
    if 0x06 + length > len(data):
        return None
    device_type = usb_id = pci_id = mac = None
    bootstrapping = False
    if kind == 0x40 and length:
        code, desc = data[0x06], data[0x07:0x06 + length]
        device_type = HOST_DEVICE_TYPES.get(code, "OEM" if code >= 0x80 else None)

        def word(offset: int) -> int:
            return struct.unpack_from("<H", desc, offset)[0]

        if code == 0x02 and length >= 5:
            usb_id = f"{word(0):04x}:{word(2):04x}"
        elif code == 0x03 and length >= 9:
            pci_id = f"{word(0):04x}:{word(2):04x}"
        elif code == 0x04 and length >= 0x0D:
            usb_id = f"{word(1):04x}:{word(3):04x}"
            mac = ":".join(f"{b:02x}" for b in desc[6:12])
            bootstrapping = length >= 0x11 and bool(word(0x0C) & 1)
        elif code == 0x05 and length >= 0x14:
            pci_id = f"{word(1):04x}:{word(3):04x}"
            mac = ":".join(f"{b:02x}" for b in desc[9:15])
            bootstrapping = length >= 0x18 and bool(word(0x13) & 1)
    redfish: list[RedfishOverIp] = []
    protocols: list[int] = []
    offset = 0x06 + length
    count = data[offset] if offset < len(data) else 0
    offset += 1
    for _ in range(count):
        if offset + 2 > len(data) or offset + 2 + data[offset + 1] > len(data):
            break  # a record that overruns the structure: what follows cannot be trusted
        rid, rlen = data[offset], data[offset + 1]
        protocols.append(rid)
        if rid == 0x04:
            record = _redfish_over_ip(data[offset + 2 : offset + 2 + rlen])
            if record is not None:
                redfish.append(record)
        offset += 2 + rlen
    return HostInterfaceRecord(
        handle=s.handle, interface_type=HOST_INTERFACE_TYPES.get(kind, f"OEM {kind:#04x}" if kind >= 0xF0 else
                                                                 f"unknown {kind:#04x}"),
        device_type=device_type, usb_id=usb_id, pci_id=pci_id, mac=mac, credential_bootstrapping=bootstrapping,
        redfish=tuple(redfish), protocols=tuple(protocols))


def decode(structures: list[Structure], version: str | None, source: str, major: int = 0, minor: int = 0) -> Smbios:
    """Turn walked structures into records (first instance of types 0-3; every instance of 4, 9, 16, 17, 20, 42)."""
    first: dict[int, Structure] = {}
    for s in structures:
        first.setdefault(s.type, s)
    return Smbios(
        version=version,
        source=source,
        bios=_bios(first[0]) if 0 in first else None,
        system=_system(first[1], major, minor) if 1 in first else None,
        board=_board(first[2]) if 2 in first else None,
        chassis=_chassis(first[3]) if 3 in first else None,
        processors=tuple(_processor(s) for s in structures if s.type == 4),
        slots=tuple(_slot(s) for s in structures if s.type == 9),
        memory_arrays=tuple(_memory_array(s) for s in structures if s.type == 16),
        memory_devices=tuple(_memory_device(s) for s in structures if s.type == 17),
        structure_count=len(structures),
        memory_mapped=tuple(r for r in (_memory_mapped(s) for s in structures if s.type == 20) if r is not None),
        host_interfaces=tuple(r for r in (_host_interface(s) for s in structures if s.type == 42) if r is not None),
    )


def parse_tables(entry_point: bytes, table: bytes, source: str = "sysfs") -> Smbios:
    entry = parse_entry_point(entry_point)
    structures = walk_structures(table, entry.structure_count)
    return decode(structures, entry.version, source, entry.major, entry.minor)


def parse_dump(data: bytes) -> Smbios:
    """Parse a `dmidecode --dump-bin` file."""
    entry_point, table = split_dump(data)
    return parse_tables(entry_point, table, source="dump-bin")


def read_host_tables(host: Host) -> tuple[Smbios | None, str | None]:
    """The host's SMBIOS tables from sysfs, or (None, why not)."""
    if not host.exists(TABLE_PATH):
        if not host.live:
            why = "not in the captured tree"
        elif host.exists("/sys/firmware/dmi"):
            why = "the kernel does not export the tables"
        else:
            why = "the firmware gave the kernel no SMBIOS tables"
        return None, f"SMBIOS tables not readable: {TABLE_PATH} absent ({why})"
    entry_point = host.read_bytes(ENTRY_POINT_PATH)
    table = host.read_bytes(TABLE_PATH)
    if entry_point is None or table is None:
        return None, f"SMBIOS tables not readable: {TABLE_PATH} exists but cannot be read (root only)"
    try:
        return parse_tables(entry_point, table, source="sysfs"), None
    except SmbiosError as exc:
        return None, f"SMBIOS tables not readable: {exc}"
