"""The cpu module: readings and judgements on captured data, then short live runs of the real workers."""

from __future__ import annotations

import functools
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest

from burnin.host import Host, format_cpulist, parse_cpulist
from burnin.model import Severity
from burnin.modules.cpu import (
    CpuModule, CpuTopology, FreqReference, busy_fractions, cpu_topology, judge_busy, judge_freq,
    judge_machine_checks, judge_stress_ng, parse_interrupt_counters, parse_proc_stat, read_freq_khz,
    read_freq_reference,
)
from burnin.modules.cpu import engine as cpu_engine
from burnin.testing import RecordingContext, run_phases
from burnin.tools import stress_ng

DATA = Path(__file__).parent / "data"
PROCFS = Host(DATA / "cpu" / "procfs")  # real Intel sysfs: cpufreq, throttle counters, MCE lines
VM = Host(DATA / "cpu" / "vm")  # our 2-vCPU VM: no cpufreq, no MCE lines
LIVE = Host("/")
LIVE_CPUS = sorted(os.sched_getaffinity(0))
needs_two_cpus = pytest.mark.skipif(len(LIVE_CPUS) < 2, reason="needs two CPUs to tell one from the other")
has_stress_ng = pytest.mark.skipif(shutil.which("stress-ng") is None, reason="stress-ng is not installed")


def topo(*cpus: int) -> dict[int, CpuTopology]:
    return {c: CpuTopology(c, c, 0) for c in cpus}


# -- readings from captured trees --------------------------------------------------------------------
def read_topology(host: Host, cpu: int) -> CpuTopology:
    return cpu_topology(host).get(cpu, CpuTopology(cpu, None, None))


def test_topology_names_core_and_socket_from_the_inventorys_reader():
    assert read_topology(PROCFS, 1).component == "cpu:1 (core 1, socket 0)"
    assert cpu_topology(VM) == {0: CpuTopology(0, 0, 0), 1: CpuTopology(1, 1, 0)}
    assert CpuTopology(7, None, None).component == "cpu:7 (core ?, socket ?)"


def test_cpulists_round_trip():
    assert parse_cpulist("0-3,8,10-11\n") == [0, 1, 2, 3, 8, 10, 11]
    assert format_cpulist([11, 0, 1, 2, 3, 8, 10]) == "0-3,8,10-11"
    assert parse_cpulist(VM.read_text("/sys/devices/system/cpu/online")) == [0, 1]
    assert parse_cpulist("") == [] and parse_cpulist(None) == []


def test_real_proc_stat_shows_the_loaded_cpu_busy_and_the_other_underloaded():
    before = parse_proc_stat(VM.read_text("/proc/stat.before"))
    after = parse_proc_stat(VM.read_text("/proc/stat.after"))
    assert sorted(after) == [0, 1]
    fractions = busy_fractions(before, after)
    assert fractions[1].fraction == 1.0  # 197 user + 1 system + 1 softirq ticks, no idle
    assert fractions[1].steal_ticks == 2
    assert fractions[0].fraction < 0.7
    findings = judge_busy(fractions, topo(0, 1), 0.97)
    assert [(f.component, f.code, f.severity) for f in findings] == [
        ("cpu:0 (core 0, socket 0)", "cpu-underloaded", Severity.WARN)]
    assert findings[0].evidence["busy_pct"] == pytest.approx(fractions[0].fraction * 100, abs=0.01)


def test_a_handful_of_ticks_is_not_judged():
    before = parse_proc_stat("cpu0 100 0 0 100 0 0 0 0 0 0")
    after = parse_proc_stat("cpu0 101 0 0 110 0 0 0 0 0 0")
    assert busy_fractions(before, after)[0].fraction is None
    assert judge_busy(busy_fractions(before, after), topo(0), 0.97) == []


def test_clock_is_read_through_the_cpufreq_link_and_judged_against_the_max():
    assert read_freq_khz(PROCFS, 0) == 1219917  # cpu0/cpufreq -> ../cpufreq/policy0, scaling_cur_freq
    assert read_freq_khz(PROCFS, 1) == 1200195  # no scaling_cur_freq: cpuinfo_cur_freq
    assert read_freq_reference(PROCFS, 1) == FreqReference(3300000, "cpuinfo_max_freq")
    refs = {c: read_freq_reference(PROCFS, c) for c in (0, 1)}
    samples = {c: [read_freq_khz(PROCFS, c)] * 3 for c in (0, 1)}
    topology = {c: read_topology(PROCFS, c) for c in (0, 1)}
    findings = judge_freq(samples, refs, topology, 0.5)
    assert [(f.component, f.code) for f in findings] == [("cpu:1 (core 1, socket 0)", "cpu-freq-low")]
    assert findings[0].evidence["reference_mhz"] == 3300 and findings[0].evidence["mean_mhz"] == 1200.2
    # cpu0 runs at 51 % of its 2400 MHz: fine at 0.5, low when the profile asks for 0.6
    assert [f.component for f in judge_freq(samples, refs, topology, 0.6)] == [
        "cpu:0 (core 0, socket 0)", "cpu:1 (core 1, socket 0)"]


