"""OCP Test & Validation output (`--ocp FILE`): the run as the LDJSON fleet diagnostics tools exchange.

Written with the `ocptv` library (the OCP Test & Validation Python API, output spec 2.0) from the journal as read
back after the run (or by `burnin report`), one JSON object per line:

    schemaVersion                        2.0
    testRunStart                         name "burnin", version, command line, parameters (profile, mode, run id,
                                         duration), dutInfo: the machine (id = its serial, else hostname, else
                                         run id), and one hardwareInfo per part of the inventory: the system,
                                         the CPU model, every populated DIMM, disk and NIC with serial, part
                                         number (model), manufacturer, firmware and slot
    per module, one test step (its name is the module's):
      testStepStart
      measurement                        per sampled metric its `max`, `min` and `mean` over the run, with the unit
                                         (burnin.report.metrics) and, where the journal knows a limit (a sensor's
                                         critical temperature from thermal's evidence), a validator
      diagnosis                          one per finding: fail -> FAIL, warn and info -> UNKNOWN (a human decides;
                                         a fact is no judgement); verdict `burnin.SEVERITY.CODE`, its message, the
                                         component as the subcomponent's name, the inventoried part's
                                         hardwareInfoId where the component names one (a disk, DIMM, NIC)
      extension "burnin.finding"         the finding as the journal has it; `evidence` is its JSON text
      diagnosis PASS burnin.pass         a module that ended PASS: its area was tested and no fault found
      diagnosis UNKNOWN not-tested       a module that SKIPped, ERRORed or did not finish: the area not tested
      error                              an ERROR or INCOMPLETE module: its reason
      testStepEnd                        COMPLETE (PASS, WARN, FAIL), SKIP, or ERROR (ERROR, INCOMPLETE)
    log WARNING                          each area not tested, and why
    error                                a run cut short (no run_end, interrupted, the journal could not be written)
    testRunEnd                           status COMPLETE or ERROR (cut short, or a module could not test);
                                         result PASS (PASS, WARN), FAIL, or NOT_APPLICABLE (ERROR, INCOMPLETE)

Every artifact carries the time it happened (the journal's `t`), not the time this file was written.
`ocptv` is imported when the file is written, never on `burnin --help`.
"""

from __future__ import annotations

import json
import math
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from burnin import __version__
from burnin.files import write_atomically
from burnin.coverage import area_of
from burnin.journal import JournalContents
from burnin.model import Finding, Severity, Verdict
from burnin.report import metrics
from burnin.report.machine import Machine, Part, machine_of, part_of
from burnin.verdict import RunSummary

# A warning needs a human to decide; an info finding is a fact, not a judgement of the part (never a PASS).
DIAGNOSIS_TYPES = {Severity.FAIL: "FAIL", Severity.WARN: "UNKNOWN", Severity.INFO: "UNKNOWN"}
STEP_STATUS = {Verdict.PASS: "COMPLETE", Verdict.WARN: "COMPLETE", Verdict.FAIL: "COMPLETE", Verdict.SKIP: "SKIP",
               Verdict.ERROR: "ERROR", Verdict.INCOMPLETE: "ERROR"}
FINDING_EXTENSION = "burnin.finding"
_LOCK = threading.Lock()  # ocptv's writer is module-global configuration


