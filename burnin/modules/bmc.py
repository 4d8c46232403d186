"""The BMC: what the server's management controller logged and measured while the machine was under test.

Through ipmitool on the local IPMI device (/dev/ipmi0):
- check(): the System Event Log (`sel info`, `sel list`) as a baseline; hardware events already in it (power
  supply, fan, temperature, memory/ECC, voltage, processor, critical interrupts, drive bays) WARN
  `bmc-sel-before-run` with counts by type; a full SEL WARNs `bmc-sel-full` (new events would be lost). The
  sensors once (`sensor`, `sdr elist`), judged as in run().
- run(): the sensors every `interval_s`: fans, temperatures, voltages, power supplies against the thresholds the
  BMC holds for them. Samples `bmc_temp_c:<sensor>`, `bmc_fan_rpm:<sensor>`, `bmc_volts:<sensor>`,
  `bmc_power_w:<sensor>`.
- finish(): the SEL again (`sel elist last N` when `sel info` says it grew: quick even on a long log); every new
  hardware event becomes a finding by its type (`bmc-sel-psu`, `bmc-sel-fan`, `bmc-sel-temperature`,
  `bmc-sel-memory`, `bmc-sel-voltage`, `bmc-sel-processor`, …); and the discrete sensor states again.

What makes it FAIL:
- a new SEL event that is asserted and critical or non-recoverable (a threshold "Upper Critical going high", a
  power supply "Failure detected", an "Uncorrectable ECC", a processor IERR or thermal trip); other new hardware
  events WARN (non-critical thresholds, correctable ECC, predictive failure, AC lost, redundancy lost);
- `bmc-sensor-critical`: a reading at or above its upper critical threshold or below its lower critical one, or a
  sensor the BMC itself rates "cr"/"nr" ("nc" WARNs `bmc-sensor-warning`);
- `bmc-sensor-state`: a discrete sensor state such as a power supply's "Failure detected" (predictive failure,
  AC lost, lost redundancy and correctable-ECC states WARN).

No IPMI device -> probe unavailable "no IPMI device (/dev/ipmi0)"; no ipmitool -> "ipmitool is not installed".
Under --sysroot the module reads ipmitool outputs recorded by `burnin capture`, where there are any.

The same BMC over Redfish (`path`: "auto" takes IPMI where it works and Redfish otherwise; "redfish", "ipmi",
"both"): the service is found through SMBIOS type 42 (the host interface's "Redfish over IP" record) or
`redfish_url`; credentials come from the profile (`redfish_username`, `redfish_password`) or, where the host
interface offers it, from the BMC's credential bootstrapping over IPMI; burnin never guesses a password and says
why it skipped. Redfish sensors (the Sensors collection, or Thermal/Power), power supplies and fans by health, and
the log services' entries are turned into the IPMI path's records (`burnin.tools.redfish`) and judged by the same
functions with the same codes: `bmc-sensor-critical`, `bmc-sensor-warning`, `bmc-sensor-state` ("Health
Critical" FAILs, "Health Warning" and "AC lost" WARN), `bmc-sel-before-run`, `bmc-sel-<type>`, `bmc-sel-full`.
Redfish findings about the log name the component `bmc:redfish` where the IPMI path says `bmc`.

"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from burnin.judge import Reported
from burnin.model import Judgement, Probe, Severity
from burnin.module import Module, ModuleContext, Skip
from burnin.settings import setting
from burnin.tools import ipmitool, redfish
from burnin.tools.ipmitool import SdrRecord, SelEntry, SelInfo, SensorReading

FAIL, WARN = Severity.FAIL, Severity.WARN

# SEL sensor types that are about the hardware, and what a buyer calls them. Others (firmware progress, OS boot,
# session audit, buttons, watchdog, event logging) are bookkeeping: noted, never judged.
SEL_CATEGORIES = {
    "Power Supply": "psu", "Power Unit": "psu", "Fan": "fan", "Cooling Device": "fan",
    "Temperature": "temperature", "Memory": "memory", "Voltage": "voltage", "Current": "voltage",
    "Processor": "processor", "Critical Interrupt": "critical-interrupt", "Drive Slot / Bay": "drive",
    "Drive Slot (Bay)": "drive", "System Firmware Error": "post-error",
}
CATEGORY_NAMES = {
    "psu": "power supply", "fan": "fan", "temperature": "temperature", "memory": "memory", "voltage": "voltage",
    "processor": "processor", "critical-interrupt": "critical interrupt (PCIe/bus error, NMI)",
    "drive": "drive bay", "post-error": "firmware (POST) error",
}
# Assertions that are states of a healthy machine, not events to judge.
BENIGN = ("presence detected", "device present", "device inserted", "fully redundant", "transition to running",
          "transition to ok", "power off/down", "power cycle", "device enabled", "state deasserted")
# Assertions that mean a failed part (threshold events are judged by their own words: critical, non-recoverable).
FAIL_WORDS = ("failure detected", "uncorrectable", "ierr", "thermal trip", "frb", "machine check",
              "configuration error", "config error", "parity", "scrub failed", "fatal", "no usable system memory")
# Discrete sensor states (`sdr elist`), checked in this order.
STATE_FAIL = ("failure detected", "uncorrectable", "non-recoverable", "ierr", "thermal trip",
              "health critical")  # the last: a Redfish power supply or fan (burnin.tools.redfish.health_record)
STATE_WARN = ("predictive failure", "ac lost", "redundancy lost", "non-redundant", "correctable ecc",
              "out-of-range", "degraded", "health warning")
SAMPLE_UNITS = {"degrees C": "bmc_temp_c", "RPM": "bmc_fan_rpm", "Volts": "bmc_volts", "Watts": "bmc_power_w"}
EXAMPLES = 5


# -- judging (pure) --------------------------------------------------------------------------------
def sel_category(entry: SelEntry) -> str | None:
    return SEL_CATEGORIES.get(entry.sensor_type)


def sel_severity(entry: SelEntry) -> Severity | None:
    """How a SEL event judges the machine: None for bookkeeping, deassertions and healthy states."""
    if sel_category(entry) is None or entry.asserted is not True:
        return None
    text = entry.description.lower()
    if any(word in text for word in BENIGN):
        return None
    if "non-critical" in text:
        return WARN
    if "critical" in text or "non-recoverable" in text or any(word in text for word in FAIL_WORDS):
        return FAIL
    return WARN


def sel_key(entry: SelEntry) -> tuple:
    """Identity of an entry across `sel list` and `sel elist` (which name the sensor differently)."""
    return (entry.record_id, entry.date, entry.time, entry.description, entry.asserted)


def judge_reading(reading: SensorReading) -> tuple[Severity, str] | None:
    """A threshold sensor's reading against the BMC's status and thresholds; None when fine or unreadable."""
    if reading.discrete or reading.value is None:
        return None
    value = reading.value
    found: list[tuple[Severity, str]] = []
    status = (reading.status or "").lower()
    if status in ("cr", "nr"):
        found.append((FAIL, f"the BMC rates it {'critical' if status == 'cr' else 'non-recoverable'}"))
    elif status == "nc":
        found.append((WARN, "the BMC rates it non-critical (outside its normal range)"))
    for limit, label in ((reading.unr, "upper non-recoverable"), (reading.ucr, "upper critical")):
        if limit is not None and value >= limit:
            found.append((FAIL, f"at or above its {label} threshold {limit:g}"))
            break
    for limit, label in ((reading.lnr, "lower non-recoverable"), (reading.lcr, "lower critical")):
        if limit is not None and value < limit:
            found.append((FAIL, f"below its {label} threshold {limit:g}"))
            break
    if reading.unc is not None and value >= reading.unc:
        found.append((WARN, f"at or above its upper non-critical threshold {reading.unc:g}"))
    if reading.lnc is not None and value < reading.lnc:
        found.append((WARN, f"below its lower non-critical threshold {reading.lnc:g}"))
    if not found:
        return None
    severity = FAIL if any(s is FAIL for s, _ in found) else WARN
    return severity, "; ".join(reason for s, reason in found if s is severity)


def judge_state(record: SdrRecord) -> tuple[Severity, str] | None:
    """A discrete sensor's states (`sdr elist`) or a BMC status of cr/nr/nc; None when fine."""
    status = record.status.lower()
    for state in record.states:
        text = state.lower()
        if any(word in text for word in STATE_FAIL):
            return FAIL, state
    if status in ("cr", "nr"):
        return FAIL, f"status {status}"
    for state in record.states:
        text = state.lower()
        if "fully redundant" in text:
            continue
        if any(word in text for word in STATE_WARN):
            return WARN, state
    if status == "nc":
        return WARN, "status nc"
    return None


