"""Known drive quirks, from smartmontools' drive database: which SMART values of this model/firmware the database says
not to take at face value, and why. The knowledge is the database's (``burnin.tools.drivedb``, the warnings smartctl
prints); the rules here only say how each kind of entry is applied:

| database says | applied as |
|---|---|
| a preset comment "May flip 0 <> 1" (Crucial/Micron ``-v 197,raw48,Current_Pending_ECC_Cnt // MX500: May flip 0 <> 1 (ticket #1227)``) | a raw value of 0 or 1 is noted, not judged |
| a warning "returns bogus raw values in attribute N" (older databases: ``Crucial/Micron MX500 SSDs``, firmware M3CR0xx) | attribute N is noted, not judged |
| attribute 197 named something other than a pending-sector count (``Current_Pending_ECC_Cnt``, ``ECC_Error_Count``, ``Not_In_Use``) | not judged as pending sectors: WARN at most |
| ``-F samsung``/``samsung2``/``samsung3``/``xerrorlba`` (firmware bugs in the logs), or a warning about the self-test log | the logs' power-on hours are not used as history evidence |
| any other warning for the model/firmware (known firmware problems) | WARN ``smart-drivedb-warning`` quoting it |
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from burnin.tools.drivedb import DriveDb, DriveDbEntry, load_drivedb
from burnin.tools.smart import ATA, SmartReport

# Names smartctl (its default table, or the database) gives attribute 197 when it counts pending sectors
PENDING_SECTOR_NAMES = frozenset({"Current_Pending_Sector", "Pending_Sector_Count", "Total_Pending_Sectors",
                                  "Total_Unc_Read_Failures", "Unknown_Attribute"})
LOG_HOUR_FIXES = frozenset({"samsung", "samsung2", "samsung3", "xerrorlba"})


@dataclass(frozen=True)
class Quirk:
    attr_id: int
    kind: str  # "flips-0-1", "bogus-raw", "renamed"
    name: str  # the attribute's name as smartctl gave it
    source: str  # what the database says, quoted

    def discounts(self, raw: int | None) -> bool:
        """Whether this raw value is explained by the quirk (noted, not judged)."""
        if self.kind == "flips-0-1":
            return raw is not None and raw <= 1
        return self.kind == "bogus-raw"

    def describe(self) -> str:
        return {"flips-0-1": "may flip between 0 and 1 on this model",
                "bogus-raw": "returns bogus raw values on this firmware",
                "renamed": f"is {self.name} on this model, not a pending-sector count"}[self.kind]


@dataclass(frozen=True)
class DriveKnowledge:
    """What the drive database says about one drive."""

    entry: DriveDbEntry | None
    quirks: Mapping[int, Quirk]
    warnings: tuple[str, ...]  # database warnings for the model/firmware (other than the ones applied as quirks)
    untrusted_log_hours: str = ""  # why the logs' power-on hours are not history evidence ("" = they are)

    @property
    def family(self) -> str | None:
        return self.entry.family if self.entry else None


def _entry_source(entry: DriveDbEntry, extra: str) -> str:
    return f"smartmontools drivedb.h, \"{entry.family}\": {extra}"


def knowledge_of(report: SmartReport, db: DriveDb | None = None, use_installed: bool = True) -> DriveKnowledge:
    """The quirks and warnings of this drive: from the database file smartctl uses here (when there is one) and
    from what smartctl printed in the report."""
    if db is None and use_installed and report.protocol == ATA:
        db = load_drivedb()
    # smartctl said "Not in smartctl database": no entry to look for
    known = db is not None and report.protocol == ATA and report.in_database is not False
    entry = db.match(report.model, report.firmware, report.model_family) if known else None
    quirks: dict[int, Quirk] = {}
    names = {a.id: a.name for a in report.attributes}
    warnings = list(report.drivedb_warnings)
    if entry is not None:
        for preset in entry.presets:
            if preset.attr_id in names and re.search(r"flip\s+0\s*<>\s*1", preset.comment):
                quirks[preset.attr_id] = Quirk(preset.attr_id, "flips-0-1", names[preset.attr_id], _entry_source(
                    entry, f"-v {preset.attr_id},{preset.format},{preset.name} // {preset.comment}"))
        if entry.warning and not warnings:  # what smartctl printed for this drive comes first
            warnings.append(" ".join(entry.warning.split()))
    applied = []
    for warning in warnings:
        for attr in re.findall(r"bogus raw values in attribute (\d+)", warning):
            attr_id = int(attr)
            if attr_id in names:
                quirks.setdefault(attr_id, Quirk(attr_id, "bogus-raw", names[attr_id],
                                                 f"smartctl's drive database warning: \"{warning}\""))
            applied.append(warning)
    name_197 = names.get(197)
    if name_197 and name_197 not in PENDING_SECTOR_NAMES and 197 not in quirks:
        quirks[197] = Quirk(197, "renamed", name_197,
                            "smartctl's drive database names attribute 197 of this model " + name_197)
    untrusted = ""
    fixes = sorted(LOG_HOUR_FIXES & set(entry.fixes)) if entry else []
    if fixes:
        untrusted = _entry_source(entry, " ".join(f"-F {f}" for f in fixes) + " (firmware bug in the logs)")
    for warning in warnings:
        if re.search(r"self-test log|-F samsung", warning, re.I):
            untrusted = untrusted or f"smartctl's drive database warning: \"{warning}\""
            applied.append(warning)
    return DriveKnowledge(entry, quirks, tuple(w for w in warnings if w not in applied), untrusted)
