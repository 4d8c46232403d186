"""PCIe links and AER error counters: cards that trained below what they and their slot can do.

What it checks, for every device in /sys/bus/pci/devices:

- Link training (check, and again in finish): the current link speed and width against the best the link can
  achieve, which is the lower of the device's own maximum and its upstream port's maximum (the parent directory
  of the device in sysfs is that port). A card at x4 in an x16 slot, or at Gen2 where both ends do Gen3, is a
  dirty or damaged edge connector, a bad riser, or a slot wired narrower than the buyer was told.
- AER counters (`aer_dev_correctable`, `aer_dev_nonfatal`, `aer_dev_fatal`): read as a baseline in check() and
  again in finish(); what grew during the run is what the run provoked.

What makes it FAIL:
- `pcie-link-degraded`: a storage controller / NVMe drive (class 0x01), NIC (0x02), GPU (0x03) or accelerator
  (0x12) runs below its achievable link (setting `degraded_critical`). Other classes only WARN (setting
  `degraded_other`). A GPU or accelerator whose width is full but whose speed is low is a WARN (setting
  `gpu_speed_downgrade`): GPUs lower their link speed when idle to save power, so a low speed at rest does not
  prove a fault.
- `pcie-aer-uncorrectable`: non-fatal or fatal AER counters grew during the run (correctable growth only WARNs:
  `pcie-aer-correctable`, setting `aer_correctable`).
- `pcie-device-missing`: a device present at preflight is gone at the end (it fell off the bus under load).

Not judged: bridges and root ports themselves (their link is judged from the device below them; an empty or
idle root port may sit at a low link), devices in D3hot/D3cold, links that are down ("Unknown" speed, width 0),
and SR-IOV virtual functions (they have no link of their own). Counts already non-zero at preflight are reported
as INFO (`pcie-aer-errors-since-boot`, setting `aer_since_boot`): they happened since boot, possibly before this
run.

With no PCI bus in sysfs, or no device with link attributes (legacy PCI, as in many VMs), the module cannot test
anything and says so (probe unavailable / Skip), never PASS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from burnin.host import Host
from burnin.inventory.pcie import (
    AER_KINDS,
    PCI_ADDRESS,
    PCI_DEVICES,
    AerCounters,
    PcieDevice,
    read_all_aer,
    read_devices,
    read_sysfs_slots,
)
from burnin.judge import counter_growth
from burnin.model import Judgement, Probe, Severity
from burnin.module import Module, ModuleContext, Skip
from burnin.settings import setting

# Classes whose degraded link costs the buyer real throughput: storage (incl. NVMe 0x0108), network,
# display (GPUs) and processing accelerators.
CRITICAL_CLASS_PREFIXES = (0x01, 0x02, 0x03, 0x12)
GPU_CLASS_PREFIXES = (0x03, 0x12)
BRIDGE_CLASS = 0x0604

_CLASS_NAMES = {
    0x0100: "SCSI controller", 0x0101: "IDE controller", 0x0104: "RAID controller", 0x0106: "SATA controller",
    0x0107: "SAS controller", 0x0108: "NVMe controller", 0x0200: "Ethernet controller",
    0x0207: "InfiniBand controller", 0x0300: "VGA controller", 0x0302: "3D controller", 0x0403: "audio device",
    0x0604: "PCI bridge", 0x0c03: "USB controller", 0x1200: "processing accelerator",
}
_CLASS_GROUP_NAMES = {0x01: "storage controller", 0x02: "network controller", 0x03: "display controller",
                      0x12: "processing accelerator"}


# -- records ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PcieLink:
    """One end's view of a link: speed in GT/s and width in lanes; None where sysfs says "Unknown"."""

    speed_gts: float | None
    width: int | None

    @property
    def up(self) -> bool:
        return bool(self.speed_gts) and bool(self.width)

    def describe(self) -> str:
        speed = f"{self.speed_gts:g} GT/s" if self.speed_gts else "unknown speed"
        width = f"x{self.width}" if self.width else "x?"
        return f"{width} {speed}"


def current_link(device: PcieDevice) -> PcieLink:
    return PcieLink(device.link_speed_gts, device.link_width)


def max_link(device: PcieDevice) -> PcieLink:
    return PcieLink(device.link_speed_max_gts, device.link_width_max)


def class_code(device: PcieDevice) -> int:
    return device.class_code if device.class_code is not None else 0


def class_prefix(device: PcieDevice) -> int:
    return class_code(device) >> 16


def is_bridge(device: PcieDevice) -> bool:
    return class_code(device) >> 8 == BRIDGE_CLASS


