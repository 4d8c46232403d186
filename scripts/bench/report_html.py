#!/usr/bin/env python3
"""Time `burnin report JOURNAL --html FILE` on a simulated 24-hour journal (1 Hz, 3 modules, 42 metrics).

    python scripts/bench/report_html.py [--hours 24] [--journal EXISTING.jsonl] [--dir DIR] [--fresh] [--repeat N]

Prints the seconds `burnin report` took (a fresh process, as a user runs it; wall and CPU, user + system),
the HTML file's size, and where the time went (reading the journal, the verdict, the HTML; wall and CPU).
The target: under 5 s and under 2 MB. On a shared machine the wall time follows the load; the CPU time
much less. --repeat runs the report N times (the target must hold for the slowest).
If this burnin's CLI has no --html yet, the same steps are timed in a fresh process instead, and it says so.
The simulated journal (125 MB, about 10 s to write) is kept in DIR (default: $TMPDIR/burnin-bench) and
reused by the next run; --fresh writes it anew (do so after changing make_journal.py).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_journal import write_journal  # noqa: E402

STEPS = """
import json, sys, time
def now():
    return time.perf_counter(), time.process_time()
marks = [now()]
from burnin import journal
from burnin.verdict import summarize
from burnin.report.html import write_html
from burnin.report.text import verdict_block
marks.append(now())
contents = journal.read(sys.argv[1])
marks.append(now())
summary = summarize(contents, journal=sys.argv[1])
verdict_block(summary)
marks.append(now())
write_html(summary, contents, sys.argv[2])
marks.append(now())
steps = ("import", "read", "verdict", "html")
print(json.dumps({name: [b[0] - a[0], b[1] - a[1]] for name, a, b in zip(steps, marks, marks[1:])}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--journal", help="an existing journal to report on instead of a simulated one")
    parser.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "burnin-bench"),
                        help="where the simulated journal and the HTML are kept (default: %(default)s)")
    parser.add_argument("--fresh", action="store_true", help="write the simulated journal anew")
    parser.add_argument("--repeat", type=int, default=1, help="run the report this many times")
    args = parser.parse_args()

    work = Path(args.dir)
    work.mkdir(parents=True, exist_ok=True)
    journal = Path(args.journal) if args.journal else work / f"sim-{args.hours:g}h.jsonl"
    if args.fresh and not args.journal:
        journal.unlink(missing_ok=True)
    if not journal.exists():
        began = time.perf_counter()
        write_journal(journal, hours=args.hours, fail=True)
        print(f"journal: {journal} ({journal.stat().st_size / 1e6:.0f} MB) written in "
              f"{time.perf_counter() - began:.1f} s")
    out = work / "report.html"
    out.unlink(missing_ok=True)

    runs = []
    for _ in range(max(1, args.repeat)):
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        cli = subprocess.run([sys.executable, "-m", "burnin", "report", str(journal), "--html", str(out)],
                             capture_output=True, text=True, cwd=ROOT)
        seconds = time.perf_counter() - began
        if "No such option" in cli.stderr:
            print("this CLI has no --html yet: timing the same steps (read, verdict, HTML) in a fresh process")
            cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            began = time.perf_counter()
            subprocess.run([sys.executable, "-c", STEPS, str(journal), str(out)], capture_output=True, text=True,
                           cwd=ROOT, check=True)
            seconds = time.perf_counter() - began
        else:
            print(f"burnin report exit code {cli.returncode}")
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
        size = out.stat().st_size
        print(f"report: {seconds:.2f} s ({cpu:.2f} s of CPU: less sensitive to a busy machine), "
              f"{size / 1e6:.2f} MB ({out})")
        runs.append(seconds)
    steps = subprocess.run([sys.executable, "-c", STEPS, str(journal), str(work / "again.html")],
                           capture_output=True, text=True, cwd=ROOT, check=True)
    parts = json.loads(steps.stdout)
    print("where the time goes (wall, CPU): " + ", ".join(f"{k} {w:.2f} s, {c:.2f} s" for k, (w, c) in parts.items()))
    seconds = max(runs)
    ok = seconds < 5.0 and size < 2_000_000
    print("target (< 5 s, < 2 MB): " + ("met" if ok else "NOT met"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
