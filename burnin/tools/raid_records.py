"""What every hardware RAID tool adapter (storcli/perccli, ssacli, arcconf, sas2ircu/sas3ircu) parses into: one
controller with its cache battery, virtual drives and physical drives, in the vendor's words (`state`) and in
burnin's (`health`). The adapters fill these; `burnin.modules.raid` judges them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

# VD health words: optimal, degraded, partially-degraded, rebuilding, offline, failed, unknown
# PD health words: ok, spare, unconfigured, failed, unconfigured-bad, offline, missing, rebuilding, unknown


@dataclass(frozen=True)
class Battery:
    kind: str  # "BBU", "CacheVault", "Energy Pack", "battery/capacitor"
    present: bool | None  # None: the tool does not say
    state: str | None  # the tool's word: "Optimal", "Failed", "Learning", "Degraded(Charging)"
    model: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class VirtualDrive:
    id: str  # "0/239" (DG/VD), "logicaldrive 1", "IR volume 1", "Logical device 0"
    raid: str | None  # "RAID1"
    state: str  # the tool's word: "Optl", "Dgrd", "Interim Recovery Mode", "Okay (OKY)"
    health: str
    name: str | None = None
    size: str | None = None
    cache: str | None = None  # current cache policy as the tool writes it ("NRWTD", "RWBD")
    write_back_configured: bool | None = None  # the policy asked for was write-back
    write_back_now: bool | None = None  # the policy in force is write-back
    os_device: str | None = None  # "/dev/sda"
    progress_pct: float | None = None  # rebuild / background progress where the tool says
    members: tuple[str, ...] = ()  # physical drive ids


@dataclass(frozen=True)
class PhysicalDrive:
    id: str  # "251:2" (EID:Slt), "3I:1:15", "1:0" (enclosure:slot), "0,1" (channel,device)
    state: str  # the tool's word: "Onln", "UBad", "Rbld", "Failed (FLD)"
    health: str
    model: str | None = None
    serial: str | None = None
    size: str | None = None
    array: str | None = None  # the drive group / array it belongs to
    foreign: bool = False  # carries another controller's (an old owner's) configuration
    media_errors: int | None = None
    other_errors: int | None = None
    predictive_failures: int | None = None
    smart_alert: bool | None = None
    firmware: str | None = None

    def counters(self) -> dict[str, int | None]:
        return {"media_errors": self.media_errors, "other_errors": self.other_errors,
                "predictive_failures": self.predictive_failures}


@dataclass(frozen=True)
class Controller:
    tool: str  # "storcli", "perccli", "ssacli", "arcconf", "sas3ircu"
    index: str  # the tool's controller number ("0", "slot=1")
    model: str | None
    serial: str | None = None
    pci_address: str | None = None  # "0000:64:00.0"
    slot: str | None = None
    firmware: str | None = None
    status: str | None = None  # the tool's word for the controller: "Optimal", "OK", "Needs Attention"
    status_ok: bool | None = None
    cache_mb: int | None = None
    battery: Battery | None = None
    memory_correctable: int | None = None
    memory_uncorrectable: int | None = None
    virtual_drives: tuple[VirtualDrive, ...] = ()
    physical_drives: tuple[PhysicalDrive, ...] = ()
    warnings: tuple[str, ...] = ()  # the tool's own warnings about this controller

    @property
    def key(self) -> str:
        return f"{self.tool}:{self.index}"

    def describe(self) -> str:
        where = self.pci_address or (f"slot {self.slot}" if self.slot else None)
        name = self.model or f"{self.tool} controller {self.index}"
        return f"RAID controller {name}" + (f" ({where})" if where else "") + \
            (f", S/N {self.serial}" if self.serial else "")

    def counters(self) -> dict[str, int | None]:
        return {"memory_correctable": self.memory_correctable, "memory_uncorrectable": self.memory_uncorrectable}


def pci_address(domain: int | None, bus: int | None, device: int | None, function: int | None) -> str | None:
    if bus is None or device is None or function is None:
        return None
    return f"{domain or 0:04x}:{bus:02x}:{device:02x}.{function:x}"
