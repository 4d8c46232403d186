#!/usr/bin/env python3
"""How much memory does burnin's built-in engine verify per second, next to stressapptest and memtester?
(A benchmark, not a test.)

Same machine, same buffer size, same seconds, one after the other in one run:
  1. burnin built-in engine: the memory module's run phase with engines ["builtin"], `max_mib` = SIZE, one
     worker per CPU (THREADS), all patterns; verified = the bytes its checks compared (journal note
     "engine done", `verified_mib`), over the seconds the engine ran.
  2. stressapptest alone: `stressapptest -M SIZE -s SECONDS -m THREADS`; verified = half its "Memory Copy"
     figure (it counts each copied page read and written, and verifies the page it read) + "Data Check", over
     the seconds it says it ran.
  3. memtester: THREADS instances of `memtester SIZE/THREADS 1`, stopped with SIGINT after SECONDS; every
     compare pass of a memtester test checks the whole instance buffer, and memtester prints one "testing N"
     per pass of its counted tests (Stuck Address: 16, Solid Bits: 64, Block Sequential: 256, ...) and "ok"
     after each test without a counter (Random Value, Compare XOR..AND, Sequential Increment: one pass each;
     8/16-bit Writes: two), so
     verified = passes x instance size. Also printed: the rate through each tool's whole battery of tests
     (memtester: 1308 compare passes a loop; burnin: 12 checks a round), i.e. how fast each covers the buffer
     with everything it has. DEPENDENCIES.md measured a 256 MB memtester loop at 162 s on this VM.
  4. burnin driving stressapptest: the memory module with engines ["stressapptest"], same size and seconds;
     compared with (2).

Goals (issue 5): built-in >= 0.5 x stressapptest, >= 20 x memtester; burnin-driven stressapptest within 5 %.

    /tmp/venv/bin/python scripts/bench/memory_vs_peers.py [--mib 256] [--seconds 20] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from burnin.host import Host  # noqa: E402
from burnin.modules.memory import MemoryModule  # noqa: E402
from burnin.testing import RecordingContext  # noqa: E402
from burnin.tools import stressapptest as sat  # noqa: E402

MIB = 1 << 20
# memtester 4.6, one loop: Stuck Address 16, Random Value 1, Compare XOR..AND 6, Sequential Increment 1,
# Solid Bits 64, Block Sequential 256, Checkerboard 64, Bit Spread 128, Bit Flip 512, Walking Ones 128,
# Walking Zeros 128, 8-bit Writes 2, 16-bit Writes 2 (the loop bounds in memtester's tests.c)
MEMTESTER_PASSES_PER_LOOP = 1308
# burnin, one round of all patterns: solid 2, checkerboard 2, walking 2, random 1, address 2, moving inversions 3
BUILTIN_CHECKS_PER_ROUND = 12


def loop_text(mib: int, loop_gbps: float) -> str:
    return f"one loop over {mib} MiB takes ~{mib * MIB / (loop_gbps * 1e9):.0f} s here" if loop_gbps else "n/a"
# memtester 4.6 tests that print no per-pass counter, and their compare passes (counted when they print "ok")
MEMTESTER_UNCOUNTED = {"Random Value": 1, "Compare XOR": 1, "Compare SUB": 1, "Compare MUL": 1, "Compare DIV": 1,
                       "Compare OR": 1, "Compare AND": 1, "Sequential Increment": 1, "8-bit Writes": 2,
                       "16-bit Writes": 2}


def note(ctx: RecordingContext, message: str) -> dict:
    return [n["data"] for n in ctx.notes if n["message"] == message][-1]


def run_module(settings: dict, seconds: float) -> RecordingContext:
    host = Host("/")
    module = MemoryModule(host, {"bandwidth": False, "share_of_available": 0.9, **settings})
    ctx = RecordingContext("memory", host, phase="run", seconds=seconds)
    module.run(ctx)
    return ctx


def bench_builtin(mib: int, seconds: float, threads: int) -> tuple[float, float]:
    ctx = run_module({"engines": ["builtin"], "max_mib": mib, "workers_per_node": threads}, seconds)
    engine, done = note(ctx, "engine"), note(ctx, "engine done")
    verified = sum(done["verified_mib"].values()) * MIB
    mismatches = [f for f in ctx.findings if f.code == "memory-mismatch"]
    if mismatches:
        print(f"  !! built-in engine reported {len(mismatches)} mismatches", file=sys.stderr)
    return verified, float(engine["seconds"])


def bench_stressapptest(mib: int, seconds: int, threads: int) -> tuple[float, float, sat.Outcome]:
    argv = sat.argv(mib, seconds, threads)
    proc = subprocess.run(argv, capture_output=True, text=True)
    outcome = sat.parse_outcome(proc.returncode, proc.stdout, proc.stderr)
    return outcome.verified_bytes, outcome.seconds or seconds, outcome


def memtester_passes(text: str) -> tuple[int, list[str]]:
    """Compare passes in memtester's output, and the tests it finished."""
    clean = text.replace("\b", " ")
    passes = len(re.findall(r"\btesting\s+\d+", clean))
    finished = []
    for line in clean.splitlines():
        m = re.match(r"^\s{2}(?P<name>[\w -]+?)\s*:.*\bok\s*$", line)
        if m:
            finished.append(m["name"].strip())
    passes += sum(MEMTESTER_UNCOUNTED.get(name, 0) for name in finished)
    return passes, finished


