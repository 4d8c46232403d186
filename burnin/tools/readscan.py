"""The non-destructive read scan: reads a block device with O_DIRECT into aligned buffers, never writes.

A `DiskScanner` is one thread per disk. It opens the device O_RDONLY|O_DIRECT (the only way this module opens a
device: `open_readonly`), reads a plan of regions in `block_bytes` chunks into an mmap-allocated (page-aligned)
buffer, and records per region how long it took. A failed read is narrowed down to the first failing logical
block by re-reading that chunk one logical block at a time, so an error names its exact byte offset and LBA;
the scan then goes on after that chunk. The thread checks its stop event between chunks, so it stops within one
chunk's read time (milliseconds on a healthy disk) of being asked; a read stuck inside the kernel on a dying
disk cannot be interrupted, which `current_read` makes visible.

Plans: `plan_sample` spreads `sample_bytes` over evenly spaced regions from the first to the last byte (each
pass shifted, so repeated passes cover new ground); `plan_full` covers the whole device in fixed regions.
Adapters never judge: `burnin.modules.disk` decides what an error, a slow read or a slow region means.
"""

from __future__ import annotations

import errno
import mmap
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

MIB = 1024 * 1024
MEDIUM_ERRNOS = frozenset({errno.EIO, errno.EILSEQ, errno.ENODATA, errno.EBADMSG})
GONE_ERRNOS = frozenset({errno.ENODEV, errno.ENXIO, errno.ENOENT})
MAX_ERRORS_PER_DISK = 64  # recorded individually; later ones are only counted


@dataclass(frozen=True)
class Region:
    offset: int
    length: int


@dataclass(frozen=True)
class RegionResult:
    offset: int
    length: int
    seconds: float
    bytes_read: int
    pass_index: int

    @property
    def bytes_per_s(self) -> float:
        return self.bytes_read / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class ReadError:
    offset: int  # byte offset of the first block that failed
    lba: int  # that block's number, in logical blocks
    logical_block: int
    errno: int
    message: str
    chunk_offset: int  # the chunk whose read failed
    chunk_length: int


@dataclass(frozen=True)
class SlowRead:
    offset: int
    length: int
    seconds: float


def open_readonly(path: str, direct: bool = True) -> int:
    """The one place a device is opened: read-only, O_DIRECT (bypassing the page cache), close-on-exec."""
    flags = os.O_RDONLY | os.O_CLOEXEC
    if direct:
        flags |= os.O_DIRECT
    return os.open(path, flags)


def aligned_buffer(nbytes: int) -> mmap.mmap:
    """An anonymous mapping: page-aligned, as O_DIRECT wants."""
    return mmap.mmap(-1, max(nbytes, mmap.PAGESIZE))


def _pread_into(fd: int, buf: mmap.mmap, length: int, offset: int) -> int:
    """Read `length` bytes at `offset` into the start of `buf` (no view outlives the call)."""
    with memoryview(buf) as whole, whole[:length] as part:
        return os.preadv(fd, [part], offset)


