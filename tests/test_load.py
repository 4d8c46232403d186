"""The load harness itself: real child processes, a real deadline, real cancellation. Tests wait on conditions."""

import faulthandler
import os
import signal
import sys
import threading
import time

import psutil
import pytest

from burnin.host import Host
from burnin.load import (
    STOP_GRACE_S, DriveOutcome, grace_for, Load, Program, ProgramLoad, ThreadLoad, WorkerPool, describe_exit, drive, exit_signal, plan_slices, stop_loads,
)
from burnin.testing import RecordingContext

LIVE = Host("/")

# A child that ignores SIGINT, starts a grandchild that ignores it too, says so, and waits for a minute.
STUBBORN = """
import os, signal, subprocess, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); time.sleep(60)"])
print(f"ready {child.pid}", flush=True)
time.sleep(60)
"""
# A child that stops when asked (SIGINT), after printing progress.
OBEDIENT = """
import sys, time
print("ready", flush=True)
try:
    for i in range(600):
        print(f"step {i}", flush=True)
        time.sleep(0.1)
except KeyboardInterrupt:
    print("stopped early", flush=True)
    sys.exit(0)
"""


def until(condition, timeout=10.0, poll=None):
    """Wait for `condition()` (polling `poll(0.05)` meanwhile if given); fail the test after `timeout`."""
    give_up = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < give_up, "condition not met in time"
        if poll is not None:
            poll(0.05)
        else:
            threading.Event().wait(0.02)


def ready_lines(lines, seen):
    for line in lines:
        if line.startswith("ready"):
            seen.append(line)
    return {"lines": len(lines)}


def test_a_child_that_ignores_sigint_is_killed_with_its_process_group_after_the_grace():
    seen: list[str] = []
    load = ProgramLoad(LIVE, Program("stubborn", [sys.executable, "-c", STUBBORN],
                                     progress=lambda lines: ready_lines(lines, seen)))
    load.start()
    try:
        until(lambda: seen, poll=load.poll)
        grandchild = int(seen[0].split()[1])
        asked = time.monotonic()
        killed = stop_loads([load], grace_s=0.4)
        took = time.monotonic() - asked
    finally:
        load.close()
    assert killed == ("stubborn",)
    assert took >= 0.4  # it was given the grace
    assert load.proc.returncode == -signal.SIGKILL
    assert load.interrupted and load.killed
    assert load.outcome.killed and describe_exit(load.outcome.returncode) == "killed by SIGKILL"

    def gone():
        try:
            return psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True
    until(gone)  # the kill reached the whole process group, not just the leader


def test_many_stubborn_programs_share_one_grace():
    ready: set[str] = set()

    def program(name: str) -> Program:
        return Program(name, ["sh", "-c", "trap '' INT; echo ready; exec sleep 60"],
                       progress=lambda lines: ready.update([name] if "ready" in lines else []) or None)

    loads = [ProgramLoad(LIVE, program(f"stubborn{i}")) for i in range(8)]
    for load in loads:
        load.start()
    try:
        until(lambda: len(ready) == len(loads), poll=lambda t: [load.poll(t / len(loads)) for load in loads])
        asked = time.monotonic()
        killed = stop_loads(loads, grace_s=0.5)
        took = time.monotonic() - asked
    finally:
        for load in loads:
            load.close()
    assert sorted(killed) == sorted(load.name for load in loads)
    assert 0.5 <= took < 2.5  # one grace for all of them, not one each
    assert all(load.proc.returncode == -signal.SIGKILL for load in loads)


def test_a_child_that_obeys_sigint_stops_within_the_grace_and_still_reports():
    load = ProgramLoad(LIVE, Program("obedient", [sys.executable, "-c", OBEDIENT],
                                     progress=lambda lines: {"steps": sum(ln.startswith("step") for ln in lines)},
                                     parse=lambda end: end.stdout.splitlines()[-1]))
    load.start()
    try:
        until(lambda: load.metrics().get("steps"), poll=load.poll)
        killed = stop_loads([load], grace_s=5.0)
    finally:
        load.close()
    assert killed == ()
    assert load.interrupted and not load.killed
    assert load.proc.returncode == 0
    assert load.outcome == "stopped early"


