"""SMBIOS: the binary table walk and the dmidecode text parser give the same records.

The binary tables are built here from the records of real dmidecode dumps (a small SMBIOS encoder below), then
read back three ways: by burnin's binary parser, by `dmidecode --from-dump` (an independent decoder) whose text
burnin parses, and compared with the original dump.
"""

from __future__ import annotations

import dataclasses
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from burnin.inventory import smbios as sm
from burnin.inventory.dmidecode import parse_dmidecode_text
from burnin.inventory.smbios import Smbios, SmbiosError, parse_dump, parse_entry_point, split_dump, walk_structures

DUMPS = Path(__file__).parent / "data" / "dmidecode"
REAL_DUMPS = sorted(p for p in DUMPS.glob("*.dmidecode.txt") if "README" not in p.name)


# -- a small SMBIOS encoder: records -> binary structures (test-only) -------------------------------


class _Strings:
    def __init__(self):
        self.items: list[bytes] = []

    def add(self, value: str | None) -> int:
        if not value:
            return 0
        self.items.append(value.encode("latin-1"))
        return len(self.items)

    def blob(self) -> bytes:
        return b"\0".join(self.items) + b"\0\0" if self.items else b"\0\0"


def _code(table: tuple, name: str | None, default: int = 0x02, first: int = 1) -> int:
    if name in table:
        return table.index(name) + first
    return default


def _structure(stype: int, handle: int, body: bytes, strings: _Strings) -> bytes:
    return struct.pack("<BBH", stype, 4 + len(body), handle) + body + strings.blob()


def _uuid_bytes(uuid: str | None, major: int, minor: int) -> bytes:
    hexed = (uuid or "").replace("-", "")
    if len(hexed) != 32:
        return b"\xff" * 16
    raw = bytes.fromhex(hexed)
    if (major, minor) >= (2, 6):
        raw = raw[3::-1] + raw[5:3:-1] + raw[7:5:-1] + raw[8:]
    return raw


def _slot_codes(name: str | None) -> tuple[int, int]:
    for type_code in [*range(0x01, 0x29), *range(0xA0, 0xC7)]:
        for width in range(0x01, 0x0F):
            if sm.slot_type_name(width, type_code) == name:
                return width, type_code
    return 0x02, 0x02


def _detail_code(text: str | None) -> int:
    code, rest = 0, (text or "")
    while rest and rest != "None":
        name = next(n for n in sorted(sm.TYPE_DETAILS, key=len, reverse=True) if rest.startswith(n))
        code |= 1 << (sm.TYPE_DETAILS.index(name) + 1)
        rest = rest[len(name):].strip()
    return code


