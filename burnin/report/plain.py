"""Plain progress lines for a serial console, a log file or CI: timestamped, one every few seconds at most,
plus every finding and every module's end as it happens."""

from __future__ import annotations

import sys
import time
from typing import Sequence, TextIO

from burnin.model import Finding, Severity, Verdict
from burnin.profile import format_duration
from burnin.report.terminal import field

_PROGRESS_EVERY_S = 10.0


class PlainReporter:
    def __init__(self, stream: TextIO | None = None, quiet: bool = False):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.started = time.monotonic()
        self._phase = ""
        self._phase_end = 0.0
        self._last_progress = 0.0
        self._latest: dict[str, dict[str, float]] = {}
        self._counts = {s: 0 for s in Severity}

    def _say(self, text: str) -> None:
        if self.quiet:
            return
        elapsed = time.monotonic() - self.started
        stamp = time.strftime("%H:%M:%S")
        # One line each: a hardware string's controls and newlines are shown, not obeyed.
        print(f"{stamp} +{format_duration(elapsed):>6} {field(text, 4000)}", file=self.stream, flush=True)

    def run_started(self, run) -> None:
        host = run.host
        machine = " ".join(str(host[k]) for k in ("system_vendor", "system_product") if host.get(k))
        self._say(f"burnin {run.mode}: profile {run.profile.name}, "
                  f"{format_duration(run.profile.duration_s) if run.mode == 'run' else 'no stress phase'}, "
                  f"modules {', '.join(run.modules) or '(none)'}")
        self._say(f"machine: {field(machine or host.get('hostname') or host.get('sysroot') or 'unknown')}; "
                  f"journal: {run.journal}")

    def phase_started(self, phase: str, seconds: float, modules: Sequence[str]) -> None:
        names = {"check": "preflight checks", "run": "stress and monitor", "finish": "final checks"}
        self._phase = names.get(phase, phase)
        self._phase_end = time.monotonic() + seconds
        self._say(f"== {self._phase} ({', '.join(modules)})" +
                  (f" for {format_duration(seconds)}" if phase == "run" else ""))
        self._last_progress = time.monotonic()

    def sample(self, module: str, metrics: dict[str, float]) -> None:
        self._latest[module] = metrics

    def finding(self, finding: Finding) -> None:
        self._counts[finding.severity] += 1
        label = {Severity.FAIL: "FAIL", Severity.WARN: "WARN", Severity.INFO: "info"}[finding.severity]
        self._say(f"{label} {finding.module}: {finding.component}: {finding.message}")

    def module_ended(self, module: str, verdict: Verdict, reason: str) -> None:
        self._say(f"{module}: {verdict.value}" + (f" - {reason}" if reason else ""))

    def stopping(self, why: str) -> None:
        self._say(why)

    def close(self) -> None:
        pass

    def tick(self) -> None:
        now = time.monotonic()
        if now - self._last_progress < _PROGRESS_EVERY_S or not self._phase:
            return
        self._last_progress = now
        left = max(0.0, self._phase_end - now)
        self._say(f"{self._phase}: {format_duration(left)} left; findings: "
                  f"{self._counts[Severity.FAIL]} fail, {self._counts[Severity.WARN]} warn")