def slot_key(device: PcieDevice) -> str:
    """domain:bus:device, the part of the address shared by all functions of one card."""
    return device.address.rsplit(".", 1)[0]


def describe_class(device: PcieDevice) -> str:
    code = class_code(device)
    return _CLASS_NAMES.get(code >> 8) or _CLASS_GROUP_NAMES.get(code >> 16) or f"class 0x{code:06x}"


def vendor_device(device: PcieDevice) -> str:
    """"8086:159b"; "????" for an id the kernel did not give."""
    ids = (device.vendor_id, device.device_id)
    return ":".join(f"{i:04x}" if i is not None else "????" for i in ids)


@dataclass(frozen=True)
class LinkJudgement:
    severity: Severity
    primary: PcieDevice
    functions: tuple[PcieDevice, ...]
    achievable: PcieLink
    port: PcieDevice | None
    speed_only_gpu: bool
    evidence: Mapping[str, object] = field(default_factory=dict)


def slot_of(device: PcieDevice, slots: Mapping[str, str]) -> str | None:
    """The physical slot holding the device: its own bus:dev, else the nearest upstream port's (a card with a
    switch on it sits in the slot of the switch's upstream port)."""
    for address in (device.address, *reversed(device.ancestors)):
        bus_dev = address.rsplit(".", 1)[0]
        for key in (bus_dev, bus_dev.rsplit(":", 1)[0]):
            if key in slots:
                return slots[key]
    return None


# -- judging ---------------------------------------------------------------------------------------
def skip_reason(device: PcieDevice) -> str | None:
    """Why this device's link is not judged, or None when it is."""
    if not device.has_link:
        return "no link attributes"
    if device.virtual_function:
        return "SR-IOV virtual function (shares its physical function's link)"
    if is_bridge(device):
        # A bridge's link is the one to the device below it, judged from that device; an empty or idle root
        # port may legitimately sit at a low link.
        return "bridge or port"
    # A device in D3hot/D3cold has its link in a low-power state (or off): speed reads "Unknown" or the
    # lowest rate. That says nothing about how it trains when in use.
    if device.power_state and device.power_state.startswith("D3"):
        return f"in power state {device.power_state}"
    if not current_link(device).up:
        return "link is down"
    if not max_link(device).up:
        return "maximum link unknown"
    return None


def achievable_link(device: PcieDevice, port: PcieDevice | None) -> PcieLink:
    """The best link both ends support: min(device max, upstream port max)."""
    speed, width = device.link_speed_max_gts, device.link_width_max
    if port is not None and port.has_link and max_link(port).up:
        port_max = max_link(port)
        speed = min(speed, port_max.speed_gts) if speed else port_max.speed_gts
        width = min(width, port_max.width) if width else port_max.width
    return PcieLink(speed, width)


def judge_links(
    devices: Mapping[str, PcieDevice],
    slots: Mapping[str, str],
    degraded_critical: Severity,
    degraded_other: Severity,
    gpu_speed_downgrade: Severity,
) -> tuple[list[LinkJudgement], dict[str, str], int]:
    """Degraded links (one judgement per card: its functions share one link), skipped devices with reasons,
    and how many links were judged."""
    skipped: dict[str, str] = {}
    cards: dict[str, list[PcieDevice]] = {}
    for device in devices.values():
        reason = skip_reason(device)
        if reason:
            if reason != "no link attributes":
                skipped[device.address] = reason
            continue
        cards.setdefault(slot_key(device), []).append(device)

    judgements = []
    for functions in cards.values():
        functions.sort(key=lambda d: (class_prefix(d) not in CRITICAL_CLASS_PREFIXES, d.address))
        primary = functions[0]
        port = devices.get(primary.parent) if primary.parent else None
        best = achievable_link(primary, port)
        current = current_link(primary)
        slow = bool(best.speed_gts and current.speed_gts and current.speed_gts + 1e-6 < best.speed_gts)
        narrow = bool(best.width and current.width and current.width < best.width)
        if not (slow or narrow):
            continue
        critical = any(class_prefix(f) in CRITICAL_CLASS_PREFIXES for f in functions)
        gpu = any(class_prefix(f) in GPU_CLASS_PREFIXES for f in functions)
        speed_only_gpu = gpu and slow and not narrow
        if speed_only_gpu:
            severity = gpu_speed_downgrade
        elif critical:
            severity = degraded_critical
        else:
            severity = degraded_other
        slot = slot_of(primary, slots)
        evidence = {
            "address": primary.address,
            "vendor_device": vendor_device(primary),
            "class": f"0x{class_code(primary):06x}",
            "class_name": describe_class(primary),
            "slot": slot,
            "current_speed_gts": current.speed_gts,
            "current_width": current.width,
            "device_max_speed_gts": primary.link_speed_max_gts,
            "device_max_width": primary.link_width_max,
            "upstream_port": port.address if port else None,
            "port_max_speed_gts": port.link_speed_max_gts if port else None,
            "port_max_width": port.link_width_max if port else None,
            "achievable_speed_gts": best.speed_gts,
            "achievable_width": best.width,
            "functions": [f.address for f in functions],
        }
        judgements.append(LinkJudgement(severity, primary, tuple(functions), best, port, speed_only_gpu, evidence))
    judged = len(cards)
    return judgements, skipped, judged


