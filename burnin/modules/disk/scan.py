"""The read scan: every disk read at once, one thread each, O_DIRECT, never written (`burnin.tools.readscan`), and
what it found judged: read errors naming the byte offset and LBA, a disk that stopped answering, reads that hung or
took `slow_read_s`, regions far slower than the disk's median. Also the previous-data check of check(): partition
tables and filesystem signatures in a disk's first 256 KiB.
"""

from __future__ import annotations

import errno
import functools
import struct
import threading
import time
from typing import Sequence

from burnin.host import Host
from burnin.inventory.disks import Disk
from burnin.model import Severity
from burnin.module import ModuleContext
from burnin.modules.disk.settings import DiskSettings
from burnin.modules.disk.smart import component_of
from burnin.tools import readscan

READ_ERRORS_REPORTED = 10  # read errors reported one by one per disk; the summary at the end counts the rest


# -- judgement: previous data ----------------------------------------------------------------------
HEAD_BYTES = 256 * 1024


def data_signatures(head: bytes, logical_block: int = 512) -> list[str]:
    """Partition tables and filesystem / volume signatures in the first bytes of a disk."""
    found: list[str] = []

    def at(offset: int, magic: bytes) -> bool:
        return head[offset:offset + len(magic)] == magic

    if len(head) >= 512 and at(510, b"\x55\xaa"):
        types = [head[446 + 16 * i + 4] for i in range(4)]
        if 0xEE in types:
            found.append("protective MBR (GPT disk)")
        elif any(types):
            found.append("MBR partition table")
        elif at(3, b"NTFS    "):
            found.append("NTFS")
        elif at(82, b"FAT32   ") or at(54, b"FAT1"):
            found.append("FAT filesystem")
        else:
            found.append("boot sector")
    for block in sorted({512, logical_block, 4096}):
        if at(block, b"EFI PART"):
            found.append("GPT partition table")
            break
    checks = [
        (0x438, b"\x53\xef", "ext2/3/4 filesystem"), (0, b"XFSB", "XFS filesystem"),
        (65600, b"_BHRfS_M", "btrfs filesystem"), (512, b"LABELONE", "LVM physical volume"),
        (0, b"LUKS\xba\xbe", "LUKS encrypted volume"), (4096, b"\xfc\x4e\x2b\xa9", "Linux md RAID member (1.2)"),
        (0, b"\xfc\x4e\x2b\xa9", "Linux md RAID member (1.1)"), (4086, b"SWAPSPACE2", "Linux swap"),
        (32769, b"CD001", "ISO 9660 image"), (0, b"bluestore block device", "Ceph BlueStore"),
        (24, b"\xc6\x85\x73\xf6\x4e\x1a\x45\xca\x82\x65\xf5\x7f\x48\xba\x6d\x81", "bcache"),
    ]
    for offset, magic, name in checks:
        if at(offset, magic) and name not in found:
            found.append(name)
    if not at(0x438, b"\x53\xef") and at(4096 + 24, b"\xc6\x85\x73\xf6"):
        found.append("bcache")
    # ZFS: uberblocks (magic 0x00bab10c, either byte order) fill 128..256 KiB of vdev label 0
    for offset in range(128 * 1024, min(len(head), 256 * 1024) - 8, 1024):
        word = head[offset:offset + 8]
        if word in (struct.pack("<Q", 0x00BAB10C), struct.pack(">Q", 0x00BAB10C)):
            found.append("ZFS pool member")
            break
    return list(dict.fromkeys(found))


def check_previous_data(ctx: ModuleContext, host: Host, disks: Sequence[Disk], severity: Severity) -> None:
    """`disk-previous-data` for every disk that is not this system's and holds partitions or signatures."""
    for disk in disks:
        if disk.system:
            continue
        if disk.mountpoints:
            # Mounted: this system's own data (a data disk of the installed system, the results stick of the
            # live image), whoever wrote it first.
            ctx.note(f"{disk.dev_path} is mounted ({', '.join(disk.mountpoints)}): in use by this system, not "
                     "checked for a previous owner's data", disk=disk.dev_path)
            continue
        signs = [f"partition {p}" for p in disk.partitions]
        if host.live and disk.size_bytes:
            lb = host.read_int(f"/sys/block/{disk.name}/queue/logical_block_size") or 512
            try:
                head = readscan.read_head(str(host.path(disk.dev_path)), HEAD_BYTES)
                signs += [s for s in data_signatures(head, lb) if s not in signs]
            except OSError as exc:
                ctx.note(f"{disk.dev_path}: first bytes not readable for the previous-data check: {exc.strerror}",
                         disk=disk.dev_path)
        if signs:
            ctx.finding(severity, component_of(disk.dev_path, disk.serial), "disk-previous-data",
                        f"{disk.dev_path} holds a previous owner's data ({', '.join(signs[:4])}): wipe it "
                        "before use.", {"signatures": signs, "mountpoints": list(disk.mountpoints)})


