"""Prometheus text exposition of a run: for node_exporter's textfile collector, or any scraper of a file.

`burnin run --prom FILE` rewrites FILE atomically every few seconds while the run goes on (the run verdict
reads RUNNING until the end), then once more with the final verdict; `burnin report --prom FILE` writes it
once from a journal. Metrics:

    burnin_run_verdict{verdict="PASS"} 1           one line per verdict, 1 for the current one
    burnin_run_phase{phase="run"} 1                check, run, finish, done
    burnin_module_verdict{module="thermal",verdict="PASS"} 1
    burnin_findings{severity="fail"} 0
    burnin_run_duration_seconds, burnin_run_complete, burnin_run_start_timestamp_seconds,
    burnin_report_timestamp_seconds (a stale file means a hung machine or a dead burnin),
    burnin_run_info{run_id=..., hostname=..., ...} 1
    burnin_run_planned_seconds 1800             the stress phase's planned length (`run` only): progress is
                                                burnin_run_duration_seconds / burnin_run_planned_seconds
    burnin_sample{module="thermal",metric="temp_c:coretemp.0/Package id 0"} 61.5   the latest value of each
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from burnin import __version__
from burnin.journal import JournalContents
from burnin.model import Finding, Severity, Verdict
from burnin.files import write_atomically
from burnin.verdict import RunSummary, fold_run

RUNNING = "RUNNING"  # the run's or a module's state before its verdict exists
RUN_STATES = [v.value for v in Verdict if v is not Verdict.SKIP] + [RUNNING]
MODULE_STATES = [v.value for v in Verdict] + [RUNNING]
PHASES = ("check", "run", "finish", "done")
DEFAULT_INTERVAL_S = 5.0


@dataclass
class PromState:
    """What the exposition says: built from a RunSummary (after the run) or from live events."""

    verdict: str
    modules: dict[str, str]
    counts: dict[str, int]
    duration_s: float
    complete: bool
    phase: str | None
    started_t: float | None
    info: dict[str, str] = field(default_factory=dict)
    latest: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    planned_s: float | None = None  # the stress phase's length (fleet dashboards: run progress)


def escape_label(value: Any) -> str:
    """A label value as the text format wants it: backslash, double quote and newline escaped."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value: Any) -> str | None:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "+Inf" if value > 0 else "-Inf"
        return repr(value)
    return None  # not a number: left out


def _labels(**labels: Any) -> str:
    return "{" + ",".join(f'{k}="{escape_label(v)}"' for k, v in labels.items()) + "}"


def render(state: PromState, now: float | None = None) -> str:
    lines: list[str] = []

    def family(name: str, help_text: str, samples: Sequence[tuple[str, Any]]) -> None:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        for labels, value in samples:
            text = format_value(value)
            if text is not None:
                lines.append(f"{name}{labels} {text}")

    family("burnin_run_verdict", "The run's verdict: 1 for the current one (RUNNING until it ends).",
           [(_labels(verdict=v), int(v == state.verdict)) for v in RUN_STATES])
    family("burnin_run_phase", "The phase the run is in: 1 for the current one.",
           [(_labels(phase=p), int(p == state.phase)) for p in PHASES])
    family("burnin_module_verdict", "Each module's verdict: 1 for the current one (RUNNING until it ends).",
           [(_labels(module=m, verdict=v), int(v == current))
            for m, current in state.modules.items() for v in MODULE_STATES])
    family("burnin_findings", "Findings so far, by severity.",
           [(_labels(severity=s.value), int(state.counts.get(s.value, 0))) for s in Severity])
    family("burnin_run_duration_seconds", "How long the run has gone on (or went on).", [("", float(state.duration_s))])
    family("burnin_run_complete", "1 once the run finished without being cut short.", [("", int(state.complete))])
    if state.started_t is not None:
        family("burnin_run_start_timestamp_seconds", "When the run started (unix time).",
               [("", float(state.started_t))])
    family("burnin_report_timestamp_seconds", "When this file was written (unix time): stale means stuck.",
           [("", float(time.time() if now is None else now))])
    family("burnin_run_info", "The run, machine and profile as labels.", [(_labels(**state.info), 1)])
    if state.planned_s:
        family("burnin_run_planned_seconds", "The stress phase's planned length: progress is "
               "burnin_run_duration_seconds / this.", [("", float(state.planned_s))])
    family("burnin_sample", "The latest value of each sampled metric; the unit is the metric name's prefix.",
           [(_labels(module=module, metric=metric), value)
            for module, metrics in state.latest.items() for metric, value in metrics.items()])
    return "\n".join(lines) + "\n"


def _info(run_start: Mapping[str, Any]) -> dict[str, str]:
    host = run_start.get("host") or {}
    profile = run_start.get("profile") or {}
    return {
        "run_id": str(run_start.get("run_id") or ""),
        "mode": str(run_start.get("mode") or ""),
        "profile": str(profile.get("name") or ""),
        "hostname": str(host.get("hostname") or ""),
        "system_vendor": str(host.get("system_vendor") or ""),
        "system_product": str(host.get("system_product") or ""),
        "system_serial": str(host.get("system_serial") or ""),
        "burnin_version": str(run_start.get("burnin_version") or ""),
    }


