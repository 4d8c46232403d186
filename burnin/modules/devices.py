"""Devices that vanish or flap during the run, seen live through the kernel's device events (uevents).

A disk that drops off its controller under load, a NIC that falls off the bus, an NVMe controller the kernel
removes after a reset: the kernel announces each with a "remove" uevent the moment it happens. This module
listens to those events from check() to finish() (pyudev, netlink) for the subsystems block (whole disks only,
not partitions), net, pci, nvme and scsi (SCSI devices, not hosts or targets).

What makes it FAIL:
- `device-removed`: a hardware device was removed during the run ("disk sdc disappeared 00:17:42 into the run").
  A disk whose capacity drops to 0 (its medium or backing is gone) counts as removed too. Removals of a device
  and its children within one burst (an HBA and its disks, a NIC's PCI function and its interface) are one
  finding, named after the most telling member (disk > network interface > NVMe > SCSI > PCI).
WARN: `device-readded`: a removed device came back (the same kernel name or the same disk serial): a flapping
  device, a loose cable or backplane.

Network interfaces that burnin itself moves (the network module's traffic test puts cabled ports into network
namespaces, which the kernel reports as a removal and, on their way back, an addition) are noted, not judged:
the network module announces each move (burnin.tools.netns.announce_change) before it makes it.

Virtual devices (everything under /sys/devices/virtual: loop, dm, veth, bridges; and SR-IOV virtual functions)
are not hardware: containers and the system create and delete them at will. Their removal is judged with the
severity of the setting `virtual_devices` (default INFO; "ignore" only notes it).

Devices that appear during the run are noted, not judged (the inventory module compares start and end).
No pyudev, no permission to open a netlink socket, or a captured tree (--sysroot) -> probe unavailable.
"""

from __future__ import annotations

import errno
import time
from dataclasses import dataclass
from typing import Any, Mapping

from burnin.model import Judgement, Probe, Severity
from burnin.module import Module, ModuleContext, Skip
from burnin.settings import setting
from burnin.tools import netns

SUBSYSTEMS = ("block", "net", "pci", "nvme", "scsi")
POLL_S = 0.25  # how long one poll waits for an event; run() looks at ctx.stopping() in between
BURST_S = 0.5  # removals closer together than this are one burst, judged together

# Which member of a burst names the finding: what a buyer recognises first.
_NAMING_ORDER = {"block": 0, "net": 1, "nvme": 2, "scsi": 3, "pci": 4}
_KIND = {"block": "disk", "net": "network interface", "nvme": "NVMe controller", "scsi": "SCSI device",
         "pci": "PCI device"}

VIRTUAL_CHOICES = ("fail", "warn", "info", "ignore")


# -- records ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeviceEvent:
    """One kernel uevent, as the properties of its netlink message say it."""

    action: str  # "add", "remove", "change", "bind", "unbind", "move"
    subsystem: str
    name: str  # kernel name: "sdc", "eth0", "0000:3b:00.0", "nvme0", "2:0:0:0"
    devtype: str | None  # "disk", "partition", "scsi_device"…
    devpath: str  # "/devices/pci0000:00/…/block/sdc" (relative to /sys)
    seqnum: int | None
    media_change: bool  # DISK_MEDIA_CHANGE=1
    elapsed_s: float  # seconds since the run started when the event was read
    before_run: bool = False  # read before run() began (during the preflight checks)

    @property
    def key(self) -> tuple[str, str]:
        return (self.subsystem, self.name)

    @property
    def virtual(self) -> bool:
        return self.devpath.startswith("/devices/virtual/")


@dataclass(frozen=True)
class KnownDevice:
    """A device present when the baseline was taken."""

    subsystem: str
    name: str
    devpath: str
    virtual: bool
    size_sectors: int | None = None  # block devices
    serial: str | None = None  # disks, from the inventory

    @property
    def key(self) -> tuple[str, str]:
        return (self.subsystem, self.name)