def sample_metrics(readings: Iterable[SensorReading]) -> dict[str, float]:
    metrics = {}
    for r in readings:
        prefix = SAMPLE_UNITS.get(r.unit or "")
        if prefix and r.value is not None and not r.discrete:
            metrics[f"{prefix}:{r.name}"] = r.value
    return metrics


def sel_component(entry: SelEntry) -> str:
    return f"bmc:{entry.sensor_type}" + (f"/{entry.sensor}" if entry.sensor else "")


def sel_message(entry: SelEntry, new: bool) -> str:
    what = CATEGORY_NAMES.get(sel_category(entry) or "", entry.sensor_type)
    sensor = entry.sensor or ""
    named = f" {sensor}" if sensor and not sensor.startswith("#") else ""
    details = [f"sensor {sensor}"] if sensor.startswith("#") else []
    if entry.reading is not None:
        details.append(f"reading {entry.reading:g}" + (
            f", threshold {entry.threshold:g} {entry.threshold_unit or ''}".rstrip() if entry.threshold is not None
            else ""))
    if entry.extra:
        details.append(entry.extra)
    desc = entry.description or "an event without description"
    when = " during the run" if new else ""
    return (f"The BMC logged a {what} event{when}: {entry.sensor_type}{named}: {desc}"
            + (f" ({'; '.join(details)})" if details else "") + ".")


