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
  (0x12) runs below its achievable link. Other classes only WARN (setting `degraded_other`). A GPU or
  accelerator whose width is full but whose speed is low is a WARN (setting `gpu_speed_downgrade`): GPUs lower
  their link speed when idle to save power, so a low speed at rest does not prove a fault.
- `pcie-aer-uncorrectable`: non-fatal or fatal AER counters grew during the run (correctable growth only WARNs:
  `pcie-aer-correctable`).
- `pcie-device-missing`: a device present at preflight is gone at the end (it fell off the bus under load).

Not judged: bridges and root ports themselves (their link is judged from the device below them; an empty or
idle root port may sit at a low link), devices in D3hot/D3cold, links that are down ("Unknown" speed, width 0),
and SR-IOV virtual functions (they have no link of their own). Counts already non-zero at preflight are reported
as INFO (setting `aer_since_boot`): they happened since boot, possibly before this run.

With no PCI bus in sysfs, or no device with link attributes (legacy PCI, as in many VMs), the module cannot test
anything and says so (probe unavailable / Skip), never PASS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

from burnin.host import Host
from burnin.model import Probe, Severity
from burnin.module import Module, ModuleContext, Skip

PCI_DEVICES = "/sys/bus/pci/devices"
PCI_SLOTS = "/sys/bus/pci/slots"
LINK_ATTRS = ("current_link_speed", "max_link_speed", "current_link_width", "max_link_width")
AER_KINDS = ("correctable", "nonfatal", "fatal")

_PCI_ADDRESS = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")
_SPEED = re.compile(r"([\d.]+)\s*GT/s")

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


@dataclass(frozen=True)
class PcieDevice:
    address: str  # "0000:3b:00.0"
    vendor_id: str  # "8086"
    device_id: str
    class_code: int  # 0x010802
    power_state: str | None  # "D0", "D3cold"; None when the kernel does not say
    has_link: bool  # all four link attributes exist
    current: PcieLink
    maximum: PcieLink
    upstream: str | None  # PCI address of the parent port, None under a host bridge
    ancestors: tuple[str, ...]  # PCI addresses from the root down to the parent
    virtual_function: bool

    @property
    def is_bridge(self) -> bool:
        return self.class_code >> 8 == BRIDGE_CLASS

    @property
    def class_prefix(self) -> int:
        return self.class_code >> 16

    @property
    def slot_key(self) -> str:
        """domain:bus:device, the part of the address shared by all functions of one card."""
        return self.address.rsplit(".", 1)[0]

    def describe_class(self) -> str:
        return _CLASS_NAMES.get(self.class_code >> 8) or _CLASS_GROUP_NAMES.get(self.class_prefix) \
            or f"class 0x{self.class_code:06x}"


@dataclass(frozen=True)
class AerCounters:
    """The kernel's per-device AER counters, by kind ("correctable", "nonfatal", "fatal") and error name."""

    counts: Mapping[str, Mapping[str, int]]

    def total(self, kind: str) -> int:
        named = self.counts.get(kind, {})
        totals = [v for k, v in named.items() if k.startswith("TOTAL_")]
        return totals[0] if totals else sum(named.values())

    def nonzero(self) -> dict[str, dict[str, int]]:
        return {kind: {k: v for k, v in named.items() if v and not k.startswith("TOTAL_")}
                for kind, named in self.counts.items() if self.total(kind)}


@dataclass(frozen=True)
class LinkJudgement:
    severity: Severity
    primary: PcieDevice
    functions: tuple[PcieDevice, ...]
    achievable: PcieLink
    port: PcieDevice | None
    speed_only_gpu: bool
    evidence: Mapping[str, object] = field(default_factory=dict)


# -- reading ---------------------------------------------------------------------------------------
def parse_link_speed(text: str | None) -> float | None:
    """"8.0 GT/s PCIe" (newer kernels), "8 GT/s" (older), "Unknown" -> 8.0, 8.0, None."""
    if not text:
        return None
    match = _SPEED.search(text)
    return float(match.group(1)) if match else None


