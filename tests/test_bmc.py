"""ipmitool parsing on real captured output, and the bmc module on those outputs replayed as `burnin capture`
records them (a captured tree's .burnin-capture/commands.json), before and after a run.

See tests/data/ipmitool/SOURCE.md for where each output comes from.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from burnin.host import CAPTURE_DIR, Host
from burnin.model import Severity
from burnin.modules.bmc import BmcModule, judge_reading, judge_state, sel_severity
from burnin.testing import RecordingContext
from burnin.tools import ipmitool
from burnin.tools.ipmitool import SensorReading

DATA = Path(__file__).parent / "data" / "ipmitool"


def text(name: str) -> str:
    return (DATA / name).read_text()


def entries(name: str):
    return ipmitool.parse_sel_list(text(name)).entries


def replayed(root: Path, outputs: dict[tuple[str, ...], str], stderr: dict | None = None) -> Host:
    """A captured tree whose recorded ipmitool commands answer with `outputs`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / CAPTURE_DIR).mkdir(exist_ok=True)
    (root / CAPTURE_DIR / "commands.json").write_text(json.dumps([
        {"argv": list(argv), "returncode": 0, "stdout": out, "stderr": (stderr or {}).get(argv, ""),
         "duration_s": 0.2} for argv, out in outputs.items()]))
    return Host(root)


SEL_INFO, SEL_LIST = tuple(ipmitool.sel_info_argv()), tuple(ipmitool.sel_list_argv())
SENSOR, SDR = tuple(ipmitool.sensor_argv()), tuple(ipmitool.sdr_elist_argv())


def qemu_outputs(**more):
    """The QEMU rig's simulated BMC: an empty SEL and one discrete watchdog sensor."""
    outputs = {SEL_INFO: text("qemu-sel-info.txt"), SEL_LIST: "", SENSOR: text("qemu-sensor.txt"),
               SDR: text("qemu-sdr-list.txt")}
    outputs.update(more)
    return outputs


def codes(ctx, severity=None):
    return sorted(f.code for f in ctx.findings if severity is None or f.severity is Severity(severity))


# -- parsers on real output --------------------------------------------------------------------------
def test_sel_info_parses_counts_space_and_times():
    qemu = ipmitool.parse_sel_info(text("qemu-sel-info.txt"))
    assert (qemu.entries, qemu.free_bytes, qemu.percent_used, qemu.overflow, qemu.last_add) == (0, 2048, 0, False, None)
    busy = ipmitool.parse_sel_info(text("issue277-sel-info.txt"))
    assert (busy.entries, busy.percent_used, busy.last_add) == (490, 12, "03/11/2021 15:45:59")


def test_sel_list_splits_type_sensor_description_and_direction():
    hp = entries("hp-dl360g7-sel-list.txt")
    assert [(e.record_id, e.sensor_type, e.sensor, e.description, e.asserted) for e in hp] == [
        (0, "Memory", "#0x2b", "Correctable ECC logging limit reached", True),
        (1, "Memory", "#0x2b", "Correctable ECC logging limit reached", True)]
    intel = entries("intel-sel-elist.txt")
    assert (intel[0].sensor_type, intel[0].sensor, intel[1].asserted) == ("Power Unit", "Pwr Unit Status", False)
    assert entries("intel-sel-elist.txt")[2].sensor_type == "Management Subsys Health"


def test_sel_list_reads_hex_ids_time_zones_and_empty_descriptions():
    quanta = entries("quanta-sel-elist.txt")
    assert (quanta[0].record_id, quanta[0].date, quanta[0].time) == (0x3a, "12/14/22", "23:09:44 CET")
    assert quanta[1].record_id == 0xE and quanta[0].description == "Correctable ECC (CPU0_G1)"
    fboss = entries("fboss-sel-list.txt")
    assert fboss[-1].record_id == 0x80 and fboss[-1].description == "" and fboss[-1].sensor_type == "Temperature"
    assert entries("openpower-sel-list.txt")[0].sensor_type == "System Firmware Progress"


def test_sel_elist_threshold_reading_pre_init_and_kernel_panic_records():
    parsed = ipmitool.parse_sel_list(text("format-sel-elist-threshold.txt"))
    first, _, fan, pre_init, ecc, panic = parsed.entries
    assert (first.sensor, first.reading, first.threshold, first.threshold_unit) == ("CPU Temp", 96, 95, "degrees C")
    assert (fan.sensor_type, fan.sensor, fan.reading) == ("Fan", "FAN2", 600)
    assert (pre_init.date, pre_init.sensor_type, pre_init.sensor) == (None, "Power Supply", "PS2 Status")
    assert ecc.extra == "CPU 1 DIMM 2"
    assert panic.oem and panic.sensor_type == "Linux kernel panic"
    assert parsed.unparsed == ()


