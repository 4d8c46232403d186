"""Redfish: the BMC's REST service, read through OpenStack's `sushy` connector, and parsers that turn its JSON
documents into the very records the IPMI path uses (`burnin.tools.ipmitool`): sensor readings with thresholds
(`SensorReading`), health states of power supplies and fans (`SdrRecord`) and log entries as dated events
(`SelEntry`). Parsers never judge; the bmc module judges both paths with the same functions and codes.

What is read (DSP0266/DSP8010 schemas, as the DMTF mockups and real BMCs serve them):
- sensors: each chassis' `Sensors` collection (Sensor.v1: `Reading`, `ReadingUnits`, `Thresholds.{Lower,Upper}
  {Caution,Critical,Fatal}.Reading`, `Status.Health`); where a chassis has none, the older `Thermal`
  (`Temperatures[].ReadingCelsius`, `Fans[].Reading`/`ReadingRPM`, `Upper/LowerThreshold{NonCritical,Critical,
  Fatal}`) and `Power` (`Voltages[].ReadingVolts`);
- power supplies and fans: `PowerSubsystem/PowerSupplies` and `ThermalSubsystem/Fans` (or `Power.PowerSupplies`,
  `Thermal.Fans`): their `Status.Health` and a PSU's `LineInputStatus`;
- logs: every `LogServices/*/Entries` of the systems and managers (the IPMI SEL is one of them on most BMCs:
  `EntryType` "SEL", with `SensorType` and `EntryCode`).

sushy's own object model (5.x) has no Sensors collection and no LogServices, so burnin asks sushy's connector
(authentication: a session, or HTTP basic where the service refuses sessions; retries; its error types) for the
JSON documents and parses them here. sushy is imported only when a Redfish service is actually read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from burnin.tools.ipmitool import SENSOR_TYPES, SdrRecord, SelEntry, SelInfo, SelList, SensorReading

Getter = Callable[[str], dict]  # GET a Redfish path, return its JSON document (raises RedfishError)
ROOT = "/redfish/v1"
MAX_PAGES = 50  # a log's collection pages followed at most (nextLink)
MAX_MEMBERS = 5000


class RedfishError(Exception):
    """A Redfish request failed: the message says which path and why, in one line."""


# -- the endpoint ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    source: str  # "settings", "credential bootstrapping (IPMI)"


def host_interface_urls(host_interfaces: Iterable[Any]) -> list[str]:
    """The Redfish service URLs that SMBIOS type 42 "Redfish over IP" records name (static/auto-configured
    service addresses first, then the hostname); HTTPS, as DSP0270 requires."""
    urls: list[str] = []
    for hi in host_interfaces:
        for rec in hi.redfish:
            port = rec.service_port or 443
            for address in (rec.service_ip, rec.service_hostname):
                if not address or address in ("0.0.0.0", "::"):
                    continue
                hostpart = f"[{address}]" if ":" in address else address
                url = f"https://{hostpart}" + ("" if port == 443 else f":{port}")
                if url not in urls:
                    urls.append(url)
    return urls


def bootstrap_argv(keep_enabled: bool = True) -> list[str]:
    """IPMI "Get Bootstrap Account Credentials" (DSP0270 9.1: NetFn 0x2C, command 0x02, group extension 0x52).
    The second byte 0xA5 keeps bootstrapping enabled for the next caller; 0xFF disables it."""
    return ["ipmitool", "raw", "0x2c", "0x02", "0x52", "0xa5" if keep_enabled else "0xff"]


def parse_bootstrap(stdout: str) -> Credentials | None:
    """`ipmitool raw` prints the response without its completion code, as hex bytes: the group extension 0x52,
    16 bytes of user name and 16 of password (NUL padded). None when the answer is not that."""
    try:
        data = bytes(int(tok, 16) for tok in stdout.split())
    except ValueError:
        return None
    if len(data) < 33 or data[0] != 0x52:
        return None
    user = data[1:17].split(b"\0", 1)[0].decode("utf-8", "replace")
    password = data[17:33].split(b"\0", 1)[0].decode("utf-8", "replace")
    if not user:
        return None
    return Credentials(user, password, "credential bootstrapping (IPMI)")


# -- the client ----------------------------------------------------------------------------------------
class Client:
    """GET JSON documents from one Redfish service. `sushy` is imported here, not at module import."""

    def __init__(self, url: str, credentials: Credentials | None, verify_tls: bool = False, timeout_s: float = 30):
        try:
            import sushy
        except ImportError as exc:  # an optional dependency: say how to get it
            raise RedfishError("the Python package sushy is not installed (pip install 'burnin[redfish]')") from exc
        if not verify_tls:
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # a BMC's self-signed certificate
        self.url = url.rstrip("/")
        user = credentials.username if credentials else None
        password = credentials.password if credentials else None
        try:
            self._root = sushy.Sushy(self.url, username=user, password=password, verify=verify_tls,
                                     server_side_retries=2, server_side_retries_delay=1, read_timeout=timeout_s,
                                     connect_timeout=min(10.0, timeout_s))
        except Exception as exc:  # sushy raises its own errors and requests' ConnectionError
            raise RedfishError(f"{self.url}: {_one_line(exc)}") from exc
        self._conn = self._root._conn  # sushy's connector (its public Sushy object hides it behind resources)
        self._timeout_s = timeout_s

    def get(self, path: str) -> dict:
        try:
            response = self._conn.get(path=path, timeout=self._timeout_s)
            doc = response.json()
        except ValueError as exc:
            raise RedfishError(f"{path}: not JSON ({exc})") from exc
        except Exception as exc:
            raise RedfishError(f"{path}: {_one_line(exc)}") from exc
        if not isinstance(doc, dict):
            raise RedfishError(f"{path}: not a JSON object")
        return doc

    def close(self) -> None:
        try:
            self._root.close()  # deletes the session where one was made
        except Exception:  # noqa: BLE001 - closing is best effort
            pass


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


# -- walking ---------------------------------------------------------------------------------------------
def dicts(value: Any) -> list[dict]:
    """The objects of a JSON array; [] for anything else (a BMC's malformed document is not a crash)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def obj(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def link(doc: dict, key: str) -> str | None:
    value = doc.get(key)
    if isinstance(value, dict) and isinstance(value.get("@odata.id"), str):
        return value["@odata.id"]
    return None


def members(get: Getter, path: str, pages: int = 1, errors: list[str] | None = None) -> list[dict]:
    """A collection's members as documents (expanded members are used as they are; others fetched). A later page
    that fails ends the walk with what was read (and a line in `errors`); a first page that fails raises."""
    out: list[dict] = []
    seen: set[str] = set()
    next_path: str | None = path
    for page in range(max(1, pages)):
        if next_path is None or next_path in seen:
            break
        seen.add(next_path)
        try:
            doc = get(next_path)
        except RedfishError as exc:
            if page == 0:
                raise
            if errors is not None:
                errors.append(f"{exc} (the collection's later pages were not read)")
            break
        for member in dicts(doc.get("Members")):
            if len(member) > 1 or "@odata.id" not in member:
                out.append(member)  # expanded ($expand, or a log collection that inlines its entries)
            else:
                out.append(get(member["@odata.id"]))
            if len(out) >= MAX_MEMBERS:
                return out
        next_path = doc.get("Members@odata.nextLink") or doc.get("@odata.nextLink")
        if not isinstance(next_path, str):
            next_path = None
    return out


# -- sensors -----------------------------------------------------------------------------------------------
UNITS = {"Cel": "degrees C", "RPM": "RPM", "{rev}/min": "RPM", "V": "Volts", "W": "Watts", "A": "Amps",
         "%": "percent", "Percent": "percent", "J": "Joules", "kW.h": "kWh", "Hz": "Hz"}
HEALTH_STATUS = {"OK": "ok", "Warning": "nc", "Critical": "cr"}
SENSOR_THRESHOLDS = (("lnr", "LowerFatal"), ("lcr", "LowerCritical"), ("lnc", "LowerCaution"),
                     ("unc", "UpperCaution"), ("ucr", "UpperCritical"), ("unr", "UpperFatal"))
LEGACY_THRESHOLDS = (("lnr", "LowerThresholdFatal"), ("lcr", "LowerThresholdCritical"),
                     ("lnc", "LowerThresholdNonCritical"), ("unc", "UpperThresholdNonCritical"),
                     ("ucr", "UpperThresholdCritical"), ("unr", "UpperThresholdFatal"))


@dataclass(frozen=True)
class Sensors:
    readings: tuple[SensorReading, ...]  # threshold sensors, judged like `ipmitool sensor`
    states: tuple[SdrRecord, ...]  # power supplies and fans by health, judged like `ipmitool sdr elist`
    sources: tuple[str, ...]  # the paths read
    unreadable: tuple[str, ...] = ()  # "path: why" for documents that could not be read


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _present(doc: dict) -> bool:
    state = obj(doc.get("Status")).get("State")
    return state not in ("Absent", "Disabled", "UnavailableOffline")


def _status(doc: dict) -> str | None:
    return HEALTH_STATUS.get(str(obj(doc.get("Status")).get("Health") or ""), None)


def sensor_reading(doc: dict) -> SensorReading | None:
    """A Sensor.v1 document as a threshold sensor reading; None for an absent or disabled sensor."""
    if not _present(doc):
        return None
    name = str(doc.get("Name") or doc.get("Id") or "?")
    units = doc.get("ReadingUnits") if isinstance(doc.get("ReadingUnits"), str) else ""
    unit = UNITS.get(units, units or None)
    thresholds = obj(doc.get("Thresholds"))
    limits = {key: _number(obj(thresholds.get(name_)).get("Reading")) for key, name_ in SENSOR_THRESHOLDS}
    return SensorReading(name, _number(doc.get("Reading")), unit, _status(doc), **limits)


def legacy_reading(doc: dict, value_key: str, unit: str | None) -> SensorReading | None:
    """An entry of Thermal.Temperatures/Fans or Power.Voltages (the pre-2020 schemas)."""
    if not _present(doc):
        return None
    value = _number(doc.get(value_key))
    if value_key == "Reading":  # fans: Reading with ReadingUnits (RPM or Percent)
        units = doc.get("ReadingUnits") if isinstance(doc.get("ReadingUnits"), str) else "RPM"
        unit = UNITS.get(units, units)
    if value is None and value_key == "Reading":
        value = _number(doc.get("ReadingRPM"))
    limits = {key: _number(doc.get(name)) for key, name in LEGACY_THRESHOLDS}
    name = str(doc.get("Name") or doc.get("MemberId") or "?")
    return SensorReading(name, value, unit, _status(doc), **limits)


def health_record(doc: dict, kind: str) -> SdrRecord | None:
    """A power supply or fan by its health, as a discrete sensor: states the bmc judge knows
    ("Health Critical", "Health Warning", "AC lost")."""
    if obj(doc.get("Status")).get("State") == "Absent":
        return None
    health = obj(doc.get("Status")).get("Health")
    health = health if isinstance(health, str) else None
    states = []
    if health in ("Critical", "Warning"):
        states.append(f"Health {health}")
    line = doc.get("LineInputStatus")
    if line in ("LossOfInput", "OutOfRange"):
        states.append("AC lost" if line == "LossOfInput" else "AC out-of-range")
    name = str(doc.get("Name") or doc.get("MemberId") or doc.get("Id") or kind)
    reading = ", ".join([f"{kind} health {health or 'not stated'}"] + states[1:] if states else
                        [f"{kind} health {health or 'not stated'}"])
    return SdrRecord(name, HEALTH_STATUS.get(health or "", "ns"), reading, None, kind, tuple(states))


def read_sensors(get: Getter) -> Sensors:
    """Every chassis' sensors, power supplies and fans. Documents that fail are listed, never dropped silently."""
    readings: list[SensorReading] = []
    states: list[SdrRecord] = []
    sources: list[str] = []
    unreadable: list[str] = []

    def attempt(path: str) -> dict | None:
        try:
            doc = get(path)
        except RedfishError as exc:
            unreadable.append(str(exc))
            return None
        sources.append(path)
        return doc

    def attempt_members(path: str) -> list[dict]:
        try:
            found = members(get, path)
        except RedfishError as exc:
            unreadable.append(str(exc))
            return []
        sources.append(path)
        return found

    root = attempt(ROOT) or {}
    chassis_path = link(root, "Chassis")
    if chassis_path is None:
        return Sensors((), (), tuple(sources), tuple(unreadable) or (f"{ROOT}: the service names no Chassis",))
    for chassis in attempt_members(chassis_path):
        sensors_path = link(chassis, "Sensors")
        if sensors_path:
            readings.extend(r for r in map(sensor_reading, attempt_members(sensors_path)) if r is not None)
        thermal = attempt(link(chassis, "Thermal")) if link(chassis, "Thermal") else None
        power = attempt(link(chassis, "Power")) if link(chassis, "Power") else None
        if not sensors_path:
            for doc in dicts((thermal or {}).get("Temperatures")):
                reading = legacy_reading(doc, "ReadingCelsius", "degrees C")
                if reading:
                    readings.append(reading)
            for doc in dicts((thermal or {}).get("Fans")):
                reading = legacy_reading(doc, "Reading", "RPM")
                if reading:
                    readings.append(reading)
            for doc in dicts((power or {}).get("Voltages")):
                reading = legacy_reading(doc, "ReadingVolts", "Volts")
                if reading:
                    readings.append(reading)
        subsystem = link(chassis, "PowerSubsystem")
        psus = attempt_members(link(attempt(subsystem) or {}, "PowerSupplies") or "") if subsystem else []
        if not subsystem:
            psus = dicts((power or {}).get("PowerSupplies"))
        states.extend(r for r in (health_record(d, "power supply") for d in psus) if r is not None)
        subsystem = link(chassis, "ThermalSubsystem")
        fans = attempt_members(link(attempt(subsystem) or {}, "Fans") or "") if subsystem else []
        if not subsystem:
            fans = dicts((thermal or {}).get("Fans"))
        states.extend(r for r in (health_record(d, "fan") for d in fans) if r is not None)
    return Sensors(tuple(readings), tuple(states), tuple(sources), tuple(unreadable))


# -- logs ----------------------------------------------------------------------------------------------------
# Words in a MessageId or message that say what an event without a SensorType is about (Redfish event logs).
TOPICS = (("power supply", "Power Supply"), ("powersupply", "Power Supply"), ("psu", "Power Supply"),
          ("fan", "Fan"), ("temp", "Temperature"), ("thermal", "Temperature"), ("memory", "Memory"),
          ("dimm", "Memory"), ("ecc", "Memory"), ("processor", "Processor"), ("cpu", "Processor"),
          ("voltage", "Voltage"), ("drive", "Drive Slot / Bay"))
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class LogEntries:
    entries: tuple[SelEntry, ...]  # oldest first, as `sel list` prints
    services: tuple[str, ...]  # the Entries collections read
    capacity: int | None  # the largest log's MaxNumberOfRecords, where stated
    unreadable: tuple[str, ...] = ()

    def info(self) -> SelInfo:
        """An `ipmitool sel info`-like summary: entries, percent of the log's capacity, newest entry's time."""
        newest = max((f"{e.date} {e.time}" for e in self.entries if e.date), default=None)
        percent = (100 * len(self.entries) // self.capacity) if self.capacity else None
        return SelInfo(len(self.entries), None, percent, None, newest, None, "Redfish")


def created(text: str | None) -> tuple[str | None, str | None]:
    """An ISO 8601 `Created` as (date "03/07/2012", time "14:44:00 UTC"), like ipmitool prints a SEL date."""
    if not text or not isinstance(text, str):
        return None, None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None, None
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    if when.year < 1990:  # a BMC clock that was never set ("1970-01-01T00:00:12Z"), as ipmitool's "Pre-Init"
        return None, None
    return when.strftime("%m/%d/%Y"), when.strftime("%H:%M:%S") + (" UTC" if when.tzinfo else "")


def log_entry(doc: dict, service: str, index: int) -> SelEntry:
    """A LogEntry.v1 as a SEL entry: a SEL-type entry keeps its sensor type and event code; an event names its
    topic from its MessageId. The Redfish Severity "Critical" is kept in the description where the event's own
    words do not say it, so that one judge rates both paths."""
    sensor_type = doc.get("SensorType") if isinstance(doc.get("SensorType"), str) else None
    message = _SPACES.sub(" ", str(doc.get("Message") or "")).strip()
    code = _SPACES.sub(" ", str(doc.get("EntryCode") or "")).strip()
    if sensor_type not in SENSOR_TYPES:
        topic_text = f"{doc.get('MessageId') or ''} {message}".lower()
        sensor_type = next((name for word, name in TOPICS if word in topic_text), sensor_type or "Event")
    description = code if code and code not in ("Assert", "Deassert") else message
    extra = message if message and message != description else None
    severity = doc.get("Severity") if isinstance(doc.get("Severity"), str) else None
    if severity == "Critical" and "critical" not in description.lower() and "fatal" not in description.lower():
        description = f"{description} (severity Critical)"
    asserted = not (code == "Deassert" or "deassert" in code.lower() or severity == "OK")
    number = doc.get("SensorNumber")
    sensor = f"#0x{number:02x}" if isinstance(number, int) and not isinstance(number, bool) else None
    raw_id = str(doc.get("Id") or index)
    date, time_ = created(doc.get("Created"))
    line = " | ".join(str(part) for part in (f"{service}#{raw_id}", doc.get("Created") or "-",
                                              doc.get("SensorType") or doc.get("MessageId") or "-", code or "-",
                                              severity or "-", message or "-"))
    return SelEntry(int(raw_id) if raw_id.isdecimal() else index, date, time_, sensor_type, sensor, description,
                    asserted, extra=extra, line=line)


def _log_services(get: Getter, parent: dict, unreadable: list[str]) -> list[dict]:
    path = link(parent, "LogServices")
    if not path:
        return []
    try:
        return members(get, path)
    except RedfishError as exc:
        unreadable.append(str(exc))
        return []


def read_log_entries(get: Getter) -> LogEntries:
    """Every log service's entries of every system and manager, oldest first."""
    unreadable: list[str] = []
    root = get(ROOT)
    owners: list[dict] = []
    for key in ("Systems", "Managers"):
        path = link(root, key)
        if path:
            try:
                owners.extend(members(get, path))
            except RedfishError as exc:
                unreadable.append(str(exc))
    entries: list[tuple[str, SelEntry]] = []
    services: list[str] = []
    capacity = None
    for owner in owners:
        for service in _log_services(get, owner, unreadable):
            entries_path = link(service, "Entries")
            if not entries_path:
                continue
            name = str(service.get("Id") or entries_path.rsplit("/", 2)[-2])
            try:
                docs = members(get, entries_path, pages=MAX_PAGES, errors=unreadable)
            except RedfishError as exc:
                unreadable.append(str(exc))
                continue
            services.append(entries_path)
            if isinstance(service.get("MaxNumberOfRecords"), int) and service["MaxNumberOfRecords"] > 0:
                capacity = max(capacity or 0, service["MaxNumberOfRecords"])
            for index, doc in enumerate(docs):
                when = doc.get("Created")
                entries.append((when if isinstance(when, str) else "", log_entry(doc, name, index)))
    entries.sort(key=lambda pair: pair[0])  # ISO strings of one BMC sort by time
    return LogEntries(tuple(e for _, e in entries), tuple(services), capacity, tuple(unreadable))


def as_sel_list(logs: LogEntries) -> SelList:
    return SelList(logs.entries)


def read_events(url: str, credentials: Credentials, verify_tls: bool = False, timeout_s: float = 30.0) -> LogEntries:
    """The BMC's log entries as dated SEL-shaped events (for a view of the machine's previous life): one call that
    opens the service, reads every log and closes the session. Raises RedfishError."""
    client = Client(url, credentials, verify_tls, timeout_s)
    try:
        return read_log_entries(client.get)
    finally:
        client.close()
