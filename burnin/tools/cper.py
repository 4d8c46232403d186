"""ACPI BERT and UEFI CPER: the boot error records the firmware kept from the previous boot, decoded. No judging.

Formats:
- the BERT table (/sys/firmware/acpi/tables/BERT, ACPI 6.5 section 18.3.1): the 36-byte ACPI header, then the
  boot error region's length (u32) and physical address (u64). The region itself is what the kernel exposes as
  /sys/firmware/acpi/tables/data/BERT.
- the region holds Generic Error Status Blocks one after another (ACPI 6.5 table 18.11): block status u32 (bits
  0-3: uncorrectable/correctable valid, multiple; bits 4-13: the number of entries; 0 means no record), raw data
  offset u32, raw data length u32, data length u32, error severity u32 (0 recoverable, 1 fatal, 2 corrected,
  3 none), then `data length` bytes of Generic Error Data Entries (table 18.12): section type GUID, error severity
  u32, revision u16, validation bits u8 (0 FRU id, 1 FRU text, 2 timestamp), flags u8, error data length u32,
  FRU id (16), FRU text (20), and from revision 0x300 on an 8-byte timestamp; then the section's own bytes.
- the sections (UEFI 2.10 appendix N.2): platform memory (N.2.5), processor generic (N.2.4.1), IA32/x64
  (N.2.4.2), ARM (N.2.4.4), PCI Express (N.2.7), firmware error record reference (N.2.10). The same offsets as
  the kernel's include/linux/cper.h, so a decoded field reads like the kernel's own print (drivers/firmware/efi/
  cper.c, cper-x86.c, cper-arm.c).

Every structure is bounds-checked: a truncated or garbled region decodes as far as it is whole and says where it
stopped (`problems`), never raises.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = {0: "recoverable", 1: "fatal", 2: "corrected", 3: "info"}

SECTION_TYPES = {
    "a5bc1114-6f64-4ede-b863-3e83ed7c83b1": "memory error",
    "61ec04fc-48e6-d813-25c9-8daa44750b12": "memory error (2)",
    "9876ccad-47b4-4bdb-b65e-16f193c4f3db": "processor error",
    "dc3ea0b0-a144-4797-b95b-53fa242b6e1d": "IA32/X64 processor error",
    "e429faf1-3cb7-11d4-bca7-0080c73c8881": "IA64 processor error",
    "e19e3d16-bc11-11e4-9caa-c2051d5d46b0": "ARM processor error",
    "d995e954-bbc1-430f-ad91-b44dcb3c6f35": "PCIe error",
    "c5753963-3b84-4095-bf78-eddad3f9c9dd": "PCI/PCI-X bus error",
    "eb5e4685-ca66-4769-b6a2-26068b001326": "PCI component error",
    "81212a96-09ed-4996-9471-8d729c8e69ed": "Firmware Error Record Reference",
    "5b51fef7-c79d-4434-8f1b-aa62de3e2c64": "DMAr generic error",
    "80b9efb4-52b5-4de3-a777-68784b771048": "CXL protocol error",
}
MEMORY_TYPES = ("a5bc1114-6f64-4ede-b863-3e83ed7c83b1", "61ec04fc-48e6-d813-25c9-8daa44750b12")
# Platform memory error types (UEFI N.2.5, the kernel's cper_mem_err_type_strs).
MEMORY_ERROR_TYPES = (
    "unknown", "no error", "single-bit ECC", "multi-bit ECC", "single-symbol chipkill ECC",
    "multi-symbol chipkill ECC", "master abort", "target abort", "parity error", "watchdog timeout",
    "invalid address", "mirror Broken", "memory sparing", "scrub corrected error", "scrub uncorrected error",
    "physical memory map-out event",
)
IA32_ERROR_STRUCTURES = {
    "a55701f5-e3ef-43de-ac72-249b573fad2c": "cache error",
    "fc06b535-5e1f-4562-9f25-0a3b9adb63c3": "TLB error",
    "1cf3f8b3-c5b1-49a2-aa59-5eef92ffa63c": "bus error",
    "48ab7f57-dc34-4f6c-a7d3-b0b5b0a74314": "micro-architectural error",
}
PROCESSOR_ERROR_TYPES = ((0x01, "cache error"), (0x02, "TLB error"), (0x04, "bus error"),
                         (0x08, "micro-architectural error"))

GESB_SIZE = 20
GEDE_SIZE = 64  # without the timestamp that revision 0x300 adds
TIMESTAMP_SIZE = 8
MAX_RECORDS = 256  # a region of garbage must not become a million records


@dataclass(frozen=True)
class BertTable:
    region_length: int
    region_address: int
    oem_id: str
    oem_table_id: str
    revision: int


@dataclass
class Section:
    type_guid: str
    type_name: str
    severity: str
    revision: int
    fru_id: str | None
    fru_text: str | None
    timestamp: str | None  # "2026-03-20 13:13:08" (and " (imprecise)" when the record says so)
    length: int
    fields: dict[str, Any] = field(default_factory=dict)  # what the section decodes to (memory: node, address...)


@dataclass
class Record:
    """One Generic Error Status Block: the severity of the whole event, and its sections."""

    offset: int
    block_status: int
    severity: str
    data_length: int
    sections: list[Section] = field(default_factory=list)


@dataclass
class Region:
    records: list[Record] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # where decoding stopped, and why
    length: int = 0


# -- the BERT table ------------------------------------------------------------------------------
def parse_table(data: bytes) -> BertTable | None:
    """The BERT table's header and region pointer; None when it is not a BERT table or is too short."""
    if len(data) < 48 or data[:4] != b"BERT":
        return None
    length, revision = struct.unpack_from("<IB", data, 4)
    if length < 48:
        return None
    region_length, region_address = struct.unpack_from("<IQ", data, 36)
    return BertTable(region_length, region_address, _ascii(data[10:16]), _ascii(data[16:24]), revision)


