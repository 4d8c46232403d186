"""Thermal: temperatures, fans, CPU thermal throttling and clock speed, watched for the whole run.

Reads every hwmon chip (`/sys/class/hwmon/hwmon*`: tempN_* and fanN_*), every thermal zone
(`/sys/class/thermal/thermal_zone*`, whose `critical` trip acts as the critical limit and `hot` trip as the max), the
per-CPU thermal-throttle counters and cpufreq's current clock, once in check() and then every `interval_s` in run().

FAIL: a temperature at or above its critical limit, or the chip's critical alarm set (`temp-critical`); a fan that
spun and stopped, or reads 0 RPM with a minimum or an alarm set (`fan-stopped`); a fan below its minimum
(`fan-below-min`, beyond `fan_min_tolerance_pct`); a fan alarm (`fan-alarm`).
WARN (FAIL when the profile says so): a temperature above its max or the chip's alarm set (`temp-above-max`,
setting `above_max`); throttle counters that rose between check() and finish() (`cpu-throttled`, setting `throttle`).
WARN: a sensor that read in check() and stopped answering (`sensor-lost`); no temperature sensor readable at all
(`no-temperature-sensors`: fans or clocks alone cannot show overheating).
INFO: fan headers reading 0 from the start with no minimum and no alarm (`fan-not-connected`), throttling that
happened before this run (`cpu-throttled-since-boot`), missing sensor families (`thermal-partial`), and the peak of
every sensor at the end (`temp-peaks`).

Each (component, code) finding is emitted once, the first time it is seen, with the value at that moment; the peak
over the whole run is in the evidence of `temp-peaks`. Real chips report junk (unset limits of 65261 °C, -273 °C,
zones reading -44 °C): readings outside -40..150 °C and limits <= 0 or > 200 °C are ignored, listed in a note, and
never judged.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Mapping

from burnin.host import Host, format_cpulist
from burnin.model import Probe, Severity
from burnin.module import Module, ModuleContext, Skip
from burnin.settings import setting

READING_RANGE_C = (-40.0, 150.0)  # outside: a sensor that is broken or not wired, not a temperature
LIMIT_MAX_C = 200.0  # limits above this, or <= 0, are "no limit" (unset registers, -273.15 °C)
FAN_RPM_MAX = 60000  # tachometer garbage above this
THROTTLE_COUNTERS = ("core_throttle_count", "package_throttle_count")
THROTTLE_TIMES = ("core_throttle_total_time_ms", "package_throttle_total_time_ms")


# -- records -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TempSource:
    """Where one temperature and its limits live."""

    key: str  # "coretemp.1/Core 0", "acpitz (thermal_zone2)": sample names are "temp_c:<key>"
    component: str
    input_path: str
    max_paths: tuple[str, ...] = ()
    crit_paths: tuple[str, ...] = ()
    alarm_path: str | None = None
    crit_alarm_path: str | None = None


@dataclass(frozen=True)
class FanSource:
    key: str  # "nct6779/fan2"
    component: str
    input_path: str
    min_path: str | None = None
    alarm_path: str | None = None


@dataclass(frozen=True)
class TempReading:
    source: TempSource
    status: str  # "ok" | "junk" (implausible value) | "missing" (gone or unreadable)
    temp_c: float | None
    max_c: float | None
    crit_c: float | None
    alarm: bool = False
    crit_alarm: bool = False
    ignored: tuple[str, ...] = ()  # raw values set aside as implausible, "temp2_max=65261850"


@dataclass(frozen=True)
class FanReading:
    source: FanSource
    status: str
    rpm: int | None
    min_rpm: int | None  # None when absent or 0
    alarm: bool = False


@dataclass(frozen=True)
class Inventory:
    temps: tuple[TempSource, ...]
    fans: tuple[FanSource, ...]
    throttle_cpus: tuple[int, ...]
    freq_paths: tuple[tuple[int, str], ...]  # (cpu, scaling_cur_freq or cpuinfo_cur_freq)
    hwmon_dirs: int
    zones: int

    @property
    def freq_cpus(self) -> tuple[int, ...]:
        return tuple(cpu for cpu, _ in self.freq_paths)

    def missing(self) -> list[str]:
        parts = []
        hwmon_temps = [t for t in self.temps if t.component.startswith("sensor:")]
        if not hwmon_temps and not self.fans:
            why = "is empty" if not self.hwmon_dirs else "has no temperature or fan inputs"
            parts.append(f"no hwmon sensors (/sys/class/hwmon {why})")
        if not self.zones:
            parts.append("no thermal zones")
        if not self.throttle_cpus:
            parts.append("no CPU thermal-throttle counters")
        if not self.freq_cpus:
            parts.append("no cpufreq")
        return parts

    @property
    def empty(self) -> bool:
        return not (self.temps or self.fans or self.throttle_cpus or self.freq_cpus)


@dataclass(frozen=True)
class Snapshot:
    temps: tuple[TempReading, ...]
    fans: tuple[FanReading, ...]
    throttle: Mapping[int, Mapping[str, int]]  # cpu -> {"core_throttle_count": n, ...}
    freq_mhz: Mapping[int, float]


@dataclass(frozen=True)
class Judgement:
    severity: Severity
    component: str
    code: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)


# -- discovery -----------------------------------------------------------------------------------
def _attr_dir(host: Host, hwmon: str) -> str:
    """Where a chip's attributes are: the hwmon dir, or its device dir on older drivers (applesmc)."""
    if not host.exists(f"{hwmon}/name") and host.exists(f"{hwmon}/device/name"):
        return f"{hwmon}/device"
    return hwmon


