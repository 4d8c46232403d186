#!/usr/bin/env python3
"""How fast does burnin's read scan read a disk, next to fio? (A benchmark, not a test.)

Both read the same block device front to back, sequentially, with O_DIRECT, 1 MiB per read, one read in flight:
  1. burnin: `burnin.tools.readscan.DiskScanner` with a full plan (what the disk module's `scan = "full"` runs);
  2. fio: `fio --rw=read --direct=1 --bs=1M --ioengine=psync --readonly`.
Rounds alternate (burnin, fio, burnin, fio, ...) so neither gets a warmer device; the median of each is compared.

Without --device, a loop device is made over a file of random data (--size-mib, default 1024) in --dir (default:
the current directory) with `losetup --direct-io=on`, so the loop device reads its backing file with O_DIRECT too
and the page cache cannot serve either tool. With --dir on a tmpfs (/dev/shm) the backing file cannot do O_DIRECT:
the loop device then reads it from memory, at GB/s, which measures each tool's own cost per read (the worst case for
burnin, as on a fast NVMe drive). Needs root, losetup
and fio (Debian: util-linux, fio). Nothing is ever written to --device.

Goal: burnin >= 0.9 x fio.

    sudo /tmp/venv/bin/python scripts/bench/readscan_vs_fio.py [--device /dev/sdX] [--size-mib N] [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from burnin.tools.readscan import MIB, DiskScanner, plan_full  # noqa: E402


def device_size(path: str) -> int:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


def logical_block(path: str) -> int:
    name = os.path.basename(os.path.realpath(path))
    try:
        with open(f"/sys/block/{name}/queue/logical_block_size") as f:
            return int(f.read())
    except OSError:
        return 512


def burnin_scan(path: str, size: int, block: int) -> float:
    scanner = DiskScanner(path, size, logical_block(path), lambda _: plan_full(size, 256 * MIB), threading.Event(),
                          block_bytes=block)
    start = time.monotonic()
    scanner.start()
    scanner.join()
    seconds = time.monotonic() - start
    if scanner.state.fatal or scanner.state.errors or scanner.state.bytes_read != size:
        raise SystemExit(f"burnin scan failed: {scanner.state.fatal or scanner.state.errors}")
    return size / seconds


def fio_read(path: str, size: int, block: int) -> float:
    argv = ["fio", "--name=seqread", f"--filename={path}", "--rw=read", "--direct=1", f"--bs={block}",
            "--ioengine=psync", "--iodepth=1", "--numjobs=1", f"--size={size}", "--readonly",
            "--output-format=json"]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    job = json.loads(out[out.index("{"):])["jobs"][0]["read"]
    return float(job["bw_bytes"])


def make_loop(directory: str, size: int) -> tuple[str, str]:
    fd, image = tempfile.mkstemp(prefix="readscan-bench-", suffix=".img", dir=directory)
    with os.fdopen(fd, "wb") as f:
        chunk = os.urandom(4 * MIB)
        for _ in range(size // len(chunk)):
            f.write(chunk[:1] + os.urandom(4096) + chunk[4097:])  # not all pages equal, cheap to make
        f.flush()
        os.fsync(f.fileno())
    for direct in (["--direct-io=on"], []):  # a tmpfs file cannot do O_DIRECT: then the loop device reads it cached
        made = subprocess.run(["losetup", "--find", "--show", *direct, "--read-only", image], capture_output=True,
                              text=True)
        if made.returncode == 0:
            device = made.stdout.strip()
            if direct:
                status = subprocess.run(["losetup", "--list", "--noheadings", "-O", "DIO", device],
                                        capture_output=True, text=True).stdout.strip()
                if status != "1":  # losetup accepted the flag but the kernel could not honour it
                    subprocess.run(["losetup", "-d", device], check=False)
                    continue
            print(f"loop device {device} over {image} (backing file read with O_DIRECT: {bool(direct)})")
            return device, image
    os.unlink(image)
    raise SystemExit("losetup failed: " + made.stderr.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", help="an existing block device to read (default: a loop device over a new file)")
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the file behind the loop device")
    parser.add_argument("--dir", default=".", help="where to put that file (a real filesystem)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--block-kib", type=int, default=1024)
    parser.add_argument("--min-ratio", type=float, default=0.0, help="exit 1 when burnin/fio is below this")
    args = parser.parse_args()
    if shutil.which("fio") is None:
        print("fio is not installed (Debian: apt-get install fio)", file=sys.stderr)
        return 2
    image = None
    device = args.device
    if device is None:
        device, image = make_loop(args.dir, args.size_mib * MIB)
    try:
        size = device_size(device)
        block = args.block_kib * 1024
        ours, theirs = [], []
        for _ in range(args.rounds):
            ours.append(burnin_scan(device, size, block))
            theirs.append(fio_read(device, size, block))
        mine, fio = statistics.median(ours), statistics.median(theirs)
        print(f"device {device}: {size / MIB:.0f} MiB, {block // 1024} KiB reads, O_DIRECT, {args.rounds} rounds")
        print(f"  burnin read scan: {mine / 1e6:8.1f} MB/s  (rounds: {', '.join(f'{r / 1e6:.1f}' for r in ours)})")
        print(f"  fio --rw=read:    {fio / 1e6:8.1f} MB/s  (rounds: {', '.join(f'{r / 1e6:.1f}' for r in theirs)})")
        ratio = mine / fio if fio else 0.0
        print(f"  ratio burnin/fio: {ratio:.3f}  (goal >= 0.9)")
        return 1 if ratio < args.min_ratio else 0
    finally:
        if image is not None:
            subprocess.run(["losetup", "-d", device], check=False)
            os.unlink(image)


if __name__ == "__main__":
    sys.exit(main())
