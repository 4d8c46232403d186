"""Fixtures for the QEMU test rig (marker `rig`): the guest image, built once per session, booted guests, and the
report printed at the end: every fault, what was injected, what burnin said, and how long each step took."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RIG_SCRIPTS = REPO / "scripts" / "rig"
sys.path.insert(0, str(RIG_SCRIPTS))

from rigvm.guest import RIG_DIR  # noqa: E402


@dataclass
class CaseRow:
    fault: str
    injected: str
    expected: str
    detected: str = "-"
    component: str = "-"
    latency: str = ""
    result: str = "?"


@dataclass
class RigReport:
    cases: list[CaseRow] = field(default_factory=list)
    timings: list[tuple[str, float]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add_case(self, fault: str, injected: str, expected: str) -> CaseRow:
        row = CaseRow(fault, injected, expected)
        self.cases.append(row)
        return row

    def timing(self, what: str, seconds: float) -> None:
        self.timings.append((what, seconds))

    def text(self) -> str:
        lines = []
        if self.cases:
            heads = ("fault", "injected", "expected", "detected", "component named", "latency", "result")
            rows = [(c.fault, c.injected, c.expected, c.detected, c.component, c.latency, c.result) for c in self.cases]
            widths = [min(max(len(h), *(len(r[i]) for r in rows)), 60) for i, h in enumerate(heads)]
            fmt = "  ".join(f"{{:<{w}.{w}}}" for w in widths)
            lines += ["fault -> detected / component named", fmt.format(*heads), fmt.format(*("-" * w for w in widths))]
            lines += [fmt.format(*r) for r in rows]
        if self.timings:
            lines += ["", "rig timings (this machine, TCG)"] + [f"  {what:<44} {s:7.1f} s" for what, s in self.timings]
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


_REPORT = RigReport()


@pytest.fixture(scope="session")
def rig_report() -> RigReport:
    return _REPORT


def pytest_terminal_summary(terminalreporter):
    if _REPORT.cases or _REPORT.timings:
        terminalreporter.section("burnin QEMU test rig")
        terminalreporter.write_line(_REPORT.text())
        try:
            (RIG_DIR / "last-report.txt").write_text(_REPORT.text() + "\n")
        except OSError:
            pass


def _missing_prerequisites() -> str | None:
    if os.geteuid() != 0:
        return "the rig needs root (mmdebstrap, chroot, /dev/kmsg in the guest is fine either way)"
    for tool in ("qemu-system-x86_64", "qemu-img", "mmdebstrap", "mke2fs"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (apt-get install qemu-system-x86 qemu-utils mmdebstrap)"
    return None


@pytest.fixture(scope="session")
def rig_image(rig_report) -> Path:
    """The guest image, built (or found up to date) once per session by scripts/rig/build-guest."""
    missing = _missing_prerequisites()
    if missing:
        pytest.skip(missing)
    started = time.monotonic()
    result = subprocess.run([str(RIG_SCRIPTS / "build-guest"), "--python", sys.executable],
                            capture_output=True, text=True, timeout=1800)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        pytest.fail(f"build-guest failed (rc {result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    fresh = "up to date" not in result.stdout
    base = "mmdebstrap base" in result.stdout
    rig_report.timing("build-guest (" + ("base + image" if base else "image" if fresh else "cached, hash only") + ")",
                      elapsed)
    return RIG_DIR / "image"