# -- the error region -----------------------------------------------------------------------------
def parse_region(data: bytes) -> Region:
    """Every status block in the boot error region, in order. An all-zero block ends the list (no record)."""
    region = Region(length=len(data))
    offset = 0
    while offset + GESB_SIZE <= len(data) and len(region.records) < MAX_RECORDS:
        block_status, raw_offset, raw_length, data_length, severity = struct.unpack_from("<5I", data, offset)
        if block_status == 0 and data_length == 0:
            break  # the firmware wrote no (more) records
        if block_status == 0:
            # The kernel's bert.c stops here; some firmware leaves the status 0 over a whole record.
            region.problems.append(f"record at byte {offset} has block status 0 but {data_length} bytes of data "
                                   "(the kernel does not print such a record)")
        record = Record(offset, block_status, SEVERITIES.get(severity, f"unknown ({severity})"), data_length)
        region.records.append(record)
        end = offset + GESB_SIZE + data_length
        if end > len(data):
            region.problems.append(f"record at byte {offset} says {data_length} bytes of data, "
                                   f"only {len(data) - offset - GESB_SIZE} are there (truncated)")
        _parse_entries(data, offset + GESB_SIZE, min(end, len(data)), record, region.problems)
        # The kernel's cper_estatus_len: raw data (if any) follows the entries, or sits at raw_offset.
        block_len = GESB_SIZE + data_length + raw_length if not raw_offset else max(raw_offset + raw_length,
                                                                                    GESB_SIZE + data_length)
        if block_len <= 0:
            break
        offset += block_len
    return region


def _parse_entries(data: bytes, start: int, end: int, record: Record, problems: list[str]) -> None:
    pos = start
    while pos < end:
        if pos + GEDE_SIZE > end:
            problems.append(f"error data entry at byte {pos} is cut short ({end - pos} of {GEDE_SIZE} bytes)")
            return
        type_guid = _guid(data[pos:pos + 16])
        severity, revision, valid, _flags, length = struct.unpack_from("<IHBBI", data, pos + 16)
        fru_id = _guid(data[pos + 28:pos + 44]) if valid & 0x1 else None
        fru_text = _ascii(data[pos + 44:pos + 64]) if valid & 0x2 else None
        body = pos + GEDE_SIZE
        timestamp = None
        if revision >> 8 >= 3:
            if valid & 0x4:
                timestamp = format_timestamp(data[body:body + TIMESTAMP_SIZE])
            body += TIMESTAMP_SIZE
        section = Section(type_guid, SECTION_TYPES.get(type_guid, "unknown"),
                          SEVERITIES.get(severity, f"unknown ({severity})"), revision, fru_id, fru_text or None,
                          timestamp, length)
        payload = data[body:min(body + length, end)]
        if body + length > end:
            problems.append(f"{section.type_name} section at byte {pos} is cut short "
                            f"({len(payload)} of {length} bytes)")
        try:
            section.fields = decode_section(type_guid, payload)
        except struct.error:
            section.fields = {"undecoded": True}
        record.sections.append(section)
        if length == 0 and body == pos:
            return
        pos = body + length


