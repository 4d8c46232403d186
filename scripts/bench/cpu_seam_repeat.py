#!/usr/bin/env python3
"""Does a seller-profile run FAIL naming exactly the CPU with a fault, every time, and never without one?

Runs `burnin run --profile seller --only cpu --duration Ns` RUNS times with the test-only fault seam
(BURNIN_TEST_CPU_FLIP=cpu=C,rate=R: one random bit of a result on CPU C flipped with probability R per result
value) and RUNS times without it, and counts: with the seam, runs whose verdict is FAIL and whose FAIL findings all
name exactly `cpu:C (core ..., socket ...)`; without it, runs with any FAIL. A slow check (minutes), not a test.

    .venv/bin/python scripts/bench/cpu_seam_repeat.py [--runs 10] [--seconds 20] [--cpu 1] [--rate 1e-6]

Measured on the 2-vCPU development VM (AMD EPYC, KVM, shared with other work, load average ~10), 2026-12-02,
`--runs 10 --seconds 10`: with the seam on CPU 1 at 1e-6, 10/10 runs FAILed naming only
"cpu:1 (core 1, socket 0)", the first FAIL 16-42 s after the run started (inventory and references first),
37-62 s per run; clean: 0/10 runs with a FAIL (all PASS), 34-48 s per run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run(burnin: str, seconds: int, env: dict[str, str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-seam-") as tmp:
        argv = [burnin, "run", "--profile", "seller", "--only", "cpu", "--duration", f"{seconds}s", "--json",
                "--plain", "--journal", tmp]
        start = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, env=env)
        wall = time.monotonic() - start
        try:
            summary = json.loads(proc.stdout)
        except ValueError:
            return {"error": proc.stderr[-500:], "rc": proc.returncode}
        fails, first_fail_t, start_t = [], None, None
        for line in open(summary["journal"]):
            rec = json.loads(line)
            if rec.get("type") == "run_start":
                start_t = rec.get("t")
            if rec.get("type") == "finding" and rec.get("severity") == "fail":
                fails.append(rec["component"])
                first_fail_t = first_fail_t or rec.get("t")
        module_verdict = next((m.get("verdict") for m in summary.get("modules", []) if m.get("name") == "cpu"),
                              None) if isinstance(summary.get("modules"), list) else None
        return {"rc": proc.returncode, "verdict": summary.get("verdict"), "cpu_verdict": module_verdict,
                "fail_components": sorted(set(fails)), "wall_s": round(wall, 1),
                "first_fail_after_s": round(first_fail_t - start_t, 1) if first_fail_t and start_t else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--cpu", type=int, default=1)
    parser.add_argument("--rate", default="1e-6")
    parser.add_argument("--burnin", default=shutil.which("burnin") or str(Path(sys.executable).parent / "burnin"))
    args = parser.parse_args()
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("BURNIN_TEST_")}
    seam_env = {**clean_env, "BURNIN_TEST_CPU_FLIP": f"cpu={args.cpu},rate={args.rate}"}
    expected_prefix = f"cpu:{args.cpu} ("
    hits = clean_fails = 0
    for label, env in (("seam", seam_env), ("clean", clean_env)):
        for i in range(args.runs):
            result = one_run(args.burnin, args.seconds, env)
            print(label, i + 1, json.dumps(result), flush=True)
            comps = result.get("fail_components") or []
            if label == "seam" and comps and all(c.startswith(expected_prefix) for c in comps):
                hits += 1
            if label == "clean" and comps:
                clean_fails += 1
    print(f"with the seam on CPU {args.cpu} at {args.rate}: {hits}/{args.runs} runs FAILed naming exactly that CPU; "
          f"clean: {clean_fails}/{args.runs} runs with a FAIL")
    return 0 if hits == args.runs and clean_fails == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
