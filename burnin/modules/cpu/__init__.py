"""CPU: every logical CPU computes known answers at full load; clock, throttling and machine checks are watched.

Engines (setting `engines`):
- ``builtin``: one worker process per logical CPU, pinned to it (`os.sched_setaffinity`), rotating through
  kernels that exercise different units (`kernels`: sha256, blake2b, integer, float, zlib, lzma, bignum; see
  `cpu_kernels`). Each result is compared with the answer the module process computed once at the start
  (golden values). On a mismatch the worker repeats that kernel with the same input `retest_count` times on the
  same CPU and reports how often the wrong answer came back.
- ``stress-ng`` (where installed): one ``stress-ng --cpu 1 --cpu-method all --verify --taskset N`` per CPU, so a
  failure names its CPU; outcome parsed by `burnin.tools.stress_ng`.
With both engines the run phase ALTERNATES between them in slices of `engine_slice_s`, in the order of
`engines` (default: built-in first); a run shorter than one slice per engine is split evenly between them. Every
slice loads all CPUs at once; a slice that ends early (stress-ng failed to start) hands its time to the next.

check() (preflight, ~1-2 s): every kernel once on every CPU, pinned, against the golden values.

Watched during run(): per-CPU busy fraction (/proc/stat), per-CPU clock (cpufreq scaling_cur_freq), thermal
throttle counters, and machine-check counters in /proc/interrupts (MCE, DFR, THR lines).

FAIL: a CPU computed a wrong result (`cpu-wrong-result`, evidence: kernel, expected, actual, "reproduced: k of n");
a worker process died under load - signal, exception, out of memory (`cpu-worker-died`; a segfault under stress is
itself a hardware symptom); machine-check exceptions or deferred (uncorrected) errors rose (`machine-check`).
WARN: a CPU was busy less than `min_busy_fraction` of the run (`cpu-underloaded`: the test was weaker than
claimed); the mean clock under load fell below `min_freq_fraction` of the base (or max) clock (`cpu-freq-low`);
thermal throttle counters rose (`cpu-throttled`); corrected-error threshold interrupts rose
(`machine-check-corrected`); CPUs this process may not run on were left untested (`cpu-untested`); stress-ng
could not run properly (`tool-error`: not a hardware fault, and not a pass for that engine - if stress-ng was the
only engine, the phase raises so the runner reports ERROR).
"""

from __future__ import annotations

import math
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import subprocess
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

import psutil

from burnin.host import Host, die_with_parent, format_cpulist, parse_cpulist
from burnin.model import Probe, Severity
from burnin.module import Module, ModuleContext, Skip
from burnin.modules import cpu_kernels
from burnin.tools import stress_ng

ENGINES = ("builtin", "stress-ng")
MAX_RESTARTS_PER_CPU = 3  # a worker that keeps dying is reported each time, then its CPU is left alone
PROGRESS_INTERVAL_S = 0.5  # how often a worker reports its iteration counts
STOP_GRACE_S = 1.5  # workers get this long to finish their current kernel after a stop request
MIN_JUDGED_TICKS = 50  # USER_HZ ticks (0.5 s at 100 Hz) of a CPU below which its busy fraction is not judged
STRESS_NG_OVERRUN_S = 10.0  # how long past its --timeout a stress-ng may run before it is stopped
STRESS_NG_SETTLE_S = 0.5  # stress-ng's own start-up, left out of the measured load window


def _inject_fault(cpu: int, kernel: str, result: str) -> str:
    """Test seam: the result a worker on `cpu` got from `kernel`, unchanged. Tests replace this function to make
    one CPU compute wrong; workers are forked, so the replacement reaches them."""
    return result


# -- records -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CpuTopology:
    cpu: int
    core_id: int | None
    socket_id: int | None

    @property
    def component(self) -> str:
        core = "?" if self.core_id is None else self.core_id
        socket = "?" if self.socket_id is None else self.socket_id
        return f"cpu:{self.cpu} (core {core}, socket {socket})"


@dataclass(frozen=True)
class CpuTimes:
    """One CPU's line of /proc/stat, in USER_HZ ticks."""

    busy: int  # user + nice + system + irq + softirq (guest time is already inside user/nice)
    idle: int  # idle + iowait
    steal: int  # time the hypervisor ran something else: neither our load nor idle

    @property
    def total(self) -> int:
        return self.busy + self.idle


@dataclass(frozen=True)
class BusyFraction:
    cpu: int
    fraction: float | None  # busy / (busy + idle); None when too few ticks passed to judge
    ticks: int
    steal_ticks: int


@dataclass(frozen=True)
class FreqReference:
    khz: int
    source: str  # "base_frequency" | "cpuinfo_max_freq" | "scaling_max_freq"


@dataclass(frozen=True)
class Judgement:
    severity: Severity
    component: str
    code: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)


# -- reading the host ----------------------------------------------------------------------------
def online_cpus(host: Host) -> list[int]:
    cpus = parse_cpulist(host.read_text("/sys/devices/system/cpu/online"))
    if cpus:
        return cpus
    return sorted(int(p.rsplit("cpu", 1)[1]) for p in host.glob("/sys/devices/system/cpu", "cpu[0-9]*"))


def read_topology(host: Host, cpu: int) -> CpuTopology:
    base = f"/sys/devices/system/cpu/cpu{cpu}/topology"
    return CpuTopology(cpu, host.read_int(f"{base}/core_id"), host.read_int(f"{base}/physical_package_id"))


