"""memory module, live: the pattern engine finds an injected bit flip, stops on time, stays out of the OOM killer's
way, and folds in stressapptest. Small (tens of MiB) and short (a few seconds each)."""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import shutil
import threading
import time
from pathlib import Path

import psutil
import pytest

from burnin.host import Host
from burnin.model import Severity
from burnin.modules import memory as memory_mod
from burnin.modules.memory import patterns
from burnin.modules.memory import MemoryModule
from burnin.testing import RecordingContext

LIVE = Host("/")
is_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
has_sat = pytest.mark.skipif(shutil.which("stressapptest") is None, reason="stressapptest is not installed")
SMALL = {"engines": ["builtin"], "bandwidth": False, "max_mib": 32, "sample_interval_s": 0.5}


def run_live(settings: dict, seconds: float, cancel: threading.Event | None = None) -> RecordingContext:
    module = MemoryModule(LIVE, {**SMALL, **settings})
    ctx = RecordingContext("memory", LIVE, phase="run", seconds=seconds, cancel=cancel)
    module.run(ctx)
    return ctx


def note(ctx: RecordingContext, message: str) -> dict:
    return [n["data"] for n in ctx.notes if n["message"] == message][-1]


# -- the pattern buffers, checked against real memory ------------------------------------------------------
def test_address_pattern_puts_each_words_own_address_in_it():
    region = patterns.Region(4 * patterns.MIB)
    try:
        assert region.base % patterns.ALIGN == 0
        for invert in (False, True):
            expected = patterns.AddressExpected(region.base, invert)
            for offset in range(0, region.size, patterns.CHUNK):
                ctypes.memmove(region.base + offset, expected.at(offset), patterns.CHUNK)
            for offset in (0, 8, 65528, 65536, 3 * 65536 + 8, patterns.CHUNK, 3 * patterns.MIB + 4096 + 16,
                           region.size - 8):
                word = int.from_bytes(ctypes.string_at(region.base + offset, 8), "little")
                want = region.base + offset
                assert word == (want ^ 0xFFFFFFFFFFFFFFFF if invert else want)
    finally:
        region.close()


@pytest.mark.parametrize("base", [(1 << 32) - (1 << 20), 0x7FFF_FF00_0000 - 3 * (1 << 18)])
def test_address_pattern_is_right_across_high_byte_boundaries(base):
    """Bases just below 4 GiB and just below a 16 MiB step: bytes 3 and 4 of the addresses change mid-region."""
    for invert in (False, True):
        expected = patterns.AddressExpected(base, invert)
        for offset in range(0, 2 * patterns.MIB, patterns.CHUNK):
            for within in (0, 8, 65536 + 24, patterns.CHUNK - 8):
                word = int.from_bytes(ctypes.string_at(expected.at(offset) + within, 8), "little")
                want = base + offset + within
                assert word == (want ^ 0xFFFFFFFFFFFFFFFF if invert else want), hex(want)


def test_differing_words_are_located_by_bisection():
    data = bytearray(patterns.CHUNK)
    want = bytearray(patterns.CHUNK)
    for offset in (8, 4099, 200001, patterns.CHUNK - 1):
        data[offset] ^= 0x10
    found = patterns.differing_words(patterns.buffer_address(data), patterns.buffer_address(want), patterns.CHUNK)
    assert found == [8, 4096, 200000, patterns.CHUNK - 8]


# -- the built-in engine -------------------------------------------------------------------------------------
def flip_once(target_pattern: str, offset: int, bit: int):
    done = []

    def inject(region, node, worker, pattern):
        if worker == 0 and pattern == target_pattern and not done:
            done.append(True)
            patterns.flip_bit(region, offset, bit)

    return inject