# -- pure helpers ----------------------------------------------------------------------------------
def event_from_properties(props: Mapping[str, str], elapsed_s: float, before_run: bool = False) -> DeviceEvent | None:
    """A uevent's properties (ACTION, SUBSYSTEM, DEVPATH, …) -> DeviceEvent; None when one is missing."""
    action, subsystem, devpath = props.get("ACTION"), props.get("SUBSYSTEM"), props.get("DEVPATH")
    if not (action and subsystem and devpath):
        return None
    name = props.get("INTERFACE") if subsystem == "net" and props.get("INTERFACE") else devpath.rsplit("/", 1)[-1]
    seq = props.get("SEQNUM")
    return DeviceEvent(
        action=action, subsystem=subsystem, name=name, devtype=props.get("DEVTYPE"), devpath=devpath,
        seqnum=int(seq) if seq and seq.isdigit() else None, media_change=props.get("DISK_MEDIA_CHANGE") == "1",
        elapsed_s=elapsed_s, before_run=before_run,
    )


def judged_kind(subsystem: str, devtype: str | None) -> bool:
    """Whether events of this kind are judged: whole disks, not partitions; SCSI devices, not hosts/targets."""
    if subsystem == "block":
        return devtype in (None, "disk")
    if subsystem == "scsi":
        return devtype in (None, "scsi_device")
    return subsystem in SUBSYSTEMS


def format_elapsed(seconds: float) -> str:
    """3462.4 -> "00:57:42"."""
    total = max(0, int(seconds))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def component_of(subsystem: str, name: str, serial: str | None = None) -> str:
    if subsystem == "block":
        return f"disk:/dev/{name}" + (f" S/N {serial}" if serial else "")
    if subsystem == "net":
        return f"nic:{name}"
    if subsystem == "pci":
        return f"pcie:{name}"
    return f"{subsystem}:{name}"


def nested(parent: str, child: str) -> bool:
    return child.startswith(parent.rstrip("/") + "/")