def _device_name(host: Host, hwmon: str) -> str:
    """The device a hwmon dir belongs to ("coretemp.1", "nvme0"), or "hwmonN" when it cannot be told."""
    parts = host.realpath(hwmon).strip("/").split("/")
    if len(parts) < 4 or parts[:2] == ["sys", "class"]:  # a captured tree without the device links
        return parts[-1]
    return parts[-3] if parts[-2] == "hwmon" else parts[-2]  # .../coretemp.1/hwmon/hwmon1, .../nvme0/hwmon3


def chip_names(host: Host, hwmons: list[str]) -> dict[str, str]:
    """hwmon dir -> chip name, made unique where a name repeats (two sockets: coretemp.0, coretemp.1)."""
    names = {hw: host.read_text(f"{_attr_dir(host, hw)}/name") or hw.rsplit("/", 1)[-1] for hw in hwmons}
    counts = Counter(names.values())
    unique = {}
    for hw, name in names.items():
        if counts[name] > 1:
            device = _device_name(host, hw)
            name = device if device.startswith(name) and device != name else f"{name}.{hw.rsplit('/', 1)[-1]}"
        unique[hw] = name
    return unique


def _indexed(files: list[str], pattern: str) -> list[str]:
    return sorted((m.group(1) for f in files if (m := re.fullmatch(pattern, f))), key=int)


def discover_hwmon(host: Host) -> tuple[list[TempSource], list[FanSource], int]:
    hwmons = host.glob("/sys/class/hwmon", "hwmon*")
    temps: list[TempSource] = []
    fans: list[FanSource] = []
    for hw, chip in chip_names(host, hwmons).items():
        d = _attr_dir(host, hw)
        files = set(host.listdir(d))

        def opt(name: str) -> str | None:
            return f"{d}/{name}" if name in files else None

        temp_ids = _indexed(list(files), r"temp(\d+)_input")
        labels = {n: host.read_text(f"{d}/temp{n}_label") or f"temp{n}" for n in temp_ids}
        repeated = Counter(labels.values())
        for n, label in labels.items():
            label = label if repeated[label] == 1 else f"{label} (temp{n})"
            key = f"{chip}/{label}"
            temps.append(TempSource(
                key, f"sensor:{key}", f"{d}/temp{n}_input",
                max_paths=tuple(p for p in [opt(f"temp{n}_max")] if p),
                crit_paths=tuple(p for p in [opt(f"temp{n}_crit")] if p),
                alarm_path=opt(f"temp{n}_alarm"), crit_alarm_path=opt(f"temp{n}_crit_alarm"),
            ))
        for n in _indexed(list(files), r"fan(\d+)_input"):
            key = f"{chip}/{host.read_text(f'{d}/fan{n}_label') or f'fan{n}'}"
            fans.append(FanSource(key, f"fan:{key}", f"{d}/fan{n}_input", opt(f"fan{n}_min"), opt(f"fan{n}_alarm")))
    return temps, fans, len(hwmons)


