"""What a run tested and what it did NOT, by hardware area, in a buyer's words.

A PASS is only "tested, no faults" for what was tested: every screen (the verdict block, the HTML banner, the live
stick, `--json`, JUnit) names the areas that were not tested and why, so that a run where disk health and
temperatures SKIPped never reads as "the disks and the cooling are fine".

An area is untested when its module ended SKIP (nothing to test, tool or hardware absent), ERROR (the module could
not finish its test) or INCOMPLETE (the run stopped under it), or when the module was not run at all (left out by
the profile, --only or --skip). On a captured tree (--sysroot) the stress modules are "not applicable to a
capture": said as such, and not counted against the capture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from burnin.model import Verdict

# The hardware area each built-in module stands for, as a buyer would say it. A third-party module's area is its
# summary (or its name). The order is the verdict box's: when it has room for only the first few, these come first.
AREAS: dict[str, str] = {
    "inventory": "the parts against the listing (CPUs, DIMMs, disks, NICs)",
    "thermal": "temperatures and fans",
    "cpu": "processors under load",
    "memory": "memory (pattern test and ECC counters)",
    "disk": "disk health and surface (SMART, read scan)",
    "network": "network ports (link, errors, traffic)",
    "pcie": "PCIe links and errors",
    "kernel-log": "hardware errors in the kernel log",
    "devices": "devices dropping off under load",
    "storage-links": "SAS/SATA cables and backplanes",
    "bmc": "the BMC's event log and sensors",
    "gpu": "GPUs (memory errors, load with checked results, PCIe link)",
    "raid": "RAID controllers and arrays",
    "history": "what the machine recorded before this boot",
}

UNTESTED_VERDICTS = (Verdict.SKIP, Verdict.ERROR, Verdict.INCOMPLETE)
NOT_APPLICABLE = "not applicable to a captured tree (nothing runs on it)"


@dataclass(frozen=True)
class Untested:
    module: str
    area: str
    verdict: str  # SKIP, ERROR, INCOMPLETE, or "not run"
    reason: str

    def to_record(self) -> dict[str, Any]:
        return {"module": self.module, "area": self.area, "verdict": self.verdict, "reason": self.reason}

    def describe(self) -> str:
        return f"{self.area} ({self.reason})" if self.reason else self.area


def area_of(module: str, summary: str = "") -> str:
    return AREAS.get(module) or summary or module


def untested(modules: Mapping[str, Verdict], reasons: Mapping[str, str], not_run: Iterable[str] = (),
             summaries: Mapping[str, str] | None = None, not_applicable: Iterable[str] = ()) -> list[Untested]:
    """Every area of the run that was not tested, in module order, then the modules that did not run."""
    summaries = summaries or {}
    not_applicable = set(not_applicable)
    out = []
    for name, verdict in modules.items():
        if name in not_applicable:
            out.append(Untested(name, area_of(name, summaries.get(name, "")), "not applicable", NOT_APPLICABLE))
        elif verdict in UNTESTED_VERDICTS:
            out.append(Untested(name, area_of(name, summaries.get(name, "")), verdict.value,
                                _short_reason(reasons.get(name, ""))))
    for name in not_run:
        if isinstance(name, str) and name not in modules:
            out.append(Untested(name, area_of(name, summaries.get(name, "")), "not run",
                                "left out of this run"))
    return out


def most_important_first(items: Iterable[Untested]) -> list[Untested]:
    """Untested areas in AREAS' order (what a buyer most needs to know first), other modules after them."""
    rank = {name: i for i, name in enumerate(AREAS)}
    return sorted(items, key=lambda item: rank.get(item.module, len(rank)))


# Findings that say a module ran but could not see its area (e.g. every drive's health hidden behind a RAID
# controller or an all-zero NVMe log): the area is untested although the module did not SKIP.
UNSEEN_CODES = {"smart-health-unseen": "disk"}


def unseen_areas(findings: Iterable[Any], summaries: Mapping[str, str] | None = None) -> list[Untested]:
    """The areas a module ran on but could not see (`UNSEEN_CODES`), from the run's findings."""
    out = []
    for f in findings:
        code = getattr(f, "code", None) if not isinstance(f, Mapping) else f.get("code")
        module = UNSEEN_CODES.get(str(code))
        if module and not any(u.module == module for u in out):
            message = getattr(f, "message", None) if not isinstance(f, Mapping) else f.get("message")
            out.append(Untested(module, area_of(module, (summaries or {}).get(module, "")), "not seen",
                                _short_reason(str(message or ""))))
    return out


def _short_reason(reason: str) -> str:
    reason = " ".join(str(reason).split())
    return reason if len(reason) <= 160 else reason[:157] + "..."


# -- ECC reporting: proven, unverified (and why), or not applicable -----------------------------------------------
def ecc_reporting(findings: Iterable[Any], modules: Mapping[str, Verdict]) -> str:
    """The verdict block's ECC line, from the memory module's `ecc-reporting` finding: never silence."""
    for finding in findings:
        if getattr(finding, "code", None) == "ecc-reporting" and getattr(finding, "module", None) == "memory":
            return _short_reason(str(finding.message).rstrip("."))
    if "memory" not in modules:
        return "ECC reporting unverified: the memory module did not run"
    return f"ECC reporting unverified: the memory module did not get to it ({modules['memory'].value})"
