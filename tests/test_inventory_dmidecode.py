"""The dmidecode text parser on every real dump (dmidecode 2.12 to 3.4; Dell, HPE, Supermicro, Huawei, Intel…).

The expected numbers were counted by hand from the dumps (`grep -c "^Memory Device$"`,
`grep -c "No Module Installed"`, summing the "Size:" lines, reading the type-16 records), not taken from the
manifest that came with them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from burnin.inventory.dmidecode import parse_dmidecode_text
from burnin.inventory.smbios import SmbiosError

DUMPS = Path(__file__).parent / "data" / "dmidecode"
GIB = 2**30

# file id: (slots, populated, total GiB, array ECC, populated sockets, sockets, DIMM type, SMBIOS version)
EXPECTED = {
    "X9DRW__7059417A3CAA": (16, 4, 64, "Multi-bit ECC", 2, 2, "DDR3", "2.7"),
    "PowerEdge_R510__9C3341952849": (8, 4, 16, "Multi-bit ECC", 1, 2, "DDR3", "2.6"),
    "PowerEdge_R6515__0474663F511F": (16, 8, 512, "Multi-bit ECC", 1, 1, "DDR4", "3.3"),
    "PowerEdge_R720__978501070240": (24, 4, 32, "Multi-bit ECC", 2, 2, "DDR3", "2.7"),
    "PowerEdge_R740__102E11A0DB9A": (24, 16, 256, "Multi-bit ECC", 2, 2, "DDR4", "3.2.0"),
    "PowerEdge_R910__D03978B7EECC": (64, 32, 128, "Multi-bit ECC", 4, 4, "DDR3", "2.6"),
    "Precision_7920_Tower__4FFAA8A7598E": (24, 24, 768, "Single-bit ECC", 2, 2, "DDR4", "3.2.1"),
    "PRIMERGY_MX130_S2__99502D498856": (4, 4, 16, "None", 1, 1, "DDR3", "2.7"),
    "ProLiant_DL380_Gen10__E9F33A829B38": (24, 12, 192, "Multi-bit ECC", 2, 2, "DDR4", "3.2.1"),
    "RH1288_V3__C4E0511C9E96": (16, 2, 64, "Multi-bit ECC", 2, 2, "DRAM", "2.8"),
    "ProLiant_DL360_Gen9__4214D2DC4372": (24, 2, 32, "Multi-bit ECC", 2, 2, "DDR4", "2.8"),
    "Superdome2_16s_x86__777124CB43C9": (192, 96, 3072, "Multi-bit ECC", 8, 8, "SDRAM", "2.7"),
    "ArcherCity__356135E81941": (32, 2, 128, "Single-bit ECC", 2, 2, "DDR5", "3.2.0"),
    "AS_-1014S-WTRT__D80A1900B9F1": (8, 6, 384, "Multi-bit ECC", 1, 1, "DDR4", "3.2"),
    "X10DRi__DCD6BE1B26A8": (16, 4, 64, "Multi-bit ECC", 1, 2, "Other", "2.8"),
}


def _dump(file_id: str) -> str:
    (path,) = DUMPS.glob(f"*{file_id}.dmidecode.txt")
    return path.read_text(errors="replace")


def test_every_real_dump_is_covered():
    real = {p.name for p in DUMPS.glob("*.dmidecode.txt") if "README" not in p.name}
    assert len(real) == len(EXPECTED) == 15
    assert all(any(name.endswith(f"{i}.dmidecode.txt") for name in real) for i in EXPECTED)


@pytest.mark.parametrize("file_id", EXPECTED)
def test_slot_counts_sizes_and_ecc_match_the_hand_counted_numbers(file_id):
    slots, populated, total_gib, ecc, cpus, sockets, dimm_type, version = EXPECTED[file_id]
    s = parse_dmidecode_text(_dump(file_id))
    devices = s.memory_devices
    filled = [d for d in devices if d.populated]
    assert len(devices) == slots
    assert len(filled) == populated
    assert sum(d.size_bytes for d in filled) == total_gib * GIB
    assert {a.ecc for a in s.memory_arrays} == {ecc}
    assert {a.use for a in s.memory_arrays} == {"System Memory"}
    assert sum(a.device_count for a in s.memory_arrays) == slots
    assert (sum(p.populated for p in s.processors), len(s.processors)) == (cpus, sockets)
    assert {d.type for d in filled} == {dimm_type}
    assert s.version == version


def test_dell_r740_records_carry_every_field():
    s = parse_dmidecode_text(_dump("PowerEdge_R740__102E11A0DB9A"))
    assert (s.system.manufacturer, s.system.product, s.system.family) == ("Dell Inc.", "PowerEdge R740", "PowerEdge")
    assert s.system.serial == "--"  # redacted at source, kept as printed
    assert s.system.version is None  # "Not Specified"
    assert (s.bios.vendor, s.bios.version, s.bios.release_date, s.bios.revision) == (
        "Dell Inc.", "2.22.1", "08/09/2024", "2.22")
    assert (s.board.manufacturer, s.board.product, s.board.version) == ("Dell Inc.", "01YM03", "A02")
    assert (s.chassis.type, s.chassis.manufacturer) == ("Rack Mount Chassis", "Dell Inc.")
    a1 = s.memory_devices[0]
    assert (a1.locator, a1.bank_locator, a1.size_bytes, a1.form_factor) == ("A1", None, 16 * GIB, "DIMM")
    assert (a1.type, a1.type_detail) == ("DDR4", "Synchronous Registered (Buffered)")
    assert (a1.speed_mts, a1.configured_speed_mts, a1.rank) == (2933, 2666, 1)
    assert (a1.manufacturer, a1.part_number) == ("00AD00B300AD", "HMA82GR7DJR4N-WM")
    assert (a1.total_width_bits, a1.data_width_bits, a1.array_handle) == (72, 64, 0x1000)
    cpu1 = s.processors[0]
    assert (cpu1.socket, cpu1.version, cpu1.status) == ("CPU1", "Intel(R) Xeon(R) Gold 6154 CPU @ 3.00GHz", "Enabled")
    assert (cpu1.core_count, cpu1.core_enabled, cpu1.thread_count) == (18, 18, 36)
    slot1 = s.slots[0]
    assert (slot1.designation, slot1.type, slot1.usage, slot1.bus_address) == (
        "PCIe Slot 1", "x8 PCI Express 3 x16", "In Use", "0000:3b:00.0")
    assert s.slots[1].bus_address is None  # an empty slot states no address


def test_old_dmidecode_2_12_sizes_in_mb_and_clock_speed_are_understood():
    s = parse_dmidecode_text(_dump("X9DRW__7059417A3CAA"))
    a1 = next(d for d in s.memory_devices if d.locator == "P1-DIMMA1")
    assert a1.size_bytes == 16384 * 2**20  # "Size: 16384 MB"
    assert (a1.speed_mts, a1.configured_speed_mts) == (1600, 1600)  # "1600 MHz", "Configured Clock Speed"
    assert a1.bank_locator == "P0_Node0_Channel0_Dimm0"


def test_empty_slots_carry_no_module_identity():
    s = parse_dmidecode_text(_dump("X10DRi__DCD6BE1B26A8"))
    empty = next(d for d in s.memory_devices if d.locator == "P1_DIMMA2")
    assert empty.size_bytes == 0 and not empty.populated
    # the dump says "Manufacturer: NO DIMM", "Part Number: NO DIMM": placeholders, not a module
    assert (empty.manufacturer, empty.part_number, empty.speed_mts) == (None, None, None)


def test_unpopulated_socket_is_told_apart():
    s = parse_dmidecode_text(_dump("PowerEdge_R510__9C3341952849"))
    cpu1, cpu2 = s.processors
    assert (cpu1.populated, cpu1.status) == (True, "Enabled")
    assert cpu1.version == "Intel(R) Xeon(R) CPU           X5660  @ 2.80GHz"
    assert (cpu2.populated, cpu2.status, cpu2.version) == (False, None, None)


def test_idle_cpus_count_as_populated():
    s = parse_dmidecode_text(_dump("PowerEdge_R910__D03978B7EECC"))
    assert [p.status for p in s.processors] == ["Enabled", "Idle", "Idle", "Idle"]


def test_a_file_that_is_not_dmidecode_output_is_refused():
    with pytest.raises(SmbiosError, match="not dmidecode output"):
        parse_dmidecode_text((DUMPS / "Server__README.md.dmidecode.txt").read_text())


def test_windows_line_endings_and_a_partial_dump_are_read():
    text = _dump("PowerEdge_R740__102E11A0DB9A").replace("\n", "\r\n")
    memory_only = "\r\n\r\n".join(b for b in text.split("\r\n\r\n") if "DMI type 17" in b)
    s = parse_dmidecode_text(memory_only)
    assert len(s.memory_devices) == 24 and s.system is None and s.version is None
    assert s.memory_devices[0].locator == "A1"