def parse_link_width(text: str | None) -> int | None:
    """"16" or "x16" -> 16; "0" (link down) -> None."""
    if not text:
        return None
    try:
        width = int(text.strip().lstrip("x"))
    except ValueError:
        return None
    return width or None


def parse_aer(text: str | None) -> dict[str, int]:
    """Lines like "RxErr 0" / "TOTAL_ERR_COR 2" -> {"RxErr": 0, "TOTAL_ERR_COR": 2}."""
    counts: dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


def _hex_id(text: str | None) -> str:
    return (text or "").strip().lower().removeprefix("0x") or "????"


def read_device(host: Host, address: str) -> PcieDevice:
    path = f"{PCI_DEVICES}/{address}"
    parts = host.realpath(path).split("/")
    ancestors = tuple(p for p in parts[:-1] if _PCI_ADDRESS.match(p))
    class_code = host.read_int(f"{path}/class")
    return PcieDevice(
        address=address,
        vendor_id=_hex_id(host.read_text(f"{path}/vendor")),
        device_id=_hex_id(host.read_text(f"{path}/device")),
        class_code=class_code if class_code is not None else 0,
        power_state=host.read_text(f"{path}/power_state"),
        has_link=all(host.exists(f"{path}/{attr}") for attr in LINK_ATTRS),
        current=PcieLink(parse_link_speed(host.read_text(f"{path}/current_link_speed")),
                         parse_link_width(host.read_text(f"{path}/current_link_width"))),
        maximum=PcieLink(parse_link_speed(host.read_text(f"{path}/max_link_speed")),
                         parse_link_width(host.read_text(f"{path}/max_link_width"))),
        upstream=ancestors[-1] if ancestors else None,
        ancestors=ancestors,
        virtual_function=host.exists(f"{path}/physfn"),
    )


def read_devices(host: Host) -> dict[str, PcieDevice]:
    return {name: read_device(host, name) for name in host.listdir(PCI_DEVICES) if _PCI_ADDRESS.match(name)}


def read_aer(host: Host, address: str) -> AerCounters | None:
    texts = {kind: host.read_text(f"{PCI_DEVICES}/{address}/aer_dev_{kind}") for kind in AER_KINDS}
    if all(text is None for text in texts.values()):
        return None
    return AerCounters({kind: parse_aer(text) for kind, text in texts.items() if text is not None})


def read_all_aer(host: Host, devices: Mapping[str, PcieDevice]) -> dict[str, AerCounters]:
    counters = {}
    for address in devices:
        aer = read_aer(host, address)
        if aer is not None:
            counters[address] = aer
    return counters


def read_slots(host: Host) -> dict[str, str]:
    """Slot address ("0000:3b:00", or "0000:3b" for a slot whose device number is unknown) -> slot name."""
    slots = {}
    for slot_dir in host.glob(PCI_SLOTS, "*"):
        address = host.read_text(f"{slot_dir}/address")
        if address:
            slots[address.strip().lower()] = slot_dir.rsplit("/", 1)[1]
    return slots


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
    if device.is_bridge:
        # A bridge's link is the one to the device below it, judged from that device; an empty or idle root
        # port may legitimately sit at a low link.
        return "bridge or port"
    # A device in D3hot/D3cold has its link in a low-power state (or off): speed reads "Unknown" or the
    # lowest rate. That says nothing about how it trains when in use.
    if device.power_state and device.power_state.startswith("D3"):
        return f"in power state {device.power_state}"
    if not device.current.up:
        return "link is down"
    if not device.maximum.up:
        return "maximum link unknown"
    return None


def achievable_link(device: PcieDevice, port: PcieDevice | None) -> PcieLink:
    """The best link both ends support: min(device max, upstream port max)."""
    speed, width = device.maximum.speed_gts, device.maximum.width
    if port is not None and port.has_link and port.maximum.up:
        speed = min(speed, port.maximum.speed_gts) if speed else port.maximum.speed_gts
        width = min(width, port.maximum.width) if width else port.maximum.width
    return PcieLink(speed, width)