class EventJudge:
    """Turns device events into judgements. Pure: the caller feeds events and reads block sizes for it."""

    def __init__(self, baseline: Mapping[tuple[str, str], KnownDevice]):
        self.baseline = dict(baseline)
        self.removed: dict[tuple[str, str], DeviceEvent] = {}  # gone and not back, with the removal event
        self.removed_serials: dict[str, tuple[str, str]] = {}  # disk serial -> key of the removed disk
        self.pending: list[DeviceEvent] = []  # removals of the current burst
        self.notes: list[tuple[str, dict[str, Any]]] = []
        self.counts = {"events": 0, "judged": 0}

    # -- feeding -------------------------------------------------------------------------------------
    def feed(self, event: DeviceEvent, size_sectors: int | None = None,
             serial: str | None = None, own_change: str | None = None) -> list[Judgement]:
        """Judge one event. `size_sectors`: a block device's capacity now (for "change" events); `serial`: an
        added disk's serial; `own_change`: what burnin itself just did to this network interface, if anything.
        Returns what is ready to emit (a burst is emitted once it is over)."""
        self.counts["events"] += 1
        if not judged_kind(event.subsystem, event.devtype):
            return []
        self.counts["judged"] += 1
        ready: list[Judgement] = []
        if self.pending and event.elapsed_s - self.pending[-1].elapsed_s > BURST_S:
            ready += self.flush()
        if own_change and event.subsystem == "net" and event.action in ("remove", "add"):
            self.counts["own"] = self.counts.get("own", 0) + 1
            self.notes.append((f"network interface {event.name} "
                               + ("left" if event.action == "remove" else "came back to")
                               + f" this network namespace: burnin {own_change}",
                               {"subsystem": "net", "name": event.name, "action": event.action,
                                "elapsed": format_elapsed(event.elapsed_s)}))
            return ready
        if event.action == "remove":
            if event.key not in self.removed:
                self.pending.append(event)
        elif event.action == "change" and event.subsystem == "block":
            known = self.baseline.get(event.key)
            if known and known.size_sectors and size_sectors == 0 and event.key not in self.removed:
                # The device node stays but its medium or backing is gone (a detached loop device, a disk
                # whose capacity the kernel set to 0): for whoever uses it, the disk has disappeared.
                self.pending.append(event)
            elif size_sectors and event.key in self.removed:
                ready += self.flush()
                ready.append(self._readded(event, "its capacity came back"))
        elif event.action == "add":
            ready += self.flush()
            key = event.key
            if key not in self.removed and serial and serial in self.removed_serials:
                key = self.removed_serials[serial]
            if key in self.removed:
                ready.append(self._readded(event, "it was added again" if key == event.key
                                           else f"it came back as {event.name} (same serial {serial})", key))
            elif event.key not in self.baseline:
                self.notes.append((f"{_KIND.get(event.subsystem, event.subsystem)} {event.name} appeared during "
                                   f"the run", {"subsystem": event.subsystem, "name": event.name,
                                                "devpath": event.devpath, "virtual": event.virtual,
                                                "elapsed": format_elapsed(event.elapsed_s)}))
        return ready

    def tick(self, elapsed_s: float) -> list[Judgement]:
        """Called when no event came for a while: a burst older than BURST_S is over."""
        if self.pending and elapsed_s - self.pending[-1].elapsed_s > BURST_S:
            return self.flush()
        return []

    def flush(self) -> list[Judgement]:
        """Judge the pending removals: one finding per group of nested devices."""
        burst, self.pending = self.pending, []
        groups: list[list[DeviceEvent]] = []
        for event in burst:
            for group in groups:
                if any(nested(e.devpath, event.devpath) or nested(event.devpath, e.devpath) or
                       e.devpath == event.devpath for e in group):
                    group.append(event)
                    break
            else:
                groups.append([event])
        return [self._removed(group) for group in groups]

    # -- judging -------------------------------------------------------------------------------------
    def _is_virtual(self, event: DeviceEvent) -> bool:
        known = self.baseline.get(event.key)
        return event.virtual or bool(known and known.virtual)

    def _removed(self, group: list[DeviceEvent]) -> Judgement:
        primary = min(group, key=lambda e: (_NAMING_ORDER.get(e.subsystem, 9), len(e.devpath)))
        for event in group:
            self.removed[event.key] = event
            known = self.baseline.get(event.key)
            if known and known.serial:
                self.removed_serials[known.serial] = event.key
        known = self.baseline.get(primary.key)
        virtual = all(self._is_virtual(e) for e in group)
        kind = _KIND.get(primary.subsystem, primary.subsystem)
        when = format_elapsed(primary.elapsed_s)
        how = "lost its medium (capacity 0)" if primary.action == "change" else "disappeared"
        what = f"{kind} {primary.name}" + (f" (S/N {known.serial})" if known and known.serial else "")
        others = [f"{_KIND.get(e.subsystem, e.subsystem)} {e.name}" for e in group if e is not primary]
        message = f"The {what} {how} " + ("during the preflight checks" if primary.before_run else
                                           f"{when} into the run")
        message += f", together with {', '.join(others)}." if others else "."
        if virtual:
            message += " It is a virtual device (not hardware)."
        evidence = {
            "subsystem": primary.subsystem,
            "name": primary.name,
            "devpath": primary.devpath,
            "elapsed": None if primary.before_run else when,
            "elapsed_s": None if primary.before_run else round(primary.elapsed_s, 3),
            "action": primary.action,
            "seqnum": primary.seqnum,
            "present_at_start": known is not None,
            "virtual": virtual,
            "removed_together": [{"subsystem": e.subsystem, "name": e.name, "devpath": e.devpath} for e in group
                                 if e is not primary],
        }
        if known and known.serial:
            evidence["serial"] = known.serial
        return Judgement(Severity.FAIL, component_of(primary.subsystem, primary.name, known.serial if known else None),
                         "device-removed", message, evidence)

    def _readded(self, event: DeviceEvent, how: str, key: tuple[str, str] | None = None) -> Judgement:
        key = key or event.key
        gone = self.removed.pop(key)
        known = self.baseline.get(key)
        if known and known.serial:
            self.removed_serials.pop(known.serial, None)
        kind = _KIND.get(gone.subsystem, gone.subsystem)
        virtual = self._is_virtual(gone)
        return Judgement(
            Severity.WARN, component_of(gone.subsystem, gone.name, known.serial if known else None), "device-readded",
            f"The {kind} {gone.name} came back "
            + ("during the preflight checks" if event.before_run else f"{format_elapsed(event.elapsed_s)} into the run")
            + " after it had disappeared"
            + (" during the preflight checks" if gone.before_run else f" at {format_elapsed(gone.elapsed_s)}")
            + f" ({how}): a flapping device, often a loose cable, connector or backplane slot.",
            {"subsystem": gone.subsystem, "name": gone.name, "new_name": event.name, "devpath": event.devpath,
             "removed_at": format_elapsed(gone.elapsed_s), "readded_at": format_elapsed(event.elapsed_s),
             "virtual": virtual},
        )


