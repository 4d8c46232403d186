"""ipmitool: argv builders and parsers for the System Event Log (`sel info`, `sel list`, `sel elist`) and the
sensors (`sensor`, `sdr elist`, `sdr list`). Parsers never judge; unparseable lines are kept out of the records
and counted (`unparsed`), never silently dropped.

Formats, from ipmitool's lib/ipmi_sel.c, lib/ipmi_sensor.c and lib/ipmi_sdr.c:
- `sel list` / `sel elist`:  "  3a | 12/14/22 | 23:09:44 CET | Memory #0x88 | Correctable ECC (CPU0_G1) | Asserted"
  The record id is hex. The fourth column is the sensor type name followed by the sensor's name (elist, from the
  SDR) or its number ("#0x88"). A threshold event in elist adds "| Reading 96 > Threshold 95 degrees C".
  Timestamps before the BMC's clock was set read "Pre-Init |0000000011|".
- `sensor`: "CPU Temp | 31.000 | degrees C | ok | 5.000 | 5.000 | 10.000 | 90.000 | 95.000 | 95.000" with the
  thresholds in the order lnr, lcr, lnc, unc, ucr, unr ("na" where the BMC has none). Discrete sensors show
  "0x0" and the unit "discrete"; their status column holds state bits.
- `sdr elist`: "Power Supply 1 | 06h | ok | 10.1 | 0 Watts, Presence detected, Failure detected";
  `sdr list`: "Fan3B | 0 RPM | cr". Status: ok, ns (no reading), nc, cr, nr.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DEVICE_PATHS = ("/dev/ipmi0", "/dev/ipmi/0", "/dev/ipmidev/0")  # where ipmitool's "open" interface looks

# ipmitool's sensor type names (IPMI 2.0 table 42-3, as ipmitool spells them), plus spellings of other versions.
SENSOR_TYPES = (
    "Temperature", "Voltage", "Current", "Fan", "Physical Security", "Platform Security", "Processor",
    "Power Supply", "Power Unit", "Cooling Device", "Other", "Memory", "Drive Slot / Bay", "Drive Slot (Bay)",
    "POST Memory Resize", "System Firmwares", "System Firmware Progress", "System Firmware Error",
    "Event Logging Disabled", "Watchdog1", "Watchdog 1", "System Event", "Critical Interrupt", "Button",
    "Module / Board", "Microcontroller", "Add-in Card", "Chassis", "Chip Set", "Other FRU", "Cable / Interconnect",
    "Terminator", "System Boot Initiated", "Boot Error", "OS Boot", "OS Critical Stop", "Slot / Connector",
    "System ACPI Power State", "Watchdog2", "Watchdog 2", "Platform Alert", "Entity Presence", "Monitor ASIC",
    "LAN", "Management Subsys Health", "Battery", "Session Audit", "Version Change", "FRU State", "OEM reserved",
    "Unknown",
)
_TYPES_LONGEST_FIRST = sorted(SENSOR_TYPES, key=len, reverse=True)
_READING = re.compile(r"Reading\s+(?P<reading>-?[\d.]+)(?:\s*(?P<op>[<>])\s*Threshold\s+(?P<threshold>-?[\d.]+)"
                      r"\s*(?P<unit>.*))?$")


# -- records ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SelInfo:
    entries: int | None
    free_bytes: int | None
    percent_used: int | None
    overflow: bool | None
    last_add: str | None  # "03/11/2021 15:45:59"; None for "Not Available"
    last_delete: str | None
    version: str | None


@dataclass(frozen=True)
class SelEntry:
    record_id: int
    date: str | None  # "12/14/22"; None for Pre-Init timestamps and records without one
    time: str | None  # "23:09:44 CET"
    sensor_type: str  # "Memory", "Power Supply"; the whole column when the type is not one ipmitool names
    sensor: str | None  # "CPU Temp" (elist) or "#0x88"; None when the event names no sensor
    description: str  # "Correctable ECC (CPU0_G1)"; may be empty
    asserted: bool | None  # None for OEM records
    reading: float | None = None  # threshold events in elist
    threshold: float | None = None
    threshold_unit: str | None = None
    extra: str | None = None  # any further column ("CPU 1 DIMM 2" for memory ECC)
    oem: bool = False
    line: str = ""


@dataclass(frozen=True)
class SelList:
    entries: tuple[SelEntry, ...]
    unparsed: tuple[str, ...] = ()


@dataclass(frozen=True)
class SensorReading:
    """One line of `ipmitool sensor`."""

    name: str
    value: float | None  # None: "na", or a discrete sensor
    unit: str | None  # "degrees C", "RPM", "Volts", "Watts", "discrete"
    status: str | None  # "ok", "nc", "cr", "nr", "na", or state bits ("0x0100") for discrete sensors
    lnr: float | None = None
    lcr: float | None = None
    lnc: float | None = None
    unc: float | None = None
    ucr: float | None = None
    unr: float | None = None

    @property
    def discrete(self) -> bool:
        return self.unit == "discrete"


@dataclass(frozen=True)
class SensorList:
    readings: tuple[SensorReading, ...]
    unparsed: tuple[str, ...] = ()


@dataclass(frozen=True)
class SdrRecord:
    """One line of `ipmitool sdr elist` (with id, entity) or `sdr list` (without)."""

    name: str
    status: str  # "ok", "ns", "nc", "cr", "nr"
    reading: str  # "40 degrees C", "0 Watts, Presence detected, Failure detected", "" …
    sensor_id: str | None = None  # "06h"
    entity: str | None = None  # "10.1" (entity id . instance)
    states: tuple[str, ...] = field(default=())  # the reading split at commas: discrete states

    @property
    def value(self) -> float | None:
        match = re.match(r"(-?[\d.]+)\s", self.reading + " ")
        return float(match.group(1)) if match else None


@dataclass(frozen=True)
class SdrList:
    records: tuple[SdrRecord, ...]
    unparsed: tuple[str, ...] = ()


# -- argv ------------------------------------------------------------------------------------------
def sel_info_argv() -> list[str]:
    return ["ipmitool", "sel", "info"]


def sel_list_argv() -> list[str]:
    """Fast: no SDR lookups (sensors appear as "#0x2b")."""
    return ["ipmitool", "sel", "list"]


def sel_elist_argv(last: int | None = None) -> list[str]:
    """With sensor names and threshold readings (reads the SDR: slower); `last`: only the newest N entries."""
    return ["ipmitool", "sel", "elist"] + (["last", str(last)] if last else [])


def sensor_argv() -> list[str]:
    return ["ipmitool", "sensor"]


def sdr_elist_argv() -> list[str]:
    return ["ipmitool", "sdr", "elist"]


# -- parsers ---------------------------------------------------------------------------------------
def _num(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_sel_info(text: str) -> SelInfo:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()

    def integer(key: str) -> int | None:
        match = re.match(r"\d+", fields.get(key, ""))
        return int(match.group(0)) if match else None

    def when(key: str) -> str | None:
        value = fields.get(key)
        return None if not value or value.lower().startswith("not available") else value

    overflow = fields.get("overflow", "").lower()
    return SelInfo(integer("entries"), integer("free space"), integer("percent used"),
                   {"true": True, "false": False}.get(overflow), when("last add time"), when("last del time"),
                   fields.get("version"))


def split_sensor_column(column: str) -> tuple[str, str | None]:
    """"Power Unit Pwr Unit Status" -> ("Power Unit", "Pwr Unit Status"); "Memory #0x2b" -> ("Memory", "#0x2b")."""
    column = column.strip()
    for name in _TYPES_LONGEST_FIRST:
        if column == name:
            return name, None
        if column.startswith(name + " "):
            return name, column[len(name) + 1:].strip() or None
    match = re.match(r"(.*?)\s+(#0x[0-9a-fA-F]+)$", column)
    if match:
        return match.group(1), match.group(2)
    return column, None


def parse_sel_list(text: str) -> SelList:
    """`sel list` or `sel elist` output (either works; elist adds names and readings)."""
    entries: list[SelEntry] = []
    unparsed: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.strip() == "SEL has no entries":
            continue
        cols = [c.strip() for c in line.split("|")]
        try:
            record_id = int(cols[0], 16)
        except ValueError:
            unparsed.append(line)
            continue
        if len(cols) == 2 and cols[1].startswith("Linux kernel panic"):
            entries.append(SelEntry(record_id, None, None, "Linux kernel panic", None, cols[1], None, oem=True,
                                    line=line))
            continue
        if len(cols) >= 4 and cols[3].startswith("OEM record"):
            entries.append(SelEntry(record_id, cols[1] or None, cols[2] or None, cols[3], None,
                                    " | ".join(cols[4:]), None, oem=True, line=line))
            continue
        if len(cols) < 6:
            unparsed.append(line)
            continue
        date, time_ = cols[1], cols[2]
        if date == "Pre-Init":
            date = time_ = None
        sensor_type, sensor = split_sensor_column(cols[3])
        direction = cols[5].lower()
        asserted = True if direction == "asserted" else False if direction == "deasserted" else None
        reading = threshold = unit = extra = None
        for more in cols[6:]:
            match = _READING.match(more)
            if match:
                reading = _num(match.group("reading"))
                threshold = _num(match.group("threshold")) if match.group("threshold") else None
                unit = (match.group("unit") or "").strip() or None
            elif more:
                extra = more
        entries.append(SelEntry(record_id, date, time_, sensor_type, sensor, cols[4], asserted, reading, threshold,
                                unit, extra, line=line))
    return SelList(tuple(entries), tuple(unparsed))


def parse_sensor(text: str) -> SensorList:
    readings: list[SensorReading] = []
    unparsed: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        cols = [c.strip() for c in line.split("|")]
        if len(cols) < 4:
            unparsed.append(line)  # "Get SDR 0002 command failed" and other errors between the lines
            continue
        name, value, unit, status = cols[:4]
        unit = unit or None
        thresholds = [(_num(c) if c != "na" else None) for c in cols[4:10]] + [None] * (10 - max(len(cols), 4))
        readings.append(SensorReading(
            name, None if unit == "discrete" or value == "na" else _num(value), unit,
            status or None, *thresholds[:6]))
    return SensorList(tuple(readings), tuple(unparsed))


def parse_sdr(text: str) -> SdrList:
    """`sdr elist` (5 columns) or `sdr list` (3 columns)."""
    records: list[SdrRecord] = []
    unparsed: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        cols = [c.strip() for c in line.split("|")]
        if len(cols) == 5:
            name, sensor_id, status, entity, reading = cols
        elif len(cols) == 3:
            name, reading, status = cols
            sensor_id = entity = None
        else:
            unparsed.append(line)
            continue
        states = tuple(s.strip() for s in reading.split(",") if s.strip())
        records.append(SdrRecord(name, status, reading, sensor_id, entity, states))
    return SdrList(tuple(records), tuple(unparsed))