def judge_links(
    devices: Mapping[str, PcieDevice],
    slots: Mapping[str, str],
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
        cards.setdefault(device.slot_key, []).append(device)

    judgements = []
    for functions in cards.values():
        functions.sort(key=lambda d: (d.class_prefix not in CRITICAL_CLASS_PREFIXES, d.address))
        primary = functions[0]
        port = devices.get(primary.upstream) if primary.upstream else None
        best = achievable_link(primary, port)
        current = primary.current
        slow = bool(best.speed_gts and current.speed_gts and current.speed_gts + 1e-6 < best.speed_gts)
        narrow = bool(best.width and current.width and current.width < best.width)
        if not (slow or narrow):
            continue
        critical = any(f.class_prefix in CRITICAL_CLASS_PREFIXES for f in functions)
        gpu = any(f.class_prefix in GPU_CLASS_PREFIXES for f in functions)
        speed_only_gpu = gpu and slow and not narrow
        if speed_only_gpu:
            severity = gpu_speed_downgrade
        elif critical:
            severity = Severity.FAIL
        else:
            severity = degraded_other
        slot = slot_of(primary, slots)
        evidence = {
            "address": primary.address,
            "vendor_device": f"{primary.vendor_id}:{primary.device_id}",
            "class": f"0x{primary.class_code:06x}",
            "class_name": primary.describe_class(),
            "slot": slot,
            "current_speed_gts": current.speed_gts,
            "current_width": current.width,
            "device_max_speed_gts": primary.maximum.speed_gts,
            "device_max_width": primary.maximum.width,
            "upstream_port": port.address if port else None,
            "port_max_speed_gts": port.maximum.speed_gts if port else None,
            "port_max_width": port.maximum.width if port else None,
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
        deltas = {name: new[name] - old.get(name, 0) for name in new
                  if not name.startswith("TOTAL_") and new[name] > old.get(name, 0)}
        total_delta = after.total(kind) - before.total(kind)
        if total_delta > 0 and not deltas:
            deltas = {f"TOTAL_{kind}": total_delta}
        if deltas:
            grown[kind] = deltas
    return grown


def component(device: PcieDevice) -> str:
    return f"pcie:{device.address}"


def link_message(j: LinkJudgement) -> str:
    slot = j.evidence["slot"]
    where = f"in slot {slot}" if slot else "slot unknown"
    what = f"{j.primary.address} ({j.primary.describe_class()} {j.evidence['vendor_device']}, {where})"
    if j.speed_only_gpu:
        return (f"PCIe link of {what} runs at {j.primary.current.describe()} although {j.achievable.describe()} "
                f"is possible; GPUs slow their link when idle, so check it again under GPU load.")
    return (f"PCIe link of {what} runs at {j.primary.current.describe()} although both the card and its slot "
            f"support {j.achievable.describe()}.")


# -- the module ------------------------------------------------------------------------------------
class PcieModule(Module):
    name = "pcie"
    summary = "PCIe link speed/width against what card and slot support; AER error counters during the run"
    needs = ("/sys/bus/pci with PCIe link attributes",)
    stress = False
    settings = {
        "degraded_other": "warn",  # severity of a degraded link on classes other than storage/NIC/GPU/accelerator
        "gpu_speed_downgrade": "warn",  # severity of a GPU/accelerator at full width but low speed (idle power saving)
        "aer_since_boot": "info",  # severity of AER counts already non-zero at preflight
    }

    def __init__(self, host: Host, settings=None):
        super().__init__(host, settings)
        self._devices: dict[str, PcieDevice] = {}
        self._aer: dict[str, AerCounters] = {}
        self._degraded: set[str] = set()
        self._checked = False

    def probe(self) -> Probe:
        try:
            names = [n for n in self.host.listdir(PCI_DEVICES) if _PCI_ADDRESS.match(n)]
            if not names:
                return Probe.unavailable(f"no PCI devices under {PCI_DEVICES}")
            if not any(self.host.exists(f"{PCI_DEVICES}/{n}/current_link_speed") for n in names):
                return Probe.unavailable(
                    f"none of the {len(names)} PCI devices has PCIe link attributes (legacy PCI, e.g. a virtual "
                    f"machine): nothing to judge")
            return Probe.ok()
        except Exception as exc:  # probe never raises
            return Probe.unavailable(f"cannot read {PCI_DEVICES}: {exc}")

    def _severity(self, key: str) -> Severity:
        return Severity(str(self.config[key]).lower())

    def _judge_links(self, ctx: ModuleContext, devices: Mapping[str, PcieDevice], during_run: bool) -> int:
        judgements, skipped, judged = judge_links(
            devices, read_slots(self.host), self._severity("degraded_other"), self._severity("gpu_speed_downgrade"))
        if not during_run and skipped:
            ctx.note("PCIe links not judged", skipped=skipped)
        for j in judgements:
            key = j.primary.slot_key
            if during_run and key in self._degraded:
                continue  # already reported at preflight
            self._degraded.add(key)
            message = link_message(j)
            evidence = dict(j.evidence)
            if during_run:
                message = f"During the run: {message}"
                evidence["during_run"] = True
            ctx.finding(j.severity, component(j.primary), "pcie-link-degraded", message, evidence)
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
        since_boot = self._severity("aer_since_boot")
        for address, aer in sorted(self._aer.items()):
            nonzero = aer.nonzero()
            if not nonzero:
                continue
            totals = {kind: aer.total(kind) for kind in AER_KINDS if kind in aer.counts}
            device = devices[address]
            ctx.finding(
                since_boot, component(device), "pcie-aer-errors-since-boot",
                f"{address} ({device.describe_class()}) has PCIe errors already counted since boot, before this run.",
                {"address": address, "vendor_device": f"{device.vendor_id}:{device.device_id}",
                 "totals": totals, "counters": nonzero},
            )
        self._checked = True

    def finish(self, ctx: ModuleContext) -> None:
        if not self._checked:
            raise Skip("no PCIe baseline was taken (check did not run)")
        devices = read_devices(self.host)
        for address, device in sorted(self._devices.items()):
            if address not in devices and not device.virtual_function:
                ctx.fail(component(device), "pcie-device-missing",
                         f"{address} ({device.describe_class()}) present at preflight has disappeared from the bus.",
                         {"address": address, "vendor_device": f"{device.vendor_id}:{device.device_id}",
                          "class": f"0x{device.class_code:06x}"})
        self._judge_links(ctx, devices, during_run=True)
        after = read_all_aer(self.host, devices)
        for address, before in sorted(self._aer.items()):
            if address not in after:
                continue
            grown = aer_growth(before, after[address])
            if not grown:
                continue
            device = devices[address]
            evidence = {
                "address": address,
                "vendor_device": f"{device.vendor_id}:{device.device_id}",
                "class": f"0x{device.class_code:06x}",
                "grown": grown,
                "totals_before": {kind: before.total(kind) for kind in grown},
                "totals_after": {kind: after[address].total(kind) for kind in grown},
            }
            uncorrectable = {k: v for k, v in grown.items() if k in ("nonfatal", "fatal")}
            if uncorrectable:
                ctx.fail(component(device), "pcie-aer-uncorrectable",
                         f"{address} ({device.describe_class()}) reported uncorrectable PCIe errors during the run "
                         f"({_describe_growth(uncorrectable)}).", evidence)
            elif "correctable" in grown:
                ctx.warn(component(device), "pcie-aer-correctable",
                         f"{address} ({device.describe_class()}) reported corrected PCIe errors during the run "
                         f"({_describe_growth(grown)}): a marginal link.", evidence)


def _describe_growth(grown: Mapping[str, Mapping[str, int]]) -> str:
    return ", ".join(f"{name} +{delta}" for named in grown.values() for name, delta in named.items())