def test_drive_honours_the_deadline_and_journals_start_and_stop():
    ctx = RecordingContext("t", LIVE, phase="run", seconds=0.6)
    load = ProgramLoad(LIVE, Program("sleeper", ["sleep", "60"]))
    began = time.monotonic()
    outcome = drive(ctx, [load], interval_s=0.1, grace_s=2.0)
    took = time.monotonic() - began
    assert outcome.reason == "stopping" and outcome.interrupted
    assert outcome.killed == ()  # sleep ends on SIGINT
    assert 0.5 <= took < 0.6 + 2.0 + 1.0
    assert load.outcome.returncode == -signal.SIGINT and load.outcome.interrupted
    messages = [n["message"] for n in ctx.notes]
    assert messages == ["load started", "load stopped"]
    assert ctx.notes[1]["data"]["reason"] == "stopping" and ctx.notes[1]["data"]["loads"] == ["sleeper"]
    assert not os.path.exists(load.scratch)  # scratch removed after the parse


def test_drive_honours_cancellation_promptly():
    cancel = threading.Event()
    ctx = RecordingContext("t", LIVE, phase="run", seconds=60.0, cancel=cancel)
    seen: list[str] = []
    load = ProgramLoad(LIVE, Program("obedient", [sys.executable, "-c", OBEDIENT],
                                     progress=lambda lines: ready_lines(lines, seen)))
    marks = {}

    def tick():
        if seen and not cancel.is_set():
            marks["cancelled"] = time.monotonic()
            cancel.set()

    outcome = drive(ctx, [load], tick=tick)
    assert outcome.reason == "stopping"
    assert time.monotonic() - marks["cancelled"] < 3.0  # seen within a tick, stopped within the grace
    assert load.proc.returncode == 0  # it stopped itself on SIGINT
    assert "stopped early" in load.outcome.stdout


def test_drive_ends_when_the_program_ends_and_hands_the_parse_its_files():
    ctx = RecordingContext("t", LIVE, phase="run", seconds=30.0)
    program = Program("writer", lambda scratch: ["sh", "-c", f"echo 42 > {scratch}/answer.txt; echo done"],
                      parse=lambda end: (end.returncode, end.read("answer.txt").strip(), end.stdout.strip()))
    load = ProgramLoad(LIVE, program)
    outcome = drive(ctx, [load])
    assert outcome == DriveOutcome("ended", outcome.seconds, ())
    assert load.outcome == (0, "42", "done")


def test_drive_stops_at_until_and_samples_the_loads_metrics():
    ctx = RecordingContext("t", LIVE, phase="run", seconds=30.0)
    load = ProgramLoad(LIVE, Program("obedient", [sys.executable, "-c", OBEDIENT],
                                     progress=lambda lines: {"steps": len(lines)}))
    outcome = drive(ctx, [load], until=time.monotonic() + 1.0, interval_s=0.3)
    assert outcome.reason == "until"
    assert any("steps" in s for s in ctx.samples)


def test_a_program_runs_where_it_is_told_with_the_environment_it_is_given(tmp_path):
    ctx = RecordingContext("t", LIVE, phase="run", seconds=30.0)
    load = ProgramLoad(LIVE, Program("pwd", ["sh", "-c", 'echo "$(pwd) $GPU"'], cwd=str(tmp_path), env={"GPU": "3"},
                                     parse=lambda end: end.stdout.split()))
    assert drive(ctx, [load]).reason == "ended"
    assert load.outcome == [str(tmp_path), "3"]


def test_a_program_that_cannot_start_is_an_outcome_not_a_crash():
    ctx = RecordingContext("t", LIVE, phase="run", seconds=5.0)
    load = ProgramLoad(LIVE, Program("missing", ["/nonexistent/tool", "--go"]))
    outcome = drive(ctx, [load])
    assert outcome.reason == "ended"
    assert load.outcome.returncode is None and "FileNotFoundError" in load.outcome.spawn_error


# -- the worker pool -------------------------------------------------------------------------------------
def report_cpus(tag, stop, conn):
    conn.send(("cpus", tag, sorted(os.sched_getaffinity(0))))
    while not stop.is_set():
        stop.wait(0.05)


def ignore_stop(tag, stop, conn):
    conn.send(("ready", tag))
    while True:
        time.sleep(0.05)


def crash(tag, stop, conn):
    faulthandler.disable()  # a quiet crash: no traceback dump in the test output
    os.kill(os.getpid(), signal.SIGSEGV)


