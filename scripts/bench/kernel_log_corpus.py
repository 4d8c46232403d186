#!/usr/bin/env python3
"""The kernel-log catalogue against the corpus of real kernel lines (tests/data/kernel-log/corpus.txt).

Two paths, per subsystem: recall (error lines that end up in a finding's evidence), fatal lines whose finding
FAILs, benign lines flagged (in any finding's evidence).
- offline: each block's lines as pasted text through `burnin kmsg`'s judge (burnin.kernel_log.offline).
- live (root, writable /dev/kmsg): the module follows /dev/kmsg as in a run (userspace_lines on) while this
  script writes every block's lines into it at --rate lines/s (printk_devkmsg=on for the duration, restored
  after); blocks are separated by --gap s, because each block is another machine's log. It also reports the
  latency from writing a line to the finding that carries it (p50/p99/max), and how many /dev/kmsg overruns
  the module journalled (an overrun is a note, never lost silently).

    sudo .venv/bin/python scripts/bench/kernel_log_corpus.py [--rate 500] [--gap 0.4] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from burnin.host import Host  # noqa: E402
from burnin.kernel_log import corpus  # noqa: E402
from burnin.kernel_log.catalogue import SUBSYSTEM_OF_CODE  # noqa: E402
from burnin.kernel_log.offline import judge_text  # noqa: E402
from burnin.model import Severity  # noqa: E402
from burnin.modules.kernel_log import KernelLogModule  # noqa: E402
from burnin.testing import RecordingContext  # noqa: E402

CORPUS = ROOT / "tests" / "data" / "kernel-log" / "corpus.txt"
DEVKMSG = Path("/proc/sys/kernel/printk_devkmsg")


def subsystem(cl: corpus.CorpusLine) -> str:
    return SUBSYSTEM_OF_CODE.get(cl.code or "", "benign:" + cl.driver)


def tally(scores, cl, finding) -> None:
    s = scores[subsystem(cl)]
    t = scores["all"]
    for target in (s, t):
        if cl.benign:
            target.benign_lines += 1
            target.benign_flagged += finding is not None
        else:
            target.error_lines += 1
            target.in_evidence += finding is not None
            if cl.severity == "fail":
                target.fatal_lines += 1
                target.fatal_failed += finding is not None and finding.severity is Severity.FAIL


def offline(blocks) -> dict:
    scores = defaultdict(corpus.Score)
    for block in blocks:
        result = judge_text([cl.message for cl in block.lines])
        where = {}
        for f in result.findings:
            for ln in f.evidence["lines"]:
                where.setdefault(ln, f)
        for cl in block.lines:
            tally(scores, cl, where.get(cl.message))
    return scores


def own_seq(reader: int, text: str) -> int | None:
    """The seq of the record just written with `text` (read back from /dev/kmsg)."""
    from burnin.kernel_log.kmsg import parse_record, read_available

    for _ in range(3):
        for kind, data in read_available(reader):
            rec = parse_record(data) if kind == "record" else None
            if rec is not None and rec.facility != 0 and rec.message.replace("\\x5c", "\\") == text:
                return rec.seq
        time.sleep(0.001)
    return None


class TimedContext(RecordingContext):
    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.emitted_at: list[float] = []

    def _emit(self, kind, payload):
        if kind == "finding":
            self.emitted_at.append(time.monotonic())
        super()._emit(kind, payload)


def live(blocks, rate: float, gap: float) -> dict:
    old = DEVKMSG.read_text().strip()
    DEVKMSG.write_text("on\n")
    try:
        module = KernelLogModule(Host("/"), {"userspace_lines": True, "max_findings_per_code": 10**6})
        module.check(RecordingContext(module.name, module.host, phase="check"))
        total = sum(len(b.lines) for b in blocks)
        seconds = total / rate + gap * len(blocks) + 5
        cancel = threading.Event()
        ctx = TimedContext(module.name, module.host, phase="run", seconds=seconds, cancel=cancel)
        thread = threading.Thread(target=module.run, args=(ctx,), daemon=True)
        thread.start()
        time.sleep(0.3)
        written: list[tuple[corpus.CorpusLine, float, int | None]] = []
        reader = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)  # to learn the seq of each line written
        os.lseek(reader, 0, os.SEEK_END)
        fd = os.open("/dev/kmsg", os.O_WRONLY)
        try:
            interval = 1.0 / rate
            for block in blocks:
                t_next = time.monotonic()
                for cl in block.lines:
                    now = time.monotonic()
                    if now < t_next:
                        time.sleep(t_next - now)
                    os.write(fd, f"<3>{cl.message}\n".encode())  # without its newline a record stays open for a continuation
                    t_written = time.monotonic()
                    written.append((cl, t_written, own_seq(reader, cl.message)))
                    t_next += interval
                time.sleep(gap)
        finally:
            os.close(fd)
            os.close(reader)
        time.sleep(1.5)
        cancel.set()
        thread.join(10)
    finally:
        DEVKMSG.write_text(old + "\n")
    # A finding's lines are its records: the evidence carries their /dev/kmsg seqs.
    by_seq = {seq: i for i, (_, _, seq) in enumerate(written) if seq is not None}
    got: dict[int, tuple] = {}
    for f, t in zip(ctx.findings, ctx.emitted_at):
        for seq in f.evidence.get("seqs", []):
            if seq in by_seq:
                got.setdefault(by_seq[seq], (f, t))
    if os.environ.get("KLOG_BENCH_DEBUG"):
        for i, (cl, _, _) in enumerate(written):
            if (i in got) == cl.benign:
                print("MISS" if not cl.benign else "FLAG", cl.block, repr(cl.message)[:120], file=sys.stderr)
    scores = defaultdict(corpus.Score)
    latencies = []
    for i, (cl, t_write, _) in enumerate(written):
        hit = got.get(i)
        tally(scores, cl, hit[0] if hit else None)
        if hit and not cl.benign:
            latencies.append(hit[1] - t_write)
    overruns = [n for n in ctx.notes if "overwritten" in n["message"]]
    latencies.sort()
    lat = {"lines_written": len(written), "rate_lines_per_s": rate, "findings": len(ctx.findings),
           "overruns_journalled": len(overruns)}
    if latencies:
        lat.update(p50_s=round(statistics.median(latencies), 3),
                   p99_s=round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 3),
                   max_s=round(latencies[-1], 3))
    return {"scores": scores, "latency": lat}


def table(title: str, scores) -> list[str]:
    out = [title, f"  {'subsystem':<22} {'errors':>6} {'recall%':>8} {'fatal':>6} {'FAIL%':>7} {'benign':>7} {'flagged%':>9}"]
    for name in sorted(scores, key=lambda n: (n == "all", n.startswith("benign:"), n)):
        d = scores[name].as_dict()
        fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
        out.append(f"  {name:<22} {d['error_lines']:>6} {fmt(d['recall_pct']):>8} {d['fatal_lines']:>6} "
                   f"{fmt(d['fatal_fail_pct']):>7} {d['benign_lines']:>7} {fmt(d['benign_flagged_pct']):>9}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=500.0, help="lines per second written to /dev/kmsg")
    ap.add_argument("--gap", type=float, default=0.4, help="seconds between two blocks (two machines' logs)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--offline-only", action="store_true")
    args = ap.parse_args()
    blocks = corpus.load(CORPUS)
    report: dict = {"corpus": {"blocks": len(blocks), "drivers": len({b.driver for b in blocks}),
                               "lines": sum(len(b.lines) for b in blocks)}}
    off = offline(blocks)
    report["offline"] = {k: v.as_dict() for k, v in off.items()}
    can_live = os.geteuid() == 0 and os.access("/dev/kmsg", os.W_OK) and DEVKMSG.exists()
    if can_live and not args.offline_only:
        lv = live(blocks, args.rate, args.gap)
        report["live"] = {k: v.as_dict() for k, v in lv["scores"].items()}
        report["latency"] = lv["latency"]
    else:
        report["live"] = None
        report["live_skipped"] = "needs root and a writable /dev/kmsg" if not can_live else "--offline-only"
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"corpus: {report['corpus']['lines']} lines in {report['corpus']['blocks']} blocks from "
          f"{report['corpus']['drivers']} drivers/subsystems")
    print("\n".join(table("offline (pasted text, burnin kmsg):", off)))
    if report["live"] is not None:
        print("\n".join(table(f"live (/dev/kmsg at {args.rate:g} lines/s):", lv["scores"])))
        print("latency line -> finding:", json.dumps(report["latency"]))
    else:
        print("live: skipped,", report["live_skipped"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