def test_sensor_output_keeps_threshold_order_and_counts_error_lines():
    readings = {r.name: r for r in ipmitool.parse_sensor(text("supermicro-sensor.txt")).readings}
    cpu = readings["CPU Temp"]
    assert (cpu.value, cpu.unit, cpu.status) == (31.0, "degrees C", "ok")
    assert (cpu.lnr, cpu.lcr, cpu.lnc, cpu.unc, cpu.ucr, cpu.unr) == (5, 5, 10, 90, 95, 95)
    assert readings["M2NVMeSSD Temp1"].value is None
    openbmc = ipmitool.parse_sensor(text("openbmc-sensor.txt"))
    assert len(openbmc.readings) == 9 and len(openbmc.unparsed) == 8
    assert openbmc.readings[0].lcr == 0.0 and openbmc.readings[0].lnr is None
    [watchdog] = ipmitool.parse_sensor(text("qemu-sensor.txt")).readings
    assert watchdog.discrete and watchdog.value is None


def test_sdr_elist_and_sdr_list_both_parse():
    hp = {r.name: r for r in ipmitool.parse_sdr(text("hp-dl360g7-sdr-elist-full.txt")).records}
    psu = hp["Power Supply 1"]
    assert (psu.sensor_id, psu.status, psu.entity) == ("06h", "ok", "10.1")
    assert psu.states == ("0 Watts", "Presence detected", "Failure detected")
    assert hp["Temp 28"].value == 73.0
    dell = {r.name: r for r in ipmitool.parse_sdr(text("dell-r320-sdr-list-full.txt")).records}
    assert (dell["Fan3B"].value, dell["Fan3B"].status) == (0.0, "cr")


# -- judging -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,index,expected", [
    ("hp-dl360g7-sel-list.txt", 0, "warn"),  # correctable ECC logging limit
    ("quanta-sel-elist.txt", 0, "warn"),  # correctable ECC
    ("fboss-sel-list.txt", 0, "fail"),  # uncorrectable machine check
    ("fboss-sel-list.txt", 3, "warn"),  # a temperature event without description
    ("openpower-sel-list.txt", 0, None),  # firmware progress: bookkeeping
    ("intel-sel-elist.txt", 0, None),  # power off
    ("intel-sel-elist.txt", 2, None),  # management subsystem: not hardware
    ("format-sel-elist-threshold.txt", 0, "fail"),  # upper critical going high
    ("format-sel-elist-threshold.txt", 1, None),  # the same, deasserted
    ("format-sel-elist-threshold.txt", 2, "warn"),  # lower non-critical going low
    ("format-sel-elist-threshold.txt", 3, "fail"),  # power supply failure detected
])
def test_sel_event_severity_by_type_and_words(name, index, expected):
    severity = sel_severity(entries(name)[index])
    assert (severity.value if severity else None) == expected


def test_sensor_readings_against_status_and_thresholds():
    assert all(judge_reading(r) is None for r in ipmitool.parse_sensor(text("supermicro-sensor.txt")).readings)
    assert all(judge_reading(r) is None for r in ipmitool.parse_sensor(text("openbmc-sensor.txt")).readings)
    [fan] = ipmitool.parse_sensor(text("supermicro-sensor-nc.txt")).readings
    severity, why = judge_reading(fan)
    assert severity is Severity.WARN and "non-critical" in why
    stopped = SensorReading("FAN1", 0.0, "RPM", "ok", lnr=100, lcr=300, lnc=500)
    assert judge_reading(stopped)[0] is Severity.FAIL and "below its lower non-recoverable" in judge_reading(stopped)[1]


def test_discrete_states_fail_a_failed_psu_and_warn_lost_redundancy_and_ecc():
    judged = {r.name: judge_state(r) for r in ipmitool.parse_sdr(text("hp-dl360g7-sdr-elist-full.txt")).records}
    assert judged["Power Supply 1"] == (Severity.FAIL, "Failure detected")
    assert judged["Power Supplies"][0] is Severity.WARN
    assert judged["Memory"] == (Severity.WARN, "Correctable ECC")
    assert judged["Fans"] is None and judged["Power Supply 2"] is None and judged["Temp 4"] is None
    for name in ("dell-r510-sdr-elist-all.txt", "hpe-dl360g10-sdr-elist.txt", "qemu-sdr-list.txt"):
        assert [r.name for r in ipmitool.parse_sdr(text(name)).records if judge_state(r)] == [], name
    dell = {r.name: judge_state(r) for r in ipmitool.parse_sdr(text("dell-r320-sdr-list-full.txt")).records}
    assert dell["Fan3B"] == (Severity.FAIL, "status cr") and dell["Fan1A"] is None


# -- the module --------------------------------------------------------------------------------------
class NoIpmitool(Host):
    """The live host with an IPMI device but without ipmitool (to test the order of probe's reasons)."""

    def exists(self, host_path):
        return host_path == "/dev/ipmi0" or super().exists(host_path)

    def which(self, tool):
        return None


def test_probe_names_what_is_missing(tmp_path):
    if not Host("/").exists("/dev/ipmi0"):
        assert BmcModule(Host("/")).probe().reason.startswith("no IPMI device (/dev/ipmi0)")
    reason = BmcModule(NoIpmitool("/")).probe().reason
    assert reason.startswith("ipmitool is not installed; ") and "redfish_url" in reason  # and why not Redfish
    assert not BmcModule(Host(tmp_path)).probe().available  # a captured tree without ipmitool outputs