# -- reading the baseline --------------------------------------------------------------------------
def read_baseline(host, inventory=None) -> dict[tuple[str, str], KnownDevice]:
    """What is there now, per subsystem. Virtual devices are listed too (the inventory leaves them out), since
    their events must be told apart from hardware; disk serials come from the inventory."""
    serials = {d.name: d.serial for d in getattr(inventory, "disks", ()) if d.serial}
    found: dict[tuple[str, str], KnownDevice] = {}

    def add(subsystem: str, name: str, link: str, **extra: Any) -> None:
        devpath = host.realpath(link).removeprefix("/sys")
        virtual = devpath.startswith("/devices/virtual/") or host.exists(f"{link}/physfn")
        found[(subsystem, name)] = KnownDevice(subsystem, name, devpath, virtual, **extra)

    for name in host.listdir("/sys/class/block"):
        if host.exists(f"/sys/class/block/{name}/partition"):
            continue
        add("block", name, f"/sys/class/block/{name}", size_sectors=host.read_int(f"/sys/class/block/{name}/size"),
            serial=serials.get(name))
    for name in host.listdir("/sys/class/net"):
        add("net", name, f"/sys/class/net/{name}")
    for name in host.listdir("/sys/bus/pci/devices"):
        add("pci", name, f"/sys/bus/pci/devices/{name}")
    for name in host.listdir("/sys/class/nvme"):
        add("nvme", name, f"/sys/class/nvme/{name}")
    for name in host.listdir("/sys/bus/scsi/devices"):
        if name[:1].isdigit():  # "2:0:0:0" devices; not "host2" or "target2:0:0"
            add("scsi", name, f"/sys/bus/scsi/devices/{name}")
    return found


def read_disk_serial(host, name: str) -> str | None:
    """A newly added disk's serial from sysfs (SCSI/SATA VPD page 0x80 or NVMe's serial file)."""
    from burnin.inventory.disks import parse_vpd_serial

    serial = parse_vpd_serial(host.read_bytes(f"/sys/class/block/{name}/device/vpd_pg80"))
    if not serial:
        serial = (host.read_text(f"/sys/class/block/{name}/device/serial") or "").strip() or None
    return serial


# -- the module ------------------------------------------------------------------------------------
def open_monitor():
    """A started pyudev monitor on the kernel's uevents for our subsystems. Raises ImportError/OSError."""
    import pyudev  # lazily: only this module needs it, and only on a live host

    context = pyudev.Context()
    # source="kernel": the raw uevents straight from the kernel. The default "udev" source only carries what
    # udevd re-broadcasts after processing, and receives nothing at all where udevd is not running (minimal
    # live images, containers, CI). We lose udev's properties (ID_SERIAL…), which we read from sysfs instead.
    monitor = pyudev.Monitor.from_netlink(context, source="kernel")
    for subsystem in SUBSYSTEMS:
        monitor.filter_by(subsystem)
    monitor.start()
    return monitor


@dataclass(frozen=True)
class DevicesSettings:
    virtual_devices: str = setting("info", "severity of a virtual device (loop, dm, veth, bridge, SR-IOV VF) removed "
                                   "during the run; \"ignore\" only notes it", choices=VIRTUAL_CHOICES)


