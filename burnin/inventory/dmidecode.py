"""`dmidecode` text dumps (what a seller sends before you travel) parsed into the SMBIOS records.

Handles the output of dmidecode 2.x and 3.x: "Handle 0x…, DMI type N, L bytes", a title line, then tab-indented
"Key: Value" lines (list values on deeper tabs). Values are turned into the same records, units and words as
`burnin.inventory.smbios` gets from the binary tables ("16 GB" and "16384 MB" both become 17179869184 bytes,
"1600 MHz" and "1600 MT/s" both 1600).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from burnin.inventory.smbios import (
    BiosRecord,
    BoardRecord,
    ChassisRecord,
    MemoryArrayRecord,
    MemoryDeviceRecord,
    MemoryMappedRecord,
    HostInterfaceRecord,
    RedfishOverIp,
    ProcessorRecord,
    SlotRecord,
    Smbios,
    SmbiosError,
    SystemRecord,
    blank_empty_slot,
    clean_string,
)

_HANDLE = re.compile(r"^Handle 0x([0-9A-Fa-f]+), DMI type (\d+), (\d+) bytes")
_VERSION = re.compile(r"^SMBIOS (\d+(?:\.\d+)+) present")
_SIZE = re.compile(r"^(\d+)\s*(bytes|kB|KB|MB|GB|TB)$")
_UNITS = {"bytes": 1, "kB": 1024, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_NUMBER_WITH_UNIT = re.compile(r"^(\d+)\s*(MT/s|MHz|bits)$")


@dataclass
class TextStructure:
    handle: int
    type: int
    title: str = ""
    values: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)


def split_structures(text: str) -> tuple[str | None, list[TextStructure]]:
    """The SMBIOS version line and the structures of a dmidecode text dump, undecoded."""
    version = None
    structures: list[TextStructure] = []
    current: TextStructure | None = None
    last_key: str | None = None
    for raw in text.splitlines():
        line = raw.rstrip("\r\n")
        if current is None or not line.startswith("\t"):
            match = _HANDLE.match(line)
            if match:
                current = TextStructure(int(match.group(1), 16), int(match.group(2)))
                structures.append(current)
                last_key = None
                continue
            vmatch = _VERSION.match(line)
            if vmatch:
                version = vmatch.group(1)
            if current is not None and line.strip() and not current.title:
                current.title = line.strip()
            elif not line.strip():
                current = None
            continue
        if line.startswith("\t\t"):
            if last_key is not None:
                current.lists.setdefault(last_key, []).append(line.strip())
            continue
        key, sep, value = line[1:].partition(":")
        if not sep:
            continue
        last_key = key.strip()
        current.values[last_key] = value.strip()
    return version, structures


def _text(s: TextStructure, key: str) -> str | None:
    return clean_string(s.values.get(key))


def _size(value: str | None) -> int | None:
    """"16 GB" -> bytes; "No Module Installed" -> 0; "Unknown"/absent -> None."""
    if value is None:
        return None
    value = value.strip()
    if value.startswith("No Module Installed"):
        return 0
    match = _SIZE.match(value)
    if not match:
        return None
    return int(match.group(1)) * _UNITS[match.group(2)]


def _number(value: str | None) -> int | None:
    """"2933 MT/s", "1600 MHz", "72 bits", "2" -> int; "Unknown"/absent -> None."""
    if value is None:
        return None
    value = value.strip()
    match = _NUMBER_WITH_UNIT.match(value)
    if match:
        return int(match.group(1)) or None
    return int(value) if value.isdecimal() and int(value) else None


def _handle(value: str | None) -> int | None:
    if value is None or not value.startswith("0x"):
        return None
    try:
        return int(value, 16)
    except ValueError:  # "0x" alone, "0xZZ": not a handle
        return None


def _bios(s: TextStructure) -> BiosRecord:
    return BiosRecord(_text(s, "Vendor"), _text(s, "Version"), _text(s, "Release Date"), _text(s, "BIOS Revision"))


def _uuid(value: str | None) -> str | None:
    if value is None or value in ("Not Present", "Not Settable"):
        return None
    return clean_string(value)


def _system(s: TextStructure) -> SystemRecord:
    return SystemRecord(
        _text(s, "Manufacturer"), _text(s, "Product Name"), _text(s, "Version"), _text(s, "Serial Number"),
        _uuid(s.values.get("UUID")), _text(s, "SKU Number"), _text(s, "Family"),
    )


def _board(s: TextStructure) -> BoardRecord:
    return BoardRecord(_text(s, "Manufacturer"), _text(s, "Product Name"), _text(s, "Version"),
                       _text(s, "Serial Number"))


def _chassis(s: TextStructure) -> ChassisRecord:
    return ChassisRecord(_text(s, "Manufacturer"), _text(s, "Type"), _text(s, "Version"),
                         _text(s, "Serial Number"), _text(s, "Asset Tag"))


def _processor(s: TextStructure) -> ProcessorRecord:
    status = s.values.get("Status", "")
    populated = status.startswith("Populated")
    return ProcessorRecord(
        handle=s.handle,
        socket=_text(s, "Socket Designation"),
        manufacturer=_text(s, "Manufacturer"),
        version=_text(s, "Version"),
        populated=populated,
        status=clean_string(status.partition(",")[2]) if populated else None,
        max_speed_mhz=_number(s.values.get("Max Speed")),
        current_speed_mhz=_number(s.values.get("Current Speed")),
        core_count=_number(s.values.get("Core Count")),
        core_enabled=_number(s.values.get("Core Enabled")),
        thread_count=_number(s.values.get("Thread Count")),
    )


def _slot(s: TextStructure) -> SlotRecord:
    return SlotRecord(
        handle=s.handle,
        designation=_text(s, "Designation"),
        type=_text(s, "Type"),
        usage=_text(s, "Current Usage"),
        bus_address=_text(s, "Bus Address"),
    )


def _memory_array(s: TextStructure) -> MemoryArrayRecord:
    return MemoryArrayRecord(
        handle=s.handle,
        location=_text(s, "Location"),
        use=_text(s, "Use"),
        ecc=_text(s, "Error Correction Type"),
        max_capacity_bytes=_size(s.values.get("Maximum Capacity")),
        device_count=_number(s.values.get("Number Of Devices")),
    )


def _memory_device(s: TextStructure) -> MemoryDeviceRecord:
    configured = s.values.get("Configured Memory Speed", s.values.get("Configured Clock Speed"))
    return blank_empty_slot(MemoryDeviceRecord(
        handle=s.handle,
        array_handle=_handle(s.values.get("Array Handle")),
        locator=_text(s, "Locator"),
        bank_locator=_text(s, "Bank Locator"),
        size_bytes=_size(s.values.get("Size")),
        form_factor=_text(s, "Form Factor"),
        type=_text(s, "Type"),
        type_detail=_text(s, "Type Detail"),
        speed_mts=_number(s.values.get("Speed")),
        configured_speed_mts=_number(configured),
        rank=_number(s.values.get("Rank")),
        manufacturer=_text(s, "Manufacturer"),
        serial=_text(s, "Serial Number"),
        part_number=_text(s, "Part Number"),
        total_width_bits=_number(s.values.get("Total Width")),
        data_width_bits=_number(s.values.get("Data Width")),
    ))


def _memory_mapped(s: TextStructure) -> MemoryMappedRecord | None:
    """Type 20: "Starting Address: 0x00400000000", "Ending Address: 0x007FFFFFFFF" (bytes, inclusive)."""
    try:
        start, end = int(s.values["Starting Address"], 16), int(s.values["Ending Address"], 16)
    except (KeyError, ValueError):
        return None

    def small(key: str) -> int | None:
        value = s.values.get(key, "")
        return int(value) if value.isdecimal() else None

    return MemoryMappedRecord(
        handle=s.handle, start=start, end=end, device_handle=_handle(s.values.get("Physical Device Handle")),
        array_mapped_handle=_handle(s.values.get("Memory Array Mapped Address Handle")),
        partition_row=small("Partition Row Position"), interleave_position=small("Interleave Position"),
        interleaved_depth=small("Interleaved Data Depth"))


def _host_interface(s: TextStructure) -> HostInterfaceRecord:
    """Type 42 as dmidecode prints it: the interface, its device and one "Redfish over IP" protocol record whose
    fields sit one tab deeper (dmidecode 3.x prints one record's fields after the other's heading)."""
    protocol = s.values.get("Protocol ID", "")
    fields = dict(item.partition(": ")[::2] for item in s.lists.get("Protocol ID", []))
    redfish: tuple[RedfishOverIp, ...] = ()
    if protocol.startswith("04"):
        def first(*keys: str) -> str | None:
            return next((fields[k] for k in keys if fields.get(k)), None)

        port, vlan = fields.get("Redfish Service Port", ""), fields.get("Redfish Service Vlan", "")
        redfish = (RedfishOverIp(
            service_uuid=clean_string(fields.get("Service UUID")),
            host_ip_assignment=fields.get("Host IP Assignment Type"),
            host_ip=first("IPv4 Address", "IPv6 Address"), host_mask=first("IPv4 Mask", "IPv6 Mask"),
            service_discovery=fields.get("Redfish Service IP Discovery Type"),
            service_ip=first("IPv4 Redfish Service Address", "IPv6 Redfish Service Address"),
            service_mask=first("IPv4 Redfish Service Mask", "IPv6 Redfish Service Mask"),
            service_port=int(port) if port.isdecimal() else None, service_vlan=int(vlan) if vlan.isdecimal() else None,
            service_hostname=clean_string(fields.get("Redfish Service Hostname"))),)
    usb = (s.values.get("idVendor"), s.values.get("idProduct"))
    pci = (s.values.get("VendorID"), s.values.get("DeviceID"))
    characteristics = s.lists.get("Device Characteristics", [])
    return HostInterfaceRecord(
        handle=s.handle, interface_type=s.values.get("Host Interface Type", "unknown"),
        device_type=clean_string(s.values.get("Device Type")),
        usb_id=f"{usb[0][2:]}:{usb[1][2:]}" if all(usb) else None,
        pci_id=f"{pci[0][2:]}:{pci[1][2:]}" if all(pci) else None,
        mac=s.values.get("MAC Address"),
        credential_bootstrapping=any("Credential bootstrapping via IPMI is supported" in c for c in characteristics),
        redfish=redfish, protocols=(int(protocol[:2]),) if protocol[:2].isdigit() else ())


def parse_dmidecode_text(text: str) -> Smbios:
    """Parse `dmidecode` output into the SMBIOS records. Raises SmbiosError if it is not dmidecode output."""
    version, structures = split_structures(text)
    if not structures:
        raise SmbiosError("not dmidecode output: no 'Handle 0x…, DMI type …' lines")
    first: dict[int, TextStructure] = {}
    for s in structures:
        first.setdefault(s.type, s)
    return Smbios(
        version=version,
        source="dmidecode-text",
        bios=_bios(first[0]) if 0 in first else None,
        system=_system(first[1]) if 1 in first else None,
        board=_board(first[2]) if 2 in first else None,
        chassis=_chassis(first[3]) if 3 in first else None,
        processors=tuple(_processor(s) for s in structures if s.type == 4),
        slots=tuple(_slot(s) for s in structures if s.type == 9),
        memory_arrays=tuple(_memory_array(s) for s in structures if s.type == 16),
        memory_devices=tuple(_memory_device(s) for s in structures if s.type == 17),
        structure_count=len(structures),
        memory_mapped=tuple(r for r in (_memory_mapped(s) for s in structures if s.type == 20) if r is not None),
        host_interfaces=tuple(_host_interface(s) for s in structures if s.type == 42),
    )