def test_qemu_bmc_with_an_empty_log_passes_quietly(tmp_path):
    module = BmcModule(replayed(tmp_path, qemu_outputs()), {"interval_s": 0.05})
    assert module.probe().available
    ctx = RecordingContext(module.name, module.host, seconds=0.2)
    for phase in ("check", "run", "finish"):
        ctx.phase = phase
        getattr(module, phase)(ctx)
    assert ctx.findings == []
    assert any("unchanged" in n["message"] for n in ctx.notes)


def test_events_logged_before_the_run_warn_with_counts_by_type(tmp_path):
    host = replayed(tmp_path, qemu_outputs() | {SEL_LIST: text("hp-dl360g7-sel-list.txt")})
    module = BmcModule(host)
    ctx = RecordingContext(module.name, module.host)
    module.check(ctx)
    [f] = [f for f in ctx.findings if f.code == "bmc-sel-before-run"]
    assert f.severity is Severity.WARN and f.evidence["counts_by_type"] == {"memory": 2}
    assert "memory 2" in f.message


def test_failed_power_supply_at_preflight_fails_and_lost_redundancy_warns(tmp_path):
    host = replayed(tmp_path, qemu_outputs() | {SDR: text("hp-dl360g7-sdr-elist-full.txt")})
    module = BmcModule(host)
    ctx = RecordingContext(module.name, module.host)
    module.check(ctx)
    found = {(f.component, f.severity) for f in ctx.findings}
    assert ("bmc-sensor:Power Supply 1", Severity.FAIL) in found
    assert ("bmc-sensor:Power Supplies", Severity.WARN) in found and ("bmc-sensor:Memory", Severity.WARN) in found


def test_new_sel_events_during_the_run_become_findings_by_type(tmp_path):
    module = BmcModule(replayed(tmp_path / "before", qemu_outputs()))
    ctx = RecordingContext(module.name, module.host)
    module.check(ctx)
    assert ctx.findings == []
    # After the run the log holds entries: `sel info` says it grew, `sel elist last N` lists them.
    after_info = text("issue277-sel-info.txt")
    grew = ipmitool.parse_sel_info(after_info).entries
    new_entries = text("fboss-sel-list.txt") + text("format-sel-elist-threshold.txt") + text("intel-sel-elist.txt")
    module.host = ctx.host = replayed(tmp_path / "after", qemu_outputs() | {
        SEL_INFO: after_info, tuple(ipmitool.sel_elist_argv(last=grew + 5)): new_entries})
    ctx.phase = "finish"
    module.finish(ctx)
    by_code = {}
    for f in ctx.findings:
        by_code.setdefault(f.code, []).append(f)
    assert {f.severity for f in by_code["bmc-sel-processor"]} == {Severity.FAIL}
    assert [f.component for f in by_code["bmc-sel-processor"]] == ["bmc:Processor/#0x40"] * 3
    temp = [f for f in by_code["bmc-sel-temperature"] if f.evidence["sensor"] == "CPU Temp"]
    assert len(temp) == 1 and temp[0].severity is Severity.FAIL and "reading 96" in temp[0].message
    assert by_code["bmc-sel-fan"][0].severity is Severity.WARN
    assert by_code["bmc-sel-psu"][0].severity is Severity.FAIL and "Failure detected" in by_code["bmc-sel-psu"][0].message
    assert by_code["bmc-sel-memory"][0].severity is Severity.WARN
    assert any("not hardware faults" in n["message"] for n in ctx.notes)  # power off/down, kernel panic record


def test_sensor_over_its_critical_threshold_during_the_run_fails_once(tmp_path):
    # The real Supermicro readings with one value changed: CPU Temp 31.000 -> 96.000 (ucr 95, unr 95).
    hot = text("supermicro-sensor.txt").replace("| 31.000     |", "| 96.000     |", 1)
    module = BmcModule(replayed(tmp_path, qemu_outputs() | {SENSOR: hot}), {"interval_s": 0.05})
    ctx = RecordingContext(module.name, module.host, phase="run", seconds=0.3)
    module.run(ctx)
    assert len(ctx.samples) >= 3  # sampled several times ...
    critical = [f for f in ctx.findings if f.code == "bmc-sensor-critical"]
    assert len(critical) == 1  # ... reported once
    assert critical[0].component == "bmc-sensor:CPU Temp" and "upper non-recoverable threshold 95" in critical[0].message
    assert ctx.samples[0]["bmc_temp_c:CPU Temp"] == 96.0 and "bmc_temp_c:M2NVMeSSD Temp1" not in ctx.samples[0]


def test_full_sel_warns_that_new_events_would_be_lost(tmp_path):
    full = text("qemu-sel-info.txt").replace("Percent Used     : 0%", "Percent Used     : 100%").replace(
        "Overflow         : false", "Overflow         : true")
    module = BmcModule(replayed(tmp_path, qemu_outputs() | {SEL_INFO: full}))
    ctx = RecordingContext(module.name, module.host)
    module.check(ctx)
    assert codes(ctx) == ["bmc-sel-full"]
