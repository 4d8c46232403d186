"""The thermal module against captured sysfs trees (tests/data/thermal, see SOURCE.md there)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from burnin.host import Host, format_cpulist
from burnin.model import Severity
from burnin.modules.thermal import (
    FanReading,
    FanSource,
    TempSource,
    ThermalModule,
    discover,
    fan_not_connected,
    judge_fan,
    judge_temp,
    judge_throttle,
    make_fan_reading,
    make_temp_reading,
    throttle_increase,
)
from burnin.testing import RecordingContext, wait_for, run_phases

DATA = Path(__file__).parent / "data" / "thermal"
NCT = "sys/devices/platform/nct6775.656/hwmon/hwmon3"
CORETEMP0 = "sys/devices/platform/coretemp.0/hwmon/hwmon0"
NVME = "sys/devices/pci0000:00/0000:00:02.1/0000:01:00.0/nvme/nvme0/hwmon3"


def module(tree: str | Path, **settings) -> ThermalModule:
    root = tree if isinstance(tree, Path) else DATA / tree
    return ThermalModule(Host(root), {"interval_s": 0.05, **settings})


def copy_tree(name: str, tmp_path: Path) -> Path:
    dst = tmp_path / name
    shutil.copytree(DATA / name, dst, symlinks=True)
    return dst


def write(root: Path, rel: str, value: str) -> None:
    (root / rel).write_text(value + "\n")


def by_code(ctx: RecordingContext, code: str):
    found = [f for f in ctx.findings if f.code == code]
    assert found, f"no {code} finding in {[(f.code, f.component) for f in ctx.findings]}"
    return found


class Running:
    """check() then run() in a thread on a copied tree, so a test can change files between samples."""

    def __init__(self, mod: ThermalModule):
        self.mod = mod
        self.cancel = threading.Event()
        self.ctx = RecordingContext("thermal", mod.host, phase="check", seconds=60,
                                    cancel=self.cancel)
        mod.check(self.ctx)
        self.ctx.phase = "run"
        self.thread = threading.Thread(target=mod.run, args=(self.ctx,), daemon=True)
        self.thread.start()

    def samples_after(self, n: int) -> None:
        start = len(self.ctx.samples)
        wait_for(lambda: len(self.ctx.samples) >= start + n)

    def stop_and_finish(self) -> RecordingContext:
        self.cancel.set()
        self.thread.join(5)
        assert not self.thread.is_alive()
        self.ctx.phase = "finish"
        self.mod.finish(self.ctx)
        return self.ctx


# -- whole runs on captured trees ---------------------------------------------------------------
def test_healthy_dual_socket_server_has_only_info_findings_and_samples_every_sensor():
    ctx = run_phases(module("dual-socket"), seconds=0.3)
    assert ctx.codes(Severity.FAIL) == [] and ctx.codes(Severity.WARN) == []
    sample = ctx.samples[0]
    assert sample["temp_c:coretemp.0/Physical id 0"] == 55.0
    assert sample["temp_c:coretemp.1/Core 3"] == 50.0
    assert sample["temp_c:cpu-thermal (thermal_zone0)"] == pytest.approx(12.376)
    assert sample["fan_rpm:nct6779/fan2"] == 1098
    assert sample["freq_mhz:cpu0"] == pytest.approx(1699.981)
    assert sample["throttle_count:cpu3:core"] == 9 and sample["throttle_count:cpu0:package"] == 30
    assert len(ctx.samples) >= 3  # check, at least one run sample, finish


def test_two_sockets_with_the_same_chip_name_are_told_apart_by_device():
    inv = discover(Host(DATA / "dual-socket"))
    keys = [t.key for t in inv.temps]
    assert "coretemp.0/Core 0" in keys and "coretemp.1/Core 0" in keys
    (package,) = [t for t in inv.temps if t.key == "coretemp.1/Physical id 0"]
    assert package.component == "sensor:coretemp.1/Physical id 0"


def test_throttling_before_the_run_is_info_naming_the_cpus():
    ctx = run_phases(module("dual-socket"), phases=("check",))
    (finding,) = by_code(ctx, "cpu-throttled-since-boot")
    assert finding.severity is Severity.INFO and finding.component == "cpu:0-3"
    assert finding.evidence["counts"]["cpu3"] == {"core_throttle_count": 9, "package_throttle_count": 6}


def test_temperature_over_critical_fails_and_over_max_warns():
    ctx = run_phases(module("dual-socket-hot"), seconds=0.3)
    (crit,) = by_code(ctx, "temp-critical")
    assert crit.severity is Severity.FAIL and crit.component == "sensor:coretemp.1/Physical id 0"
    assert crit.evidence["temp_c"] == 101.0 and crit.evidence["crit_c"] == 100.0 and crit.evidence["crit_alarm"]
    (above,) = by_code(ctx, "temp-above-max")
    assert above.severity is Severity.WARN and above.component == "sensor:coretemp.0/Core 1"
    assert above.evidence["temp_c"] == 86.0 and above.evidence["max_c"] == 84.0


def test_above_max_fails_when_the_profile_says_so():
    ctx = run_phases(module("dual-socket-hot", above_max="fail"), phases=("check",))
    assert by_code(ctx, "temp-above-max")[0].severity is Severity.FAIL


def test_critical_alarm_file_alone_fails(tmp_path):
    root = copy_tree("dual-socket", tmp_path)
    write(root, f"{CORETEMP0}/temp2_crit_alarm", "1")
    ctx = run_phases(module(root), phases=("check",))
    (crit,) = by_code(ctx, "temp-critical")
    assert crit.component == "sensor:coretemp.0/Core 0" and crit.evidence["temp_c"] == 54.0
    assert "alarm" in crit.message


def test_nvme_temperature_alarm_warns(tmp_path):
    root = copy_tree("nvme-laptop", tmp_path)
    write(root, f"{NVME}/temp1_alarm", "1")
    ctx = run_phases(module(root), phases=("check",))
    (above,) = by_code(ctx, "temp-above-max")
    assert above.severity is Severity.WARN and above.component == "sensor:nvme/Composite"


def test_fan_at_zero_with_its_alarm_set_fails_stopped_and_alarm():
    ctx = run_phases(module("dual-socket-fan-stopped"), seconds=0.3)
    assert sorted(f.code for f in ctx.findings if f.severity is Severity.FAIL) == ["fan-alarm", "fan-stopped"]
    assert {f.component for f in ctx.findings if f.code.startswith("fan-")} == {"fan:nct6779/fan2"}


def test_applesmc_fan_at_zero_with_a_minimum_fails_but_rpm_jitter_under_minimum_does_not():
    ctx = run_phases(module("applesmc"), phases=("check",))
    (stopped,) = by_code(ctx, "fan-stopped")
    assert stopped.component == "fan:applesmc/Left side" and stopped.evidence["min_rpm"] == 2160
    assert "fan-below-min" not in ctx.codes()  # Right side: 1998 RPM against a minimum of 2000

    strict = run_phases(module("applesmc", fan_min_tolerance_pct=0.0), phases=("check",))
    (below,) = by_code(strict, "fan-below-min")
    assert below.component == "fan:applesmc/Right side" and below.evidence["rpm"] == 1998


def test_fan_below_its_minimum_fails(tmp_path):
    root = copy_tree("dual-socket", tmp_path)
    write(root, f"{NCT}/fan2_min", "1500")
    ctx = run_phases(module(root), phases=("check",))
    (below,) = by_code(ctx, "fan-below-min")
    assert below.severity is Severity.FAIL
    assert below.evidence["rpm"] == 1098 and below.evidence["min_rpm"] == 1500


def test_unpopulated_fan_header_reading_zero_from_the_start_is_info(tmp_path):
    root = copy_tree("dual-socket", tmp_path)
    write(root, f"{NCT}/fan2_input", "0")
    ctx = run_phases(module(root), seconds=0.2)
    (info,) = by_code(ctx, "fan-not-connected")
    assert info.severity is Severity.INFO and info.component == "fan:nct6779/fan2"
    assert ctx.codes(Severity.FAIL) == []


def test_junk_limits_and_readings_are_ignored_noted_and_never_judged():
    ctx = run_phases(module("nvme-laptop"), seconds=0.2)
    assert ctx.codes(Severity.FAIL) == [] and ctx.codes(Severity.WARN) == []
    (note,) = [n for n in ctx.notes if n["message"].startswith("ignored implausible")]
    assert note["data"]["values"]["nvme/Sensor 1"] == ["temp2_max=65261850"]
    assert note["data"]["values"]["acpitz (thermal_zone1)"] == ["temp=-44000"]
    assert "temp_c:acpitz (thermal_zone1)" not in ctx.samples[0]
    peaks = by_code(ctx, "temp-peaks")[0].evidence["temps"]
    assert peaks["nvme/Sensor 1"]["max_c"] is None  # the 65261 °C "limit" is no limit
    assert peaks["nvme/Composite"] == {"peak_c": 43.85, "max_c": 84.85, "crit_c": 94.85}
    assert peaks["acpitz (thermal_zone2)"]["crit_c"] == 105.0  # critical trip point; passive trip ignored


def test_thermal_zone_over_its_critical_trip_fails(tmp_path):
    root = copy_tree("nvme-laptop", tmp_path)
    write(root, "sys/class/thermal/thermal_zone2/temp", "106000")
    ctx = run_phases(module(root), phases=("check",))
    (crit,) = by_code(ctx, "temp-critical")
    assert crit.component == "thermal-zone:acpitz (thermal_zone2)" and crit.evidence["crit_c"] == 105.0


def test_machine_without_sensors_is_unavailable_naming_every_missing_part(tmp_path):
    probe = ThermalModule(Host(tmp_path)).probe()
    assert not probe.available
    assert probe.reason == ("no hwmon sensors (/sys/class/hwmon is empty); no thermal zones; "
                            "no CPU thermal-throttle counters; no cpufreq")


def test_machine_with_only_some_sensor_families_runs_and_says_what_is_missing(tmp_path):
    root = copy_tree("nvme-laptop", tmp_path)
    shutil.rmtree(root / "sys/class/thermal")
    mod = module(root)
    assert mod.probe().available
    ctx = run_phases(mod, phases=("check",))
    (partial,) = by_code(ctx, "thermal-partial")
    assert partial.severity is Severity.INFO and partial.component == "thermal"
    assert partial.evidence["missing"] == ["no thermal zones"]


def test_fans_without_any_temperature_sensor_warn_that_heat_is_invisible():
    ctx = run_phases(module("applesmc"), phases=("check",))  # a real Mac SMC capture: fans, no temperatures
    (blind,) = by_code(ctx, "no-temperature-sensors")
    assert blind.severity is Severity.WARN
    assert blind.evidence["missing"] == ["no thermal zones", "no CPU thermal-throttle counters", "no cpufreq"]


# -- changes during the run ---------------------------------------------------------------------
def test_fan_that_stops_during_the_run_fails_once(tmp_path):
    root = copy_tree("dual-socket", tmp_path)
    run = Running(module(root))
    run.samples_after(2)
    write(root, f"{NCT}/fan2_input", "0")
    run.samples_after(3)
    ctx = run.stop_and_finish()
    (stopped,) = by_code(ctx, "fan-stopped")
    assert stopped.evidence["spun_before"] is True and stopped.evidence["rpm"] == 0
    assert "fan-not-connected" not in ctx.codes()
    assert ctx.findings.count(stopped) == 1


def test_sensor_that_disappears_during_the_run_warns_sensor_lost(tmp_path):
    root = copy_tree("dual-socket", tmp_path)
    run = Running(module(root))
    run.samples_after(1)
    (root / CORETEMP0 / "temp3_input").unlink()
    run.samples_after(3)
    ctx = run.stop_and_finish()
    (lost,) = by_code(ctx, "sensor-lost")
    assert lost.severity is Severity.WARN and lost.component == "sensor:coretemp.0/Core 1"


@pytest.mark.parametrize("throttle, severity", [("warn", Severity.WARN), ("fail", Severity.FAIL)])
def test_throttle_counters_rising_during_the_run_are_judged_in_finish(tmp_path, throttle, severity):
    root = copy_tree("dual-socket", tmp_path)
    run = Running(module(root, throttle=throttle))
    run.samples_after(1)
    write(root, "sys/devices/system/cpu/cpu3/thermal_throttle/core_throttle_count", "21")
    write(root, "sys/devices/system/cpu/cpu2/thermal_throttle/package_throttle_count", "8")
    run.samples_after(1)
    assert "cpu-throttled" not in run.ctx.codes()  # judged against the baseline at the end
    ctx = run.stop_and_finish()
    (throttled,) = by_code(ctx, "cpu-throttled")
    assert throttled.severity is severity and throttled.component == "cpu:2-3"
    assert throttled.evidence["increase"] == {
        "cpu2": {"package_throttle_count": 2}, "cpu3": {"core_throttle_count": 12}}


def test_a_temperature_crossing_critical_is_reported_once_and_its_peak_kept(tmp_path):
    root = copy_tree("dual-socket", tmp_path)
    run = Running(module(root))
    for value in ("101000", "104000", "102000"):
        write(root, f"{CORETEMP0}/temp1_input", value)
        run.samples_after(2)
    ctx = run.stop_and_finish()
    (crit,) = by_code(ctx, "temp-critical")
    assert crit.evidence["temp_c"] == 101.0  # the value when first crossed
    assert "temp-above-max" not in ctx.codes()
    peaks = by_code(ctx, "temp-peaks")[0]
    assert peaks.evidence["temps"]["coretemp.0/Physical id 0"]["peak_c"] == 104.0
    assert "coretemp.0/Physical id 0" in peaks.message


def test_run_returns_within_a_second_of_cancellation():
    mod = module("dual-socket", interval_s=5.0)
    cancel = threading.Event()
    ctx = RecordingContext("thermal", mod.host, phase="check", seconds=60, cancel=cancel)
    mod.check(ctx)
    threading.Timer(0.3, cancel.set).start()
    start = time.monotonic()
    mod.run(ctx)
    assert time.monotonic() - start < 1.3


# -- pure judging -------------------------------------------------------------------------------
def test_fan_history_decides_between_not_connected_and_stopped():
    source = FanSource("nct6779/fan2", "fan:nct6779/fan2", "/sys/x/fan2_input")
    idle = FanReading(source, "ok", 0, None)
    assert fan_not_connected(idle) and judge_fan(idle, spun_before=False, tolerance_pct=5) == []
    assert [j.code for j in judge_fan(idle, spun_before=True, tolerance_pct=5)] == ["fan-stopped"]
    with_min = FanReading(source, "ok", 0, 800)
    assert not fan_not_connected(with_min)
    assert [j.code for j in judge_fan(with_min, spun_before=False, tolerance_pct=5)] == ["fan-stopped"]
    assert judge_fan(FanReading(source, "missing", None, 800), spun_before=True, tolerance_pct=5) == []


def test_hot_trip_point_acts_as_max_and_out_of_range_limits_are_no_limit():
    source = TempSource("x86_pkg_temp (thermal_zone1)", "thermal-zone:x86_pkg_temp (thermal_zone1)", "/t/temp",
                        max_paths=("/t/trip_point_1_temp",), crit_paths=("/t/trip_point_0_temp",))
    hot = make_temp_reading(source, 92000, {"/t/trip_point_1_temp": 90000}, {"/t/trip_point_0_temp": -274000})
    assert hot.max_c == 90.0 and hot.crit_c is None and hot.ignored == ("trip_point_0_temp=-274000",)
    assert [(j.code, j.severity) for j in judge_temp(hot, Severity.WARN)] == [("temp-above-max", Severity.WARN)]
    junk = make_temp_reading(source, 255000, {"/t/trip_point_1_temp": 90000}, {})
    assert junk.status == "junk" and judge_temp(junk, Severity.FAIL) == []


def test_throttle_increase_ignores_counters_that_did_not_rise_or_went_back():
    before = {0: {"core_throttle_count": 5, "package_throttle_count": 30, "core_throttle_total_time_ms": 100},
              1: {"core_throttle_count": 7, "package_throttle_count": 30}}
    after = {0: {"core_throttle_count": 9, "package_throttle_count": 30, "core_throttle_total_time_ms": 350},
             1: {"core_throttle_count": 0, "package_throttle_count": 30}}
    rises = throttle_increase(before, after)
    assert rises == {0: {"core_throttle_count": 4, "core_throttle_total_time_ms": 250}}
    assert judge_throttle(rises, Severity.WARN).component == "cpu:0"
    assert judge_throttle({}, Severity.WARN) is None
    assert format_cpulist([8, 0, 1, 2, 3, 10]) == "0-3,8,10"


def test_two_nvme_drives_are_named_by_their_device_and_unlinked_copies_by_hwmon_index(tmp_path):
    root = copy_tree("nvme-laptop", tmp_path)
    second = root / NVME.replace("nvme0/hwmon3", "nvme1/hwmon4")
    shutil.copytree(root / NVME, second, symlinks=True)
    (root / "sys/class/hwmon/hwmon4").symlink_to("../../" + NVME.replace("nvme0/hwmon3", "nvme1/hwmon4")[4:])
    shutil.copytree(root / NVME, root / "sys/class/hwmon/hwmon5", symlinks=True)  # a capture without the link
    keys = {t.key.split("/")[0] for t in discover(Host(root)).temps if t.component.startswith("sensor:")}
    assert keys == {"nvme0", "nvme1", "nvme.hwmon5"}


def test_tachometer_garbage_is_junk_not_a_fan_speed():
    source = FanSource("it8728/fan1", "fan:it8728/fan1", "/sys/x/fan1_input")
    assert make_fan_reading(source, 1350000, None, None).status == "junk"
    assert make_fan_reading(source, 1350000, 1350000, None).min_rpm is None


def test_machine_with_clocks_but_no_temperature_sensor_warns_that_heat_is_invisible(tmp_path):
    (tmp_path / "sys/devices/system/cpu/cpu0/cpufreq").mkdir(parents=True)
    write(tmp_path, "sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq", "2400000")
    mod = ThermalModule(Host(tmp_path))
    assert mod.probe().available
    ctx = run_phases(mod, phases=("check",))
    (blind,) = by_code(ctx, "no-temperature-sensors")
    assert blind.severity is Severity.WARN
    assert "no hwmon sensors" in blind.message
    assert "thermal-partial" not in ctx.codes()
