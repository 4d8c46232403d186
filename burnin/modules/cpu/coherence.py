"""Cross-core coherence: pinned workers write and read each other's lanes of one shared memory page.

Python has no atomic instructions of its own, so the design uses only what x86 guarantees for aligned 8-byte
loads and stores (each is a single `mov`, atomic; stores are seen in order, loads are not reordered with other
loads: TSO). Each CPU owns a lane of four 64-bit words in a page shared by all workers (an anonymous shared
mapping made before the workers are forked), two lanes to a cache line, so the lines bounce between cores:

    seq   even when the lane is consistent, odd while its owner writes it (a seqlock)
    a, b  two words that are a known function of n = seq / 2: a = n * 7919 + 1, b = -n
    spare

The owner writes seq+1, a, b, seq+2 in that order. Readers (every other worker, in turn) read seq, a, b, seq:
when both seq reads are equal and even, a and b must belong to that n - anything else is a torn read; and a
lane's seq must never go backwards as seen by one reader - that is a lost update. Either names the pair of CPUs
(reader, writer). After the load the module reads every lane (`final_state`): its n must equal the writes its
owner reported (`ROUNDS` per kernel call), which catches a store that never reached memory.

On weakly ordered CPUs (arm64, POWER) plain stores may become visible out of order without barriers, which
Python cannot issue: the class is not run there (`supported`), rather than raising false alarms.
"""

from __future__ import annotations

import mmap
import os
import platform
from dataclasses import dataclass, field
from typing import Mapping, Sequence

LANE_WORDS = 4
ROUNDS = 20_000  # lane writes (and reads of another lane) per kernel call: ~40-60 ms of a 2020s core
TSO_MACHINES = ("x86_64", "amd64", "i386", "i686", "x86")


def supported(machine: str | None = None) -> str | None:
    """Why the coherence class cannot run on this machine's memory model, or None."""
    machine = (machine or platform.machine()).lower()
    if machine in TSO_MACHINES:
        return None
    return (f"{machine} is weakly ordered: without memory barriers (which Python cannot issue) a correct CPU "
            "could fail the check")


def value_a(n: int) -> int:
    return n * 7919 + 1


def value_b(n: int) -> int:
    return -n


@dataclass
class Lanes:
    """The shared page: one lane per CPU of the pool. Created in the module process before any worker forks."""

    cpus: tuple[int, ...]
    buffer: mmap.mmap = field(repr=False)

    @classmethod
    def create(cls, cpus: Sequence[int]) -> "Lanes":
        size = max(mmap.PAGESIZE, len(cpus) * LANE_WORDS * 8)
        return cls(tuple(cpus), mmap.mmap(-1, size))  # anonymous and MAP_SHARED: forked workers see one page

    def words(self) -> memoryview:
        return memoryview(self.buffer).cast("q")

    def base(self, cpu: int) -> int:
        return self.cpus.index(cpu) * LANE_WORDS


_worker: dict = {}  # per process: pid -> (cpu, {other lane base: last seq seen})


def _pinned_cpu() -> int | None:
    allowed = os.sched_getaffinity(0)
    return next(iter(allowed)) if len(allowed) == 1 else None


def coherence(inp) -> str:
    """One call on the worker's own CPU: ROUNDS writes of its lane, each followed by a checked read of another."""
    lanes: Lanes | None = inp.lanes
    cpu = _pinned_cpu()
    if lanes is None or cpu is None or cpu not in lanes.cpus:
        return "ok"  # not a pinned pool worker (a reference computation): nothing to share with
    state = _worker.get(os.getpid())
    if state is None:
        state = _worker[os.getpid()] = (cpu, {})
    words = lanes.words()
    try:
        return _rounds(words, lanes, cpu, state[1])
    finally:
        words.release()


def _rounds(words: memoryview, lanes: Lanes, cpu: int, last_seen: dict[int, int]) -> str:
    own = lanes.base(cpu)
    others = [(lanes.base(c), c) for c in lanes.cpus if c != cpu] or [(own, cpu)]
    seq = words[own]
    if seq & 1:  # a worker before this one died mid-write: finish its write
        n = (seq + 1) // 2
        words[own + 1], words[own + 2] = value_a(n), value_b(n)
        seq += 1
        words[own] = seq
    problems: list[str] = []
    count = len(others)
    for i in range(ROUNDS):
        n = seq // 2 + 1
        words[own] = seq + 1
        words[own + 1] = n * 7919 + 1
        words[own + 2] = -n
        seq += 2
        words[own] = seq
        base, other = others[i % count]
        s1 = words[base]
        a = words[base + 1]
        b = words[base + 2]
        s2 = words[base]
        if s1 != s2 or s1 & 1:
            continue  # the owner was writing: try again next time
        if s1 < last_seen.get(base, 0):
            problems.append(f"lost update: CPU {cpu} saw CPU {other}'s lane go back from {last_seen[base]} to {s1}")
        last_seen[base] = s1
        m = s1 // 2
        if m and (a != m * 7919 + 1 or b != -m):
            problems.append(f"torn read: CPU {cpu} read CPU {other}'s lane at n={m} as a={a} b={b}")
        if len(problems) >= 3:
            break
    return "ok" if not problems else "; ".join(problems)


def partner_in(result: str) -> int | None:
    """The other CPU named in a coherence problem ("... CPU 3's lane ...")."""
    marker = "'s lane"
    at = result.find(marker)
    if at < 0:
        return None
    digits = result[:at].rsplit("CPU ", 1)[-1]
    return int(digits) if digits.isdigit() else None


@dataclass(frozen=True)
class LaneProblem:
    cpu: int
    message: str
    seq: int
    expected_writes: int | None


def final_state(lanes: Lanes, writes: Mapping[int, int], skip: Sequence[int] = ()) -> list[LaneProblem]:
    """Every lane read back by this (another) process after the load: consistent, and as many writes as reported.

    `writes`: lane writes each CPU's workers reported; CPUs in `skip` (a worker died: its last writes were not
    reported) are checked for consistency only."""
    problems = []
    words = lanes.words()
    try:
        for cpu in lanes.cpus:
            base = lanes.base(cpu)
            seq, a, b = words[base], words[base + 1], words[base + 2]
            n = seq // 2
            expected = writes.get(cpu, 0)
            if seq & 1:
                if cpu not in skip:  # a worker killed mid-write leaves it so; one that ended by itself never does
                    problems.append(LaneProblem(cpu, f"CPU {cpu}'s lane was left mid-write (seq {seq})", seq,
                                                expected))
            elif n and (a != value_a(n) or b != value_b(n)):
                problems.append(LaneProblem(cpu, f"CPU {cpu}'s lane holds a={a} b={b}, not the values of n={n}",
                                            seq, expected))
            elif cpu not in skip and n != expected:
                problems.append(LaneProblem(
                    cpu, f"CPU {cpu}'s lane counts {n} writes; its worker reported {expected}", seq, expected))
    finally:
        words.release()
    return problems
