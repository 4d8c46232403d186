"""The rig's SMBIOS DIMM table (scripts/rig/rigvm/smbios.py) read back by burnin's own SMBIOS parser, without
QEMU: the default suite runs this (no `rig` marker), so a broken blob shows up before a 10-minute rig run."""

from __future__ import annotations

import struct

from burnin.inventory.memory import dimms_from_smbios, memory_from_smbios
from burnin.inventory.population import population_findings
from burnin.inventory.smbios import decode, walk_structures
from rigvm.server import SERVER
from rigvm.smbios import DimmSlot, write_blobs


def _type4(handle: int, socket: str) -> bytes:
    # Processor Information (SMBIOS 2.8 layout, 0x2a bytes): socket designation = string 1, populated + enabled.
    body = bytearray(0x2A)
    struct.pack_into("<BBHB", body, 0, 4, 0x2A, handle, 1)
    body[0x05] = 0x03  # central processor
    body[0x18] = 0x41  # status: socket populated, CPU enabled
    struct.pack_into("<BBB", body, 0x23, 1, 1, 1)  # core count, cores enabled, thread count
    return bytes(body) + socket.encode() + b"\0\0"


def _table(tmp_path, slots, sockets: int = SERVER.sockets) -> bytes:
    """Our type 16/17 blobs behind type-4 sockets named as QEMU names them ("CPU 0", "CPU 1")."""
    blobs = b"".join(p.read_bytes() for p in write_blobs(tmp_path, list(slots)))
    sockets = b"".join(_type4(0x400 + i, f"CPU {i}") for i in range(sockets))
    return sockets + blobs + bytes([127, 4, 0xFF, 0xFE, 0, 0])


def test_rig_dimm_table_reads_back_slot_for_slot(tmp_path):
    smbios = decode(walk_structures(_table(tmp_path, SERVER.dimm_slots)), "2.8", "test", 2, 8)
    assert [a.ecc for a in smbios.memory_arrays] == ["Multi-bit ECC"]
    dimms = dimms_from_smbios(smbios)
    assert [(d.locator, d.populated, d.size_bytes, d.serial, d.part_number, d.speed_mts, d.rank,
             d.total_width_bits) for d in dimms] == [
        (s.locator, s.populated, s.size_mb << 20, s.serial or None, s.part or None, s.speed_mts or None,
         s.rank if s.populated else None, 72 if s.populated else None) for s in SERVER.dimm_slots]
    # Locators place every slot: socket from CPU<n>, channel A/B, slot 1 first.
    assert [(d.place.socket, d.place.channel, d.place.slot) for d in dimms] == [
        (socket, channel, slot) for socket in range(SERVER.sockets) for channel in "AB" for slot in (1, 2)]


def test_rig_healthy_population_draws_no_population_finding(tmp_path):
    # The healthy server fills the first slot of every channel with identical DIMMs: nothing to warn about.
    smbios = decode(walk_structures(_table(tmp_path, SERVER.dimm_slots)), "2.8", "test", 2, 8)
    memory = memory_from_smbios(smbios, SERVER.mem_mb << 20, ())
    sockets = [type("Socket", (), {"name": f"CPU {i}", "populated": True})() for i in range(SERVER.sockets)]
    assert population_findings(memory, sockets, os_total_bytes=SERVER.mem_mb << 20) == []


def test_rig_dimm_table_with_a_second_slot_filled_first_is_seen_out_of_order(tmp_path):
    slots = [DimmSlot("CPU1_DIMM_A1", "P0_Node0_Channel0_Dimm0", 0),
             DimmSlot("CPU1_DIMM_A2", "P0_Node0_Channel0_Dimm1", 1024, "Samsung", "S1", "M393A2K40DB3-CWE", 3200)]
    smbios = decode(walk_structures(_table(tmp_path, slots, sockets=1)), "2.8", "test", 2, 8)
    memory = memory_from_smbios(smbios, 1024 << 20, ())
    sockets = [type("Socket", (), {"name": "CPU 0", "populated": True})()]
    codes = {f.code for f in population_findings(memory, sockets)}
    assert "dimm-slot-order" in codes