def parse_proc_stat(text: str | None) -> dict[int, CpuTimes]:
    times: dict[int, CpuTimes] = {}
    for line in (text or "").splitlines():
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *fields = line.split()
        try:
            cpu = int(name[3:])
            values = [int(v) for v in fields] + [0] * 8
        except ValueError:
            continue
        user, nice, system, idle, iowait, irq, softirq, steal = values[:8]
        times[cpu] = CpuTimes(busy=user + nice + system + irq + softirq, idle=idle + iowait, steal=steal)
    return times


def busy_fractions(before: Mapping[int, CpuTimes], after: Mapping[int, CpuTimes]) -> dict[int, BusyFraction]:
    """Busy share of each CPU between two /proc/stat readings (steal left out of both sides)."""
    result = {}
    for cpu, end in after.items():
        start = before.get(cpu)
        if start is None:
            continue
        busy = max(0, end.busy - start.busy)
        ticks = busy + max(0, end.idle - start.idle)
        fraction = busy / ticks if ticks >= MIN_JUDGED_TICKS else None
        result[cpu] = BusyFraction(cpu, fraction, ticks, max(0, end.steal - start.steal))
    return result


def add_busy(total: dict[int, list[int]], before: Mapping[int, CpuTimes], after: Mapping[int, CpuTimes]) -> None:
    """Accumulate busy/idle/steal ticks of one loaded interval into `total` (cpu -> [busy, idle, steal])."""
    for cpu, end in after.items():
        start = before.get(cpu)
        if start is None:
            continue
        acc = total.setdefault(cpu, [0, 0, 0])
        acc[0] += max(0, end.busy - start.busy)
        acc[1] += max(0, end.idle - start.idle)
        acc[2] += max(0, end.steal - start.steal)


def fractions_from_totals(total: Mapping[int, Sequence[int]]) -> dict[int, BusyFraction]:
    out = {}
    for cpu, (busy, idle, steal) in total.items():
        ticks = busy + idle
        out[cpu] = BusyFraction(cpu, busy / ticks if ticks >= MIN_JUDGED_TICKS else None, ticks, steal)
    return out


def cpufreq_dir(host: Host, cpu: int) -> str | None:
    for path in (f"/sys/devices/system/cpu/cpu{cpu}/cpufreq", f"/sys/devices/system/cpu/cpufreq/policy{cpu}"):
        if host.is_dir(path):
            return path
    return None


def read_freq_khz(host: Host, cpu: int) -> int | None:
    d = cpufreq_dir(host, cpu)
    if d is None:
        return None
    for name in ("scaling_cur_freq", "cpuinfo_cur_freq"):
        value = host.read_int(f"{d}/{name}")
        if value and value > 0:
            return value
    return None


def read_freq_reference(host: Host, cpu: int) -> FreqReference | None:
    """The clock a loaded CPU should reach: its base clock where the driver says it, else its maximum."""
    d = cpufreq_dir(host, cpu)
    if d is None:
        return None
    for name in ("base_frequency", "cpuinfo_max_freq", "scaling_max_freq"):
        value = host.read_int(f"{d}/{name}")
        if value and value > 0:
            return FreqReference(value, name)
    return None


def read_throttle(host: Host, cpus: Iterable[int]) -> dict[int, dict[str, int]]:
    counters: dict[int, dict[str, int]] = {}
    for cpu in cpus:
        base = f"/sys/devices/system/cpu/cpu{cpu}/thermal_throttle"
        values = {}
        for name in ("core_throttle_count", "package_throttle_count"):
            value = host.read_int(f"{base}/{name}")
            if value is not None:
                values[name] = value
        if values:
            counters[cpu] = values
    return counters


MCE_LINES = {
    "MCE": "Machine check exceptions",
    "DFR": "Deferred Error APIC interrupts",
    "THR": "Threshold APIC interrupts",
    "MCP": "Machine check polls",
}


def parse_interrupt_counters(text: str | None, names: Iterable[str] = tuple(MCE_LINES)) -> dict[str, tuple[int, ...]]:
    """Per-CPU counts of the named /proc/interrupts lines ("MCE" -> (0, 0, 1, 0)); absent lines are absent."""
    wanted = set(names)
    lines = (text or "").splitlines()
    if not lines:
        return {}
    ncpus = len(lines[0].split())
    counters: dict[str, tuple[int, ...]] = {}
    for line in lines[1:]:
        key, sep, rest = line.partition(":")
        key = key.strip()
        if not sep or key not in wanted:
            continue
        values = []
        for token in rest.split()[:ncpus]:
            if not token.isdigit():
                break
            values.append(int(token))
        counters[key] = tuple(values)
    return counters


# -- judging (pure) --------------------------------------------------------------------------------
def judge_busy(
    fractions: Mapping[int, BusyFraction], topology: Mapping[int, CpuTopology], min_busy_fraction: float
) -> list[Judgement]:
    out = []
    for cpu in sorted(topology):
        measured = fractions.get(cpu)
        if measured is None or measured.fraction is None:
            continue
        if measured.fraction < min_busy_fraction:
            pct = measured.fraction * 100
            out.append(Judgement(
                Severity.WARN, topology[cpu].component, "cpu-underloaded",
                f"CPU {cpu} was only {pct:.1f} % busy during the CPU test (goal {min_busy_fraction * 100:g} %), "
                "so it was tested less than claimed.",
                {"busy_pct": round(pct, 2), "min_busy_pct": min_busy_fraction * 100, "ticks": measured.ticks,
                 "steal_ticks": measured.steal_ticks},
            ))
    return out


