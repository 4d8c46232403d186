"""CPU: every logical CPU computes known answers at full load; clock and machine checks are watched.

Engines (setting `engines`):
- ``builtin``: one worker process per logical CPU, pinned to it, rotating through kernels that exercise
  different units (`kernels`: sha256, blake2b, integer, float, zlib, lzma, bignum; see `cpu.kernels`). Each
  result is compared with the answer the module process computed once at the start (golden values). On a
  mismatch the worker repeats that kernel with the same input `retest_count` times on the same CPU and reports
  how often the wrong answer came back.
- ``stress-ng`` (where installed): one ``stress-ng --cpu 1 --cpu-method all --verify --taskset N`` per CPU, so a
  failure names its CPU; outcome parsed by `burnin.tools.stress_ng`.
With both engines the run phase ALTERNATES between them in slices of `engine_slice_s`, in the order of
`engines` (default: built-in first); a run shorter than one slice per engine is split evenly between them. Every
slice loads all CPUs at once; a slice that ends early (stress-ng failed to start) hands its time to the next.
Both run as loads of `burnin.load` (worker pool, external program), which stops them at the deadline.

check() (preflight, ~1-2 s): every kernel once on every CPU, pinned, against the golden values.

Watched during run(): per-CPU busy fraction (/proc/stat), per-CPU clock (cpufreq scaling_cur_freq), and
machine-check counters in /proc/interrupts (MCE, DFR, THR lines). Thermal throttling is the thermal module's
judgement (with the profile's `throttle` severity), not this module's. The CPU topology (core, socket) is
the inventory's (`burnin.inventory.cpu.read_topology`).

Findings:

| code | severity | when |
|------|----------|------|
| `cpu-wrong-result` | FAIL | a CPU computed a wrong result (evidence: kernel, expected, actual, "reproduced: k of n") |
| `cpu-worker-died` | FAIL | a worker process died under load - signal, exception, out of memory (a segfault under stress is itself a hardware symptom) |
| `machine-check` | FAIL | machine-check exceptions or deferred (uncorrected) errors rose |
| `machine-check-corrected` | WARN | corrected-error threshold interrupts rose |
| `cpu-underloaded` | WARN | a CPU was busy less than `min_busy_fraction` of the run: the test was weaker than claimed |
| `cpu-freq-low` | WARN | the mean clock under load fell below `min_freq_fraction` of the base (or max) clock |
| `cpu-untested` | WARN | CPUs this process may not run on were left untested |
| `tool-error` | WARN | stress-ng could not run properly: not a hardware fault, and not a pass for that engine - if stress-ng was the only engine, the phase raises so the runner reports ERROR |
"""

from __future__ import annotations

import os
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Mapping

from burnin.host import Host, format_cpulist
from burnin.inventory.cpu import read_topology as read_cpu_topology
from burnin.load import engine_slices, pick_engines
from burnin.model import Probe
from burnin.module import Module, ModuleContext, Skip
from burnin.modules.cpu import kernels as cpu_kernels
from burnin.modules.cpu import engine
from burnin.modules.cpu.judge import (  # noqa: F401 - the module's readers and judges, importable from here
    BusyFraction, CpuTimes, CpuTopology, FreqReference, StressNgVerdict, busy_fractions, judge_busy, judge_freq,
    judge_machine_checks, judge_stress_ng, parse_interrupt_counters, parse_proc_stat, read_freq_khz,
    read_freq_reference, topology_of,
)
from burnin.modules.cpu.monitor import Monitor
from burnin.settings import setting

ENGINES = ("builtin", "stress-ng")


@dataclass(frozen=True)
class CpuSettings:
    engines: tuple[str, ...] = setting(ENGINES, "engines, taking turns in this order (builtin, stress-ng)")
    kernels: tuple[str, ...] = setting(tuple(cpu_kernels.KERNELS), "built-in kernels the workers rotate through")
    retest_count: int = setting(3, "how often a wrong answer is recomputed on the same CPU to see if it repeats")
    min_busy_fraction: float = setting(0.97, "below this busy share of the load a CPU is reported underloaded")
    min_freq_fraction: float = setting(0.5, "below this share of the base (or max) clock under load: cpu-freq-low")
    sample_interval_s: float = setting(2.0, "how often busy time and clocks are sampled", unit="s")
    engine_slice_s: float = setting(300.0, "how long each engine runs before the other takes over", unit="s")


