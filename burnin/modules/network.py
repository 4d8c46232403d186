"""Network ports: link speed and duplex, error counters, link flaps, and TCP traffic between two cabled ports.

What it checks, for every physical port (loopback and virtual interfaces only when the setting `ports` names
them; `ports` names exactly the ports to test):

- The link (check): carrier and operstate, the negotiated speed and duplex against the best speed both ends of
  the cable support (this port's advertised link modes and its link partner's, from `ethtool`), and
  autonegotiation. A port that is administratively down is brought up for the test (setting
  `bring_up_down_ports`) and put down again at the end, so "no link" means no link, not "nobody enabled it".
- Counters during the run: the kernel's (/sys/class/net/X/statistics: rx/tx errors, CRC, frame, FIFO, missed,
  dropped…, and carrier_changes) and the driver's own error-like counters (`ethtool -S`: names with err, crc,
  drop, discard, miss, timeout, fifo, overrun), sampled every `interval_s` with the throughput
  (`rx_mbps:eth0`, `tx_mbps:eth0`, `errors:eth0`, `drops:eth0`).
- Traffic between two ports cabled to each other (no second server needed): the pairs named in `pairs`, or
  found by sending a probe frame (ethertype 0x88B5, "local experimental") out of each port and seeing which one
  other port receives it (`detect_pairs`). Each port of a pair moves into a network namespace of its own,
  gets an address from 198.18.0.0/15 (the benchmarking range, RFC 2544), and TCP traffic runs both ways at
  once for `traffic_s` seconds (0: half of the run phase). Afterwards the ports go back exactly as they were:
  namespace, name, MTU, addresses, up/down — on Ctrl-C too, and after a crash: the original state is written
  to a ledger under /run/burnin before anything moves, and the next start restores what a dead run left
  behind. A port that carries the default route, other routes, DHCP/SLAAC addresses, addresses with open
  sockets, or belongs to a bridge or bond is never moved (the operator may be logged in through it).

What makes it FAIL:
- `no-link` when a port listed in `must_be_up` has no link, or fewer ports have a link than the claims'
  `nics.links_up` (otherwise a WARN: "no cable? connect one to test this port").
- `underspeed-link`: the link runs below the best speed this port and its partner both advertise (a damaged
  port or cable that fell back from 10 Gb/s to 1 Gb/s, or 1 Gb/s to 100 Mb/s). Without the partner's modes
  (many drivers do not report them) a link below the port's own best is only INFO `speed-below-port-max`.
- `half-duplex`: a full-duplex-capable port running half duplex.
- `link-flap`: a link that went down or changed carrier during the run (naming the port).
- `low-throughput`: traffic below `min_throughput_fraction` of the slower port's link speed, either way (a WARN
  `throughput-cpu-bound` instead when the test's own processes were CPU-bound: then the CPU, not the link, was
  the limit); `traffic-errors`: error counters grew on a pair's ports during the traffic test (`traffic-drops`:
  drop counters, rx_missed_errors among them, FAIL by the setting `traffic_drop_growth`);
  `traffic-failed`: the two ports could not carry TCP traffic at all.
  If the traffic test itself cannot start (a namespace that cannot be made, a receiver that does not answer
  within `worker_start_s`), the pair is untested and the module ends ERROR, not FAIL: nothing about the ports
  was learnt.
- `port-missing`: a port named in `ports`, `pairs` or `must_be_up` does not exist; `port-vanished`: one
  disappeared during the run.
- Error counters that grew during the run: WARN or FAIL by the setting `error_growth`; drop counters outside the
  traffic test by `drop_growth` (a port on a busy LAN can drop frames nobody asked for).

Also said: WARN `pair-not-tested` when a pair named in `pairs` could not be tested (in use, no link, not root,
run phase too short); INFO `restored-leftover` / WARN `restore-incomplete` about what an earlier, killed run
left behind or what could not be put back.

Virtual NICs (virtio_net, veth, vmxnet3…) report no speed, or a nominal one: INFO `speed-unknown`, and their
traffic throughput is reported, judged only against `min_mbps` when set. Measured throughput is always in an
INFO finding (`throughput`, or `throughput-unjudged` when there is nothing to judge it against).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

from burnin.host import Host
from burnin.inventory.nics import Nic, collect_nics, read_nic
from burnin.model import Probe, Severity
from burnin.module import Module, ModuleContext, Skip
from burnin.tools import ethtool, netns, traffic

NET = "/sys/class/net"
ERROR_COUNTERS = (
    "rx_errors", "tx_errors", "rx_crc_errors", "rx_frame_errors", "rx_length_errors", "rx_over_errors",
    "rx_fifo_errors", "tx_aborted_errors", "tx_carrier_errors", "tx_fifo_errors", "tx_heartbeat_errors",
    "tx_window_errors",
)
# rx_missed_errors despite its name: frames the NIC had no host buffer for, because the host did not empty the
# receive ring in time (the kernel folds it into "drop" in /proc/net/dev; include/uapi/linux/if_link.h).
DROP_COUNTERS = ("rx_dropped", "tx_dropped", "rx_missed_errors")
KERNEL_COUNTERS = ("rx_bytes", "tx_bytes", *ERROR_COUNTERS, *DROP_COUNTERS)
DRIVER_COUNTER_WORDS = ("err", "crc", "drop", "discard", "miss", "timeout", "fifo", "overrun")
DRIVER_DROP_WORDS = ("drop", "discard", "miss")
# Virtual NICs whose "speed" is a constant of the driver or the hypervisor, not what a cable negotiated.
NOMINAL_SPEED_DRIVERS = frozenset({"virtio_net", "veth", "vmxnet3", "hv_netvsc", "xen-netfront", "tun", "vif",
                                   "netkit", "macvlan", "ipvlan", "bridge", "bonding", "team", "dummy"})
# PCI subsystem vendors of NICs that a hypervisor emulates (QEMU/Red Hat, VMware): their speed is nominal too.
EMULATED_SUBSYSTEM_VENDORS = frozenset({"0x1af4", "0x15ad"})
# NIC models QEMU emulates under their real IDs (e1000e keeps Intel's subsystem IDs): nominal speed when the CPU
# says it runs under a hypervisor (a real 82574L passed through to a VM would be misjudged as emulated: rare).
EMULATED_PCI_IDS = frozenset({
    "8086:100e",  # 82540EM (QEMU e1000)
    "8086:10d3",  # 82574L (QEMU e1000e)
    "8086:10c9",  # 82576 (QEMU igb)
    "8086:1229", "8086:1209",  # i8255x (QEMU eepro100)
    "10ec:8139",  # RTL8139
    "10ec:8029",  # NE2000 PCI
    "1022:2000",  # PCnet
    "1011:0019",  # DEC 21143 (QEMU tulip)
    "15ad:07b0",  # VMware vmxnet3
})
TRAFFIC_PORT = 47001
ACCEPT_MARGIN_S = 10.0  # a traffic receiver's wait for its sender, beyond the workers' start-up time
SETUP_MARGIN_S = 3.0  # run-phase time kept free for setting up and restoring the ports around the traffic


# -- records ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PortLink:
    """One port's link as the kernel and ethtool report it."""

    name: str
    driver: str | None
    pci_address: str | None
    mac: str | None
    physical: bool
    admin_up: bool
    carrier: bool | None  # None: not readable (the port is administratively down)
    operstate: str | None
    speed_mbps: int | None
    duplex: str | None  # "full", "half"
    autoneg: bool | None
    supports_autoneg: bool | None
    supported_modes: tuple[str, ...] = ()
    advertised_modes: tuple[str, ...] = ()
    partner_modes: tuple[str, ...] = ()
    nominal_speed: bool = False  # a virtual NIC: its speed (if any) is not a negotiated one

    @property
    def has_link(self) -> bool:
        return bool(self.carrier)

    @property
    def real_speed_mbps(self) -> int | None:
        return None if self.nominal_speed else self.speed_mbps