def latest_samples(contents: JournalContents) -> dict[str, dict[str, Any]]:
    """Each module's most recent sample (what it read last), from a journal."""
    latest: dict[str, dict[str, Any]] = {}
    for record in reversed(contents.records):
        if record.get("type") == "sample" and isinstance(record.get("metrics"), dict):
            latest.setdefault(str(record.get("module")), record["metrics"])
    return dict(reversed(list(latest.items())))  # modules in the order they first appear at the end


def prometheus_text(summary: RunSummary, latest: Mapping[str, Mapping[str, Any]]) -> str:
    """The exposition of a finished (or cut short) run. `latest`: module -> metric -> value."""
    state = PromState(
        verdict=summary.verdict.value,
        modules={m: v.value for m, v in summary.modules.items()},
        counts=dict(summary.counts),
        duration_s=summary.duration_s,
        complete=summary.complete,
        phase="done",
        started_t=summary.run_start.get("t"),
        info=_info(summary.run_start),
        latest=latest,
        planned_s=_planned_s(summary.run_start),
    )
    return render(state)


def _planned_s(run_start: Mapping[str, Any]) -> float | None:
    profile = run_start.get("profile") or {}
    planned = profile.get("duration_s") if isinstance(profile, Mapping) else None
    if run_start.get("mode") != "run" or isinstance(planned, bool) or not isinstance(planned, (int, float)):
        return None
    return float(planned) if planned > 0 and math.isfinite(planned) else None


class PromFileWriter:
    """A reporter for the runner: keeps FILE current during a run, at most every `interval_s` seconds.

    Call it like any Reporter (run_started, phase_started, sample, finding, module_ended, tick, stopping,
    close); after the run, `finish(summary)` writes the final verdict. Each write replaces FILE atomically,
    so a scraper never reads half a file. A failed write (disk full, directory gone) never stops the run:
    it is remembered in `last_error` and tried again at the next interval.
    """

    def __init__(self, path: str | Path, interval_s: float = DEFAULT_INTERVAL_S, clock=time.monotonic):
        self.path = Path(path)
        self.interval_s = interval_s
        self._clock = clock
        self._last_write: float | None = None
        self._dirty = False
        self._finished = False
        self._run_start: dict[str, Any] = {}
        self._required: tuple[str, ...] = ()
        self._started_wall = time.time()
        self._started = clock()
        self._phase: str | None = None
        self._modules: dict[str, str] = {}
        self._counts = {s.value: 0 for s in Severity}
        self._stopping = False
        self.latest: dict[str, dict[str, Any]] = {}
        self.last_error: str | None = None
        self.writes = 0

    # -- Reporter protocol ---------------------------------------------------------------------
    def run_started(self, run) -> None:
        self._started_wall, self._started = time.time(), self._clock()
        self._run_start = {"run_id": run.run_id, "mode": run.mode, "host": dict(run.host),
                           "profile": {"name": run.profile.name,
                                       "duration_s": getattr(run.profile, "duration_s", None)},
                           "burnin_version": __version__}
        self._required = tuple(getattr(run.profile, "required", ()) or ())
        self._modules = {m: RUNNING for m in run.modules}
        self._write()

    def phase_started(self, phase: str, seconds: float, modules: Sequence[str]) -> None:
        self._phase = phase
        self._dirty = True
        self.tick()

    def sample(self, module: str, metrics: dict[str, float]) -> None:
        self.latest[module] = dict(metrics)
        self._dirty = True

    def finding(self, finding: Finding) -> None:
        self._counts[finding.severity.value] = self._counts.get(finding.severity.value, 0) + 1
        self._dirty = True

    def module_ended(self, module: str, verdict: Verdict, reason: str) -> None:
        self._modules[module] = verdict.value
        self._dirty = True

    def tick(self) -> None:
        if self._dirty and self._due():
            self._write()

    def stopping(self, why: str) -> None:
        self._stopping = True
        self._dirty = True

    def close(self) -> None:
        """The last write if `finish()` was not called: the verdict folded from the modules' verdicts."""
        if self._finished:
            return
        modules = {m: Verdict(v) for m, v in self._modules.items() if v != RUNNING}
        complete = not self._stopping and len(modules) == len(self._modules)
        verdict, _ = fold_run(modules, self._required, complete)
        self._phase = "done"
        self._write(verdict=verdict.value, complete=complete)

    # -- after the run -------------------------------------------------------------------------
    def finish(self, summary: RunSummary) -> None:
        """The final file: the run's own verdict and counts, with the latest samples seen."""
        self._finished = True
        self._put(prometheus_text(summary, self.latest))

    # -- writing -------------------------------------------------------------------------------
    def _due(self) -> bool:
        return self._last_write is None or self._clock() - self._last_write >= self.interval_s

    def state(self, verdict: str = RUNNING, complete: bool = False) -> PromState:
        return PromState(verdict=verdict, modules=dict(self._modules), counts=dict(self._counts),
                         duration_s=self._clock() - self._started, complete=complete, phase=self._phase,
                         started_t=self._started_wall, info=_info(self._run_start), latest=self.latest,
                         planned_s=_planned_s(self._run_start))

    def _write(self, verdict: str = RUNNING, complete: bool = False) -> None:
        self._put(render(self.state(verdict, complete)))

    def _put(self, text: str) -> None:
        self._last_write = self._clock()
        self._dirty = False
        try:
            write_atomically(self.path, text)
            self.writes += 1
            self.last_error = None
        except OSError as exc:
            self.last_error = f"cannot write {self.path}: {exc.strerror or exc}"
