#!/usr/bin/env python3
"""Benchmark `burnin fleet`: N generated journals (healthy, failing, cut short, with hostile strings) in the three
layouts it reads (the stick's runs/SERIAL_TIME/burnin.jsonl, Ansible's results/HOST/, an Ironic agent's log
tarball), then time collecting them and writing the page.

    python scripts/bench/fleet_page.py DIR [--machines 100] [--hours 0.5]

The acceptance bound (issue 23): 100 journals in under 2 s.
"""

from __future__ import annotations

import argparse
import io
import sys
import tarfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_journal import START, inventory_record, write_journal  # noqa: E402

KINDS = ("healthy", "failing", "cut", "disk-fail", "hostile")


def make_fleet(root: str | Path, machines: int = 100, hours: float = 0.5) -> Path:
    """`machines` journals under root: a fifth of each kind, spread over the three layouts."""
    root = Path(root)
    for n in range(machines):
        kind = KINDS[n % len(KINDS)]
        serial = f"SN{n:05d}"
        layout = n % 3
        if layout == 0:
            path = root / "stick" / "runs" / f"{serial}_20231114T221320Z" / "burnin.jsonl"
        else:
            path = root / "results" / f"host{n:03d}" / f"burnin-host{n:03d}-20231114T221320Z.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        findings = []
        if kind == "disk-fail":  # the disk failed, then the machine hung: no end, and the FAIL stands
            findings.append({"module": "disk", "severity": "fail", "component": f"disk:/dev/sdb S/N S2-{n}",
                             "code": "smart-reallocated", "message": "/dev/sdb has 812 reallocated sectors.",
                             "evidence": {"reallocated": 812}})
        write_journal(path, hours=hours, interval_s=2.0, start=START + n, fail=kind == "failing",
                      hostile=kind == "hostile", complete=kind not in ("cut", "disk-fail"), system_serial=serial, findings=findings,
                      inventory=inventory_record(serial=serial, disks=[(f"S1-{n}", "ST4000NM0035"),
                                                                       (f"S2-{n}", "ST4000NM0035")]))
        if layout == 2:  # an Ironic agent's log tarball holding the journal
            archive = root / "ironic" / f"node-{n:03d}_2023-11-14-22-13-20.tar.gz"
            archive.parent.mkdir(parents=True, exist_ok=True)
            data = path.read_bytes()
            with tarfile.open(archive, "w:gz") as tar:
                info = tarfile.TarInfo("var/log/burnin/burnin.jsonl")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            path.unlink()
            path.parent.rmdir()
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dir", help="an empty directory to fill")
    parser.add_argument("--machines", type=int, default=100)
    parser.add_argument("--hours", type=float, default=0.5, help="length of each simulated run")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    make_fleet(args.dir, args.machines, args.hours)
    print(f"{args.machines} journals of {args.hours:g} h made in {time.perf_counter() - began:.1f} s")

    from burnin.report.fleet import collect, write_fleet_page

    began = time.perf_counter()
    fleet = collect(args.dir)
    write_fleet_page(fleet, Path(args.dir) / "fleet.html", root=args.dir)
    took = time.perf_counter() - began
    print(f"burnin fleet: {len(fleet.machines)} machines, counts {fleet.counts()}: {took:.2f} s")
    return 0 if took < 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