# -- the module ------------------------------------------------------------------------------------
PATHS = ("auto", "ipmi", "redfish", "both")


@dataclass(frozen=True)
class BmcSettings:
    interval_s: float = setting(10.0, "how often the BMC's sensors are read during the run", unit="s")
    command_timeout_s: float = setting(60.0, "time allowed for one ipmitool call (a long SEL or a slow BMC takes a "
                                       "while)", unit="s")
    max_findings_per_code: int = setting(10, "new SEL events reported one by one per (code, sensor); the rest are "
                                         "summed up in one finding")
    path: str = setting("auto", "how the BMC is read: auto (IPMI where it works, else Redfish), ipmi, redfish, "
                        "both", choices=PATHS)
    redfish_url: str = setting("", "the BMC's Redfish service (https://host[:port]); empty: the host interface "
                               "that SMBIOS type 42 names")
    redfish_username: str = setting("", "Redfish user name; empty: the BMC's credential bootstrapping where the host "
                                    "interface offers it, else Redfish is skipped (burnin never guesses)")
    redfish_password: str = setting("", "Redfish password (goes with redfish_username)")
    redfish_verify_tls: bool = setting(False, "check the BMC's TLS certificate (most BMCs present a self-signed one)")
    redfish_timeout_s: float = setting(30.0, "time allowed for one Redfish request", unit="s")


@dataclass
class _RedfishTarget:
    url: str | None
    source: str  # "redfish_url", "SMBIOS type 42 (host interface 0x0004)"
    bootstrapping: bool  # the host interface offers credential bootstrapping over IPMI
    why_not: str | None = None  # set when there is no usable target


