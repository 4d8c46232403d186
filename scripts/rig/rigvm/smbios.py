"""Raw SMBIOS type 16 (memory array) and type 17 (memory device) structures for QEMU's `-smbios file=`.

QEMU on its own emits one type-17 device per 16 GiB of guest memory with fixed fields. Given blobs of these
types it emits ours instead (and still its type 19, which refers to array handle 0x1000, reused here), so the
guest sees a real server's slot list: several slots per channel, empty ones among them, ECC widths, ranks,
part numbers. Layouts follow DMTF DSP0134 3.x (type 17 as of SMBIOS 2.8: 0x28 bytes).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

ARRAY_HANDLE = 0x1000
DEVICE_HANDLE_BASE = 0x1100
DDR4, UNKNOWN_TYPE = 0x1A, 0x02
FORM_DIMM = 0x09
DETAIL_SYNC_REGISTERED, DETAIL_UNKNOWN = 0x2080, 0x0004
MULTI_BIT_ECC = 0x06


@dataclass(frozen=True)
class DimmSlot:
    locator: str  # "CPU1_DIMM_A1"
    bank: str  # "P0_Node0_Channel0_Dimm0"
    size_mb: int  # 0: an empty slot ("No Module Installed")
    manufacturer: str = ""
    serial: str = ""
    part: str = ""
    speed_mts: int = 0
    configured_speed_mts: int = 0
    rank: int = 2

    @property
    def populated(self) -> bool:
        return self.size_mb > 0


def _strings(values: list[str]) -> bytes:
    if not values:
        return b"\0\0"
    return b"".join(v.encode("ascii") + b"\0" for v in values) + b"\0"


def type16(slot_count: int, max_capacity_kb: int) -> bytes:
    """Physical Memory Array: system board, system memory, multi-bit ECC."""
    body = struct.pack("<BBHBBBIHH", 16, 0x17, ARRAY_HANDLE, 0x03, 0x03, MULTI_BIT_ECC,
                       min(max_capacity_kb, 0x7FFFFFFF), 0xFFFE, slot_count)
    body += struct.pack("<Q", 0)  # extended maximum capacity: unused below 2 TiB
    assert len(body) == 0x17
    return body + _strings([])


def type17(index: int, slot: DimmSlot) -> bytes:
    """Memory Device: one slot, populated or empty."""
    filled = slot.populated
    strings = [slot.locator, slot.bank] + ([slot.manufacturer, slot.serial, "Not Specified", slot.part] if filled else [])
    size = slot.size_mb if slot.size_mb < 0x7FFF else 0x7FFF
    body = struct.pack(
        "<BBHHHHHHBBBBBH", 17, 0x28, DEVICE_HANDLE_BASE + index, ARRAY_HANDLE, 0xFFFE,
        72 if filled else 0xFFFF, 64 if filled else 0xFFFF,  # total and data width: ECC DIMMs are 72/64 bits
        size, FORM_DIMM, 0, 1, 2,  # set none; locator = string 1, bank locator = string 2
        DDR4 if filled else UNKNOWN_TYPE, DETAIL_SYNC_REGISTERED if filled else DETAIL_UNKNOWN)
    body += struct.pack("<H", slot.speed_mts if filled else 0)
    body += struct.pack("<BBBB", *((3, 4, 5, 6) if filled else (0, 0, 0, 0)))  # manufacturer, serial, asset, part
    body += struct.pack("<B", slot.rank if filled else 0)
    body += struct.pack("<I", slot.size_mb if slot.size_mb >= 0x7FFF else 0)  # extended size
    configured = slot.configured_speed_mts or slot.speed_mts
    body += struct.pack("<HHHH", configured if filled else 0, 1200 if filled else 0, 1200 if filled else 0,
                        1200 if filled else 0)  # configured speed; min, max, configured voltage in mV
    assert len(body) == 0x28, len(body)
    return body + _strings(strings)


def write_blobs(folder: Path, slots: list[DimmSlot]) -> list[Path]:
    """One file per structure (QEMU takes one structure per -smbios file=); returns them in table order."""
    folder.mkdir(parents=True, exist_ok=True)
    total_kb = sum(s.size_mb for s in slots) * 1024
    paths = [folder / "t16.bin"]
    paths[0].write_bytes(type16(len(slots), max(total_kb * 2, 1 << 20)))
    for i, slot in enumerate(slots):
        path = folder / f"t17-{i:02d}.bin"
        path.write_bytes(type17(i, slot))
        paths.append(path)
    return paths
