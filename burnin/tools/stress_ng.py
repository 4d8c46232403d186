"""stress-ng: the argv of a CPU run and a parser of what it printed and how it exited. Never judges.

stress-ng writes its log to stderr, one line per message: ``stress-ng: <level>: [<pid>] <text>`` where level is
info, warn, fail, error, debug or metrc (newer versions may put a ``HH:MM:SS.ss`` timestamp before the level).
What the parser relies on, seen in real output of stress-ng 0.15.06 (tests/data/stress-ng/):

- ``fail:`` lines are stressor failures: with ``--verify`` a stressor that computed a wrong answer prints one
  (``cpu: fibonacci error detected, summation or assignment failure``); a stressor that died leaves
  ``corrupted bogo-ops counter`` / ``metrics-check`` lines (metrics-integrity failures, listed apart).
- with ``-v``: ``process [PID] (cpu) terminated on signal: 11 (Segmentation fault)`` names a stressor that was
  killed; 0.15 still exits 2 in that case, not 5.
- ``stressor will be skipped`` / ``skipping stressor`` / ``No stress workers invoked (one or more were unsupported)``:
  nothing (or less) ran, which stress-ng may still report with exit code 0.
- ``successful run completed`` / ``unsuccessful run completed``; newer versions add ``passed: N``,
  ``failed: N: cpu (N)``, ``skipped: N`` summary lines.

Exit codes are the closed set documented in stress-ng(1), EXIT STATUS (see `EXIT_CODES`).
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from burnin.load import Ended, Program

# stress-ng(1), EXIT STATUS (0.15.06). name, meaning.
EXIT_CODES: Mapping[int, tuple[str, str]] = {
    0: ("success", "Success."),
    1: ("error", "Error; incorrect user options or a fatal resource issue in the stress-ng stressor harness."),
    2: ("stressor-failed", "One or more stressors failed."),
    3: ("no-resources", "One or more stressors failed to initialise because of lack of resources."),
    4: ("not-implemented", "One or more stressors were not implemented on this architecture or operating system."),
    5: ("killed-by-signal", "A stressor has been killed by an unexpected signal."),
    6: ("unexpected-exit",
        "A stressor exited by exit(2) which was not expected and timing metrics could not be gathered."),
    7: ("metrics-untrustworthy", "The bogo ops metrics may be untrustworthy."),
}

_LINE = re.compile(
    r"^stress-ng:\s+(?:\d{2}:\d{2}:\d{2}(?:\.\d+)?\s+)?(?P<level>[a-z]+):\s*\[(?P<pid>\d+)\]\s?(?P<text>.*)$"
)
_DEATH = re.compile(
    r"process \[(?P<pid>\d+)\] \((?P<stressor>[^)]*)\) terminated on signal:? (?P<sig>\d+)(?: \((?P<name>[^)]*)\))?"
)
_METRC = re.compile(
    r"^(?P<stressor>[a-z0-9][\w-]*)\s+(?P<ops>\d+)\s+(?P<real>[\d.]+)\s+(?P<usr>[\d.]+)\s+(?P<sys>[\d.]+)"
    r"\s+(?P<rate_real>[\d.]+)\s+(?P<rate_cpu>[\d.]+)"
)
_SUMMARY = re.compile(r"^(?P<key>passed|failed|skipped|metrics untrustworthy): (?P<count>\d+)")
_METRICS_INTEGRITY = ("bogo-ops counter", "metrics-check", "metrics corrupted")
_SKIP_MARKS = ("will be skipped", "skipping stressor", "one or more were unsupported", "not implemented")


def cpu_argv(
    cpus: Sequence[int],
    timeout_s: int,
    yaml_path: str,
    temp_path: str,
    method: str = "all",
    program: str = "stress-ng",
) -> list[str]:
    """One CPU stressor per listed CPU, bound to those CPUs, results verified, metrics to `yaml_path`.

    `-v` makes stress-ng name a stressor that died on a signal; without it that is invisible in 0.15.
    """
    return [
        program,
        "--cpu", str(len(cpus)),
        "--cpu-method", method,
        "--verify",
        "--taskset", ",".join(str(c) for c in cpus),
        "--timeout", f"{max(1, int(timeout_s))}s",
        "--metrics-brief",
        "--yaml", yaml_path,
        "--temp-path", temp_path,
        "-v",
    ]


def cpu_program(cpu: int, timeout_s: int, program: str = "stress-ng") -> Program:
    """stress-ng's verified CPU stressor on one CPU, as a load: its log is stderr, its metrics a YAML file in
    the run's scratch directory; the end parses into an `Outcome`."""
    return Program(
        f"stress-ng cpu{cpu}",
        lambda scratch: cpu_argv([cpu], timeout_s, f"{scratch}/metrics.yaml", scratch, program=program),
        parse=lambda end: parse_ended(end, "metrics.yaml"),
    )


def parse_ended(end: Ended, yaml_name: str | None = None) -> "Outcome":
    """The outcome of a stress-ng run from how it ended (`burnin.load.Ended`)."""
    return parse_outcome(end.returncode, end.stderr, yaml_text=end.read(yaml_name) if yaml_name else None)


@dataclass(frozen=True)
class LogLine:
    level: str  # info, warn, fail, error, debug, metrc
    pid: int
    text: str


@dataclass(frozen=True)
class StressorDeath:
    pid: int
    stressor: str
    signal: int
    signal_name: str


@dataclass(frozen=True)
class StressorMetrics:
    stressor: str
    bogo_ops: int
    real_time_s: float | None = None
    usr_time_s: float | None = None
    sys_time_s: float | None = None


