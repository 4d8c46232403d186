"""The run: phases, deadlines, isolation, cancellation, and the verdict.

Phases: preflight (`check` of every module, in parallel) -> stress and monitor (`run` of every module at
once, for the profile's duration, so power and heat add up) -> final checks (`finish`) -> verdict.

Each module lives in its own forked process and process group. An exception, a hang past its budget or
a crashed process is an ERROR for that module alone; the others go on. The module process and every
worker or tool it starts die with their parent (PR_SET_PDEATHSIG), and the runner kills each module's
whole process group when the module ends, so no stress load outlives burnin, even after SIGKILL.
Only this process writes the journal.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

import burnin
from burnin.host import Host, die_with_parent, kill_process_group
from burnin.journal import JournalContents, JournalWriter
from burnin.model import Finding, Severity, Verdict
from burnin.module import Module, ModuleContext, Skip
from burnin.profile import Profile
from burnin.coverage import NOT_APPLICABLE
from burnin.sampling import SampleBudget
from burnin.verdict import RunSummary, fold_module, fold_run, summarize

_POLL_S = 0.2
_EXIT_WAIT_S = 2.0


class Reporter(Protocol):
    """What the user sees while a run goes on (plain lines, or the live dashboard)."""

    def run_started(self, run: "RunInfo") -> None: ...
    def phase_started(self, phase: str, seconds: float, modules: Sequence[str]) -> None: ...
    def sample(self, module: str, metrics: dict[str, float]) -> None: ...
    def finding(self, finding: Finding) -> None: ...
    def module_ended(self, module: str, verdict: Verdict, reason: str) -> None: ...
    def tick(self) -> None: ...
    def stopping(self, why: str) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    mode: str  # "run" or "check"
    profile: Profile
    journal: str
    host: dict[str, Any]
    modules: tuple[str, ...]
    stress: tuple[str, ...] = ()  # the modules that load the machine (the others watch it)


class _PipeContext(ModuleContext):
    def __init__(self, conn, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._conn = conn

    def _emit(self, kind: str, payload: dict[str, Any]) -> None:
        self._conn.send((kind, payload))


def _module_process(module: Module, conn, cancel, inventory, claims, stop_grace_s: float) -> None:
    """Body of a module's own process: run the phases the parent asks for, report how each ended."""
    die_with_parent()
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides how to stop on Ctrl-C
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _set_oom_score_adj(0)  # the agent shields itself from the OOM killer; its modules must not inherit that
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "exit":
            return
        _, phase, deadline = message
        ctx = _PipeContext(conn, module.name, module.host, phase, deadline, cancel, inventory, claims,
                           stop_grace_s=stop_grace_s)
        try:
            getattr(module, phase)(ctx)
            outcome = {"phase": phase, "status": "ok"}
        except Skip as exc:
            outcome = {"phase": phase, "status": "skip", "detail": str(exc) or "skipped"}
        except BaseException as exc:  # noqa: BLE001 - anything a module throws is its own ERROR
            outcome = {
                "phase": phase,
                "status": "error",
                "detail": f"{phase}() raised {type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc()[-4000:],
            }
        try:
            conn.send(("phase_end", outcome))
        except (BrokenPipeError, OSError):
            return


