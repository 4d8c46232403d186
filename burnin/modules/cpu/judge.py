"""The cpu module's readings and judges: /proc/stat busy time, clocks, machine-check counters, stress-ng outcomes.

Pure functions from raw text or typed readings to `model.Judgement`s, tested on captured data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from burnin.host import Host, format_cpulist
from burnin.inventory.cpu import LogicalCpu
from burnin.judge import counter_growth
from burnin.model import Judgement, Severity
from burnin.tools import stress_ng

MIN_JUDGED_TICKS = 50  # USER_HZ ticks (0.5 s at 100 Hz) of a CPU below which its busy fraction is not judged


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


def topology_of(logical: Iterable[LogicalCpu]) -> dict[int, CpuTopology]:
    """The cpu module's view of the inventory's topology (`burnin.inventory.cpu.read_topology`)."""
    return {c.cpu: CpuTopology(c.cpu, c.core, c.package) for c in logical}


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


# -- reading the host ----------------------------------------------------------------------------
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
    total: dict[int, list[int]] = {}
    add_busy(total, before, after)
    return fractions_from_totals(total)


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


def raw_fraction(start: CpuTimes, end: CpuTimes) -> float | None:
    busy = max(0, end.busy - start.busy)
    ticks = busy + max(0, end.idle - start.idle)
    return busy / ticks if ticks else None


def cpufreq_dir(host: Host, cpu: int) -> str | None:
    for path in (f"/sys/devices/system/cpu/cpu{cpu}/cpufreq", f"/sys/devices/system/cpu/cpufreq/policy{cpu}"):
        if host.is_dir(path):
            return path
    return None


def _first_positive(host: Host, cpu: int, names: Sequence[str]) -> tuple[int, str] | None:
    """The first of the cpufreq files `names` that reads a positive number, and its name."""
    d = cpufreq_dir(host, cpu)
    for name in names if d is not None else ():
        value = host.read_int(f"{d}/{name}")
        if value and value > 0:
            return value, name
    return None


def read_freq_khz(host: Host, cpu: int) -> int | None:
    found = _first_positive(host, cpu, ("scaling_cur_freq", "cpuinfo_cur_freq"))
    return found[0] if found else None


def read_freq_reference(host: Host, cpu: int) -> FreqReference | None:
    """The clock a loaded CPU should reach: its base clock where the driver says it, else its maximum."""
    found = _first_positive(host, cpu, ("base_frequency", "cpuinfo_max_freq", "scaling_max_freq"))
    return FreqReference(*found) if found else None


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


def judge_machine_checks(
    before: Mapping[str, Sequence[int]], after: Mapping[str, Sequence[int]]
) -> list[Judgement]:
    out = []
    for key, severity, code, what in (
        ("MCE", Severity.FAIL, "machine-check", "machine-check exceptions (hardware errors)"),
        ("DFR", Severity.FAIL, "machine-check", "deferred (uncorrected) hardware errors"),
        ("THR", Severity.WARN, "machine-check-corrected", "corrected hardware errors past the reporting threshold"),
    ):
        delta = counter_growth(dict(enumerate(before.get(key, ()))), dict(enumerate(after.get(key, ()))))
        if not delta:
            continue
        cpus = format_cpulist(delta)
        out.append(Judgement(
            severity, f"cpu:{cpus}", code,
            f"The processor reported {sum(delta.values())} {what} during the CPU test.",
            {"counter": f"/proc/interrupts {key} ({MCE_LINES[key]})", "increase_per_cpu": dict(sorted(delta.items())),
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
    evidence: dict[str, Any] = {"engine": "stress-ng", **outcome.to_record()}
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


# -- the CPU's state at a miscompare ---------------------------------------------------------------------
CPU_HWMON_NAMES = ("coretemp", "k10temp", "zenpower", "cpu_thermal")


def read_cpu_temp_c(host: Host, topo: CpuTopology) -> tuple[float, str] | None:
    """The temperature nearest to the CPU: its core's coretemp sensor, else its package's, else the first of
    k10temp/zenpower (Tctl/Tdie) or an x86_pkg_temp thermal zone; (°C, where it was read) or None."""
    best: tuple[int, float, str] | None = None
    for hwmon in host.glob("/sys/class/hwmon", "hwmon*"):
        name = (host.read_text(f"{hwmon}/name") or "").strip()
        if name not in CPU_HWMON_NAMES:
            continue
        for path in host.glob(hwmon, "temp*_input"):
            value = host.read_int(path)
            if value is None:
                continue
            label = (host.read_text(path.replace("_input", "_label")) or "").strip()
            rank = 3
            if topo.core_id is not None and label == f"Core {topo.core_id}":
                rank = 0
            elif topo.socket_id is not None and label in (f"Package id {topo.socket_id}", "Tdie", "Tctl"):
                rank = 1
            if best is None or rank < best[0]:
                best = (rank, value / 1000.0, f"{name} {label or path.rsplit('/', 1)[-1]}")
    if best is not None:
        return best[1], best[2]
    for zone in host.glob("/sys/class/thermal", "thermal_zone*"):
        if (host.read_text(f"{zone}/type") or "").strip() in ("x86_pkg_temp", "cpu-thermal", "cpu_thermal"):
            value = host.read_int(f"{zone}/temp")
            if value is not None:
                return value / 1000.0, f"thermal zone {zone.rsplit('/', 1)[-1]}"
    return None


def read_cpu_moment(host: Host, cpu: int, topo: CpuTopology) -> dict[str, Any]:
    """What the CPU was doing when it computed wrong: clock, clock limit, temperature (None: not observable)."""
    limit = None
    d = cpufreq_dir(host, cpu)
    if d is not None:
        limit = host.read_int(f"{d}/scaling_max_freq")
    temp = read_cpu_temp_c(host, topo)
    freq = read_freq_khz(host, cpu)
    return {"freq_mhz": round(freq / 1000, 1) if freq else None,
            "freq_limit_mhz": round(limit / 1000, 1) if limit else None,
            "temp_c": temp[0] if temp else None, "temp_source": temp[1] if temp else None}