def test_pool_pins_each_worker_and_stops_them_on_request():
    cpu = sorted(os.sched_getaffinity(0))[0]
    ctx = RecordingContext("t", LIVE, phase="run", seconds=30.0)
    pool = WorkerPool("t", report_cpus, {"a": ("a",), "b": ("b",)}, cpus={"a": [cpu]})
    events: list[tuple] = []

    def tick():
        events.extend(pool.events())
        if sum(e[0] == "cpus" for e in events) == 2:
            ctx._cancel.set()

    outcome = drive(ctx, [pool], tick=tick)
    assert outcome.killed == ()
    cpus = {e[1]: e[2] for e in events if e[0] == "cpus"}
    assert cpus["a"] == [cpu]
    assert cpus["b"] == sorted(os.sched_getaffinity(0))
    assert sorted(e[1:] for e in events if e[0] == "exit") == [("a", 0, True), ("b", 0, True)]  # ended as asked


def test_pool_kills_a_worker_that_ignores_the_stop_after_the_grace_and_reports_a_crash():
    pool = WorkerPool("t", ignore_stop, {1: (1,)})
    crasher = WorkerPool("c", crash, {2: (2,)})
    pool.start()
    crasher.start()
    try:
        until(lambda: any(e[0] == "ready" for e in pool.events()), poll=pool.poll)
        until(lambda: not crasher.poll(0.05))
        killed = stop_loads([pool, crasher], grace_s=0.3)
    finally:
        pool.close()
        crasher.close()
    assert killed == ("t",)
    assert pool.events()[-1] == ("exit", 1, -signal.SIGKILL, True)
    exit_event = [e for e in crasher.events() if e[0] == "exit"]
    assert exit_event == [("exit", 2, -signal.SIGSEGV, False)]  # it died before anyone asked it to stop
    assert exit_signal(exit_event[0][2]) == "SIGSEGV"


def test_plan_slices_alternates_engines_and_splits_short_runs_evenly():
    assert plan_slices(100, ["builtin", "stress-ng"], 300) == [("builtin", 50), ("stress-ng", 50)]
    assert plan_slices(1200, ["builtin", "stress-ng"], 300) == [
        ("builtin", 300), ("stress-ng", 300), ("builtin", 300), ("stress-ng", 300)]
    assert plan_slices(60, ["builtin"], 300) == [("builtin", 60)]
    assert plan_slices(0, ["builtin"], 300) == []


@pytest.mark.parametrize("code,words", [(0, "exit code 0"), (3, "exit code 3"), (-9, "killed by SIGKILL")])
def test_describe_exit(code, words):
    assert describe_exit(code) == words


# -- threads -----------------------------------------------------------------------------------------------
def test_a_thread_load_stops_on_its_event_and_one_that_will_not_is_marked_stuck():
    stop, never = threading.Event(), threading.Event()
    counted = {"n": 0}

    def work():
        while not stop.is_set():
            counted["n"] += 1
            stop.wait(0.01)

    release = threading.Event()
    good = ThreadLoad("scan", threading.Thread(target=work, daemon=True), stop, metrics=lambda: dict(counted))
    bad = ThreadLoad("stuck", threading.Thread(target=release.wait, daemon=True), never)
    ctx = RecordingContext("t", LIVE, phase="run", seconds=30.0)
    outcome = drive(ctx, [good, bad], until=time.monotonic() + 0.5, interval_s=0.1, grace_s=0.2)
    release.set()
    assert outcome.reason == "until" and outcome.killed == ("stuck",)
    assert bad.stuck and not good.stuck and not good.thread.is_alive()
    assert any(s.get("n", 0) > 0 for s in ctx.samples)


def test_every_load_meets_the_protocol():
    pool = WorkerPool("p", report_cpus, {})
    program = ProgramLoad(LIVE, Program("x", ["true"]))
    thread = ThreadLoad("t", threading.Thread(target=lambda: None), threading.Event())
    assert all(isinstance(load, Load) for load in (pool, program, thread))


def test_the_grace_fits_inside_the_profiles_stop_grace():
    ctx = RecordingContext("t", LIVE)
    assert grace_for(ctx) == STOP_GRACE_S
    ctx.stop_grace_s = 1.0  # the module has 1 s in all to stop: its loads get half of it
    assert grace_for(ctx) == 0.5
    ctx.stop_grace_s = 60.0
    assert grace_for(ctx) == STOP_GRACE_S