def test_vm_without_cpufreq_has_no_clock_to_judge():
    assert read_freq_khz(VM, 0) is None and read_freq_reference(VM, 0) is None


def test_machine_check_exception_growth_fails_and_polls_do_not():
    text = PROCFS.read_text("/proc/interrupts")
    before = parse_interrupt_counters(text)
    assert before == {"THR": (0, 0, 0, 0), "DFR": (0, 0, 0, 0), "MCE": (0, 0, 0, 0), "MCP": (1, 1, 1, 1)}
    polled = parse_interrupt_counters(text.replace("MCP:          1          1", "MCP:          9          9"))
    assert judge_machine_checks(before, polled) == []
    # the same file after one machine-check exception on CPU 2
    mce_line = "MCE:          0          0          0          0"
    after = parse_interrupt_counters(text.replace(mce_line, "MCE:          0          0          1          0"))
    findings = judge_machine_checks(before, after)
    assert [(f.severity, f.component, f.code) for f in findings] == [(Severity.FAIL, "cpu:2", "machine-check")]
    assert findings[0].evidence["increase_per_cpu"] == {2: 1}


def test_vm_interrupts_have_no_machine_check_lines():
    assert parse_interrupt_counters(VM.read_text("/proc/interrupts")) == {}


# -- stress-ng outcomes judged (real outputs; see tests/data/stress-ng/SOURCE.md) -------------------
def outcome(case: str, returncode: int | None = None) -> stress_ng.Outcome:
    d = DATA / "stress-ng"
    rc = int((d / f"{case}.rc").read_text()) if returncode is None else returncode
    return stress_ng.parse_outcome(rc, (d / f"{case}.stderr").read_text())


def test_stress_ng_wrong_result_fails_the_cpu_and_its_crash_too():
    verdict = judge_stress_ng(CpuTopology(1, 1, 0), outcome("bitflip"), interrupted=False)
    assert [(j.severity, j.component, j.code) for j in verdict.judgements] == [
        (Severity.FAIL, "cpu:1 (core 1, socket 0)", "cpu-wrong-result"),
        (Severity.FAIL, "cpu:1 (core 1, socket 0)", "cpu-worker-died")]
    assert "queens" in verdict.judgements[0].evidence["failures"][0]


def test_stress_ng_segfault_is_a_dead_worker():
    verdict = judge_stress_ng(CpuTopology(1, 1, 0), outcome("segv"), interrupted=False)
    assert [j.code for j in verdict.judgements] == ["cpu-worker-died"]
    assert "Segmentation fault" in verdict.judgements[0].message


@pytest.mark.parametrize("case, returncode, codes, engine_ok", [
    ("ok", 0, [], True),
    ("interrupted", 0, [], True),
    ("bad-method", 1, ["tool-error"], False),
    ("ok", 2, ["tool-error"], False),  # "failed" with nothing to show for it: not evidence of a fault
    ("no-resources", 3, ["tool-error"], False),
    ("ok", 4, [], False),  # not implemented: a note, not a failure, not a pass
    ("ok", 5, ["cpu-worker-died"], True),
    ("ok", 6, ["tool-error"], False),
    ("ok", 7, ["tool-error"], False),
    ("unsupported", 0, [], False),  # exit 0, yet nothing ran
])
def test_stress_ng_exit_codes_map_to_fault_tool_error_or_skip(case, returncode, codes, engine_ok):
    verdict = judge_stress_ng(CpuTopology(0, 0, 0), outcome(case, returncode), interrupted=False)
    assert [j.code for j in verdict.judgements] == codes
    assert verdict.engine_ok is engine_ok
    for j in verdict.judgements:
        assert j.evidence["returncode"] == returncode


# -- live runs ----------------------------------------------------------------------------------------
def live_module(**settings) -> CpuModule:
    return CpuModule(LIVE, {"engines": ["builtin"], "sample_interval_s": 1.0, **settings})


def worker_children() -> list[psutil.Process]:
    return [p for p in psutil.Process().children(recursive=True) if p.is_running()]


def wait_for_workers(count: int, timeout_s: float = 15.0) -> list[psutil.Process]:
    give_up = time.monotonic() + timeout_s
    while time.monotonic() < give_up:
        workers = worker_children()
        if len(workers) >= count:
            return workers
        time.sleep(0.05)
    return worker_children()