@dataclass(frozen=True)
class Counters:
    """Counters of one port at one moment. `kernel` uses the sysfs statistics names; `driver` holds the error-like
    counters of `ethtool -S`."""

    time: float
    carrier: bool | None
    carrier_changes: int | None
    kernel: Mapping[str, int] = field(default_factory=dict)
    driver: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Judgement:
    severity: Severity
    code: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Direction:
    """One direction of a traffic test, as its receiver and sender reported it."""

    sender: str
    receiver: str
    mbps: float | None
    received_bytes: int
    seconds: float
    sender_cpu_share: float | None  # CPU seconds / wall seconds of the sending process
    receiver_cpu_share: float | None
    error: str | None = None

    @property
    def cpu_bound(self) -> bool:
        return any(share is not None and share >= 0.9 for share in (self.sender_cpu_share, self.receiver_cpu_share))


# -- link modes and link judgement -------------------------------------------------------------------
def mode_speed_duplex(mode: str) -> tuple[int, str] | None:
    """"10000baseT/Full" -> (10000, "full")."""
    speeds = ethtool.link_mode_speeds([mode])
    if not speeds:
        return None
    duplex = mode.rsplit("/", 1)[1].lower() if "/" in mode else "full"
    return speeds[0], duplex


def best_common_mode(ours: Sequence[str], partner: Sequence[str]) -> tuple[int, str] | None:
    """The fastest (speed, duplex) both ends advertise, full duplex before half; None when either list is empty."""
    mine = {sd for m in ours if (sd := mode_speed_duplex(m))}
    theirs = {sd for m in partner if (sd := mode_speed_duplex(m))}
    common = mine & theirs
    if not common:
        return None
    return max(common, key=lambda sd: (sd[0], sd[1] == "full"))


def best_own_speed(link: PortLink) -> int | None:
    speeds = ethtool.link_mode_speeds(link.advertised_modes or link.supported_modes)
    return max(speeds) if speeds else None


def port_evidence(link: PortLink) -> dict[str, Any]:
    return {
        "port": link.name, "driver": link.driver, "pci_address": link.pci_address, "mac": link.mac,
        "carrier": link.carrier, "operstate": link.operstate, "speed_mbps": link.speed_mbps, "duplex": link.duplex,
        "autoneg": link.autoneg, "advertised_modes": list(link.advertised_modes),
        "partner_modes": list(link.partner_modes), "supported_modes": list(link.supported_modes),
    }


def describe_port(link: PortLink) -> str:
    extra = ", ".join(x for x in (link.driver, link.pci_address) if x)
    return f"{link.name} ({extra})" if extra else link.name


def _mbps(speed: int | float) -> str:
    return f"{speed / 1000:g} Gb/s" if speed >= 1000 else f"{speed:g} Mb/s"


def judge_link(link: PortLink, must_be_up: bool, why_must: str = "") -> list[Judgement]:
    """Findings about one port's link at one moment."""
    evidence = port_evidence(link)
    if not link.has_link:
        if must_be_up:
            return [Judgement(Severity.FAIL, "no-link",
                              f"{describe_port(link)} has no link although {why_must or 'it must be up'}.", evidence)]
        return [Judgement(Severity.WARN, "no-link",
                          f"{describe_port(link)} has no link: no cable? connect one to test this port.", evidence)]
    out: list[Judgement] = []
    if link.nominal_speed or link.speed_mbps is None:
        said = (f"reports a nominal {_mbps(link.speed_mbps)}" if link.speed_mbps
                else "reports no link speed")
        out.append(Judgement(Severity.INFO, "speed-unknown",
                             f"{describe_port(link)} {said} (a virtual NIC, or a driver that does not tell): "
                             f"its link speed and duplex are not judged.", evidence))
        return out
    if link.duplex == "half":
        out.append(Judgement(Severity.FAIL, "half-duplex",
                             f"{describe_port(link)} runs half duplex at {_mbps(link.speed_mbps)}: a failed "
                             f"autonegotiation, a bad cable or a damaged port.", evidence))
    common = best_common_mode(link.advertised_modes or link.supported_modes, link.partner_modes)
    if common is not None:
        evidence["best_common_mbps"] = common[0]
        if link.speed_mbps < common[0]:
            out.append(Judgement(Severity.FAIL, "underspeed-link",
                                 f"{describe_port(link)} links at {_mbps(link.speed_mbps)} although it and its link "
                                 f"partner both support {_mbps(common[0])}: a damaged port, cable or connector.",
                                 evidence))
    else:
        own = best_own_speed(link)
        if own and link.speed_mbps < own:
            evidence["port_max_mbps"] = own
            out.append(Judgement(Severity.INFO, "speed-below-port-max",
                                 f"{describe_port(link)} links at {_mbps(link.speed_mbps)}, below its own "
                                 f"{_mbps(own)}; the partner's abilities are not reported, so the switch or the "
                                 f"other end may be the limit.", evidence))
    if link.supports_autoneg and link.autoneg is False:
        out.append(Judgement(Severity.INFO, "autoneg-off",
                             f"{describe_port(link)} has autonegotiation off: its speed is forced by configuration, "
                             f"not negotiated.", evidence))
    return out


# -- reading ---------------------------------------------------------------------------------------
def under_hypervisor(host: Host) -> bool:
    for line in (host.read_text("/proc/cpuinfo") or "").splitlines():
        if line.startswith("flags"):
            return "hypervisor" in line.split()
    return False