def _timestamp(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Collector:
    """An ocptv Writer that keeps the lines, stamping each with the journal time of what it reports."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.t: float | None = None

    def write(self, buffer: str) -> None:
        if self.t is not None:
            artifact = json.loads(buffer)
            artifact["timestamp"] = _timestamp(self.t)
            buffer = json.dumps(artifact, ensure_ascii=False)
        self.lines.append(buffer)


# -- what the journal holds, per module ---------------------------------------------------------------------
def metric_stats(contents: JournalContents) -> dict[str, dict[str, list[float]]]:
    """module -> metric -> [count, min, max, sum, first t, last t] over every finite sample value."""
    stats: dict[str, dict[str, list[float]]] = {}

    def add(module: str, name: str, times, values) -> None:
        for t, value in zip(times, values):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            entry = stats.setdefault(module, {}).get(name)
            if entry is None:
                stats[module][name] = [1, value, value, value, t, t]
            else:
                entry[0] += 1
                entry[1] = min(entry[1], value)
                entry[2] = max(entry[2], value)
                entry[3] += value
                entry[5] = t

    columns = contents.sample_columns()
    if columns is not None:
        for module, runs in columns:
            for names, times, values in runs:
                for name, column in zip(names, values):
                    add(module, name, times, column)
        return stats
    for record in contents.of_type("sample"):
        module, values = record.get("module"), record.get("metrics")
        if isinstance(module, str) and isinstance(values, dict):
            for name, value in values.items():
                add(module, str(name), [record.get("t")], [value])
    return stats


def temperature_limits(findings: Iterable[Finding]) -> dict[str, float]:
    """sensor -> its critical temperature, from thermal's evidence (temp-peaks lists every sensor's limits)."""
    from burnin.modules.thermal import LIMIT_MAX_C

    limits: dict[str, float] = {}
    for finding in findings:
        evidence = finding.evidence or {}
        temps = evidence.get("temps") if isinstance(evidence.get("temps"), Mapping) else {}
        sources = dict(temps)
        if finding.component.startswith("sensor:"):
            sources[finding.component.split(":", 1)[1]] = evidence
        for sensor, source in sources.items():
            crit = source.get("crit_c") if isinstance(source, Mapping) else None
            if isinstance(crit, (int, float)) and not isinstance(crit, bool) and 0 < crit <= LIMIT_MAX_C:
                limits[str(sensor)] = float(crit)
    return limits


def _first_times(contents: JournalContents, record_type: str) -> dict[str, float]:
    times: dict[str, float] = {}
    for record in contents.of_type(record_type):
        if isinstance(record.get("module"), str) and isinstance(record.get("t"), (int, float)):
            times.setdefault(record["module"], float(record["t"]))
    return times


def _finding_times(contents: JournalContents) -> list[float | None]:
    return [r.get("t") if isinstance(r.get("t"), (int, float)) else None for r in contents.of_type("finding")]


# -- the output ---------------------------------------------------------------------------------------------
def _dut(tv, machine: Machine, run_start: Mapping[str, Any]):
    dut_id = machine.serial or machine.hostname or str(run_start.get("run_id") or "unknown")
    dut = tv.Dut(id=dut_id, name=machine.hostname or dut_id)
    if machine.model:
        dut.add_platform_info(machine.model)
    dut.add_software_info(name="burnin", type=tv.SoftwareType.APPLICATION,
                          version=str(run_start.get("burnin_version") or __version__))
    infos: dict[Part, Any] = {}
    for part in machine.parts:
        infos[part] = dut.add_hardware_info(
            name=f"{part.kind} {part.name}", version=part.version, location=part.location, serial_no=part.serial,
            part_no=part.part_number, manufacturer=part.manufacturer)
    return dut, infos


def _measurements(tv, step, stats: Mapping[str, list[float]], limits: Mapping[str, float], parts: list[Part],
                  infos: Mapping[Part, Any]) -> None:
    for name in sorted(stats, key=lambda n: (metrics.metric(n).order, n)):
        count, low, high, total, first_t, last_t = stats[name]
        unit = metrics.metric(name).unit or None
        series = metrics.series_of(name)
        part = next((p for p in parts if p.kind in ("disk", "nic") and series.split(" ")[0]
                     in (p.name, p.name.rsplit("/", 1)[-1])), None) if series else None
        crit = limits.get(series) if metrics.prefix_of(name) == "temp_c" else None
        metadata = {"samples": int(count), "from": _timestamp(first_t), "to": _timestamp(last_t)}
        for stat, value in (("max", high), ("min", low), ("mean", total / count)):
            validators = [tv.Validator(type=tv.ValidatorType.LESS_THAN, value=crit, name="critical limit")] \
                if crit is not None and stat == "max" else None
            step.add_measurement(name=f"{name} {stat}", value=float(value), unit=unit, validators=validators,
                                 hardware_info=infos.get(part) if part else None, metadata=tv.Metadata(metadata))


def _diagnosis(tv, step, finding: Finding, parts: list[Part], infos: Mapping[Part, Any]) -> None:
    part = part_of(finding.component, parts)
    step.add_diagnosis(getattr(tv.DiagnosisType, DIAGNOSIS_TYPES[finding.severity]),
                       verdict=f"burnin.{finding.severity.value}.{finding.code}", message=finding.message,
                       hardware_info=infos.get(part) if part else None,
                       subcomponent=tv.Subcomponent(name=finding.component or finding.module),
                       source_location=None)
    # ocptv cannot serialise a null inside an object, and evidence has them (a limit not set): the evidence goes
    # as JSON text, exactly as the journal holds it.
    record = finding.to_record()
    record["evidence"] = json.dumps(record["evidence"], ensure_ascii=False, default=str)
    step.add_extension(name=FINDING_EXTENSION, content=record)


def ocp_lines(summary: RunSummary, contents: JournalContents) -> list[str]:
    """The OCP Test & Validation output of a run, one JSON text per line."""
    import ocptv.output as tv

    run_start = summary.run_start
    machine = machine_of(contents)
    start_t = float(run_start.get("t") or 0.0)
    end_t = float(summary.last_record_t or start_t)
    stats = metric_stats(contents)
    limits = temperature_limits(summary.findings)
    started, ended = _first_times(contents, "module_start"), _first_times(contents, "module_end")
    finding_times = _finding_times(contents)
    untested = {u.module: u for u in summary.untested}
    profile = run_start.get("profile") if isinstance(run_start.get("profile"), dict) else {}
    parameters = {"profile": str(profile.get("name") or ""), "mode": str(run_start.get("mode") or ""),
                  "run_id": str(run_start.get("run_id") or ""), "journal": summary.journal,
                  "duration_s": int(round(summary.duration_s))}
    argv = run_start.get("argv") if isinstance(run_start.get("argv"), list) else []

    collector = _Collector()
    with _LOCK:
        tv.config(writer=collector, enable_runtime_checks=True)
        try:
            run = tv.TestRun(name="burnin", version=str(run_start.get("burnin_version") or __version__),
                             command_line=" ".join(["burnin", *map(str, argv)]), parameters=parameters)
        finally:
            tv.config(writer=tv.StdoutWriter())  # the writer is now the run's own; leave no global behind
    dut, infos = _dut(tv, machine, run_start)
    collector.t = start_t
    run.start(dut=dut)
    for module, verdict in summary.modules.items():
        step = run.add_step(module)
        collector.t = started.get(module, start_t)
        step.start()
        _measurements(tv, step, stats.get(module, {}), limits, machine.parts, infos)
        for finding, t in zip(summary.findings, finding_times):
            if finding.module == module:
                collector.t = t if t is not None else collector.t
                _diagnosis(tv, step, finding, machine.parts, infos)
        collector.t = ended.get(module, end_t)
        reason = summary.module_reasons.get(module, "")
        if verdict is Verdict.PASS and module not in untested:
            step.add_diagnosis(tv.DiagnosisType.PASS, verdict="burnin.pass",
                               message=f"{area_of(module)}: tested, no faults found",
                               subcomponent=tv.Subcomponent(name=module), source_location=None)
        if module in untested:
            gap = untested[module]
            step.add_diagnosis(tv.DiagnosisType.UNKNOWN, verdict="burnin.not-tested",
                               message=f"{gap.area} not tested: {gap.reason}" if gap.reason else f"{gap.area} not "
                               "tested", subcomponent=tv.Subcomponent(name=module), source_location=None)
        if verdict in (Verdict.ERROR, Verdict.INCOMPLETE):
            step.add_error(symptom=f"burnin.module-{verdict.value.lower()}", message=reason or verdict.value,
                           source_location=None)
        step.end(status=getattr(tv.TestStatus, STEP_STATUS[verdict]))
    collector.t = end_t
    for gap in summary.untested:
        if gap.module not in summary.modules:
            run.add_log(tv.LogSeverity.WARNING, f"not tested: {gap.area} ({gap.module}: {gap.reason})",
                        source_location=None)
    if not summary.complete:
        run.add_error(symptom="burnin.run-incomplete", message=summary.reason or "the run did not finish",
                      source_location=None)
    status, result = _run_outcome(summary)
    run.end(status=getattr(tv.TestStatus, status), result=getattr(tv.TestResult, result))
    return collector.lines


def _run_outcome(summary: RunSummary) -> tuple[str, str]:
    if summary.verdict is Verdict.FAIL:
        return ("COMPLETE" if summary.complete else "ERROR"), "FAIL"
    if summary.verdict in (Verdict.PASS, Verdict.WARN):
        return "COMPLETE", "PASS"
    return "ERROR", "NOT_APPLICABLE"


def write_ocp(summary: RunSummary, contents: JournalContents, path: str | Path) -> None:
    write_atomically(path, "".join(line + "\n" for line in ocp_lines(summary, contents)))


# -- reading it back ----------------------------------------------------------------------------------------
def read_ocp(text: str) -> list[dict[str, Any]]:
    """The artifacts of an OCP output file (LDJSON), in order."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def diagnoses(artifacts: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every diagnosis with its step's name: [{step, type, verdict, message, component, hardwareInfoId}]."""
    names: dict[str, str] = {}
    out = []
    for artifact in artifacts:
        step = artifact.get("testStepArtifact")
        if not isinstance(step, dict):
            continue
        step_id = str(step.get("testStepId"))
        if "testStepStart" in step:
            names[step_id] = step["testStepStart"].get("name", "")
        diagnosis = step.get("diagnosis")
        if isinstance(diagnosis, dict):
            out.append({"step": names.get(step_id, step_id), "type": diagnosis.get("type"),
                        "verdict": diagnosis.get("verdict"), "message": diagnosis.get("message"),
                        "component": (diagnosis.get("subcomponent") or {}).get("name"),
                        "hardwareInfoId": diagnosis.get("hardwareInfoId")})
    return out
