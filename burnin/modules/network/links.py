"""Link audit: each port's carrier, speed and duplex against the best both ends of the cable support, from sysfs
and `ethtool IFACE`; which ports are under test; bringing administratively-down ports up to see their link."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from burnin.host import Host
from burnin.inventory.nics import Nic, collect_nics, read_nic
from burnin.model import Judgement, Severity
from burnin.module import ModuleContext
from burnin.tools import ethtool, netns

NET = "/sys/class/net"
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
    component = f"nic:{link.name}"
    evidence = port_evidence(link)
    if not link.has_link:
        if must_be_up:
            return [Judgement(Severity.FAIL, component, "no-link",
                              f"{describe_port(link)} has no link although {why_must or 'it must be up'}.", evidence)]
        return [Judgement(Severity.WARN, component, "no-link",
                          f"{describe_port(link)} has no link: no cable? connect one to test this port.", evidence)]
    out: list[Judgement] = []
    if link.nominal_speed or link.speed_mbps is None:
        said = (f"reports a nominal {_mbps(link.speed_mbps)}" if link.speed_mbps
                else "reports no link speed")
        out.append(Judgement(Severity.INFO, component, "speed-unknown",
                             f"{describe_port(link)} {said} (a virtual NIC, or a driver that does not tell): "
                             f"its link speed and duplex are not judged.", evidence))
        return out
    if link.duplex == "half":
        out.append(Judgement(Severity.FAIL, component, "half-duplex",
                             f"{describe_port(link)} runs half duplex at {_mbps(link.speed_mbps)}: a failed "
                             f"autonegotiation, a bad cable or a damaged port.", evidence))
    common = best_common_mode(link.advertised_modes or link.supported_modes, link.partner_modes)
    if common is not None:
        evidence["best_common_mbps"] = common[0]
        if link.speed_mbps < common[0]:
            out.append(Judgement(Severity.FAIL, component, "underspeed-link",
                                 f"{describe_port(link)} links at {_mbps(link.speed_mbps)} although it and its link "
                                 f"partner both support {_mbps(common[0])}: a damaged port, cable or connector.",
                                 evidence))
    else:
        own = best_own_speed(link)
        if own and link.speed_mbps < own:
            evidence["port_max_mbps"] = own
            out.append(Judgement(Severity.INFO, component, "speed-below-port-max",
                                 f"{describe_port(link)} links at {_mbps(link.speed_mbps)}, below its own "
                                 f"{_mbps(own)}; the partner's abilities are not reported, so the switch or the "
                                 f"other end may be the limit.", evidence))
    if link.supports_autoneg and link.autoneg is False:
        out.append(Judgement(Severity.INFO, component, "autoneg-off",
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


# -- the module's link audit -------------------------------------------------------------------------
class LinkAudit:
    """The NetworkModule's ports and their links (state: `_nics`, `_links`, `_raised`, `_ledger`).
    A part of `NetworkModule`, not usable alone: the state lives in the module (made in its __init__), shared by
    its parts (ports moved into namespaces change where counters are read, for instance)."""

    def _select_ports(self, ctx: ModuleContext, use_inventory: bool = True) -> list[Nic]:
        """The ports named in `ports` (else every physical port), plus those named in `pairs` and `must_be_up`.

        The run's inventory lists the physical ports, unless ports just came back from an earlier run's
        namespaces: the inventory was taken before that."""
        named = list(self.settings.ports)
        if named:
            ports = []
        elif ctx.inventory is not None and use_inventory:
            ports = [n for n in ctx.inventory.nics if n.physical and not n.virtual_function]
        else:
            ports = [n for n in collect_nics(self.host)[0] if not n.virtual_function]
        wanted = named + [p for pair in self._pair_settings()[0] for p in pair] + list(self.settings.must_be_up)
        for name in wanted:
            if name in {n.name for n in ports}:
                continue
            if not self.host.exists(f"{NET}/{name}"):
                self._emit(ctx, Judgement(Severity.FAIL, f"nic:{name}", "port-missing",
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
        must = {p: "the profile says it must be up (must_be_up)" for p in self.settings.must_be_up}
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
                self._emit(ctx, j)