def cpu_topology(host: Host, inventory: Any = None) -> dict[int, CpuTopology]:
    """Core and socket of every online CPU: the inventory's reading when it has one, else the inventory's reader."""
    logical = getattr(getattr(inventory, "cpu", None), "topology", None)
    return topology_of(logical if logical else read_cpu_topology(host))


class CpuModule(Module):
    """Every logical CPU loaded and checked against known answers; see the module docstring for verdicts."""

    name = "cpu"
    summary = "every logical CPU at full load computing known answers (built-in kernels, stress-ng if present)"
    needs = ("Linux", "stress-ng (optional)")
    stress = True
    Settings = CpuSettings

    def __init__(self, host: Host, settings: Mapping[str, Any] | None = None):
        super().__init__(host, settings)
        self._inputs: cpu_kernels.KernelInputs | None = None
        self._golden: dict[str, str] | None = None
        self._topology: dict[int, CpuTopology] | None = None
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
        def missing(engine: str) -> str | None:
            if engine == "builtin" and not self._kernel_names():
                return "built-in engine has no kernels to run (setting 'kernels' is empty)"
            if engine == "stress-ng" and not self.host.which("stress-ng"):
                return "stress-ng is not installed: built-in engine only"
            return None

        return pick_engines(self.settings.engines, ENGINES, missing, None if quiet or ctx is None else ctx.note)

    def _kernel_names(self) -> list[str]:
        names = list(self.settings.kernels)
        unknown = [k for k in names if k not in cpu_kernels.KERNELS]
        if unknown:
            raise ValueError(f"unknown CPU kernels {unknown}; known: {list(cpu_kernels.KERNELS)}")
        return names

    def _cpus(self, ctx: ModuleContext) -> list[int]:
        """The CPUs to load: online and allowed to this process. Leaving any out is a WARN."""
        if self._topology is None:
            self._topology = cpu_topology(self.host, ctx.inventory)
        allowed = set(os.sched_getaffinity(0))
        online = set(self._topology) or allowed
        cpus = sorted(online & allowed)
        for cpu in cpus:
            self._topology.setdefault(cpu, CpuTopology(cpu, None, None))
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
        pool = engine.worker_pool(cpus, names, golden, inputs, self.settings.retest_count, rounds=1)
        tally = engine.run_builtin(ctx, pool, self._topology or {}, None, None, None, once=True)
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
        monitor = Monitor(self.host, cpus, self._topology or {})
        monitor.begin(ctx)
        interval = max(0.2, self.settings.sample_interval_s)
        engine_ok: dict[str, bool] = {}
        tool_problems: list[str] = []
        for engine_name, until, final in engine_slices(ctx, engines, self.settings.engine_slice_s):
            if engine_name == "builtin":
                ok = self._run_builtin(ctx, cpus, names, until, monitor, interval)
            else:
                ok, problems = engine.run_stress_ng(ctx, self.host, cpus, self._topology or {}, until, monitor,
                                                    final=final, interval_s=interval)
                tool_problems.extend(problems)
            engine_ok[engine_name] = engine_ok.get(engine_name, True) and ok
        monitor.finish(ctx, self.settings.min_busy_fraction, self.settings.min_freq_fraction)
        if engine_ok and not any(engine_ok.values()):
            if tool_problems:
                raise RuntimeError("stress-ng, the only CPU engine that ran, could not test: "
                                   + "; ".join(tool_problems[:3]))
            raise Skip("stress-ng, the only CPU engine that ran, skipped its CPU stressor (see notes)")

    def _run_builtin(self, ctx: ModuleContext, cpus, names, until: float, monitor: Monitor, interval: float) -> bool:
        inputs, golden = self._reference()
        ctx.note("engine", engine="builtin", cpus=format_cpulist(cpus), kernels=names,
                 seconds=round(max(0.0, until - time.monotonic()), 1))
        pool = engine.worker_pool(cpus, names, golden, inputs, self.settings.retest_count)
        tally = engine.run_builtin(ctx, pool, self._topology or {}, until, monitor, interval)
        ctx.note("engine done", engine="builtin",
                 iterations_per_cpu={cpu: sum(c.values()) for cpu, c in sorted(tally.iterations.items())},
                 iterations_per_kernel=dict(sum(tally.iterations.values(), Counter())),
                 mismatches={cpu: dict(c) for cpu, c in tally.mismatches.items() if c},
                 worker_deaths=dict(tally.deaths))
        return True