# -- judgement: the read scan ----------------------------------------------------------------------
def slow_regions(results: Sequence[readscan.RegionResult], fraction: float, min_s: float
                 ) -> tuple[float, list[readscan.RegionResult]]:
    """The disk's median region throughput (bytes/s) and the regions slower than `fraction` of it that also
    took at least `min_s` (a fast device's tiny regions are never "slow" by jitter alone)."""
    rates = [r.bytes_per_s for r in results if r.seconds > 0]
    if len(rates) < 8:
        return (readscan.median(rates) if rates else 0.0), []
    mid = readscan.median(rates)
    slow = [r for r in results if r.seconds >= min_s and r.bytes_per_s < fraction * mid]
    return mid, slow


# -- the scan over a run -----------------------------------------------------------------------------
class ReadScan:
    """The read scan of one run phase: a `readscan.DiskScanner` per disk (each a load the module drives), and
    their judgement."""

    def __init__(self, host: Host, settings: DiskSettings):
        self.host = host
        self.settings = settings
        self.scanners: dict[str, readscan.DiskScanner] = {}
        self._errors_reported: dict[str, int] = {}

    def plan(self, ctx: ModuleContext, disks: Sequence[Disk]) -> list[readscan.DiskScanner]:
        """A scanner for every disk of known size (not started: they are loads)."""
        mode = self.settings.scan
        if mode == "none":
            return []
        block = self.settings.read_block_kib * 1024
        for disk in disks:
            if not disk.size_bytes:
                ctx.note(f"{disk.dev_path}: size unknown or zero, not scanned", disk=disk.dev_path)
                continue
            lb = self.host.read_int(f"/sys/block/{disk.name}/queue/logical_block_size") or 512
            if mode == "full":
                plan = functools.partial(_full_plan, disk.size_bytes, self.settings.region_mib * readscan.MIB)
            else:
                plan = functools.partial(_sample_plan, disk.size_bytes, self.settings.sample_mib * readscan.MIB,
                                         self.settings.sample_regions)
            scanner = readscan.DiskScanner(str(self.host.path(disk.dev_path)), disk.size_bytes, lb, plan,
                                           threading.Event(), block_bytes=block, repeat=self.settings.repeat_scan,
                                           slow_read_s=self.settings.slow_read_s, name=disk.name)
            scanner.disk = disk  # type: ignore[attr-defined]
            self.scanners[disk.name] = scanner
        ctx.note(f"read scan ({mode}) started on {len(self.scanners)} disks", disks=list(self.scanners),
                 block_bytes=block)
        return list(self.scanners.values())

    def report_events(self, ctx: ModuleContext) -> None:
        """Read errors, reported as they happen."""
        for name, scanner in self.scanners.items():
            self._report_events(ctx, name, scanner)

    def judge(self, ctx: ModuleContext) -> tuple[list[str], list[tuple[Disk, str]]]:
        """Judge every disk's scan: (problems that make the module an ERROR, (disk, why) for each disk this
        process may not open)."""
        problems: list[str] = []
        refused: list[tuple[Disk, str]] = []
        for name, scanner in self.scanners.items():
            self._report_events(ctx, name, scanner)
            if scanner.state.open_errno in (errno.EPERM, errno.EACCES):
                disk: Disk = scanner.disk  # type: ignore[attr-defined]
                refused.append((disk, f"{disk.dev_path}: {scanner.state.fatal}"))
                continue
            problems += self._judge_scan(ctx, name, scanner)
        return problems, refused

    def _report_events(self, ctx: ModuleContext, name: str, scanner: readscan.DiskScanner) -> None:
        reported = self._errors_reported
        disk: Disk = scanner.disk  # type: ignore[attr-defined]
        for event in scanner.state.drain():
            if isinstance(event, readscan.ReadError):
                reported[name] = reported.get(name, 0) + 1
                if reported[name] > READ_ERRORS_REPORTED:
                    continue  # the summary at the end counts the rest
                ctx.fail(component_of(disk.dev_path, disk.serial), "disk-read-error",
                         f"Reading {disk.dev_path} failed at byte {event.offset} (LBA {event.lba}, "
                         f"{event.logical_block}-byte blocks): {event.message}.",
                         {"offset_bytes": event.offset, "lba": event.lba, "logical_block_size": event.logical_block,
                          "errno": event.errno, "chunk_offset": event.chunk_offset,
                          "chunk_length": event.chunk_length})

    def _judge_scan(self, ctx: ModuleContext, name: str, scanner: readscan.DiskScanner) -> list[str]:
        disk: Disk = scanner.disk  # type: ignore[attr-defined]
        component = component_of(disk.dev_path, disk.serial)
        state = scanner.state
        with state.lock:
            regions = list(state.regions)
            errors = list(state.errors)
            not_kept = state.errors_not_kept
            slow_reads = list(state.slow_reads)
            current = state.current_read
            fatal, gone, bytes_read, passes = state.fatal, state.gone, state.bytes_read, state.passes_done
        problems = []
        if len(errors) + not_kept > READ_ERRORS_REPORTED:
            ctx.fail(component, "disk-read-error",
                     f"{disk.dev_path}: {len(errors) + not_kept} reads failed in all during the scan.",
                     {"failed_reads": len(errors) + not_kept,
                      "first_offsets": [e.offset for e in errors[:20]]})
        if gone:
            ctx.fail(component, "disk-vanished", f"{disk.dev_path} stopped answering during the read scan: {fatal}.",
                     {"bytes_read": bytes_read})
        elif fatal:
            problems.append(f"{disk.dev_path}: {fatal}")
        if current is not None and scanner.is_alive():
            stuck = time.monotonic() - current[1]
            ctx.warn(component, "disk-read-hung",
                     f"A read of {disk.dev_path} at byte {current[0]} had not returned after {stuck:.0f} s.",
                     {"offset_bytes": current[0], "seconds": round(stuck, 1)})
        if slow_reads:
            worst = max(slow_reads, key=lambda r: r.seconds)
            ctx.warn(component, "disk-slow-read",
                     f"{len(slow_reads)} reads of {disk.dev_path} took {self.settings.slow_read_s:g} s or more "
                     f"(worst {worst.seconds:.1f} s at byte {worst.offset}): the drive is retrying.",
                     {"count": len(slow_reads), "worst_seconds": round(worst.seconds, 2),
                      "offsets": [r.offset for r in slow_reads[:20]]})
        mid, slow = slow_regions(regions, self.settings.slow_region_fraction,
                                 self.settings.slow_region_min_s)
        if slow:
            ctx.warn(component, "disk-slow-region",
                     f"{len(slow)} regions of {disk.dev_path} read at under "
                     f"{self.settings.slow_region_fraction:.0%} of its median speed ({mid / 1e6:.0f} MB/s).",
                     {"median_mbps": round(mid / 1e6, 1),
                      "slow_regions": [{"offset_bytes": r.offset, "mbps": round(r.bytes_per_s / 1e6, 1)}
                                       for r in slow[:20]]})
        rates = [r.bytes_per_s / 1e6 for r in regions]
        ctx.note(f"{disk.dev_path}: read {bytes_read / 1e9:.2f} GB in {passes} full passes", disk=disk.dev_path,
                 bytes_read=bytes_read, passes=passes, regions=len(regions),
                 coverage=round(bytes_read / disk.size_bytes, 4) if disk.size_bytes else None,
                 median_mbps=round(readscan.median(rates), 1) if rates else None,
                 min_mbps=round(min(rates), 1) if rates else None, failed_reads=len(errors) + not_kept)
        return problems


def _full_plan(size: int, region_bytes: int, pass_index: int) -> list[readscan.Region]:
    return readscan.plan_full(size, region_bytes)


def _sample_plan(size: int, sample_bytes: int, count: int, pass_index: int) -> list[readscan.Region]:
    return readscan.plan_sample(size, sample_bytes, count, readscan.MIB, pass_index)
