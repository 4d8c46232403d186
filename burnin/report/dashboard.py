"""The live dashboard for a terminal: each module's state and figures, the whole run's time, findings as they come.

One complete frame sized to the terminal (80x25 at least; wider and taller terminals get longer lines and more
findings), drawn with rich. On the Linux text console, TERM=dumb and serial consoles the frame is pure ASCII:
"+-|" for the box and "..." for a cut line (the console font draws Unicode's "…" as a block). Figures are in words
with their units, from the one metric catalogue (burnin.report.metrics). Used only when stderr is a terminal and
neither --plain nor the profile asks for plain lines.
"""

from __future__ import annotations

import os
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from typing import Sequence

from burnin.model import Finding, Severity, Verdict
from burnin.profile import format_duration
from burnin.report import metrics as catalogue
from burnin.report.terminal import field as escaped

MIN_WIDTH, MIN_HEIGHT = 80, 25
_STATE_WIDTH = 10  # "INCOMPLETE", "finishing"
_NAME_MAX = 24  # a module name column never wider than this (longer names are cut)
_STATE_STYLE = {
    "PASS": "bold green", "WARN": "bold yellow", "FAIL": "bold white on red", "ERROR": "bold magenta",
    "SKIP": "dim", "INCOMPLETE": "bold magenta", "running": "cyan", "watching": "cyan",
}
_PHASES = {"check": "preflight checks", "run": "stress and monitor", "finish": "final checks"}
_ASCII_TERMS = ("linux", "dumb", "vt100", "vt102", "vt220", "ansi", "cons25")


def headline(metrics: dict[str, float], ascii_only: bool = False) -> str:
    """A module's latest sample in a few words with units ("hottest 71 °C, slowest fan 900 RPM")."""
    return ", ".join(catalogue.figures(metrics, ascii_only))


def ascii_terminal(term: str | None = None, encoding: str | None = None) -> bool:
    """Whether to draw with ASCII only: the Linux text console, dumb and serial terminals, a non-UTF-8 locale."""
    term = os.environ.get("TERM", "") if term is None else term
    encoding = (encoding if encoding is not None else getattr(sys.stderr, "encoding", "") or "").lower()
    return term in _ASCII_TERMS or term.startswith(("vt", "linux")) or "utf" not in encoding


@dataclass
class Glyphs:
    corner: str
    horizontal: str
    vertical: str
    ellipsis: str
    fill: str
    empty: str


ASCII = Glyphs("+", "-", "|", "...", "#", ".")
UNICODE = Glyphs("+", "-", "|", "…", "█", "░")  # the same box: it survives every font and copy-paste


def fit(text: str, width: int, glyphs: Glyphs = ASCII) -> str:
    """`text` on one line of exactly `width` columns: control characters shown escaped (`\\x1b`; any other
    unprintable one as '?'), cut with an ellipsis."""
    shown = escaped(text, 4 * width + 16)
    clean = "".join("?" if unicodedata.category(ch)[0] == "C" else ch for ch in shown)
    if glyphs is ASCII:
        clean = "".join(ch if ord(ch) < 128 else "?" for ch in clean)
    if len(clean) > width:
        cut = max(0, width - len(glyphs.ellipsis))
        clean = clean[:cut] + glyphs.ellipsis[: width - cut]
    return clean.ljust(width)


@dataclass
class State:
    """What the dashboard shows; the reporter fills it, `frame` draws it (a pure function, tested alone)."""

    title: str = "burnin"
    phase: str = "starting"
    started: float = field(default_factory=time.time)  # wall clock, for the end time
    run_end: float | None = None  # wall clock: when the whole run is expected to end
    end_is_limit: bool = False  # run_end is an upper bound ("by") rather than an estimate ("~")
    finished: float | None = None
    modules: dict[str, str] = field(default_factory=dict)  # name -> state
    figures: dict[str, str] = field(default_factory=dict)
    findings: list[tuple[float, Finding]] = field(default_factory=list)  # (wall clock, finding)
    counts: dict[Severity, int] = field(default_factory=lambda: {s: 0 for s in Severity})
    stopping: str = ""
    before_boot: tuple[str, str] | None = None  # (style, the history module's summary): what happened before


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


