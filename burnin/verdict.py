"""Folding findings into verdicts: one set of rules for a live run and for any journal read back.

Module: FAIL if it found a failure (even if it later crashed: the hardware fault stands); else ERROR if a
phase raised, hung or its process died; else SKIP if no phase actually tested; else WARN if it warned;
else PASS.

Run: FAIL if any module FAILed; else INCOMPLETE if the run was cut short (Ctrl-C, SIGTERM, killed, power
cut: no run_end); else ERROR if any module ERRORed, a required module SKIPped, or nothing was tested at
all; else WARN if any module warned; else PASS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from burnin.coverage import UNTESTED_VERDICTS, Untested, unseen_areas, untested
from burnin.journal import JournalContents
from burnin.model import Finding, Severity, Verdict


def fold_module(findings: Iterable[Finding], errors: Sequence[str], tested: bool, skip_reasons: Sequence[str]
                ) -> tuple[Verdict, str]:
    findings = list(findings)
    fails = [f for f in findings if f.severity is Severity.FAIL]
    warns = [f for f in findings if f.severity is Severity.WARN]
    if fails:
        reason = f"{len(fails)} failure(s): {fails[0].message}"
        if errors:
            reason += f"; also: {errors[0]}"
        return Verdict.FAIL, reason
    if errors:
        return Verdict.ERROR, "; ".join(errors)
    if not tested:
        return Verdict.SKIP, "; ".join(skip_reasons) or "nothing to test"
    if warns:
        return Verdict.WARN, f"{len(warns)} warning(s): {warns[0].message}"
    return Verdict.PASS, "; ".join(skip_reasons) if skip_reasons else ""


def fold_run(module_verdicts: Mapping[str, Verdict], required: Iterable[str], complete: bool,
             not_applicable: Iterable[str] = ()) -> tuple[Verdict, str]:
    """`not_applicable`: modules that cannot judge a captured tree; they neither test nor count as missing."""
    not_applicable = set(not_applicable)
    required = set(required) - not_applicable
    verdicts = {m: v for m, v in module_verdicts.items() if m not in not_applicable}
    failed = [m for m, v in verdicts.items() if v is Verdict.FAIL]
    if failed:
        return Verdict.FAIL, "failed: " + ", ".join(failed)
    if not complete:
        return Verdict.INCOMPLETE, "the run did not finish"
    errored = [m for m, v in verdicts.items() if v in (Verdict.ERROR, Verdict.INCOMPLETE)]
    if errored:
        return Verdict.ERROR, "could not test: " + ", ".join(errored)
    # A required module the user left out (--only, --skip) was not asked to test; one that ran and skipped was.
    missing = sorted(m for m in required if verdicts.get(m) is Verdict.SKIP)
    if missing:
        return Verdict.ERROR, "required but not tested: " + ", ".join(missing)
    if not any(v in (Verdict.PASS, Verdict.WARN) for v in verdicts.values()):
        return Verdict.ERROR, "nothing was tested (every module skipped)"
    warned = [m for m, v in verdicts.items() if v is Verdict.WARN]
    if warned:
        return Verdict.WARN, "warnings: " + ", ".join(warned)
    return Verdict.PASS, ""


@dataclass
class RunSummary:
    """What a journal says: the verdict, per-module results and every finding."""

    verdict: Verdict
    reason: str
    modules: dict[str, Verdict]
    module_reasons: dict[str, str]
    findings: list[Finding]
    complete: bool  # run_end was written
    interrupted: str | None  # "SIGINT", "SIGTERM", or None
    ended_unexpectedly: bool  # no run_end: killed, crashed, hung machine or power cut
    duration_s: float
    run_start: dict[str, Any]
    last_record_t: float | None
    torn_tail: bool = False
    journal: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    untested: list[Untested] = field(default_factory=list)  # areas not tested, and why (burnin.coverage)

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "reason": self.reason,
            "modules": {m: v.value for m, v in self.modules.items()},
            "module_reasons": self.module_reasons,
            "findings": [f.to_record() for f in self.findings],
            "counts": self.counts,
            "untested": [u.to_record() for u in self.untested],
            "complete": self.complete,
            "interrupted": self.interrupted,
            "ended_unexpectedly": self.ended_unexpectedly,
            "duration_s": round(self.duration_s, 1),
            "run_id": self.run_start.get("run_id"),
            "journal": self.journal,
        }


def count_findings(findings: Iterable[Finding]) -> dict[str, int]:
    counts = {s.value: 0 for s in Severity}
    for finding in findings:
        counts[finding.severity.value] += 1
    return counts


def summarize(contents: JournalContents, journal: str = "") -> RunSummary:
    records = contents.records
    run_start = records[0]
    run_end = contents.first("run_end")
    findings = [Finding.from_record(r) for r in contents.of_type("finding")]
    started = [r["module"] for r in contents.of_type("module_start")]
    ended = {r["module"]: r for r in contents.of_type("module_end")}

    modules: dict[str, Verdict] = {}
    reasons: dict[str, str] = {}
    not_applicable = [name for name, r in ended.items() if r.get("applicable") is False]
    for name in dict.fromkeys(started + list(ended)):
        if name in ended:
            try:
                modules[name] = Verdict(ended[name].get("verdict"))
            except ValueError:
                modules[name] = Verdict.ERROR
            reasons[name] = str(ended[name].get("reason", ""))
        else:  # the run stopped while this module was working
            own = [f for f in findings if f.module == name]
            if any(f.severity is Severity.FAIL for f in own):
                modules[name] = Verdict.FAIL
                reasons[name] = "failed before the run ended unexpectedly"
            else:
                modules[name] = Verdict.INCOMPLETE
                reasons[name] = "did not finish: the run ended unexpectedly"

    complete = run_end is not None and not run_end.get("interrupted") and not run_end.get("incomplete")
    verdict, reason = fold_run(
        modules, run_start.get("profile", {}).get("settings", {}).get("required", []), complete, not_applicable
    )
    if run_end is not None and run_end.get("incomplete"):
        reason = f"{run_end['incomplete']}; {reason}"
    if contents.problems and verdict in (Verdict.PASS, Verdict.WARN):
        # A record left out may have been a failure: what is left cannot be called a pass.
        verdict = Verdict.ERROR
        reason = (f"{len(contents.problems)} journal record(s) of the wrong shape ignored "
                  f"({contents.problems[0]})" + (f"; {reason}" if reason else ""))
    last_t = records[-1].get("t") if records else None
    if run_end is not None:
        duration = float(run_end.get("duration_s") or 0.0)
    else:
        duration = float((last_t or run_start["t"]) - run_start["t"])
        reason = "the run ended unexpectedly (no run_end: killed, crashed, hung or lost power)" + (
            f"; {reason}" if verdict is Verdict.FAIL else "")
    return RunSummary(
        verdict=verdict,
        reason=reason,
        modules=modules,
        module_reasons=reasons,
        findings=findings,
        complete=complete,
        interrupted=(run_end or {}).get("interrupted") or None,
        ended_unexpectedly=run_end is None,
        duration_s=duration,
        run_start=run_start,
        last_record_t=last_t,
        torn_tail=contents.torn_tail,
        journal=journal,
        counts=count_findings(findings),
        untested=untested(modules, reasons, run_start.get("not_selected") or (), not_applicable=not_applicable)
        + [u for u in unseen_areas(findings) if modules.get(u.module) not in UNTESTED_VERDICTS],
    )