def discover_zones(host: Host) -> list[TempSource]:
    zones = []
    for z in host.glob("/sys/class/thermal", "thermal_zone*"):
        if not host.exists(f"{z}/temp"):
            continue
        files = host.listdir(z)
        trips = {n: host.read_text(f"{z}/trip_point_{n}_type") for n in _indexed(files, r"trip_point_(\d+)_type")}
        key = f"{host.read_text(f'{z}/type') or '?'} ({z.rsplit('/', 1)[-1]})"
        zones.append(TempSource(
            key, f"thermal-zone:{key}", f"{z}/temp",
            max_paths=tuple(f"{z}/trip_point_{n}_temp" for n, t in trips.items() if t == "hot"),
            crit_paths=tuple(f"{z}/trip_point_{n}_temp" for n, t in trips.items() if t == "critical"),
        ))
    return zones


def _freq_path(host: Host, cpu: int) -> str | None:
    for name in ("scaling_cur_freq", "cpuinfo_cur_freq"):
        path = f"/sys/devices/system/cpu/cpu{cpu}/cpufreq/{name}"
        if host.exists(path):
            return path
    return None


def discover(host: Host) -> Inventory:
    temps, fans, hwmon_dirs = discover_hwmon(host)
    zones = discover_zones(host)
    cpus = sorted(
        (int(p.rsplit("cpu", 1)[1]) for p in host.glob("/sys/devices/system/cpu", "cpu[0-9]*")
         if p.rsplit("cpu", 1)[1].isdigit()),
    )
    throttle = tuple(c for c in cpus if any(
        host.exists(f"/sys/devices/system/cpu/cpu{c}/thermal_throttle/{n}") for n in THROTTLE_COUNTERS))
    freq = tuple((c, path) for c in cpus if (path := _freq_path(host, c)))
    return Inventory(tuple(temps + zones), tuple(fans), throttle, freq, hwmon_dirs, len(zones))


# -- reading (raw values -> records) -------------------------------------------------------------
def plausible_limit_c(raw: int | None) -> float | None:
    if raw is None:
        return None
    c = raw / 1000.0
    return c if 0.0 < c <= LIMIT_MAX_C else None


def make_temp_reading(
    source: TempSource,
    raw_input: int | None,
    raw_max: Mapping[str, int | None],
    raw_crit: Mapping[str, int | None],
    alarm: int | None = None,
    crit_alarm: int | None = None,
) -> TempReading:
    """Millidegree values as read (None: absent/unreadable) -> a reading with junk set aside."""
    ignored = [f"{p.rsplit('/', 1)[-1]}={v}" for p, v in {**raw_max, **raw_crit}.items()
               if v is not None and plausible_limit_c(v) is None]
    max_c = min((c for v in raw_max.values() if (c := plausible_limit_c(v)) is not None), default=None)
    crit_c = min((c for v in raw_crit.values() if (c := plausible_limit_c(v)) is not None), default=None)
    if raw_input is None:
        return TempReading(source, "missing", None, max_c, crit_c, ignored=tuple(ignored))
    temp_c = raw_input / 1000.0
    if not READING_RANGE_C[0] <= temp_c <= READING_RANGE_C[1]:
        ignored.insert(0, f"{source.input_path.rsplit('/', 1)[-1]}={raw_input}")
        return TempReading(source, "junk", None, max_c, crit_c, ignored=tuple(ignored))
    return TempReading(source, "ok", temp_c, max_c, crit_c, bool(alarm), bool(crit_alarm), tuple(ignored))


def make_fan_reading(source: FanSource, raw_rpm: int | None, raw_min: int | None, alarm: int | None) -> FanReading:
    min_rpm = raw_min if raw_min and 0 < raw_min <= FAN_RPM_MAX else None
    if raw_rpm is None:
        return FanReading(source, "missing", None, min_rpm)
    if not 0 <= raw_rpm <= FAN_RPM_MAX:
        return FanReading(source, "junk", None, min_rpm)
    return FanReading(source, "ok", raw_rpm, min_rpm, bool(alarm))


def read_snapshot(host: Host, inv: Inventory) -> Snapshot:
    def opt(path: str | None) -> int | None:
        return host.read_int(path) if path else None

    temps = tuple(make_temp_reading(
        s, host.read_int(s.input_path), {p: host.read_int(p) for p in s.max_paths},
        {p: host.read_int(p) for p in s.crit_paths}, opt(s.alarm_path), opt(s.crit_alarm_path),
    ) for s in inv.temps)
    fans = tuple(make_fan_reading(f, host.read_int(f.input_path), opt(f.min_path), opt(f.alarm_path)) for f in inv.fans)
    throttle = {}
    for cpu in inv.throttle_cpus:
        base = f"/sys/devices/system/cpu/cpu{cpu}/thermal_throttle"
        values = {n: host.read_int(f"{base}/{n}") for n in THROTTLE_COUNTERS + THROTTLE_TIMES}
        throttle[cpu] = {n: v for n, v in values.items() if v is not None}
    freq = {}
    for cpu, path in inv.freq_paths:
        khz = host.read_int(path)
        if khz is not None:
            freq[cpu] = khz / 1000.0
    return Snapshot(temps, fans, throttle, freq)


