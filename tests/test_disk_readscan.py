"""The read scan on real block devices: loop devices over sparse files, a device-mapper `error` target for real read
errors (where the kernel has device-mapper), and the disk module's run() and previous-data check on them."""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import shutil
import stat
import struct
import subprocess
import threading
import time
from types import SimpleNamespace

import pytest

from burnin.host import Host
from burnin.inventory.disks import read_disk
from burnin.load import ThreadLoad
from burnin.model import Severity
from burnin.module import Skip
from burnin.modules.disk import DiskModule, data_signatures, slow_regions, writable_refusal
from burnin.modules.disk.scan import check_previous_data
from burnin.testing import RecordingContext
from burnin.tools import readscan
from burnin.tools.readscan import MIB, DiskScanner, plan_full, plan_sample

LIVE = Host("/")
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
needs_loop = pytest.mark.skipif(not IS_ROOT or shutil.which("losetup") is None,
                                reason="needs root and losetup (Debian: util-linux) to make loop devices")


def _dm_usable() -> str:
    """Why device-mapper cannot be used here, or "" when it can."""
    if not IS_ROOT:
        return "needs root"
    if shutil.which("dmsetup") is None:
        return "dmsetup is not installed (Debian: dmsetup)"
    misc = LIVE.read_text("/proc/misc") or ""
    if "device-mapper" not in misc:
        return "this kernel has no device-mapper (no 'device-mapper' in /proc/misc)"
    return ""


