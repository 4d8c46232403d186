"""The CPU engine at silent-data-corruption grade: instruction classes, references on two cores, accusation on
another core, the test-only fault seams, coherence lanes, clock-limit cycling with its restore ledger (a real
kill -9), RAPL power and Intel IFS on synthesized sysfs trees (see tests/data/cpu/SOURCE.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from burnin.host import Host
from burnin.model import Severity
from burnin.modules.cpu import CpuModule, CpuSettings, CpuTopology
from burnin.modules.cpu import coherence
from burnin.modules.cpu import engine as cpu_engine
from burnin.modules.cpu import kernels as cpu_kernels
from burnin.settings import SettingError
from burnin.testing import RecordingContext, run_phases, wait_for
from burnin.tools import cpufreq, ifs, rapl

LIVE = Host("/")
LIVE_CPUS = sorted(os.sched_getaffinity(0))
needs_two_cpus = pytest.mark.skipif(len(LIVE_CPUS) < 2, reason="needs two CPUs to tell one from the other")
REPO = Path(__file__).resolve().parent.parent


def component(cpu: int) -> str:
    from burnin.modules.cpu import cpu_topology
    return cpu_topology(LIVE).get(cpu, CpuTopology(cpu, None, None)).component


# -- votes ---------------------------------------------------------------------------------------------
def V(cpu, answer, role="verifier"):
    return cpu_engine.Vote(cpu, "k", role, answer)


def test_votes_accept_what_two_cores_agree_on_and_charge_the_odd_one_in_its_role():
    d = cpu_engine.decide("k", [V(0, "bad"), V(1, "good"), V(0, "good", "worker"), V(1, "good", "worker")])
    assert d.accepted == "good" and d.charged == (V(0, "bad"),)
    # the same core twice is one core: no decision between two cores that each insist
    d = cpu_engine.decide("k", [V(0, "a"), V(0, "a", "worker"), V(1, "b"), V(1, "b", "worker")])
    assert d.accepted is None and d.charged == ()
    d = cpu_engine.decide("k", [V(0, "a"), V(1, "a"), V(2, "b"), V(3, "b")])
    assert d.accepted is None  # two against two


def test_reference_cpus_are_on_different_physical_cores():
    topology = {0: CpuTopology(0, 0, 0), 1: CpuTopology(1, 0, 0), 2: CpuTopology(2, 1, 0), 3: CpuTopology(3, 0, 1)}
    assert cpu_engine.reference_cpus([0, 1, 2, 3], topology) == [0, 3]  # another socket first
    assert cpu_engine.verifier_for(0, [0, 1, 2], topology) == 2  # never the SMT sibling


# -- the seams -----------------------------------------------------------------------------------------
def test_fault_seam_is_read_from_the_environment_only_and_cannot_be_a_setting(monkeypatch):
    assert cpu_engine.FaultSeam.parse("cpu=1,kernel=sha256,rate=1e-6") == cpu_engine.FaultSeam(1, "sha256", 1e-6)
    assert cpu_engine.FaultSeam.parse("nonsense") is None
    assert not any("flip" in f or "seam" in f for f in CpuSettings.__dataclass_fields__)
    with pytest.raises(SettingError):
        CpuModule(LIVE, {"fault_seam": "cpu=1"})
    monkeypatch.setenv(cpu_engine.SEAM_ENV, "cpu=0,rate=1")
    assert cpu_engine.seams() == {"worker": cpu_engine.FaultSeam(0, None, 1.0)}


def test_a_flipped_bit_in_an_array_changes_its_digest():
    np = pytest.importorskip("numpy")
    a = np.arange(1024, dtype=np.float64)
    before = cpu_kernels.answer(a.copy())
    seam = cpu_engine.FaultSeam(3, None, 1.0)
    assert cpu_kernels.answer(cpu_engine._apply_seam(seam, 3, "k", a.copy())) != before
    assert cpu_kernels.answer(cpu_engine._apply_seam(seam, 2, "k", a.copy())) == before  # another CPU


@needs_two_cpus
def test_seam_on_one_cpu_fails_naming_exactly_that_cpu_after_another_core_confirmed(monkeypatch):
    bad = LIVE_CPUS[1]
    # 1e-5 per value: a flip in nearly every 1536 x 1536 product (the bench runs 1e-6 for minutes)
    monkeypatch.setenv(cpu_engine.SEAM_ENV, f"cpu={bad},kernel=gemm-f64-memory,rate=1e-5")
    module = CpuModule(LIVE, {"engines": ["builtin"], "kernels": ["gemm-f64-memory", "sha256"],
                              "sample_interval_s": 1.0})
    checked = run_phases(module, phases=("check",), seconds=60.0)
    ctx = run_phases(module, phases=("run",), seconds=4.0)
    ctx.findings[:0] = checked.findings
    ctx.notes[:0] = checked.notes
    failures = [f for f in ctx.findings if f.severity is Severity.FAIL]
    assert failures and {f.component for f in failures} == {component(bad)}
    first = failures[0]
    assert first.code == "cpu-wrong-result" and first.evidence["kernel"] == "gemm-f64-memory"
    assert first.evidence["role"] == "worker" and first.evidence["class"] == "vector-fp-fma"
    assert first.evidence["verified_on"] == component(LIVE_CPUS[0])
    assert set(first.evidence["verifier_answers"]) == {first.evidence["expected"]}
    assert {"freq_mhz", "temp_c"} <= set(first.evidence["at_miscompare"])
    assert any("TEST FAULT SEAM ACTIVE" in n["message"] for n in ctx.notes)


@needs_two_cpus
def test_a_flip_in_the_verifier_is_charged_to_the_verifier_not_the_worker(monkeypatch):
    bad = LIVE_CPUS[0]
    monkeypatch.setenv(cpu_engine.SEAM_VERIFIER_ENV, f"cpu={bad},kernel=sha256,rate=1")
    module = CpuModule(LIVE, {"engines": ["builtin"], "kernels": ["sha256", "integer"]})
    ctx = run_phases(module, phases=("check",), seconds=20.0)
    [failure] = [f for f in ctx.findings if f.severity is Severity.FAIL]
    assert failure.component == component(bad) and failure.evidence["role"] == ["verifier"]
    assert failure.evidence["kernels"] == ["sha256"]
    preflight = next(n["data"] for n in ctx.notes if n["message"] == "preflight")
    assert preflight["mismatches"] == {}  # the workers, the other CPU's included, computed right
    assert module._golden["sha256"] == cpu_kernels.sha256(cpu_kernels.make_inputs())


def test_classes_journal_says_what_runs_here_and_why_the_rest_does_not(monkeypatch):
    monkeypatch.setattr(cpu_kernels._vector, "missing_library",
                        lambda name: "the Python package 'cryptography' is not installed" if name.startswith("aes")
                        else None)
    module = CpuModule(LIVE, {"engines": ["builtin"], "kernels": ["integer", "crc32c", "aes-gcm"]})
    ctx = RecordingContext("cpu", LIVE, seconds=20.0)
    module._classes(ctx)
    classes = next(n["data"]["classes"] for n in ctx.notes if n["message"] == "instruction classes")
    assert len(classes) >= 9
    assert classes["aes"]["runs"] is False and "cryptography" in classes["aes"]["not_run"]["aes-gcm"]
    assert classes["crc32c"]["runs"] is True and classes["scalar-int"]["kernels"] == ["integer"]
    assert "profile" in classes["sha"]["not_run"]["sha256"]
    assert module._kernel_names() == ["integer", "crc32c"]
    # A class the profile asked for that cannot run is said in the findings too, not only in a note; one the
    # profile left out is not.
    not_run = [f for f in ctx.findings if f.code == "cpu-class-not-run"]
    assert [f.evidence["class"] for f in not_run] == ["aes"], not_run
    assert not_run[0].severity.value == "info" and "cryptography" in not_run[0].message


# -- coherence -----------------------------------------------------------------------------------------
def test_coherence_lanes_catch_a_torn_lane_and_a_lost_write_and_name_the_pair():
    lanes = coherence.Lanes.create([0, 5])
    words = lanes.words()
    assert coherence._rounds(words, lanes, 0, {}) == "ok"
    assert coherence.final_state(lanes, {0: coherence.ROUNDS, 5: 0}) == []
    other = lanes.base(5)
    words[other], words[other + 1], words[other + 2] = 8, coherence.value_a(4), coherence.value_b(3)  # torn
    result = coherence._rounds(words, lanes, 0, {})
    assert "torn read: CPU 0 read CPU 5's lane" in result and coherence.partner_in(result) == 5
    words[other + 2] = coherence.value_b(4)
    seen = {other: 100}
    assert "lost update" in coherence._rounds(words, lanes, 0, seen)
    problems = coherence.final_state(lanes, {0: 3 * coherence.ROUNDS + 1, 5: 4})
    assert [p.cpu for p in problems] == [0]  # one write reported that never reached the lane
    words.release()


@needs_two_cpus
def test_coherence_runs_clean_between_two_pinned_workers():
    module = CpuModule(LIVE, {"engines": ["builtin"], "kernels": ["coherence", "integer"]})
    ctx = run_phases(module, phases=("check", "run"), seconds=3.0)
    assert ctx.codes(Severity.FAIL) == []
    done = next(n["data"] for n in ctx.notes if n["message"] == "engine done")
    assert done["iterations_per_kernel"]["coherence"] >= 2
    assert sum(module._coherence_writes.values()) >= 2 * coherence.ROUNDS


# -- clock-limit cycling and its ledger ------------------------------------------------------------------
def fake_cpufreq(root: Path) -> Host:
    """A synthesized cpufreq tree (two policies, intel_pstate active): see tests/data/cpu/SOURCE.md."""
    for n in (0, 1):
        d = root / f"sys/devices/system/cpu/cpufreq/policy{n}"
        d.mkdir(parents=True)
        for name, value in (("cpuinfo_min_freq", 800000), ("cpuinfo_max_freq", 3500000),
                            ("scaling_max_freq", 3500000), ("scaling_min_freq", 800000)):
            (d / name).write_text(f"{value}\n")
    p = root / "sys/devices/system/cpu/intel_pstate"
    p.mkdir(parents=True)
    for name, value in (("status", "active"), ("max_perf_pct", 100), ("min_perf_pct", 22)):
        (p / name).write_text(f"{value}\n")
    return Host(root)


def limit_values(root: Path) -> dict[str, str]:
    files = sorted(root.glob("sys/devices/system/cpu/cpufreq/policy*/scaling_max_freq"))
    files.append(root / "sys/devices/system/cpu/intel_pstate/max_perf_pct")
    return {str(f.relative_to(root)): f.read_text().strip() for f in files}


def test_cycle_moves_the_limits_and_restores_them_at_the_end(tmp_path):
    host = fake_cpufreq(tmp_path / "root")
    before = limit_values(host.root)
    limits, why = cpufreq.cycle_limits(host)
    assert why is None and len(limits) == 3
    cycler = cpufreq.FreqCycler(host, limits, 5.0, directory=tmp_path / "state")
    assert cycler.tick(cycler.next_switch)
    low = limit_values(host.root)
    assert set(low.values()) == {"800000", "22"}
    assert json.loads(cycler.ledger.path.read_text())["original"]  # on disk before the change
    assert cycler.restore() == [] and limit_values(host.root) == before
    assert not cycler.ledger.path.exists()
    assert cpufreq.cycle_limits(Host(tmp_path / "empty"))[1].startswith("no cpufreq")


def test_limits_left_by_an_agent_killed_with_sigkill_are_restored_by_the_next_run(tmp_path):
    host = fake_cpufreq(tmp_path / "root")
    before = limit_values(host.root)
    state = tmp_path / "state"
    script = textwrap.dedent(f"""
        import sys, time
        from burnin.host import Host
        from burnin.tools import cpufreq
        host = Host({str(host.root)!r})
        limits, _ = cpufreq.cycle_limits(host)
        cycler = cpufreq.FreqCycler(host, limits, 1.0, directory={str(state)!r})
        cycler.tick(cycler.next_switch)
        print("low", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert proc.stdout.readline().strip() == "low"
        assert limit_values(host.root) != before
        assert cpufreq.recover(host, state) == []  # its owner is alive: hands off
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        proc.kill()
        proc.stdout.close()
    [done] = cpufreq.recover(host, state)
    assert done["problems"] == [] and len(done["restored"]) == 3
    assert limit_values(host.root) == before and not list(state.glob("cpufreq-*.json"))


def test_the_module_cycles_during_the_run_and_restores(tmp_path, monkeypatch):
    host = fake_cpufreq(tmp_path / "root")
    before = limit_values(host.root)
    monkeypatch.setattr(cpufreq, "state_dir", lambda directory=None: tmp_path)
    module = CpuModule(LIVE, {"engines": ["builtin"], "kernels": ["integer"], "freq_cycle_s": 0.3})
    module.host = host  # the cycle writes the synthesized tree; the load runs on this machine
    module._topology = {c: CpuTopology(c, c, 0) for c in LIVE_CPUS}
    ctx = RecordingContext("cpu", LIVE, phase="run", seconds=2.0)
    module._start_cycle(ctx)
    assert module._cycler is not None
    wait_for(lambda: module._cycler.tick(), timeout=5.0)
    assert limit_values(host.root) != before
    module._end_cycle(ctx)
    assert limit_values(host.root) == before
    assert any(n["message"] == "clock limits restored" and n["data"]["switches"] == 1 for n in ctx.notes)


# -- RAPL and IFS on synthesized trees -------------------------------------------------------------------
def test_rapl_power_is_computed_across_a_counter_wrap(tmp_path):
    d = tmp_path / "sys/class/powercap/intel-rapl:0"
    d.mkdir(parents=True)
    (d / "name").write_text("package-0\n")
    (d / "max_energy_range_uj").write_text("262143328850\n")
    (d / "energy_uj").write_text("262143000000\n")
    (tmp_path / "sys/class/powercap/intel-rapl:0:0").mkdir()  # a sub-zone: not a package
    meter = rapl.PowerMeter(Host(tmp_path))
    assert [x.name for x in meter.domains] == ["package-0"]
    meter._last[meter.domains[0].path] = (100.0, 262143000000)
    (d / "energy_uj").write_text("99671150\n")  # wrapped: 328850 + 99671150 uJ = 100 J
    assert meter.read(now=102.0) == {"power_w:package-0": 50.0}
    assert rapl.energy_delta_uj(10, 5, None) is None
    assert not rapl.PowerMeter(Host(tmp_path / "none")).available


def fake_ifs(root: Path, status: str, details: str) -> Host:
    d = root / "sys/devices/virtual/misc/intel_ifs_1"
    d.mkdir(parents=True)
    (d / "run_test").write_text("")
    (d / "status").write_text(f"{status}\n")
    (d / "details").write_text(f"{details}\n")
    (root / "sys/devices/system/cpu/cpu2/topology").mkdir(parents=True)
    (root / "sys/devices/system/cpu/cpu2/topology/ppin").write_text("0x2d3c0e8fa1b2c3d4\n")
    return Host(root)


@pytest.mark.parametrize("status, code, severity", [
    ("fail", "cpu-self-test-failed", Severity.FAIL), ("untested", "cpu-self-test-skipped", Severity.INFO)])
def test_ifs_fail_names_core_and_ppin_and_untested_is_a_skip_with_its_code(tmp_path, status, code, severity):
    host = fake_ifs(tmp_path, status, "0x8081")
    assert ifs.devices(host) == ["intel_ifs_1"]
    module = CpuModule(host, {"engines": ["builtin"]})
    module._topology = {2: CpuTopology(2, 1, 0), 3: CpuTopology(3, 1, 0)}
    ctx = RecordingContext("cpu", host, seconds=5.0)
    module._self_tests(ctx, [2, 3])  # cpus 2 and 3 are one core: one test
    [finding] = ctx.findings
    assert (finding.code, finding.severity, finding.component) == (code, severity, "cpu:2 (core 1, socket 0)")
    assert finding.evidence["details"] == "0x8081" and finding.evidence["test"] == "array BIST"
    assert finding.evidence["ppin"] == "0x2d3c0e8fa1b2c3d4"
    assert (tmp_path / "sys/devices/virtual/misc/intel_ifs_1/run_test").read_text() == "2\n"


def test_no_ifs_on_amd_is_said_so(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\n")
    ctx = RecordingContext("cpu", Host(tmp_path), seconds=5.0)
    CpuModule(Host(tmp_path), {"engines": ["builtin"]})._self_tests(ctx, [0])
    assert ctx.findings == [] and "AMD processors have no in-field self-test" in ctx.notes[0]["message"]


# -- startup ---------------------------------------------------------------------------------------------
def test_help_imports_none_of_the_heavy_libraries():
    code = ("import sys\nfrom click.testing import CliRunner\nfrom burnin.cli import main\n"
            "assert CliRunner().invoke(main, ['--help']).exit_code == 0\n"
            "import burnin.modules.cpu\n"
            "print(sorted(m for m in ('numpy', 'cryptography', 'cpuinfo', 'crc32c', 'threadpoolctl') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_kernel_whose_library_raises_everywhere_is_left_out_not_charged(monkeypatch):
    def broken(inp):
        raise RuntimeError("library broken")

    monkeypatch.setitem(cpu_kernels.KERNELS, "crc32c", broken)
    module = CpuModule(LIVE, {"engines": ["builtin"], "kernels": ["integer", "crc32c"]})
    ctx = run_phases(module, phases=("check",), seconds=30.0)
    assert ctx.codes(Severity.FAIL) == []
    note = next(n["data"] for n in ctx.notes if n["message"] == "reference answers")
    assert note["left_out_kernel_errors"] == {"crc32c": "raised RuntimeError: library broken"}
    assert next(n["data"] for n in ctx.notes if n["message"] == "preflight")["kernels"] == ["integer"]


def test_a_refused_limit_stops_the_cycle_and_restores_what_was_changed(tmp_path, monkeypatch):
    host = fake_cpufreq(tmp_path / "root")
    before = limit_values(host.root)
    monkeypatch.setattr(cpufreq, "state_dir", lambda directory=None: tmp_path)
    module = CpuModule(host, {"engines": ["builtin"], "freq_cycle_s": 0.01})
    ctx = RecordingContext("cpu", host, phase="run", seconds=2.0)
    module._start_cycle(ctx)
    real_write = cpufreq.write_value
    calls = []

    def refuse_the_second(h, path, value):
        calls.append(path)
        if len(calls) == 2:
            raise PermissionError(1, "Operation not permitted")
        real_write(h, path, value)

    monkeypatch.setattr(cpufreq, "write_value", refuse_the_second)
    tick = module._tick_extra(ctx)
    wait_for(lambda: tick() or module._cycler is None, timeout=5.0)
    assert limit_values(host.root) == before
    assert any(n["message"].startswith("clock-limit cycling stopped") for n in ctx.notes)


def test_a_library_that_dies_of_sigill_at_import_leaves_its_kernels_out_instead_of_killing_the_module(
        tmp_path, monkeypatch):
    """numpy 2 on a CPU without x86-64-v2 (QEMU's default qemu64 model) dies of SIGILL while importing: the kernel
    is left out with the reason, found in a child interpreter, and the module process lives on."""
    from burnin.modules.cpu import kernels as cpu_kernels
    from burnin.modules.cpu import vector

    package = tmp_path / "burnin_sigill_probe"
    package.mkdir()
    (package / "__init__.py").write_text("import os, signal\nos.kill(os.getpid(), signal.SIGILL)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setitem(vector.LIBRARY_OF, "crc32c", "burnin_sigill_probe")
    vector.import_problem.cache_clear()
    try:
        why = cpu_kernels.unavailable("crc32c")
        assert why is not None and "SIGILL" in why and "burnin_sigill_probe" in why, why
        assert cpu_kernels.unavailable("sha256") is None
    finally:
        vector.import_problem.cache_clear()