def format_timestamp(raw: bytes) -> str | None:
    """The CPER timestamp (BCD: seconds, minutes, hours, flags, day, month, year, century); None when unset."""
    if len(raw) < 8 or not any(raw):
        return None
    sec, minute, hour, day, month, year, century = (_bcd(b) for b in raw[:3] + raw[4:8])
    flags = raw[3]
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and sec < 61):
        return None  # unset, or not a date
    text = f"{century:02d}{year:02d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{sec:02d}"
    return text if flags & 0x1 else text + " (imprecise)"


# -- sections ------------------------------------------------------------------------------------
def decode_section(type_guid: str, payload: bytes) -> dict[str, Any]:
    if type_guid in MEMORY_TYPES:
        return _memory(payload)
    if type_guid == "9876ccad-47b4-4bdb-b65e-16f193c4f3db":
        return _processor_generic(payload)
    if type_guid == "dc3ea0b0-a144-4797-b95b-53fa242b6e1d":
        return _ia32(payload)
    if type_guid == "e19e3d16-bc11-11e4-9caa-c2051d5d46b0":
        return _arm(payload)
    if type_guid == "d995e954-bbc1-430f-ad91-b44dcb3c6f35":
        return _pcie(payload)
    if type_guid == "81212a96-09ed-4996-9471-8d729c8e69ed" and len(payload) >= 16:
        # struct cper_fw_err_rec_ref: type u8, revision u8, reserved[6], identifier u64, identifier GUID (rev 1+)
        kind, revision = payload[0], payload[1]
        out: dict[str, Any] = {"record_type": {0: "IPF SAL", 1: "SOC firmware type 1 (CrashLog)",
                                               2: "SOC firmware type 2"}.get(kind, f"type {kind}"),
                               "record_identifier": f"0x{struct.unpack_from('<Q', payload, 8)[0]:x}"}
        if revision >= 1 and len(payload) >= 32:
            out["record_identifier_guid"] = _guid(payload[16:32])
        return out
    return {}


_MEMORY_FIELDS = (  # (validation bit, name, struct offset, format)
    (0, "error_status", 8, "Q"), (1, "physical_address", 16, "Q"), (2, "physical_address_mask", 24, "Q"),
    (3, "node", 32, "H"), (4, "card", 34, "H"), (5, "module", 36, "H"), (6, "bank", 38, "H"),
    (7, "device", 40, "H"), (8, "row", 42, "H"), (9, "column", 44, "H"), (10, "bit_position", 46, "H"),
    (15, "rank", 74, "H"), (16, "mem_array_handle", 76, "H"), (17, "module_handle", 78, "H"),
)


def _memory(p: bytes) -> dict[str, Any]:
    """Platform memory error (struct cper_sec_mem_err): 80 bytes."""
    if len(p) < 73:
        return {"undecoded": True}
    valid = struct.unpack_from("<Q", p, 0)[0]
    out: dict[str, Any] = {}
    for bit, name, offset, fmt in _MEMORY_FIELDS:
        if valid & (1 << bit) and offset + struct.calcsize(fmt) <= len(p):
            out[name] = struct.unpack_from("<" + fmt, p, offset)[0]
    if valid & (1 << 14):
        kind = p[72]
        out["error_type"] = MEMORY_ERROR_TYPES[kind] if kind < len(MEMORY_ERROR_TYPES) else f"type {kind}"
    for key in ("physical_address", "physical_address_mask", "error_status"):
        if key in out:
            out[key] = f"0x{out[key]:016x}"
    return out


