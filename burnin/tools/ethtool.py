"""ethtool: argv builders and parsers for `ethtool -i IFACE` (driver, firmware), `ethtool IFACE` (link modes,
the link partner's too) and `ethtool -S IFACE` (the driver's own counters).

ethtool 6.1 has no JSON output for link settings, so its text is parsed. Fields ethtool reports as
"Unknown!" or "Not reported" are None / empty. Adapters never judge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class DriverInfo:
    driver: str | None
    version: str | None
    firmware_version: str | None
    expansion_rom_version: str | None
    bus_info: str | None  # "0000:00:1f.6"


@dataclass(frozen=True)
class LinkSettings:
    supported_ports: tuple[str, ...]
    supported_link_modes: tuple[str, ...]
    advertised_link_modes: tuple[str, ...]
    supports_autoneg: bool | None
    autoneg: bool | None
    speed_mbps: int | None
    duplex: str | None  # "Full", "Half"
    port: str | None  # "Twisted Pair", "FIBRE", "Direct Attach Copper"
    link_detected: bool | None
    # What the other end of the cable advertised in autonegotiation; empty when the driver does not report it.
    partner_link_modes: tuple[str, ...] = ()
    partner_autoneg: bool | None = None

    @property
    def supported_speeds_mbps(self) -> tuple[int, ...]:
        return link_mode_speeds(self.supported_link_modes)


def driver_argv(iface: str) -> list[str]:
    return ["ethtool", "-i", iface]


def settings_argv(iface: str) -> list[str]:
    return ["ethtool", iface]


def statistics_argv(iface: str) -> list[str]:
    return ["ethtool", "-S", iface]


def _value(text: str) -> str | None:
    text = text.strip()
    return text or None


def parse_driver_info(text: str) -> DriverInfo:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith((" ", "\t", "#")):
            values[key.strip()] = value
    return DriverInfo(
        driver=_value(values.get("driver", "")),
        version=_value(values.get("version", "")),
        firmware_version=_value(values.get("firmware-version", "")),
        expansion_rom_version=_value(values.get("expansion-rom-version", "")),
        bus_info=_value(values.get("bus-info", "")),
    )


_LIST_KEYS = ("Supported link modes", "Advertised link modes", "Link partner advertised link modes")
_SPEED = re.compile(r"^(\d+)Mb/s$")
_MODE_SPEED = re.compile(r"^(\d+)base")


def _yes_no(value: str | None) -> bool | None:
    if value is None:
        return None
    word = value.strip().lower()
    if word in ("yes", "on"):
        return True
    if word in ("no", "off"):
        return False
    return None


def parse_settings(text: str) -> LinkSettings:
    """Parse `ethtool IFACE`: "Key: value" lines, with link-mode lists continued on deeper-indented lines."""
    values: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        if not line.strip() or line.startswith(("Settings for", "#", "netlink error")):
            continue
        key, sep, value = line.partition(":")
        # A key line is "<indent>Key: value"; a continuation line has only words (link modes contain no ':').
        if sep and re.match(r"^\s*[A-Za-z][A-Za-z -]*$", key):
            current = key.strip()
            values[current] = value.strip()
            if current in _LIST_KEYS:
                lists[current] = [] if value.strip() == "Not reported" else value.split()
            continue
        if current in _LIST_KEYS:
            lists[current].extend(line.split())
    speed_match = _SPEED.match(values.get("Speed", ""))
    duplex = values.get("Duplex", "")
    ports = values.get("Supported ports", "").strip("[] \t")
    return LinkSettings(
        supported_ports=tuple(ports.split()) if ports else (),
        supported_link_modes=tuple(lists.get("Supported link modes", ())),
        advertised_link_modes=tuple(lists.get("Advertised link modes", ())),
        supports_autoneg=_yes_no(values.get("Supports auto-negotiation")),
        autoneg=_yes_no(values.get("Auto-negotiation")),
        speed_mbps=int(speed_match[1]) if speed_match else None,
        duplex=duplex if duplex and not duplex.startswith("Unknown") else None,
        port=values.get("Port") or None,
        link_detected=_yes_no(values.get("Link detected")),
        partner_link_modes=tuple(lists.get("Link partner advertised link modes", ())),
        partner_autoneg=_yes_no(values.get("Link partner advertised auto-negotiation")),
    )


_STAT = re.compile(r"^\s*(.+?):\s+(-?\d+)\s*$")


def parse_statistics(text: str) -> dict[str, int]:
    """Parse `ethtool -S`: "     name: value" lines under "NIC statistics:".

    Names are kept whole, prefixes included ("[0]: rx_bytes" from bnx2x, "rxq0: rx_compl_err" from be2net):
    per-queue counters of different queues share the last part of their name. Non-numeric lines are skipped."""
    stats: dict[str, int] = {}
    for line in text.splitlines():
        if not line.startswith((" ", "\t")):
            continue  # "NIC statistics:", a "# ethtool -S" prompt
        match = _STAT.match(line)
        if match:
            stats[match[1].strip()] = int(match[2])
    return stats


def link_mode_speeds(modes: tuple[str, ...] | list[str]) -> tuple[int, ...]:
    """ "10000baseT/Full" -> 10000 (Mb/s); sorted, without duplicates."""
    speeds = {int(m[1]) for mode in modes if (m := _MODE_SPEED.match(mode))}
    return tuple(sorted(speeds))