def judge_freq(
    samples_khz: Mapping[int, Sequence[int]],
    references: Mapping[int, FreqReference],
    topology: Mapping[int, CpuTopology],
    min_freq_fraction: float,
) -> list[Judgement]:
    out = []
    for cpu in sorted(samples_khz):
        values = samples_khz[cpu]
        ref = references.get(cpu)
        if not values or ref is None or cpu not in topology:
            continue
        mean = sum(values) / len(values)
        if mean < min_freq_fraction * ref.khz:
            out.append(Judgement(
                Severity.WARN, topology[cpu].component, "cpu-freq-low",
                f"CPU {cpu} ran at {mean / 1000:.0f} MHz under load, below {min_freq_fraction:.0%} of its "
                f"{ref.khz / 1000:.0f} MHz {'base' if ref.source == 'base_frequency' else 'maximum'} clock: "
                "CPU throttling or a power limit.",
                {"mean_mhz": round(mean / 1000, 1), "min_mhz": round(min(values) / 1000, 1),
                 "reference_mhz": ref.khz / 1000, "reference": ref.source, "samples": len(values),
                 "min_freq_fraction": min_freq_fraction},
            ))
    return out


def judge_throttle(
    before: Mapping[int, Mapping[str, int]],
    after: Mapping[int, Mapping[str, int]],
    topology: Mapping[int, CpuTopology],
) -> list[Judgement]:
    out = []
    sockets_seen: set[Any] = set()
    for cpu in sorted(after):
        start = before.get(cpu, {})
        end = after[cpu]
        topo = topology.get(cpu, CpuTopology(cpu, None, None))
        core = end.get("core_throttle_count", 0) - start.get("core_throttle_count", end.get("core_throttle_count", 0))
        if core > 0:
            out.append(Judgement(
                Severity.WARN, topo.component, "cpu-throttled",
                f"CPU {cpu} was thermally throttled {core} times during the CPU test: cooling is not keeping up.",
                {"core_throttle_count_before": start.get("core_throttle_count"),
                 "core_throttle_count_after": end.get("core_throttle_count"), "increase": core},
            ))
        pkg = end.get("package_throttle_count", 0) - start.get(
            "package_throttle_count", end.get("package_throttle_count", 0))
        if pkg > 0 and topo.socket_id not in sockets_seen:
            sockets_seen.add(topo.socket_id)
            socket = "?" if topo.socket_id is None else topo.socket_id
            out.append(Judgement(
                Severity.WARN, f"socket:{socket}", "cpu-throttled",
                f"CPU socket {socket} was thermally throttled {pkg} times during the CPU test: cooling is not "
                "keeping up.",
                {"package_throttle_count_before": start.get("package_throttle_count"),
                 "package_throttle_count_after": end.get("package_throttle_count"), "increase": pkg,
                 "read_from": f"cpu{cpu}"},
            ))
    return out


def judge_machine_checks(
    before: Mapping[str, Sequence[int]], after: Mapping[str, Sequence[int]]
) -> list[Judgement]:
    out = []

    def grown(key: str) -> dict[int, int]:
        start, end = before.get(key, ()), after.get(key, ())
        return {cpu: e - s for cpu, (s, e) in enumerate(zip(start, end)) if e > s}

    for key, severity, code, what in (
        ("MCE", Severity.FAIL, "machine-check", "machine-check exceptions (hardware errors)"),
        ("DFR", Severity.FAIL, "machine-check", "deferred (uncorrected) hardware errors"),
        ("THR", Severity.WARN, "machine-check-corrected", "corrected hardware errors past the reporting threshold"),
    ):
        delta = grown(key)
        if not delta:
            continue
        cpus = format_cpulist(delta)
        out.append(Judgement(
            severity, f"cpu:{cpus}", code,
            f"The processor reported {sum(delta.values())} {what} during the CPU test.",
            {"counter": f"/proc/interrupts {key} ({MCE_LINES[key]})", "increase_per_cpu": delta,
             "before_total": sum(before.get(key, ())), "after_total": sum(after.get(key, ()))},
        ))
    return out


@dataclass(frozen=True)
class StressNgVerdict:
    judgements: tuple[Judgement, ...]
    engine_ok: bool  # the run counts as a test of this CPU
    note: str  # what happened, in words, for the journal