def _set_oom_score_adj(value: int) -> None:
    """Best effort: lowering the score needs root; the journal writer is what must survive memory pressure."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(value))
    except OSError:
        pass


@dataclass
class _Slot:
    name: str
    module: Module
    process: Any = None
    conn: Any = None
    alive: bool = False
    phase: str | None = None
    deadline: float = 0.0
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skip_reasons: list[str] = field(default_factory=list)
    tested: bool = False
    applicable: bool = True  # False: a module that cannot judge a captured tree, under --sysroot
    broken: bool = False
    verdict: Verdict | None = None
    reason: str = ""


def _collect_inventory(host: Host):
    from burnin.inventory import collect

    return collect(host)


def host_identity(host: Host) -> dict[str, Any]:
    """Hostname and what /sys/class/dmi/id says of the system; None where unknown."""
    dmi = "/sys/class/dmi/id"
    return {
        "hostname": socket.gethostname() if host.live else None,
        "sysroot": None if host.live else str(host.root),
        "system_vendor": host.read_text(f"{dmi}/sys_vendor"),
        "system_product": host.read_text(f"{dmi}/product_name"),
        "system_serial": host.read_text(f"{dmi}/product_serial"),
    }


class Runner:
    def __init__(
        self,
        profile: Profile,
        module_classes: dict[str, type[Module]],
        selected: Sequence[str],
        host: Host,
        journal: JournalWriter,
        reporter: Reporter,
        mode: str = "run",
        argv: Sequence[str] = (),
        claims: Any = None,
        collect_inventory: Any = None,
    ):
        self.profile = profile
        self.host = host
        self.journal = journal
        self.reporter = reporter
        self.mode = mode
        self.argv = list(argv)
        self.selected = list(selected)
        self.classes = module_classes
        self.claims = claims
        # Called with the host; returns an Inventory. Injectable so tests of the runner stay independent of it.
        self._collect_inventory = collect_inventory or _collect_inventory
        self.inventory: Any = None
        self.records: list[dict[str, Any]] = []  # every durable record, to fold the verdict as `report` does
        self._ctx = multiprocessing.get_context("fork")
        self._cancel = self._ctx.Event()
        self._stop_signal: str | None = None
        self._journal_lost: str | None = None
        self._cancel_time: float | None = None
        self._hard_stop = False
        self._slots: list[_Slot] = []
        run_s = profile.duration_s if mode == "run" else 0.0
        self._samples = SampleBudget(self._write_sample, profile.journal_max_mb * 1e6,
                                     run_s + profile.check_timeout_s + profile.finish_timeout_s, len(self.selected))

    # -- journal -------------------------------------------------------------------------------
    def _write(self, record_type: str, **fields: Any) -> dict[str, Any]:
        record = self.journal.write(record_type, **fields)
        if record_type != "sample":
            self.records.append(record)
        if self.journal.failed and self._journal_lost is None:
            # A full disk or an I/O error: what is not in the journal was not tested as far as anyone can later
            # tell, so the run stops now and ends INCOMPLETE; the journal up to here stays readable.
            self._journal_lost = f"journal {self.journal.path}: {self.journal.failed}"
            self.reporter.stopping(f"{self._journal_lost}: stopping all modules; the run is INCOMPLETE")
        return record

    def _write_sample(self, t: float, module: str, metrics: dict[str, Any], fold: dict[str, Any] | None) -> None:
        # `fold` before `metrics`: raw sample lines keep the writer's usual shape (the reader's column path).
        self._write("sample", t=round(t, 3), module=module, **({"fold": fold} if fold else {}), metrics=metrics)

    def _stopping(self) -> str | None:
        """Why the run is being stopped early (a signal, a journal that cannot be written), or None."""
        return self._stop_signal or self._journal_lost

    # -- signals -------------------------------------------------------------------------------
    def _on_signal(self, signum, _frame) -> None:
        name = signal.Signals(signum).name
        if self._stop_signal is None:
            self._stop_signal = name
        else:
            self._hard_stop = True  # a second Ctrl-C: stop now, kill what still runs

    def _install_signals(self):
        previous = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                previous[sig] = signal.signal(sig, self._on_signal)
            except ValueError:  # not the main thread (embedded use): no handlers
                pass
        return previous

    # -- the run -------------------------------------------------------------------------------
    def execute(self) -> RunSummary:
        started = time.monotonic()
        run_id = str(uuid.uuid4())
        identity = host_identity(self.host)
        self._write(
            "run_start",
            schema=1,
            run_id=run_id,
            burnin_version=burnin.__version__,
            mode=self.mode,
            host=identity,
            profile=self.profile.to_record(),
            argv=self.argv,
            modules=self.selected,
            not_selected=sorted(set(self.classes) - set(self.selected)),
        )
        self.reporter.run_started(RunInfo(run_id, self.mode, self.profile, str(self.journal.path), identity,
                                          tuple(self.selected),
                                          tuple(n for n in self.selected
                                                if getattr(self.classes.get(n), "stress", False))))
        previous = self._install_signals()
        if self.host.live:
            _set_oom_score_adj(-900)
        try:
            self.inventory = self._record_inventory("start")
            self._prepare_modules()
            self._arm_watchdog()  # after the modules' processes are forked: they do not hold it open
            self._phases()
            self._pet_watchdog()
            if not self._hard_stop:
                self._record_inventory("end")
        finally:
            self._pet_watchdog()
            self._stop_all()
            self._disarm_watchdog()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        for slot in self._slots:
            if slot.verdict is None:
                self._end_module(slot)
        verdicts = {s.name: s.verdict for s in self._slots}
        complete = self._stopping() is None
        not_applicable = [s.name for s in self._slots if not s.applicable]
        verdict, reason = fold_run(verdicts, self.profile.required, complete, not_applicable)
        all_findings = [f for s in self._slots for f in s.findings]
        self._samples.flush()
        self._write(
            "run_end",
            verdict=verdict.value,
            reason=reason,
            modules={m: v.value for m, v in verdicts.items()},
            counts={sev.value: sum(1 for f in all_findings if f.severity is sev) for sev in Severity},
            duration_s=round(time.monotonic() - started, 3),
            interrupted=self._stop_signal,
            **({"incomplete": self._journal_lost} if self._journal_lost else {}),
        )
        self.journal.close()
        return summarize(JournalContents(records=self.records), journal=str(self.journal.path))

    # -- the hardware watchdog (profile `watchdog = true`; burnin.tools.watchdog) -----------------
    watchdog_device = "/dev/watchdog"
    watchdog_timeout_s = 60

    def _arm_watchdog(self) -> None:
        self._watchdog = None
        if not self.profile.watchdog or self.mode != "run" or not self.host.live:
            return
        from burnin.tools.watchdog import HardwareWatchdog, WatchdogError

        try:
            self._watchdog = HardwareWatchdog(self.watchdog_device, self.watchdog_timeout_s)
        except WatchdogError as exc:
            self._write("note", module=None, message=f"hardware watchdog not armed: {exc}",
                        data={"device": self.watchdog_device})
            return
        self._write("note", module=None, message="hardware watchdog armed: a hang reboots the machine",
                    data={"device": self.watchdog_device, "identity": self._watchdog.identity,
                          "timeout_s": self._watchdog.timeout_s, "magic_close": self._watchdog.magic_close})

    def _pet_watchdog(self) -> None:
        if getattr(self, "_watchdog", None) is not None:
            self._watchdog.pet()

    def _disarm_watchdog(self) -> None:
        watchdog, self._watchdog = getattr(self, "_watchdog", None), None
        if watchdog is None:
            return
        stops = watchdog.disarm()
        self._write("note", module=None, message="hardware watchdog disarmed (magic close)" if stops else
                    "hardware watchdog closed, but its driver does not stop on the magic close: it may still fire",
                    data={"device": self.watchdog_device, "magic_close": stops})

    def _record_inventory(self, when: str) -> Any:
        """Collect the inventory and journal it; a failure to collect is a note, never the end of the run."""
        try:
            inventory = self._collect_inventory(self.host)
        except Exception as exc:  # noqa: BLE001 - the run goes on; modules see ctx.inventory = None
            self._write("note", module=None, message=f"inventory could not be collected: {type(exc).__name__}: {exc}",
                        data={"traceback": traceback.format_exc()[-4000:]})
            return None
        claims = None
        if when == "start" and self.claims is not None:
            from burnin.inventory.claims import check_claims

            claims = [c.to_dict() for c in check_claims(self.claims, inventory)]
        self._write("inventory", when=when, inventory=inventory.to_record(), claims=claims)
        return inventory

    def _prepare_modules(self) -> None:
        for name in self.selected:
            cls = self.classes[name]
            module = cls(self.host, self.profile.settings_for(name))
            slot = _Slot(name, module)
            self._slots.append(slot)
            self._write("module_start", module=name)
            if not self.host.live and not cls.applies_to_captures():
                slot.applicable = False
                slot.skip_reasons.append(NOT_APPLICABLE)
                self._end_module(slot)
                continue
            reason = self._why_not(cls, module)
            if reason:
                slot.skip_reasons.append(reason)
                self._end_module(slot)
                continue
            parent_conn, child_conn = self._ctx.Pipe()
            process = self._ctx.Process(target=_module_process,
                                        args=(module, child_conn, self._cancel, self.inventory, self.claims,
                                              self.profile.stop_grace_s),
                                        name=f"burnin:{name}")
            process.start()
            child_conn.close()
            try:
                os.setpgid(process.pid, process.pid)  # also done in the child: whoever runs first wins
            except OSError:
                pass
            slot.process, slot.conn, slot.alive = process, parent_conn, True

    def _why_not(self, cls: type[Module], module: Module) -> str:
        """Why this module cannot take part in this run, or "" if it can."""
        phases = self._phases_for(cls)
        if not phases:
            if self.mode == "check":
                return "stress test: `burnin check` runs no stress phase"
            return "module implements no phase"
        try:
            probe = module.probe()
        except Exception as exc:  # noqa: BLE001 - probe() must not raise; if it does, it is not available
            return f"probe() raised {type(exc).__name__}: {exc}"
        if not probe.available:
            return probe.reason or "not available on this host"
        return ""

    def _phases_for(self, cls: type[Module]) -> list[str]:
        phases = ["check", "finish"]
        if self.mode == "run" and self.host.live:
            phases.insert(1, "run")
        return [p for p in phases if cls.implements(p)]

    def _phases(self) -> None:
        budgets = {"check": self.profile.check_timeout_s, "run": self.profile.duration_s,
                   "finish": self.profile.finish_timeout_s}
        for phase in ("check", "run", "finish"):
            if phase == "run" and (self.mode != "run" or not self.host.live):
                continue
            if self._stopping() and phase != "finish":
                continue
            if self._hard_stop:
                return
            if phase == "run" and self.profile.fail_fast and any(
                    f.severity is Severity.FAIL for s in self._slots for f in s.findings):
                self._write("note", module=None, message="fail_fast: a preflight check failed, stress phase not run",
                            data={})
                continue
            self._run_phase(phase, budgets[phase])

    def _run_phase(self, phase: str, budget_s: float) -> None:
        active = [s for s in self._slots if s.alive and not s.broken and type(s.module).implements(phase)
                  and phase in self._phases_for(type(s.module))]
        if not active:
            return
        deadline = time.monotonic() + budget_s
        if self._stopping():  # final checks after Ctrl-C: only the grace period
            deadline = time.monotonic() + self.profile.stop_grace_s
        self.reporter.phase_started(phase, deadline - time.monotonic(), [s.name for s in active])
        for slot in active:
            slot.phase, slot.deadline = phase, deadline
            try:
                slot.conn.send(("phase", phase, deadline))
            except (BrokenPipeError, OSError):
                self._lost(slot)
        while any(s.phase for s in active):
            if self._hard_stop:
                for slot in active:
                    if slot.phase:
                        self._kill(slot, f"{phase}: stopped by a second {self._stopping()}")
                return
            self._pump(active)
            now = time.monotonic()
            if self._stopping() and self._cancel_time is None:
                self._cancel_time = now
                self._cancel.set()
                if self._stop_signal:
                    self.reporter.stopping(f"{self._stop_signal}: stopping all modules")
                    self._write("note", module=None, message=f"{self._stop_signal} received: stopping", data={})
            for slot in active:
                if not slot.phase:
                    continue
                limit = slot.deadline
                if self._cancel_time is not None:
                    limit = min(limit, self._cancel_time)
                if now > limit + self.profile.stop_grace_s:
                    late = now - slot.deadline
                    why = (f"{phase}() did not stop within {self.profile.stop_grace_s:g} s of cancellation"
                           if self._cancel_time is not None and late < 0
                           else f"{phase}() hung: still running {late:.0f} s past its {budget_s:g} s budget")
                    self._kill(slot, why + "; killed")
            self.journal.flush_if_due()
            self._pet_watchdog()
            self.reporter.tick()

    def _pump(self, slots: Sequence[_Slot]) -> None:
        conns = {s.conn: s for s in slots if s.alive}
        if not conns:
            time.sleep(_POLL_S)
            return
        try:
            ready = multiprocessing.connection.wait(list(conns), timeout=_POLL_S)
        except InterruptedError:
            return
        for conn in ready:
            slot = conns[conn]
            try:
                while slot.alive and conn.poll():
                    kind, payload = conn.recv()
                    self._handle(slot, kind, payload)
            except (EOFError, OSError):
                self._lost(slot)

    def _handle(self, slot: _Slot, kind: str, payload: dict[str, Any]) -> None:
        if kind == "sample":
            self._samples.sample(time.time(), slot.name, payload["metrics"])
            self.reporter.sample(slot.name, payload["metrics"])
        elif kind == "finding":
            payload["module"] = slot.name
            finding = Finding.from_record(payload)
            slot.findings.append(finding)
            self._samples.finding(time.time(), slot.name)
            self._write("finding", **finding.to_record())
            self.reporter.finding(finding)
        elif kind == "note":
            self._write("note", module=slot.name, message=payload.get("message", ""), data=payload.get("data", {}))
        elif kind == "command":
            self._write("command", module=slot.name, **payload)
        elif kind == "phase_end":
            status = payload.get("status")
            if status == "ok":
                slot.tested = True
            elif status == "skip":
                slot.skip_reasons.append(f"{payload['phase']}: {payload.get('detail', '')}")
            else:
                slot.errors.append(payload.get("detail", "error"))
                slot.broken = True
                if payload.get("traceback"):
                    self._write("note", module=slot.name, message=payload.get("detail", "error"),
                                data={"traceback": payload["traceback"]})
            slot.phase = None

    def _lost(self, slot: _Slot) -> None:
        """The module's process went away without saying goodbye."""
        if not slot.alive:
            return
        slot.alive = False
        slot.process.join(timeout=1.0)
        code = slot.process.exitcode
        how = f"killed by signal {signal.Signals(-code).name}" if code and code < 0 else f"exit code {code}"
        died_in = slot.phase
        if slot.phase:
            slot.errors.append(f"module process died during {slot.phase}() ({how})")
            slot.phase = None
        kill_process_group(slot.process.pid)
        if died_in:
            self._recover(slot)

    def _kill(self, slot: _Slot, why: str) -> None:
        slot.errors.append(why)
        slot.phase = None
        slot.alive = False
        kill_process_group(slot.process.pid)
        slot.process.join(timeout=1.0)
        self._recover(slot)

    def _recover(self, slot: _Slot) -> None:
        """A module killed mid-phase had no chance to put the machine back: let it undo what it left."""
        try:
            done = slot.module.recover()
        except Exception as exc:  # noqa: BLE001 - a broken recovery must not end the run
            self._write("note", module=slot.name, message=f"recovery after the module's process ended failed: {exc}",
                        data={})
            return
        if done:
            self._write("note", module=slot.name, message="undone after the module's process ended: "
                        + "; ".join(done), data={"recovered": list(done)})

    def _stop_all(self) -> None:
        for slot in self._slots:
            if slot.alive:
                try:
                    slot.conn.send(("exit",))
                except (BrokenPipeError, OSError):
                    pass
        deadline = time.monotonic() + _EXIT_WAIT_S
        for slot in self._slots:
            if slot.process is None:
                continue
            slot.process.join(timeout=max(0.0, deadline - time.monotonic()))
            stuck = slot.process.is_alive()
            # Workers or tools the module left behind share its process group: none may survive it.
            kill_process_group(slot.process.pid)
            if stuck:
                slot.process.join(timeout=1.0)
                self._recover(slot)
            slot.alive = False

    def _end_module(self, slot: _Slot) -> None:
        verdict, reason = fold_module(slot.findings, slot.errors, slot.tested, slot.skip_reasons)
        if self._cancel_time is not None and slot.process is not None and verdict in (
                Verdict.PASS, Verdict.WARN, Verdict.SKIP):
            why = self._stop_signal or "the journal could not be written"
            reason = f"stopped by {why} before it finished" + (f"; {reason}" if reason else "")
            verdict = Verdict.INCOMPLETE
        slot.verdict, slot.reason = verdict, reason
        self._samples.flush(slot.name)
        if slot.applicable:
            self._write("module_end", module=slot.name, verdict=verdict.value, reason=reason)
        else:
            self._write("module_end", module=slot.name, verdict=verdict.value, reason=reason, applicable=False)
        self.reporter.module_ended(slot.name, verdict, reason)