def wait_until_busy(procs: list[psutil.Process], cpu_s: float, timeout_s: float = 15.0) -> bool:
    """Wait until every process has used `cpu_s` of CPU time: the load is really running."""
    give_up = time.monotonic() + timeout_s
    while time.monotonic() < give_up:
        try:
            if all(sum(p.cpu_times()[:2]) >= cpu_s for p in procs):
                return True
        except psutil.Error:
            return False
        time.sleep(0.05)
    return False


def test_healthy_run_passes_and_loads_every_cpu():
    module = live_module()
    checked = run_phases(module, phases=("check",), seconds=60.0)  # every class's references, then the preflight
    assert checked.codes(Severity.FAIL) == []
    ctx = run_phases(module, phases=("run",), seconds=3.0)
    assert ctx.codes(Severity.FAIL) == []
    assert "cpu-underloaded" not in ctx.codes()
    for cpu in LIVE_CPUS:
        busy = [s[f"busy_pct:cpu{cpu}"] for s in ctx.samples if f"busy_pct:cpu{cpu}" in s]
        assert len(busy) >= 2 and sum(busy) / len(busy) >= 90, busy
    assert any(s.get("ops_per_s:total", 0) > 0 for s in ctx.samples)
    done = next(n["data"] for n in ctx.notes if n["message"] == "engine done")
    assert sorted(done["iterations_per_cpu"]) == LIVE_CPUS
    assert all(n > 0 for n in done["iterations_per_cpu"].values())
    assert {"engine": "builtin"}.items() <= next(n["data"] for n in ctx.notes if n["message"] == "engine").items()
    assert worker_children() == []


@needs_two_cpus
def test_wrong_result_on_one_cpu_fails_naming_it_with_the_reproduced_count(monkeypatch):
    bad_cpu = LIVE_CPUS[1]

    def flaky_sha(cpu, kernel, result):
        return "0" * 64 if (cpu, kernel) == (bad_cpu, "sha256") else result

    monkeypatch.setattr(cpu_engine, "_inject_fault", flaky_sha)
    module = live_module(kernels=["sha256", "float"])
    checked = run_phases(module, phases=("check",), seconds=30.0)  # references on two cores, then the preflight
    ctx = run_phases(module, phases=("run",), seconds=2.0)
    failures = [f for f in checked.findings + ctx.findings if f.severity is Severity.FAIL]
    component = read_topology(LIVE, bad_cpu).component
    assert [(f.code, f.component, f.evidence["phase"]) for f in failures] == [
        ("cpu-wrong-result", component, "check"), ("cpu-wrong-result", component, "run")]
    evidence = failures[1].evidence
    assert evidence["kernel"] == "sha256" and evidence["actual"] == "0" * 64
    assert evidence["expected"] != evidence["actual"] and len(evidence["expected"]) == 64
    # Every retest reproduces a permanent fault; on a loaded machine the 2 s run may end before all 3 retests.
    done, _, tries = evidence["reproduced"].partition(" of ")
    assert done == tries and 1 <= int(tries) <= 3
    mismatches = next(n["data"] for n in ctx.notes if n["message"] == "engine done")["mismatches"]
    assert list(mismatches) == [bad_cpu] and mismatches[bad_cpu]["sha256"] >= 1


def test_preflight_counts_how_often_an_intermittent_error_reproduces(monkeypatch):
    calls = {"n": 0}

    def every_other_float(cpu, kernel, result):  # state lives in each forked worker
        if kernel != "float" or cpu != LIVE_CPUS[0]:
            return result
        calls["n"] += 1
        return "wrong" if calls["n"] % 2 else result

    monkeypatch.setattr(cpu_engine, "_inject_fault", every_other_float)
    ctx = run_phases(live_module(kernels=["integer", "float"]), phases=("check",), seconds=10.0)
    [failure] = [f for f in ctx.findings if f.code == "cpu-wrong-result"]
    assert failure.component == read_topology(LIVE, LIVE_CPUS[0]).component
    assert failure.evidence["reproduced"] == "1 of 3"  # calls 2 (ok), 3 (wrong), 4 (ok)
    assert failure.evidence["phase"] == "check"


def test_cancellation_returns_within_two_seconds_and_leaves_no_workers():
    cancel = threading.Event()
    module = live_module(kernels=["integer", "float", "sha256"])
    run_phases(module, phases=("check",))  # as the runner does: reference answers are ready when run() starts
    ctx = RecordingContext("cpu", LIVE, phase="run", seconds=30.0, cancel=cancel)
    cancelled_at = []

    def cancel_soon():
        workers = wait_for_workers(len(LIVE_CPUS))
        if len(workers) == len(LIVE_CPUS) and wait_until_busy(workers, 0.5):  # well into the load
            cancelled_at.append(time.monotonic())
        cancel.set()

    helper = threading.Thread(target=cancel_soon)
    helper.start()
    module.run(ctx)
    returned = time.monotonic()
    helper.join()
    assert cancelled_at and returned - cancelled_at[0] < 2.0
    assert worker_children() == []
    assert ctx.codes(Severity.FAIL) == []


