"""Destructive write-and-verify and zero wipe of ONE consented block device (the only code that writes to a disk).

`open_for_writing` is the one place a device is opened for writing: it asserts that the device was consented to
(`consent()`, called by the disk module only for the devices the user named with ``--destructive`` and the
matching ``--yes-destroy-data`` serial) and opens it O_RDWR|O_DIRECT|O_EXCL, so the kernel itself refuses a device
that is mounted or held by device-mapper/md.

A `WriteJob` is one thread: (1) write-verify: every chunk gets bytes derived from (seed, byte offset), written with
O_DIRECT, fsynced, then read back and compared, so a mismatch names its exact byte offset and LBA; (2) wipe: zeros
written over the whole device, fsynced, then read back (every byte, or a sample) and checked to be zero; or, when the
module hands it a `device_erase` (the drive's own sanitize or secure erase, `burnin.modules.disk.erase`): a seeded
pattern written into a random sample of regions, the drive's erase run and polled to its end, then the sample read
back and every 4 KiB of it checked to no longer hold the pattern (zeros counted, hashed). The thread
checks its stop event between chunks, so it stops within one chunk's I/O time of being asked. Adapters never judge:
`burnin.modules.disk` decides what an error or an incomplete wipe means.
"""

from __future__ import annotations

import errno
import hashlib
import mmap
import os
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from burnin.tools.readscan import MIB, Region, aligned_buffer, plan_full

_CONSENTED: set[str] = set()


def consent(path: str) -> None:
    """Allow ONE `open_for_writing` of this device (its real path): only for a device the user named and
    confirmed, checked again just before."""
    _CONSENTED.add(os.path.realpath(path))


def open_for_writing(path: str) -> int:
    """The one place a device is opened for writing: consented devices only (each consent is used up by one open),
    exclusively, bypassing the cache. The check is explicit, so it holds under ``python -O`` too."""
    real = os.path.realpath(path)
    if real not in _CONSENTED:
        raise AssertionError(f"refusing to open {path} for writing: no consent was given for it")
    _CONSENTED.discard(real)
    return os.open(real, os.O_RDWR | os.O_DIRECT | os.O_EXCL | os.O_CLOEXEC)


def pattern(seed: int, offset: int, length: int) -> bytes:
    """The write-verify bytes of the chunk at `offset`: a function of (seed, offset) only, so verify recomputes it
    and a write that landed at the wrong place does not match."""
    return random.Random(f"{seed}:{offset}").randbytes(length)


def first_difference(expected: bytes, got: bytes) -> int:
    """Index of the first byte that differs (the shorter length if one is a prefix of the other)."""
    if len(expected) != len(got):
        n = min(len(expected), len(got))
        return next((i for i in range(n) if expected[i] != got[i]), n)
    lo, hi = 0, len(expected)
    while hi - lo > 64:  # bisect on slices (C-speed compares), then scan the last few bytes
        mid = (lo + hi) // 2
        if expected[lo:mid] != got[lo:mid]:
            hi = mid
        else:
            lo = mid
    return next(i for i in range(lo, hi) if expected[i] != got[i])


@dataclass(frozen=True)
class WriteProblem:
    kind: str  # "write-error" | "write-verify-mismatch"
    stage: str  # "write-verify" | "wipe"
    offset: int  # byte offset
    lba: int
    message: str
    errno: int | None = None


@dataclass
class JobState:
    lock: threading.Lock = field(default_factory=threading.Lock)
    stage: str = "pending"  # pending | write-verify | wipe | wipe-verify | done
    bytes_done: int = 0  # in the current stage
    problems: list[WriteProblem] = field(default_factory=list)
    fatal: str = ""  # why the job could not go on
    write_verify_done: bool = False
    wiped_bytes: int = 0  # zeros written (front to back)
    wipe_done: bool = False
    wipe_verified: str = ""  # "" (not verified) | "full" | "sample"
    wipe_readback_sha256: str = ""  # SHA-256 over (offset, bytes) of every chunk the wipe's read-back read
    wipe_readback_bytes: int = 0
    erase: Any = None  # what `device_erase` returned (has .started and .ok); None when no device erase ran
    erase_zero_bytes: int = 0  # bytes of the device erase's read-back sample that read as zero
    erase_regions: int = 0
    started: float = 0.0  # time.time()
    wipe_started: float = 0.0
    finished: float = 0.0


