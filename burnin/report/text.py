"""The verdict block: unmissable, ASCII, readable on an 80-column text console."""

from __future__ import annotations

import textwrap

from burnin.coverage import ecc_reporting, most_important_first
from burnin.model import Severity, Verdict
from burnin.report.before_boot import before_boot, source_lines
from burnin.report.terminal import field, message
from burnin.verdict import RunSummary

WIDTH = 80

_HEADLINE = {
    Verdict.PASS: "PASS - everything tested, no faults found",
    Verdict.WARN: "PASS WITH WARNINGS - read the warnings below",
    Verdict.FAIL: "FAIL - faults found, see the components below",
    Verdict.ERROR: "ERROR - some parts could not be tested; this is not a pass",
    Verdict.INCOMPLETE: "INCOMPLETE - the run did not finish; this is not a pass",
}
_BOX_FAILS = 3  # failing components named in the verdict box (all of them are listed above it)
_BOX_UNTESTED_LINES = 4

# ANSI colours of the verdict box, where the terminal has them (never on TERM=dumb, NO_COLOR, or a file).
_COLOUR = {Verdict.PASS: "\033[1;32m", Verdict.WARN: "\033[1;33m", Verdict.FAIL: "\033[1;31m",
           Verdict.ERROR: "\033[1;31m", Verdict.INCOMPLETE: "\033[1;31m"}
_RESET = "\033[0m"


def headline(summary: RunSummary) -> str:
    """The verdict in words. A PASS never says "everything tested" when an area was not tested."""
    areas = len(summary.untested)
    if summary.verdict is Verdict.PASS and areas:
        return f"PASS - no faults in what was tested; {areas} area(s) NOT tested"
    if summary.verdict is Verdict.WARN and areas:
        return f"PASS WITH WARNINGS - and {areas} area(s) NOT tested"
    return _HEADLINE.get(summary.verdict, summary.verdict.value)


def use_colour(stream) -> bool:
    import os

    term = os.environ.get("TERM", "")
    return bool(getattr(stream, "isatty", lambda: False)()) and term not in ("", "dumb") \
        and "NO_COLOR" not in os.environ


def _wrap(text: str, indent: int) -> list[str]:
    text = message(text)
    return textwrap.wrap(text, WIDTH - 1, initial_indent=" " * indent, subsequent_indent=" " * indent) or [""]


def verdict_block(summary: RunSummary, colour: bool = False) -> str:
    """The whole verdict: run facts, a row per module, every FAIL and WARN, and last the verdict box, so that the
    last screen of a terminal always shows the verdict, what failed and what was not tested."""
    thick, thin = "=" * WIDTH, "-" * WIDTH
    start = summary.run_start
    profile = start.get("profile", {})
    lines = [thick]
    host = start.get("host", {})
    machine = " ".join(str(host[k]) for k in ("system_vendor", "system_product") if host.get(k))
    serial = host.get("system_serial")
    lines.append(f" Machine: {field(machine or host.get('hostname') or 'unknown')}"
                 + (f"  S/N {field(serial)}" if serial else ""))
    lines.append(f" Profile: {field(profile.get('name', '?'))} ({field(start.get('mode', 'run'))}), "
                 f"ran {summary.duration_s:.0f} s, burnin {field(start.get('burnin_version', '?'))}")
    lines.append(thin)
    lines += _before_boot_lines(summary)
    left_out = {u.module: u.reason for u in summary.untested if u.verdict == "not run"}
    rows = [(name, verdict.value, summary.module_reasons.get(name, "")) for name, verdict in summary.modules.items()]
    rows += [(name, "not run", reason) for name, reason in left_out.items()]
    name_width = max([12] + [len(field(name, 40)) for name, _, _ in rows])
    for name, verdict_word, reason in rows:
        reason = message(reason)
        head = f" {field(name, 40):<{name_width}} {verdict_word:<10} "
        body = textwrap.wrap(reason, max(20, WIDTH - 1 - len(head))) or [""]
        lines.append(head + body[0])
        lines += [" " * len(head) + more for more in body[1:]]
    if not summary.modules:
        lines.append(" (no modules ran)")
    lines += _wrap(ecc_reporting(summary.findings, summary.modules), 1)
    for severity, title in ((Severity.FAIL, "FAILED"), (Severity.WARN, "WARNINGS")):
        chosen = [f for f in summary.findings if f.severity is severity]
        if not chosen:
            continue
        lines.append(thin)
        lines.append(f" {title} ({len(chosen)})")
        for finding in chosen:
            lines += _wrap(f"{finding.component}  [{finding.code}]", 2)
            lines += _wrap(finding.message, 6)
    # Every line is one line: whatever escaped the fields above is still shown, not obeyed.
    return "\n".join(field(line, 4000) for line in lines) + "\n" + verdict_box(summary, colour)


def _before_boot_lines(summary: RunSummary) -> list[str]:
    """What the machine recorded before this boot, first: the crash the seller did not mention."""
    section = before_boot(summary.findings)
    if section is None:
        return []
    lines = [" BEFORE THIS BOOT"]
    for finding in section.records:
        lines += _wrap(f"{finding.severity.value.upper()} {finding.component}: {finding.message}", 2)
    if not section.records:
        lines += _wrap(section.headline(), 2)
    lines += [wrapped for text in source_lines(section) for wrapped in _wrap(text, 4)]
    return lines + ["-" * WIDTH]


def verdict_box(summary: RunSummary, colour: bool = False) -> str:
    """The verdict, the failing components and the untested areas, in a few lines that fit the last screen."""
    inner = WIDTH - 4
    rows = [f"VERDICT: {headline(summary)}"]
    if summary.ended_unexpectedly:
        rows += textwrap.wrap("The run ended unexpectedly: burnin was killed, crashed, or the machine hung, "
                              "rebooted or lost power.", inner)
    elif summary.interrupted:
        rows.append(f"The run was interrupted ({field(summary.interrupted, 40)}) before it finished.")
    fails = [f for f in summary.findings if f.severity is Severity.FAIL]
    for finding in fails[:_BOX_FAILS]:
        wrapped = textwrap.wrap(message(f"FAIL {finding.component}: {finding.message}"), inner)
        if len(wrapped) > 2:  # the whole message is in the list above the box
            wrapped = [wrapped[0], wrapped[1][: inner - 4].rstrip() + " ..."]
        rows += wrapped
    if len(fails) > _BOX_FAILS:
        rows.append(f"... and {len(fails) - _BOX_FAILS} more failure(s), listed above")
    if summary.untested:
        text = message("NOT tested: " + "; ".join(item.area for item in most_important_first(summary.untested)))
        wrapped = textwrap.wrap(text, inner)
        if len(wrapped) > _BOX_UNTESTED_LINES:
            wrapped = wrapped[:_BOX_UNTESTED_LINES]
            wrapped[-1] = wrapped[-1][: inner - 22].rstrip() + " ... (rows above)"
        rows += wrapped
    if summary.reason and summary.verdict not in (Verdict.PASS, Verdict.FAIL):
        rows += textwrap.wrap(message(f"Why: {summary.reason}"), inner)[:2]
    rows += textwrap.wrap(message(f"Journal: {summary.journal}"), inner, break_on_hyphens=False)
    edge = "+" + "=" * (WIDTH - 2) + "+"
    box = [edge] + [f"| {row:<{inner}} |" for row in (field(r, 4000) for r in rows)] + [edge]
    if colour:
        paint = _COLOUR.get(summary.verdict, "")
        box = [f"{paint}{line}{_RESET}" for line in box]
    return "\n".join(box)