@needs_two_cpus
def test_worker_killed_mid_run_is_reported_with_its_cpu():
    victim_cpu = LIVE_CPUS[-1]
    killed = []

    def kill_worker():
        wait_until_busy(wait_for_workers(len(LIVE_CPUS)), 0.05)  # computing, well before the 2.5 s end
        for proc in worker_children():
            if proc.cpu_affinity() == [victim_cpu]:
                proc.send_signal(signal.SIGKILL)
                killed.append(proc.pid)
                return

    module = live_module(kernels=["integer", "float"])
    run_phases(module, phases=("check",))
    helper = threading.Thread(target=kill_worker)
    helper.start()
    ctx = run_phases(module, phases=("run",), seconds=2.5)
    helper.join()
    assert killed
    [death] = [f for f in ctx.findings if f.code == "cpu-worker-died"]
    assert death.severity is Severity.FAIL and death.evidence["phase"] == "run"
    assert death.component == read_topology(LIVE, victim_cpu).component
    assert death.evidence["signal"] == "SIGKILL" and death.evidence["exitcode"] == -signal.SIGKILL
    assert worker_children() == []


@has_stress_ng
def test_stress_ng_engine_runs_one_pinned_stressor_per_cpu():
    ctx = run_phases(live_module(engines=["stress-ng"]), phases=("run",), seconds=3.0)
    assert ctx.codes(Severity.FAIL) == [] and "tool-error" not in ctx.codes()
    engine = next(n["data"] for n in ctx.notes if n["message"] == "engine")
    assert engine["engine"] == "stress-ng" and "--verify" in engine["argv"]
    passed = [n for n in ctx.notes if n["message"].startswith("stress-ng on CPU") and "passed" in n["message"]]
    assert sorted(n["data"]["cpu"] for n in passed) == LIVE_CPUS


@has_stress_ng
def test_cancelled_stress_ng_stops_within_two_seconds_and_leaves_no_process():
    cancel = threading.Event()
    module = live_module(engines=["stress-ng"])
    ctx = RecordingContext("cpu", LIVE, phase="run", seconds=30.0, cancel=cancel)
    cancelled_at = []

    def cancel_soon():
        procs = wait_for_workers(2 * len(LIVE_CPUS))  # stress-ng + its stressor, per CPU
        stressors = [p for p in procs if p.ppid() != os.getpid()]
        if len(procs) >= 2 * len(LIVE_CPUS) and wait_until_busy(stressors, 0.2):
            cancelled_at.append(time.monotonic())
        cancel.set()

    helper = threading.Thread(target=cancel_soon)
    helper.start()
    module.run(ctx)
    returned = time.monotonic()
    helper.join()
    assert cancelled_at and returned - cancelled_at[0] < 2.0
    assert worker_children() == []
    assert ctx.codes(Severity.FAIL) == [] and "tool-error" not in ctx.codes()
    stopped = [n for n in ctx.notes if n["message"].endswith("was stopped early")]
    assert len(stopped) == len(LIVE_CPUS) and all(n["data"]["returncode"] == 0 for n in stopped)


@has_stress_ng
def test_stress_ng_tool_error_is_a_warning_and_an_error_when_it_was_the_only_engine(monkeypatch):
    monkeypatch.setattr(stress_ng, "cpu_argv", functools.partial(stress_ng.cpu_argv, method="nosuch"))
    with pytest.raises(RuntimeError, match="could not test"):
        run_phases(live_module(engines=["stress-ng"]), phases=("run",), seconds=2.0)

    # stress-ng's slice first (engines run in the order given): it fails at once, the built-in engine goes on
    ctx = run_phases(live_module(engines=["stress-ng", "builtin"], kernels=["integer"]), phases=("check", "run"),
                     seconds=3.0)
    assert ctx.codes(Severity.FAIL) == []
    assert ctx.codes(Severity.WARN).count("tool-error") == len(LIVE_CPUS)
    assert "cpu-underloaded" not in ctx.codes()  # a stress-ng that never ran adds no idle time to the load window
    assert any(n["data"].get("engine") == "builtin" for n in ctx.notes if n["message"] == "engine done")


def test_stress_ng_missing_leaves_the_builtin_engine_and_says_so(monkeypatch):
    monkeypatch.setattr(Host, "which", lambda self, tool: None)
    module = live_module(engines=["builtin", "stress-ng"])
    assert module.probe().available
    assert not live_module(engines=["stress-ng"]).probe().available
    ctx = RecordingContext("cpu", LIVE, phase="run", seconds=0.0)
    assert module._engines(ctx) == ["builtin"]
    assert any("stress-ng is not installed" in n["message"] for n in ctx.notes)
