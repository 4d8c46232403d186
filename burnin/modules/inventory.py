"""Inventory: is this the machine that was promised, is its memory populated right, and did it change?

The runner collects the inventory once before any module starts (journal record `inventory`) and hands it to
every module as `ctx.inventory`. This module judges it:
- check(): memory population (empty slots a channel should fill first, sockets or channels populated unevenly,
  mixed DIMMs, DIMMs running below their rated speed, DIMMs the OS does not use -> FAIL by default) and every
  claim of `--expect FILE` (a mismatch FAILs `claim-mismatch`; a claim that cannot be checked here WARNs).
- finish(): collects again and compares: a CPU, DIMM, disk, NIC or PCIe device that was there at the start and
  is gone at the end FAILs `hardware-vanished`; something new WARNs `hardware-appeared`; less memory seen by the
  operating system at the end than at the start FAILs `memory-shrank`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from burnin.inventory.population import PopulationPolicy
from burnin.model import Probe, Severity
from burnin.module import Module, ModuleContext, Skip
from burnin.settings import setting

_SEVERITIES = ("fail", "warn", "info")


@dataclass(frozen=True)
class InventorySettings:
    dimm_slot_order: str = setting("warn", "severity of an empty slot that the board fills before a populated one "
                                   "(dimm-slot-order)", choices=_SEVERITIES)
    memory_sockets: str = setting("warn", "severity of a CPU socket without memory, or sockets holding different "
                                  "amounts (memory-socket-empty, memory-sockets-unbalanced)", choices=_SEVERITIES)
    memory_channels: str = setting("warn", "severity of channels left empty or filled unevenly "
                                   "(memory-channels-partial, memory-channels-uneven)", choices=_SEVERITIES)
    dimm_mixed: str = setting("warn", "severity of DIMMs of different sizes, speeds or parts (dimm-mixed-*)",
                              choices=_SEVERITIES)
    dimm_speed_below_rated: str = setting("warn", "severity of DIMMs running below their rated speed",
                                          choices=_SEVERITIES)
    dimm_not_used: str = setting("fail", "severity of memory nothing can use: DIMMs adding up to more than the "
                                 "operating system sees, or in a socket without a CPU", choices=_SEVERITIES)
    memory_reserve_pct: float = setting(5.0, "share of the DIMM total firmware and kernel may keep before "
                                        "dimm-not-used (added to memory_reserve_gib)", unit="%")
    memory_reserve_gib: float = setting(1.0, "memory firmware and kernel may keep before dimm-not-used (added to "
                                        "memory_reserve_pct)", unit="GiB")

    def policy(self) -> PopulationPolicy:
        return PopulationPolicy(
            slot_order=Severity(self.dimm_slot_order), sockets=Severity(self.memory_sockets),
            channels=Severity(self.memory_channels), mixed=Severity(self.dimm_mixed),
            speed_below_rated=Severity(self.dimm_speed_below_rated), not_used=Severity(self.dimm_not_used),
            reserve_pct=self.memory_reserve_pct, reserve_gib=self.memory_reserve_gib)


def identities(inventory) -> dict[str, str]:
    """Component name -> description, for everything whose disappearance during a run is a fault."""
    found: dict[str, str] = {}
    for disk in inventory.disks:
        label = f"disk:/dev/{disk.name}" + (f" S/N {disk.serial}" if disk.serial else "")
        found[f"disk:{disk.serial or disk.name}"] = label
    for nic in inventory.nics:
        found[f"nic:{nic.mac or nic.name}"] = f"nic:{nic.name}" + (f" ({nic.mac})" if nic.mac else "")
    for dimm in inventory.memory.dimms:
        if dimm.populated:
            found[f"dimm:{dimm.name}:{dimm.serial or ''}"] = f"dimm:{dimm.name}"
    for device in inventory.pcie.devices:
        found[f"pcie:{device.address}"] = f"pcie:{device.address}"
    if inventory.cpu.threads:
        for cpu in range(inventory.cpu.threads):
            found[f"cpu:{cpu}"] = f"cpu:{cpu}"
    return found


def changes(before: dict[str, str], after: dict[str, str]) -> tuple[list[str], list[str]]:
    """(components gone, components new), as their display names."""
    gone = [before[k] for k in before if k not in after]
    new = [after[k] for k in after if k not in before]
    return gone, new


class InventoryModule(Module):
    name = "inventory"
    summary = "what is in the box: claims (--expect), memory population, hardware that vanishes during the run"
    needs = ("root for SMBIOS tables (DIMM slots)",)
    Settings = InventorySettings

    def probe(self) -> Probe:
        return Probe.ok()

    def check(self, ctx: ModuleContext) -> None:
        from burnin.inventory import inventory_findings
        from burnin.inventory.claims import match_claims

        if ctx.inventory is None:
            raise Skip("no inventory was collected")
        policy = self.settings.policy()
        for note in ctx.inventory.notes:
            ctx.note(note)
        findings = inventory_findings(ctx.inventory, policy)
        if ctx.claims is not None:
            for finding in match_claims(ctx.claims, ctx.inventory, policy=policy):
                if finding.code == "claim-unchecked" and finding.component.endswith(".max_power_on_hours"):
                    # Power-on hours come from SMART: the disk module checks this claim against them.
                    ctx.note(f"{finding.component} is left to the disk module (SMART power-on hours)")
                    continue
                findings.append(finding)
        _emit(ctx, findings)

    def finish(self, ctx: ModuleContext) -> None:
        from burnin.inventory import collect

        if ctx.inventory is None:
            raise Skip("no inventory was collected")
        now = collect(ctx.host)
        gone, new = changes(identities(ctx.inventory), identities(now))
        for component in gone:
            ctx.fail(component, "hardware-vanished",
                     f"{component} was present when the run started and is gone at its end.",
                     {"at_start": True, "at_end": False})
        for component in new:
            ctx.warn(component, "hardware-appeared",
                     f"{component} appeared during the run (it was not there at the start).",
                     {"at_start": False, "at_end": True})
        if now.memory.total_bytes and ctx.inventory.memory.total_bytes and \
                now.memory.total_bytes < ctx.inventory.memory.total_bytes:
            ctx.fail("memory", "memory-shrank",
                     "The operating system sees less memory at the end of the run than at its start.",
                     {"start_bytes": ctx.inventory.memory.total_bytes, "end_bytes": now.memory.total_bytes})


def _emit(ctx: ModuleContext, findings: Iterable[Any]) -> None:
    for finding in findings:
        ctx.finding(finding.severity if isinstance(finding.severity, Severity) else Severity(finding.severity),
                    finding.component, finding.code, finding.message, finding.evidence)
