"""JUnit XML: one test case per module and one per check (a finding's code and component), so any CI system
shows the result.

A module's case fails when the module FAILed, is an error when it could not test (ERROR, or INCOMPLETE when
the run stopped under it) and is skipped, with the reason, when it SKIPped. A check's case fails with the
finding's message (and its evidence in the text) when it FAILed; a warning passes with the warning in its
output. Information findings are no checks. The structure follows the common JUnit schema (Jenkins'
junit-10.xsd): `<testsuite>` with properties first, then the cases, and tests/failures/errors/skipped counting
its children.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

from burnin.model import Finding, Severity, Verdict
from burnin.verdict import RunSummary

# Characters XML 1.0 cannot carry at all (a tool's stderr tail may hold them): replaced, or parsers refuse the file.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: object) -> str:
    return _NOT_XML.sub("\ufffd", str(text))


def _checks(findings: list[Finding]) -> dict[tuple[str, str, str], list[Finding]]:
    """Failures and warnings by (module, code, component), in the order they were first seen."""
    checks: dict[tuple[str, str, str], list[Finding]] = {}
    for finding in findings:
        if finding.severity is not Severity.INFO:
            checks.setdefault((finding.module, finding.code, finding.component), []).append(finding)
    return checks


def junit_xml(summary: RunSummary) -> str:
    suite = ET.Element("testsuite", name="burnin")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    start = summary.run_start
    host = start.get("host") or {}
    properties = ET.SubElement(suite, "properties")
    for name, value in (("verdict", summary.verdict.value), ("reason", summary.reason),
                        ("run_id", start.get("run_id")), ("profile", (start.get("profile") or {}).get("name")),
                        ("system_serial", host.get("system_serial")), ("journal", summary.journal)):
        if value:
            ET.SubElement(properties, "property", name=name, value=_clean(value))

    def case(classname: str, name: str) -> ET.Element:
        counts["tests"] += 1
        return ET.SubElement(suite, "testcase", classname=_clean(classname), name=_clean(name), time="0")

    checks = _checks(summary.findings)
    modules = list(summary.modules) + [m for m in dict.fromkeys(k[0] for k in checks) if m not in summary.modules]
    for module in modules:
        verdict = summary.modules.get(module)
        reason = _clean(summary.module_reasons.get(module, ""))
        element = case(f"burnin.{module}", module)
        if verdict is Verdict.FAIL:
            counts["failures"] += 1
            ET.SubElement(element, "failure", message=reason, type="FAIL").text = reason
        elif verdict in (Verdict.ERROR, Verdict.INCOMPLETE) or verdict is None:
            counts["errors"] += 1
            reason = reason or "the module has findings but no verdict"
            ET.SubElement(element, "error", message=reason, type=verdict.value if verdict else "ERROR").text = reason
        elif verdict is Verdict.SKIP:
            counts["skipped"] += 1
            ET.SubElement(element, "skipped", message=reason)
        elif reason:
            ET.SubElement(element, "system-out").text = reason
        for (_, code, component), found in ((k, v) for k, v in checks.items() if k[0] == module):
            check = case(f"burnin.{module}", f"{code} {component}")
            fails = [f for f in found if f.severity is Severity.FAIL]
            if fails:
                counts["failures"] += 1
                detail = "\n".join(f"{f.message}\nevidence: {json.dumps(dict(f.evidence), default=str)}"
                                   for f in fails)
                ET.SubElement(check, "failure", message=_clean(fails[0].message), type=_clean(code)).text = \
                    _clean(detail)
            else:
                ET.SubElement(check, "system-out").text = _clean("\n".join(f"WARN: {f.message}" for f in found))
    for area in summary.untested:  # left out of the run: a skipped case, so CI shows what was not tested
        if area.verdict == "not run":
            counts["skipped"] += 1
            element = case(f"burnin.{area.module}", area.module)
            ET.SubElement(element, "skipped", message=_clean(f"{area.area}: {area.reason}"))
    if summary.ended_unexpectedly or summary.interrupted:
        element = case("burnin.run", "run completed")
        counts["errors"] += 1
        ET.SubElement(element, "error", message=_clean(summary.reason), type="INCOMPLETE").text = _clean(summary.reason)
    if not len(properties):
        suite.remove(properties)
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", f"{summary.duration_s:.1f}")
    if isinstance(start.get("t"), (int, float)):
        suite.set("timestamp", datetime.fromtimestamp(start["t"], tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"))
    if host.get("hostname"):
        suite.set("hostname", _clean(host["hostname"]))
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"

