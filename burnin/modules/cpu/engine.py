"""The cpu module's two engines, run as loads (`burnin.load`): pinned built-in workers, and stress-ng per CPU.

The built-in worker body (`worker_main`) runs in a `WorkerPool` process pinned to its CPU; what it sends back is
turned into findings here (`BuiltinEvents`). stress-ng runs as one `ProgramLoad` per CPU (`stress_ng.cpu_program`)
and each outcome is judged by `judge.judge_stress_ng`.
"""

from __future__ import annotations

import math
import os
import random
import time
import traceback
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from burnin.host import Host, format_cpulist
from burnin.load import ProgramLoad, WorkerPool, describe_exit, drive, exit_signal
from burnin.module import ModuleContext
from burnin.modules.cpu import coherence as _coherence
from burnin.modules.cpu import kernels as cpu_kernels
from burnin.modules.cpu.judge import CpuTopology, judge_stress_ng
from burnin.modules.cpu.monitor import Monitor
from burnin.tools import stress_ng

MAX_RESTARTS_PER_CPU = 3  # a worker that keeps dying is reported each time, then its CPU is left alone
PROGRESS_INTERVAL_S = 0.5  # how often a worker reports its iteration counts
STRESS_NG_OVERRUN_S = 10.0  # how long past its --timeout a stress-ng may run before it is stopped
STRESS_NG_SETTLE_S = 0.5  # stress-ng's own start-up, left out of the measured load window


SEAM_ENV = "BURNIN_TEST_CPU_FLIP"  # test only: flip bits in one CPU's worker results (see `FaultSeam`)
SEAM_VERIFIER_ENV = "BURNIN_TEST_CPU_FLIP_VERIFIER"  # test only: the same in its reference/verifier computations
VERIFY_TIMEOUT_S = 120.0  # the longest a reference or verification computation may take before it is abandoned


def _inject_fault(cpu: int, kernel: str, result: str) -> str:
    """Test seam: the answer a worker on `cpu` got from `kernel`, unchanged. Tests replace this function to make
    one CPU compute wrong; workers are forked, so the replacement reaches them."""
    return result


@dataclass(frozen=True)
class FaultSeam:
    """A test-only fault: flip one random bit of a result of `kernel` (any kernel when None) on `cpu`, with
    probability `rate` per result value (per element of an array, per digest of a scalar kernel).

    Read from the environment of the worker process (`BURNIN_TEST_CPU_FLIP` for workers, `..._VERIFIER` for
    reference and verification computations) as ``cpu=1,kernel=gemm-f64-cache,rate=1e-6``. It is not a setting:
    no profile can turn it on, and the module journals it whenever it is set."""

    cpu: int
    kernel: str | None
    rate: float

    @classmethod
    def parse(cls, text: str | None) -> "FaultSeam | None":
        if not text:
            return None
        try:
            fields = dict(part.split("=", 1) for part in text.split(",") if part.strip())
            return cls(int(fields["cpu"]), fields.get("kernel") or None, float(fields.get("rate", "1")))
        except (ValueError, KeyError):
            return None

    def applies(self, cpu: int, kernel: str) -> bool:
        return cpu == self.cpu and self.kernel in (None, kernel)


def seams() -> dict[str, FaultSeam]:
    """The fault seams set in this process's environment, by role."""
    found = {role: FaultSeam.parse(os.environ.get(var)) for role, var in (("worker", SEAM_ENV),
                                                                          ("verifier", SEAM_VERIFIER_ENV))}
    return {role: seam for role, seam in found.items() if seam is not None}


_seam_rng = random.Random()