@pytest.mark.parametrize("pattern, setting, expected, actual", [
    ("solid-zeros", "solid", "0x0000000000000000", "0x0000000020000000"),
    ("solid-ones", "solid", "0xffffffffffffffff", "0xffffffffdfffffff"),
])
def test_injected_bit_flip_is_found_with_offset_bits_and_node(monkeypatch, pattern, setting, expected, actual):
    monkeypatch.setattr(patterns, "_inject_bit_flip", flip_once(pattern, 4099, 5))
    ctx = run_live({"patterns": [setting]}, seconds=1.5)
    fails = [f for f in ctx.findings if f.code == "memory-mismatch"]
    assert len(fails) == 1, ctx.findings
    f = fails[0]
    assert (f.severity, f.component) == (Severity.FAIL, "memory:node0")
    ev = f.evidence
    assert (ev["pattern"], ev["node"], ev["worker"]) == (pattern, 0, 0)
    assert ev["offset"] == 4096 and ev["first_byte_offset"] == 4099
    assert ev["flipped_bits"] == [29]  # byte 3 of the little-endian word, bit 5
    assert (ev["expected"], ev["actual"], ev["xor"]) == (expected, actual, "0x0000000020000000")
    assert ev["persistent"] is True and ev["words_wrong_in_chunk"] == 1
    assert int(ev["virtual_address"], 16) % patterns.ALIGN == 4096  # the region starts 2 MiB-aligned
    if os.geteuid() == 0:
        assert ev["physical_address"] is not None and int(ev["physical_address"], 16) % 4096 == 4096 % 4096
    assert "bit 29" in f.message and "node 0" in f.message
    if os.geteuid() == 0:  # this VM: no SMBIOS tables, no EDAC decoder
        assert ev["dimm_location"]["method"] == "none"
        assert f.message.endswith("address only, no decoder on this platform.")
    assert note(ctx, "engine")["engine"] == "builtin"


def test_a_flip_in_the_address_pattern_shows_the_words_own_address(monkeypatch):
    monkeypatch.setattr(patterns, "_inject_bit_flip", flip_once("address", 5 * 65536 + 16, 0))
    ctx = run_live({"patterns": ["address"]}, seconds=1.5)
    f = [f for f in ctx.findings if f.code == "memory-mismatch"][0]
    assert f.evidence["pattern"] == "address" and f.evidence["flipped_bits"] == [0]
    assert int(f.evidence["expected"], 16) == int(f.evidence["virtual_address"], 16)


def test_every_pattern_runs_clean_on_good_memory():
    ctx = run_live({"patterns": list(patterns.PATTERNS), "max_mib": 16}, seconds=2.5)
    assert [f.code for f in ctx.findings if f.severity is not Severity.INFO] == []
    done = note(ctx, "engine done")
    assert done["verified_mib"][0] > 0 and done["mismatched_words"] == {0: 0}
    assert done["workers_died"] == []
    assert any("mem_verified_gbps:node0" in s for s in ctx.samples)
    verified = [s["mem_verified_gib:node0"] for s in ctx.samples if "mem_verified_gib:node0" in s]
    assert verified and verified == sorted(verified) and verified[-1] > 0  # a running total


@pytest.mark.parametrize("engine", ["builtin", pytest.param("stressapptest", marks=has_sat)])
def test_cancellation_stops_within_two_seconds_and_leaves_no_worker(engine):
    cancel = threading.Event()
    result: dict = {}

    def body():
        result["ctx"] = run_live({"max_mib": 64, "engines": [engine]}, seconds=30, cancel=cancel)

    thread = threading.Thread(target=body)
    thread.start()
    give_up = time.monotonic() + 15
    workers: list = []
    while time.monotonic() < give_up:  # wait until the engine's processes are loading memory, no longer
        workers = psutil.Process().children(recursive=True)
        try:
            if workers and all(sum(p.cpu_times()[:2]) >= 0.2 for p in workers):
                break
        except psutil.Error:
            pass
        time.sleep(0.05)
    assert workers, "the engine started no worker"
    cancel.set()
    started = time.monotonic()
    thread.join(5)
    assert not thread.is_alive()
    assert time.monotonic() - started < 2.0
    gone, alive = psutil.wait_procs(workers, timeout=0.5)
    assert alive == []
    assert [f.code for f in result["ctx"].findings if f.severity is not Severity.INFO] == []


# -- OOM safety, in a memory cgroup of our own -----------------------------------------------------------------
def _memory_cgroup_dir() -> Path | None:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            d = Path("/sys/fs/cgroup/memory") / path.lstrip("/")
            return d if (d / "memory.limit_in_bytes").exists() else None
    return None


