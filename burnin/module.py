"""The one plugin interface every module meets, and the context it reports through.

A module is a class registered under the entry-point group ``burnin.modules``. The runner creates one
instance per run and calls, in its own process:

    probe()        cheap: can it run here at all, and if not, why not (never raises)
    check(ctx)     preflight: instant health checks, baselines of counters (seconds)
    run(ctx)       the stress-and-monitor phase: work until ctx.deadline or cancellation
    finish(ctx)    final checks: counter deltas, self-test results

A phase that is not overridden is simply not part of the module. A phase that cannot test raises
`Skip("why")`; any other exception is an ERROR for this module only. Modules never print and never write
the journal: they emit samples, findings and notes through the context; the runner folds the findings
into the module's verdict.
"""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar, Mapping, Sequence

from burnin import settings as settings_mod
from burnin.host import CommandResult, Host
from burnin.model import Finding, Judgement, Probe, Severity


class Skip(Exception):
    """Raised by a phase that could not test anything; the message says why."""


class Module:
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""  # what it exercises, one line
    needs: ClassVar[tuple[str, ...]] = ()  # what it needs, in words ("root", "stress-ng (optional)")
    stress: ClassVar[bool] = False  # loads the machine: its run phase is not part of `check`
    # Whether its check/finish phases can judge a captured tree (--sysroot); None: yes unless it is a stress
    # module. A module that cannot is "not applicable to a captured tree" there, not a SKIP that hides a gap.
    judges_captures: ClassVar[bool | None] = None
    # The module's profile settings: a frozen dataclass of `burnin.settings.setting(...)` fields. The module reads
    # them as `self.settings.NAME`; profiles are validated against the declaration.
    Settings: ClassVar[type] = settings_mod.NoSettings

    PHASES: ClassVar[tuple[str, ...]] = ("check", "run", "finish")

    def __init__(self, host: Host, settings: Mapping[str, Any] | None = None):
        self.host = host
        self.settings = settings_mod.build(self.Settings, settings)

    @classmethod
    def setting_specs(cls) -> tuple[settings_mod.SettingSpec, ...]:
        """What a profile may set for this module."""
        return settings_mod.specs(cls.Settings)

    def probe(self) -> Probe:
        return Probe.ok()

    def check(self, ctx: "ModuleContext") -> None:
        raise NotImplementedError

    def run(self, ctx: "ModuleContext") -> None:
        raise NotImplementedError

    def finish(self, ctx: "ModuleContext") -> None:
        raise NotImplementedError

    def recover(self) -> list[str]:
        """Undo what this module's process left changed on the machine when it was killed or died mid-phase
        (ports moved into namespaces, say). Runs in the runner's process, after the module's process is gone;
        returns what was done, for the journal. Most modules change nothing and need nothing here."""
        return []

    @classmethod
    def applies_to_captures(cls) -> bool:
        return (not cls.stress) if cls.judges_captures is None else bool(cls.judges_captures)

    @classmethod
    def implements(cls, phase: str) -> bool:
        return getattr(cls, phase) is not getattr(Module, phase)


class ModuleContext:
    """What a phase of a module sees of the run. Subclasses decide where emitted records go."""

    def __init__(
        self,
        module: str,
        host: Host,
        phase: str,
        deadline: float,
        cancel: threading.Event | Any,
        inventory: Any = None,
        claims: Any = None,
        stop_grace_s: float | None = None,
    ):
        self.module = module
        self.host = host
        self.phase = phase
        self.deadline = deadline  # time.monotonic() value
        self._cancel = cancel
        # What is in the box (burnin.inventory.Inventory), collected once before any module starts; None when
        # it could not be collected. `claims` is what the listing promised (--expect), or None.
        self.inventory = inventory
        self.claims = claims
        # The profile's `stop_grace`: how long the phase has, after its deadline or a cancel, before it is killed.
        self.stop_grace_s = stop_grace_s

    # -- time ----------------------------------------------------------------------------------
    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def stopping(self) -> bool:
        """True once the deadline has passed or the run was cancelled: return soon."""
        return self._cancel.is_set() or time.monotonic() >= self.deadline

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds` (less if the phase ends); True when the module should stop."""
        timeout = min(seconds, self.remaining())
        if timeout > 0:
            self._cancel.wait(timeout)
        return self.stopping()

    # -- reporting -----------------------------------------------------------------------------
    def sample(self, metrics: Mapping[str, float]) -> None:
        clean = {str(k): float(v) for k, v in metrics.items() if v is not None}
        if clean:
            self._emit("sample", {"metrics": clean})

    def finding(
        self,
        severity: Severity | str,
        component: str,
        code: str,
        message: str,
        evidence: Mapping[str, Any] | None = None,
    ) -> Finding:
        finding = Finding(self.module, Severity(severity), component, code, message, dict(evidence or {}))
        self._emit("finding", finding.to_record())
        return finding

    def report(self, judgement: Judgement) -> Finding:
        """Emit what a judge decided."""
        return self.finding(judgement.severity, judgement.component, judgement.code, judgement.message,
                            judgement.evidence)

    def fail(self, component: str, code: str, message: str, evidence: Mapping[str, Any] | None = None) -> Finding:
        return self.finding(Severity.FAIL, component, code, message, evidence)

    def warn(self, component: str, code: str, message: str, evidence: Mapping[str, Any] | None = None) -> Finding:
        return self.finding(Severity.WARN, component, code, message, evidence)

    def info(self, component: str, code: str, message: str, evidence: Mapping[str, Any] | None = None) -> Finding:
        return self.finding(Severity.INFO, component, code, message, evidence)

    def note(self, message: str, **data: Any) -> None:
        """A fact for the journal that is not a judgement (which engine ran, what was skipped and why)."""
        self._emit("note", {"message": message, "data": data})

    # -- programs ------------------------------------------------------------------------------
    def run_tool(self, argv: Sequence[str], timeout: float = 30.0, input: str | None = None) -> CommandResult:
        """Run an external command through the host, and record argv and outcome in the journal."""
        result = self.host.run(argv, timeout=timeout, input=input)
        self._emit("command", result.to_record())
        return result

    def _emit(self, kind: str, payload: dict[str, Any]) -> None:
        raise NotImplementedError
