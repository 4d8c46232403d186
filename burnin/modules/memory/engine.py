"""The memory module's pattern engines, run as loads (`burnin.load`): built-in pattern workers, and stressapptest.

The built-in workers (`patterns.worker_main`) run in a `WorkerPool`, one process per worker spec, pinned to
their node's CPUs so their memory is placed there; what they send back is tallied and judged here. stressapptest
runs as one `ProgramLoad` per node (`stressapptest.program`), bound to the node's CPUs with taskset.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Mapping

from burnin.host import Host, natural_key
from burnin.load import ProgramLoad, WorkerPool, describe_exit, drive, exit_signal
from burnin.module import ModuleContext
from burnin.modules.memory import locate, patterns
from burnin.modules.memory.ecc import EccWatch, dimms
from burnin.modules.memory.plan import MIB, MemoryPlan, NodeInfo, parse_meminfo, read_oom_kills, split_workers
from burnin.tools import stressapptest

SAT_MARGIN_S = 3.0  # left at the end of the last slice for stressapptest's final check and report
SAT_OOM_SCORE_ADJ = 500  # stressapptest, like our workers, goes first when memory runs short: never the agent
MAX_MISMATCH_FINDINGS = 5  # per engine slice; the rest are counted in the journal


@dataclass
class Tally:
    verified: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # node -> bytes checked
    written: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    since_sample: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    passes: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    mismatched_words: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    findings: int = 0
    errors: dict[int, str] = field(default_factory=dict)
    died: set = field(default_factory=set)
    locked: dict[int, int] = field(default_factory=dict)
    lock_errors: set = field(default_factory=set)


class Engines:
    """Both engines over one module run: what they share is the node map, the ECC watch and the settings."""

    def __init__(self, host: Host, settings: Any, nodes: Mapping[int, NodeInfo], ecc: EccWatch, seed: int):
        self.host = host
        self.settings = settings
        self.nodes = nodes
        self.ecc = ecc
        self.seed = seed
        self.explained = False  # a finding already says why some memory went untested
        self._smbios: Any = None  # the host's SMBIOS tables (type 20: which DIMM holds an address), read once

    def locate(self, ctx: ModuleContext, physical: str | None) -> locate.DimmLocation:
        """The DIMM behind a miscompare's physical address ("0x1234"), by the best decoder this platform has."""
        if self._smbios is None:
            from burnin.inventory.smbios import read_host_tables

            self._smbios = read_host_tables(self.host)[0] or False
        tables = self._smbios or None
        try:
            phys = int(physical, 16) if physical else None
        except ValueError:
            phys = None
        return locate.locate(phys, host=self.host, mapped=tables.memory_mapped if tables else (),
                             devices=tables.memory_devices if tables else (),
                             names=lambda snapshot: self.ecc.names(ctx, snapshot), discount=self.ecc.discount)

    def candidates(self, ctx: ModuleContext, node: NodeInfo | None) -> list[str]:
        """The populated DIMMs on the node's socket(s): where wrong data may live."""
        populated = [d for d in dimms(ctx) if d.populated]
        if node is None or not populated:
            return []
        return sorted((d.name for d in populated if d.place.socket in node.sockets), key=natural_key)

    # -- the built-in engine -------------------------------------------------------------------------
    def specs(self, plan: MemoryPlan) -> list[patterns.WorkerSpec]:
        specs = []
        for n, size in sorted(plan.per_node.items()):
            for cpus, each in split_workers(size, self.nodes[n].cpus, self.settings.workers_per_node):
                specs.append(patterns.WorkerSpec(
                    worker=len(specs), node=n, cpus=cpus, size=each, patterns=tuple(self.settings.patterns),
                    seed=self.seed, pagemap=str(self.host.path("/proc/self/pagemap")),
                    oom_score_adj_path=str(self.host.path("/proc/self/oom_score_adj")),
                    lock=self.settings.lock_memory,
                ))
        return specs

    def run_builtin(self, ctx: ModuleContext, plan: MemoryPlan, until: float) -> bool:
        specs = self.specs(plan)
        if not specs:
            ctx.note("built-in engine: nothing to test", **plan.to_record())
            return False
        ctx.note("engine", engine="builtin", seed=self.seed, patterns=list(specs[0].patterns),
                 workers=[{"worker": s.worker, "node": s.node, "cpus": list(s.cpus), "mib": s.size // MIB}
                          for s in specs], seconds=round(max(0.0, until - time.monotonic()), 1), **plan.to_record())
        tally = Tally()
        oom_before = read_oom_kills(self.host)
        by_worker = {s.worker: s for s in specs}
        pool = WorkerPool("memory", patterns.worker_main, {s.worker: (s,) for s in specs},
                          cpus={s.worker: s.cpus for s in specs})

        def tick() -> None:
            self._handle(ctx, pool, by_worker, tally, oom_before, plan)
            self.ecc.poll(ctx)

        def sample(_metrics: dict, elapsed: float) -> None:
            metrics = {f"mem_verified_gbps:node{n}": round(b / elapsed / 1e9, 3)
                       for n, b in tally.since_sample.items()} if elapsed > 0 else {}
            # How much memory has been checked so far: the dashboard's "12.4 GiB verified".
            metrics.update({f"mem_verified_gib:node{n}": round(b / 2**30, 3) for n, b in tally.verified.items()})
            meminfo = parse_meminfo(self.host.read_text("/proc/meminfo"))
            if meminfo.available is not None:
                metrics["mem_available_mib"] = meminfo.available // MIB
            ctx.sample(metrics)
            tally.since_sample.clear()

        drive(ctx, [pool], until=until, interval_s=max(0.2, self.settings.sample_interval_s), tick=tick,
              sample=sample, engine="builtin")
        self._handle(ctx, pool, by_worker, tally, oom_before, plan)
        ctx.note("engine done", engine="builtin",
                 verified_mib={n: b // MIB for n, b in tally.verified.items()},
                 written_mib={n: b // MIB for n, b in tally.written.items()},
                 passes_completed=dict(tally.passes), mismatched_words=dict(tally.mismatched_words),
                 locked_mib={w: b // MIB for w, b in tally.locked.items()}, workers_died=sorted(tally.died))
        return sum(tally.verified.values()) > 0

    def _handle(self, ctx: ModuleContext, pool: WorkerPool, specs: Mapping[int, patterns.WorkerSpec], tally: Tally,
                oom_before: int | None, plan: MemoryPlan) -> None:
        for event in pool.events():
            kind, wid = event[0], event[1]
            spec = specs[wid]
            if kind == "progress":
                data = event[2]
                tally.verified[spec.node] += data["verified"]
                tally.written[spec.node] += data["written"]
                tally.since_sample[spec.node] += data["verified"]
                tally.mismatched_words[spec.node] += data["mismatched_words"]
                tally.passes[spec.node] += data["passes"]
            elif kind == "ready":
                info = event[2]
                tally.locked[wid] = info["locked"]
                if info.get("lock_error") and "lock" not in tally.lock_errors:
                    tally.lock_errors.add("lock")
                    ctx.note("memory could not be locked (mlock); the test runs unlocked", error=info["lock_error"])
            elif kind == "mismatch":
                self._mismatch(ctx, tally, spec, event[2])
            elif kind == "error":
                tally.errors[wid] = event[2]
            elif kind == "exit":
                exitcode, asked = event[2], event[3]
                if asked and (exitcode in (0, None) or exit_signal(exitcode) in ("SIGKILL", "SIGTERM")):
                    continue
                if exitcode == 0:
                    continue
                tally.died.add(wid)
                self._worker_died(ctx, spec, exitcode, tally.errors.pop(wid, None), oom_before, plan)

    def _mismatch(self, ctx: ModuleContext, tally: Tally, spec: patterns.WorkerSpec, data: dict) -> None:
        if tally.findings >= MAX_MISMATCH_FINDINGS:
            return
        tally.findings += 1
        node = self.nodes.get(spec.node)
        bits = data["flipped_bits"]
        bit_text = (f"bit {bits[0]}" if len(bits) == 1 else f"{len(bits)} bits ({', '.join(map(str, bits[:8]))}"
                    f"{', ...' if len(bits) > 8 else ''})")
        where = node.label if node else f"node {spec.node}"
        phys = data.get("physical_address")
        hint = self.ecc.hint(ctx)  # before the decoder adds its own count
        dimm = self.locate(ctx, phys)
        ctx.fail(
            f"memory:node{spec.node}", "memory-mismatch",
            f"Memory on NUMA {where} returned wrong data: {bit_text} of the word at "
            f"{phys or data['virtual_address']} flipped (expected {data['expected']}, read {data['actual']}) in the "
            f"{data['pattern']} test: {dimm.text}.",
            {"engine": "builtin", "phase": ctx.phase, **data, "dimm_candidates": self.candidates(ctx, node),
             "dimm_location": dimm.to_record(), **hint},
        )

    def _worker_died(self, ctx: ModuleContext, spec: patterns.WorkerSpec, exitcode: int | None, error: str | None,
                     oom_before: int | None, plan: MemoryPlan) -> None:
        self.explained = True
        node = self.nodes.get(spec.node)
        where = node.label if node else f"node {spec.node}"
        oom_after = read_oom_kills(self.host)
        meminfo = parse_meminfo(self.host.read_text("/proc/meminfo"))
        evidence = {"engine": "builtin", "phase": ctx.phase, "worker": spec.worker, "node": spec.node,
                    "cpus": list(spec.cpus), "mib": spec.size // MIB, "exitcode": exitcode,
                    "how": describe_exit(exitcode), "oom_kills_before": oom_before, "oom_kills_after": oom_after,
                    "mem_available_mib": None if meminfo.available is None else meminfo.available // MIB,
                    "plan": plan.to_record()}
        component = f"memory:node{spec.node}"
        signal_name = exit_signal(exitcode)
        if signal_name == "SIGKILL":
            oom = oom_before is not None and oom_after is not None and oom_after > oom_before
            short = meminfo.available is not None and meminfo.available < self.settings.reserve_mib * MIB // 2
            if oom or short:
                ctx.finding(
                    self.settings.worker_oom_killed, component, "memory-worker-oom-killed",
                    f"The kernel's out-of-memory killer ended the memory test process on NUMA {where}: memory ran "
                    f"short, so {spec.size // MIB} MiB were not tested to the end.", evidence)
                return
            ctx.warn(component, "memory-worker-died",
                     f"The memory test process on NUMA {where} was killed from outside (SIGKILL); its "
                     f"{spec.size // MIB} MiB were not tested to the end.", evidence)
            return
        if signal_name is not None:
            hardware = signal_name == "SIGBUS"
            ctx.fail(component, "memory-worker-died",
                     f"The memory test process on NUMA {where} crashed ({describe_exit(exitcode)})"
                     + (": the kernel found a memory page it could not read (hardware memory error)."
                        if hardware else "; a crash under memory stress is a hardware symptom."),
                     {**evidence, "error": error})
            return
        ctx.warn(component, "memory-worker-error",
                 f"The memory test process on NUMA {where} stopped with an error ({error or describe_exit(exitcode)}); "
                 f"its {spec.size // MIB} MiB were not tested.", {**evidence, "error": error})

    # -- stressapptest ---------------------------------------------------------------------------------
    def run_stressapptest(self, ctx: ModuleContext, plan: MemoryPlan, until: float,
                          final: bool) -> tuple[bool, list[str]]:
        program = self.host.which("stressapptest") or "stressapptest"
        left = until - time.monotonic() - (SAT_MARGIN_S if final else 0.0)
        seconds = stressapptest.whole_run_seconds(left)
        if seconds < stressapptest.SLEEP_STEP_S:
            ctx.note("stressapptest not started: its slice is shorter than its 5 s step", engine="stressapptest",
                     seconds_left=round(left, 1))
            return True, []
        taskset = self.host.which("taskset")
        pause = self.settings.stressapptest_pause_delay_s
        argvs = {}
        loads: dict[int, ProgramLoad] = {}
        for n, size in sorted(plan.per_node.items()):
            argvs[n] = stressapptest.argv(size // MIB, seconds, len(self.nodes[n].cpus), cpus=self.nodes[n].cpus,
                                          program=program, taskset=taskset, pause_delay_s=pause or None,
                                          extra=list(self.settings.stressapptest_args))
            loads[n] = ProgramLoad(self.host, stressapptest.program(f"stressapptest node{n}", argvs[n],
                                                                    oom_score_adj=SAT_OOM_SCORE_ADJ))
        oom_before = read_oom_kills(self.host)
        ctx.note("engine", engine="stressapptest", seconds=seconds, argv={n: a for n, a in argvs.items()},
                 taskset=bool(taskset), **plan.to_record())
        give_up = time.monotonic() + seconds + 60 + plan.total / (200 * MIB)  # its final check reads it all
        outcome = drive(ctx, list(loads.values()), until=give_up, tick=lambda: self.ecc.poll(ctx),
                        engine="stressapptest")
        ok_any = False
        problems: list[str] = []
        for n, load in loads.items():
            result: stressapptest.Outcome = load.outcome
            ok, problem = self._judge_sat(ctx, self.nodes[n], result, outcome.interrupted, oom_before, argvs[n])
            ok_any = ok_any or ok
            if problem:
                problems.append(problem)
            if result.verified_bytes and result.seconds:
                ctx.sample({f"mem_verified_gbps:node{n}": round(result.verified_bytes / result.seconds / 1e9, 3)})
        return ok_any and not problems, problems

    def _judge_sat(self, ctx: ModuleContext, node: NodeInfo, outcome: stressapptest.Outcome, interrupted: bool,
                   oom_before: int | None, argv) -> tuple[bool, str | None]:
        evidence = {"engine": "stressapptest", "phase": ctx.phase, "argv": list(argv), **outcome.to_record()}
        component = f"memory:node{node.node}"
        reported = outcome.reported
        if reported == "hardware" or outcome.miscompares:
            first = outcome.miscompares[0] if outcome.miscompares else None
            dimm = self.locate(ctx, first.to_record()["physical_address"]) if first else None
            evidence["dimm_location"] = dimm.to_record() if dimm else None
            detail = (f": the word at {first.to_record()['physical_address'] or first.to_record()['virtual_address']} "
                      f"read {first.read:#018x} instead of {first.expected:#018x} ({dimm.text})" if first and dimm
                      else "")
            ctx.fail(component, "memory-mismatch",
                     f"stressapptest found wrong data in memory on NUMA {node.label}"
                     f" ({outcome.hardware_incidents or len(outcome.miscompares)} hardware incidents){detail}.",
                     {**evidence, "miscompares": [m.to_record() for m in outcome.miscompares[:10]],
                      "dimm_candidates": self.candidates(ctx, node)})
            ctx.note("stressapptest found miscompares", engine="stressapptest", node=node.node)
            return True, None
        if reported == "pass":
            ctx.note(f"stressapptest on node {node.node} passed" + (" (stopped early)" if outcome.interrupted else ""),
                     engine="stressapptest", node=node.node, verified_mib=outcome.verified_bytes // MIB,
                     seconds=outcome.seconds, memory_copy_mbps=outcome.memory_copy_mbps)
            return True, None
        how = exit_signal(outcome.returncode)
        if how == "SIGKILL":
            oom_after = read_oom_kills(self.host)
            if oom_before is not None and oom_after is not None and oom_after > oom_before:
                self.explained = True
                ctx.finding(self.settings.worker_oom_killed, component, "memory-worker-oom-killed",
                            f"The kernel's out-of-memory killer ended stressapptest on NUMA {node.label}: memory "
                            "ran short, so its memory was not tested to the end.",
                            {**evidence, "oom_kills_before": oom_before, "oom_kills_after": oom_after})
                return False, None
        if interrupted and (outcome.returncode in (None, 0) or how in ("SIGINT", "SIGKILL")):
            ctx.note(f"stressapptest on node {node.node} was stopped before it reported", engine="stressapptest",
                     node=node.node, returncode=outcome.returncode)
            return False, None
        why = (outcome.usage_error or "; ".join(outcome.process_errors[:3]) or outcome.status_text
               or describe_exit(outcome.returncode))
        ctx.warn(component, "tool-error",
                 f"stressapptest could not test memory on NUMA {node.label} (exit code {outcome.returncode}: {why}); "
                 "this is a tool problem, not a hardware fault.", {**evidence, "why": why})
        return False, f"node {node.node}: {why}"