def aer_growth(before: AerCounters, after: AerCounters) -> dict[str, dict[str, int]]:
    """Per kind, the counters that grew and by how much (the TOTAL_ line alone when nothing else is named)."""
    grown: dict[str, dict[str, int]] = {}
    for kind in AER_KINDS:
        old, new = before.counts.get(kind, {}), after.counts.get(kind, {})
        deltas = counter_growth(old, new, keys=[name for name in new if not name.startswith("TOTAL_")])
        total = counter_growth({kind: before.total(kind)}, {kind: after.total(kind)})
        if total and not deltas:
            deltas = {f"TOTAL_{kind}": total[kind]}
        if deltas:
            grown[kind] = deltas
    return grown


def component(device: PcieDevice) -> str:
    return f"pcie:{device.address}"


def link_message(j: LinkJudgement) -> str:
    slot = j.evidence["slot"]
    where = f"in slot {slot}" if slot else "slot unknown"
    what = f"{j.primary.address} ({describe_class(j.primary)} {j.evidence['vendor_device']}, {where})"
    if j.speed_only_gpu:
        return (f"PCIe link of {what} runs at {current_link(j.primary).describe()} although "
                f"{j.achievable.describe()} is possible; GPUs slow their link when idle, so check it again under "
                f"GPU load.")
    return (f"PCIe link of {what} runs at {current_link(j.primary).describe()} although both the card and its slot "
            f"support {j.achievable.describe()}.")


def judge_link(j: LinkJudgement, during_run: bool) -> Judgement:
    message, evidence = link_message(j), dict(j.evidence)
    if during_run:
        message = f"During the run: {message}"
        evidence["during_run"] = True
    return Judgement(j.severity, component(j.primary), "pcie-link-degraded", message, evidence)


def judge_aer_since_boot(device: PcieDevice, aer: AerCounters, severity: Severity) -> Judgement | None:
    nonzero = aer.nonzero()
    if not nonzero:
        return None
    totals = {kind: aer.total(kind) for kind in AER_KINDS if kind in aer.counts}
    return Judgement(
        severity, component(device), "pcie-aer-errors-since-boot",
        f"{device.address} ({describe_class(device)}) has PCIe errors already counted since boot, before this run.",
        {"address": device.address, "vendor_device": vendor_device(device), "totals": totals, "counters": nonzero})


def judge_aer_growth(device: PcieDevice, before: AerCounters, after: AerCounters,
                     correctable: Severity) -> Judgement | None:
    grown = aer_growth(before, after)
    if not grown:
        return None
    evidence = {
        "address": device.address,
        "vendor_device": vendor_device(device),
        "class": f"0x{class_code(device):06x}",
        "grown": grown,
        "totals_before": {kind: before.total(kind) for kind in grown},
        "totals_after": {kind: after.total(kind) for kind in grown},
    }
    uncorrectable = {k: v for k, v in grown.items() if k in ("nonfatal", "fatal")}
    if uncorrectable:
        return Judgement(Severity.FAIL, component(device), "pcie-aer-uncorrectable",
                         f"{device.address} ({describe_class(device)}) reported uncorrectable PCIe errors during "
                         f"the run ({_describe_growth(uncorrectable)}).", evidence)
    return Judgement(correctable, component(device), "pcie-aer-correctable",
                     f"{device.address} ({describe_class(device)}) reported corrected PCIe errors during the run "
                     f"({_describe_growth(grown)}): a marginal link.", evidence)


def judge_missing(device: PcieDevice) -> Judgement:
    return Judgement(Severity.FAIL, component(device), "pcie-device-missing",
                     f"{device.address} ({describe_class(device)}) present at preflight has disappeared from the bus.",
                     {"address": device.address, "vendor_device": vendor_device(device),
                      "class": f"0x{class_code(device):06x}"})