class WriteJob(threading.Thread):
    """Write-verify then wipe one consented device, until done, a fatal error, or stopped (`stop_event`, checked
    between chunks). The disk module runs it as a `burnin.load.ThreadLoad`, with `metrics` as its progress."""

    def __init__(self, path: str, size: int, logical_block: int, stop: threading.Event, seed: int,
                 write_verify: bool = True, wipe: bool = True, wipe_verify_plan: Callable[[], list[Region]] | None
                 = None, block_bytes: int = MIB, max_problems: int = 16, label: str = "",
                 device_erase: Callable[[threading.Event], Any] | None = None,
                 erase_verify_plan: Callable[[], list[Region]] | None = None):
        super().__init__(name=f"writeverify:{path}", daemon=True)
        self.path, self.size, self.stop_event, self.seed = path, size, stop, seed
        self.logical_block = max(512, logical_block)
        self.block_bytes = max(self.logical_block, block_bytes - block_bytes % self.logical_block)
        self.size -= self.size % self.logical_block
        self.write_verify, self.wipe = write_verify, wipe
        self.wipe_verify_plan = wipe_verify_plan  # None: read every byte back
        self.max_problems = max_problems
        self.state = JobState()
        self.label = label or os.path.basename(path)
        self.device_erase = device_erase  # the drive's own erase: returns an outcome with .started and .ok
        self.erase_verify_plan = erase_verify_plan

    def metrics(self) -> dict[str, float]:
        """Progress of the current stage (`destructive_pct:LABEL`)."""
        with self.state.lock:
            done = self.state.bytes_done
        return {f"destructive_pct:{self.label}": round(100 * done / self.size, 2) if self.size else 0.0}

    def run(self) -> None:
        self.state.started = time.time()
        try:
            fd = open_for_writing(self.path)
        except OSError as exc:
            self._fatal(f"cannot open {self.path} for writing: {exc.strerror or exc}")
            return
        buf = aligned_buffer(self.block_bytes)
        try:
            if self.write_verify and not self._stopped():
                self._stage("write-verify")
                if self._pass(fd, buf, lambda off, n: pattern(self.seed, off, n), "write-verify"):
                    with self.state.lock:
                        self.state.write_verify_done = True
            if self.wipe and self.device_erase is not None and not self._stopped():
                if self._device_erase(fd, buf):
                    return
            if self.wipe and not self._stopped():
                self._stage("wipe")
                with self.state.lock:
                    self.state.wipe_started = time.time()
                zeros = bytes(self.block_bytes)
                if self._write(fd, buf, lambda off, n: zeros[:n], "wipe", count_wiped=True):
                    with self.state.lock:
                        self.state.wipe_done = True
                    self._stage("wipe-verify")
                    plan = self.wipe_verify_plan() if self.wipe_verify_plan else plan_full(self.size, 64 * MIB)
                    if self._verify(fd, buf, lambda off, n: zeros[:n], "wipe", plan):
                        with self.state.lock:
                            self.state.wipe_verified = "sample" if self.wipe_verify_plan else "full"
        finally:
            buf.close()
            os.close(fd)
            with self.state.lock:
                self.state.finished = time.time()
                if self.state.stage != "pending":
                    self.state.stage = "done" if not self._stopped() else self.state.stage

    # -- the drive's own erase -------------------------------------------------------------------
    def _device_erase(self, fd: int, buf: mmap.mmap) -> bool:
        """Pattern into a random sample, the drive's erase, the sample read back. False when the erase never
        started (the drive refused the command: the zero overwrite follows instead); True otherwise."""
        plan = self.erase_verify_plan() if self.erase_verify_plan else plan_full(self.size, 64 * MIB)
        seed = self.seed ^ 0xE7A5E
        self._stage("erase-pattern")
        if not self._write(fd, buf, lambda off, n: pattern(seed, off, n), "erase-pattern", plan=plan):
            return self._stopped() or bool(self.state.fatal)
        self._stage("device-erase")
        with self.state.lock:
            self.state.wipe_started = time.time()
        outcome = self.device_erase(self.stop_event)  # type: ignore[misc]
        with self.state.lock:
            self.state.erase = outcome
        if not getattr(outcome, "started", False):
            return False
        if not getattr(outcome, "ok", False) or self._stopped():
            return True
        with self.state.lock:
            self.state.wipe_done = True
        self._stage("wipe-verify")
        if self._verify_erased(fd, buf, plan, seed):
            with self.state.lock:
                self.state.wipe_verified = "sample"
        return True

    def _verify_erased(self, fd: int, buf: mmap.mmap, plan: list[Region], seed: int) -> bool:
        """Read the sample back: no 4 KiB of it may still hold the pattern written before the erase."""
        digest, done, zeros, step = hashlib.sha256(), 0, 0, max(self.logical_block, 4096)
        for offset, length, got in self._read_back(fd, buf, plan, "wipe"):
            data = bytes(buf[:got])
            digest.update(offset.to_bytes(8, "little"))
            digest.update(data)
            zeros += got - len(data.replace(b"\0", b""))
            before = pattern(seed, offset, length)
            survived = next((i for i in range(0, got, step) if data[i:i + step] == before[i:i + step]), None)
            if survived is not None:
                at = offset + survived
                self._record(WriteProblem("wipe-not-erased", "wipe", at, at // self.logical_block,
                                          "the bytes written just before the drive's erase read back unchanged"))
            done += got
            self._progress(done)
        if self._stopped() or self.state.fatal:
            return False
        with self.state.lock:
            self.state.wipe_readback_sha256, self.state.wipe_readback_bytes = digest.hexdigest(), done
            self.state.erase_zero_bytes, self.state.erase_regions = zeros, len(plan)
        return not self._had_problems("wipe")

    def _read_back(self, fd: int, buf: mmap.mmap, plan: list[Region], stage: str):
        """(offset, length, bytes read into `buf`) for every chunk of `plan`; a read error is recorded and skipped;
        ends early when stopped or a fatal error happened (the caller checks)."""
        for offset, length in self._chunks(plan):
            if self._stopped() or self.state.fatal:
                return
            try:
                with memoryview(buf) as whole, whole[:length] as part:
                    got = os.preadv(fd, [part], offset)
            except OSError as exc:
                self._problem("write-error", stage, offset, exc, what="reading back")
                continue
            yield offset, length, got

    # -- passes --------------------------------------------------------------------------------
    def _pass(self, fd: int, buf: mmap.mmap, content: Callable[[int, int], bytes], stage: str) -> bool:
        if not self._write(fd, buf, content, stage):
            return False
        return self._verify(fd, buf, content, stage, plan_full(self.size, 64 * MIB))

    def _write(self, fd: int, buf: mmap.mmap, content: Callable[[int, int], bytes], stage: str,
               count_wiped: bool = False, plan: list[Region] | None = None) -> bool:
        """Write `content` over the whole device front to back (or over `plan`), then fsync. False when stopped or
        it failed."""
        self._progress(0)
        for offset, length in self._chunks(plan or [Region(0, self.size)]):
            if self._stopped() or self.state.fatal:
                return False
            buf[:length] = content(offset, length)
            try:
                with memoryview(buf) as whole, whole[:length] as part:
                    written = os.pwritev(fd, [part], offset)
                if written != length:
                    raise OSError(errno.EIO, f"short write ({written} of {length} bytes)")
            except OSError as exc:
                self._problem("write-error", stage, offset, exc)
                if self.state.fatal:
                    return False
                continue
            self._progress(offset + length, wiped=count_wiped)
        try:
            os.fsync(fd)
        except OSError as exc:
            self._problem("write-error", stage, 0, exc, what="flushing the drive's cache")
            return False
        return not self._stopped() and not self._had_problems(stage)

    def _verify(self, fd: int, buf: mmap.mmap, content: Callable[[int, int], bytes], stage: str,
                plan: list[Region]) -> bool:
        self._progress(0)
        done = 0
        digest = hashlib.sha256() if stage == "wipe" else None
        for offset, length, got in self._read_back(fd, buf, plan, stage):
            expected = content(offset, length)
            if digest is not None:
                digest.update(offset.to_bytes(8, "little"))
                digest.update(buf[:got])
            if got != length or buf[:length] != expected:
                at = offset + first_difference(expected, bytes(buf[:got]))
                self._record(WriteProblem("write-verify-mismatch", stage, at, at // self.logical_block,
                                          "the bytes read back differ from those written"))
            done += length
            self._progress(done)
        if self._stopped() or self.state.fatal:
            return False
        if digest is not None:
            with self.state.lock:
                self.state.wipe_readback_sha256, self.state.wipe_readback_bytes = digest.hexdigest(), done
        return not self._had_problems(stage)

    # -- helpers -------------------------------------------------------------------------------
    def _chunks(self, plan: list[Region]):
        for region in plan:
            end = min(region.offset + region.length, self.size)
            offset = region.offset - region.offset % self.logical_block
            while offset < end:
                length = min(self.block_bytes, end - offset)
                length -= length % self.logical_block
                if length <= 0:
                    return
                yield offset, length
                offset += length

    def _stopped(self) -> bool:
        return self.stop_event.is_set()

    def _stage(self, stage: str) -> None:
        with self.state.lock:
            self.state.stage = stage
            self.state.bytes_done = 0

    def _progress(self, done: int, wiped: bool = False) -> None:
        with self.state.lock:
            self.state.bytes_done = done
            if wiped:
                self.state.wiped_bytes = done

    def _had_problems(self, stage: str) -> bool:
        with self.state.lock:
            return any(p.stage == stage for p in self.state.problems)

    def _problem(self, kind: str, stage: str, offset: int, exc: OSError, what: str = "writing") -> None:
        code = exc.errno
        if code in (errno.ENODEV, errno.ENXIO, errno.ENOENT):
            self._fatal(f"the device stopped answering at byte {offset}: {exc.strerror}")
            return
        self._record(WriteProblem(kind, stage, offset, offset // self.logical_block,
                                  f"{what} failed: {exc.strerror or exc}", code))

    def _record(self, problem: WriteProblem) -> None:
        with self.state.lock:
            if len(self.state.problems) < self.max_problems:
                self.state.problems.append(problem)
            if len(self.state.problems) >= self.max_problems and not self.state.fatal:
                self.state.fatal = f"gave up after {self.max_problems} errors"

    def _fatal(self, why: str) -> None:
        with self.state.lock:
            self.state.fatal = why


def plan_random(size: int, share_pct: float, count: int, align: int, rng: random.Random) -> list[Region]:
    """`share_pct` of the device in `count` equal regions at random places (aligned, not overlapping, in order): the
    read-back sample after a drive's own erase. A device smaller than the sample is taken whole."""
    total = max(align, int(size * share_pct / 100))
    length = max(align, (total // max(1, count)) // align * align)
    slots = size // length
    if slots <= count:
        return plan_full(size, length)
    return [Region(i * length, length) for i in sorted(rng.sample(range(slots), count))]