@pytest.fixture
def small_cgroup():
    """A child memory cgroup (v1) limited to 384 MiB; the test process itself stays outside it."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create a memory cgroup")
    parent = _memory_cgroup_dir()
    if parent is None:
        pytest.skip("no writable cgroup v1 memory controller here")
    cg = parent / f"burnin-memory-test-{os.getpid()}"
    try:
        cg.mkdir()
        (cg / "memory.limit_in_bytes").write_text(str(384 * patterns.MIB))
    except OSError as exc:
        pytest.skip(f"cannot create a memory cgroup: {exc}")
    yield cg
    for _ in range(50):
        try:
            cg.rmdir()
            break
        except OSError:
            time.sleep(0.1)


def _module_in_cgroup(cgroup: str, aware: bool, conn) -> None:
    """Child: join the cgroup, run the memory module's run phase as the runner would, report what it said."""
    Path(cgroup, "cgroup.procs").write_text(str(os.getpid()))
    if not aware:
        memory_mod.read_cgroup_memory = lambda host: None
    module = MemoryModule(LIVE, {**SMALL, "max_mib": 0, "share_of_available": 0.95, "patterns": ["solid"]})
    ctx = RecordingContext("memory", LIVE, phase="run", seconds=3.0)
    module.run(ctx)
    conn.send({"codes": [f.code for f in ctx.findings], "findings": [f.to_record() for f in ctx.findings],
               "engine": note(ctx, "engine"), "done": note(ctx, "engine done")})


def run_in_cgroup(cgroup: Path, aware: bool) -> dict:
    mp = multiprocessing.get_context("fork")
    reader, writer = mp.Pipe(duplex=False)
    child = mp.Process(target=_module_in_cgroup, args=(str(cgroup), aware, writer))
    child.start()
    writer.close()
    assert reader.poll(30), "the module process sent nothing"
    result = reader.recv()
    child.join(10)
    assert child.exitcode == 0  # the module process (the agent's stand-in) survived
    return result


def test_asking_for_95_percent_inside_a_small_cgroup_stays_below_its_limit(small_cgroup):
    result = run_in_cgroup(small_cgroup, aware=True)
    assert result["engine"]["limited_by"] == "cgroup"
    assert result["engine"]["total_mib"] < 384
    assert "memory-worker-oom-killed" not in result["codes"]
    assert result["done"]["verified_mib"][0] > 0 and result["done"]["workers_died"] == []


def test_a_worker_the_oom_killer_ends_is_reported_and_the_agent_survives(small_cgroup):
    result = run_in_cgroup(small_cgroup, aware=False)  # blind to the cgroup: plans ~95 % of the machine
    assert result["engine"]["limited_by"] in ("reserve", "node", "share")
    assert result["engine"]["total_mib"] > 384
    killed = [f for f in result["findings"] if f["code"] == "memory-worker-oom-killed"]
    assert killed, result["codes"]
    assert killed[0]["severity"] == "warn" and killed[0]["evidence"]["how"] == "killed by SIGKILL"
    assert killed[0]["evidence"]["oom_kills_after"] > killed[0]["evidence"]["oom_kills_before"]


# -- stressapptest -----------------------------------------------------------------------------------------------
@has_sat
def test_stressapptest_failure_is_folded_in_as_a_mismatch():
    ctx = run_live({"engines": ["stressapptest"], "stressapptest_args": ["--force_errors"]}, seconds=8.5)
    engine = note(ctx, "engine")
    assert engine["engine"] == "stressapptest" and engine["seconds"] == 5
    fails = [f for f in ctx.findings if f.code == "memory-mismatch"]
    assert [(f.severity, f.component) for f in fails] == [(Severity.FAIL, "memory:node0")]
    ev = fails[0].evidence
    assert ev["engine"] == "stressapptest" and ev["reported"] == "hardware"
    first = ev["miscompares"][0]
    assert first["expected"] != first["actual"] and first["flipped_bits"]
    assert "--force_errors" in ev["argv"]


@has_sat
def test_stressapptest_tool_trouble_is_a_warning_and_fatal_when_alone():
    module = MemoryModule(LIVE, {**SMALL, "engines": ["stressapptest"], "stressapptest_args": ["--bogus_option"]})
    ctx = RecordingContext("memory", LIVE, phase="run", seconds=8.5)
    with pytest.raises(RuntimeError, match="only memory engine"):
        module.run(ctx)
    warned = [f for f in ctx.findings if f.code == "tool-error"]
    assert [(f.severity, f.component) for f in warned] == [(Severity.WARN, "memory:node0")]
    assert "Unknown argument --bogus_option" in warned[0].message
