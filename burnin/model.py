"""Frozen records shared by every layer: severities, verdicts, findings, probe results."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Mapping


class Severity(str, enum.Enum):
    FAIL = "fail"
    WARN = "warn"
    INFO = "info"


class Verdict(str, enum.Enum):
    """Closed set of outcomes. Modules end in PASS..SKIP; a run may also be INCOMPLETE."""

    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    ERROR = "ERROR"
    SKIP = "SKIP"
    INCOMPLETE = "INCOMPLETE"


class ExitCode(enum.IntEnum):
    """The documented exit codes of every burnin command."""

    OK = 0  # PASS or WARN
    FAIL = 1
    USAGE = 2  # bad command line, profile, claims or journal path
    ERROR = 3  # a module could not test, nothing was tested, or the run was cut short
    INTERRUPTED = 130  # Ctrl-C or SIGTERM


def exit_code_for(verdict: Verdict) -> ExitCode:
    if verdict in (Verdict.PASS, Verdict.WARN):
        return ExitCode.OK
    if verdict is Verdict.FAIL:
        return ExitCode.FAIL
    return ExitCode.ERROR


@dataclass(frozen=True)
class Finding:
    """One judged fact about one component, with the raw numbers behind it."""

    module: str
    severity: Severity
    component: str  # e.g. "disk:/dev/sda S/N Z1X2", "sensor:coretemp/Package id 0"
    code: str  # stable identifier, e.g. "temp-critical"
    message: str  # one sentence a buyer understands
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {
            "module": self.module,
            "severity": self.severity.value,
            "component": self.component,
            "code": self.code,
            "message": self.message,
            "evidence": dict(self.evidence),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "Finding":
        return cls(
            module=str(record.get("module", "?")),
            severity=Severity(record.get("severity", "info")),
            component=str(record.get("component", "")),
            code=str(record.get("code", "")),
            message=str(record.get("message", "")),
            evidence=dict(record.get("evidence") or {}),
        )


@dataclass(frozen=True)
class Judgement:
    """What a pure judge decided: a Finding before it knows which module says it.

    Judges return these; a module emits them with `ctx.report(judgement)`, which makes the Finding."""

    severity: Severity
    component: str
    code: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def finding(self, module: str) -> Finding:
        return Finding(module, Severity(self.severity), self.component, self.code, self.message, dict(self.evidence))

    def with_severity(self, severity: Severity | str) -> "Judgement":
        return Judgement(Severity(severity), self.component, self.code, self.message, self.evidence)


SEVERITY_RANK = {Severity.INFO: 0, Severity.WARN: 1, Severity.FAIL: 2}


@dataclass(frozen=True)
class Probe:
    """Whether a module can run on this host, and if not, why not."""

    available: bool
    reason: str = ""

    @classmethod
    def ok(cls, reason: str = "") -> "Probe":
        return cls(True, reason)

    @classmethod
    def unavailable(cls, reason: str) -> "Probe":
        return cls(False, reason)


@dataclass(frozen=True)
class ModuleResult:
    module: str
    verdict: Verdict
    reason: str = ""
