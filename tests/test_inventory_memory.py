"""Memory: where each DIMM slot sits (from real vendors' locators), and the population findings.

The population cases start from a real dump and change one thing (empty a slot, fill another), so each test
says exactly which layout triggers which finding.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from burnin.host import Host, parse_cpulist
from burnin.inventory.cpu import socket_records
from burnin.inventory.dmidecode import parse_dmidecode_text
from burnin.inventory.memory import (
    collect_memory,
    infer_places,
    memory_from_smbios,
    parse_meminfo_total,
)
from burnin.inventory.population import PopulationPolicy, population_findings
from burnin.inventory.smbios import MemoryDeviceRecord
from burnin.model import Severity

DATA = Path(__file__).parent / "data"
GIB = 2**30


def _smbios(file_id: str):
    (path,) = (DATA / "dmidecode").glob(f"*{file_id}*.dmidecode.txt")
    return parse_dmidecode_text(path.read_text(errors="replace"))


def _places(file_id: str) -> dict[str, tuple]:
    s = _smbios(file_id)
    memory = memory_from_smbios(s, None, ())
    return {d.locator: (d.place.socket, d.place.channel, d.place.slot, d.place.group, d.place.number)
            for d in memory.dimms}


# -- where a slot sits ---------------------------------------------------------------------------


@pytest.mark.parametrize("file_id, locator, place", [
    # Supermicro X9: P<socket>-DIMM<channel><slot>, sockets named "CPU 1"/"CPU 2" so numbered from 1
    ("X9DRW__", "P1-DIMMA1", (0, "A", 1, None, None)),
    ("X9DRW__", "P2-DIMMH2", (1, "H", 2, None, None)),
    # Supermicro X10: P1_DIMMB2, sockets named "SOCKET 0"/"SOCKET 1"
    ("X10DRi__", "P2_DIMME1", (1, "E", 1, None, None)),
    # Supermicro single socket: DIMMC1 (the board's bank locator agrees: P0_Node0_Channel2_Dimm0)
    ("AS_-1014S-WTRT__", "DIMMC1", (0, "C", 1, None, None)),
    # Intel reference board: CPU<n>_DIMM_<channel><slot>, matched to sockets "CPU0"/"CPU1"
    ("ArcherCity__", "CPU1_DIMM_D2", (1, "D", 2, None, None)),
    # Huawei: DIMM<socket><channel><slot>, slots counted from 0
    ("RH1288_V3__", "DIMM131", (1, "3", 2, None, None)),
    # HPE: PROC <n> DIMM <n>: socket and slot number, the channel layout is not in the name
    ("ProLiant_DL380_Gen10__", "PROC 2 DIMM 8", (1, None, None, None, 8)),
    # HPE Superdome 2: <cabinet>/<blade>/<cpu>/<nn><letter>, socket by the CPU's designation
    ("Superdome2_16s_x86__", "1/5/1/07B", (5, None, None, None, 7)),
    # Dell: the letter is the socket where there are as many letters as sockets; filled in numeric order
    ("PowerEdge_R740__", "B7", (1, None, None, "B", 7)),
    ("PowerEdge_R510__", "DIMM_B2", (1, None, None, "B", 2)),
    ("PowerEdge_R6515__", "A16", (0, None, None, "A", 16)),
    # Dell Precision: DIMM<n>_CPU<n>
    ("Precision_7920_Tower__", "DIMM10_CPU1", (1, None, None, None, 10)),
    # Fujitsu: channel from the bank locator "Channel B", one socket
    ("PRIMERGY_MX130_S2__", "DIMM-CHB4", (0, "B", None, None, None)),
])
def test_slot_place_is_read_from_the_vendors_locator(file_id, locator, place):
    assert _places(file_id)[locator] == place


def test_dell_r910_riser_letters_are_not_taken_for_sockets():
    places = _places("PowerEdge_R910__")
    assert len({p[3] for p in places.values()}) == 8  # risers A..H on a 4-socket machine
    assert {p[0] for p in places.values()} == {None}
    assert places["DIMM C3"] == (None, None, None, "C", 3)


def test_unknown_locator_scheme_stays_unknown():
    device = MemoryDeviceRecord(1, None, "Memory Slot Left", None, 0, None, None, None, None, None, None, None,
                                None, None, None, None)
    (place,) = infer_places([device], ["CPU1", "CPU2"], "Acme")
    assert (place.socket, place.channel, place.slot, place.rule) == (None, None, None, None)
    (single,) = infer_places([device], ["CPU1"], "Acme")
    assert single.socket == 0  # one socket: every slot is on it


# -- population findings on real layouts -----------------------------------------------------------


def _findings(smbios, os_total=None, policy=PopulationPolicy()):
    memory = memory_from_smbios(smbios, None, ())
    return population_findings(memory, socket_records(smbios.processors), os_total_bytes=os_total, policy=policy)


def _set(smbios, **changes_by_locator):
    """A copy of the dump with some slots emptied (None) or filled (a copy of another slot's record)."""
    by_locator = {d.locator: d for d in smbios.memory_devices}
    devices = []
    for d in smbios.memory_devices:
        change = changes_by_locator.get(d.locator.replace("-", "_").replace(" ", "_"), "keep")
        if change is None:
            d = dataclasses.replace(d, size_bytes=0, speed_mts=None, configured_speed_mts=None, part_number=None)
        elif change != "keep":
            d = dataclasses.replace(by_locator[change], handle=d.handle, locator=d.locator,
                                    bank_locator=d.bank_locator)
        devices.append(d)
    return dataclasses.replace(smbios, memory_devices=tuple(devices))


def _codes(findings):
    return sorted((f.code, f.component) for f in findings)


def test_balanced_full_population_gives_no_findings():
    assert _findings(_smbios("ProLiant_DL380_Gen10__")) == []
    assert _findings(_smbios("PowerEdge_R720__")) == []


def test_half_the_channels_populated_is_named_per_socket():
    findings = _findings(_smbios("X9DRW__"))
    assert _codes(findings) == [("memory-channels-partial", "memory:CPU 1"),
                                ("memory-channels-partial", "memory:CPU 2")]
    first = findings[0]
    assert first.severity is Severity.WARN
    assert first.message == ("CPU 1 has 2 of 4 memory channels populated: memory bandwidth is about half of what "
                             "it could be.")
    assert first.evidence == {"socket": "CPU 1", "channels_populated": ["A", "B"], "channels_empty": ["C", "D"]}


def test_huawei_one_dimm_per_socket_uses_a_quarter_of_the_channels():
    findings = _findings(_smbios("RH1288_V3__"))
    assert [f.message.split(":")[0] for f in findings] == [
        "CPU01 has 1 of 4 memory channels populated", "CPU02 has 1 of 4 memory channels populated"]


def test_second_slot_filled_while_first_is_empty_is_flagged_on_the_empty_slot():
    layout = _set(_smbios("X9DRW__"), P1_DIMMA1=None, P1_DIMMA2="P1-DIMMA1")
    order = [f for f in _findings(layout) if f.code == "dimm-slot-order"]
    assert len(order) == 1
    assert order[0].component == "dimm:P1-DIMMA1"
    assert order[0].evidence == {"socket": "CPU 1", "channel": "A", "empty_slot": "P1-DIMMA1",
                                 "filled_later": ["P1-DIMMA2"]}


def test_dell_slots_filled_out_of_numeric_order_are_flagged():
    layout = _set(_smbios("PowerEdge_R740__"), A3=None, A9="A1")
    order = [f for f in _findings(layout) if f.code == "dimm-slot-order"]
    assert [f.component for f in order] == ["dimm:A3"]
    assert order[0].evidence["filled_later"] == ["A4", "A5", "A6", "A7", "A8", "A9"]


def test_sockets_with_different_memory_are_unbalanced():
    layout = _set(_smbios("ProLiant_DL380_Gen10__"), PROC_2_DIMM_12=None, PROC_2_DIMM_10=None)
    (finding,) = _findings(layout)
    assert (finding.code, finding.component, finding.severity) == ("memory-sockets-unbalanced", "memory", Severity.WARN)
    assert finding.evidence["sockets"] == {"Proc 1": {"dimms": 6, "bytes": 96 * GIB},
                                           "Proc 2": {"dimms": 4, "bytes": 64 * GIB}}


def test_socket_with_a_cpu_but_no_memory_is_flagged():
    layout = _set(_smbios("ProLiant_DL360_Gen9__"), PROC_2_DIMM_1=None)
    assert _codes(_findings(layout)) == [("memory-socket-empty", "memory:Proc 2")]


def test_dimm_in_the_slot_of_an_empty_cpu_socket_fails():
    layout = _set(_smbios("PowerEdge_R510__"), DIMM_B1="DIMM_A1")
    (finding,) = [f for f in _findings(layout) if f.code == "dimm-socket-without-cpu"]
    assert (finding.severity, finding.component) == (Severity.FAIL, "dimm:DIMM_B1")


def test_channels_holding_different_numbers_of_dimms_are_uneven():
    layout = _set(_smbios("X9DRW__"), P1_DIMMA2="P1-DIMMA1")
    uneven = [f for f in _findings(layout) if f.code == "memory-channels-uneven"]
    assert [(f.component, f.evidence["dimms_per_channel"]) for f in uneven] == [("memory:CPU 1", {"A": 2, "B": 1})]


def test_mixed_part_numbers_on_a_real_machine():
    (finding,) = _findings(_smbios("PowerEdge_R910__"))
    assert finding.code == "dimm-mixed-parts"
    assert finding.evidence["part_numbers"] == {"HMT151R7TFR4C-H9": 28, "HMT151R7BFR4C-H9": 4}


def test_mixed_sizes_and_speeds():
    s = _smbios("X9DRW__")
    bigger = dataclasses.replace(s.memory_devices[0], size_bytes=32 * GIB, speed_mts=1866)
    layout = dataclasses.replace(s, memory_devices=(bigger, *s.memory_devices[1:]))
    codes = {f.code: f for f in _findings(layout)}
    assert codes["dimm-mixed-sizes"].evidence["sizes_bytes"] == {str(16 * GIB): 3, str(32 * GIB): 1}
    assert codes["dimm-mixed-speeds"].evidence["speeds_mts"] == {"1600": 3, "1866": 1}


def test_dimms_running_below_their_rated_speed_are_one_finding():
    (finding,) = _findings(_smbios("PowerEdge_R740__"))
    assert finding.code == "dimm-speed-below-rated"
    assert (finding.evidence["rated_mts"], finding.evidence["configured_mts"]) == (2933, 2666)
    assert len(finding.evidence["dimms"]) == 16
    assert "2 DIMMs per channel" in finding.message


def test_memory_the_os_does_not_see_fails_beyond_the_reserve():
    s = _smbios("PowerEdge_R740__")  # 256 GiB of DIMMs; reserve 5 % + 1 GiB = 13.8 GiB
    assert [f for f in _findings(s, os_total=243 * GIB) if f.code == "dimm-not-used"] == []
    (finding,) = [f for f in _findings(s, os_total=240 * GIB) if f.code == "dimm-not-used"]
    assert finding.severity is Severity.FAIL
    assert finding.evidence["missing_bytes"] == 16 * GIB
    assert finding.evidence["dimm_total_bytes"] == 256 * GIB


def test_profile_settings_change_severities_and_reserve():
    policy = PopulationPolicy.from_settings({"dimm_speed_below_rated": "info", "memory_reserve_pct": 10})
    (finding,) = _findings(_smbios("PowerEdge_R740__"), os_total=235 * GIB, policy=policy)
    assert (finding.code, finding.severity) == ("dimm-speed-below-rated", Severity.INFO)


# -- the OS side: MemTotal and NUMA nodes ----------------------------------------------------------


def test_os_total_and_numa_nodes_from_a_real_vm():
    memory = collect_memory(Host(DATA / "sysfs" / "vm-virtio"), None)
    assert memory.total_bytes == 24683656 * 1024
    assert [(n.node, n.cpulist, n.cpu_count) for n in memory.numa_nodes] == [(0, "0-1", 2)]
    assert memory.numa_nodes[0].mem_total_bytes == 4941600 * 1024
    assert (memory.dimm_source, memory.slot_count, memory.dimm_total_bytes) == (None, 0, None)


def test_cpulist_and_meminfo_parsers():
    assert parse_cpulist("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11]
    assert parse_cpulist("") == []
    assert parse_meminfo_total("Node 1 MemTotal:       65536 kB\nNode 1 MemFree: 1 kB") == 65536 * 1024