@dataclass(frozen=True)
class Outcome:
    """What one stress-ng invocation did, as stress-ng itself told it."""

    returncode: int | None  # None: never ran or no exit status; negative: ended by that signal
    status: str  # an EXIT_CODES name, "signalled", "not-run" or "unknown-exit"
    meaning: str
    fail_lines: tuple[str, ...] = ()  # every "fail:" message text
    verification_failures: tuple[str, ...] = ()  # fail lines that are not about bogo-op metrics integrity
    metrics_failures: tuple[str, ...] = ()
    error_lines: tuple[str, ...] = ()
    warn_lines: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()  # messages saying a stressor did not run (unsupported, not implemented, no resources)
    deaths: tuple[StressorDeath, ...] = ()
    metrics: tuple[StressorMetrics, ...] = ()
    summary: Mapping[str, int] = field(default_factory=dict)  # newer versions: passed/failed/skipped counts
    completed: bool = False  # a "... run completed" line was printed
    workers_invoked: bool = True  # False after "No stress workers invoked"

    @property
    def bogo_ops(self) -> int:
        return sum(m.bogo_ops for m in self.metrics)

    def to_record(self) -> dict:
        return {
            "returncode": self.returncode,
            "status": self.status,
            "meaning": self.meaning,
            "fail_lines": list(self.fail_lines[:20]),
            "error_lines": list(self.error_lines[:10]),
            "skipped": list(self.skipped[:10]),
            "deaths": [d.__dict__ for d in self.deaths],
            "bogo_ops": self.bogo_ops,
            "completed": self.completed,
            "workers_invoked": self.workers_invoked,
        }


def exit_status(returncode: int | None) -> tuple[str, str]:
    """The documented name and meaning of an exit code."""
    if returncode is None:
        return "not-run", "stress-ng did not run or its exit status is unknown."
    if returncode < 0:
        sig = -returncode
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return "signalled", f"stress-ng itself was ended by {name}."
    if returncode in EXIT_CODES:
        return EXIT_CODES[returncode]
    return "unknown-exit", f"Exit code {returncode} is not documented by stress-ng."


def parse_log(text: str) -> list[LogLine]:
    lines = []
    for raw in text.splitlines():
        m = _LINE.match(raw.rstrip())
        if m:
            lines.append(LogLine(m["level"], int(m["pid"]), m["text"].strip()))
    return lines


def parse_metrics_brief(lines: Sequence[LogLine]) -> tuple[StressorMetrics, ...]:
    found = []
    for line in lines:
        if line.level != "metrc":
            continue
        m = _METRC.match(line.text)
        if m and m["stressor"] != "stressor":
            found.append(StressorMetrics(
                m["stressor"], int(m["ops"]), float(m["real"]), float(m["usr"]), float(m["sys"])))
    return tuple(found)


def parse_yaml_metrics(text: str) -> tuple[StressorMetrics, ...]:
    """The ``metrics:`` list of a ``--yaml`` file (a fixed, flat layout; read without a YAML library)."""
    found: list[StressorMetrics] = []
    current: dict[str, str] | None = None
    in_metrics = False

    def flush() -> None:
        if current and "stressor" in current and "bogo-ops" in current:
            found.append(StressorMetrics(
                current["stressor"], int(float(current["bogo-ops"])),
                _float(current.get("wall-clock-time")), _float(current.get("user-time")),
                _float(current.get("system-time")),
            ))

    for raw in text.splitlines():
        stripped = raw.strip()
        if not raw.startswith(" ") and stripped:
            if in_metrics:
                flush()
                current = None
            in_metrics = stripped == "metrics:"
            continue
        if not in_metrics or not stripped:
            continue
        if stripped.startswith("- "):
            flush()
            current = {}
            stripped = stripped[2:]
        if current is not None and ":" in stripped:
            key, _, value = stripped.partition(":")
            current[key.strip()] = value.strip().strip("'\"")
    if in_metrics:
        flush()
    return tuple(found)


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def parse_outcome(returncode: int | None, stderr: str, stdout: str = "", yaml_text: str | None = None) -> Outcome:
    """Everything stress-ng said about one run: its exit status and the lines that explain it."""
    status, meaning = exit_status(returncode)
    lines = parse_log(stderr + "\n" + stdout)
    fails = tuple(ln.text for ln in lines if ln.level == "fail")
    integrity = tuple(t for t in fails if any(mark in t for mark in _METRICS_INTEGRITY))
    deaths = []
    for ln in lines:
        m = _DEATH.search(ln.text)
        if m:
            sig = int(m["sig"])
            deaths.append(StressorDeath(int(m["pid"]), m["stressor"], sig, m["name"] or _signal_name(sig)))
    summary: dict[str, int] = {}
    for ln in lines:
        m = _SUMMARY.match(ln.text)
        if m and ln.level == "info":
            summary[m["key"]] = int(m["count"])
    texts = [ln.text for ln in lines]
    metrics = parse_yaml_metrics(yaml_text) if yaml_text else ()
    return Outcome(
        returncode=returncode,
        status=status,
        meaning=meaning,
        fail_lines=fails,
        verification_failures=tuple(t for t in fails if t not in integrity),
        metrics_failures=integrity,
        error_lines=tuple(ln.text for ln in lines if ln.level == "error"),
        warn_lines=tuple(ln.text for ln in lines if ln.level == "warn"),
        skipped=tuple(t for t in texts if any(mark in t.lower() for mark in _SKIP_MARKS)
                      or "out of system resources" in t),
        deaths=tuple(deaths),
        metrics=metrics or parse_metrics_brief(lines),
        summary=summary,
        completed=any("run completed" in t for t in texts),
        workers_invoked=not any(t.startswith("No stress workers invoked") for t in texts),
    )


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"