def _zone(t: float) -> str:
    return time.strftime("%Z", time.localtime(t)) or "local time"


def frame(state: State, width: int, height: int, glyphs: Glyphs, now: float | None = None
          ) -> list[tuple[str, list[tuple[int, int, str]]]]:
    """The dashboard as lines of exactly `width` columns, at most `height - 1` of them (the cursor's line stays
    free), each with its style spans (start, end, style)."""
    now = time.time() if now is None else now
    width = max(40, width)
    inner = width - 4  # "| " + text + " |"
    v, h, c = glyphs.vertical, glyphs.horizontal, glyphs.corner
    lines: list[tuple[str, list[tuple[int, int, str]]]] = []

    def rule(label: str = "") -> None:
        text = f"{c}{h * 2} {fit(label, min(len(label), width - 8), glyphs).rstrip()} " if label else c
        lines.append((text + h * (width - len(text) - 1) + c, [(4, 4 + len(label), "bold")] if label else []))

    def row(text: str, style: str = "", spans: Sequence[tuple[int, int, str]] = ()) -> None:
        body = fit(text, inner, glyphs)
        own = [(2, 2 + inner, style)] if style else []
        lines.append((f"{v} {body} {v}", own + [(2 + a, 2 + b, s) for a, b, s in spans]))

    rule(state.title)
    elapsed = (state.finished or now) - state.started
    if state.finished is not None:
        row(f"finished at {_clock(state.finished)} {_zone(state.finished)}, after {format_duration(elapsed)}", "bold")
    else:
        timing = f"{state.phase}   elapsed {format_duration(elapsed)}"
        if state.run_end is not None:
            left = max(0.0, state.run_end - now)
            timing += (f"   left {'at most ' if state.end_is_limit else '~'}{format_duration(left)}"
                       f"   ends {'by ' if state.end_is_limit else '~'}{_clock(state.run_end)} {_zone(state.run_end)}")
        row(timing)
        if state.run_end is not None:
            total = max(1e-9, state.run_end - state.started)
            done = max(0.0, min(1.0, elapsed / total))
            bar = max(10, inner - 8)
            filled = int(bar * done)
            row(f"[{glyphs.fill * filled}{glyphs.empty * (bar - filled)}] {done * 100:3.0f} %")
    if state.stopping:
        row(state.stopping, "bold")
    if state.before_boot:
        row(f"before this boot: {state.before_boot[1]}", state.before_boot[0])

    name_width = min(_NAME_MAX, max([6] + [len(n) for n in state.modules]), inner // 3)
    figures_width = inner - name_width - _STATE_WIDTH - 6
    separator = f"{c}{h * (name_width + 2)}{c}{h * (_STATE_WIDTH + 2)}{c}{h * (figures_width + 2)}{c}"
    lines.append((separator, []))

    def table_row(name: str, status: str, figures: str) -> None:
        text = (f"{v} {fit(name, name_width, glyphs)} {v} {fit(status, _STATE_WIDTH, glyphs)} {v} "
                f"{fit(figures, figures_width, glyphs)} {v}")
        at = name_width + 5
        lines.append((text, [(at, at + len(status), _STATE_STYLE.get(status, ""))]))

    table_row("module", "state", "now")
    lines.append((separator, []))
    # Room for the findings: at least three lines below the table (the count and two findings).
    budget = height - 1 - len(lines) - 1 - 4
    names = list(state.modules)
    shown = names if len(names) <= budget else names[: max(1, budget - 1)]
    for name in shown:
        table_row(name, state.modules[name], state.figures.get(name, ""))
    if len(shown) < len(names):
        rest = names[len(shown):]
        worst = [n for n in rest if state.modules[n] in ("FAIL", "ERROR", "WARN")]
        table_row(f"+{len(rest)} more", "", ", ".join(f"{n} {state.modules[n]}" for n in worst) or ", ".join(rest))
    lines.append((separator, []))
    fails, warns = state.counts[Severity.FAIL], state.counts[Severity.WARN]
    row(f"findings: {fails} FAIL, {warns} WARN" + ("   (newest first)" if state.findings else ""),
        "bold red" if fails else "")
    room = max(0, height - 2 - len(lines))
    for t, finding in reversed(state.findings[-room:] if room else []):
        label = "FAIL" if finding.severity is Severity.FAIL else "WARN"
        row(f"{_clock(t)} {label} {finding.component}: {finding.message}",
            "bold red" if finding.severity is Severity.FAIL else "yellow")
    rule()
    return lines


class DashboardReporter:
    def __init__(self, console=None, ascii_only: bool | None = None):
        from rich.console import Console
        from rich.live import Live

        self.console = console or Console(stderr=True, safe_box=True, highlight=False)
        self.glyphs = ASCII if (ascii_terminal() if ascii_only is None else ascii_only) else UNICODE
        self._live = Live(console=self.console, refresh_per_second=2, transient=False, auto_refresh=False,
                          vertical_overflow="crop")
        self.state = State()
        self._latest: dict[str, dict[str, float]] = {}
        self._stress: set[str] = set()
        self._duration_s = 0.0
        self._mode = "run"
        self._last_draw = 0.0

    # -- Reporter protocol ---------------------------------------------------------------------
    def run_started(self, run) -> None:
        host = run.host
        machine = " ".join(str(host[k]) for k in ("system_vendor", "system_product") if host.get(k))
        self.state.title = (f"burnin {run.mode} - profile {run.profile.name} - "
                            f"{machine or host.get('hostname') or 'unknown machine'}")
        self.state.modules = {m: "waiting" for m in run.modules}
        self._stress = set(getattr(run, "stress", ()) or ())
        self._mode = run.mode
        self._duration_s = float(run.profile.duration_s) if run.mode == "run" and not host.get("sysroot") else 0.0
        self._live.start()
        self._draw(force=True)

    def phase_started(self, phase: str, seconds: float, modules: Sequence[str]) -> None:
        now = time.time()
        self.state.phase = _PHASES.get(phase, phase)
        if phase == "check" and self._duration_s:
            self.state.run_end, self.state.end_is_limit = now + self._duration_s, False  # checks take seconds
        else:
            self.state.run_end, self.state.end_is_limit = now + seconds, phase != "run"
        for module in self.state.modules:
            if self.state.modules[module] in {v.value for v in Verdict}:
                continue
            if module in modules:
                self.state.modules[module] = {"check": "checking", "finish": "finishing"}.get(
                    phase, "running" if module in self._stress else "watching")
            else:
                self.state.modules[module] = "waiting"
        self._draw(force=True)

    def sample(self, module: str, metrics: dict[str, float]) -> None:
        latest = self._latest.setdefault(module, {})
        latest.update(metrics)
        if self.state.modules.get(module) not in {v.value for v in Verdict if v is not Verdict.PASS}:
            self.state.figures[module] = headline(latest, self.glyphs is ASCII)

    def finding(self, finding: Finding) -> None:
        self.state.counts[finding.severity] += 1
        if finding.code == "history-summary":
            worst = finding.evidence.get("worst")
            self.state.before_boot = ({"fail": "bold red", "warn": "yellow"}.get(worst, ""), finding.message)
        if finding.severity is not Severity.INFO:
            self.state.findings.append((time.time(), finding))
        self._draw(force=finding.severity is Severity.FAIL)

    def module_ended(self, module: str, verdict: Verdict, reason: str) -> None:
        self.state.modules[module] = verdict.value
        if verdict is not Verdict.PASS and reason:
            self.state.figures[module] = reason
        self._draw(force=True)

    def stopping(self, why: str) -> None:
        self.state.stopping = why
        self._draw(force=True)

    def tick(self) -> None:
        self._draw()

    def close(self) -> None:
        """The last frame is the final state: every module's verdict, the run finished at a time (never a
        frame frozen mid-phase with a countdown)."""
        self.state.finished = time.time()
        self.state.stopping = ""
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
        from rich.console import Group
        from rich.text import Text

        width, height = self.console.size
        out = []
        for text, spans in frame(self.state, max(40, width), max(12, height), self.glyphs):
            line = Text(text, no_wrap=True, overflow="crop", end="\n")
            for start, end, style in spans:
                if style and end > start:
                    line.stylize(style, start, end)
            out.append(line)
        return Group(*out)