def _memory_size(size: int | None) -> tuple[int, int]:
    if size is None:
        return 0xFFFF, 0
    if size == 0:
        return 0, 0
    if size % 2**20 == 0 and size // 2**20 < 0x7FFF:
        return size // 2**20, 0
    if size % 2**20:
        return 0x8000 | (size // 1024), 0
    return 0x7FFF, size // 2**20


def encode_table(s: Smbios, major: int, minor: int) -> bytes:
    out = []
    if s.bios:
        st = _Strings()
        major_rev, _, minor_rev = (s.bios.revision or "255.255").partition(".")
        body = struct.pack("<BBHBB8sBBBBBB", st.add(s.bios.vendor), st.add(s.bios.version), 0xF000,
                           st.add(s.bios.release_date), 0xFF, b"\x08" + b"\0" * 7, 0, 0, int(major_rev),
                           int(minor_rev), 0xFF, 0xFF)
        out.append(_structure(0, 0xF000, body, st))
    if s.system:
        st = _Strings()
        y = s.system
        body = struct.pack("<BBBB16sBBB", st.add(y.manufacturer), st.add(y.product), st.add(y.version),
                           st.add(y.serial), _uuid_bytes(y.uuid, major, minor), 0x06, st.add(y.sku), st.add(y.family))
        out.append(_structure(1, 0xF001, body, st))
    if s.board:
        st = _Strings()
        b = s.board
        body = struct.pack("<BBBBBBBHBB", st.add(b.manufacturer), st.add(b.product), st.add(b.version),
                           st.add(b.serial), 0, 0x01, 0, 0xF003, 0x0A, 0)
        out.append(_structure(2, 0xF002, body, st))
    if s.chassis:
        st = _Strings()
        c = s.chassis
        body = struct.pack("<BBBBBBBBBIBBBB", st.add(c.manufacturer), _code(sm.CHASSIS_TYPES, c.type),
                           st.add(c.version), st.add(c.serial), st.add(c.asset_tag), 3, 3, 3, 3, 0, 0, 0, 0, 0)
        out.append(_structure(3, 0xF003, body, st))
    for p in s.processors:
        st = _Strings()
        status = (0x40 | next((k for k, v in sm.PROCESSOR_STATUS.items() if v == p.status), 0)) if p.populated else 0
        counts = [p.core_count or 0, p.core_enabled or 0, p.thread_count or 0]
        short = [c if c < 0xFF else 0xFF for c in counts]
        body = struct.pack("<BBBBQBBHHHBBHHHBBBBBBHHHHH", st.add(p.socket), 0x03, 0x01, st.add(p.manufacturer), 0,
                           st.add(p.version), 0, 0, p.max_speed_mhz or 0, p.current_speed_mhz or 0, status, 0x01,
                           0xFFFF, 0xFFFF, 0xFFFF, 0, 0, 0, *short, 0x04, 0x01, *counts)
        out.append(_structure(4, p.handle, body, st))
    for slot in s.slots:
        st = _Strings()
        width, type_code = _slot_codes(slot.type)
        seg, bus, devfn = 0xFFFF, 0xFF, 0xFF
        if slot.bus_address:
            seg_s, bus_s, rest = slot.bus_address.split(":")
            dev_s, fn_s = rest.split(".")
            seg, bus, devfn = int(seg_s, 16), int(bus_s, 16), int(dev_s, 16) << 3 | int(fn_s)
        body = struct.pack("<BBBBBHBBHBB", st.add(slot.designation), type_code, width,
                           _code(sm.SLOT_USAGE, slot.usage), 0x02, 1, 0x04, 0, seg, bus, devfn)
        out.append(_structure(9, slot.handle, body, st))
    for a in s.memory_arrays:
        st = _Strings()
        kib = (a.max_capacity_bytes or 0) // 1024
        extended = kib >= 0x80000000
        body = struct.pack("<BBBIHHQ", _code(sm.ARRAY_LOCATIONS, a.location), _code(sm.ARRAY_USES, a.use),
                           _code(sm.ECC_TYPES, a.ecc), 0x80000000 if extended else kib, 0xFFFE,
                           a.device_count or 0, a.max_capacity_bytes if extended else 0)
        out.append(_structure(16, a.handle, body, st))
    for d in s.memory_devices:
        st = _Strings()
        size, ext = _memory_size(d.size_bytes)
        body = struct.pack(
            "<HHHHHBBBBBHHBBBBBIHHHH", d.array_handle if d.array_handle is not None else 0xFFFE, 0xFFFE,
            d.total_width_bits or 0xFFFF, d.data_width_bits or 0xFFFF, size, _code(sm.FORM_FACTORS, d.form_factor),
            0, st.add(d.locator), st.add(d.bank_locator), _code(sm.MEMORY_TYPES, d.type), _detail_code(d.type_detail),
            d.speed_mts or 0, st.add(d.manufacturer), st.add(d.serial), 0, st.add(d.part_number), d.rank or 0,
            ext, d.configured_speed_mts or 0, 0, 0, 0)
        out.append(_structure(17, d.handle, body, st))
    for m in s.memory_mapped:  # type 20, in KiB below 4 TiB, else the SMBIOS 2.7 extended byte addresses
        extended = m.end >= 0xFFFFFFFF * 1024
        start_kib, end_kib = (0xFFFFFFFF, 0xFFFFFFFF) if extended else (m.start // 1024, (m.end + 1) // 1024 - 1)
        body = struct.pack("<IIHHBBBQQ", start_kib, end_kib, m.device_handle or 0xFFFF,
                           m.array_mapped_handle or 0xFFFF, 0xFF if m.partition_row is None else m.partition_row,
                           m.interleave_position or 0, m.interleaved_depth or 0,
                           m.start if extended else 0, m.end if extended else 0)
        out.append(_structure(20, m.handle, body, _Strings()))
    for hi in s.host_interfaces:  # type 42 of the real dumps: KCS only (a Redfish one is tested from its own bin)
        code = next(k for k, v in sm.HOST_INTERFACE_TYPES.items() if v == hi.interface_type)
        out.append(_structure(42, hi.handle, bytes([code, 4]) + bytes(4) + bytes([0]), _Strings()))
    out.append(struct.pack("<BBH", 127, 4, 0xFEFF) + b"\0\0")
    return b"".join(out)


def _checksum_fix(data: bytearray, start: int, length: int, at: int) -> None:
    data[at] = 0
    data[at] = (-sum(data[start:start + length])) & 0xFF


def dump_bin(table: bytes, version: str, count: int) -> bytes:
    """A file in `dmidecode --dump-bin` layout: entry point at 0 (table address 32), table at 32."""
    parts = [int(x) for x in version.split(".")]
    major, minor = parts[0], parts[1]
    if len(parts) == 3:  # "3.2.0": a 64-bit (_SM3_) entry point; "3.3" or "2.7": a 32-bit (_SM_) one
        ep = bytearray(b"_SM3_" + bytes(0x13))
        ep[6], ep[7], ep[8], ep[9], ep[10] = 0x18, major, minor, parts[2] if len(parts) > 2 else 0, 1
        struct.pack_into("<IQ", ep, 0x0C, len(table), 32)
        _checksum_fix(ep, 0, 0x18, 5)
    else:
        ep = bytearray(b"_SM_" + bytes(0x1B))
        ep[5], ep[6], ep[7] = 0x1F, major, minor
        struct.pack_into("<H", ep, 0x08, 0x100)
        ep[0x10:0x15] = b"_DMI_"
        struct.pack_into("<HIHB", ep, 0x16, len(table), 32, count, major << 4 | minor)
        _checksum_fix(ep, 0x10, 0x0F, 0x15)
        _checksum_fix(ep, 0, 0x1F, 4)
    return bytes(ep).ljust(32, b"\0") + table


def _without_source(s: Smbios) -> Smbios:
    return dataclasses.replace(s, source="", structure_count=0)


def _comparable(s: Smbios) -> Smbios:
    """Drop what the encoder cannot carry over: redacted UUIDs ("--") have no binary form."""
    s = _without_source(s)
    if s.system and s.system.uuid and len(s.system.uuid) != 36:
        s = dataclasses.replace(s, system=dataclasses.replace(s.system, uuid=None))
    return s


def _dump_of(path: Path) -> tuple[Smbios, bytes]:
    parsed = parse_dmidecode_text(path.read_text(errors="replace"))
    version = parsed.version
    parts = [int(x) for x in version.split(".")]
    table = encode_table(parsed, parts[0], parts[1])
    count = len(walk_structures(table))
    return parsed, dump_bin(table, version, count)


# -- the binary parser against the real dumps' records ---------------------------------------------


@pytest.mark.parametrize("path", REAL_DUMPS, ids=lambda p: p.name.split("__")[2])
def test_binary_tables_built_from_a_real_dump_parse_back_to_its_records(path):
    parsed, blob = _dump_of(path)
    assert _comparable(parse_dump(blob)) == _comparable(parsed)


dmidecode = shutil.which("dmidecode")


@pytest.mark.skipif(dmidecode is None, reason="dmidecode is not installed")
@pytest.mark.parametrize("path", REAL_DUMPS, ids=lambda p: p.name.split("__")[2])
def test_dmidecode_reads_our_binary_tables_as_our_binary_parser_does(path, tmp_path):
    _, blob = _dump_of(path)
    dump = tmp_path / "dmi.bin"
    dump.write_bytes(blob)
    text = subprocess.run([dmidecode, "--from-dump", str(dump)], capture_output=True, text=True, check=True).stdout
    from_dmidecode = parse_dmidecode_text(text)
    from_binary = parse_dump(blob)
    assert _without_source(from_dmidecode) == _without_source(from_binary)
    assert from_dmidecode.version == from_binary.version
    assert from_dmidecode.structure_count == from_binary.structure_count


# -- structure walk and decoding edge cases, on hand-made structures --------------------------------


def _memory_device(size_word: int, ext_size: int = 0, speed: int = 2666, ext_speed: int = 0,
                   length: int = 0x5C) -> bytes:
    st = _Strings()
    body = bytearray(length - 4)
    struct.pack_into("<HHHHHBBBBBH", body, 0, 0x1000, 0xFFFE, 72, 64, size_word, 0x09, 0, st.add("A1"),
                     st.add("Bank 0"), 0x1A, 0x2080)
    struct.pack_into("<H", body, 0x15 - 4, speed)
    if length >= 0x22:
        struct.pack_into("<B", body, 0x1B - 4, 0x02)
        struct.pack_into("<IH", body, 0x1C - 4, ext_size, speed)
    if length >= 0x5C:
        struct.pack_into("<II", body, 0x54 - 4, ext_speed, ext_speed)
    return _structure(17, 0x1100, bytes(body), st)


def test_memory_device_sizes_decode_every_encoding():
    cases = [
        (_memory_device(16384), 16 * 2**30),
        (_memory_device(0x7FFF, ext_size=65536), 64 * 2**30),  # 64 GiB needs the extended size field
        (_memory_device(0x8000 | 512), 512 * 1024),  # kB granularity
        (_memory_device(0), 0),
        (_memory_device(0xFFFF), None),
    ]
    for blob, size in cases:
        (device,) = sm.decode(walk_structures(blob), "3.3.0", "test").memory_devices
        assert device.size_bytes == size


def test_extended_memory_speed_is_used_above_65534_mts():
    blob = _memory_device(16384, speed=0xFFFF, ext_speed=70000)
    (device,) = sm.decode(walk_structures(blob), "3.3.0", "t").memory_devices
    assert (device.speed_mts, device.configured_speed_mts) == (70000, 70000)


def test_memory_device_of_smbios_2_3_length_has_no_rank_or_configured_speed():
    blob = _memory_device(4096, length=0x1B)
    (device,) = sm.decode(walk_structures(blob), "2.3", "t").memory_devices
    assert device.size_bytes == 4 * 2**30
    assert device.rank is None and device.configured_speed_mts is None
    assert device.type == "DDR4" and device.type_detail == "Synchronous Registered (Buffered)"


def test_uuid_byte_order_changed_with_smbios_2_6():
    raw = bytes(range(1, 17))
    st = _Strings()
    body = struct.pack("<BBBB16sBBB", 0, 0, 0, 0, raw, 6, 0, 0)
    s = walk_structures(_structure(1, 1, body, st))
    assert sm.decode(s, "2.6", "t", 2, 6).system.uuid == "04030201-0605-0807-090A-0B0C0D0E0F10"
    assert sm.decode(s, "2.5", "t", 2, 5).system.uuid == "01020304-0506-0708-090A-0B0C0D0E0F10"


def test_processor_with_more_than_254_cores_uses_the_wide_count():
    st = _Strings()
    body = bytearray(0x30 - 4)
    body[0x18 - 4] = 0x41
    body[0x23 - 4:0x26 - 4] = b"\xff\xff\xff"
    struct.pack_into("<HHH", body, 0x2A - 4, 288, 288, 576)
    (cpu,) = sm.decode(walk_structures(_structure(4, 0x400, bytes(body), st)), "3.5.0", "t").processors
    assert (cpu.core_count, cpu.thread_count, cpu.populated, cpu.status) == (288, 576, True, "Enabled")


def test_walk_stops_at_a_structure_with_a_broken_length():
    good = _memory_device(1024)
    broken = struct.pack("<BBH", 17, 2, 0x9999) + b"\0\0"
    assert len(walk_structures(good + broken + good)) == 1


def test_string_index_beyond_the_string_set_reads_as_unset():
    st = _Strings()
    st.add("only one")
    body = struct.pack("<BBBB", 1, 5, 0, 0)
    board = sm.decode(walk_structures(_structure(2, 2, body, st)), None, "t").board
    assert board.manufacturer == "only one" and board.product is None


def test_entry_points_of_all_three_kinds_are_read():
    assert parse_entry_point(dump_bin(b"", "3.2.0", 0)).version == "3.2.0"
    legacy = parse_entry_point(dump_bin(b"", "2.7", 5))
    assert (legacy.version, legacy.table_address, legacy.structure_count) == ("2.7", 32, 5)
    bare = b"_DMI_" + bytes([0]) + struct.pack("<HIHB", 0x100, 0xF0000, 12, 0x24)
    assert parse_entry_point(bare).version == "2.4"
    with pytest.raises(SmbiosError):
        parse_entry_point(b"RSD PTR " + bytes(24))


def test_dump_with_table_address_past_its_end_is_rejected():
    blob = bytearray(dump_bin(b"", "3.0.0", 0))
    struct.pack_into("<Q", blob, 0x10, 4096)
    with pytest.raises(SmbiosError, match="beyond the end"):
        split_dump(bytes(blob))


def test_host_without_smbios_tables_says_why(tmp_path):
    from burnin.host import Host

    smbios, why = sm.read_host_tables(Host(tmp_path))
    assert smbios is None
    assert why == "SMBIOS tables not readable: /sys/firmware/dmi/tables/DMI absent (not in the captured tree)"


def test_host_tables_are_read_from_sysfs(tmp_path):
    from burnin.host import Host

    parsed, blob = _dump_of(DUMPS / "Server__Dell__PowerEdge__PowerEdge_R740__102E11A0DB9A.dmidecode.txt")
    tables = tmp_path / "sys/firmware/dmi/tables"
    tables.mkdir(parents=True)
    entry_point, table = split_dump(blob)
    (tables / "smbios_entry_point").write_bytes(entry_point[:0x18])
    (tables / "DMI").write_bytes(table)
    smbios, why = sm.read_host_tables(Host(tmp_path))
    assert why is None and smbios.source == "sysfs"
    assert _comparable(smbios) == _comparable(parsed)