class BmcModule(Module):
    name = "bmc"
    summary = "the BMC's event log before and after the run, and its fan/temperature/voltage/PSU sensors during it"
    needs = ("an IPMI device (/dev/ipmi0: ipmi_si + ipmi_devintf) and ipmitool, or a Redfish service with "
             "credentials", "root")
    stress = False
    Settings = BmcSettings

    def __init__(self, host, settings: Mapping[str, Any] | None = None):
        super().__init__(host, settings)
        self._sel_info: SelInfo | None = None
        self._sel_keys: set[tuple] | None = None
        self._sensors_ok = False
        self._reported = Reported()
        self._ipmi: bool | None = None  # the IPMI path is used in this run (None: check() did not decide)
        self._rf: redfish.Client | None = None
        self._rf_keys: set[tuple] | None = None
        self._rf_info: SelInfo | None = None

    # -- which path ------------------------------------------------------------------------------------
    def _ipmi_unavailable(self) -> str | None:
        if not self.host.live:
            return None if self.host.which("ipmitool") else "no ipmitool output in the captured tree"
        if not any(self.host.exists(p) for p in ipmitool.DEVICE_PATHS):
            return ("no IPMI device (/dev/ipmi0): no BMC, or the ipmi_si and ipmi_devintf kernel modules are not "
                    "loaded")
        if not self.host.which("ipmitool"):
            return "ipmitool is not installed"
        return None

    def _redfish_target(self) -> _RedfishTarget:
        if not self.host.live:
            return _RedfishTarget(None, "", False, "Redfish is read from a live BMC only, not from a captured tree")
        if self.settings.redfish_url:
            return _RedfishTarget(self.settings.redfish_url, "redfish_url", False)
        from burnin.inventory.smbios import read_host_tables

        smbios, why = read_host_tables(self.host)
        if smbios is None:
            return _RedfishTarget(None, "", False, f"no Redfish host interface known ({why}) and no redfish_url set")
        for hi in smbios.host_interfaces:
            urls = redfish.host_interface_urls([hi])
            if urls:
                return _RedfishTarget(urls[0], f"SMBIOS type 42 (host interface {hi.handle:#06x})",
                                      hi.credential_bootstrapping)
        return _RedfishTarget(None, "", False, "no Redfish host interface in SMBIOS (type 42) and no redfish_url set")

    def _credentials_missing(self, target: _RedfishTarget) -> str | None:
        if self.settings.redfish_username:
            return None
        if target.bootstrapping and self._ipmi_unavailable() is None:
            return None
        return (f"Redfish at {target.url}: no credentials — set [settings.bmc] redfish_username and redfish_password"
                + ("" if target.bootstrapping else "; the host interface offers no credential bootstrapping")
                + " (burnin never guesses a password)")

    def _choose(self) -> tuple[bool, _RedfishTarget | None, list[str]]:
        """(use IPMI, the Redfish target to use or None, why paths are not used)."""
        path = self.settings.path
        why: list[str] = []
        ipmi_why = self._ipmi_unavailable() if path in ("auto", "ipmi", "both") else "not asked for"
        use_ipmi = ipmi_why is None
        if ipmi_why and path != "redfish":
            why.append(ipmi_why)
        target = None
        if path in ("redfish", "both") or (path == "auto" and not use_ipmi):
            target = self._redfish_target()
            missing = target.why_not or self._credentials_missing(target)
            if missing:
                why.append(missing)
                target = None
        return use_ipmi, target, why

    def probe(self) -> Probe:
        use_ipmi, target, why = self._choose()
        if not use_ipmi and target is None:
            return Probe.unavailable("; ".join(why))
        if not self.host.live:
            return Probe.ok("ipmitool outputs replayed from the capture")
        used = (["IPMI"] if use_ipmi else []) + ([f"Redfish at {target.url} ({target.source})"] if target else [])
        return Probe.ok(" and ".join(used))

    # -- plumbing --------------------------------------------------------------------------------------
    def _ipmitool(self, ctx: ModuleContext, argv: list[str]):
        return ctx.run_tool(argv, timeout=self.settings.command_timeout_s)

    def _emit_once(self, ctx: ModuleContext, judgement: Judgement) -> None:
        """A sensor keeps its state from sample to sample: report it once, and again only if it gets worse."""
        if self._reported.should_report(judgement):
            ctx.report(judgement)

    def _read_sensors(self, ctx: ModuleContext, during: str) -> bool:
        result = self._ipmitool(ctx, ipmitool.sensor_argv())
        if not result.stdout.strip():
            return False
        parsed = ipmitool.parse_sensor(result.stdout)
        if not parsed.readings:
            return False
        self._judge_readings(ctx, parsed.readings, during)
        return True

    def _judge_readings(self, ctx: ModuleContext, readings: Iterable[SensorReading], during: str) -> None:
        """Threshold sensors of either path: samples, and a finding for each one out of range."""
        readings = list(readings)
        metrics = sample_metrics(readings)
        if metrics:
            ctx.sample(metrics)
        for reading in readings:
            verdict = judge_reading(reading)
            if verdict is None:
                continue
            severity, why = verdict
            code = "bmc-sensor-critical" if severity is FAIL else "bmc-sensor-warning"
            unit = f" {reading.unit}" if reading.unit else ""
            self._emit_once(ctx, Judgement(
                severity, f"bmc-sensor:{reading.name}", code,
                f"BMC sensor {reading.name} reads {reading.value:g}{unit} {during}: {why}.",
                {"sensor": reading.name, "value": reading.value, "unit": reading.unit, "status": reading.status,
                 "lnr": reading.lnr, "lcr": reading.lcr, "lnc": reading.lnc, "unc": reading.unc, "ucr": reading.ucr,
                 "unr": reading.unr, "when": during}))

    def _read_states(self, ctx: ModuleContext, during: str) -> bool:
        result = self._ipmitool(ctx, ipmitool.sdr_elist_argv())
        if not result.stdout.strip():
            return False
        self._judge_states(ctx, ipmitool.parse_sdr(result.stdout).records, during)
        return True

    def _judge_states(self, ctx: ModuleContext, records: Iterable[SdrRecord], during: str) -> None:
        """Discrete sensors of either path (`sdr elist`, or Redfish power supplies and fans by health)."""
        for record in records:
            verdict = judge_state(record)
            if verdict is None:
                continue
            severity, state = verdict
            if state.startswith("status "):
                code = "bmc-sensor-critical" if severity is FAIL else "bmc-sensor-warning"
            else:
                code = "bmc-sensor-state"
            self._emit_once(ctx, Judgement(
                severity, f"bmc-sensor:{record.name}", code,
                f"BMC sensor {record.name} reports \"{state}\" {during} ({record.reading or record.status}).",
                {"sensor": record.name, "status": record.status, "reading": record.reading,
                 "states": list(record.states), "sensor_id": record.sensor_id, "entity": record.entity,
                 "when": during}))

    def _sel_info_now(self, ctx: ModuleContext) -> SelInfo | None:
        result = self._ipmitool(ctx, ipmitool.sel_info_argv())
        if not result.ok:
            return None
        info = ipmitool.parse_sel_info(result.stdout)
        return info if info.entries is not None else None

    # -- Redfish ---------------------------------------------------------------------------------------
    def _redfish_credentials(self, ctx: ModuleContext) -> redfish.Credentials | None:
        if self.settings.redfish_username:
            return redfish.Credentials(self.settings.redfish_username, self.settings.redfish_password, "settings")
        result = self._ipmitool(ctx, redfish.bootstrap_argv())
        credentials = redfish.parse_bootstrap(result.stdout) if result.ok else None
        if credentials is None:
            ctx.note("the BMC's credential bootstrapping gave no account", stderr=result.stderr[-300:])
        return credentials

    def _redfish_connect(self, ctx: ModuleContext, target: _RedfishTarget) -> str | None:
        """Open the Redfish client; the reason when it could not be opened."""
        credentials = self._redfish_credentials(ctx)
        if credentials is None:
            return f"Redfish at {target.url}: credential bootstrapping offered but no account was handed out"
        try:
            self._rf = redfish.Client(target.url, credentials, self.settings.redfish_verify_tls,
                                      self.settings.redfish_timeout_s)
        except redfish.RedfishError as exc:
            return f"Redfish at {target.url} could not be reached: {exc}"
        ctx.note("BMC read over Redfish", url=target.url, found_by=target.source, user_from=credentials.source)
        return None

    def _redfish_sensors(self, ctx: ModuleContext, during: str, states: bool) -> bool:
        if self._rf is None:
            return False
        sensors = redfish.read_sensors(self._rf.get)
        if sensors.unreadable:
            ctx.note("Redfish documents that could not be read", errors=list(sensors.unreadable[:20]))
        self._judge_readings(ctx, sensors.readings, during)
        if states:
            self._judge_states(ctx, sensors.states, during)
        return bool(sensors.readings or sensors.states)

    def _redfish_logs(self, ctx: ModuleContext) -> redfish.LogEntries | None:
        if self._rf is None:
            return None
        try:
            logs = redfish.read_log_entries(self._rf.get)
        except redfish.RedfishError as exc:
            ctx.note("the BMC's Redfish logs could not be read", error=str(exc))
            return None
        if logs.unreadable:
            ctx.note("Redfish logs that could not be read (in part)", errors=list(logs.unreadable[:20]))
        return logs

    # -- phases ----------------------------------------------------------------------------------------
    def check(self, ctx: ModuleContext) -> None:
        use_ipmi, target, why = self._choose()
        if not use_ipmi and target is None:
            raise Skip("; ".join(why))
        read_any = False
        if use_ipmi and not self.host.can_run:
            why.append("no ipmitool output in the captured tree")
            self._ipmi = False
        elif use_ipmi:
            self._ipmi = self._check_ipmi(ctx)
            read_any = self._ipmi
        if target is not None:
            problem = self._redfish_connect(ctx, target)
            if problem:
                ctx.note(problem)
                why.append(problem)
            else:
                read_any = self._check_redfish(ctx) or read_any
        if not read_any:
            raise Skip("; ".join(why) or "the BMC gave no answer")

    def _check_ipmi(self, ctx: ModuleContext) -> bool:
        info = self._sel_info_now(ctx)
        if info is not None:
            listing = self._ipmitool(ctx, ipmitool.sel_list_argv())
            if listing.ok or "SEL has no entries" in listing.stderr:
                self._sel_info = info
                self._baseline(ctx, ipmitool.parse_sel_list(listing.stdout), info)
            else:
                ctx.note("the BMC's event log could not be listed", error=listing.error,
                         stderr=listing.stderr[-300:])
        else:
            ctx.note("the BMC's event log could not be read (ipmitool sel info failed)")
        self._sensors_ok = self._read_sensors(ctx, "at preflight")
        states_ok = self._read_states(ctx, "at preflight")
        if self._sel_info is None and not self._sensors_ok and not states_ok:
            ctx.note("ipmitool got no answer from the BMC (sel info, sensor and sdr elist all failed)")
            return False
        return True

    def _check_redfish(self, ctx: ModuleContext) -> bool:
        logs = self._redfish_logs(ctx)
        if logs is not None:
            self._rf_info = logs.info()
            self._rf_keys = {sel_key(e) for e in logs.entries}
            self._baseline(ctx, ipmitool.SelList(logs.entries), self._rf_info, component="bmc:redfish")
        sensors_ok = self._redfish_sensors(ctx, "at preflight", states=True)
        return logs is not None or sensors_ok

    def _baseline(self, ctx: ModuleContext, listing: ipmitool.SelList, info: SelInfo, component: str = "bmc") -> None:
        if component == "bmc":
            self._sel_keys = {sel_key(e) for e in listing.entries}
        if listing.unparsed:
            ctx.note("SEL lines that could not be parsed", lines=list(listing.unparsed[:20]))
        judged = [(e, sel_severity(e)) for e in listing.entries]
        hardware = [(e, s) for e, s in judged if s is not None]
        by_type = Counter(CATEGORY_NAMES[sel_category(e)] for e, _ in hardware)
        if hardware:
            critical = sum(1 for _, s in hardware if s is FAIL)
            lines = [e.line.strip() for e, _ in hardware]
            ctx.warn(
                component, "bmc-sel-before-run",
                f"The BMC's event log already holds {len(hardware)} hardware event(s) from before this run "
                f"({', '.join(f'{name} {n}' for name, n in by_type.most_common())})"
                + (f", {critical} of them critical" if critical else "")
                + "; they may come from earlier use or earlier faults of this machine.",
                {"counts_by_type": dict(by_type), "critical": critical, "entries_total": len(listing.entries),
                 "first": lines[:EXAMPLES], "last": lines[-EXAMPLES:] if len(lines) > EXAMPLES else []},
            )
        else:
            ctx.note("BMC event log read before the run: no hardware events", entries=len(listing.entries),
                     path=component)
        if info.overflow or (info.percent_used is not None and info.percent_used >= 100):
            ctx.warn(component, "bmc-sel-full",
                     "The BMC's event log is full: events during the run may not be recorded. Save it and clear it "
                     "(ipmitool sel save FILE; ipmitool sel clear), then run again.",
                     {"entries": info.entries, "percent_used": info.percent_used, "overflow": info.overflow})

    def _ipmi_in_use(self) -> bool:
        if self._ipmi is None:  # a phase called without check(): IPMI where it can be read
            self._ipmi = (self.settings.path != "redfish" and self._ipmi_unavailable() is None
                          and self.host.can_run)
        return self._ipmi

    def run(self, ctx: ModuleContext) -> None:
        if not self._ipmi_in_use() and self._rf is None:
            raise Skip("the BMC could not be read at preflight")
        interval = self.settings.interval_s
        readable = True
        while not ctx.stopping():
            ok = True
            if self._ipmi:
                ok = self._read_sensors(ctx, "during the run")
            if self._rf is not None:
                ok = self._redfish_sensors(ctx, "during the run", states=False) and ok
            if not ok and readable:
                readable = False
                ctx.note("the BMC's sensors could not be read during the run")
            if ctx.wait(interval):
                break

    def finish(self, ctx: ModuleContext) -> None:
        if not self._ipmi_in_use() and self._rf is None:
            raise Skip("the BMC could not be read at preflight")
        try:
            if self._ipmi:
                self._finish_ipmi(ctx)
            if self._rf is not None:
                self._finish_redfish(ctx)
        finally:
            if self._rf is not None:
                self._rf.close()

    def _finish_redfish(self, ctx: ModuleContext) -> None:
        self._redfish_sensors(ctx, "at the end of the run", states=True)
        if self._rf_keys is None:
            ctx.note("the BMC's Redfish logs were not compared: no baseline was taken")
            return
        logs = self._redfish_logs(ctx)
        if logs is None:
            return
        new = [e for e in logs.entries if sel_key(e) not in self._rf_keys]
        if not new:
            ctx.note("BMC Redfish logs unchanged during the run", entries=len(logs.entries))
            return
        self._judge_new(ctx, new)

    def _finish_ipmi(self, ctx: ModuleContext) -> None:
        self._read_states(ctx, "at the end of the run")
        if self._sel_info is None or self._sel_keys is None:
            ctx.note("the BMC's event log was not compared: no baseline was taken")
            return
        info = self._sel_info_now(ctx)
        if info is None:
            ctx.note("the BMC's event log could not be read at the end of the run")
            return
        before = self._sel_info
        if info.entries == before.entries and info.last_add == before.last_add:
            ctx.note("BMC event log unchanged during the run", entries=info.entries)
            return
        grew = (info.entries or 0) - (before.entries or 0)
        # Only the newest entries when the log simply grew; all of it when it was cleared or wrapped.
        argv = ipmitool.sel_elist_argv(last=grew + 5 if grew > 0 else None)
        listing = self._ipmitool(ctx, argv)
        if not listing.stdout.strip():
            ctx.note("the BMC's event log could not be listed at the end of the run", error=listing.error)
            return
        parsed = ipmitool.parse_sel_list(listing.stdout)
        new = [e for e in parsed.entries if sel_key(e) not in self._sel_keys]
        if grew < 0:
            ctx.note("the BMC's event log shrank during the run (cleared or wrapped): events may be missing",
                     before=before.entries, after=info.entries)
        self._judge_new(ctx, new)

    def _judge_new(self, ctx: ModuleContext, new: list[SelEntry]) -> None:
        limit = self.settings.max_findings_per_code
        emitted: Counter = Counter()
        suppressed: dict[tuple[str, str], list[SelEntry]] = {}
        bookkeeping = []
        for entry in new:
            severity = sel_severity(entry)
            if severity is None:
                bookkeeping.append(entry.line.strip())
                continue
            code = f"bmc-sel-{sel_category(entry)}"
            component = sel_component(entry)
            if emitted[(code, component)] >= limit:
                suppressed.setdefault((code, component), []).append(entry)
                continue
            emitted[(code, component)] += 1
            ctx.finding(severity, component, code, sel_message(entry, new=True),
                        {"record_id": f"{entry.record_id:x}", "date": entry.date, "time": entry.time,
                         "sensor_type": entry.sensor_type, "sensor": entry.sensor, "description": entry.description,
                         "reading": entry.reading, "threshold": entry.threshold, "unit": entry.threshold_unit,
                         "extra": entry.extra, "line": entry.line.strip()})
        for (code, component), entries in suppressed.items():
            worst = FAIL if any(sel_severity(e) is FAIL for e in entries) else WARN
            ctx.finding(worst, component, code,
                        f"{len(entries)} more BMC events of this kind for {component} were logged during the run.",
                        {"suppressed": len(entries), "limit": limit, "first_line": entries[0].line.strip(),
                         "last_line": entries[-1].line.strip()})
        if bookkeeping:
            ctx.note("BMC event log: new entries that are not hardware faults", lines=bookkeeping[:20],
                     count=len(bookkeeping))
        ctx.note("BMC event log compared", new_entries=len(new),
                 hardware_events=sum(emitted.values()) + sum(len(v) for v in suppressed.values()))
