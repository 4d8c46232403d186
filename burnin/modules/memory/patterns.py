"""The built-in memory test engine: pattern workers and the bandwidth probe, at memory speed from Python.

Speed comes from never touching memory one word at a time in Python: every fill is a `memmove` from a pattern
buffer (`ctypes.memmove`), every check a `memcmp` against it (libc through ctypes; both release the GIL), over
chunks of `CHUNK` bytes. The pattern buffer is small enough to stay in the CPU cache, so a check streams memory
reads and a fill memory writes, at close to the speed of C. Each sweep over the region checks, chunk by chunk,
the pattern the previous sweep wrote and then writes the next pattern into the chunk while it is still cached:
memory is read once and written once per pattern. Only a chunk that compares unequal is searched further: halves
are compared again (bisection) down to single 64-bit words.

Patterns (one "round" runs them all, in this order):
- ``solid``: all zeros, then all ones.
- ``checkerboard``: alternating 0x55.. / 0xAA.. words, then the inverse.
- ``walking``: walking ones then walking zeros: word i holds only bit (i + round) mod 64 set (or cleared), so
  every bit position of every word is exercised within 64 rounds.
- ``random``: a chunk-sized block from `random.Random(seed, round)` and seven rotations of it, taken in turn
  (chunk i holds block 5i mod 8), so no two neighbouring chunks hold the same data; new data every round.
- ``address``: address-in-address: every 64-bit word holds its own virtual address (then its inverse). A fault
  on an address line makes two addresses share one cell, and the cell then holds the other's address. Built fast:
  the region is aligned, so within one chunk only the low bits of the address change; a chunk template keeps
  them, and only the bytes above change from one chunk to the next (strided bytearray writes, done in C).
- ``moving-inversions``: fill with a random pattern P; going up, check P and write ~P chunk by chunk; going
  down, check ~P and write P. Chunk-granular, unlike the classic word-by-word walk (which would run at Python
  speed), it still turns every bit over twice in both address directions.

A mismatch is reported with the region offset, virtual address, physical address (from /proc/self/pagemap where
the kernel shows it: root), expected and actual words, the reread value and the flipped bits.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import random
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence


MIB = 1 << 20
CHUNK = 256 * 1024  # pattern buffer and unit of fill/compare: stays in the L2 cache with the chunk it checks
ADDRESS_STEP = 64 * 1024  # 2**16: within it only the two low bytes of an address change
ALIGN = 2 * MIB  # region alignment: transparent huge pages, and whole address chunks
WORD = 8
RANDOM_BLOCK = CHUNK
RANDOM_BLOCKS = 8  # distinct random chunks per round (2 MiB: fits the last-level cache)
MLOCK_STEP = 64 * MIB  # lock in steps so a stop request is seen within a fraction of a second
PROGRESS_INTERVAL_S = 0.5
MAX_REPORTS_PER_PASS = 8  # mismatching words sent to the module per worker and pass; the rest are counted
MAX_WORDS_LOCATED = 64  # words located per mismatching chunk

PATTERNS = ("solid", "checkerboard", "walking", "random", "address", "moving-inversions")


def _inject_bit_flip(region: memoryview, node: int, worker: int, pattern: str) -> None:
    """Test seam, called after every fill with a writable view of the worker's whole region; does nothing.

    Tests replace it (workers are forked, so the replacement reaches them) to flip bits between a fill and its
    check: ``flip_bit(region, offset, bit)``.
    """


def flip_bit(region: memoryview, offset: int, bit: int) -> None:
    """Invert bit `bit` (0 = least significant) of the byte at `offset`."""
    region[offset] ^= 1 << bit


# -- libc ----------------------------------------------------------------------------------------------
_libc: Any = None


def libc() -> Any:
    global _libc
    if _libc is None:
        lib = ctypes.CDLL(None, use_errno=True)
        lib.memcmp.restype = ctypes.c_int
        lib.memcmp.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
        lib.mlock.restype = ctypes.c_int
        lib.mlock.argtypes = (ctypes.c_void_p, ctypes.c_size_t)
        _libc = lib
    return _libc


def buffer_address(buf: Any) -> int:
    """Address of a writable buffer (bytearray, mmap). The temporary export is released at once."""
    probe = ctypes.c_char.from_buffer(buf)
    try:
        return ctypes.addressof(probe)
    finally:
        del probe


# -- regions -------------------------------------------------------------------------------------------
@dataclass
class Region:
    """An anonymous mapping, aligned to `ALIGN`, `size` bytes long."""

    size: int
    mm: mmap.mmap = field(init=False)
    base: int = field(init=False)  # virtual address of the aligned start
    start: int = field(init=False)  # offset of the aligned start in `mm`
    locked: int = field(init=False, default=0)
    lock_error: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.mm = mmap.mmap(-1, self.size + ALIGN, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        raw = buffer_address(self.mm)
        self.start = (-raw) % ALIGN
        self.base = raw + self.start
        if hasattr(mmap, "MADV_HUGEPAGE"):
            try:
                self.mm.madvise(mmap.MADV_HUGEPAGE, self.start, self.size)
            except OSError:
                pass

    def lock(self, stop: Callable[[], bool]) -> None:
        """mlock, best effort, in steps (locking faults the pages in: first touch, on this CPU's node)."""
        lib = libc()
        while self.locked < self.size and not stop():
            step = min(MLOCK_STEP, self.size - self.locked)
            if lib.mlock(self.base + self.locked, step) != 0:
                err = ctypes.get_errno()
                self.lock_error = f"{os.strerror(err)} (errno {err}); RLIMIT_MEMLOCK or no CAP_IPC_LOCK"
                return
            self.locked += step

    def view(self) -> memoryview:
        return memoryview(self.mm)[self.start:self.start + self.size]

    def close(self) -> None:
        try:
            self.mm.close()
        except (BufferError, ValueError):
            pass


def physical_address(pagemap_path: str, vaddr: int) -> tuple[int | None, str | None]:
    """The physical address behind `vaddr` in this process, from /proc/self/pagemap; (None, why) when hidden."""
    page = mmap.PAGESIZE
    try:
        fd = os.open(pagemap_path, os.O_RDONLY)
    except OSError as exc:
        return None, f"cannot open pagemap: {exc.strerror}"
    try:
        entry = os.pread(fd, 8, (vaddr // page) * 8)
    except OSError as exc:
        return None, f"cannot read pagemap: {exc.strerror}"
    finally:
        os.close(fd)
    if len(entry) != 8:
        return None, "short pagemap read"
    value = int.from_bytes(entry, "little")
    if not value >> 63 & 1:
        return None, "page not present"
    pfn = value & ((1 << 55) - 1)
    if pfn == 0:
        return None, "the kernel hides physical addresses from this process (needs root)"
    return pfn * page + vaddr % page, None


# -- pattern buffers -----------------------------------------------------------------------------------
def tile(block: bytes, size: int = CHUNK) -> bytearray:
    """`block` repeated to `size` bytes (a whole number of blocks), built by doubling copies."""
    if size % len(block):
        raise ValueError("the chunk size must be a multiple of the pattern block")
    out = bytearray(size)
    out[:len(block)] = block
    filled = len(block)
    while filled < size:
        n = min(filled, size - filled)
        out[filled:filled + n] = out[:n]
        filled += n
    return out


def inverse(data: bytes | bytearray) -> bytearray:
    return bytearray(data.translate(_NOT))


_NOT = bytes(255 - i for i in range(256))


def word_block(words: Sequence[int]) -> bytes:
    return b"".join((w & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little") for w in words)


class Expected:
    """What a chunk of the region should hold. `at(offset)` gives the address of a buffer with the expected bytes
    of the chunk at `offset` (calls come in ascending or descending offset order within one sweep)."""

    chunk = CHUNK

    def at(self, offset: int) -> int:
        raise NotImplementedError

    def bytes_at(self, offset: int, start: int, length: int) -> bytes:
        """Expected bytes `start`..`start+length` of the chunk at `offset` (for reporting)."""
        return ctypes.string_at(self.at(offset) + start, length)


class FixedExpected(Expected):
    def __init__(self, data: bytearray):
        self.data = data
        self.address = buffer_address(data)

    def at(self, offset: int) -> int:
        return self.address


class RandomExpected(Expected):
    """Seeded random data: `RANDOM_BLOCKS` chunk-sized blocks (one random block and its rotations; small enough to
    stay in the cache), chunk i of the region taking block (i x 5) mod RANDOM_BLOCKS, so no two neighbours match."""

    def __init__(self, seed: int, round_no: int):
        block = random_block(seed, round_no)
        shifts = [(i * 4099 * WORD) % len(block) for i in range(RANDOM_BLOCKS)]  # rotations: cheap, all different
        self.blocks = [bytearray(block[k:] + block[:k]) for k in shifts]
        self.addresses = [buffer_address(b) for b in self.blocks]

    def at(self, offset: int) -> int:
        return self.addresses[(offset // CHUNK * 5) % RANDOM_BLOCKS]


class AddressExpected(Expected):
    """Every 64-bit word holds its own virtual address (or its inverse).

    Chunks start at multiples of `CHUNK` (the region is aligned to more), so within one chunk only the low bits of
    the address change: bytes 0-1 and the low bits of byte 2, the same in every chunk, are built once. From one
    chunk to the next, byte 2 of every word takes new values (one per 64 KiB) and bytes 3-7 change rarely; those
    bytes are rewritten in place with strided bytearray assignments, in C, in a buffer that stays in the cache."""

    def __init__(self, base: int, invert: bool = False):
        if CHUNK % ADDRESS_STEP or CHUNK > 1 << 24:
            raise ValueError("the chunk size must be a multiple of 64 KiB and at most 16 MiB")
        self.base = base
        self.flip = 0xFF if invert else 0x00
        low = word_block(range(0, CHUNK, WORD))
        self.data = inverse(low) if invert else bytearray(low)
        self.address = buffer_address(self.data)
        self.high: list[int | None] = [None] * 8  # what bytes 2..7 hold now (byte 2: its value at offset 0)
        self._words = CHUNK // WORD
        self._step_words = ADDRESS_STEP // WORD

    def at(self, offset: int) -> int:
        address = self.base + offset - offset % CHUNK
        first = (address >> 16) & 0xFF
        if self.high[2] != first:
            self.data[2::8] = b"".join(bytes((((first + j) & 0xFF) ^ self.flip,)) * self._step_words
                                       for j in range(CHUNK // ADDRESS_STEP))
            self.high[2] = first
        for i in range(3, 8):
            value = (address >> (8 * i)) & 0xFF
            if self.high[i] != value:
                self.data[i::8] = bytes((value ^ self.flip,)) * self._words
                self.high[i] = value
        return self.address


def random_block(seed: int, round_no: int, size: int = RANDOM_BLOCK) -> bytes:
    return random.Random(f"burnin-memory:{seed}:{round_no}").randbytes(size)


# -- passes --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Write:
    """One sweep's worth of data: the pattern `name` written over the whole region, chunk by chunk."""

    name: str  # as reported, e.g. "solid-zeros"
    expected: Expected
    descending: bool = False


def pattern_writes(pattern: str, base: int, seed: int, round_no: int) -> list[Write]:
    """What one pattern writes over the region, in order. The engine checks each write in the following sweep,
    while it writes the next one (see `_Tester`)."""
    if pattern == "solid":
        return [Write(name, FixedExpected(tile(bytes((byte,)) * 64)))
                for name, byte in (("solid-zeros", 0x00), ("solid-ones", 0xFF))]
    if pattern == "checkerboard":
        block = word_block([0x5555555555555555, 0xAAAAAAAAAAAAAAAA])
        return [Write("checkerboard", FixedExpected(tile(block))),
                Write("checkerboard-inverse", FixedExpected(tile(bytes(inverse(block)))))]
    if pattern == "walking":
        ones = word_block([1 << ((i + round_no) % 64) for i in range(64)])
        return [Write("walking-ones", FixedExpected(tile(ones))),
                Write("walking-zeros", FixedExpected(tile(bytes(inverse(ones)))))]
    if pattern == "random":
        return [Write("random", RandomExpected(seed, round_no))]
    if pattern == "address":
        return [Write("address", AddressExpected(base)), Write("address-inverse", AddressExpected(base, True))]
    if pattern == "moving-inversions":
        p = FixedExpected(tile(random_block(seed, round_no + 1_000_003, 4096)))
        q = FixedExpected(inverse(p.data))
        # up: check P, write ~P; down: check ~P, write P (checked by the next sweep, going up)
        return [Write("moving-inversions", p), Write("moving-inversions-inverse", q),
                Write("moving-inversions", p, descending=True)]
    raise ValueError(f"unknown memory pattern {pattern!r}; known: {', '.join(PATTERNS)}")


# -- locating a mismatch -------------------------------------------------------------------------------
def differing_words(addr: int, expected: int, length: int, limit: int = MAX_WORDS_LOCATED) -> list[int]:
    """Offsets (from `addr`, multiples of 8) of the words that differ, by bisection with memcmp; at most `limit`."""
    lib = libc()
    found: list[int] = []

    def search(lo: int, hi: int) -> None:
        if len(found) >= limit or lib.memcmp(addr + lo, expected + lo, hi - lo) == 0:
            return
        if hi - lo <= 64:
            for w in range(lo, hi, WORD):
                if len(found) < limit and ctypes.string_at(addr + w, WORD) != ctypes.string_at(expected + w, WORD):
                    found.append(w)
            return
        mid = lo + ((hi - lo) // 2) // WORD * WORD
        search(lo, mid)
        search(mid, hi)

    search(0, length)
    return found


# -- the worker ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WorkerSpec:
    worker: int
    node: int
    cpus: tuple[int, ...]
    size: int  # bytes, a multiple of CHUNK
    patterns: tuple[str, ...]
    seed: int
    pagemap: str  # real path of /proc/self/pagemap (through the host)
    oom_score_adj_path: str
    oom_score_adj: int = 500
    lock: bool = True
    rounds: int | None = None  # stop after this many rounds (None: until told to stop)


def worker_main(spec: WorkerSpec, stop, conn) -> None:
    """Body of one pattern worker process (in a `burnin.load.WorkerPool`, which pins it to its node's CPUs): first
    to go under memory pressure."""
    region = None
    try:
        try:
            with open(spec.oom_score_adj_path, "w") as f:  # our own process: let the OOM killer pick us first
                f.write(str(spec.oom_score_adj))
        except OSError:
            pass
        region = Region(spec.size)
        if spec.lock:
            region.lock(stop.is_set)
        conn.send(("ready", spec.worker, {
            "size": spec.size, "base": f"0x{region.base:x}", "locked": region.locked,
            "lock_error": region.lock_error, "cpus": list(spec.cpus), "pid": os.getpid()}))
        _Tester(spec, region, stop, conn).run()
    except BaseException as exc:  # MemoryError, mmap failure: report, then exit non-zero
        try:
            conn.send(("error", spec.worker, f"{type(exc).__name__}: {exc}", traceback.format_exc()[-1500:]))
        finally:
            raise
    finally:
        if region is not None:
            region.close()


class _Tester:
    """Sweeps the region over and over. Every sweep after the first checks, chunk by chunk, the pattern the previous
    sweep wrote and then writes the next one into the same chunk while it is still in the cache: each pattern is
    checked one whole sweep after it was written (retention), and memory is read once and written once per
    pattern, which is as little traffic as a check can cost."""

    def __init__(self, spec: WorkerSpec, region: Region, stop, conn):
        self.spec = spec
        self.region = region
        self.stop = stop
        self.conn = conn
        self.lib = libc()
        self.verified = 0  # bytes checked since the last progress message
        self.written = 0
        self.mismatched_words = 0
        self.passes = 0  # whole-region checks completed since the last progress message
        self.last_report = time.monotonic()
        self.reports_left = MAX_REPORTS_PER_PASS
        self.pattern = ""
        self.round = 0

    def stopping(self) -> bool:
        return self.stop.is_set()

    def run(self) -> None:
        held: Write | None = None  # what the region holds now
        while not self.stopping():
            for pattern in self.spec.patterns:
                for write in pattern_writes(pattern, self.region.base, self.spec.seed, self.round):
                    if self.stopping():
                        break
                    self.reports_left = MAX_REPORTS_PER_PASS
                    self.pattern = write.name
                    if not self._sweep(held, write):
                        break
                    if held is not None:
                        self.passes += 1
                    held = write
                    self._after_fill(write.name)
            self.round += 1
            if self.spec.rounds is not None and self.round >= self.spec.rounds:
                if held is not None and not self.stopping() and self._sweep(held, None):
                    self.passes += 1
                break
        self.progress(force=True)

    def _after_fill(self, name: str) -> None:
        view = self.region.view()
        try:
            _inject_bit_flip(view, self.spec.node, self.spec.worker, name)
        finally:
            view.release()

    def _sweep(self, check: Write | None, write: Write | None) -> bool:
        """One pass over the region: check `check` and write `write` chunk by chunk; False when stopped part-way."""
        chunk = min(w.expected.chunk for w in (check, write) if w is not None)
        size = self.region.size
        descending = write.descending if write is not None else False
        offsets = range(size - chunk, -1, -chunk) if descending else range(0, size, chunk)
        base = self.region.base
        memcmp = self.lib.memcmp
        memmove = ctypes.memmove
        # a sweep mixing chunk sizes (address patterns use smaller ones) steps by the smaller; a pattern buffer is
        # then entered part-way, at the step's offset within its own chunk
        want_at = check.expected.at if check is not None else None
        want_chunk = check.expected.chunk if check is not None else chunk
        data_at = write.expected.at if write is not None else None
        data_chunk = write.expected.chunk if write is not None else chunk
        check_every = max(1, CHUNK // chunk)
        for i, offset in enumerate(offsets):
            if i % check_every == 0:
                if self.stopping():
                    return False
                if time.monotonic() - self.last_report >= PROGRESS_INTERVAL_S:
                    self.progress()
            addr = base + offset
            if want_at is not None:
                want = want_at(offset) + offset % want_chunk
                if memcmp(addr, want, chunk) != 0:
                    self._mismatch(check, offset, want, chunk, descending)
                self.verified += chunk
            if data_at is not None:
                memmove(addr, data_at(offset) + offset % data_chunk, chunk)
                self.written += chunk
        return True

    def _mismatch(self, check: Write, offset: int, want: int, chunk: int, descending: bool) -> None:
        addr = self.region.base + offset
        words = differing_words(addr, want, chunk)
        self.mismatched_words += len(words)
        for w in words[: max(0, self.reports_left)]:
            self.reports_left -= 1
            actual = int.from_bytes(ctypes.string_at(addr + w, WORD), "little")
            reread = int.from_bytes(ctypes.string_at(addr + w, WORD), "little")
            expected = int.from_bytes(ctypes.string_at(want + w, WORD), "little")
            flipped = actual ^ expected
            first_byte = w + (((flipped & -flipped).bit_length() - 1) // 8 if flipped else 0)
            vaddr = addr + w
            paddr, why = physical_address(self.spec.pagemap, vaddr)
            self.conn.send(("mismatch", self.spec.worker, {
                "node": self.spec.node,
                "worker": self.spec.worker,
                "cpus": list(self.spec.cpus),
                "pattern": check.name,
                "sweep": "down" if descending else "up",
                "round": self.round,
                "seed": self.spec.seed,
                "offset": offset + w,  # of the 64-bit word, from the start of the worker's region
                "first_byte_offset": offset + first_byte,
                "virtual_address": f"0x{vaddr:x}",
                "physical_address": None if paddr is None else f"0x{paddr:x}",
                "physical_address_unavailable": why,
                "expected": f"0x{expected:016x}",
                "actual": f"0x{actual:016x}",
                "reread": f"0x{reread:016x}",
                "xor": f"0x{flipped:016x}",
                "flipped_bits": [i for i in range(64) if flipped >> i & 1],
                "flipped_bits_count": bin(flipped).count("1"),
                "ones_to_zeros": bin(expected & flipped).count("1"),
                "zeros_to_ones": bin(~expected & flipped & 0xFFFFFFFFFFFFFFFF).count("1"),
                "persistent": reread == actual,
                "words_wrong_in_chunk": len(words),
                "chunk_bytes": chunk,
            }))

    def progress(self, force: bool = False) -> None:
        if not force and not (self.verified or self.written):
            return
        self.conn.send(("progress", self.spec.worker, {
            "verified": self.verified, "written": self.written, "mismatched_words": self.mismatched_words,
            "passes": self.passes, "pattern": self.pattern, "round": self.round}))
        self.verified = self.written = self.mismatched_words = self.passes = 0
        self.last_report = time.monotonic()


# -- bandwidth -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bandwidth:
    """Memory bandwidth of one NUMA node, in GB/s (10^9 bytes). ``copy`` counts bytes read plus bytes written."""

    node: int
    threads: int
    read_gbps: float
    write_gbps: float
    copy_gbps: float
    buffer_mib: int


def measure_bandwidth(node: int, cpus: Sequence[int], mib_per_thread: int, seconds: float,
                      stop: Callable[[], bool] = lambda: False) -> Bandwidth:
    """Read, write and copy bandwidth with one thread per CPU in `cpus`, each pinned and touching its own buffer
    first (so it sits on this node). Each kind runs for about `seconds`."""
    size = max(2 * MIB, (int(mib_per_thread) * MIB) // (2 * MIB) * (2 * MIB))
    threads = list(cpus)
    barrier = threading.Barrier(len(threads) + 1)
    results: list[dict[str, tuple[int, float]]] = [dict() for _ in threads]
    errors: list[str] = []

    def body(index: int, cpu: int) -> None:
        region = None
        try:
            os.sched_setaffinity(0, {cpu})
            region = Region(size)
            ctypes.memset(region.base, 0x5A, size)  # first touch, on this CPU's node
            half = size // 2
            lib = libc()
            for kind in ("write", "read", "copy"):
                barrier.wait()
                done = 0
                start = time.perf_counter()
                while True:
                    if kind == "write":
                        ctypes.memset(region.base, 0xA5 if done % 2 else 0x5A, size)
                        done += size
                    elif kind == "read":
                        lib.memcmp(region.base, region.base + half, half)
                        done += size
                    else:
                        ctypes.memmove(region.base + half, region.base, half)
                        done += 2 * half
                    elapsed = time.perf_counter() - start
                    if elapsed >= seconds or stop():
                        break
                results[index][kind] = (done, elapsed)
        except Exception as exc:  # noqa: BLE001 - reported below, the measurement is then unusable
            errors.append(f"{type(exc).__name__}: {exc}")
            barrier.abort()
        finally:
            if region is not None:
                region.close()

    workers = [threading.Thread(target=body, args=(i, cpu), daemon=True, name=f"burnin-bw-{cpu}")
               for i, cpu in enumerate(threads)]
    for t in workers:
        t.start()
    try:
        for _ in range(3):
            barrier.wait()
    except threading.BrokenBarrierError:
        pass
    for t in workers:
        t.join()
    if errors:
        raise RuntimeError("bandwidth measurement failed: " + "; ".join(errors[:3]))

    def rate(kind: str) -> float:
        return sum(r[kind][0] / r[kind][1] for r in results if kind in r and r[kind][1] > 0) / 1e9

    return Bandwidth(node, len(threads), round(rate("read"), 2), round(rate("write"), 2), round(rate("copy"), 2),
                     size // MIB)