def _values_in(raw) -> int:
    if isinstance(raw, str):
        return 1
    if isinstance(raw, (list, tuple)):
        return sum(_values_in(part) for part in raw)
    if isinstance(raw, (bytes, bytearray)):
        return max(1, len(raw) // 8)
    return int(getattr(raw, "size", 1))


def _flip_bit(raw):
    """`raw` with one random bit flipped (arrays in place: the result is the worker's own fresh buffer)."""
    if isinstance(raw, str):
        return chr(ord(raw[0]) ^ 1) + raw[1:] if raw else "\x01"
    if isinstance(raw, (list, tuple)):
        parts = list(raw)
        weights = [_values_in(part) for part in parts]
        i = _seam_rng.choices(range(len(parts)), weights)[0]
        parts[i] = _flip_bit(parts[i])
        return parts
    if isinstance(raw, (bytes, bytearray)):
        data = bytearray(raw)
        bit = _seam_rng.randrange(len(data) * 8)
        data[bit // 8] ^= 1 << (bit % 8)
        return bytes(data)
    view = raw.reshape(-1).view("uint8")
    bit = _seam_rng.randrange(view.size * 8)
    view[bit // 8] ^= 1 << (bit % 8)
    return raw


def _apply_seam(seam: FaultSeam | None, cpu: int, kernel: str, raw):
    if seam is None or not seam.applies(cpu, kernel):
        return raw
    values = _values_in(raw)
    chance = 1.0 if seam.rate >= 1 else -math.expm1(values * math.log1p(-max(seam.rate, 0.0)))
    return _flip_bit(raw) if _seam_rng.random() < chance else raw


def _run_kernel(cpu: int, name: str, inputs: cpu_kernels.KernelInputs, role: str = "worker") -> str:
    try:
        raw = cpu_kernels.KERNELS[name](inputs)
        raw = _apply_seam(seams().get(role), cpu, name, raw)
        result = cpu_kernels.answer(raw)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - a kernel that raises where the reference did not computed wrong
        result = f"raised {type(exc).__name__}: {exc}"
    return _inject_fault(cpu, name, result) if role == "worker" else result


# -- the built-in engine's workers -----------------------------------------------------------------
def worker_main(cpu, names, golden, inputs, retest_count, rounds, stop, conn) -> None:
    """Body of one worker (pinned to `cpu` by the pool): run the kernels in turn until told to stop (or `rounds`
    times)."""
    try:
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
                    for _ in range(retest_count if name not in cpu_kernels.SELF_CHECKED else 0):
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


def answers_main(cpu, names, inputs, role, repeats, stop, conn) -> None:
    """Body of a reference or verification worker: each kernel `repeats` times on `cpu`, every answer sent."""
    for name in names:
        for _ in range(repeats):
            if stop.is_set():
                return
            conn.send(("answer", cpu, name, role, _run_kernel(cpu, name, inputs, role)))


def worker_pool(cpus: Sequence[int], names, golden, inputs, retest_count: int, rounds: int | None = None) -> WorkerPool:
    """One pinned worker per CPU."""
    workers = {cpu: (cpu, list(names), dict(golden), inputs, retest_count, rounds) for cpu in cpus}
    return WorkerPool("cpu", worker_main, workers, cpus={cpu: [cpu] for cpu in cpus})


# -- reference answers on two cores, verification on another ---------------------------------------
@dataclass(frozen=True)
class Vote:
    cpu: int
    kernel: str
    role: str  # "worker" or "verifier"
    answer: str


def compute_answers(ctx: ModuleContext, plan: Sequence[tuple[int, Sequence[str], str, int]],
                    inputs: cpu_kernels.KernelInputs, timeout_s: float = VERIFY_TIMEOUT_S) -> list[Vote]:
    """Run `plan` ([(cpu, kernels, role, repeats)]) on pinned processes at once; every answer that came back."""
    keys = {(cpu, role): (cpu, list(names), inputs, role, repeats) for cpu, names, role, repeats in plan}
    pool = WorkerPool("cpu-verify", answers_main, keys, cpus={key: [key[0]] for key in keys})
    votes: list[Vote] = []
    give_up = time.monotonic() + timeout_s
    pool.start()
    try:
        while pool.poll(0.2) and time.monotonic() < give_up and not ctx.stopping():
            pass
    finally:
        pool.stop()
        end = time.monotonic() + 1.0
        while pool.poll(0.05) and time.monotonic() < end:
            pass
        pool.kill()
        pool.close()
    for event in pool.events():
        if event[0] == "answer":
            votes.append(Vote(event[1], event[2], event[3], event[4]))
    return votes


@dataclass(frozen=True)
class Decision:
    """What the votes on one kernel's answer decided."""

    kernel: str
    accepted: str | None  # the answer at least two different CPUs gave; None: no two CPUs agree
    charged: tuple[Vote, ...]  # answers that differ from the accepted one
    votes: tuple[Vote, ...]


def decide(kernel: str, votes: Sequence[Vote], prefer: str | None = None) -> Decision:
    """The accepted answer is the one given by the most different CPUs (at least two; `prefer` wins ties, else a
    tie is undecided); every vote for another answer is charged to its CPU in its role."""
    cpus_of: dict[str, set[int]] = defaultdict(set)
    for vote in votes:
        cpus_of[vote.answer].add(vote.cpu)
    ranked = sorted(cpus_of.items(), key=lambda item: (len(item[1]), item[0] == prefer), reverse=True)
    accepted = None
    if ranked and len(ranked[0][1]) >= 2:
        tied = len(ranked) > 1 and len(ranked[1][1]) == len(ranked[0][1]) and ranked[0][0] != prefer
        accepted = None if tied else ranked[0][0]
    charged = tuple(v for v in votes if accepted is not None and v.answer != accepted)
    return Decision(kernel, accepted, charged, tuple(votes))


def _physical_core(topology: Mapping[int, CpuTopology], cpu: int) -> tuple:
    topo = topology.get(cpu)
    return (topo.socket_id, topo.core_id) if topo and topo.core_id is not None else (None, cpu)


def reference_cpus(cpus: Sequence[int], topology: Mapping[int, CpuTopology]) -> list[int]:
    """Two CPUs on different physical cores (different sockets where there are), for the reference answers."""
    def core(cpu: int) -> tuple:
        return _physical_core(topology, cpu)

    first = cpus[0]
    others = [c for c in cpus if core(c) != core(first)] or [c for c in cpus if c != first]
    if not others:
        return [first]
    other_socket = [c for c in others if core(c)[0] != core(first)[0]]
    return [first, (other_socket or others)[0]]


def verifier_for(cpu: int, cpus: Sequence[int], topology: Mapping[int, CpuTopology]) -> int | None:
    """A CPU on another physical core than `cpu` to repeat a disputed computation on."""
    def core(c: int) -> tuple:
        return _physical_core(topology, c)

    candidates = [c for c in cpus if core(c) != core(cpu)] or [c for c in cpus if c != cpu]
    return candidates[0] if candidates else None


@dataclass
class References:
    golden: dict[str, str]
    decisions: dict[str, Decision]
    cpus: list[int]
    errors: dict[str, str] = field(default_factory=dict)  # kernels that raised on every reference core


def compute_references(ctx: ModuleContext, cpus: Sequence[int], topology: Mapping[int, CpuTopology],
                       names: Sequence[str], inputs: cpu_kernels.KernelInputs) -> References:
    """Reference answers computed on two different cores; where they disagree, each of the disputed kernels is
    computed again on both in both roles (and on a third core where there is one), and the votes decide."""
    ref = reference_cpus(cpus, topology)
    computed = [n for n in names if n not in cpu_kernels.SELF_CHECKED]
    votes = compute_answers(ctx, [(cpu, computed, "verifier", 1) for cpu in ref], inputs)
    by_kernel: dict[str, list[Vote]] = defaultdict(list)
    for vote in votes:
        by_kernel[vote.kernel].append(vote)
    disputed = [n for n in computed if len({v.answer for v in by_kernel[n]}) > 1]
    if disputed and len(ref) > 1:
        third = [c for c in cpus if c not in ref][:1]
        plan = [(cpu, disputed, role, 1) for cpu in ref + third for role in ("verifier", "worker")]
        for vote in compute_answers(ctx, plan, inputs):
            by_kernel[vote.kernel].append(vote)
    golden = dict(cpu_kernels.SELF_CHECKED)
    decisions = {}
    errors: dict[str, str] = {}
    for name in computed:
        if name not in disputed:  # all answers agree; from fewer cores than asked: the phase was cut short
            answered = {v.cpu for v in by_kernel[name]}
            if answered and by_kernel[name][0].answer.startswith("raised "):
                errors[name] = by_kernel[name][0].answer  # the library fails on every core: not the CPU
            elif answered and len(answered) >= len(ref):
                golden[name] = by_kernel[name][0].answer
            continue
        decision = decide(name, by_kernel[name])
        decisions[name] = decision
        if decision.accepted is not None:
            golden[name] = decision.accepted
    return References({n: golden[n] for n in names if n in golden}, decisions, ref, errors)


@dataclass
class BuiltinTally:
    """What the built-in engine did in one phase."""

    iterations: dict[int, Counter] = field(default_factory=lambda: defaultdict(Counter))
    mismatches: dict[int, Counter] = field(default_factory=lambda: defaultdict(Counter))
    reported: set = field(default_factory=set)  # (cpu, kernel) with a finding in this phase
    errors: dict[int, str] = field(default_factory=dict)
    deaths: Counter = field(default_factory=Counter)
    killed: set = field(default_factory=set)  # CPUs whose worker had to be killed at the stop: last counts lost
    ops_since_sample: int = 0


class BuiltinEvents:
    """Turns the workers' messages into tallies and findings; restarts a dead worker while the load runs."""

    def __init__(self, ctx: ModuleContext, pool: WorkerPool, topology: Mapping[int, CpuTopology],
                 restart: bool, once: bool = False, accuser: "Accuser | None" = None):
        self.accuser = accuser
        self.ctx = ctx
        self.pool = pool
        self.topology = topology
        self.restart = restart
        self.once = once  # workers run a fixed number of rounds: exit code 0 is their normal end
        self.tally = BuiltinTally()

    def handle(self) -> None:
        ctx, tally = self.ctx, self.tally
        for event in self.pool.events():
            kind, cpu = event[0], event[1]
            topo = self.topology.get(cpu, CpuTopology(cpu, None, None))
            if kind == "progress":
                tally.iterations[cpu].update(event[2])
                tally.mismatches[cpu].update(event[3])
                tally.ops_since_sample += sum(event[2].values())
            elif kind == "mismatch":
                _, _, kernel, expected, actual, reproduced, tries = event
                if (cpu, kernel) in tally.reported:
                    continue
                tally.reported.add((cpu, kernel))
                if self.accuser is not None:
                    self.accuser.accuse(ctx, cpu, kernel, expected, actual, reproduced, tries)
                    continue
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
                self._exit(cpu, topo, event[2], asked=event[3])

    def _exit(self, cpu: int, topo: CpuTopology, exitcode: int | None, asked: bool) -> None:
        ctx, tally = self.ctx, self.tally
        if asked and exitcode != 0:
            tally.killed.add(cpu)
        if asked or (self.once and exitcode == 0):
            return
        tally.deaths[cpu] += 1
        ctx.fail(
            topo.component, "cpu-worker-died",
            f"The test process on CPU {cpu} died under load ({describe_exit(exitcode)}); a crash under stress is a "
            "hardware symptom.",
            {"engine": "builtin", "phase": ctx.phase, "exitcode": exitcode, "signal": exit_signal(exitcode),
             "error": tally.errors.pop(cpu, None), "death_number": tally.deaths[cpu],
             "iterations_before": sum(tally.iterations[cpu].values())},
        )
        if not self.restart:
            return
        if self.pool.starts[cpu] <= MAX_RESTARTS_PER_CPU and not ctx.stopping():
            self.pool.start_worker(cpu)
        else:
            ctx.note(f"CPU {cpu} left unloaded after {tally.deaths[cpu]} worker deaths", cpu=cpu)


def run_builtin(ctx: ModuleContext, pool: WorkerPool, topology: Mapping[int, CpuTopology], until: float | None,
                monitor: Monitor | None, interval_s: float | None, once: bool = False,
                accuser: "Accuser | None" = None, tick_extra=None) -> BuiltinTally:
    """Drive the pool until `until` (None: until its workers end); the monitor's load window is the drive's."""
    events = BuiltinEvents(ctx, pool, topology, restart=not once, once=once, accuser=accuser)

    def tick() -> None:
        if monitor is not None and not monitor.loaded and not pool.stopping:
            monitor.load_started()
        events.handle()
        if tick_extra is not None:
            tick_extra()

    def sample(_metrics, _elapsed) -> None:
        if monitor is not None:
            monitor.sample(ctx, events.tally.ops_since_sample)
            events.tally.ops_since_sample = 0

    drive(ctx, [pool], until=until, interval_s=interval_s, tick=tick, sample=sample,
          before_stop=monitor.load_ended if monitor is not None else None, engine="builtin")
    events.handle()
    return events.tally


# -- accusation: a wrong answer is computed again on another core before a CPU is charged ------------------
@dataclass
class Accuser:
    """Handles a worker's wrong answer: the kernel is computed again `retest_count` times on a CPU of another
    physical core (the verifier), and the votes decide (`decide`): the reference (agreed by two cores at the
    start), the worker's answer, the verifier's answers. Every CPU whose answer differs from the accepted one is
    charged, in its role; a worker is never charged for a disagreement that the verifier alone has."""

    host: Host
    cpus: list[int]
    topology: Mapping[int, CpuTopology]
    inputs: cpu_kernels.KernelInputs
    reference_cpus: list[int]
    retest_count: int
    moment: object = None  # callable(cpu) -> {temp_c, freq_mhz, ...}: the CPU's state when the answer arrived

    def _topo(self, cpu: int) -> CpuTopology:
        return self.topology.get(cpu, CpuTopology(cpu, None, None))

    def accuse(self, ctx: ModuleContext, cpu: int, kernel: str, expected: str, actual: str, reproduced: int,
               tries: int) -> None:
        state = self.moment(cpu) if callable(self.moment) else {}
        evidence = {"engine": "builtin", "phase": ctx.phase, "kernel": kernel,
                    "class": cpu_kernels.CLASS_OF.get(kernel), "expected": expected, "actual": actual,
                    "reproduced": f"{reproduced} of {tries}", "reproduced_count": reproduced, "retests": tries,
                    "input_seed": cpu_kernels.INPUT_SEED, "at_miscompare": state}
        topo = self._topo(cpu)
        if kernel in cpu_kernels.SELF_CHECKED:  # coherence: the check names the other CPU of the pair
            partner = _coherence.partner_in(actual)
            other = self._topo(partner) if partner is not None else None
            ctx.fail(
                f"cpu:{cpu},{partner}" if other else topo.component, "cpu-coherence",
                f"CPU {cpu} (core {topo.core_id}, socket {topo.socket_id}) and CPU {partner} (core "
                f"{other.core_id if other else '?'}, socket {other.socket_id if other else '?'}) disagreed about "
                "shared memory: an update was lost or torn between the two cores.",
                {**evidence, "pair": [cpu, partner], "at_miscompare": {cpu: state}},
            )
            return
        verifier = verifier_for(cpu, self.cpus, self.topology)
        votes = [Vote(c, kernel, "reference", expected) for c in self.reference_cpus]
        votes.append(Vote(cpu, kernel, "worker", actual))
        if verifier is not None:
            votes += compute_answers(ctx, [(verifier, [kernel], "verifier", max(1, self.retest_count))],
                                     self.inputs)
        decision = decide(kernel, votes)
        mine = [v for v in decision.votes if v.role == "verifier"]
        evidence["verified_on"] = self._topo(verifier).component if verifier is not None else None
        evidence["verifier_answers"] = [v.answer for v in mine]
        evidence["reference_cpus"] = list(self.reference_cpus)
        if decision.accepted is None:
            involved = sorted({v.cpu for v in decision.votes})
            ctx.fail(
                f"cpu:{format_cpulist(involved)}", "cpu-wrong-result",
                f"CPUs {format_cpulist(involved)} gave different answers in the {kernel} test and no two cores "
                "agree, so burnin cannot tell which is faulty; one of them miscalculates.",
                {**evidence, "votes": [(v.cpu, v.role, v.answer) for v in decision.votes]},
            )
            return
        charged = {(v.cpu, v.role) for v in decision.charged}
        for charged_cpu, role in sorted(charged):
            ctopo = self._topo(charged_cpu)
            wrong = [v.answer for v in decision.charged if (v.cpu, v.role) == (charged_cpu, role)]
            if role == "worker":
                confirmed = sum(v.answer == decision.accepted for v in mine)
                how = (f"another core (CPU {verifier}) computed the reference answer again ({confirmed} of "
                       f"{len(mine)})" if mine else "the reference was computed on two cores")
                message = (f"CPU {charged_cpu} (core {ctopo.core_id}, socket {ctopo.socket_id}) gave a wrong answer "
                           f"in the {kernel} test ({evidence['class']}); {how}, so the fault is this CPU's.")
                ctx.fail(ctopo.component, "cpu-wrong-result", message,
                         {**evidence, "role": role, "reproduced_by_verifier": f"{confirmed} of {len(mine)}"})
            else:
                doing = "verifying a disputed" if role == "verifier" else "having computed the reference"
                ctx.fail(
                    ctopo.component, "cpu-wrong-result",
                    f"CPU {charged_cpu} (core {ctopo.core_id}, socket {ctopo.socket_id}), {doing} "
                    f"{kernel} answer, computed wrong where other cores agree; the fault is this CPU's.",
                    {**evidence, "role": role, "actual": wrong[0], "expected": decision.accepted,
                     "at_miscompare": self.moment(charged_cpu) if callable(self.moment) else {}},
                )


# -- stress-ng, one per CPU -------------------------------------------------------------------------
def run_stress_ng(ctx: ModuleContext, host: Host, cpus: Sequence[int], topology: Mapping[int, CpuTopology],
                  until: float, monitor: Monitor, final: bool, interval_s: float) -> tuple[bool, list[str]]:
    """One verified stress-ng CPU stressor per CPU until `until`; (the engine tested, its tool problems)."""
    program = host.which("stress-ng") or "stress-ng"
    # whole seconds; in the last slice rounded down, so stress-ng ends by itself before the phase does
    left = until - time.monotonic()
    seconds = math.floor(left) if final else round(left)
    if seconds < 1:
        ctx.note("stress-ng not started: less than 1 s left for its slice", engine="stress-ng",
                 seconds_left=round(left, 2))
        return True, []
    loads = [ProgramLoad(host, stress_ng.cpu_program(cpu, seconds, program=program)) for cpu in cpus]
    window: dict[str, float] = {}

    def tick() -> None:
        now = time.monotonic()
        if not window:
            spawned = min(load.started_at for load in loads)
            ctx.note("engine", engine="stress-ng", cpus=format_cpulist(cpus), seconds=seconds,
                     argv=list(loads[0].argv))
            # the load window: after stress-ng's start-up, until its stressors' timeout (before it reports)
            window.update(start=spawned + min(STRESS_NG_SETTLE_S, seconds / 2), end=spawned + seconds)
        if not monitor.loaded and window["start"] <= now < window["end"]:
            monitor.load_started()
        if monitor.loaded and (now >= window["end"] or any(not load.running() for load in loads)):
            monitor.load_ended()
            window["end"] = now  # a stress-ng that ended early closes the window for good

    def sample(_metrics, _elapsed) -> None:
        if monitor.loaded:
            monitor.sample(ctx, None)

    outcome = drive(ctx, loads, until=time.monotonic() + seconds + STRESS_NG_OVERRUN_S, interval_s=interval_s,
                    tick=tick, sample=sample, before_stop=monitor.load_ended, engine="stress-ng")
    ok_any = False
    problems: list[str] = []
    for cpu, load in zip(cpus, loads):
        result: stress_ng.Outcome = load.outcome
        verdict = judge_stress_ng(topology[cpu], result, outcome.interrupted)
        for j in verdict.judgements:
            ctx.report(j)
            if j.code == "tool-error":
                problems.append(verdict.note)
        ctx.note(verdict.note, engine="stress-ng", cpu=cpu, **result.to_record())
        ok_any = ok_any or verdict.engine_ok
    return ok_any and not problems, problems