def snapshot_metrics(snap: Snapshot) -> dict[str, float]:
    metrics: dict[str, float] = {}
    metrics.update({f"temp_c:{r.source.key}": r.temp_c for r in snap.temps if r.temp_c is not None})
    metrics.update({f"fan_rpm:{r.source.key}": r.rpm for r in snap.fans if r.rpm is not None})
    metrics.update({f"freq_mhz:cpu{c}": mhz for c, mhz in snap.freq_mhz.items()})
    for cpu, counters in snap.throttle.items():
        for name in THROTTLE_COUNTERS:
            if name in counters:
                metrics[f"throttle_count:cpu{cpu}:{name.split('_')[0]}"] = counters[name]
    return metrics


# -- judging (records -> judgements) -------------------------------------------------------------
def judge_temp(r: TempReading, above_max: Severity) -> list[Judgement]:
    if r.status != "ok" or r.temp_c is None:
        return []
    name = r.source.component.split(":", 1)[1]
    evidence = {"temp_c": r.temp_c, "max_c": r.max_c, "crit_c": r.crit_c, "alarm": r.alarm,
                "crit_alarm": r.crit_alarm, "path": r.source.input_path}
    if r.crit_c is not None and r.temp_c >= r.crit_c:
        message = f"{name} reached {r.temp_c:g} °C, at or above its critical limit of {r.crit_c:g} °C."
    elif r.crit_alarm:
        message = f"{name} reads {r.temp_c:g} °C and its sensor chip raised the critical-temperature alarm."
    elif r.max_c is not None and r.temp_c > r.max_c:
        return [Judgement(above_max, r.source.component, "temp-above-max",
                          f"{name} reached {r.temp_c:g} °C, above its rated maximum of {r.max_c:g} °C.", evidence)]
    elif r.alarm:
        return [Judgement(above_max, r.source.component, "temp-above-max",
                          f"{name} reads {r.temp_c:g} °C and its sensor chip raised the temperature alarm.", evidence)]
    else:
        return []
    return [Judgement(Severity.FAIL, r.source.component, "temp-critical", message, evidence)]


def fan_not_connected(r: FanReading) -> bool:
    """A header reading 0 with no minimum and no alarm: nothing plugged in, not a dead fan."""
    return r.status == "ok" and r.rpm == 0 and r.min_rpm is None and not r.alarm


def judge_fan(r: FanReading, spun_before: bool, tolerance_pct: float) -> list[Judgement]:
    if r.status != "ok" or r.rpm is None:
        return []
    name = r.source.component.split(":", 1)[1]
    evidence = {"rpm": r.rpm, "min_rpm": r.min_rpm, "alarm": r.alarm, "spun_before": spun_before,
                "path": r.source.input_path}
    out = []
    if r.alarm:
        out.append(Judgement(Severity.FAIL, r.source.component, "fan-alarm",
                             f"The sensor chip reports an alarm for fan {name} ({r.rpm} RPM).", evidence))
    if r.rpm == 0 and (spun_before or r.min_rpm or r.alarm):
        why = "after it had been spinning" if spun_before else (
            f"although its minimum is {r.min_rpm} RPM" if r.min_rpm else "and the chip raised an alarm")
        out.append(Judgement(Severity.FAIL, r.source.component, "fan-stopped",
                             f"Fan {name} reads 0 RPM {why}: it has stopped.", evidence))
    elif r.min_rpm and r.rpm > 0 and r.rpm < r.min_rpm * (1 - tolerance_pct / 100.0):
        out.append(Judgement(Severity.FAIL, r.source.component, "fan-below-min",
                             f"Fan {name} runs at {r.rpm} RPM, below its minimum of {r.min_rpm} RPM.",
                             {**evidence, "tolerance_pct": tolerance_pct}))
    return out


def throttle_increase(before: Mapping[int, Mapping[str, int]], after: Mapping[int, Mapping[str, int]]) -> dict:
    """CPU -> {counter: increase} for the counters that rose (times in ms given alongside, when present)."""
    rises = {}
    for cpu, now in after.items():
        then = before.get(cpu, {})
        rose = {n: now[n] - then[n] for n in THROTTLE_COUNTERS if n in now and n in then and now[n] > then[n]}
        if rose:
            rose.update({n: now[n] - then[n] for n in THROTTLE_TIMES if n in now and n in then and now[n] > then[n]})
            rises[cpu] = rose
    return rises


