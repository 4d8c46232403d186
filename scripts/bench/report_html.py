#!/usr/bin/env python3
"""Time `burnin report JOURNAL --html FILE` on a simulated 24-hour journal (1 Hz, 3 modules, 42 metrics).

    python scripts/bench/report_html.py [--hours 24] [--journal EXISTING.jsonl] [--dir DIR] [--fresh]

Prints the seconds `burnin report` took (a fresh process, as a user runs it), the HTML file's size, and where
the time went (reading the journal, the verdict, the HTML). The target: under 5 s and under 2 MB.
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
began = time.perf_counter()
from burnin import journal
from burnin.verdict import summarize
from burnin.report.html import write_html
from burnin.report.text import verdict_block
imported = time.perf_counter()
contents = journal.read(sys.argv[1])
read = time.perf_counter()
summary = summarize(contents, journal=sys.argv[1])
verdict_block(summary)
summarized = time.perf_counter()
write_html(summary, contents, sys.argv[2])
done = time.perf_counter()
print(json.dumps({"import_s": imported - began, "read_s": read - imported, "verdict_s": summarized - read,
                  "html_s": done - summarized}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--journal", help="an existing journal to report on instead of a simulated one")
    parser.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "burnin-bench"),
                        help="where the simulated journal and the HTML are kept (default: %(default)s)")
    parser.add_argument("--fresh", action="store_true", help="write the simulated journal anew")
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

    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    cli = subprocess.run([sys.executable, "-m", "burnin", "report", str(journal), "--html", str(out)],
                         capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - began
    if "No such option" in cli.stderr:
        print("this CLI has no --html yet: timing the same steps (read, verdict, HTML) in a fresh process")
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.perf_counter()
        steps = subprocess.run([sys.executable, "-c", STEPS, str(journal), str(out)], capture_output=True,
                               text=True, cwd=ROOT, check=True)
        seconds = time.perf_counter() - began
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    if "No such option" not in cli.stderr:
        print(f"burnin report exit code {cli.returncode}")
        steps = subprocess.run([sys.executable, "-c", STEPS, str(journal), str(work / "again.html")],
                               capture_output=True, text=True, cwd=ROOT, check=True)
    parts = json.loads(steps.stdout)
    size = out.stat().st_size
    print(f"report: {seconds:.2f} s ({cpu:.2f} s of CPU: less sensitive to a busy machine), "
          f"{size / 1e6:.2f} MB ({out})")
    print("where the time goes: " + ", ".join(f"{k[:-2]} {v:.2f} s" for k, v in parts.items()))
    ok = seconds < 5.0 and size < 2_000_000
    print("target (< 5 s, < 2 MB): " + ("met" if ok else "NOT met"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