class DevicesModule(Module):
    name = "devices"
    summary = "disks, NICs, NVMe and PCI devices that vanish or flap during the run (kernel device events)"
    needs = ("pyudev (libudev)", "a netlink socket for kernel uevents", "a live host")
    stress = False
    Settings = DevicesSettings
    state_dir: str | None = None  # where the network module announces its moves (tests point it elsewhere)

    def __init__(self, host, settings=None):
        super().__init__(host, settings)
        self._monitor = None
        self._judge: EventJudge | None = None
        self._start: float | None = None  # monotonic time the run started (elapsed times count from here)
        self._lost_events = 0

    def probe(self) -> Probe:
        if not self.host.live:
            return Probe.unavailable("no live device events in a captured tree")
        try:
            open_monitor()  # dropped at once: check() opens the one that listens, in the module's own process
        except ImportError as exc:
            return Probe.unavailable(f"pyudev is not installed ({exc})")
        except Exception as exc:  # OSError from netlink (EPERM, EACCES), libudev missing
            return Probe.unavailable(f"cannot listen to kernel device events: {exc}")
        return Probe.ok()

    # -- plumbing --------------------------------------------------------------------------------------
    def _ensure_started(self, ctx: ModuleContext) -> None:
        if not self.host.live:
            raise Skip("no live device events in a captured tree")
        if self._monitor is None:
            try:
                self._monitor = open_monitor()
            except ImportError as exc:
                raise Skip(f"pyudev is not installed ({exc})") from exc
            except OSError as exc:
                raise Skip(f"cannot listen to kernel device events: {exc}") from exc
        if self._judge is None:
            baseline = read_baseline(self.host, ctx.inventory)
            self._judge = EventJudge(baseline)
            ctx.note("device events: watching from here on", devices=len(baseline),
                     by_subsystem={s: sum(1 for k in baseline if k[0] == s) for s in SUBSYSTEMS},
                     virtual=sum(1 for d in baseline.values() if d.virtual))

    def _elapsed(self) -> float:
        return time.monotonic() - self._start if self._start is not None else 0.0

    def _emit(self, ctx: ModuleContext, judgements: list[Judgement]) -> None:
        virtual_setting = self.settings.virtual_devices
        for j in judgements:
            severity = j.severity
            if j.evidence.get("virtual"):
                # Virtual devices that came and went during the run (containers' veths, snaps' loops) are churn.
                if virtual_setting == "ignore" or not j.evidence.get("present_at_start", True):
                    ctx.note(j.message, code=j.code, component=j.component, **dict(j.evidence))
                    continue
                severity = Severity(virtual_setting)
                if j.code == "device-readded" and severity is Severity.FAIL:
                    severity = Severity.WARN
            ctx.report(j.with_severity(severity))
        assert self._judge is not None
        for message, data in self._judge.notes:
            ctx.note(message, **data)
        self._judge.notes.clear()

    def _pump(self, ctx: ModuleContext, timeout: float) -> bool:
        """Read at most one event (waiting up to `timeout`) and judge it; False when none came."""
        assert self._judge is not None
        try:
            device = self._monitor.poll(timeout=timeout)
        except OSError as exc:
            if exc.errno == errno.ENOBUFS:  # the kernel dropped events: our socket buffer overflowed
                self._lost_events += 1
                ctx.note("kernel device events were lost (netlink buffer overflow); the inventory comparison "
                         "at the end still catches devices that stayed away")
                return True
            raise
        if device is None:
            self._emit(ctx, self._judge.tick(self._elapsed()))
            return False
        event = event_from_properties(dict(device.properties), self._elapsed(), before_run=self._start is None)
        if event is None:
            return True
        size = serial = None
        if event.subsystem == "block" and event.action in ("change", "add"):
            size = self.host.read_int(f"/sys/class/block/{event.name}/size")
            if event.action == "add":
                serial = read_disk_serial(self.host, event.name)
        self._emit(ctx, self._judge.feed(event, size, serial, self._own_change(event)))
        return True

    def _own_change(self, event: DeviceEvent) -> str | None:
        """What burnin said it did to this network interface just before its event, if anything."""
        if event.subsystem != "net" or event.action not in ("remove", "add"):
            return None
        seconds_ago = netns.own_changes(self.state_dir).get(event.name)
        if seconds_ago is None:
            return None
        return f"moved it {max(0.0, seconds_ago):.0f} s earlier (the network module's traffic test)"

    # -- phases ----------------------------------------------------------------------------------------
    def check(self, ctx: ModuleContext) -> None:
        self._ensure_started(ctx)

    def run(self, ctx: ModuleContext) -> None:
        self._ensure_started(ctx)
        self._drain(ctx)  # what happened between check() and now belongs to the preflight
        self._start = time.monotonic()
        while not ctx.stopping():
            self._pump(ctx, POLL_S)
        self._drain(ctx)

    def finish(self, ctx: ModuleContext) -> None:
        if self._judge is None:
            raise Skip("device events were not watched (check and run did not run)")
        self._drain(ctx)
        self._emit(ctx, self._judge.flush())
        still_gone = sorted(f"{s}:{n}" for s, n in self._judge.removed)
        ctx.note("device events: watched to the end of the run", events=self._judge.counts["events"],
                 judged=self._judge.counts["judged"], still_gone=still_gone, lost_event_bursts=self._lost_events)

    def _drain(self, ctx: ModuleContext) -> None:
        """Read what is queued without waiting, then close the last burst."""
        assert self._judge is not None
        deadline = time.monotonic() + 2.0  # a flood must not hold the phase forever
        while time.monotonic() < deadline and self._pump(ctx, 0):
            pass
        self._emit(ctx, self._judge.flush())
