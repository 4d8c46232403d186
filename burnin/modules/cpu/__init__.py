"""CPU: every logical CPU computes known answers at full load, class by class; clock and machine checks are watched.

Engines (setting `engines`):
- ``builtin``: one worker process per logical CPU, pinned to it, rotating through kernels that each exercise one
  instruction class (`kernels`; `cpu.kernels.CLASS_OF`): scalar integer (integer, blake2b), scalar FP (float),
  vector FP with FMA (gemm-f64/f32 sized for cache and for memory, fft-cache/-memory: numpy/OpenBLAS with one BLAS
  thread per worker), AES (aes-gcm, aes-ctr: `cryptography`), SHA (sha256), CRC32C (`crc32c`), big numbers
  (bignum), compression (zlib, lzma) and cross-core coherence (`cpu.coherence`: shared cache lines, seqlock). A
  kernel whose library is missing (or coherence on a weakly ordered CPU) is left out, and the "instruction classes"
  note says which classes ran on this CPU, the unit each exercises (from the CPU's flags: py-cpuinfo on the live
  host, /proc/cpuinfo otherwise) and why others did not.
  Reference answers are computed on two CPUs of different physical cores and must agree; where they do not, more
  computations vote (`engine.decide`: an answer stands when two different CPUs give it) and the odd CPU is charged
  in its role. A worker's wrong answer is retested `retest_count` times on its CPU and computed again on another
  core (the verifier) before the worker's CPU is charged; a disagreement the verifier alone has is the verifier's.
  Every miscompare records the CPU's clock, clock limit and temperature at that moment.
- ``stress-ng`` (where installed): one ``stress-ng --cpu 1 --cpu-method all --verify --taskset N`` per CPU, so a
  failure names its CPU; outcome parsed by `burnin.tools.stress_ng`.
With both engines the run phase ALTERNATES between them in slices of `engine_slice_s`, in the order of
`engines` (default: built-in first); a run shorter than one slice per engine is split evenly between them. Every
slice loads all CPUs at once; a slice that ends early (stress-ng failed to start) hands its time to the next.
Both run as loads of `burnin.load` (worker pool, external program), which stops them at the deadline.

Corners: with `freq_cycle_s` > 0 the CPUs' clock limit moves between minimum and maximum that often while the
built-in kernels run (`burnin.tools.cpufreq`; a ledger restores it at the end, or at the next start after a kill).
Vendor self-tests: Intel In-Field Scan per core where the `intel_ifs` driver is loaded (`self_test`); AMD has none.
Package power (RAPL) is sampled where the powercap interface exists.

Test-only fault seams (`engine.FaultSeam`): the environment variables BURNIN_TEST_CPU_FLIP and
BURNIN_TEST_CPU_FLIP_VERIFIER flip bits in one CPU's results; no profile setting can enable them, and the journal
says so whenever one is set.

check() (preflight): reference answers, every kernel once on every CPU, then the vendor self-tests.

Watched during run(): per-CPU busy fraction (/proc/stat), per-CPU clock (cpufreq scaling_cur_freq), package power
(RAPL), and machine-check counters in /proc/interrupts (MCE, DFR, THR lines). Thermal throttling is the thermal
module's judgement (with the profile's `throttle` severity), not this module's. The CPU topology (core, socket) is
the inventory's (`burnin.inventory.cpu.read_topology`).

Findings:

| code | severity | when |
|------|----------|------|
| `cpu-wrong-result` | FAIL | a CPU computed a wrong result (evidence: kernel, class, expected, actual, "reproduced: k of n", the verifier's answers, role, clock and temperature at the miscompare) |
| `cpu-coherence` | FAIL | a lost or torn update between two cores' shared memory (the component names the pair), or a lane whose final state is not what its writer reported |
| `cpu-self-test-failed` | FAIL | the processor's own self-test (Intel In-Field Scan) failed on a core (evidence: status word, PPIN) |
| `cpu-self-test-skipped` | INFO | the self-test did not complete on a core ("untested", a timeout, a refused run): that part was not tested |
| `cpu-worker-died` | FAIL | a worker process died under load - signal, exception, out of memory (a segfault under stress is itself a hardware symptom) |
| `machine-check` | FAIL | machine-check exceptions or deferred (uncorrected) errors rose |
| `machine-check-corrected` | WARN | corrected-error threshold interrupts rose |
| `cpu-underloaded` | WARN | a CPU was busy less than `min_busy_fraction` of the run: the test was weaker than claimed |
| `cpu-freq-low` | WARN | the mean clock under load fell below `min_freq_fraction` of the base (or max) clock |
| `cpu-freq-not-restored` | WARN | a clock limit changed by `freq_cycle_s` could not be put back |
| `cpu-untested` | WARN | CPUs this process may not run on were left untested |
| `cpu-class-not-run` | INFO | an instruction class could not run on this machine (its library is missing or cannot load on this CPU, or the memory model does not allow it): that unit was not exercised |
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
from burnin.modules.cpu import coherence
from burnin.modules.cpu import kernels as cpu_kernels
from burnin.modules.cpu import engine
from burnin.modules.cpu.judge import (  # noqa: F401 - the module's readers and judges, importable from here
    BusyFraction, CpuTimes, CpuTopology, FreqReference, StressNgVerdict, busy_fractions, judge_busy, judge_freq,
    judge_machine_checks, judge_stress_ng, parse_interrupt_counters, parse_proc_stat, read_cpu_moment, read_freq_khz,
    read_freq_reference, topology_of,
)
from burnin.modules.cpu.monitor import Monitor
from burnin.settings import setting
from burnin.tools import cpufreq, ifs
from burnin.tools.netns import NetnsError

ENGINES = ("builtin", "stress-ng")
RELEVANT_FLAGS = frozenset({"sse4_2", "avx", "avx2", "fma", "aes", "vaes", "pclmulqdq", "sha_ni", "asimd", "sha2",
                            "crc32", "aes", "sve", "pmull", "hypervisor"})


_CPUINFO: list = []  # py-cpuinfo's answer for this machine, once per process (it takes ~1 s)


def _live_cpuinfo() -> dict:
    if not _CPUINFO:
        try:
            import cpuinfo  # py-cpuinfo: lazy, never on the --help path
            _CPUINFO.append(cpuinfo.get_cpu_info())
        except Exception:  # noqa: BLE001 - not installed or failed: /proc/cpuinfo says the same
            _CPUINFO.append({})
    return _CPUINFO[0]


@dataclass(frozen=True)
class CpuSettings:
    engines: tuple[str, ...] = setting(ENGINES, "engines, taking turns in this order (builtin, stress-ng)")
    kernels: tuple[str, ...] = setting(tuple(cpu_kernels.KERNELS), "built-in kernels the workers rotate through")
    retest_count: int = setting(3, "how often a wrong answer is recomputed on the same CPU to see if it repeats")
    min_busy_fraction: float = setting(0.97, "below this busy share of the load a CPU is reported underloaded")
    min_freq_fraction: float = setting(0.5, "below this share of the base (or max) clock under load: cpu-freq-low")
    sample_interval_s: float = setting(2.0, "how often busy time and clocks are sampled", unit="s")
    engine_slice_s: float = setting(300.0, "how long each engine runs before the other takes over", unit="s")
    freq_cycle_s: float = setting(0.0, "move the CPUs' clock limit between minimum and maximum this often while the "
                                       "built-in kernels run (0: off; restored at the end)", unit="s")
    self_test: bool = setting(True, "run the CPU vendor's per-core self-test where the kernel offers one (Intel IFS)")


def cpu_topology(host: Host, inventory: Any = None) -> dict[int, CpuTopology]:
    """Core and socket of every online CPU: the inventory's reading when it has one, else the inventory's reader."""
    logical = getattr(getattr(inventory, "cpu", None), "topology", None)
    return topology_of(logical if logical else read_cpu_topology(host))


class CpuModule(Module):
    """Every logical CPU loaded and checked against known answers; see the module docstring for verdicts."""

    name = "cpu"
    summary = ("every logical CPU at full load computing checked answers: scalar, vector FMA, AES, SHA, CRC32C, "
               "big numbers, compression, cross-core coherence (stress-ng if present)")
    needs = ("Linux", "stress-ng (optional)")
    stress = True
    Settings = CpuSettings

    def __init__(self, host: Host, settings: Mapping[str, Any] | None = None):
        super().__init__(host, settings)
        self._inputs: cpu_kernels.KernelInputs | None = None
        self._golden: dict[str, str] | None = None
        self._refs: engine.References | None = None
        self._cpu_flags: tuple[frozenset[str], str] | None = None
        self._classes_noted = False
        self._cycler: cpufreq.FreqCycler | None = None
        self._coherence_writes: Counter = Counter()  # lane writes reported per CPU, over all phases
        self._coherence_dead: set[int] = set()  # CPUs whose worker died: their last writes were not reported
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
        """The configured kernels that can run here (a kernel whose library is missing is left out: `_classes`
        says why in the journal)."""
        names = list(self.settings.kernels)
        unknown = [k for k in names if k not in cpu_kernels.KERNELS]
        if unknown:
            raise ValueError(f"unknown CPU kernels {unknown}; known: {list(cpu_kernels.KERNELS)}")
        return [k for k in names if cpu_kernels.unavailable(k) is None]

    def _flags(self) -> tuple[frozenset[str], str]:
        """The CPU's feature flags: py-cpuinfo on the live host (once, ~1 s), else /proc/cpuinfo through the host."""
        if self._cpu_flags is None:
            flags, source = None, "/proc/cpuinfo"
            if self.host.live:
                info = _live_cpuinfo()
                if info:
                    flags = frozenset(info.get("flags") or ())
                    source = f"py-cpuinfo {info.get('cpuinfo_version_string', '')}".strip()
            if not flags:
                text = self.host.read_text("/proc/cpuinfo") or ""
                line = next((ln for ln in text.splitlines() if ln.startswith(("flags", "Features"))), "")
                flags = frozenset(line.partition(":")[2].split())
            self._cpu_flags = (flags, source)
        return self._cpu_flags

    def _classes(self, ctx: ModuleContext) -> None:
        """Journal which instruction classes run on this CPU, the unit each exercises, and why others do not."""
        if self._classes_noted:
            return
        self._classes_noted = True
        flags, source = self._flags()
        configured = list(self.settings.kernels)
        crc_hw = None if cpu_kernels.unavailable("crc32c") else cpu_kernels._vector.crc32c_is_hardware()
        classes = {}
        for cls in cpu_kernels.CLASSES:
            kernels = [k for k, c in cpu_kernels.CLASS_OF.items() if c == cls]
            running = [k for k in kernels if k in configured and cpu_kernels.unavailable(k) is None]
            why_not = {k: cpu_kernels.unavailable(k) or "left out by the profile's 'kernels' setting"
                       for k in kernels if k not in running}
            classes[cls] = {"runs": bool(running), "verified": bool(running), "kernels": running,
                            "unit": cpu_kernels.unit_of(cls, flags, crc_hw), "not_run": why_not}
        extra = {}
        if any(k in cpu_kernels._vector.NUMPY_KERNELS for k in self._kernel_names()):
            extra["blas"] = cpu_kernels._vector.blas_info()
        for cls, seen in classes.items():
            cannot = {k: why for k, why in seen["not_run"].items() if k in configured}
            if not seen["runs"] and cannot:
                ctx.info("cpu:all", "cpu-class-not-run",
                         f"The {cls} class ({seen['unit']}) was not exercised: {next(iter(cannot.values()))}.",
                         {"class": cls, "not_run": cannot})
        ctx.note("instruction classes", classes=classes, flags_source=source,
                 flags=sorted(f for f in flags if f in RELEVANT_FLAGS or f.startswith("avx512")), **extra)
        for role, seam in engine.seams().items():
            ctx.note(f"TEST FAULT SEAM ACTIVE ({role}): results are corrupted on purpose", role=role, cpu=seam.cpu,
                     kernel=seam.kernel, rate=seam.rate)

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

    def _reference(self, ctx: ModuleContext, cpus: list[int]) -> tuple[cpu_kernels.KernelInputs, dict[str, str]]:
        """Inputs (made in this process, shared with the workers by fork) and reference answers, computed on two
        CPUs of different physical cores; where they disagree, the votes of more computations decide, and a CPU
        that computed a reference wrong is charged (`engine.compute_references`)."""
        names = self._kernel_names()
        if self._inputs is None:
            self._classes(ctx)
            self._inputs = cpu_kernels.make_inputs(names=names, cpus=cpus)
        decided = set(self._refs.decisions) | set(self._refs.errors) if self._refs is not None else set()
        todo = [n for n in names if n not in (self._golden or {}) and n not in decided]
        if todo:  # the first time, or what a phase cut short left to compute
            new = engine.compute_references(ctx, cpus, self._topology or {}, todo, self._inputs)
            missing = [n for n in todo if n not in new.golden and n not in new.decisions and n not in new.errors]
            ctx.note("reference answers", cpus=new.cpus, kernels=len(new.golden), not_computed=missing,
                     left_out_kernel_errors=new.errors,
                     disputed={k: [(v.cpu, v.role, v.answer) for v in d.votes]
                               for k, d in new.decisions.items() if d.charged or d.accepted is None})
            self._report_reference_charges(ctx, new)
            old = self._refs or engine.References({}, {}, new.cpus)
            self._refs = engine.References({**old.golden, **new.golden}, {**old.decisions, **new.decisions}, new.cpus,
                                           {**old.errors, **new.errors})
            self._golden = self._refs.golden
        return self._inputs, self._golden or {}

    def _report_reference_charges(self, ctx: ModuleContext, refs: engine.References) -> None:
        topology = self._topology or {}
        charged: dict[int, dict[str, tuple]] = {}
        for kernel, decision in refs.decisions.items():
            if decision.accepted is None:
                involved = sorted({v.cpu for v in decision.votes})
                ctx.fail(
                    f"cpu:{format_cpulist(involved)}", "cpu-wrong-result",
                    f"CPUs {format_cpulist(involved)} computed different reference answers for the {kernel} test and "
                    "no two cores agree: one of them miscalculates, and without a third core burnin cannot tell which. "
                    "That test is left out of the run.",
                    {"kernel": kernel, "phase": ctx.phase, "role": "verifier",
                     "votes": [(v.cpu, v.role, v.answer) for v in decision.votes]},
                )
                continue
            for v in decision.charged:
                charged.setdefault(v.cpu, {})[kernel] = (v, decision)
        for cpu, kernels in sorted(charged.items()):
            topo = topology.get(cpu, CpuTopology(cpu, None, None))
            roles = sorted({v.role for v, _ in kernels.values()})
            ctx.fail(
                topo.component, "cpu-wrong-result",
                f"CPU {cpu} (core {topo.core_id}, socket {topo.socket_id}) computed wrong reference answers for "
                f"{len(kernels)} test(s) ({', '.join(kernels)}) where other computations agree; the fault is this "
                f"CPU's ({'as the verifier' if roles == ['verifier'] else 'in every role'}).",
                {"kernels": list(kernels), "phase": ctx.phase, "role": roles,
                 "answers": {k: {"expected": d.accepted, "actual": v.answer,
                                 "votes": [(x.cpu, x.role, x.answer) for x in d.votes]}
                             for k, (v, d) in list(kernels.items())[:5]},
                 "at_miscompare": self._moment(cpu)},
            )

    def _moment(self, cpu: int) -> dict[str, Any]:
        """The CPU's clock, clock limit and temperature right now (at a miscompare)."""
        topo = (self._topology or {}).get(cpu, CpuTopology(cpu, None, None))
        return read_cpu_moment(self.host, cpu, topo)

    def _accuser(self, cpus: list[int]) -> engine.Accuser:
        assert self._inputs is not None and self._refs is not None
        return engine.Accuser(self.host, cpus, self._topology or {}, self._inputs, self._refs.cpus,
                              self.settings.retest_count, moment=self._moment)

    def _runnable(self, names: list[str]) -> list[str]:
        return [n for n in names if self._golden is not None and n in self._golden]

    def _check_lanes(self, ctx: ModuleContext, tally: engine.BuiltinTally) -> None:
        """Coherence: count this phase's lane writes, then read every lane back from this process."""
        lanes = self._inputs.lanes if self._inputs is not None else None
        if lanes is None:
            return
        for cpu, counts in tally.iterations.items():
            self._coherence_writes[cpu] += counts.get("coherence", 0) * coherence.ROUNDS
        self._coherence_dead.update(tally.deaths)
        self._coherence_dead.update(tally.killed)
        topology = self._topology or {}
        for problem in coherence.final_state(lanes, self._coherence_writes, skip=sorted(self._coherence_dead)):
            topo = topology.get(problem.cpu, CpuTopology(problem.cpu, None, None))
            ctx.fail(topo.component, "cpu-coherence",
                     f"{problem.message}: a write by CPU {problem.cpu} (core {topo.core_id}, socket {topo.socket_id}) "
                     "did not reach memory as written, seen from another core.",
                     {"seq": problem.seq, "expected_writes": problem.expected_writes, "phase": ctx.phase})

    # -- check: every kernel once on every CPU ----------------------------------------------------
    def check(self, ctx: ModuleContext) -> None:
        self._recover_limits(ctx)
        cpus = self._cpus(ctx)
        if not self._kernel_names():
            raise Skip("no built-in kernels configured (setting 'kernels' is empty)")
        inputs, golden = self._reference(ctx, cpus)
        names = self._runnable(self._kernel_names())
        pool = engine.worker_pool(cpus, names, golden, inputs, self.settings.retest_count, rounds=1)
        tally = engine.run_builtin(ctx, pool, self._topology or {}, None, None, None, once=True,
                                   accuser=self._accuser(cpus))
        self._check_lanes(ctx, tally)
        self._self_tests(ctx, cpus)
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
            self._reference(ctx, cpus)
        monitor = Monitor(self.host, cpus, self._topology or {})
        monitor.begin(ctx)
        interval = max(0.2, self.settings.sample_interval_s)
        engine_ok: dict[str, bool] = {}
        tool_problems: list[str] = []
        self._start_cycle(ctx)
        try:
            for engine_name, until, final in engine_slices(ctx, engines, self.settings.engine_slice_s):
                if engine_name == "builtin":
                    ok = self._run_builtin(ctx, cpus, names, until, monitor, interval)
                else:
                    ok, problems = engine.run_stress_ng(ctx, self.host, cpus, self._topology or {}, until, monitor,
                                                        final=final, interval_s=interval)
                    tool_problems.extend(problems)
                engine_ok[engine_name] = engine_ok.get(engine_name, True) and ok
        finally:
            self._end_cycle(ctx)
        monitor.finish(ctx, self.settings.min_busy_fraction, self.settings.min_freq_fraction)
        if engine_ok and not any(engine_ok.values()):
            if tool_problems:
                raise RuntimeError("stress-ng, the only CPU engine that ran, could not test: "
                                   + "; ".join(tool_problems[:3]))
            raise Skip("stress-ng, the only CPU engine that ran, skipped its CPU stressor (see notes)")

    def _run_builtin(self, ctx: ModuleContext, cpus, names, until: float, monitor: Monitor, interval: float) -> bool:
        inputs, golden = self._reference(ctx, cpus)
        names = self._runnable(names)
        ctx.note("engine", engine="builtin", cpus=format_cpulist(cpus), kernels=names,
                 seconds=round(max(0.0, until - time.monotonic()), 1))
        pool = engine.worker_pool(cpus, names, golden, inputs, self.settings.retest_count)
        started = time.monotonic()
        tally = engine.run_builtin(ctx, pool, self._topology or {}, until, monitor, interval,
                                   accuser=self._accuser(cpus), tick_extra=self._tick_extra(ctx))
        self._check_lanes(ctx, tally)
        per_kernel = dict(sum(tally.iterations.values(), Counter()))
        seconds = max(1e-9, time.monotonic() - started)
        gflop = sum(cpu_kernels._vector.flops(k) * n for k, n in per_kernel.items()) / 1e9
        ctx.note("engine done", engine="builtin",
                 iterations_per_cpu={cpu: sum(c.values()) for cpu, c in sorted(tally.iterations.items())},
                 iterations_per_kernel=per_kernel,
                 verified_gflop_per_s=round(gflop / seconds, 2) if gflop else None,
                 mismatches={cpu: dict(c) for cpu, c in tally.mismatches.items() if c},
                 worker_deaths=dict(tally.deaths))
        return True

    def _tick_extra(self, ctx: ModuleContext):
        """What else runs with the load: the frequency-limit cycle (`freq_cycle_s`)."""
        cycler = self._cycler
        if cycler is None:
            return None

        def tick() -> None:
            if self._cycler is None:
                return
            try:
                if cycler.tick():
                    ctx.sample({"freq_limit_high:all": 1.0 if cycler.high else 0.0})
            except OSError as exc:  # the kernel refused a limit: stop cycling, put back what was changed
                ctx.note("clock-limit cycling stopped: a limit could not be written", error=str(exc))
                self._end_cycle(ctx)
        return tick

    def _recover_limits(self, ctx: ModuleContext) -> None:
        """Clock limits that an earlier run killed mid-cycle left behind go back first."""
        try:
            for done in cpufreq.recover(self.host):
                ctx.note("clock limits of an earlier, killed run restored", **done)
        except (OSError, NetnsError) as exc:  # no writable state directory: nothing can have been left there
            ctx.note("clock-limit ledgers could not be read", error=str(exc))

    def _start_cycle(self, ctx: ModuleContext) -> None:
        self._recover_limits(ctx)
        if self.settings.freq_cycle_s <= 0:
            return
        limits, why = cpufreq.cycle_limits(self.host)
        if why:
            ctx.note(f"clock-limit cycling not possible: {why}", reason=why)
            return
        try:
            self._cycler = cpufreq.FreqCycler(self.host, limits, self.settings.freq_cycle_s)
        except (OSError, NetnsError) as exc:  # no ledger, no change: a limit must never be left unrecorded
            ctx.note(f"clock-limit cycling not possible: no restore ledger ({exc})", reason=str(exc))
            return
        ctx.note("clock-limit cycling", period_s=self.settings.freq_cycle_s,
                 limits=[{"path": lim.path, "low": lim.low, "high": lim.high} for lim in limits],
                 ledger=str(self._cycler.ledger.path))

    def _end_cycle(self, ctx: ModuleContext) -> None:
        cycler, self._cycler = self._cycler, None
        if cycler is None:
            return
        problems = cycler.restore()
        ctx.note("clock limits restored", switches=cycler.switches, problems=problems)
        if problems:
            ctx.warn("cpu:all", "cpu-freq-not-restored",
                     "The CPUs' clock limits could not all be put back after the test: the machine may run slower "
                     "until they are reset (or it reboots).", {"problems": problems})

    # -- vendor self-tests ------------------------------------------------------------------------------
    def _self_tests(self, ctx: ModuleContext, cpus: list[int]) -> None:
        """Intel In-Field Scan per core where the driver is loaded; AMD has no such interface."""
        if not self.settings.self_test:
            return
        found = ifs.devices(self.host)
        if not found:
            vendor = (self.host.read_text("/proc/cpuinfo") or "")
            why = ("AMD processors have no in-field self-test interface in Linux" if "AuthenticAMD" in vendor
                   else "the intel_ifs driver is not loaded (Sapphire Rapids and later Xeons only)")
            ctx.note(f"no vendor self-test: {why}", reason=why)
            return
        topology = self._topology or {}
        per_core: dict[tuple, int] = {}
        for cpu in cpus:
            topo = topology.get(cpu, CpuTopology(cpu, None, None))
            per_core.setdefault((topo.socket_id, topo.core_id if topo.core_id is not None else cpu), cpu)
        for device in found:
            for cpu in per_core.values():
                if ctx.stopping():
                    return
                self._judge_ifs(ctx, ifs.run_core(self.host, device, cpu))

    def _judge_ifs(self, ctx: ModuleContext, result: "ifs.IfsResult") -> None:
        topo = (self._topology or {}).get(result.cpu, CpuTopology(result.cpu, None, None))
        ppin = (self.host.read_text(f"/sys/devices/system/cpu/cpu{result.cpu}/topology/ppin") or "").strip() or None
        evidence = {"device": result.device, "test": result.test, "status": result.status, "details": result.details,
                    "image_version": result.image_version, "ppin": ppin, "error": result.error}
        if result.status == "fail" and result.error is None:
            ctx.fail(topo.component, "cpu-self-test-failed",
                     f"The processor's own {result.test} self-test (Intel In-Field Scan) failed on core "
                     f"{topo.core_id} of socket {topo.socket_id} (PPIN {ppin or 'unknown'}): the core is faulty.",
                     evidence)
        elif result.status == "pass" and result.error is None:
            ctx.note(f"{result.test} self-test passed on CPU {result.cpu}", **evidence)
        else:
            ctx.info(topo.component, "cpu-self-test-skipped",
                     f"The processor's {result.test} self-test did not complete on core {topo.core_id} "
                     f"(status {result.status or 'unreadable'}{', ' + result.error if result.error else ''}): "
                     "that part was not tested.", evidence)
