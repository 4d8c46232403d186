"""What is in the box: system identity, CPUs, memory (every DIMM slot), disks, NICs and PCIe devices.

`collect(host)` reads the running machine (or a --sysroot tree) through the host layer; `collect(host,
dmidecode_text=...)` describes the machine a dmidecode dump came from instead (system, CPU sockets, memory;
a dump says nothing about disks, NICs or PCIe devices). What could not be read is stated in `notes`, with the
reason, never guessed. `population_findings` and `burnin.inventory.claims` judge the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from burnin.host import Host
from burnin.inventory._record import Record
from burnin.inventory.cpu import CpuInfo, collect_cpu, cpu_from_smbios
from burnin.inventory.disks import Disk, collect_disks, split_boot_media
from burnin.inventory.dmidecode import parse_dmidecode_text
from burnin.inventory.memory import MemoryInfo, collect_memory, memory_from_smbios
from burnin.inventory.nics import Nic, collect_nics
from burnin.inventory.pcie import PcieInfo, collect_pcie
from burnin.inventory.population import PopulationPolicy, population_findings
from burnin.inventory.smbios import Smbios, SmbiosError, read_host_tables
from burnin.inventory.system import SystemInfo, collect_system, system_from_smbios
from burnin.model import Finding

__all__ = [
    "Inventory", "collect", "inventory_findings", "PopulationPolicy", "SmbiosError",
]


@dataclass(frozen=True)
class Inventory(Record):
    source: str  # "host" (the running machine or a --sysroot tree) or "dmidecode" (a text dump)
    system: SystemInfo
    cpu: CpuInfo
    memory: MemoryInfo
    disks: tuple[Disk, ...]
    nics: tuple[Nic, ...]
    pcie: PcieInfo
    notes: tuple[str, ...]  # what could not be read, and why
    boot_media: tuple[Disk, ...] = ()  # the live stick this system booted from: not among `disks`

    def to_record(self) -> dict[str, Any]:
        """The journal's inventory record."""
        return self.to_dict()


def collect(
    host: Host,
    dmidecode_text: str | None = None,
    *,
    include_virtual: bool = False,
) -> Inventory:
    """Inventory of the host, or of the machine a dmidecode text dump describes.

    Raises SmbiosError (a usage problem: say "not a dmidecode dump") when `dmidecode_text` holds no structures.
    """
    if dmidecode_text is not None:
        return _from_dump(parse_dmidecode_text(dmidecode_text))
    notes: list[str] = []
    smbios, why = read_host_tables(host)
    if why:
        notes.append(why)
    system, more = collect_system(host, smbios)
    notes.extend(more)
    cpu = collect_cpu(host, smbios)
    if cpu.threads is None:
        notes.append("CPU not read: /proc/cpuinfo and /sys/devices/system/cpu absent")
    memory = collect_memory(host, smbios)
    if memory.total_bytes is None:
        notes.append("memory total not read: /proc/meminfo absent")
    if smbios is not None and not memory.dimms:
        notes.append("no memory devices (SMBIOS type 17) in the SMBIOS tables")
    disks, more = collect_disks(host, include_virtual)
    notes.extend(more)
    disks, boot_media, more = split_boot_media(disks)
    notes.extend(more)
    nics, more = collect_nics(host, include_virtual)
    notes.extend(more)
    pcie, more = collect_pcie(host, smbios.slots if smbios else ())
    notes.extend(more)
    return Inventory("host", system, cpu, memory, tuple(disks), tuple(nics), pcie, tuple(notes), tuple(boot_media))


def _from_dump(smbios: Smbios) -> Inventory:
    notes = ["from a dmidecode dump: disks, NICs and PCIe devices are not in SMBIOS, and the OS memory total "
             "of that machine is unknown"]
    memory = memory_from_smbios(smbios, None, ())
    if not memory.dimms:
        notes.append("no memory devices (SMBIOS type 17) in the dump")
    return Inventory(
        source="dmidecode",
        system=system_from_smbios(smbios),
        cpu=cpu_from_smbios(smbios),
        memory=memory,
        disks=(),
        nics=(),
        pcie=PcieInfo((), None, None, None),
        notes=tuple(notes),
    )


def inventory_findings(inventory: Inventory, policy: PopulationPolicy = PopulationPolicy()) -> list[Finding]:
    """Population findings for an inventory. The DIMM total is compared with the OS total only when both
    describe the same running machine (live SMBIOS tables, not a dump)."""
    os_total = inventory.memory.total_bytes if inventory.memory.dimm_source == "sysfs" else None
    return population_findings(inventory.memory, inventory.cpu.socket_records, os_total_bytes=os_total,
                               policy=policy)