def _nominal(host: Host, nic: Nic) -> bool:
    """Whether the port's speed is a virtual NIC's constant rather than what a cable negotiated."""
    if not nic.physical or (nic.driver or "") in NOMINAL_SPEED_DRIVERS:
        return True
    device = f"{NET}/{nic.name}/device"
    if (host.read_text(f"{device}/subsystem_vendor") or "").lower() in EMULATED_SUBSYSTEM_VENDORS:
        return True
    ids = ":".join((host.read_text(f"{device}/{f}") or "").lower().removeprefix("0x") for f in ("vendor", "device"))
    return ids in EMULATED_PCI_IDS and under_hypervisor(host)


def read_link(host: Host, nic: Nic, settings_text: str | None) -> PortLink:
    """The port's link from sysfs, completed by `ethtool IFACE` output when there is some."""
    base = f"{NET}/{nic.name}"
    flags = host.read_int(f"{base}/flags")
    carrier = host.read_int(f"{base}/carrier")
    speed = host.read_int(f"{base}/speed")
    duplex = (host.read_text(f"{base}/duplex") or "").lower() or None
    parsed = ethtool.parse_settings(settings_text) if settings_text and settings_text.strip() else None
    if parsed is not None:
        speed = parsed.speed_mbps if parsed.speed_mbps else speed
        duplex = (parsed.duplex or "").lower() or duplex
    return PortLink(
        name=nic.name,
        driver=nic.driver or (_driver_of_virtual(host, nic.name)),
        pci_address=nic.pci_address,
        mac=nic.mac,
        physical=nic.physical,
        admin_up=bool(flags is not None and flags & 1),
        carrier=None if carrier is None else carrier == 1,
        operstate=host.read_text(f"{base}/operstate"),
        speed_mbps=speed if speed is not None and speed > 0 else None,
        duplex=duplex if duplex in ("full", "half") else None,
        autoneg=parsed.autoneg if parsed else None,
        supports_autoneg=parsed.supports_autoneg if parsed else None,
        supported_modes=parsed.supported_link_modes if parsed else (),
        advertised_modes=parsed.advertised_link_modes if parsed else (),
        partner_modes=parsed.partner_link_modes if parsed else (),
        nominal_speed=_nominal(host, nic),
    )


def _driver_of_virtual(host: Host, name: str) -> str | None:
    """A virtual interface's kind from its uevent (DEVTYPE=…) — veth says nothing there, so also its `ethtool -i`."""
    uevent = host.read_text(f"{NET}/{name}/uevent") or ""
    for line in uevent.splitlines():
        if line.startswith("DEVTYPE="):
            return line.split("=", 1)[1]
    if host.live and host.which("ethtool"):
        result = host.run(ethtool.driver_argv(name), timeout=5)
        if result.ok:
            return ethtool.parse_driver_info(result.stdout).driver
    return None


def driver_error_counters(stats: Mapping[str, int]) -> dict[str, int]:
    """The error-like counters of `ethtool -S` (by name: err, crc, drop, discard, miss, timeout, fifo, overrun)."""
    return {k: v for k, v in stats.items() if any(w in k.lower() for w in DRIVER_COUNTER_WORDS)}


def is_drop_counter(name: str) -> bool:
    return name in DROP_COUNTERS or any(w in name.lower() for w in DRIVER_DROP_WORDS)


def read_sysfs_counters(host: Host, name: str) -> Counters | None:
    base = f"{NET}/{name}"
    if not host.exists(base):
        return None
    kernel = {}
    for counter in KERNEL_COUNTERS:
        value = host.read_int(f"{base}/statistics/{counter}")
        if value is not None:
            kernel[counter] = value
    carrier = host.read_int(f"{base}/carrier")
    return Counters(time.monotonic(), None if carrier is None else carrier == 1,
                    host.read_int(f"{base}/carrier_changes"), kernel)


def growth(before: Counters, after: Counters) -> dict[str, int]:
    """Error and drop counters (kernel and driver) that grew, by how much. A counter that went down was reset
    (a driver reset clears them): it is compared from zero."""
    grown: dict[str, int] = {}
    for source_before, source_after, prefix in ((before.kernel, after.kernel, ""),
                                                (before.driver, after.driver, "ethtool:")):
        for name, value in source_after.items():
            if name in ("rx_bytes", "tx_bytes"):
                continue
            old = source_before.get(name)
            if old is None:
                continue
            delta = value - old if value >= old else value
            if delta > 0:
                grown[prefix + name] = delta
    return grown