def judge_stress_ng(topo: CpuTopology, outcome: stress_ng.Outcome, interrupted: bool) -> StressNgVerdict:
    """Turn one per-CPU stress-ng outcome into findings. Wrong answers and crashes are hardware; the rest is not."""
    judgements: list[Judgement] = []
    evidence = {"engine": "stress-ng", **outcome.to_record()}
    if outcome.verification_failures:
        judgements.append(Judgement(
            Severity.FAIL, topo.component, "cpu-wrong-result",
            f"CPU {topo.cpu} computed wrong results under stress-ng's verified CPU test; a CPU that miscalculates "
            "is faulty.",
            {**evidence, "failures": list(outcome.verification_failures[:10])},
        ))
    crashed = bool(outcome.deaths) or outcome.status == "killed-by-signal"
    if crashed and not interrupted:
        judgements.append(Judgement(
            Severity.FAIL, topo.component, "cpu-worker-died",
            f"stress-ng's CPU stressor on CPU {topo.cpu} was killed by "
            f"{', '.join(d.signal_name for d in outcome.deaths) or 'a signal'} under load; a crash under stress "
            "is a hardware symptom.",
            evidence,
        ))
    if judgements:
        return StressNgVerdict(tuple(judgements), True, f"stress-ng on CPU {topo.cpu} failed: {outcome.meaning}")
    if interrupted and outcome.status in ("success", "signalled", "not-run"):
        return StressNgVerdict((), outcome.bogo_ops > 0, f"stress-ng on CPU {topo.cpu} was stopped early")
    if outcome.status == "success" and outcome.workers_invoked and outcome.completed:
        return StressNgVerdict((), True, f"stress-ng on CPU {topo.cpu} passed ({outcome.bogo_ops} bogo ops)")
    if outcome.status == "not-implemented" or not outcome.workers_invoked or (
            outcome.status == "success" and outcome.skipped):
        return StressNgVerdict((), False, f"stress-ng skipped its CPU stressor on CPU {topo.cpu}: "
                                          f"{'; '.join(outcome.skipped[:2]) or outcome.meaning}")
    why = "; ".join((outcome.error_lines or outcome.fail_lines or outcome.warn_lines)[:3]) or outcome.meaning
    return StressNgVerdict((Judgement(
        Severity.WARN, topo.component, "tool-error",
        f"stress-ng could not test CPU {topo.cpu} (exit code {outcome.returncode}: {outcome.status}); this is a "
        "tool problem, not a hardware fault.",
        {**evidence, "why": why},
    ),), False, f"stress-ng on CPU {topo.cpu}: {outcome.status}: {why}")


def plan_slices(total_s: float, engines: Sequence[str], slice_s: float) -> list[tuple[str, float]]:
    """Alternate the engines, in the given order, in slices of about `slice_s`; short runs split evenly."""
    if not engines or total_s <= 0:
        return []
    if len(engines) == 1:
        return [(engines[0], total_s)]
    rounds = max(1, round(total_s / (slice_s * len(engines))))
    each = total_s / (rounds * len(engines))
    return [(engine, each) for _ in range(rounds) for engine in engines]


