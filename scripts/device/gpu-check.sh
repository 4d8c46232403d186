#!/bin/bash
# The gpu module end to end on a machine with GPUs: install burnin, run the GPU-facing modules, write the HTML
# report, and print the figures a closing note needs: GPUs found, verdict, DCGM level run, samples per second, time
# to the first verdict.
#
#   scripts/device/gpu-check.sh [DURATION]        (default 5m; run from anywhere, as root for the kernel log)
#
# Results go to $OUT (default ./gpu-check-out): gpu-check.jsonl (the journal), result.json (--json), report.html,
# run.log (human output), nvidia-smi.xml, summary.txt. Exit status: burnin's (0 PASS/WARN, 1 FAIL, 3 ERROR).
set -uo pipefail
cd "$(dirname "$0")/../.."
DURATION="${1:-5m}"
OUT="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
say() { echo "== $*" | tee -a "$OUT/summary.txt"; }
: > "$OUT/summary.txt"

# -- install: a venv with burnin; offline machines reuse the system's packages ------------------------------------
if [ ! -x .venv/bin/burnin ]; then
    say "installing burnin into .venv"
    "$PY" -m venv --system-site-packages .venv
    .venv/bin/pip install -q -e . 2>"$OUT/pip.log" ||
        .venv/bin/pip install -q --no-deps --no-build-isolation -e . 2>>"$OUT/pip.log" ||
        { say "could not install burnin (see $OUT/pip.log)"; exit 2; }
fi
BURNIN=.venv/bin/burnin

# -- what is here -------------------------------------------------------------------------------------------------
say "host: $(uname -r), $(nproc) CPUs"
if command -v nvidia-smi >/dev/null; then
    nvidia-smi -L | tee -a "$OUT/summary.txt"
    nvidia-smi -q -x > "$OUT/nvidia-smi.xml" 2>&1 || say "nvidia-smi -q -x failed"
else
    say "nvidia-smi: not installed"
fi
for tool in dcgmi gpu_burn; do say "$tool: $(command -v "$tool" || echo 'not installed')"; done
say "NVML: $(.venv/bin/python -c 'from burnin.tools import nvidia_nvml as n; print(n.available() or "answers")')"
say "CuPy: $(.venv/bin/python -c 'from burnin.tools import cupy_matmul as c; print(c.cupy_missing() or "importable")')"
$BURNIN modules | grep -E '^ *(gpu|thermal|kernel-log|pcie) ' | tee -a "$OUT/summary.txt"

# -- the run ------------------------------------------------------------------------------------------------------
say "burnin run --only gpu,thermal,kernel-log,pcie --duration $DURATION"
START=$(date +%s.%N)
$BURNIN run --only gpu,thermal,kernel-log,pcie --duration "$DURATION" --json --plain \
    --journal "$OUT/gpu-check.jsonl" --html "$OUT/report.html" > "$OUT/result.json" 2> "$OUT/run.log"
STATUS=$?
END=$(date +%s.%N)
say "burnin exited $STATUS after $(awk "BEGIN { printf \"%.0f\", $END - $START }") s"

# -- the figures, from the journal ----------------------------------------------------------------------------------
.venv/bin/python - "$OUT/gpu-check.jsonl" "$OUT/result.json" <<'PY' | tee -a "$OUT/summary.txt"
import json, sys
records = [json.loads(line) for line in open(sys.argv[1]) if line.strip().startswith("{")]
try:
    result = json.load(open(sys.argv[2]))
except ValueError:
    result = {}
start = next(r["t"] for r in records if r["type"] == "run_start")
gpu = [r for r in records if r.get("module") == "gpu"]
notes = [r for r in gpu if r["type"] == "note"]
gpus = next((n["data"].get("gpus", {}) for n in notes if n["message"] == "GPUs"), {})
print(f"GPUs found: {len(gpus)}")
for pci, g in sorted(gpus.items()):
    print(f"  {pci}  {g.get('name')}  S/N {g.get('serial')}  VBIOS {g.get('vbios')}  driver {g.get('driver')}")
print(f"verdict: {result.get('verdict')}  (gpu: {result.get('modules', {}).get('gpu')})")
settings = next(r for r in records if r["type"] == "run_start")["profile"]["settings"]["modules_settings"]
level = settings.get("gpu", {}).get("dcgm_level", 2)
engines = [n["data"].get("engine") for n in notes if n["message"] == "load started"]
print(f"engines run: {engines or 'none'}; DCGM level: {level if 'dcgm' in engines else 'not run'}")
for n in notes:
    if "not available" in n["message"]:
        print(f"  {n['message']}")
samples = [r for r in gpu if r["type"] == "sample"]
if samples:
    span = max(samples[-1]["t"] - samples[0]["t"], 1e-9)
    temps = sum(1 for s in samples for k in s["metrics"] if k.startswith("gpu_temp_c:"))
    print(f"samples: {len(samples)} in {span:.0f} s = {len(samples) / span:.2f}/s; "
          f"{temps / span / max(len(gpus), 1):.2f} readings per GPU per second")
else:
    print("samples: none")
first = next((r["t"] for r in gpu if r["type"] == "finding"
              or (r["type"] == "note" and r["message"] == "load started")), None)
print("time to first verdict (pre-load health judged): "
      + (f"{first - start:.1f} s" if first else "none"))
for f in result.get("findings", []):
    if f.get("module") == "gpu" or f.get("component", "").startswith("gpu"):
        print(f"  {f['severity'].upper():4} {f['code']:28} {f['component']}: {f['message'][:140]}")
print(f"untested: {[u['area'] for u in result.get('untested', [])]}")
PY
say "report: $OUT/report.html ($(stat -c %s "$OUT/report.html" 2>/dev/null || echo 0) bytes); journal: $OUT/gpu-check.jsonl"
exit $STATUS
