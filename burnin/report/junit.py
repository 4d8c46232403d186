"""JUnit XML: one test case per module, and one per finding code, so any CI system shows the result."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path

from burnin.model import Severity, Verdict
from burnin.verdict import RunSummary


def junit_xml(summary: RunSummary) -> str:
    suite = ET.Element("testsuite", name="burnin", time=f"{summary.duration_s:.1f}")
    by_module = defaultdict(list)
    for finding in summary.findings:
        by_module[finding.module].append(finding)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}

    def case(classname: str, name: str) -> ET.Element:
        counts["tests"] += 1
        return ET.SubElement(suite, "testcase", classname=classname, name=name)

    for module, verdict in summary.modules.items():
        reason = summary.module_reasons.get(module, "")
        element = case(f"burnin.{module}", module)
        if verdict is Verdict.FAIL:
            counts["failures"] += 1
            ET.SubElement(element, "failure", message=reason, type="FAIL").text = reason
        elif verdict in (Verdict.ERROR, Verdict.INCOMPLETE):
            counts["errors"] += 1
            ET.SubElement(element, "error", message=reason, type=verdict.value).text = reason
        elif verdict is Verdict.SKIP:
            counts["skipped"] += 1
            ET.SubElement(element, "skipped", message=reason)
        elif reason:
            ET.SubElement(element, "system-out").text = reason
        for finding in by_module.get(module, []):
            if finding.severity is Severity.INFO:
                continue
            check = case(f"burnin.{module}", f"{finding.code} {finding.component}")
            if finding.severity is Severity.FAIL:
                counts["failures"] += 1
                ET.SubElement(check, "failure", message=finding.message, type=finding.code).text = (
                    f"{finding.message}\nevidence: {dict(finding.evidence)}")
            else:
                ET.SubElement(check, "system-out").text = f"WARN: {finding.message}"
    if summary.ended_unexpectedly or summary.interrupted:
        element = case("burnin.run", "run completed")
        counts["errors"] += 1
        ET.SubElement(element, "error", message=summary.reason, type="INCOMPLETE").text = summary.reason
    for key, value in counts.items():
        suite.set(key, str(value))
    ET.indent(suite)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


def write_atomically(path: str | Path, text: str) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