def judge_throttle(rises: Mapping[int, Mapping[str, int]], severity: Severity) -> Judgement | None:
    if not rises:
        return None
    cpus = format_cpulist(list(rises))
    total = {n.split("_")[0]: sum(r.get(n, 0) for r in rises.values()) for n in THROTTLE_COUNTERS}
    return Judgement(severity, f"cpu:{cpus}", "cpu-throttled",
                     f"CPUs {cpus} were slowed down by thermal throttling during the run "
                     f"(+{total['core']} core and +{total['package']} package throttle events): "
                     "cooling is not keeping up.",
                     {"cpus": sorted(rises), "increase": {f"cpu{c}": dict(r) for c, r in sorted(rises.items())}})


# -- the module ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ThermalSettings:
    interval_s: float = setting(1.0, "how often the sensors are read during the run", unit="s")
    above_max: str = setting("warn", "severity of a temperature above its sensor's max (below critical)",
                             choices=("warn", "fail"))
    throttle: str = setting("warn", "severity of CPU thermal throttling during the run", choices=("warn", "fail"))
    fan_min_tolerance_pct: float = setting(5.0, "RPM jitter allowed under a fan's minimum before fan-below-min",
                                           unit="%")


class ThermalModule(Module):
    name = "thermal"
    summary = "temperatures, fans, CPU thermal throttling and clocks (hwmon, thermal zones, cpufreq)"
    needs = ("hwmon drivers (coretemp, k10temp, nct6775, nvme, ...) or thermal zones",)
    stress = False
    Settings = ThermalSettings

    def __init__(self, host: Host, settings: Mapping[str, Any] | None = None):
        super().__init__(host, settings)
        self._inv: Inventory | None = None
        self._baseline: Mapping[int, Mapping[str, int]] | None = None
        self._emitted: set[tuple[str, str]] = set()
        self._seen_ok: set[str] = set()  # sensors that gave a plausible reading at least once
        self._spun: set[str] = set()  # fans seen above 0 RPM
        self._noted_junk: set[str] = set()
        self._peaks: dict[str, TempReading] = {}
        self._fan_range: dict[str, tuple[int, int]] = {}
        self._samples = 0

    def probe(self) -> Probe:
        try:
            inv = discover(self.host)
        except Exception as exc:  # noqa: BLE001 - probe never raises; a surprise here means nothing to read
            return Probe.unavailable(f"cannot read sensors: {exc}")
        if inv.empty:
            return Probe.unavailable("; ".join(inv.missing()))
        return Probe.ok()

    def check(self, ctx: ModuleContext) -> None:
        self._inv = discover(self.host)
        if self._inv.empty:
            raise Skip("; ".join(self._inv.missing()))
        inv = self._inv
        ctx.note("thermal inventory", temps=[t.key for t in inv.temps], fans=[f.key for f in inv.fans],
                 throttle_cpus=list(inv.throttle_cpus), freq_cpus=list(inv.freq_cpus))
        missing = inv.missing()
        if missing and not inv.temps:
            # Fans or clocks alone cannot show overheating: a PASS here would claim more than was seen.
            ctx.warn("thermal", "no-temperature-sensors",
                     "No temperature sensor is readable, so overheating cannot be detected "
                     f"(missing sensor drivers?): {'; '.join(missing)}.", {"missing": missing})
        elif missing:
            ctx.info("thermal", "thermal-partial",
                     f"Only part of the thermal picture is readable: {'; '.join(missing)}.", {"missing": missing})
        snap = self._observe(ctx, at_start=True)
        self._baseline = snap.throttle
        since_boot = {c: {n: v for n, v in t.items() if n in THROTTLE_COUNTERS and v} for c, t in snap.throttle.items()}
        since_boot = {c: t for c, t in since_boot.items() if t}
        if since_boot:
            cpus = format_cpulist(list(since_boot))
            ctx.info(f"cpu:{cpus}", "cpu-throttled-since-boot",
                     f"CPUs {cpus} had been thermally throttled before this run (counters are since boot).",
                     {"counts": {f"cpu{c}": t for c, t in sorted(since_boot.items())}})

    def run(self, ctx: ModuleContext) -> None:
        if self._inv is None:
            self.check(ctx)
        interval = self.settings.interval_s
        while not ctx.stopping():
            self._observe(ctx)
            if ctx.wait(interval):
                break

    def finish(self, ctx: ModuleContext) -> None:
        if self._inv is None:
            raise Skip("no sensor inventory: the check phase did not run")
        snap = self._observe(ctx)
        if self._baseline is not None:
            rises = throttle_increase(self._baseline, snap.throttle)
            judgement = judge_throttle(rises, Severity(self.settings.throttle))
            if judgement:
                self._emit(ctx, judgement)
        self._summarise(ctx)

    # -- internals ---------------------------------------------------------------------------------
    def _observe(self, ctx: ModuleContext, at_start: bool = False) -> Snapshot:
        assert self._inv is not None
        snap = read_snapshot(self.host, self._inv)
        ctx.sample(snapshot_metrics(snap))
        self._samples += 1
        above_max = Severity(self.settings.above_max)
        tolerance = self.settings.fan_min_tolerance_pct
        junk: dict[str, list[str]] = {}
        for r in snap.temps:
            key = r.source.key
            if r.ignored and key not in self._noted_junk:
                junk[key] = list(r.ignored)
                self._noted_junk.add(key)
            self._check_lost(ctx, key, r.source.component, r.status, r.source.input_path)
            if r.status == "ok" and r.temp_c is not None:
                self._seen_ok.add(key)
                if key not in self._peaks or r.temp_c > (self._peaks[key].temp_c or -273.15):
                    self._peaks[key] = r
                for j in judge_temp(r, above_max):
                    self._emit(ctx, j)
        for r in snap.fans:
            key = r.source.key
            self._check_lost(ctx, key, r.source.component, r.status, r.source.input_path)
            if r.status != "ok" or r.rpm is None:
                continue
            self._seen_ok.add(key)
            lo, hi = self._fan_range.get(key, (r.rpm, r.rpm))
            self._fan_range[key] = (min(lo, r.rpm), max(hi, r.rpm))
            if at_start and fan_not_connected(r):
                self._emit(ctx, Judgement(
                    Severity.INFO, r.source.component, "fan-not-connected",
                    f"Fan header {key} reads 0 RPM with no minimum or alarm set: treated as not connected.",
                    {"rpm": 0, "path": r.source.input_path}))
            for j in judge_fan(r, key in self._spun, tolerance):
                self._emit(ctx, j)
            if r.rpm > 0:
                self._spun.add(key)
        if junk:
            ctx.note("ignored implausible sensor values (unset limits or broken readings); not judged", values=junk)
        return snap

    def _check_lost(self, ctx: ModuleContext, key: str, component: str, status: str, path: str) -> None:
        if status == "missing" and key in self._seen_ok:
            self._emit(ctx, Judgement(Severity.WARN, component, "sensor-lost",
                                      f"{key} stopped answering during the run (it read fine before).", {"path": path}))

    def _emit(self, ctx: ModuleContext, j: Judgement) -> None:
        if (j.component, j.code) in self._emitted:
            return
        if j.code == "temp-above-max" and (j.component, "temp-critical") in self._emitted:
            return  # already reported as critical: above-max says less
        self._emitted.add((j.component, j.code))
        ctx.finding(j.severity, j.component, j.code, j.message, j.evidence)

    def _summarise(self, ctx: ModuleContext) -> None:
        if not self._peaks and not self._fan_range:
            return
        temps = {k: {"peak_c": r.temp_c, "max_c": r.max_c, "crit_c": r.crit_c} for k, r in sorted(self._peaks.items())}
        fans = {k: {"min_rpm": lo, "max_rpm": hi} for k, (lo, hi) in sorted(self._fan_range.items())}
        evidence = {"temps": temps, "fans": fans, "samples": self._samples}
        if not self._peaks:
            ctx.info("thermal", "temp-peaks", "No temperature was readable; the fan speeds seen are in the evidence.",
                     evidence)
            return
        with_crit = [r for r in self._peaks.values() if r.crit_c is not None]
        closest = (min(with_crit, key=lambda r: r.crit_c - r.temp_c) if with_crit
                   else max(self._peaks.values(), key=lambda r: r.temp_c))
        if closest.crit_c is not None:
            message = f"Closest to its limit: {closest.source.key} peaked at {closest.temp_c:g} °C " \
                      f"(critical {closest.crit_c:g} °C)."
        else:
            message = f"Hottest: {closest.source.key} peaked at {closest.temp_c:g} °C (no critical limit known)."
        ctx.info("thermal", "temp-peaks", message, evidence)
