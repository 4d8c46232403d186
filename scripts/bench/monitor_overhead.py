#!/usr/bin/env python3
"""What a monitor-only run costs the machine it watches: CPU time and memory of burnin's whole process tree.

    python scripts/bench/monitor_overhead.py [--seconds 120] [--modules thermal,devices,...] [--json]

Starts a real `burnin run` of the monitor modules only (no stress module: what runs beside a customer's own load
in a soak, or on a production server), waits for its stress-and-monitor phase, and over that phase measures:
- CPU: user + system seconds of burnin and every process under it, as a share of one core (goal: <= 1 %);
- memory: the resident set of every process summed (goal: <= 150 MiB), and the proportional set (PSS, which
  counts pages the forked module processes share with the agent once).
Start-up (imports, inventory, preflight) and the final checks are left out: they take seconds, once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]
MONITORS = "thermal,devices,storage-links,pcie,kernel-log,bmc,inventory,network"


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return [proc] + proc.children(recursive=True)
    except psutil.Error:
        return []


def _cpu_s(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return total


def _memory(procs: list[psutil.Process]) -> tuple[int, int]:
    rss = pss = 0
    for p in procs:
        try:
            info = p.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
        except psutil.Error:
            pass
    return rss, pss


def measure(seconds: float, modules: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        profile = Path(tmp) / "monitor.toml"
        profile.write_text(f'extends = "seller"\nname = "monitor-only"\nduration = "{seconds + 5:g}s"\n')
        cmd = [sys.executable, "-m", "burnin", "run", "--profile", str(profile), "--only", modules, "--plain",
               "--journal", str(Path(tmp) / "j.jsonl")]
        agent = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        root = psutil.Process(agent.pid)
        try:
            for line in agent.stderr:  # wait for the phase to begin
                if "== stress and monitor" in line:
                    break
            time.sleep(2.0)  # let the modules settle into their loops
            procs = _tree(root)
            cpu0, wall0 = _cpu_s(procs), time.monotonic()
            peak_rss = peak_pss = 0
            while time.monotonic() - wall0 < seconds:
                time.sleep(1.0)
                procs = _tree(root)
                rss, pss = _memory(procs)
                peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            cpu1, wall1 = _cpu_s(_tree(root)), time.monotonic()
            count = len(_tree(root))
        finally:
            agent.terminate()
            try:
                agent.wait(timeout=60)
            except subprocess.TimeoutExpired:
                agent.kill()
    return {"modules": modules, "seconds": round(wall1 - wall0, 1), "processes": count,
            "cpu_pct_of_one_core": round(100 * (cpu1 - cpu0) / (wall1 - wall0), 2),
            "rss_mib_summed": round(peak_rss / 2**20, 1), "pss_mib_summed": round(peak_pss / 2**20, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--modules", default=MONITORS)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.seconds, args.modules)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['modules']}: {result['processes']} processes over {result['seconds']} s: "
              f"CPU {result['cpu_pct_of_one_core']} % of one core (goal <= 1 %), "
              f"RSS {result['rss_mib_summed']} MiB summed (goal <= 150 MiB), PSS {result['pss_mib_summed']} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