def _describe_growth(grown: Mapping[str, Mapping[str, int]]) -> str:
    return ", ".join(f"{name} +{delta}" for named in grown.values() for name, delta in named.items())


# -- the module ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PcieSettings:
    degraded_critical: str = setting("fail", "severity of a degraded link on a storage controller, NIC, GPU or "
                                     "accelerator", choices=("warn", "fail"))
    degraded_other: str = setting("warn", "severity of a degraded link on any other class of device",
                                  choices=("info", "warn", "fail"))
    gpu_speed_downgrade: str = setting("warn", "severity of a GPU or accelerator at full width but low speed "
                                       "(GPUs slow their link when idle)", choices=("info", "warn", "fail"))
    aer_since_boot: str = setting("info", "severity of AER error counts already non-zero at preflight",
                                  choices=("info", "warn", "fail"))
    aer_correctable: str = setting("warn", "severity of corrected AER errors counted during the run",
                                   choices=("warn", "fail"))


class PcieModule(Module):
    name = "pcie"
    summary = "PCIe link speed/width against what card and slot support; AER error counters during the run"
    needs = ("/sys/bus/pci with PCIe link attributes",)
    stress = False
    Settings = PcieSettings

    def __init__(self, host: Host, settings: Mapping[str, Any] | None = None):
        super().__init__(host, settings)
        self._devices: dict[str, PcieDevice] = {}
        self._aer: dict[str, AerCounters] = {}
        self._degraded: set[str] = set()
        self._checked = False

    def probe(self) -> Probe:
        try:
            names = [n for n in self.host.listdir(PCI_DEVICES) if PCI_ADDRESS.match(n)]
            if not names:
                return Probe.unavailable(f"no PCI devices under {PCI_DEVICES}")
            if not any(self.host.exists(f"{PCI_DEVICES}/{n}/current_link_speed") for n in names):
                return Probe.unavailable(
                    f"none of the {len(names)} PCI devices has PCIe link attributes (legacy PCI, e.g. a virtual "
                    f"machine): nothing to judge")
            return Probe.ok()
        except Exception as exc:  # probe never raises
            return Probe.unavailable(f"cannot read {PCI_DEVICES}: {exc}")

    def _judge_links(self, ctx: ModuleContext, devices: Mapping[str, PcieDevice], during_run: bool) -> int:
        settings = self.settings
        judgements, skipped, judged = judge_links(
            devices, read_sysfs_slots(self.host), Severity(settings.degraded_critical),
            Severity(settings.degraded_other), Severity(settings.gpu_speed_downgrade))
        if not during_run and skipped:
            ctx.note("PCIe links not judged", skipped=skipped)
        for j in judgements:
            key = slot_key(j.primary)
            if during_run and key in self._degraded:
                continue  # already reported at preflight
            self._degraded.add(key)
            ctx.report(judge_link(j, during_run))
        return judged

    def check(self, ctx: ModuleContext) -> None:
        devices = read_devices(self.host)
        if not devices:
            raise Skip(f"no PCI devices under {PCI_DEVICES}")
        self._devices = devices
        self._aer = read_all_aer(self.host, devices)
        if not any(d.has_link for d in devices.values()) and not self._aer:
            raise Skip(f"none of the {len(devices)} PCI devices has PCIe link attributes or AER counters "
                       f"(legacy PCI, e.g. a virtual machine)")
        judged = self._judge_links(ctx, devices, during_run=False)
        ctx.note("PCIe preflight", devices=len(devices), links_judged=judged, aer_devices=len(self._aer))
        since_boot = Severity(self.settings.aer_since_boot)
        for address, aer in sorted(self._aer.items()):
            judgement = judge_aer_since_boot(devices[address], aer, since_boot)
            if judgement:
                ctx.report(judgement)
        self._checked = True

    def finish(self, ctx: ModuleContext) -> None:
        if not self._checked:
            raise Skip("no PCIe baseline was taken (check did not run)")
        devices = read_devices(self.host)
        for address, device in sorted(self._devices.items()):
            if address not in devices and not device.virtual_function:
                ctx.report(judge_missing(device))
        self._judge_links(ctx, devices, during_run=True)
        after = read_all_aer(self.host, devices)
        correctable = Severity(self.settings.aer_correctable)
        for address, before in sorted(self._aer.items()):
            if address in after:
                judgement = judge_aer_growth(devices[address], before, after[address], correctable)
                if judgement:
                    ctx.report(judgement)
