"""Network ports from /sys/class/net: the physical ones (those with a `device` link), their driver, PCI address,
MAC, link state and speed; firmware and supported speeds from ethtool on a live host.

lo, veth, bridges, bonds, tunnels and other software interfaces have no `device` link and are left out unless
asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from burnin.host import Host
from burnin.inventory._record import Record
from burnin.inventory._sysfs import last_pci_address, link_name
from burnin.tools import ethtool

NET = "/sys/class/net"


@dataclass(frozen=True)
class Nic(Record):
    name: str
    physical: bool
    driver: str | None
    pci_address: str | None
    mac: str | None
    operstate: str | None  # "up", "down", "unknown"
    carrier: bool | None
    speed_mbps: int | None
    duplex: str | None
    mtu: int | None
    firmware: str | None
    supported_speeds_mbps: tuple[int, ...]
    port: str | None  # ethtool's port type: "Twisted Pair", "FIBRE"…
    virtual_function: bool  # an SR-IOV VF
    sysfs_path: str | None

    @property
    def max_speed_mbps(self) -> int | None:
        if self.supported_speeds_mbps:
            return max(self.supported_speeds_mbps)
        return self.speed_mbps


def read_nic(host: Host, name: str) -> Nic:
    base = f"{NET}/{name}"
    device = f"{base}/device"
    physical = host.exists(device)
    real = host.realpath(device) if physical else None
    pci = last_pci_address(real)
    driver = link_name(host, f"{device}/driver") if physical else None
    speed = host.read_int(f"{base}/speed")
    carrier = host.read_int(f"{base}/carrier")
    duplex = host.read_text(f"{base}/duplex")
    return Nic(
        name=name,
        physical=physical,
        driver=driver,
        pci_address=pci,
        mac=host.read_text(f"{base}/address") or None,
        operstate=host.read_text(f"{base}/operstate") or None,
        carrier=None if carrier is None else carrier == 1,
        speed_mbps=speed if speed is not None and speed > 0 else None,
        duplex=duplex if duplex and duplex != "unknown" else None,
        mtu=host.read_int(f"{base}/mtu"),
        firmware=None,
        supported_speeds_mbps=(),
        port=None,
        virtual_function=physical and host.exists(f"{device}/physfn"),
        sysfs_path=real,
    )


def with_ethtool(host: Host, nic: Nic, timeout_s: float = 5.0) -> tuple[Nic, list[str]]:
    """Add firmware and supported speeds from ethtool (live host only)."""
    notes = []
    info = host.run(ethtool.driver_argv(nic.name), timeout=timeout_s)
    firmware = None
    if info.ok:
        firmware = ethtool.parse_driver_info(info.stdout).firmware_version
    else:
        notes.append(f"{nic.name}: firmware not read: `ethtool -i` failed: {info.error or info.stderr.strip()}")
    settings = host.run(ethtool.settings_argv(nic.name), timeout=timeout_s)
    speeds: tuple[int, ...] = ()
    port = None
    if settings.stdout.strip():  # ethtool exits 75 when some parts are not supported yet prints the rest
        parsed = ethtool.parse_settings(settings.stdout)
        speeds, port = parsed.supported_speeds_mbps, parsed.port
    else:
        notes.append(f"{nic.name}: link modes not read: `ethtool` failed: {settings.error or settings.stderr.strip()}")
    return replace(nic, firmware=firmware, supported_speeds_mbps=speeds, port=port), notes


def collect_nics(host: Host, include_virtual: bool = False) -> tuple[list[Nic], list[str]]:
    notes: list[str] = []
    nics = [read_nic(host, name) for name in host.listdir(NET)]
    if not include_virtual:
        nics = [n for n in nics if n.physical]
    if not host.can_run:
        return nics, notes
    if host.which("ethtool") is None:
        if nics:
            notes.append("NIC firmware and supported speeds not read: ethtool is not installed")
        return nics, notes
    enriched = []
    for nic in nics:
        if nic.physical:
            nic, more = with_ethtool(host, nic)
            notes.extend(more)
        enriched.append(nic)
    return enriched, notes