def split_growth(grown: Mapping[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """(errors, drops)."""
    errors = {k: v for k, v in grown.items() if not is_drop_counter(k.removeprefix("ethtool:"))}
    drops = {k: v for k, v in grown.items() if is_drop_counter(k.removeprefix("ethtool:"))}
    return errors, drops


def parse_worker_output(text: str) -> dict[str, Any]:
    """The last "result" (or "error") JSON line a traffic worker printed."""
    found: dict[str, Any] = {}
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") in ("result", "error"):
            found = record
    return found


def make_direction(sender: str, receiver: str, sent: Mapping[str, Any], received: Mapping[str, Any]) -> Direction:
    error = sent.get("error") or received.get("error")
    if not error and (not received or not sent):
        error = "a traffic process ended without a result"
    seconds = float(received.get("seconds") or 0.0)
    nbytes = int(received.get("bytes") or 0)
    mbps = nbytes * 8 / seconds / 1e6 if seconds > 0 else None
    if not error and not nbytes:
        error = "no data arrived"

    def share(record: Mapping[str, Any]) -> float | None:
        wall = float(record.get("seconds") or 0.0)
        return round(float(record["cpu_s"]) / wall, 3) if wall > 0 and "cpu_s" in record else None

    return Direction(sender, receiver, mbps, nbytes, seconds, share(sent), share(received), error)


def judge_direction(d: Direction, line_mbps: int | None, fraction: float, min_mbps: float,
                    component_ports: str) -> Judgement:
    evidence = {"from": d.sender, "to": d.receiver, "mbps": round(d.mbps or 0.0, 1), "bytes": d.received_bytes,
                "seconds": round(d.seconds, 2), "sender_cpu_share": d.sender_cpu_share,
                "receiver_cpu_share": d.receiver_cpu_share, "link_mbps": line_mbps,
                "min_throughput_fraction": fraction, "min_mbps": min_mbps or None}
    if d.error or d.mbps is None:
        return Judgement(Severity.FAIL, "traffic-failed",
                         f"TCP traffic from {d.sender} to {d.receiver} did not flow: {d.error}.",
                         {**evidence, "error": d.error})
    got = _mbps(round(d.mbps))
    if line_mbps:
        needed = fraction * line_mbps
        evidence["needed_mbps"] = round(needed, 1)
        if d.mbps < needed:
            if d.cpu_bound:
                return Judgement(Severity.WARN, "throughput-cpu-bound",
                                 f"Traffic from {d.sender} to {d.receiver} reached only {got} of a "
                                 f"{_mbps(line_mbps)} link, but the test itself used a full CPU core: the CPU, "
                                 f"not necessarily the link, was the limit (try more `streams`).", evidence)
            return Judgement(Severity.FAIL, "low-throughput",
                             f"Traffic from {d.sender} to {d.receiver} reached only {got} on a {_mbps(line_mbps)} "
                             f"link (at least {_mbps(round(needed))} expected).", evidence)
        return Judgement(Severity.INFO, "throughput",
                         f"Traffic from {d.sender} to {d.receiver}: {got} on a {_mbps(line_mbps)} link.", evidence)
    if min_mbps > 0:
        evidence["needed_mbps"] = min_mbps
        if d.mbps < min_mbps:
            return Judgement(Severity.FAIL, "low-throughput",
                             f"Traffic from {d.sender} to {d.receiver} reached only {got} "
                             f"(at least {_mbps(min_mbps)} expected: setting min_mbps).", evidence)
        return Judgement(Severity.INFO, "throughput",
                         f"Traffic from {d.sender} to {d.receiver}: {got} (at least {_mbps(min_mbps)} expected).",
                         evidence)
    return Judgement(Severity.INFO, "throughput-unjudged",
                     f"Traffic from {d.sender} to {d.receiver}: {got}; the link speed of {component_ports} is "
                     f"unknown, so it is not judged (set min_mbps to judge it).", evidence)


# -- the traffic test --------------------------------------------------------------------------------
@dataclass
class PairRun:
    """One port pair's traffic test in progress."""

    a: str
    b: str
    ns_a: str
    ns_b: str
    addr_a: str
    addr_b: str
    workers: dict[str, Any] = field(default_factory=dict)  # role -> Popen ("recv_b" receives what a sends)
    before: dict[str, Counters] = field(default_factory=dict)


class NetworkModule(Module):
    name = "network"
    summary = "network ports: link speed/duplex, error counters and flaps; TCP traffic between two cabled ports"
    needs = ("/sys/class/net", "ethtool (link modes, driver counters)", "iproute2 `ip` and root (traffic test)")
    stress = False
    settings = {
        "ports": [],  # port names to test; empty: every physical port. Naming them also allows virtual ones.
        "must_be_up": [],  # ports that must have a link: no link is a FAIL instead of a WARN
        "pairs": [],  # [["eth1", "eth2"], ...]: ports cabled to each other, for the traffic test
        "detect_pairs": True,  # find cabled pairs with a probe frame
        "bring_up_down_ports": True,  # bring administratively-down ports up to see their link (restored after)
        "link_wait_s": 5.0,  # how long a port brought up (or moved) gets to find its link
        "interval_s": 1.0,  # sampling interval of counters and throughput
        "error_growth": "warn",  # severity of error counters that grew during the run
        "drop_growth": "warn",  # severity of drop counters that grew outside the traffic test
        "traffic_drop_growth": "fail",  # severity of drop counters that grew during the traffic test
        "min_throughput_fraction": 0.8,  # of the slower port's link speed, each way
        "min_mbps": 0.0,  # throughput floor for links of unknown speed (virtual NICs); 0: report only
        "traffic_s": 0.0,  # length of the traffic test; 0: half of the run phase
        "streams": 1,  # TCP connections each way
        "worker_start_s": 30.0,  # how long a traffic receiver gets to start (slow under emulation, loaded CPUs)
    }
    choices = {"error_growth": ("warn", "fail"), "drop_growth": ("warn", "fail", "info"),
               "traffic_drop_growth": ("warn", "fail")}
    # Where the restore ledger goes (None: /run/burnin, else $TMPDIR/burnin); tests point it elsewhere.
    state_dir: str | None = None

    def __init__(self, host: Host, settings: Mapping[str, Any] | None = None):
        super().__init__(host, settings)
        self._links: dict[str, PortLink] = {}
        self._nics: dict[str, Nic] = {}
        self._baseline: dict[str, Counters] = {}
        self._last: dict[str, Counters] = {}
        self._carrier_base: dict[str, int | None] = {}
        self._watch_flaps: set[str] = set()
        self._reported: set[tuple[str, str]] = set()
        # Counter growth not to judge at the end: already judged by the traffic test, or caused by our own moves
        # (a veth whose peer is still down while we restore drops what it sends).
        self._excluded: dict[str, dict[str, int]] = {}
        self._pairs: list[tuple[str, str]] = []
        self._where: dict[str, str] = {}  # port -> namespace while it is moved
        self._settling: dict[str, float] = {}  # port -> until when it may find its link again after our move
        self._ledger: netns.Ledger | None = None
        self._raised: list[str] = []  # ports we brought up, now up
        self._to_raise: list[str] = []  # ports found down by check(), to bring up for the run
        self._gap_forgiven = False
        self._checked = False
        self._untested: list[str] = []  # pairs whose traffic test could not start, and why

    # -- phases ------------------------------------------------------------------------------------
    def probe(self) -> Probe:
        try:
            names = [n for n in self.host.listdir(NET) if n != "lo"]
        except Exception as exc:  # noqa: BLE001 - probe never raises
            return Probe.unavailable(f"cannot read {NET}: {exc}")
        if not names:
            return Probe.unavailable(f"no network interfaces under {NET}")
        return Probe.ok()

    def check(self, ctx: ModuleContext) -> None:
        recovered = self._recover(ctx) if self._can_change() else False
        nics = self._select_ports(ctx, use_inventory=not recovered)
        if not nics:
            raise Skip("no physical network ports (virtual interfaces are tested only when `ports` names them)")
        self._nics = {n.name: n for n in nics}
        try:
            self._check_ports(ctx)
        finally:
            # check() leaves the machine as it found it: it may be all that runs (`burnin capture`), and a broken
            # module gets no finish(). run() brings the ports up again.
            self._restore_all(ctx)
        self._checked = True

    def _check_ports(self, ctx: ModuleContext) -> None:
        if self.config["bring_up_down_ports"]:
            down = [n for n in self._nics if not (self.host.read_int(f"{NET}/{n}/flags") or 0) & 1]
            if down and not self._can_change():
                ctx.note("ports that are down were not brought up (needs root and `ip` on a live host)", ports=down)
            elif down:
                self._raise(ctx, down)
                self._to_raise = list(self._raised)
                ctx.note("ports brought up to see their link (put down again after each phase)", ports=self._raised)
        self._links = {name: self._read_link(nic) for name, nic in self._nics.items()}
        self._judge_links(ctx)
        self._plan_pairs(ctx)
        self._lower_raised(ctx)
        for name in self._nics:
            counters = self._read_counters(name)
            if counters is not None:
                self._baseline[name] = self._last[name] = counters
                self._carrier_base[name] = counters.carrier_changes
                if counters.carrier:
                    self._watch_flaps.add(name)
        ctx.note("network ports", ports={name: port_evidence(link) for name, link in self._links.items()},
                 pairs=[list(p) for p in self._pairs])

    def run(self, ctx: ModuleContext) -> None:
        if not self._checked:
            self.check(ctx)
        interval = float(self.config["interval_s"])
        try:
            self._forgive_gap_drops()
            if self._to_raise:
                undisturbed = self._snapshot(list(self._baseline))
                self._raise(ctx, self._to_raise)
                now = self._snapshot(list(self._baseline))
                self._exclude_growth(undisturbed, now)
                for port, counters in now.items():  # the raised ports, and peers that got their link back
                    if counters.carrier and port not in self._watch_flaps:
                        self._carrier_base[port] = counters.carrier_changes
                        self._watch_flaps.add(port)
            if self._pairs:
                self._traffic(ctx, interval)
            while not ctx.stopping():
                self._observe(ctx)
                if ctx.wait(interval):
                    break
        except BaseException:
            self._restore_all(ctx)  # a module that raised gets no finish()
            raise

    def finish(self, ctx: ModuleContext) -> None:
        try:
            if not self._checked:
                raise Skip("the check phase did not run: no baseline of the ports")
            self._forgive_gap_drops()
            self._restore_moved(ctx)
            self._observe(ctx)
            for name in sorted(self._baseline):
                after = self._last.get(name)
                if after is None or name not in self._links:
                    continue
                self._judge_growth(ctx, name, self._net_growth(name, after))
            if self._untested:
                raise RuntimeError("; ".join(self._untested))
        finally:
            self._restore_all(ctx)

    # -- ports and links -------------------------------------------------------------------------------
    def _can_change(self) -> bool:
        return self.host.live and os.geteuid() == 0 and self.host.which("ip") is not None

    def recover(self) -> list[str]:
        """After this module's process was killed mid-test: bring its ports home from their namespaces now, not
        at the next start (the runner calls this once the process is gone)."""
        if not self._can_change():
            return []
        done = netns.recover(self.host, self.host.run, self.state_dir)
        return [f"{record.get('namespace') or record.get('ledger')}: ports {', '.join(record.get('ports') or ()) or 'none'}"
                + (f" (problems: {'; '.join(record['problems'])})" if record.get("problems") else " restored")
                for record in done]

    def _recover(self, ctx: ModuleContext) -> bool:
        """Undo what an earlier run that died left behind; True when there was something."""
        try:
            done = netns.recover(self.host, ctx.run_tool, self.state_dir)
        except netns.NetnsError as exc:
            ctx.note(f"leftovers of earlier runs not checked: {exc}")
            return False
        for record in done:
            what = record.get("namespace") or record.get("ledger")
            ports = ", ".join(record.get("ports") or ()) or "no ports"
            if record.get("problems"):
                ctx.warn("network", "restore-incomplete",
                         f"An earlier run left network changes behind that could not all be undone ({what}: "
                         f"{'; '.join(record['problems'])}).", record)
            else:
                ctx.info("network", "restored-leftover",
                         f"Restored what an earlier, interrupted run left behind ({what}: {ports}).", record)
        return bool(done)

    def _select_ports(self, ctx: ModuleContext, use_inventory: bool = True) -> list[Nic]:
        """The ports named in `ports` (else every physical port), plus those named in `pairs` and `must_be_up`.

        The run's inventory lists the physical ports, unless ports just came back from an earlier run's
        namespaces: the inventory was taken before that."""
        named = [str(p) for p in self.config["ports"]]
        if named:
            ports = []
        elif ctx.inventory is not None and use_inventory:
            ports = [n for n in ctx.inventory.nics if n.physical and not n.virtual_function]
        else:
            ports = [n for n in collect_nics(self.host)[0] if not n.virtual_function]
        wanted = named + [p for pair in self._pair_settings()[0] for p in pair] + [str(p) for p in
                                                                                  self.config["must_be_up"]]
        for name in wanted:
            if name in {n.name for n in ports}:
                continue
            if not self.host.exists(f"{NET}/{name}"):
                self._emit(ctx, name, Judgement(Severity.FAIL, "port-missing",
                                                f"Network port {name}, named in the profile, does not exist.",
                                                {"port": name}))
                continue
            ports.append(read_nic(self.host, name))
        return [n for n in ports if n.name != "lo" or n.name in named]

    def _read_link(self, nic: Nic) -> PortLink:
        text = None
        if self.host.live and self.host.which("ethtool"):
            result = self.host.run(ethtool.settings_argv(nic.name), timeout=10)
            text = result.stdout  # ethtool exits 75 when parts are unsupported yet prints the rest
        return read_link(self.host, nic, text)

    def _forgive_gap_drops(self) -> None:
        """Drops between check() and the next phase, when check() put ports down again: frames a port sends to
        a peer we just put down are dropped (a veth counts them), an artefact of the test, not of the port. Errors
        in that gap still count."""
        if not self._to_raise or self._gap_forgiven:
            return
        self._gap_forgiven = True
        now = self._snapshot(list(self._baseline))
        for port, counters in now.items():
            drops = split_growth(growth(self._baseline[port], counters))[1]
            excluded = self._excluded.setdefault(port, {})
            for key, delta in drops.items():
                excluded[key] = excluded.get(key, 0) + delta

    def _raise(self, ctx: ModuleContext, names: Sequence[str]) -> None:
        """Bring administratively-down ports up (their original state goes to the ledger first) and give them
        `link_wait_s` to find their link."""
        ledger = self._ensure_ledger()
        for name in names:
            state = netns.read_port_state(self.host, name)
            if state is None or state.up:
                continue
            ledger.remember(state)
            ledger.announce(name, "brought up to see its link")
            if netns.set_up(ctx.run_tool, name, True).ok:
                self._raised.append(name)
        self._settle(ctx, self._raised)

    def _lower_raised(self, ctx: ModuleContext) -> None:
        """Put the ports we brought up down again, as they were."""
        problems = []
        for name in list(self._raised):
            original = self._ledger.original(name) if self._ledger else None
            if original is None:
                continue
            self._ledger.announce(name, "put down again, as it was")
            more = netns.restore_port(self.host, ctx.run_tool, original, None)
            problems += more
            if not more:
                self._ledger.forget(name)
                self._raised.remove(name)
                self._watch_flaps.discard(name)
        if problems:
            ctx.warn("network", "restore-incomplete",
                     f"Ports brought up for the test could not all be put down again: {'; '.join(problems)}.",
                     {"problems": problems})

    def _must_be_up(self, ctx: ModuleContext) -> dict[str, str]:
        """Ports whose missing link is a FAIL, with why."""
        must = {str(p): "the profile says it must be up (must_be_up)" for p in self.config["must_be_up"]}
        claims = getattr(ctx, "claims", None)
        wanted = claims.get("nics.links_up") if claims is not None else None
        if isinstance(wanted, int):
            up = sum(1 for link in self._links.values() if link.has_link)
            if up < wanted:
                for name, link in self._links.items():
                    if not link.has_link:
                        must.setdefault(name, f"the listing claims {wanted} ports with a link and only {up} have one")
        return must

    def _judge_links(self, ctx: ModuleContext) -> None:
        must = self._must_be_up(ctx)
        for name, link in self._links.items():
            for j in judge_link(link, name in must, must.get(name, "")):
                self._emit(ctx, name, j)

    def _emit(self, ctx: ModuleContext, port: str, j: Judgement) -> None:
        key = (port, j.code)
        if key in self._reported:
            return
        self._reported.add(key)
        ctx.finding(j.severity, f"nic:{port}", j.code, j.message, j.evidence)

    # -- pairs -------------------------------------------------------------------------------------
    def _pair_settings(self) -> tuple[list[tuple[str, str]], list[Any]]:
        """The setting `pairs`: (well-formed pairs, entries that are not two different port names)."""
        good, bad = [], []
        for pair in self.config["pairs"]:
            if isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(p, str) for p in pair) \
                    and pair[0] != pair[1]:
                good.append((pair[0], pair[1]))
            else:
                bad.append(pair)
        return good, bad

    def _plan_pairs(self, ctx: ModuleContext) -> None:
        named, bad = self._pair_settings()
        for pair in bad:
            ctx.warn("network", "pair-not-tested",
                     f"The entry {pair!r} of the setting `pairs` is not two different port names, e.g. "
                     f'["eth1", "eth2"].', {"pair": pair})
        detected: list[tuple[str, str]] = []
        if self.config["detect_pairs"]:
            taken = {p for pair in named for p in pair}
            candidates = {n: l.mac for n, l in self._links.items() if l.has_link and n not in taken}
            if len(candidates) >= 2:
                if self._can_change():
                    try:
                        detected, heard = netns.detect_cabled_pairs(candidates)
                        ctx.note("probe frames sent to find cabled port pairs", heard=heard,
                                 pairs=[list(p) for p in detected])
                    except OSError as exc:
                        ctx.note(f"cabled port pairs not searched: {exc}")
                else:
                    ctx.note("cabled port pairs not searched (needs root on a live host)")
        for a, b in named + detected:
            busy = [p for p in (a, b) for pair in self._pairs if p in pair]
            reason = f"{busy[0]} is already in another pair" if busy else self._why_not_pair(a, b)
            if reason is None:
                self._pairs.append((a, b))
            elif (a, b) in named:
                ctx.warn(f"nic:{a}", "pair-not-tested",
                         f"The traffic test between {a} and {b} (named in the profile) was not run: {reason}.",
                         {"pair": [a, b], "reason": reason})
            else:
                ctx.note(f"cabled pair {a} <-> {b} found but not tested: {reason}", pair=[a, b])

    def _why_not_pair(self, a: str, b: str) -> str | None:
        if not self._can_change():
            return "it needs root, iproute2 `ip` and a live host"
        for port in (a, b):
            link = self._links.get(port)
            if link is None:
                return f"{port} is not a port under test"
            if not link.has_link:
                return f"{port} has no link"
            state = netns.read_port_state(self.host, port)
            if state is None:
                return f"{port}: its state cannot be read with `ip`"
            reasons = netns.in_use_reasons(self.host, state)
            if reasons:
                return f"{port} is in use and moving it would cut it off: {'; '.join(reasons)}"
        return None

    def _ensure_ledger(self) -> netns.Ledger:
        if self._ledger is None:
            self._ledger = netns.Ledger(self.host, self.state_dir)
        return self._ledger

    def _traffic(self, ctx: ModuleContext, interval: float) -> None:
        budget = ctx.remaining() - SETUP_MARGIN_S
        wanted = float(self.config["traffic_s"]) or ctx.remaining() / 2
        seconds = min(wanted, budget)
        if seconds < 1.0:
            ctx.note("traffic test not run: the run phase is too short", run_phase_left_s=round(ctx.remaining(), 1))
            for a, b in self._pairs:
                ctx.warn(f"nic:{a}", "pair-not-tested",
                         f"The traffic test between {a} and {b} was not run: the run phase is too short.",
                         {"pair": [a, b]})
            return
        prepared: list[PairRun] = []
        try:
            for index, (a, b) in enumerate(self._pairs):
                try:
                    prepared.append(self._setup_pair(ctx, index, a, b))
                except netns.NetnsError as exc:
                    self._untested.append(f"the traffic test between {a} and {b} could not be set up: {exc}")
                    ctx.note("traffic test not set up", pair=[a, b], error=str(exc))
            runs = [r for r in prepared if self._start_workers(ctx, r, seconds)]
            # The senders still have to start (up to worker_start_s) before their `seconds` of traffic.
            end = time.monotonic() + seconds + 15.0 + float(self.config["worker_start_s"])
            while runs and not ctx.stopping():
                self._observe(ctx)
                if all(p.poll() is not None for r in runs for p in r.workers.values()) or time.monotonic() > end:
                    break
                ctx.wait(interval)
            cut_short = ctx.stopping() and not all(p.poll() is not None for r in runs for p in r.workers.values())
            for r in runs:
                self._finish_pair(ctx, r, cut_short)
        finally:
            for r in prepared:
                for p in r.workers.values():
                    if p.poll() is None:
                        p.kill()
                        p.wait()
            self._restore_moved(ctx)

    def _setup_pair(self, ctx: ModuleContext, index: int, a: str, b: str) -> PairRun:
        ledger = self._ensure_ledger()
        addr_a, addr_b = netns.pair_addresses(index)
        run = PairRun(a, b, ledger.netns_name(f"{index}a"), ledger.netns_name(f"{index}b"), addr_a, addr_b)
        undisturbed = self._snapshot([a, b])
        for port, ns, cidr in ((a, run.ns_a, addr_a), (b, run.ns_b, addr_b)):
            state = netns.read_port_state(self.host, port, run=ctx.run_tool)
            if state is None:
                raise netns.NetnsError(f"cannot read the state of {port}")
            ledger.remember(state)
            ledger.add_namespace(ns)
            netns.create_netns(ctx.run_tool, ns)
            ledger.set_netns(port, ns)
            self._where[port] = ns
            ledger.announce(port, f"moved into {ns} for the traffic test")
            netns.move_into(ctx.run_tool, port, ns)
            netns.configure(ctx.run_tool, ns, port, cidr)
        self._settle(ctx, [a, b])
        run.before = self._snapshot([a, b])
        self._exclude_growth(undisturbed, run.before)
        ctx.note("ports moved into namespaces for the traffic test", pair=[a, b], namespaces=[run.ns_a, run.ns_b],
                 addresses=[addr_a, addr_b])
        return run

    def _worker(self, ns: str, *args: str):
        # The worker is a stdlib-only script, started without site-packages (-I -S: less to import on a slow or
        # busy machine) and ahead of the stress modules' load (nice -5, root only): the link is under test here,
        # not the scheduler.
        python = [sys.executable, "-I", "-S", traffic.__file__, *args]
        if os.geteuid() == 0:
            python = ["nice", "-n", "-5", *python]
        argv = netns.exec_argv(ns, python)
        return self.host.spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def _start_workers(self, ctx: ModuleContext, r: PairRun, seconds: float) -> bool:
        streams = str(max(1, int(self.config["streams"])))
        secs = f"{seconds:.1f}"
        limit = float(self.config["worker_start_s"])
        # A receiver waits for its sender while the other receiver and then both senders start.
        accept = f"{ACCEPT_MARGIN_S + 3 * limit:.1f}"
        ip_a, ip_b = r.addr_a.split("/")[0], r.addr_b.split("/")[0]
        r.workers["recv_b"] = self._worker(r.ns_b, "receive", "--bind", ip_b, "--port", str(TRAFFIC_PORT),
                                           "--streams", streams, "--seconds", secs, "--accept-s", accept)
        r.workers["recv_a"] = self._worker(r.ns_a, "receive", "--bind", ip_a, "--port", str(TRAFFIC_PORT),
                                           "--streams", streams, "--seconds", secs, "--accept-s", accept)
        for role in ("recv_a", "recv_b"):
            proc = r.workers[role]
            ready, _, _ = select.select([proc.stdout], [], [], limit)
            line = proc.stdout.readline() if ready else ""
            if '"ready"' not in line:
                err = proc.stderr.read() if proc.poll() is not None else f"no answer in {limit:g} s"
                why = (line + err).strip()[-300:]
                self._untested.append(f"the traffic receiver for {r.a} <-> {r.b} did not start: {why}")
                ctx.note("traffic receiver did not start", pair=[r.a, r.b], role=role, output=why)
                return False
        r.workers["send_a"] = self._worker(r.ns_a, "send", "--to", ip_b, "--port", str(TRAFFIC_PORT),
                                           "--streams", streams, "--seconds", secs)
        r.workers["send_b"] = self._worker(r.ns_b, "send", "--to", ip_a, "--port", str(TRAFFIC_PORT),
                                           "--streams", streams, "--seconds", secs)
        return True

    def _finish_pair(self, ctx: ModuleContext, r: PairRun, cut_short: bool) -> None:
        outputs = {}
        for role, proc in r.workers.items():
            if proc.poll() is None:
                proc.kill()
            out, err = proc.communicate()
            outputs[role] = parse_worker_output(out) or ({"error": err.strip()[-300:]} if err.strip() else {})
        after = {port: c for port in (r.a, r.b) if (c := self._read_counters(port)) is not None}
        if cut_short:
            if time.monotonic() < ctx.deadline:  # cancelled: the runner says the run is incomplete
                ctx.note("traffic test cut short (the run was stopped): not judged", pair=[r.a, r.b])
            else:
                ctx.note("traffic test cut short (the run phase ended first): not judged", pair=[r.a, r.b])
                self._untested.append(f"the traffic test between {r.a} and {r.b} was cut short when the run "
                                      "phase ended (its workers were slow to start)")
            return
        line = None
        speeds = [self._links[p].real_speed_mbps for p in (r.a, r.b)]
        if all(speeds):
            line = min(speeds)
        directions = [make_direction(r.a, r.b, outputs.get("send_a", {}), outputs.get("recv_b", {})),
                      make_direction(r.b, r.a, outputs.get("send_b", {}), outputs.get("recv_a", {}))]
        fraction = float(self.config["min_throughput_fraction"])
        min_mbps = float(self.config["min_mbps"])
        for d in directions:
            j = judge_direction(d, line, fraction, min_mbps, f"{r.a} and {r.b}")
            ctx.finding(j.severity, f"nic:{d.sender}", j.code, j.message, j.evidence)
        ctx.note("traffic test", pair=[r.a, r.b],
                 mbps={f"{d.sender}->{d.receiver}": round(d.mbps or 0.0, 1) for d in directions})
        for port in (r.a, r.b):
            if port not in r.before or port not in after:
                continue
            grown = growth(r.before[port], after[port])
            if not grown:
                continue
            self._exclude_growth({port: r.before[port]}, {port: after[port]})
            errors, drops = split_growth(grown)
            if errors:
                self._emit(ctx, port, Judgement(
                    Severity.FAIL, "traffic-errors",
                    f"{describe_port(self._links[port])} counted errors during the traffic test "
                    f"({_describe(errors)}).", {"port": port, "grown": errors}))
            if drops:
                self._emit(ctx, port, Judgement(
                    Severity(self.config["traffic_drop_growth"]), "traffic-drops",
                    f"{describe_port(self._links[port])} dropped frames during the traffic test "
                    f"({_describe(drops)}).", {"port": port, "grown": drops}))

    # -- moving back -----------------------------------------------------------------------------------
    def _restore_moved(self, ctx: ModuleContext) -> None:
        """Bring ports home from their namespaces, back to their state before the traffic test."""
        if self._ledger is None or not (self._where or self._ledger.namespaces):
            return
        moved = list(self._where)
        undisturbed = self._snapshot(moved)
        for port, ns in list(self._where.items()):
            original = self._ledger.original(port)
            if original is None:
                continue
            target = netns.with_up(original, True) if port in self._raised else original
            self._ledger.announce(port, "moved back after the traffic test")
            problems = netns.restore_port(self.host, ctx.run_tool, target, ns)
            if problems:
                ctx.warn(f"nic:{port}", "restore-incomplete",
                         f"{port} could not be fully restored after the traffic test: {'; '.join(problems)}.",
                         {"port": port, "problems": problems})
                continue
            self._ledger.set_netns(port, None)
            if port not in self._raised:
                self._ledger.forget(port)
            del self._where[port]
        existing = netns.list_netns(self.host)
        for ns in list(self._ledger.namespaces):
            if ns in self._where.values():
                continue  # a port that could not come home stays where the ledger says, for the next start
            if ns not in existing or netns.delete_netns(ctx.run_tool, ns).ok:
                self._ledger.drop_namespace(ns)
        if moved:
            self._settle(ctx, moved)
            self._exclude_growth(undisturbed, self._snapshot(moved))
            ctx.note("ports restored after the traffic test", ports=[p for p in moved if p not in self._where])

    def _restore_all(self, ctx: ModuleContext) -> None:
        """Everything back as it was: ports home from their namespaces, raised ports down, the ledger gone."""
        if self._ledger is None:
            return
        self._restore_moved(ctx)
        self._lower_raised(ctx)
        if not (self._where or self._raised or self._ledger.ports or self._ledger.namespaces):
            self._ledger.remove()
            self._ledger = None

    def _settle(self, ctx: ModuleContext, ports: Sequence[str]) -> None:
        """Our own moves take links down and up, which is no flap: give the ports `link_wait_s` to find their link
        again, and take carrier_changes as the new base once they have. Waits here unless the module is stopping;
        then `_check_flap` finishes the job."""
        deadline = time.monotonic() + float(self.config["link_wait_s"])
        for port in ports:
            self._settling[port] = deadline
        while any(p in self._settling for p in ports) and not ctx.stopping():
            for port in ports:
                counters = self._read_counters(port, with_driver=False)
                if counters is not None:
                    self._settled(port, counters)
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)

    def _settled(self, port: str, now: Counters) -> bool:
        """False while the port is still finding its link after one of our moves."""
        deadline = self._settling.get(port)
        if deadline is None:
            return True
        if now.carrier:
            self._carrier_base[port] = now.carrier_changes
            del self._settling[port]
            return True
        if time.monotonic() > deadline:
            del self._settling[port]  # it should be back by now: judge it
            return True
        return False

    # -- counters -----------------------------------------------------------------------------------
    def _read_counters(self, port: str, with_driver: bool = True) -> Counters | None:
        ns = self._where.get(port)
        if ns is None:
            counters = read_sysfs_counters(self.host, port)
        else:
            reading = netns.read_link(self.host, port, ns)
            counters = None if reading is None else Counters(
                time.monotonic(), reading.carrier, reading.counters.get("carrier_changes"),
                {k: v for k, v in reading.counters.items() if k in KERNEL_COUNTERS})
        if counters is None or not with_driver or not (self.host.live and self.host.which("ethtool")):
            return counters
        argv = ethtool.statistics_argv(port)
        result = self.host.run(netns.exec_argv(ns, argv) if ns else argv, timeout=10)
        if result.ok:
            counters = replace(counters, driver=driver_error_counters(ethtool.parse_statistics(result.stdout)))
        return counters

    def _snapshot(self, ports: Sequence[str]) -> dict[str, Counters]:
        return {p: c for p in ports if (c := self._read_counters(p)) is not None}

    def _exclude_growth(self, before: Mapping[str, Counters], after: Mapping[str, Counters]) -> None:
        for port, old in before.items():
            if port in after:
                excluded = self._excluded.setdefault(port, {})
                for key, delta in growth(old, after[port]).items():
                    excluded[key] = excluded.get(key, 0) + delta

    def _net_growth(self, port: str, now: Counters) -> dict[str, int]:
        """Growth since the baseline, less what the traffic test judged and what our own moves caused."""
        grown = growth(self._baseline[port], now)
        for key, delta in self._excluded.get(port, {}).items():
            if key in grown:
                grown[key] -= delta
        return {k: v for k, v in grown.items() if v > 0}

    def _observe(self, ctx: ModuleContext) -> None:
        metrics: dict[str, float] = {}
        for port in list(self._baseline):
            now = self._read_counters(port)
            if now is None:
                if port in self._where:
                    continue
                self._emit(ctx, port, Judgement(Severity.FAIL, "port-vanished",
                                                f"Network port {port} disappeared during the run.", {"port": port}))
                continue
            last = self._last.get(port)
            if last is not None and now.time > last.time:
                dt = now.time - last.time
                for direction in ("rx", "tx"):
                    new, old = now.kernel.get(f"{direction}_bytes"), last.kernel.get(f"{direction}_bytes")
                    if new is not None and old is not None and new >= old:
                        metrics[f"{direction}_mbps:{port}"] = round((new - old) * 8 / dt / 1e6, 3)
            errors, drops = split_growth(self._net_growth(port, now))
            metrics[f"errors:{port}"] = float(sum(errors.values()))
            metrics[f"drops:{port}"] = float(sum(drops.values()))
            self._last[port] = now
            self._check_flap(ctx, port, now)
        ctx.sample(metrics)

    def _check_flap(self, ctx: ModuleContext, port: str, now: Counters) -> None:
        if port not in self._watch_flaps or not self._settled(port, now):
            return
        base = self._carrier_base.get(port)
        changed = base is not None and now.carrier_changes is not None and now.carrier_changes > base
        if not changed and now.carrier:
            return
        # carrier None: unreadable because the port was taken down administratively; the link is gone all the same
        what = "went down" if not now.carrier else "dropped and came back"
        self._emit(ctx, port, Judgement(
            Severity.FAIL, "link-flap",
            f"The link of {describe_port(self._links[port])} {what} during the run: a loose or damaged cable, "
            f"connector or port, or someone took it down.",
            {"port": port, "carrier_now": now.carrier, "carrier_changes_before": base,
             "carrier_changes_now": now.carrier_changes, "in_namespace": self._where.get(port),
             "operstate": None if port in self._where else self.host.read_text(f"{NET}/{port}/operstate")}))

    def _judge_growth(self, ctx: ModuleContext, port: str, grown: Mapping[str, int]) -> None:
        errors, drops = split_growth(grown)
        link = self._links[port]
        if errors:
            self._emit(ctx, port, Judgement(
                Severity(self.config["error_growth"]), "error-growth",
                f"{describe_port(link)} counted errors during the run ({_describe(errors)}).",
                {"port": port, "grown": errors}))
        if drops:
            self._emit(ctx, port, Judgement(
                Severity(self.config["drop_growth"]), "drop-growth",
                f"{describe_port(link)} dropped frames during the run ({_describe(drops)}).",
                {"port": port, "grown": drops}))


def _describe(grown: Mapping[str, int]) -> str:
    return ", ".join(f"{k} +{v}" for k, v in sorted(grown.items()))