def read_head(path: str, nbytes: int, direct: bool = True) -> bytes:
    """The first `nbytes` of a device (rounded up to a page), for signature checks."""
    size = -(-nbytes // mmap.PAGESIZE) * mmap.PAGESIZE
    try:
        fd = open_readonly(path, direct)
    except OSError as exc:
        if exc.errno != errno.EINVAL or not direct:
            raise
        fd = open_readonly(path, direct=False)  # a device or file that cannot do O_DIRECT: a few cached bytes do
    buf = aligned_buffer(size)
    try:
        got = _pread_into(fd, buf, size, 0)
        return bytes(buf[:min(got, nbytes)])
    finally:
        buf.close()
        os.close(fd)


def _align_down(value: int, align: int) -> int:
    return value - value % align


def plan_full(size: int, region_bytes: int) -> list[Region]:
    """The whole device, front to back, in regions of `region_bytes` (the last one shorter)."""
    regions = []
    offset = 0
    while offset < size:
        regions.append(Region(offset, min(region_bytes, size - offset)))
        offset += region_bytes
    return regions


def plan_sample(size: int, sample_bytes: int, count: int, align: int = MIB, pass_index: int = 0) -> list[Region]:
    """`sample_bytes` in `count` equal regions spread from the start to the end of the device. Each pass is shifted
    by one region length within its stride, so later passes read new ground. A device smaller than the sample is
    read whole."""
    if size <= sample_bytes or count <= 0:
        return plan_full(size, max(sample_bytes // max(count, 1), align))
    count = max(1, min(count, size // align))
    length = max(align, _align_down(sample_bytes // count, align))
    last = _align_down(size - length, align)
    stride = last / (count - 1) if count > 1 else 0
    gap = max(int(stride) - length, 0)
    shift = _align_down((pass_index * length) % gap, align) if gap >= align else 0
    regions = []
    for i in range(count):
        base = _align_down(int(i * stride), align)
        offset = min(base + shift, last)
        regions.append(Region(offset, min(length, size - offset)))
    return regions


@dataclass
class ScanState:
    """What a scanner has done so far; read by the module thread under `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    bytes_read: int = 0
    passes_done: int = 0
    regions: list[RegionResult] = field(default_factory=list)
    errors: list[ReadError] = field(default_factory=list)
    errors_not_kept: int = 0
    slow_reads: list[SlowRead] = field(default_factory=list)
    current_read: tuple[int, float] | None = None  # (offset, monotonic start) of the read in progress
    fatal: str = ""  # why the scan could not go on (open failed, disk gone, unexpected errno)
    open_errno: int | None = None  # set when the device could not be opened at all
    gone: bool = False
    finished: bool = False
    new_events: list = field(default_factory=list)  # errors and slow reads not yet taken by the module

    def drain(self) -> list:
        with self.lock:
            events, self.new_events = self.new_events, []
            return events


class DiskScanner(threading.Thread):
    """Reads one device along a plan, pass after pass (or once), until done or stopped (`stop`, checked between
    chunks). The disk module runs it as a `burnin.load.ThreadLoad`, with `metrics` as its throughput."""

    def __init__(
        self,
        path: str,
        size: int,
        logical_block: int,
        plan: Callable[[int], list[Region]],
        stop: threading.Event,
        block_bytes: int = MIB,
        repeat: bool = False,
        slow_read_s: float = 2.0,
        name: str = "",
    ):
        super().__init__(name=f"readscan:{name or path}", daemon=True)
        self.path = path
        self.size = size
        self.logical_block = max(512, logical_block)
        self.plan = plan
        self.stop_event = stop
        self.block_bytes = max(self.logical_block, _align_down(block_bytes, self.logical_block))
        self.repeat = repeat
        self.slow_read_s = slow_read_s
        self.state = ScanState()
        self.label = name or path
        self._metrics_at = (0, time.monotonic())  # (bytes_read, when) at the last metrics()
        self._pass_bytes: int | None = None  # bytes one pass of the plan reads (the plan's first pass)

    def start(self) -> None:
        self._metrics_at = (0, time.monotonic())
        super().start()

    def metrics(self) -> dict[str, float]:
        """`read_mbps:NAME` since the last call (MB/s, 10^6 bytes/s), and `scan_pct:NAME`: how far the current
        pass of the plan has come."""
        now = time.monotonic()
        with self.state.lock:
            done, passes = self.state.bytes_read, self.state.passes_done
        last_bytes, last_t = self._metrics_at
        self._metrics_at = (done, now)
        out = {f"read_mbps:{self.label}": (done - last_bytes) / max(now - last_t, 1e-6) / 1e6}
        if self._pass_bytes is None:
            self._pass_bytes = sum(region.length for region in self.plan(0))
        if self._pass_bytes:
            out[f"scan_pct:{self.label}"] = round(min(100.0, 100.0 * (done - passes * self._pass_bytes)
                                                      / self._pass_bytes), 1)
        return out

    # -- the thread ----------------------------------------------------------------------------
    def run(self) -> None:
        try:
            fd = open_readonly(self.path)
        except OSError as exc:
            with self.state.lock:
                self.state.fatal = f"cannot open {self.path} read-only: {exc.strerror or exc}"
                self.state.open_errno = exc.errno
                self.state.gone = exc.errno in GONE_ERRNOS
                self.state.finished = True
            return
        buf = aligned_buffer(self.block_bytes)
        try:
            pass_index = 0
            while not self.stop_event.is_set():
                for region in self.plan(pass_index):
                    if self.stop_event.is_set() or self.state.fatal:
                        break
                    self._read_region(fd, buf, region, pass_index)
                if self.stop_event.is_set() or self.state.fatal:
                    break
                with self.state.lock:
                    self.state.passes_done += 1
                pass_index += 1
                if not self.repeat:
                    break
        finally:
            buf.close()
            os.close(fd)
            with self.state.lock:
                self.state.finished = True
                self.state.current_read = None

    def _read_region(self, fd: int, buf: mmap.mmap, region: Region, pass_index: int) -> None:
        start = time.monotonic()
        done = 0
        offset = region.offset
        end = region.offset + region.length
        while offset < end and not self.stop_event.is_set():
            want = min(self.block_bytes, end - offset)
            want -= want % self.logical_block
            if want <= 0:
                break
            got = self._read_chunk(fd, buf, offset, want)
            if got is None:  # failed and recorded; go on after this chunk
                offset += want
                continue
            if got == 0:
                break  # end of device
            done += got
            offset += got
            with self.state.lock:
                self.state.bytes_read += got
        seconds = time.monotonic() - start
        if done and offset >= end:  # only whole regions are timed: a stopped one would look slow
            with self.state.lock:
                self.state.regions.append(RegionResult(region.offset, region.length, seconds, done, pass_index))

    def _read_chunk(self, fd: int, buf: mmap.mmap, offset: int, want: int) -> int | None:
        t0 = time.monotonic()
        with self.state.lock:
            self.state.current_read = (offset, t0)
        try:
            got = _pread_into(fd, buf, want, offset)
        except OSError as exc:
            self._failed(fd, buf, offset, want, exc)
            return None
        finally:
            with self.state.lock:
                self.state.current_read = None
        seconds = time.monotonic() - t0
        if seconds >= self.slow_read_s:
            slow = SlowRead(offset, want, seconds)
            with self.state.lock:
                self.state.slow_reads.append(slow)
                self.state.new_events.append(slow)
        return got

    def _failed(self, fd: int, buf: mmap.mmap, offset: int, want: int, exc: OSError) -> None:
        code = exc.errno or 0
        if code in GONE_ERRNOS:
            with self.state.lock:
                self.state.gone = True
                self.state.fatal = f"the device stopped answering at byte {offset}: {exc.strerror}"
            return
        if code not in MEDIUM_ERRNOS:
            with self.state.lock:
                self.state.fatal = f"read at byte {offset} ({want} bytes) failed: {exc.strerror or exc}"
            return
        bad = self._first_bad_block(fd, buf, offset, want)
        error = ReadError(bad, bad // self.logical_block, self.logical_block, code, exc.strerror or str(exc),
                          offset, want)
        with self.state.lock:
            if len(self.state.errors) < MAX_ERRORS_PER_DISK:
                self.state.errors.append(error)
                self.state.new_events.append(error)
            else:
                self.state.errors_not_kept += 1

    def _first_bad_block(self, fd: int, buf: mmap.mmap, offset: int, want: int) -> int:
        """Re-read a failed chunk one logical block at a time; the first block that fails again."""
        block = self.logical_block
        for at in range(offset, offset + want, block):
            if self.stop_event.is_set():
                break
            try:
                _pread_into(fd, buf, block, at)
            except OSError as exc:
                if exc.errno in MEDIUM_ERRNOS:
                    return at
                break
        return offset  # it failed as a whole but no single block failed again: name the chunk's start


def median(values: list[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