# -- the built-in engine's workers -----------------------------------------------------------------
def _worker_main(cpu, names, golden, inputs, stop, conn, retest_count, rounds) -> None:
    """Body of one worker: pinned to `cpu`, run the kernels in turn until told to stop (or `rounds` times)."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the module stops its workers itself
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        os.sched_setaffinity(0, {cpu})
        counts: Counter = Counter()
        mismatches: Counter = Counter()
        retested: set[str] = set()
        last_report = time.monotonic()
        done = 0
        while not stop.is_set():
            name = names[done % len(names)]
            actual = _run_kernel(cpu, name, inputs)
            done += 1
            counts[name] += 1
            if actual != golden[name]:
                mismatches[name] += 1
                if name not in retested:  # retest once per kernel: then keep loading, just count
                    retested.add(name)
                    reproduced = tries = 0
                    for _ in range(retest_count):
                        if stop.is_set():
                            break
                        tries += 1
                        reproduced += _run_kernel(cpu, name, inputs) != golden[name]
                    conn.send(("mismatch", cpu, name, golden[name], actual, reproduced, tries))
            now = time.monotonic()
            if now - last_report >= PROGRESS_INTERVAL_S:
                conn.send(("progress", cpu, dict(counts), dict(mismatches)))
                counts.clear()
                mismatches.clear()
                last_report = now
            if rounds and done >= rounds * len(names):
                break
        conn.send(("progress", cpu, dict(counts), dict(mismatches)))
    except BaseException as exc:  # MemoryError and friends: report, then die with a non-zero exit code
        try:
            conn.send(("error", cpu, f"{type(exc).__name__}: {exc}", traceback.format_exc()[-1500:]))
        finally:
            raise


def _run_kernel(cpu: int, name: str, inputs: cpu_kernels.KernelInputs) -> str:
    try:
        result = cpu_kernels.KERNELS[name](inputs)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - a kernel that raises where the reference did not computed wrong
        result = f"raised {type(exc).__name__}: {exc}"
    return _inject_fault(cpu, name, result)


class _WorkerPool:
    """One pinned worker process per CPU, their result pipes, and how each one ended."""

    def __init__(self, cpus, names, golden, inputs, retest_count: int, rounds: int | None = None):
        self._mp = multiprocessing.get_context("fork")
        self._args = (list(names), dict(golden), inputs)
        self._retest_count = retest_count
        self.rounds = rounds
        self._stop = self._mp.Event()
        self.procs: dict[int, multiprocessing.process.BaseProcess] = {}
        self._conns: dict[int, multiprocessing.connection.Connection] = {}
        self.starts: Counter = Counter()
        self.stopping = False
        for cpu in cpus:
            self.start(cpu)

    def start(self, cpu: int) -> None:
        reader, writer = self._mp.Pipe(duplex=False)
        names, golden, inputs = self._args
        proc = self._mp.Process(
            target=_worker_main, name=f"burnin-cpu{cpu}", daemon=True,
            args=(cpu, names, golden, inputs, self._stop, writer, self._retest_count, self.rounds),
        )
        proc.start()
        writer.close()
        self.procs[cpu] = proc
        self._conns[cpu] = reader
        self.starts[cpu] += 1

    def poll(self, timeout: float) -> list[tuple]:
        """Messages from workers, then ("exit", cpu, exitcode) for each worker that ended."""
        waitables = list(self._conns.values()) + [p.sentinel for p in self.procs.values()]
        if not waitables:
            time.sleep(max(0.0, timeout))
            return []
        multiprocessing.connection.wait(waitables, timeout=max(0.0, timeout))
        events: list[tuple] = []
        for cpu in list(self._conns):
            events.extend(self._drain(cpu))
        for cpu, proc in list(self.procs.items()):
            if proc.exitcode is None and proc.is_alive():
                continue
            proc.join(0.5)
            events.extend(self._drain(cpu))
            events.append(("exit", cpu, proc.exitcode))
            del self.procs[cpu]
            conn = self._conns.pop(cpu, None)
            if conn is not None:
                conn.close()
        return events

    def _drain(self, cpu: int) -> list[tuple]:
        conn = self._conns.get(cpu)
        out: list[tuple] = []
        while conn is not None:
            try:
                if not conn.poll():
                    break
                out.append(conn.recv())
            except (EOFError, OSError):
                self._conns.pop(cpu, None)
                conn.close()
                break
        return out

    def stop(self) -> list[tuple]:
        """Ask every worker to stop, wait up to STOP_GRACE_S, kill the rest; all remaining events."""
        self.stopping = True
        self._stop.set()
        events: list[tuple] = []
        give_up = time.monotonic() + STOP_GRACE_S
        while self.procs and time.monotonic() < give_up:
            events.extend(self.poll(0.05))
        for proc in self.procs.values():
            proc.kill()
        for proc in self.procs.values():
            proc.join(1.0)
        events.extend(self.poll(0))
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()
        return events


@dataclass
class _BuiltinTally:
    """What the built-in engine did in one phase."""

    iterations: dict[int, Counter] = field(default_factory=lambda: defaultdict(Counter))
    mismatches: dict[int, Counter] = field(default_factory=lambda: defaultdict(Counter))
    reported: set = field(default_factory=set)  # (cpu, kernel) with a finding in this phase
    errors: dict[int, str] = field(default_factory=dict)
    deaths: Counter = field(default_factory=Counter)
    ops_since_sample: int = 0


# -- the module --------------------------------------------------------------------------------------
class CpuModule(Module):
    """Every logical CPU loaded and checked against known answers; see the module docstring for verdicts."""

    name = "cpu"
    summary = "every logical CPU at full load computing known answers (built-in kernels, stress-ng if present)"
    needs = ("Linux", "stress-ng (optional)")
    stress = True
    settings = {
        "engines": ["builtin", "stress-ng"],
        "kernels": list(cpu_kernels.KERNELS),
        "retest_count": 3,
        "min_busy_fraction": 0.97,
        "min_freq_fraction": 0.5,
        "sample_interval_s": 2.0,
        "engine_slice_s": 300.0,
    }

    def __init__(self, host: Host, settings: Mapping[str, Any] | None = None):
        super().__init__(host, settings)
        self._inputs: cpu_kernels.KernelInputs | None = None
        self._golden: dict[str, str] | None = None
        self._topology: dict[int, CpuTopology] = {}
        self._untested_reported = False

    # -- setup ---------------------------------------------------------------------------------
    def probe(self) -> Probe:
        if not hasattr(os, "sched_setaffinity"):
            return Probe.unavailable("needs Linux (CPU pinning with sched_setaffinity)")
        try:
            self._kernel_names()
        except ValueError as exc:
            return Probe.unavailable(str(exc))
        if not self._engines(quiet=True):
            return Probe.unavailable("stress-ng is not installed and the built-in engine is not enabled")
        return Probe.ok()

    def _engines(self, ctx: ModuleContext | None = None, quiet: bool = False) -> list[str]:
        wanted = [str(e) for e in self.config["engines"]]
        engines = []
        for engine in wanted:
            if engine not in ENGINES:
                if ctx and not quiet:
                    ctx.note(f"unknown engine {engine!r} ignored", known=list(ENGINES))
            elif engine == "builtin" and not self._kernel_names():
                if ctx and not quiet:
                    ctx.note("built-in engine has no kernels to run (setting 'kernels' is empty)")
            elif engine == "stress-ng" and not self.host.which("stress-ng"):
                if ctx and not quiet:
                    ctx.note("stress-ng is not installed: built-in engine only", engine="stress-ng")
            elif engine not in engines:
                engines.append(engine)
        return engines

    def _kernel_names(self) -> list[str]:
        names = [str(k) for k in self.config["kernels"]]
        unknown = [k for k in names if k not in cpu_kernels.KERNELS]
        if unknown:
            raise ValueError(f"unknown CPU kernels {unknown}; known: {list(cpu_kernels.KERNELS)}")
        return names

    def _cpus(self, ctx: ModuleContext) -> list[int]:
        """The CPUs to load: online and allowed to this process. Leaving any out is a WARN."""
        allowed = set(os.sched_getaffinity(0))
        online = set(online_cpus(self.host)) or allowed
        cpus = sorted(online & allowed)
        for cpu in cpus:
            if cpu not in self._topology:
                self._topology[cpu] = read_topology(self.host, cpu)
        left_out = sorted(online - allowed)
        if left_out and not self._untested_reported:
            self._untested_reported = True
            ctx.warn(
                f"cpu:{format_cpulist(left_out)}", "cpu-untested",
                f"CPUs {format_cpulist(left_out)} were not tested: this process may not run on them (cpuset or "
                "affinity limits).",
                {"online": format_cpulist(online), "allowed": format_cpulist(allowed)},
            )
        if not cpus:
            raise Skip("no online CPU that this process may run on")
        return cpus

    def _reference(self) -> tuple[cpu_kernels.KernelInputs, dict[str, str]]:
        """Inputs and golden values, computed once in this (the module) process, before any worker starts."""
        if self._inputs is None or self._golden is None:
            self._inputs = cpu_kernels.make_inputs()
            self._golden = cpu_kernels.compute_golden(self._inputs, self._kernel_names())
        return self._inputs, self._golden

    # -- check: every kernel once on every CPU ----------------------------------------------------
    def check(self, ctx: ModuleContext) -> None:
        names = self._kernel_names()
        cpus = self._cpus(ctx)
        if not names:
            raise Skip("no built-in kernels configured (setting 'kernels' is empty)")
        inputs, golden = self._reference()
        tally = _BuiltinTally()
        pool = _WorkerPool(cpus, names, golden, inputs, int(self.config["retest_count"]), rounds=1)
        try:
            while pool.procs and not ctx.stopping():
                self._handle_events(ctx, pool, tally, pool.poll(0.2), restart=False)
        finally:
            self._handle_events(ctx, pool, tally, pool.stop(), restart=False)
        done = {cpu: sum(c.values()) for cpu, c in tally.iterations.items()}
        ctx.note("preflight", engine="builtin", kernels=names, iterations_per_cpu=done,
                 mismatches={c: dict(m) for c, m in tally.mismatches.items() if m})
        untested = [cpu for cpu in cpus if done.get(cpu, 0) < len(names)]
        if untested and not any(cpu in tally.deaths for cpu in untested):
            if ctx.stopping():
                ctx.note("preflight cut short", cpus=format_cpulist(untested))
            else:
                raise RuntimeError(f"preflight did not complete on CPUs {format_cpulist(untested)}")

    # -- run: full load until the deadline --------------------------------------------------------
    def run(self, ctx: ModuleContext) -> None:
        engines = self._engines(ctx)
        if not engines:
            raise Skip("no CPU engine available: stress-ng is not installed and the built-in engine is disabled")
        cpus = self._cpus(ctx)
        names = self._kernel_names()
        if "builtin" in engines:
            self._reference()
        monitor = _Monitor(self.host, cpus, self._topology, float(self.config["sample_interval_s"]))
        monitor.begin(ctx)
        slices = plan_slices(ctx.remaining(), engines, float(self.config["engine_slice_s"]))
        engine_ok: dict[str, bool] = {}
        tool_problems: list[str] = []
        for index, (engine, seconds) in enumerate(slices):
            if ctx.stopping():
                break
            until = ctx.deadline if index == len(slices) - 1 else time.monotonic() + seconds
            if engine == "builtin":
                ok = self._run_builtin(ctx, cpus, names, until, monitor)
            else:
                ok, problems = self._run_stress_ng(ctx, cpus, until, monitor, final=index == len(slices) - 1)
                tool_problems.extend(problems)
            engine_ok[engine] = engine_ok.get(engine, True) and ok
        monitor.finish(ctx, float(self.config["min_busy_fraction"]), float(self.config["min_freq_fraction"]))
        if engine_ok and not any(engine_ok.values()):
            if tool_problems:
                raise RuntimeError("stress-ng, the only CPU engine that ran, could not test: "
                                   + "; ".join(tool_problems[:3]))
            raise Skip("stress-ng, the only CPU engine that ran, skipped its CPU stressor (see notes)")

    def _run_builtin(self, ctx, cpus, names, until: float, monitor: "_Monitor") -> bool:
        inputs, golden = self._reference()
        ctx.note("engine", engine="builtin", cpus=format_cpulist(cpus), kernels=names,
                 seconds=round(max(0.0, until - time.monotonic()), 1))
        tally = _BuiltinTally()
        pool = _WorkerPool(cpus, names, golden, inputs, int(self.config["retest_count"]))
        try:
            monitor.load_started()
            while not ctx.stopping() and time.monotonic() < until:
                timeout = min(0.2, max(0.0, until - time.monotonic()), max(0.0, monitor.next_sample - time.monotonic()))
                self._handle_events(ctx, pool, tally, pool.poll(timeout), restart=True)
                if time.monotonic() >= monitor.next_sample:
                    monitor.sample(ctx, tally.ops_since_sample)
                    tally.ops_since_sample = 0
            monitor.load_ended()
        finally:
            self._handle_events(ctx, pool, tally, pool.stop(), restart=False)
        ctx.note("engine done", engine="builtin",
                 iterations_per_cpu={cpu: sum(c.values()) for cpu, c in sorted(tally.iterations.items())},
                 iterations_per_kernel=dict(sum(tally.iterations.values(), Counter())),
                 mismatches={cpu: dict(c) for cpu, c in tally.mismatches.items() if c},
                 worker_deaths=dict(tally.deaths))
        return True

    def _handle_events(self, ctx, pool: _WorkerPool, tally: _BuiltinTally, events, restart: bool) -> None:
        for event in events:
            kind, cpu = event[0], event[1]
            topo = self._topology.get(cpu, CpuTopology(cpu, None, None))
            if kind == "progress":
                tally.iterations[cpu].update(event[2])
                tally.mismatches[cpu].update(event[3])
                tally.ops_since_sample += sum(event[2].values())
            elif kind == "mismatch":
                _, _, kernel, expected, actual, reproduced, tries = event
                if (cpu, kernel) in tally.reported:
                    continue
                tally.reported.add((cpu, kernel))
                ctx.fail(
                    topo.component, "cpu-wrong-result",
                    f"CPU {cpu} (core {topo.core_id}, socket {topo.socket_id}) gave a wrong answer in the {kernel} "
                    "test; a CPU that miscalculates is faulty.",
                    {"engine": "builtin", "phase": ctx.phase, "kernel": kernel, "expected": expected,
                     "actual": actual, "reproduced": f"{reproduced} of {tries}", "reproduced_count": reproduced,
                     "retests": tries, "input_seed": cpu_kernels.INPUT_SEED},
                )
            elif kind == "error":
                tally.errors[cpu] = event[2]
            elif kind == "exit":
                exitcode = event[2]
                expected_end = pool.stopping or (pool.rounds and exitcode == 0)
                if expected_end:
                    continue
                tally.deaths[cpu] += 1
                how = (f"killed by {signal.Signals(-exitcode).name}" if exitcode and exitcode < 0
                       and -exitcode in signal.valid_signals() else f"exit code {exitcode}")
                ctx.fail(
                    topo.component, "cpu-worker-died",
                    f"The test process on CPU {cpu} died under load ({how}); a crash under stress is a hardware "
                    "symptom.",
                    {"engine": "builtin", "phase": ctx.phase, "exitcode": exitcode,
                     "signal": signal.Signals(-exitcode).name if exitcode and exitcode < 0 else None,
                     "error": tally.errors.pop(cpu, None), "death_number": tally.deaths[cpu],
                     "iterations_before": sum(tally.iterations[cpu].values())},
                )
                if restart and pool.starts[cpu] <= MAX_RESTARTS_PER_CPU and not ctx.stopping():
                    pool.start(cpu)
                elif restart:
                    ctx.note(f"CPU {cpu} left unloaded after {tally.deaths[cpu]} worker deaths", cpu=cpu)

    def _run_stress_ng(self, ctx, cpus, until: float, monitor: "_Monitor", final: bool) -> tuple[bool, list[str]]:
        program = self.host.which("stress-ng") or "stress-ng"
        # whole seconds; in the last slice rounded down, so stress-ng ends by itself before the phase does
        left = until - time.monotonic()
        seconds = math.floor(left) if final else round(left)
        if seconds < 1:
            ctx.note("stress-ng not started: less than 1 s left for its slice", engine="stress-ng",
                     seconds_left=round(left, 2))
            return True, []
        tmp = tempfile.mkdtemp(prefix="burnin-cpu-stress-ng-")
        procs: dict[int, subprocess.Popen] = {}
        logs = {}
        try:
            argv0 = None
            for cpu in cpus:
                argv = stress_ng.cpu_argv([cpu], seconds, f"{tmp}/cpu{cpu}.yaml", tmp, program=program)
                argv0 = argv0 or argv
                logs[cpu] = open(f"{tmp}/cpu{cpu}.log", "w")
                procs[cpu] = self.host.spawn(argv, stdout=subprocess.DEVNULL, stderr=logs[cpu])
            spawned = time.monotonic()
            ctx.note("engine", engine="stress-ng", cpus=format_cpulist(cpus), seconds=seconds,
                     argv=list(argv0 or []))
            # the load window: after stress-ng's start-up, until its stressors' timeout (before it reports)
            load_from = spawned + min(STRESS_NG_SETTLE_S, seconds / 2)  # a stress-ng that fails at once: no window
            load_until = spawned + seconds
            load_on = False
            give_up = spawned + seconds + STRESS_NG_OVERRUN_S
            interrupted = False
            while any(p.poll() is None for p in procs.values()):
                now = time.monotonic()
                if not load_on and load_from <= now < load_until:
                    monitor.load_started()
                    load_on = True
                if load_on and (now >= load_until or any(p.poll() is not None for p in procs.values())):
                    monitor.load_ended()
                    load_on = False
                    load_until = now
                if ctx.stopping() or now >= give_up:
                    interrupted = True
                    break
                if load_on and now >= monitor.next_sample:
                    monitor.sample(ctx, None)
                ctx.wait(max(0.01, min(0.1, monitor.next_sample - now, max(load_from, load_until) - now)))
            if load_on:
                monitor.load_ended()
            if interrupted:
                self._stop_processes(procs)
            ok_any = False
            problems: list[str] = []
            for cpu, proc in procs.items():
                logs[cpu].close()
                outcome = stress_ng.parse_outcome(
                    proc.returncode, _read(f"{tmp}/cpu{cpu}.log"), yaml_text=_read(f"{tmp}/cpu{cpu}.yaml"))
                verdict = judge_stress_ng(self._topology[cpu], outcome, interrupted)
                for j in verdict.judgements:
                    ctx.finding(j.severity, j.component, j.code, j.message, j.evidence)
                    if j.code == "tool-error":
                        problems.append(verdict.note)
                ctx.note(verdict.note, engine="stress-ng", cpu=cpu, **outcome.to_record())
                ok_any = ok_any or verdict.engine_ok
            return ok_any and not problems, problems
        finally:
            try:
                self._stop_processes(procs)
            finally:
                for f in logs.values():
                    f.close()
                shutil.rmtree(tmp, ignore_errors=True)

    @staticmethod
    def _stop_processes(procs: Mapping[int, subprocess.Popen]) -> None:
        """SIGINT: stress-ng stops its stressors and still reports; whatever is left after the grace, SIGKILL."""
        running = [p for p in procs.values() if p.poll() is None]
        for p in running:
            p.send_signal(signal.SIGINT)
        give_up = time.monotonic() + STOP_GRACE_S
        for p in running:
            try:
                p.wait(max(0.0, give_up - time.monotonic()))
            except subprocess.TimeoutExpired:
                _kill_tree(p.pid)
                try:
                    p.wait(1.0)
                except subprocess.TimeoutExpired:
                    pass


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and its descendants (stress-ng's stressors are its children, in our process group)."""
    try:
        parent = psutil.Process(pid)
        family = parent.children(recursive=True) + [parent]
    except psutil.Error:
        return
    for proc in family:
        try:
            proc.kill()
        except psutil.Error:
            pass


