#!/usr/bin/env python3
"""How busy does burnin's built-in CPU engine keep the CPUs, next to stress-ng? (A benchmark, not a test.)

Runs, for the same duration (default 20 s):
  1. `burnin run --only cpu --duration Ns --json` with a throw-away profile that sets the cpu module's
     engines to ["builtin"] (so stress-ng does not stand in for the built-in engine), and
  2. `stress-ng --cpu 0 --verify --timeout Ns`,
while a sampler reads /proc/stat every 0.25 s. Busy fraction = (user+nice+system+irq+softirq) /
(that + idle + iowait), steal left out, per CPU, over each tool's load window: burnin's is the cpu module's
"engine" note to its "load" note in the journal (preflight, start-up and verdict excluded); stress-ng's is its
process lifetime minus its start-up and report (0.5 s at each end).
/proc/stat counts every process on the machine; so the CPU time of each tool's own processes (getrusage of
waited-for children) over its whole command, divided by wall time x CPUs, is printed too ("own share"; for
burnin it includes the preflight and start-up).

Goal: burnin >= 0.99 x stress-ng and >= 97 % absolute.

    /tmp/venv/bin/python scripts/bench/cpu_vs_stress_ng.py [SECONDS] [--burnin PATH] [--stress-ng PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BUSY_FIELDS = (0, 1, 2, 5, 6)  # user nice system irq softirq
IDLE_FIELDS = (3, 4)  # idle iowait
EDGE_S = 0.5


def read_stat() -> dict[int, tuple[int, int]]:
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and not line.startswith("cpu "):
                name, *vals = line.split()
                v = [int(x) for x in vals]
                out[int(name[3:])] = (sum(v[i] for i in BUSY_FIELDS), sum(v[i] for i in IDLE_FIELDS))
    return out


class Sampler(threading.Thread):
    def __init__(self, interval_s: float = 0.25):
        super().__init__(daemon=True)
        self.interval_s = interval_s
        self.samples: list[tuple[float, dict[int, tuple[int, int]]]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            self.samples.append((time.time(), read_stat()))
            self._halt.wait(self.interval_s)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def busy(self, start: float, end: float) -> dict[int, float]:
        inside = [s for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2:
            raise SystemExit(f"too few /proc/stat samples in the window {start:.1f}..{end:.1f}")
        (_, first), (_, last) = inside[0], inside[-1]
        result = {}
        for cpu in last:
            busy = last[cpu][0] - first[cpu][0]
            idle = last[cpu][1] - first[cpu][1]
            result[cpu] = busy / (busy + idle) if busy + idle else 0.0
        return result


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_burnin(burnin: str, seconds: int, sampler: Sampler) -> tuple[dict[int, float], dict]:
    with tempfile.TemporaryDirectory(prefix="bench-cpu-") as tmp:
        profile = Path(tmp) / "bench.toml"
        profile.write_text('extends = "seller"\nname = "bench-cpu"\n\n[settings.cpu]\nengines = ["builtin"]\n')
        argv = [burnin, "run", "--profile", str(profile), "--only", "cpu", "--duration", f"{seconds}s",
                "--json", "--plain", "--journal", tmp]
        cpu_before, wall_before = children_cpu_s(), time.time()
        proc = subprocess.run(argv, capture_output=True, text=True)
        own_share = (children_cpu_s() - cpu_before) / ((time.time() - wall_before) * os.cpu_count())
        if proc.returncode not in (0, 1):
            sys.stderr.write(proc.stderr[-3000:])
            raise SystemExit(f"burnin exited {proc.returncode}")
        summary = json.loads(proc.stdout)
        start = end = None
        module_busy = None
        for line in open(summary["journal"]):
            rec = json.loads(line)
            if rec.get("module") != "cpu" or rec.get("type") != "note":
                continue
            if rec["message"] == "engine" and start is None:
                start = rec["t"]
            elif rec["message"] == "load":
                end = rec["t"]
                module_busy = rec["data"].get("busy_pct")
        if start is None or end is None:
            raise SystemExit("the journal has no cpu engine/load notes: did the cpu module run?")
        return sampler.busy(start + EDGE_S, end - EDGE_S), {"verdict": summary["verdict"],
                                                            "module_busy_pct": module_busy, "own_share": own_share}


def run_stress_ng(stress_ng: str, seconds: int, sampler: Sampler) -> tuple[dict[int, float], dict]:
    argv = [stress_ng, "--cpu", "0", "--verify", "--timeout", f"{seconds}s"]
    cpu_before, start = children_cpu_s(), time.time()
    proc = subprocess.run(argv, capture_output=True, text=True)
    end = time.time()
    own_share = (children_cpu_s() - cpu_before) / ((end - start) * os.cpu_count())
    return sampler.busy(start + EDGE_S, end - EDGE_S), {"returncode": proc.returncode, "own_share": own_share}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("seconds", nargs="?", type=int, default=20)
    parser.add_argument("--burnin", default=shutil.which("burnin") or str(Path(sys.executable).parent / "burnin"))
    parser.add_argument("--stress-ng", default=shutil.which("stress-ng"))
    args = parser.parse_args()
    if not args.stress_ng:
        raise SystemExit("stress-ng is not installed (apt-get install stress-ng)")
    sampler = Sampler()
    sampler.start()
    try:
        burnin_busy, burnin_info = run_burnin(args.burnin, args.seconds, sampler)
        time.sleep(1.0)
        sng_busy, sng_info = run_stress_ng(args.stress_ng, args.seconds, sampler)
    finally:
        sampler.stop()
    cpus = sorted(burnin_busy)
    print(f"{len(cpus)} CPUs, {args.seconds} s each, /proc/stat sampled every {sampler.interval_s} s")
    print(f"{'cpu':>5} {'burnin %':>9} {'stress-ng %':>12} {'ratio':>7}")
    for cpu in cpus:
        ratio = burnin_busy[cpu] / sng_busy[cpu] if sng_busy.get(cpu) else float("nan")
        print(f"{cpu:>5} {burnin_busy[cpu] * 100:9.2f} {sng_busy.get(cpu, 0) * 100:12.2f} {ratio:7.4f}")
    b_min, s_min = min(burnin_busy.values()), min(sng_busy.values())
    b_mean = sum(burnin_busy.values()) / len(cpus)
    s_mean = sum(sng_busy.values()) / len(sng_busy)
    print(f"{'mean':>5} {b_mean * 100:9.2f} {s_mean * 100:12.2f} {b_mean / s_mean:7.4f}")
    print(f"{'min':>5} {b_min * 100:9.2f} {s_min * 100:12.2f} {b_min / s_min:7.4f}")
    print(f"own share of all CPUs (tool's processes' CPU time / wall x CPUs): burnin "
          f"{burnin_info['own_share'] * 100:.2f} %, stress-ng {sng_info['own_share'] * 100:.2f} %")
    print(f"burnin verdict {burnin_info['verdict']}, its own busy_pct {burnin_info['module_busy_pct']}; "
          f"stress-ng exit code {sng_info['returncode']}")
    ok = b_min >= 0.97 and b_mean / s_mean >= 0.99
    print("goal (burnin >= 0.99 x stress-ng and >= 97 % on every CPU):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