# -- devices -------------------------------------------------------------------------------------
def _losetup(path) -> str:
    return subprocess.run(["losetup", "--find", "--show", str(path)], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def make_loop(tmp_path):
    """make_loop(size_bytes, writes={offset: bytes}) -> /dev/loopN over a sparse file; detached afterwards."""
    made: list[str] = []

    def make(size: int, writes: dict[int, bytes] | None = None, name: str = "disk.img") -> str:
        image = tmp_path / name
        with open(image, "wb") as f:
            f.truncate(size)
            for offset, data in (writes or {}).items():
                f.seek(offset)
                f.write(data)
        device = _losetup(image)
        made.append(device)
        return device

    yield make
    for device in made:
        subprocess.run(["losetup", "-d", device], check=False, capture_output=True)


def _pattern(size: int, seed: int = 1) -> dict[int, bytes]:
    """Some non-zero data every MiB so a checksum means something."""
    return {off: hashlib.sha256(f"{seed}:{off}".encode()).digest() * 128 for off in range(0, size, MIB)}


def _sha256(device: str) -> str:
    h = hashlib.sha256()
    with open(device, "rb") as f:
        for chunk in iter(lambda: f.read(4 * MIB), b""):
            h.update(chunk)
    return h.hexdigest()


def _scan(path: str, size: int, plan, **kwargs) -> DiskScanner:
    scanner = DiskScanner(path, size, 512, plan, threading.Event(), **kwargs)
    scanner.start()
    scanner.join(60)
    assert not scanner.is_alive()
    return scanner


class FaultyFile:
    """A one-file FUSE filesystem served by a thread of this process over /dev/fuse (no FUSE library needed):
    /disk.img of `size` bytes, whose reads fail with EIO where they touch [bad_from, bad_to). A loop device over
    it is a real block device with a real unreadable region: the kernel's loop driver gets the EIO from FUSE and
    fails the block request, as a disk's bad sector would. Files are opened FOPEN_DIRECT_IO, so no page cache
    widens or hides the bad range."""

    NAME = b"disk.img"
    ROOT, FILE = 1, 2

    def __init__(self, mountpoint, size, bad_from, bad_to, content=lambda off, n: bytes(n)):
        self.mountpoint, self.size, self.bad = str(mountpoint), size, (bad_from, bad_to)
        self.content = content
        self.fd = os.open("/dev/fuse", os.O_RDWR | os.O_CLOEXEC)
        libc = ctypes.CDLL(None, use_errno=True)
        opts = f"fd={self.fd},rootmode=40000,user_id=0,group_id=0,max_read=131072".encode()
        if libc.mount(b"burnin-test", self.mountpoint.encode(), b"fuse", 0, opts) != 0:
            e = ctypes.get_errno()
            os.close(self.fd)
            raise OSError(e, os.strerror(e))
        self.libc = libc
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def path(self):
        return os.path.join(self.mountpoint, self.NAME.decode())

    def _attr(self, node):
        if node == self.ROOT:
            mode, size, nlink = stat.S_IFDIR | 0o755, 0, 2
        else:
            mode, size, nlink = stat.S_IFREG | 0o444, self.size, 1
        return struct.pack("<QQQQQQIIIIIIIIII", node, size, (size + 511) // 512, 0, 0, 0, 0, 0, 0, mode, nlink,
                           0, 0, 0, 4096, 0)

    def _reply(self, unique, error=0, data=b""):
        os.write(self.fd, struct.pack("<IiQ", 16 + len(data), -error, unique) + data)

    def _serve(self):
        while True:
            try:
                msg = os.read(self.fd, 1024 * 1024 + 4096)
            except OSError as exc:
                if exc.errno in (errno.EINTR, errno.EAGAIN, errno.ENOENT):
                    continue
                return  # ENODEV: unmounted
            length, opcode, unique, node = struct.unpack_from("<IIQQ", msg)
            body = msg[40:length]
            try:
                self._handle(opcode, unique, node, body)
            except OSError:
                return

    def _handle(self, opcode, unique, node, body):
        if opcode == 26:  # INIT
            major, minor, readahead, flags = struct.unpack_from("<IIII", body)
            self._reply(unique, 0, struct.pack("<IIIIHHIIHHII6I", 7, min(minor, 31), readahead, 0, 16, 12,
                                               128 * 1024, 1, 32, 0, 0, 0, *([0] * 6)))
        elif opcode == 1:  # LOOKUP
            if node == self.ROOT and body.rstrip(b"\0") == self.NAME:
                self._reply(unique, 0, struct.pack("<QQQQII", self.FILE, 0, 60, 60, 0, 0) + self._attr(self.FILE))
            else:
                self._reply(unique, errno.ENOENT)
        elif opcode == 3:  # GETATTR
            self._reply(unique, 0, struct.pack("<QII", 60, 0, 0) + self._attr(node))
        elif opcode in (14, 27):  # OPEN, OPENDIR
            self._reply(unique, 0, struct.pack("<QIi", 1, 1 if opcode == 14 else 0, 0))  # FOPEN_DIRECT_IO
        elif opcode == 15:  # READ
            _fh, offset, size = struct.unpack_from("<QQI", body)
            size = max(0, min(size, self.size - offset))
            if size and offset < self.bad[1] and offset + size > self.bad[0]:
                self._reply(unique, errno.EIO)
            else:
                self._reply(unique, 0, self.content(offset, size))
        elif opcode in (2, 42, 36):  # FORGET, BATCH_FORGET, INTERRUPT: no reply
            pass
        elif opcode in (18, 25, 29, 34):  # RELEASE, FLUSH, RELEASEDIR, ACCESS
            self._reply(unique, 0)
        elif opcode == 38:  # DESTROY
            self._reply(unique, 0)
        else:
            self._reply(unique, errno.ENOSYS)

    def close(self):
        MNT_FORCE, MNT_DETACH = 1, 2
        if self.libc.umount2(self.mountpoint.encode(), MNT_FORCE) != 0:
            self.libc.umount2(self.mountpoint.encode(), MNT_DETACH)
        self.thread.join(2)
        os.close(self.fd)


@pytest.fixture
def faulty_loop(tmp_path):
    """faulty_loop(size, bad_from, bad_to) -> /dev/loopN whose bytes [bad_from, bad_to) cannot be read."""
    if not IS_ROOT or shutil.which("losetup") is None:
        pytest.skip("needs root and losetup (Debian: util-linux)")
    if not os.path.exists("/dev/fuse"):
        pytest.skip("no /dev/fuse: the kernel has no FUSE")
    served: list[FaultyFile] = []
    loops: list[str] = []

    def make(size: int, bad_from: int, bad_to: int) -> str:
        mountpoint = tmp_path / f"fuse{len(served)}"
        mountpoint.mkdir()
        try:
            fs = FaultyFile(mountpoint, size, bad_from, bad_to, _content)
        except OSError as exc:
            pytest.skip(f"cannot mount a FUSE filesystem here: {exc.strerror}")
        served.append(fs)
        loops.append(subprocess.run(["losetup", "--find", "--show", "--read-only", fs.path], check=True,
                                    capture_output=True, text=True).stdout.strip())
        return loops[-1]

    yield make
    for device in loops:  # the loop device first: it holds the FUSE file open
        subprocess.run(["losetup", "-d", device], check=False, capture_output=True)
    for fs in served:
        fs.close()


def _content(offset: int, size: int) -> bytes:
    """Deterministic non-zero bytes for any range."""
    block = hashlib.sha256(b"burnin").digest() * 128  # 4 KiB
    start = offset % len(block)
    out = (block * (size // len(block) + 2))[start:start + size]
    return out


# -- plans ---------------------------------------------------------------------------------------
def test_sample_plan_spreads_regions_from_first_to_last_byte_and_moves_each_pass():
    size = 1000 * MIB + 4096
    first = plan_sample(size, 64 * MIB, 16, MIB, 0)
    assert len(first) == 16 and sum(r.length for r in first) == 64 * MIB
    assert first[0].offset == 0 and first[-1].offset + first[-1].length <= size
    assert first[-1].offset + first[-1].length > size - 2 * MIB  # reaches the end of the disk
    assert all(r.offset % MIB == 0 for r in first)
    second = plan_sample(size, 64 * MIB, 16, MIB, 1)
    assert {r.offset for r in first}.isdisjoint({r.offset for r in second[:-1]})
    assert all(r.offset + r.length <= size for p in range(50) for r in plan_sample(size, 64 * MIB, 16, MIB, p))


def test_small_device_is_read_whole_and_full_plan_covers_every_byte():
    assert sum(r.length for r in plan_sample(10 * MIB, 64 * MIB, 16)) == 10 * MIB
    regions = plan_full(10 * MIB + 512, 4 * MIB)
    assert [r.length for r in regions] == [4 * MIB, 4 * MIB, 2 * MIB + 512]


def test_slow_regions_need_both_a_low_rate_and_a_long_time():
    fast = [readscan.RegionResult(i * MIB, MIB, 0.01, MIB, 0) for i in range(20)]
    slow = readscan.RegionResult(99 * MIB, MIB, 1.0, MIB, 0)  # 100x slower than the rest, and took 1 s
    tiny = readscan.RegionResult(98 * MIB, MIB, 0.2, MIB, 0)  # 20x slower but only 0.2 s: jitter
    median, found = slow_regions(fast + [slow, tiny], 0.2, 0.5)
    assert found == [slow] and median == pytest.approx(MIB / 0.01)
    assert slow_regions(fast[:5] + [slow], 0.2, 0.5)[1] == []  # too few regions to judge


# -- scans of loop devices -----------------------------------------------------------------------
@needs_loop
def test_full_scan_reads_every_byte_and_changes_none(make_loop):
    size = 48 * MIB + 512 * 3
    device = make_loop(size, _pattern(size))
    before = _sha256(device)
    scanner = _scan(device, size, lambda p: plan_full(size, 8 * MIB))
    assert scanner.state.bytes_read == size and not scanner.state.errors and not scanner.state.fatal
    assert len(scanner.state.regions) == 7 and scanner.state.passes_done == 1
    assert _sha256(device) == before


@needs_loop
def test_sample_scan_reads_only_its_regions(make_loop):
    size = 256 * MIB
    device = make_loop(size)
    scanner = _scan(device, size, lambda p: plan_sample(size, 32 * MIB, 8, MIB, p))
    assert scanner.state.bytes_read == 32 * MIB
    assert sorted(r.offset for r in scanner.state.regions) == [r.offset for r in plan_sample(size, 32 * MIB, 8)]


@needs_loop
def test_scan_stops_within_a_second_of_being_asked(make_loop):
    size = 8 * 1024 * MIB  # sparse: reads are fast, but there is far more than a second of them
    device = make_loop(size)
    stop = threading.Event()
    scanner = DiskScanner(device, size, 512, lambda p: plan_full(size, 64 * MIB), stop, repeat=True)
    load = ThreadLoad("scan", scanner, stop, scanner.metrics)  # as the disk module runs it
    load.start()
    give_up = time.monotonic() + 10
    while scanner.state.bytes_read == 0:  # wait until it is reading
        assert time.monotonic() < give_up, "the scan did not start reading"
        load.poll(0.02)
    asked = time.monotonic()
    load.stop()  # what the harness does at the deadline
    assert not load.poll(1.0) and time.monotonic() - asked < 1.0
    assert scanner.state.bytes_read > 0 and load.metrics()[f"read_mbps:{device}"] > 0


def test_read_error_is_narrowed_to_the_first_bad_block(tmp_path, monkeypatch):
    """The kernel's EIO, injected at the one seam every read goes through (always runs; the dm test below does
    it with a real device where the kernel has device-mapper)."""
    image = tmp_path / "img"
    size = 16 * MIB
    image.write_bytes(b"\0" * size)
    bad_from, bad_to = 5 * MIB + 7 * 512, 5 * MIB + 9 * 512
    real = readscan._pread_into

    def faulty(fd, buf, length, offset):
        if offset < bad_to and offset + length > bad_from:
            raise OSError(errno.EIO, "Input/output error")
        return real(fd, buf, length, offset)

    monkeypatch.setattr(readscan, "_pread_into", faulty)
    scanner = _scan(str(image), size, lambda p: plan_full(size, 4 * MIB))
    [error] = scanner.state.errors
    assert (error.offset, error.lba, error.errno) == (bad_from, bad_from // 512, errno.EIO)
    assert error.chunk_offset == 5 * MIB and error.chunk_length == MIB
    assert scanner.state.bytes_read == size - MIB  # the rest of the disk was still read
    assert scanner.state.drain() == [error] and scanner.state.drain() == []


@pytest.fixture
def dm_error_device(make_loop):
    """A dm device over a loop device: linear everywhere except 8 sectors mapped to the `error` target."""
    why = _dm_usable()
    if why:
        pytest.skip(why)
    size = 32 * MIB
    loop = make_loop(size, _pattern(size))
    sectors = size // 512
    bad = 40000
    table = f"0 {bad} linear {loop} 0\n{bad} 8 error\n{bad + 8} {sectors - bad - 8} linear {loop} {bad + 8}\n"
    name = f"burnin-test-{os.getpid()}"
    subprocess.run(["dmsetup", "create", name], input=table, text=True, check=True, capture_output=True)
    try:
        yield f"/dev/mapper/{name}", size, bad * 512
    finally:
        subprocess.run(["dmsetup", "remove", "--retry", name], check=False, capture_output=True)


def test_real_read_error_from_the_block_layer_names_the_byte_offset_and_lba(faulty_loop):
    size, bad = 32 * MIB, 20 * MIB + 8192
    device = faulty_loop(size, bad, bad + 8192)
    scanner = _scan(device, size, lambda p: plan_full(size, 8 * MIB))
    [error] = scanner.state.errors
    assert (error.offset, error.lba, error.errno) == (bad, bad // 512, errno.EIO)
    assert scanner.state.bytes_read == size - MIB and not scanner.state.fatal


def test_real_read_error_on_a_dm_error_target_names_the_byte_offset_and_lba(dm_error_device):
    device, size, bad_offset = dm_error_device
    scanner = _scan(device, size, lambda p: plan_full(size, 8 * MIB))
    [error] = scanner.state.errors
    assert error.offset == bad_offset and error.lba == bad_offset // 512 and error.errno == errno.EIO


# -- the module on loop devices -------------------------------------------------------------------
def _loop_disk(device: str, **changes):
    disk = read_disk(LIVE, os.path.basename(device), {})
    return disk if not changes else disk.__class__(**{**disk.to_dict(), **changes})


def _phase(module, ctx, phase, seconds):
    ctx.phase, ctx.deadline = phase, time.monotonic() + seconds
    try:
        getattr(module, phase)(ctx)
        return "ok"
    except Skip as exc:
        return f"skip: {exc}"


@needs_loop
def test_module_run_scans_every_disk_and_samples_throughput(make_loop):
    devices = [make_loop(64 * MIB, _pattern(64 * MIB), name=f"d{i}.img") for i in range(2)]
    disks = tuple(_loop_disk(d) for d in devices)
    module = DiskModule(LIVE, {"sample_mib": 16, "sample_regions": 8, "sample_interval_s": 0.2,
                               "self_test": "none", "repeat_scan": True})
    ctx = RecordingContext("disk", LIVE, inventory=SimpleNamespace(disks=disks))
    assert _phase(module, ctx, "run", 1.5) == "ok"
    assert [f for f in ctx.findings if f.severity is not Severity.INFO] == []
    names = {d.name for d in disks}
    assert {k for s in ctx.samples for k in s} == {f"{m}:{n}" for n in names for m in ("read_mbps", "scan_pct")}
    assert all(0 <= s[k] <= 100 for s in ctx.samples for k in s if k.startswith("scan_pct:"))
    assert max(s.get(f"read_mbps:{disks[0].name}", 0) for s in ctx.samples) > 0
    summaries = {n["data"]["disk"]: n["data"] for n in ctx.notes if "bytes_read" in n["data"]}
    assert set(summaries) == {d.dev_path for d in disks}
    assert all(s["passes"] >= 1 and s["failed_reads"] == 0 for s in summaries.values())


def test_module_run_fails_with_the_offset_of_a_real_read_error(faulty_loop):
    bad = 33 * MIB + 4096
    device = faulty_loop(64 * MIB, bad, bad + 4096)
    disk = _loop_disk(device)
    module = DiskModule(LIVE, {"scan": "full", "region_mib": 16, "sample_interval_s": 0.2, "self_test": "none",
                               "repeat_scan": False})
    ctx = RecordingContext("disk", LIVE, inventory=SimpleNamespace(disks=(disk,)))
    assert _phase(module, ctx, "run", 20) == "ok"
    [fail] = [f for f in ctx.findings if f.severity is Severity.FAIL]
    assert fail.code == "disk-read-error" and fail.component == f"disk:{disk.dev_path}"
    assert fail.evidence["offset_bytes"] == bad and fail.evidence["lba"] == bad // 512
    assert fail.evidence["errno"] == errno.EIO and str(bad) in fail.message
    summary = next(n["data"] for n in ctx.notes if "bytes_read" in n["data"])
    assert summary["bytes_read"] == 63 * MIB and summary["failed_reads"] == 1  # the rest of the disk was read


@needs_loop
def test_previous_data_is_found_on_a_real_filesystem_and_not_on_a_blank_disk(make_loop, tmp_path):
    formatted = tmp_path / "ext4.img"
    with open(formatted, "wb") as f:
        f.truncate(32 * MIB)
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("mkfs.ext4 is not installed (Debian: e2fsprogs)")
    subprocess.run(["mkfs.ext4", "-q", "-F", str(formatted)], check=True, capture_output=True)
    used = _losetup(formatted)
    try:
        blank = make_loop(32 * MIB)
        disks = (_loop_disk(used), _loop_disk(blank))
        severity = Severity(DiskModule(LIVE, {}).settings.previous_data)  # the default: warn
        ctx = RecordingContext("disk", LIVE, inventory=SimpleNamespace(disks=disks))
        check_previous_data(ctx, LIVE, disks, severity)
        [finding] = ctx.findings
        assert finding.code == "disk-previous-data" and finding.severity is Severity.WARN
        assert finding.component == f"disk:{used}" and "ext2/3/4 filesystem" in finding.evidence["signatures"]
        assert "wipe" in finding.message
        system = (disks[0].__class__(**{**disks[0].to_dict(), "system": True}),)
        ctx.findings.clear()
        check_previous_data(ctx, LIVE, system, Severity.WARN)
        assert ctx.findings == []  # the disk holding the running system is never flagged
        mounted = (disks[0].__class__(**{**disks[0].to_dict(), "mountpoints": ("/srv/data",)}),)
        check_previous_data(ctx, LIVE, mounted, Severity.WARN)
        assert ctx.findings == []  # mounted: this system's own data, not a previous owner's
        assert any("is mounted (/srv/data)" in n["message"] for n in ctx.notes)
    finally:
        subprocess.run(["losetup", "-d", used], check=False)


def test_signatures_of_partition_tables_and_volumes():
    blank = bytes(256 * 1024)
    assert data_signatures(blank) == []
    gpt = bytearray(blank)
    gpt[510:512] = b"\x55\xaa"
    gpt[446 + 4] = 0xEE
    gpt[512:520] = b"EFI PART"
    assert data_signatures(bytes(gpt)) == ["protective MBR (GPT disk)", "GPT partition table"]
    lvm = bytearray(blank)
    lvm[512:520] = b"LABELONE"
    assert data_signatures(bytes(lvm)) == ["LVM physical volume"]
    zfs = bytearray(blank)
    zfs[128 * 1024 + 3 * 1024:128 * 1024 + 3 * 1024 + 8] = (0x00BAB10C).to_bytes(8, "little")
    assert data_signatures(bytes(zfs)) == ["ZFS pool member"]


def test_writable_refusal_protects_system_mounted_and_held_disks():
    base = dict(name="sdb", dev_path="/dev/sdb", model=None, vendor=None, serial="S1", wwn=None, firmware=None,
                size_bytes=10**12, transport="SATA", rotational=True, removable=False, sysfs_path="/sys/x",
                pci_address=None, partitions=(), holders=(), mountpoints=(), system=False)
    from burnin.inventory.disks import Disk
    assert writable_refusal(Disk(**base)) is None
    assert "running system" in writable_refusal(Disk(**{**base, "mountpoints": ("/",), "system": True}))
    assert "mounted" in writable_refusal(Disk(**{**base, "mountpoints": ("/srv",)}))
    assert "dm-0" in writable_refusal(Disk(**{**base, "holders": ("dm-0",)}))
    assert "running system" in writable_refusal(Disk(**{**base, "system": True}))  # live medium, /boot, swap