def _read(path: str) -> str:
    try:
        with open(path, errors="replace") as f:  # our own temp files, not hardware paths
            return f.read()
    except OSError:
        return ""


class _Monitor:
    """Per-CPU busy time, clock, throttle and machine-check counters over the run; samples every interval."""

    def __init__(self, host: Host, cpus: Sequence[int], topology: Mapping[int, CpuTopology], interval_s: float):
        self.host = host
        self.cpus = list(cpus)
        self.topology = {cpu: topology[cpu] for cpu in cpus}
        self.interval_s = max(0.2, interval_s)
        self.next_sample = time.monotonic() + self.interval_s
        self._last_stat: dict[int, CpuTimes] = {}
        self._last_time = time.monotonic()
        self._load_start: dict[int, CpuTimes] | None = None
        self._loaded_ticks: dict[int, list[int]] = {}
        self._freq_khz: dict[int, list[int]] = defaultdict(list)
        self._throttle_before: dict[int, dict[str, int]] = {}
        self._mce_before: dict[str, tuple[int, ...]] = {}

    def _stat(self) -> dict[int, CpuTimes]:
        return parse_proc_stat(self.host.read_text("/proc/stat"))

    def begin(self, ctx: ModuleContext) -> None:
        self._last_stat = self._stat()
        self._last_time = time.monotonic()
        self._throttle_before = read_throttle(self.host, self.cpus)
        self._mce_before = parse_interrupt_counters(self.host.read_text("/proc/interrupts"))
        refs = {cpu: read_freq_reference(self.host, cpu) for cpu in self.cpus}
        self.references = {cpu: ref for cpu, ref in refs.items() if ref}
        missing = []
        if not self.references or read_freq_khz(self.host, self.cpus[0]) is None:
            missing.append("frequency not observable (no cpufreq)")
        if not self._throttle_before:
            missing.append("thermal throttling not observable (no thermal_throttle counters)")
        if "MCE" not in self._mce_before:
            missing.append("machine checks not observable (no MCE line in /proc/interrupts)")
        if missing:
            ctx.note("; ".join(missing), missing=missing)

    def load_started(self) -> None:
        self._load_start = self._stat()

    def load_ended(self) -> None:
        if self._load_start is not None:
            add_busy(self._loaded_ticks, self._load_start, self._stat())
            self._load_start = None

    def sample(self, ctx: ModuleContext, ops: int | None) -> None:
        now = time.monotonic()
        stat = self._stat()
        metrics: dict[str, float] = {}
        for cpu in self.cpus:
            if cpu in stat and cpu in self._last_stat:
                fraction = _raw_fraction(self._last_stat[cpu], stat[cpu])
                if fraction is not None:
                    metrics[f"busy_pct:cpu{cpu}"] = round(100.0 * fraction, 1)
        for cpu in self.cpus:
            khz = read_freq_khz(self.host, cpu)
            if khz:
                self._freq_khz[cpu].append(khz)
                metrics[f"freq_mhz:cpu{cpu}"] = round(khz / 1000, 1)
        elapsed = now - self._last_time
        if ops is not None and elapsed > 0:
            metrics["ops_per_s:total"] = round(ops / elapsed, 2)
        ctx.sample(metrics)
        self._last_stat, self._last_time = stat, now
        self.next_sample = now + self.interval_s

    def finish(self, ctx: ModuleContext, min_busy_fraction: float, min_freq_fraction: float) -> None:
        self.load_ended()
        fractions = fractions_from_totals(self._loaded_ticks)
        judgements = judge_busy(fractions, self.topology, min_busy_fraction)
        judgements += judge_freq(self._freq_khz, self.references, self.topology, min_freq_fraction)
        judgements += judge_throttle(self._throttle_before, read_throttle(self.host, self.cpus), self.topology)
        judgements += judge_machine_checks(
            self._mce_before, parse_interrupt_counters(self.host.read_text("/proc/interrupts")))
        for j in judgements:
            ctx.finding(j.severity, j.component, j.code, j.message, j.evidence)
        ctx.note("load", busy_pct={cpu: round(100 * f.fraction, 2) for cpu, f in sorted(fractions.items())
                                   if f.fraction is not None},
                 mean_freq_mhz={cpu: round(sum(v) / len(v) / 1000, 1) for cpu, v in sorted(self._freq_khz.items())})


def _raw_fraction(start: CpuTimes, end: CpuTimes) -> float | None:
    busy = max(0, end.busy - start.busy)
    ticks = busy + max(0, end.idle - start.idle)
    return busy / ticks if ticks else None
