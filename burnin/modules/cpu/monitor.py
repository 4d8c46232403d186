"""What the cpu module watches while it loads: busy time, clocks and machine-check counters, per CPU.

Throttle counters are thermal's to read and judge (its `throttle` setting decides the severity); the cpu module
does not read them.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Mapping, Sequence

from burnin.host import Host
from burnin.module import ModuleContext
from burnin.tools.rapl import PowerMeter
from burnin.modules.cpu.judge import (
    CpuTimes, CpuTopology, add_busy, fractions_from_totals, judge_busy, judge_freq, judge_machine_checks,
    parse_interrupt_counters, parse_proc_stat, raw_fraction, read_freq_khz, read_freq_reference,
)


class Monitor:
    """Per-CPU busy time (counted only while a load runs), clock and machine-check counters over the run."""

    def __init__(self, host: Host, cpus: Sequence[int], topology: Mapping[int, CpuTopology]):
        self.host = host
        self.cpus = list(cpus)
        self.topology = {cpu: topology[cpu] for cpu in cpus}
        self.references: dict = {}
        self._last_stat: dict[int, CpuTimes] = {}
        self._last_time = time.monotonic()
        self._load_start: dict[int, CpuTimes] | None = None
        self._loaded_ticks: dict[int, list[int]] = {}
        self._freq_khz: dict[int, list[int]] = defaultdict(list)
        self._mce_before: dict[str, tuple[int, ...]] = {}
        self.power = PowerMeter(host)
        self.watts: dict[str, list[float]] = defaultdict(list)

    def _stat(self) -> dict[int, CpuTimes]:
        return parse_proc_stat(self.host.read_text("/proc/stat"))

    def begin(self, ctx: ModuleContext) -> None:
        self._last_stat = self._stat()
        self._last_time = time.monotonic()
        self._mce_before = parse_interrupt_counters(self.host.read_text("/proc/interrupts"))
        refs = {cpu: read_freq_reference(self.host, cpu) for cpu in self.cpus}
        self.references = {cpu: ref for cpu, ref in refs.items() if ref}
        missing = []
        if not self.references or read_freq_khz(self.host, self.cpus[0]) is None:
            missing.append("frequency not observable (no cpufreq)")
        if "MCE" not in self._mce_before:
            missing.append("machine checks not observable (no MCE line in /proc/interrupts)")
        if missing:
            ctx.note("; ".join(missing), missing=missing)

    @property
    def loaded(self) -> bool:
        return self._load_start is not None

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
                fraction = raw_fraction(self._last_stat[cpu], stat[cpu])
                if fraction is not None:
                    metrics[f"busy_pct:cpu{cpu}"] = round(100.0 * fraction, 1)
        for cpu in self.cpus:
            khz = read_freq_khz(self.host, cpu)
            if khz:
                self._freq_khz[cpu].append(khz)
                metrics[f"freq_mhz:cpu{cpu}"] = round(khz / 1000, 1)
        for name, watts in self.power.read(now).items():
            metrics[name] = watts
            self.watts[name].append(watts)
        elapsed = now - self._last_time
        if ops is not None and elapsed > 0:
            metrics["ops_per_s:total"] = round(ops / elapsed, 2)
        ctx.sample(metrics)
        self._last_stat, self._last_time = stat, now

    def finish(self, ctx: ModuleContext, min_busy_fraction: float, min_freq_fraction: float) -> None:
        self.load_ended()
        fractions = fractions_from_totals(self._loaded_ticks)
        judgements = judge_busy(fractions, self.topology, min_busy_fraction)
        judgements += judge_freq(self._freq_khz, self.references, self.topology, min_freq_fraction)
        judgements += judge_machine_checks(
            self._mce_before, parse_interrupt_counters(self.host.read_text("/proc/interrupts")))
        for j in judgements:
            ctx.report(j)
        ctx.note("load", busy_pct={cpu: round(100 * f.fraction, 2) for cpu, f in sorted(fractions.items())
                                   if f.fraction is not None},
                 power_w={name: round(sum(v) / len(v), 1) for name, v in self.watts.items()} if self.watts else
                 "not observable (no RAPL powercap)",
                 mean_freq_mhz={cpu: round(sum(v) / len(v) / 1000, 1) for cpu, v in sorted(self._freq_khz.items())})
