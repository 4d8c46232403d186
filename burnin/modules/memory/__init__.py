"""Memory: pattern tests on every NUMA node, bandwidth per node, and the ECC error counters of every DIMM.

Engines (setting `engines`; with both, the run phase alternates them in slices of `engine_slice_s`; both run
as loads of `burnin.load`, which stops them at the deadline):
- ``builtin`` (`memory.patterns`): per NUMA node, one worker process per CPU of the node (or
  `workers_per_node`), pinned to the node's CPUs so its memory is placed there (first touch), locked in memory
  where allowed (`lock_memory`). The workers sweep their share of memory with solid, checkerboard, walking
  ones/zeros, seeded random, address-in-address and moving-inversion patterns (`patterns`, `seed`).
- ``stressapptest`` (where installed): one run per node, bound to the node's CPUs (taskset), over the same
  amount of memory, with `stressapptest_args` added (e.g. ``["-W"]``) and power-spike pauses every
  `stressapptest_pause_delay_s` (0: its default). It is very good at memory-bus and signal-integrity faults. Its
  own verdict is folded in; the journal's "engine" notes say which engine ran when.
How much memory: `share_of_available` of MemAvailable, never more than MemAvailable minus a reserve (the larger
of `reserve_mib` and `reserve_pct` of MemTotal), never more than the free part of this process's memory cgroup,
and at most `max_mib` (0: no cap). Workers raise their own oom_score_adj to +500 so that under memory pressure
the kernel kills a worker, never the agent.

Bandwidth (`memory.bandwidth`; start of run, setting `bandwidth`): read, write and copy GB/s per NUMA node, one
pinned thread per CPU (the same number on every node), samples ``mem_read_gbps:nodeN`` ... It is compared with the
node's siblings (the main signal: same machine, same method) and, as information only, with what its populated
DIMMs could give (channels x configured MT/s x 8 bytes, from the inventory; a few Python threads rarely come close).

ECC (`memory.ecc`, EDAC counters through `burnin.tools.edac`): read in check(), every `edac_interval_s` during
run() and in finish(); each finding names the DIMM by its EDAC label and, where the label or location can be
matched, by the inventory's slot name. On a captured tree (--sysroot) check() judges its ECC counters alone.

Sizing and NUMA nodes: `memory.plan`; the engines: `memory.engine`.

Findings:

| code | severity | when |
|------|----------|------|
| `memory-mismatch` | FAIL | a pattern check or stressapptest found wrong data (virtual and physical address, expected and actual word, flipped bits, NUMA node, and the DIMM that holds the address by the EDAC driver's decoder, else the firmware's SMBIOS type 20 map, else "address only, no decoder on this platform": `memory.locate`) |
| `memory-worker-died` | FAIL | a worker crashed under load, e.g. SIGBUS from a poisoned page; WARN when it was killed from outside (SIGKILL while memory was not short) |
| `ecc-uncorrected` | FAIL | an uncorrected ECC error, since boot or during the run |
| `ecc-corrected-rate` | FAIL | corrected ECC errors at more than `ce_per_hour_fail` per hour (over a window of at least one hour, so one error in a short run is not a rate) |
| `memory-bandwidth-low` | WARN | a node's bandwidth below `min_sibling_fraction` of its siblings' (FAIL when `sibling_severity` is "fail") |
| `ecc-corrected` | WARN | any corrected ECC error |
| `memory-worker-oom-killed` | WARN | the OOM killer ended a worker, so that memory was not tested to the end (severity `worker_oom_killed`) |
| `ecc-reporting` | INFO | whether ECC reporting was proven (an EINJ-injected correctable error counted on exactly one DIMM), unverified (and why), or not applicable (no ECC); the verdict block shows it |
| `tool-error` | WARN | stressapptest could not run properly (if it was the only engine the phase raises: ERROR) |
| `memory-worker-error` | WARN | a worker could not allocate or failed |
| `ecc-counters-unavailable` | INFO | no EDAC driver, so ECC errors cannot be seen |
| `memory-bandwidth` | INFO | per-node bandwidth against the DIMMs' theoretical figure; a node below `min_expected_fraction` of it is named |
| `memory-bandwidth-below-expected` | INFO | such a node as its own finding, when `expected_severity` is "warn" or "fail" (that severity) |

A DIMM that vanished during the run is reported by the inventory module (`memory-shrank`, `hardware-vanished`),
not here.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any, Mapping

from burnin.host import Host
from burnin.inventory.memory import parse_cpulist, read_numa_nodes
from burnin.load import engine_slices, pick_engines
from burnin.model import Probe
from burnin.module import Module, ModuleContext, Skip
from burnin.modules.memory import bandwidth, eccproof, patterns
from burnin.modules.memory.bandwidth import Expectation, expected_bandwidth, judge_bandwidth  # noqa: F401
from burnin.modules.memory.ecc import DURING, SINCE_RESET, EccWatch, judge_ecc, match_dimm  # noqa: F401
from burnin.modules.memory.engine import Engines
from burnin.modules.memory.plan import (  # noqa: F401 - the module's readers and sizing, importable from here
    MIB, CgroupMemory, Meminfo, MemoryPlan, NodeInfo, cpu_packages, node_sockets, parse_meminfo, parse_node_meminfo,
    plan_memory, read_cgroup_memory, read_oom_kills, split_workers,
)
from burnin.settings import setting
from burnin.tools import edac

ENGINES = ("builtin", "stressapptest")
_SEVERITIES = ("fail", "warn", "info")


@dataclass(frozen=True)
class MemorySettings:
    engines: tuple[str, ...] = setting(ENGINES, "engines, taking turns in this order (builtin, stressapptest)")
    share_of_available: float = setting(0.5, "share of MemAvailable to test")
    max_mib: int = setting(0, "at most this much memory (0: no cap)", unit="MiB")
    reserve_mib: int = setting(1024, "memory always left free (or reserve_pct of MemTotal, the larger)", unit="MiB")
    reserve_pct: float = setting(5.0, "memory always left free, as a share of MemTotal", unit="%")
    workers_per_node: int = setting(0, "pattern workers per NUMA node (0: one per CPU of the node)")
    patterns: tuple[str, ...] = setting(patterns.PATTERNS, "built-in patterns, in this order each round")
    seed: int = setting(0, "seed of the random patterns (0: a new one each run)")
    lock_memory: bool = setting(True, "lock the tested memory (mlock) where allowed, so it is not swapped")
    engine_slice_s: float = setting(300.0, "how long each engine runs before the other takes over", unit="s")
    sample_interval_s: float = setting(2.0, "how often verified GB/s and MemAvailable are sampled", unit="s")
    bandwidth: bool = setting(True, "measure read/write/copy bandwidth per node at the start of the run")
    bandwidth_mib: int = setting(64, "buffer per bandwidth thread", unit="MiB")
    bandwidth_seconds: float = setting(0.3, "time per bandwidth measurement (read, write, copy)", unit="s")
    min_sibling_fraction: float = setting(0.6, "a node reading slower than this share of its siblings is low")
    sibling_severity: str = setting("warn", "severity of memory-bandwidth-low", choices=_SEVERITIES)
    min_expected_fraction: float = setting(0.1, "a node below this share of its DIMMs' figure is named")
    expected_severity: str = setting("info", "severity of memory-bandwidth-below-expected (info: none of its own)",
                                     choices=_SEVERITIES)
    ce_per_hour_fail: float = setting(10.0, "corrected ECC errors per hour above which they FAIL", unit="/h")
    edac_interval_s: float = setting(10.0, "how often the ECC counters are read during the run", unit="s")
    worker_oom_killed: str = setting("warn", "severity when the OOM killer ends a worker", choices=("warn", "fail"))
    stressapptest_pause_delay_s: int = setting(0, "stressapptest's power-spike pause period (0: its default)",
                                               unit="s")
    stressapptest_args: tuple[str, ...] = setting((), "extra stressapptest arguments, e.g. [\"-W\"]")
    ecc_proof: bool = setting(False, "prove ECC reporting: inject one correctable memory error through ACPI EINJ "
                              "into a page burnin owns and expect one DIMM's EDAC counter to rise")
    ecc_proof_timeout_s: float = setting(10.0, "how long the injected error may take to be counted", unit="s")


class MemoryModule(Module):
    """Pattern tests per NUMA node, bandwidth per node, ECC counters per DIMM; see the module docstring."""

    name = "memory"
    summary = "memory patterns on every NUMA node (built-in, stressapptest if present), bandwidth, ECC counters"
    needs = ("Linux", "root for physical addresses and memory locking (optional)", "stressapptest (optional)",
             "an EDAC driver for ECC counters (optional)")
    stress = True
    judges_captures = True  # check() and finish() judge the ECC counters of a captured tree; only run() needs the host
    Settings = MemorySettings

    def __init__(self, host: Host, settings: Mapping[str, Any] | None = None):
        super().__init__(host, settings)
        self.ecc = EccWatch(host, self.settings.edac_interval_s, self.settings.ce_per_hour_fail)
        self._nodes: dict[int, NodeInfo] | None = None
        self._seed: int | None = None
        self._engine_ran: dict[str, bool] = {}

    # -- setup -------------------------------------------------------------------------------------
    def probe(self) -> Probe:
        if not hasattr(os, "sched_setaffinity") or not hasattr(patterns.mmap, "MAP_ANONYMOUS"):
            return Probe.unavailable("needs Linux (anonymous mmap and CPU pinning)")
        unknown = [p for p in self.settings.patterns if p not in patterns.PATTERNS]
        if unknown:
            return Probe.unavailable(f"unknown memory patterns {unknown}; known: {list(patterns.PATTERNS)}")
        if not self._engines(quiet=True):
            return Probe.unavailable("stressapptest is not installed and the built-in engine is not enabled")
        return Probe.ok()

    def _engines(self, ctx: ModuleContext | None = None, quiet: bool = False) -> list[str]:
        def missing(engine: str) -> str | None:
            if engine == "stressapptest" and not self.host.which("stressapptest"):
                return "stressapptest is not installed: built-in engine only"
            return None

        return pick_engines(self.settings.engines, ENGINES, missing, None if quiet or ctx is None else ctx.note)

    def _seed_value(self) -> int:
        if self._seed is None:
            configured = self.settings.seed
            self._seed = configured if configured else int.from_bytes(os.urandom(4), "little") or 1
        return self._seed

    def nodes(self, ctx: ModuleContext) -> dict[int, NodeInfo]:
        """The NUMA nodes with the CPUs this process may use; nodes without such CPUs are noted and left out."""
        if self._nodes is not None:
            return self._nodes
        inventory = ctx.inventory
        packages = cpu_packages(inventory, self.host)
        numa = list(getattr(getattr(inventory, "memory", None), "numa_nodes", ()) or ()) or read_numa_nodes(self.host)
        allowed = set(os.sched_getaffinity(0))
        found: dict[int, NodeInfo] = {}
        if not numa:
            found[0] = NodeInfo(0, tuple(sorted(allowed)), None, None, node_sockets(packages, allowed))
        for n in numa:
            cpus = tuple(c for c in parse_cpulist(n.cpulist) if c in allowed)
            total, available = parse_node_meminfo(self.host.read_text(f"/sys/devices/system/node/node{n.node}/meminfo"))
            if not cpus:
                ctx.note(f"NUMA node {n.node} has no CPU this process may run on (a memory-only node, or a "
                         "cpuset): its memory is not tested by the pattern engines", node=n.node,
                         cpulist=n.cpulist)
                continue
            found[n.node] = NodeInfo(n.node, cpus, available, total or n.mem_total_bytes,
                                     node_sockets(packages, cpus))
        if not found:
            raise Skip("no NUMA node has a CPU this process may run on")
        self._nodes = found
        return found

    def plan(self, ctx: ModuleContext) -> MemoryPlan:
        meminfo = parse_meminfo(self.host.read_text("/proc/meminfo"))
        if not meminfo.available:
            raise Skip("MemAvailable not readable from /proc/meminfo: cannot size the test safely")
        s = self.settings
        return plan_memory(meminfo, list(self.nodes(ctx).values()), s.share_of_available, s.max_mib, s.reserve_mib,
                           s.reserve_pct, read_cgroup_memory(self.host))

    # -- phases ------------------------------------------------------------------------------------
    def check(self, ctx: ModuleContext) -> None:
        self.ecc.begin(ctx)
        self.ecc.since_reset(ctx)
        self.prove_ecc(ctx)
        if self.host.live:
            plan = self.plan(ctx)
            ctx.note("memory plan", seed=self._seed_value(),
                     nodes={n: list(i.cpus) for n, i in self.nodes(ctx).items()}, **plan.to_record())

    def prove_ecc(self, ctx: ModuleContext) -> None:
        """Whether ECC reporting is proven, unverified (and why) or not applicable: one INFO finding, always."""
        memory = getattr(ctx.inventory, "memory", None)
        ecc = getattr(memory, "ecc", None)
        ecc_types = tuple(k.strip() for k in ecc.split(",")) if ecc else None
        proof = eccproof.gather(self.host, ecc_types, self.settings.ecc_proof)
        if proof.status == eccproof.INJECT:
            proof = eccproof.prove(self.host, self.settings.ecc_proof_timeout_s,
                                   names=lambda snapshot: self.ecc.names(ctx, snapshot))
            # The injected error is not the machine's: the run's ECC window starts after it.
            if self.ecc.start is not None and self.ecc.start.available:
                self.ecc.start = self.ecc.last = edac.read_edac(self.host)
        ctx.info("memory", "ecc-reporting", proof.line() + ".",
                 {"status": proof.status, "why": proof.why, **proof.evidence})

    def run(self, ctx: ModuleContext) -> None:
        if self.ecc.start is None:
            self.ecc.begin(ctx)
        engines = self._engines(ctx)
        if not engines:
            raise Skip("no memory engine: stressapptest is not installed and the built-in engine is disabled")
        nodes = self.nodes(ctx)
        if self.settings.bandwidth and not ctx.stopping():
            bandwidth.measure_and_judge(ctx, nodes, self.settings)
        self.ecc.poll(ctx)
        runner = Engines(self.host, self.settings, nodes, self.ecc, self._seed_value())
        engine_ok: dict[str, bool] = {}
        problems: list[str] = []
        for engine, until, final in engine_slices(ctx, engines, self.settings.engine_slice_s):
            plan = self.plan(ctx)
            if not plan.per_node:
                ctx.note("nothing to test: no memory left after the reserve", **plan.to_record())
                continue
            if engine == "builtin":
                ok = runner.run_builtin(ctx, plan, until)
            else:
                ok, more = runner.run_stressapptest(ctx, plan, until, final)
                problems.extend(more)
            engine_ok[engine] = engine_ok.get(engine, True) and ok
        self.ecc.poll(ctx, force=True)
        self._engine_ran.update(engine_ok)
        if any(engine_ok.values()):
            return
        if problems:
            raise RuntimeError("stressapptest, the only memory engine that ran, could not test: "
                               + "; ".join(problems[:3]))
        cancelled = ctx.stopping() and time.monotonic() < ctx.deadline
        if not cancelled and not runner.explained:
            # Asked to test memory and did not: not a pass, and not "nothing to test" either.
            raise RuntimeError("no memory was verified: " + ("no engine had time to run in the run phase"
                                                             if not engine_ok else "see the notes for why"))

    def finish(self, ctx: ModuleContext) -> None:
        if self.ecc.start is None:
            self.ecc.begin(ctx)
            return
        self.ecc.finish(ctx)
