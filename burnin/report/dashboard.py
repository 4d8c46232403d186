"""The live dashboard for a terminal: each module's state and figures, time left, findings as they come.

Drawn with rich in ASCII boxes and at most 80 columns, so it works on the Linux text console (80x25, no
Unicode line glyphs) and over a serial or IPMI console. Used only when stderr is a terminal and neither
--plain nor the profile asks for plain lines.
"""

from __future__ import annotations

import statistics
import time
from typing import Sequence

from burnin.model import Finding, Severity, Verdict
from burnin.profile import format_duration
from burnin.report.terminal import field

_MAX_FINDINGS_SHOWN = 8
_STATE_STYLE = {
    "PASS": "bold green", "WARN": "bold yellow", "FAIL": "bold white on red", "ERROR": "bold magenta",
    "SKIP": "dim", "INCOMPLETE": "bold magenta",
}


def headline(metrics: dict[str, float]) -> str:
    """A few numbers that say most about a module's latest sample, by the unit in the metric names."""
    groups: dict[str, list[float]] = {}
    for name, value in metrics.items():
        groups.setdefault(name.split(":", 1)[0], []).append(value)
    parts = []
    if "temp_c" in groups:
        parts.append(f"max {max(groups.pop('temp_c')):.0f} C")
    if "fan_rpm" in groups:
        parts.append(f"fans >= {min(groups.pop('fan_rpm')):.0f} rpm")
    if "busy_pct" in groups:
        parts.append(f"busy {statistics.fmean(groups.pop('busy_pct')):.0f}%")
    if "freq_mhz" in groups:
        parts.append(f"{statistics.fmean(groups.pop('freq_mhz')):.0f} MHz")
    for unit, values in sorted(groups.items()):
        if len(parts) >= 3:
            break
        parts.append(f"{unit} {values[0]:g}" if len(values) == 1 else f"{unit} {min(values):g}..{max(values):g}")
    return ", ".join(parts)


class DashboardReporter:
    def __init__(self, console=None):
        from rich.console import Console
        from rich.live import Live

        self.console = console or Console(stderr=True, width=min(80, Console(stderr=True).width), safe_box=True)
        self._live = Live(console=self.console, refresh_per_second=2, transient=False, auto_refresh=False)
        self._started = time.monotonic()
        self._phase = "starting"
        self._phase_end: float | None = None
        self._phase_len = 0.0
        self._title = "burnin"
        self._states: dict[str, str] = {}
        self._figures: dict[str, str] = {}
        self._findings: list[Finding] = []
        self._counts = {s: 0 for s in Severity}
        self._last_draw = 0.0
        self._stopping = ""

    # -- Reporter protocol ---------------------------------------------------------------------
    def run_started(self, run) -> None:
        host = run.host
        machine = " ".join(str(host[k]) for k in ("system_vendor", "system_product") if host.get(k))
        self._title = (f"burnin {run.mode} - profile {run.profile.name} - "
                       f"{machine or host.get('hostname') or 'unknown machine'}")
        self._states = {m: "waiting" for m in run.modules}
        self._journal = run.journal
        self._live.start()
        self._draw(force=True)

    def phase_started(self, phase: str, seconds: float, modules: Sequence[str]) -> None:
        self._phase = {"check": "preflight checks", "run": "stress and monitor", "finish": "final checks"}[phase]
        self._phase_end = time.monotonic() + seconds
        self._phase_len = seconds
        for module in modules:
            self._states[module] = {"check": "checking", "run": "running", "finish": "finishing"}[phase]
        self._draw(force=True)

    def sample(self, module: str, metrics: dict[str, float]) -> None:
        self._figures[module] = headline(metrics)

    def finding(self, finding: Finding) -> None:
        self._counts[finding.severity] += 1
        if finding.severity is not Severity.INFO:
            self._findings.append(finding)
        self._draw(force=finding.severity is Severity.FAIL)

    def module_ended(self, module: str, verdict: Verdict, reason: str) -> None:
        self._states[module] = verdict.value
        if verdict is not Verdict.PASS and reason:
            self._figures[module] = reason
        self._draw(force=True)

    def stopping(self, why: str) -> None:
        self._stopping = why
        self._draw(force=True)

    def tick(self) -> None:
        self._draw()

    def close(self) -> None:
        self._draw(force=True)
        self._live.stop()

    # -- drawing -------------------------------------------------------------------------------
    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < 0.5:
            return
        self._last_draw = now
        self._live.update(self._render(), refresh=True)

    def _render(self):
        from rich import box
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        elapsed = time.monotonic() - self._started
        head = Text(field(self._title, 78), style="bold")
        progress = Text(f"{self._phase}  elapsed {format_duration(elapsed)}")
        if self._phase_end is not None:
            left = max(0.0, self._phase_end - time.monotonic())
            done = 1.0 - (left / self._phase_len if self._phase_len else 0.0)
            bar_width = 30
            filled = int(bar_width * max(0.0, min(1.0, done)))
            progress.append(f"  left {format_duration(left)}  [" + "#" * filled + "." * (bar_width - filled) + "]")
        table = Table(box=box.ASCII, expand=True, show_edge=True, pad_edge=False)
        table.add_column("module", no_wrap=True, min_width=12)
        table.add_column("state", no_wrap=True, min_width=10)
        table.add_column("now", overflow="ellipsis", no_wrap=True)
        for module, state in self._states.items():
            table.add_row(Text(field(module, 40)), Text(field(state, 20), style=_STATE_STYLE.get(state, "")),
                          Text(field(self._figures.get(module, ""))))
        counts = Text(f"findings: {self._counts[Severity.FAIL]} FAIL, {self._counts[Severity.WARN]} WARN",
                      style="bold red" if self._counts[Severity.FAIL] else "")
        lines = []
        for finding in self._findings[-_MAX_FINDINGS_SHOWN:]:
            style = "bold red" if finding.severity is Severity.FAIL else "yellow"
            label = "FAIL" if finding.severity is Severity.FAIL else "WARN"
            lines.append(Text(field(f"{label} {finding.component}: {finding.message}", 78), style=style))
        parts = [head, progress, table, counts, *lines]
        if self._stopping:
            parts.append(Text(field(self._stopping), style="bold"))
        return Group(*parts)