def _processor_generic(p: bytes) -> dict[str, Any]:
    """Processor generic error (struct cper_sec_proc_generic)."""
    if len(p) < 16:
        return {"undecoded": True}
    valid = struct.unpack_from("<Q", p, 0)[0]
    out: dict[str, Any] = {}
    if valid & (1 << 2):
        kinds = [name for bit, name in PROCESSOR_ERROR_TYPES if p[10] & bit]
        out["error_type"] = ", ".join(kinds) or f"0x{p[10]:02x}"
    if valid & (1 << 8) and len(p) >= 160:
        out["processor_id"] = f"0x{struct.unpack_from('<Q', p, 152)[0]:x}"
    if valid & (1 << 9) and len(p) >= 168:
        out["target_address"] = f"0x{struct.unpack_from('<Q', p, 160)[0]:016x}"
    if valid & (1 << 7) and len(p) >= 152:
        out["cpu_brand"] = _ascii(p[24:152]) or None
    return out


def _ia32(p: bytes) -> dict[str, Any]:
    """IA32/X64 processor error (struct cper_sec_proc_ia): local APIC id and the error structures' kinds."""
    if len(p) < 64:
        return {"undecoded": True}
    valid = struct.unpack_from("<Q", p, 0)[0]
    out: dict[str, Any] = {}
    if valid & 0x1:
        out["local_apic_id"] = f"0x{struct.unpack_from('<Q', p, 8)[0]:x}"
    count = (valid >> 2) & 0x3F
    kinds = []
    for i in range(min(count, 16)):
        at = 64 + i * 64
        if at + 16 > len(p):
            break
        kinds.append(IA32_ERROR_STRUCTURES.get(_guid(p[at:at + 16]), "unknown error structure"))
    if kinds:
        out["error_structures"] = kinds
    return out


def _arm(p: bytes) -> dict[str, Any]:
    """ARM processor error (struct cper_sec_proc_arm): MPIDR and MIDR."""
    if len(p) < 40:
        return {"undecoded": True}
    valid, errors = struct.unpack_from("<IH", p, 0)
    out: dict[str, Any] = {"error_info_count": errors}
    if valid & 0x1:
        out["mpidr"] = f"0x{struct.unpack_from('<Q', p, 16)[0]:016x}"
    out["midr"] = f"0x{struct.unpack_from('<Q', p, 24)[0]:016x}"
    return out


def _pcie(p: bytes) -> dict[str, Any]:
    """PCI Express error (struct cper_sec_pcie): the device's address and ids."""
    if len(p) < 40:
        return {"undecoded": True}
    valid = struct.unpack_from("<Q", p, 0)[0]
    out: dict[str, Any] = {}
    if valid & 0x1:
        port = struct.unpack_from("<I", p, 8)[0]
        out["port_type"] = port
    if valid & (1 << 3):
        vendor, device = struct.unpack_from("<HH", p, 24)
        function, dev, segment, bus = p[31], p[32], struct.unpack_from("<H", p, 33)[0], p[35]
        out["pci_address"] = f"{segment:04x}:{bus:02x}:{dev:02x}.{function:x}"
        out["vendor_id"], out["device_id"] = f"0x{vendor:04x}", f"0x{device:04x}"
        slot = struct.unpack_from("<H", p, 37)[0] >> 3
        if slot:
            out["slot"] = slot
    return out


# -- helpers -------------------------------------------------------------------------------------
def _guid(raw: bytes) -> str:
    return str(uuid.UUID(bytes_le=bytes(raw[:16]).ljust(16, b"\0")))


def _ascii(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("ascii", errors="replace").strip()


def _bcd(byte: int) -> int:
    return (byte >> 4) * 10 + (byte & 0x0F)


def parse_hexdump(text: str) -> bytes:
    """Bytes from `hexdump -C` ("00000010  01 00 ...  |....|") or acpidump text ("  0010: 57 48 45 41 ...  WHEA");
    a "*" line repeats the line before it up to the next offset, as hexdump writes runs of equal lines."""
    out = bytearray()
    last = b""
    star = False
    for line in text.splitlines():
        line = line.split("|", 1)[0].strip()
        if line == "*":
            star = True
            continue
        tokens = line.split()
        if not tokens:
            continue
        try:
            offset = int(tokens[0].rstrip(":"), 16)
        except ValueError:
            continue
        chunk = bytearray()
        for token in tokens[1:17]:
            if len(token) != 2:
                break
            try:
                chunk.append(int(token, 16))
            except ValueError:
                break
        if star and last:
            while len(out) < offset:
                out += last
        star = False
        del out[offset:]
        out += bytes(offset - len(out))
        out += chunk
        if chunk:
            last = bytes(chunk)
    return bytes(out)
