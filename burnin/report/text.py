"""The verdict block: unmissable, ASCII, readable on an 80-column text console."""

from __future__ import annotations

import textwrap

from burnin.model import Severity, Verdict
from burnin.report.terminal import field, message
from burnin.verdict import RunSummary

WIDTH = 80

_HEADLINE = {
    Verdict.PASS: "PASS - tested, no faults found",
    Verdict.WARN: "PASS WITH WARNINGS - read the warnings below",
    Verdict.FAIL: "FAIL - faults found, see the components below",
    Verdict.ERROR: "ERROR - some parts could not be tested; this is not a pass",
    Verdict.INCOMPLETE: "INCOMPLETE - the run did not finish; this is not a pass",
}


def _wrap(text: str, indent: int) -> list[str]:
    text = message(text)
    return textwrap.wrap(text, WIDTH - 1, initial_indent=" " * indent, subsequent_indent=" " * indent) or [""]


def verdict_block(summary: RunSummary) -> str:
    thick, thin = "=" * WIDTH, "-" * WIDTH
    start = summary.run_start
    profile = start.get("profile", {})
    lines = [thick, f" VERDICT: {_HEADLINE.get(summary.verdict, summary.verdict.value)}", thick]
    if summary.ended_unexpectedly:
        lines += _wrap("The run ended unexpectedly: the journal stops without an end record (burnin was "
                       "killed, crashed, or the machine hung, rebooted or lost power).", 1)
    elif summary.interrupted:
        lines += _wrap(f"The run was interrupted ({summary.interrupted}) before it finished.", 1)
    host = start.get("host", {})
    machine = " ".join(str(host[k]) for k in ("system_vendor", "system_product") if host.get(k))
    serial = host.get("system_serial")
    lines.append(f" Machine: {field(machine or host.get('hostname') or 'unknown')}"
                 + (f"  S/N {field(serial)}" if serial else ""))
    lines.append(f" Profile: {field(profile.get('name', '?'))} ({field(start.get('mode', 'run'))}), "
                 f"ran {summary.duration_s:.0f} s, burnin {field(start.get('burnin_version', '?'))}")
    lines.append(thin)
    for name, verdict in summary.modules.items():
        reason = message(summary.module_reasons.get(name, ""))
        head = f" {field(name, 40):<12} {verdict.value:<10} "
        body = textwrap.wrap(reason, WIDTH - 1 - len(head)) or [""]
        lines.append(head + body[0])
        lines += [" " * len(head) + more for more in body[1:]]
    if not summary.modules:
        lines.append(" (no modules ran)")
    for severity, title in ((Severity.FAIL, "FAILED"), (Severity.WARN, "WARNINGS")):
        chosen = [f for f in summary.findings if f.severity is severity]
        if not chosen:
            continue
        lines.append(thin)
        lines.append(f" {title} ({len(chosen)})")
        for finding in chosen:
            lines += _wrap(f"{finding.component}  [{finding.code}]", 2)
            lines += _wrap(finding.message, 6)
    lines.append(thin)
    if summary.reason and summary.verdict is not Verdict.PASS:
        lines += _wrap(f"Why: {summary.reason}", 1)
    lines += _wrap(f"Journal: {summary.journal}", 1)
    lines.append(thick)
    # Every line is one line: whatever escaped the fields above is still shown, not obeyed.
    return "\n".join(field(line, 4000) for line in lines)