def bench_memtester(mib: int, seconds: float, threads: int) -> tuple[float, float, list[str]]:
    each = max(1, mib // threads)
    procs = [subprocess.Popen(["memtester", f"{each}M", "1"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, errors="replace") for _ in range(threads)]
    started = time.monotonic()
    time.sleep(seconds)
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    outputs = [p.communicate()[0] for p in procs]
    elapsed = time.monotonic() - started
    verified = 0
    finished: list[str] = []
    for out in outputs:
        passes, done = memtester_passes(out)
        verified += passes * each * MIB
        finished = done
    return verified, elapsed, finished


def gbps(value: float, secs: float) -> float:
    return value / secs / 1e9 if secs else 0.0


def bench_driven(mib: int, seconds: int) -> tuple[float, float]:
    ctx = run_module({"engines": ["stressapptest"], "max_mib": mib}, seconds + sat.SLEEP_STEP_S)
    done = [n["data"] for n in ctx.notes if n["message"].startswith("stressapptest on node")]
    if not done:
        return 0.0, 0.0
    return sum(d["verified_mib"] for d in done) * MIB, max(d["seconds"] or 0 for d in done)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=256, help="buffer size in MiB (total, all threads)")
    parser.add_argument("--seconds", type=int, default=15, help="seconds per tool and round (a multiple of 5)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of all tools; each tool's best round counts (other load on the machine "
                             "only ever slows a tool down)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    seconds = max(5, sat.whole_run_seconds(args.seconds))
    print(f"memory_vs_peers: {args.mib} MiB, {seconds} s per tool, {args.rounds} rounds, {args.threads} threads, "
          f"load average {os.getloadavg()[0]:.2f}")
    have_sat, have_memtester = bool(shutil.which("stressapptest")), bool(shutil.which("memtester"))
    if not have_sat:
        print("  stressapptest: not installed (apt-get install -y stressapptest)")
    if not have_memtester:
        print("  memtester: not installed (apt-get install -y memtester)")

    results: dict[str, tuple[float, float]] = {}

    def record(name: str, verified: float, secs: float, extra: str = "") -> None:
        print(f"  {name:22s}{gbps(verified, secs):7.2f} GB/s verified  ({verified / 1e9:.1f} GB in {secs:.1f} s"
              f"{'; ' + extra if extra else ''})")
        if name not in results or gbps(verified, secs) > gbps(*results[name]):
            results[name] = (verified, secs)

    for round_no in range(args.rounds):
        print(f"round {round_no + 1} (load average {os.getloadavg()[0]:.2f})")
        record("burnin built-in", *bench_builtin(args.mib, seconds, args.threads))
        if have_sat:
            verified, secs, outcome = bench_stressapptest(args.mib, seconds, args.threads)
            record("stressapptest", verified, secs, f"its 'Memory Copy' {outcome.memory_copy_mbps} MB/s counts "
                                                    f"read+write; {outcome.status}")
            record("burnin + stressapptest", *bench_driven(args.mib, seconds))
        if have_memtester:
            verified, secs, finished = bench_memtester(args.mib, seconds, args.threads)
            record("memtester", verified, secs, f"finished: {', '.join(finished) or 'nothing'}")
    print("best of each:")
    for name, (verified, secs) in results.items():
        print(f"  {name:22s}{gbps(verified, secs):7.2f} GB/s verified")

    def rate(name: str) -> float | None:
        return gbps(*results[name]) if name in results else None

    builtin = rate("burnin built-in")
    print("ratios:")
    if rate("stressapptest"):
        r = builtin / rate("stressapptest")
        print(f"  built-in / stressapptest        {r:6.2f}   (goal >= 0.5: {'met' if r >= 0.5 else 'NOT met'})")
    if rate("memtester"):
        r = builtin / rate("memtester")
        print(f"  built-in / memtester            {r:6.2f}   (goal >= 20: {'met' if r >= 20 else 'NOT met'})")
        # A whole battery: memtester's loop is 1308 compare passes, burnin's round one check per pattern write.
        mem_loop = rate("memtester") / MEMTESTER_PASSES_PER_LOOP
        our_round = builtin / BUILTIN_CHECKS_PER_ROUND
        print(f"  built-in / memtester, whole battery {our_round / mem_loop:6.1f}   (GB/s through every test once: "
              f"burnin {our_round:.3f} ({BUILTIN_CHECKS_PER_ROUND} checks a round), memtester {mem_loop:.4f} "
              f"({MEMTESTER_PASSES_PER_LOOP} passes a loop: {loop_text(args.mib, mem_loop)}))")
    if rate("stressapptest") and rate("burnin + stressapptest"):
        loss = 1 - rate("burnin + stressapptest") / rate("stressapptest")
        print(f"  burnin-driven stressapptest loses {loss:+.1%} against stressapptest alone "
              f"(goal <= 5 %: {'met' if loss <= 0.05 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
