"""What one SMART report let burnin see of a drive, and what it did not: silence is never health.

Six aspects a buyer cares about: health (the drive's own verdict and warning bits), error counters (bad sectors,
media errors, uncorrected errors), wear (SSD endurance used), spare (spare capacity or reallocation room), temperature,
and logs (error and self-test logs). Each is "seen" or "not seen, and why": absent from the report, blank (an NVMe
health log of all zeros, which a RAID controller or USB bridge returns in place of the drive's), or hidden behind a
translation layer (an NVMe drive seen through SCSI translation passes on only "OK" and a wear figure) or a RAID
controller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from burnin.tools.smart import NVME, SCSI, SmartReport

ASPECTS = ("health", "error counters", "wear", "spare", "temperature", "logs")
# The aspects without which a drive's health is not known: any of these unseen is `smart-not-reported`
ESSENTIAL = ("health", "error counters")
ATA_ERROR_COUNTERS = (5, 187, 197, 198)
ATA_WEAR = (169, 173, 177, 202, 231, 233)  # SSD wear-levelling / life-left attributes (vendor names vary)
ATA_SPARE = (5, 170, 180, 232)
RAID_TYPES = ("megaraid", "cciss", "areca", "3ware", "aacraid", "hpt")


@dataclass
class Seen:
    seen: list[str] = field(default_factory=list)
    not_seen: dict[str, str] = field(default_factory=dict)  # aspect -> why
    blank: bool = False  # an all-zero health log answered for the drive
    hidden_by: str = ""  # "SCSI translation", "a RAID controller", ...

    @property
    def essential_missing(self) -> list[str]:
        return [a for a in ESSENTIAL if a in self.not_seen]

    def to_evidence(self) -> dict[str, object]:
        return {"seen": list(self.seen), "not_seen": dict(self.not_seen)}


def nvme_log_is_blank(report: SmartReport) -> bool:
    """An NVMe health log with every field zero: no drive has run 0 hours with 0 % spare and a 0 % threshold."""
    nvme = report.nvme
    if report.protocol != NVME or nvme is None:
        return False
    values = (nvme.critical_warning, nvme.available_spare, nvme.available_spare_threshold, nvme.percentage_used,
              nvme.media_errors, report.power_on_hours)
    return all(v in (0, None) for v in values) and nvme.available_spare == 0 and not report.temperature_c


def seen_of(report: SmartReport) -> Seen:
    out = Seen()
    dev_type = report.dev_type or ""
    if report.protocol == SCSI and (report.scsi_vendor or "").strip().upper() == "NVME":
        out.hidden_by = "SCSI translation (an NVMe drive answering SCSI commands)"
    elif any(k in dev_type for k in RAID_TYPES):
        out.hidden_by = f"a RAID controller (-d {dev_type})"

    def mark(aspect: str, ok: bool, why: str) -> None:
        if ok:
            out.seen.append(aspect)
        else:
            out.not_seen[aspect] = why + (f"; seen through {out.hidden_by}" if out.hidden_by else "")

    absent = "not in the report"
    mark("health", report.health_passed is not None, "the drive gave no overall health verdict")
    if report.protocol == NVME:
        nvme = report.nvme
        if nvme_log_is_blank(report):
            out.blank = True
            why = ("the NVMe health log is blank (all zero: 0 power-on hours, available spare 0 % with threshold "
                   "0 %), as a controller or bridge returns it in place of the drive's")
            out.seen = [a for a in out.seen if a != "health"]
            for aspect in ("health", "error counters", "wear", "spare", "logs"):
                out.not_seen[aspect] = why
            mark("temperature", report.temperature_c is not None, absent)
            return out
        mark("error counters", nvme is not None and nvme.media_errors is not None, "no media-error count")
        mark("wear", nvme is not None and nvme.percentage_used is not None, "no Percentage Used")
        mark("spare", nvme is not None and nvme.available_spare is not None, "no available spare")
        mark("logs", nvme is not None and nvme.error_log_entries is not None, "no error log count")
    elif report.protocol == SCSI:
        scsi = report.scsi
        counters = scsi is not None and any(v is not None for v in (
            scsi.uncorrected_read, scsi.uncorrected_write, scsi.uncorrected_verify))
        mark("error counters", counters, "no error counter log (uncorrected read/write errors)")
        mark("wear", report.scsi_endurance_used_pct is not None,
             "no endurance indicator (normal for a hard disk)")
        mark("spare", scsi is not None and scsi.grown_defects is not None, "no grown defect list")
        mark("logs", bool(report.self_tests), "no self-test log")
    else:
        ids = {a.id for a in report.attributes}
        mark("error counters", bool(ids & set(ATA_ERROR_COUNTERS)),
             "no reallocated, pending or uncorrectable sector counts" if report.attributes else
             "no SMART attributes")
        mark("wear", bool(ids & set(ATA_WEAR)), "no wear attribute (normal for a hard disk)")
        mark("spare", bool(ids & set(ATA_SPARE)), "no reallocation or spare-block count")
        mark("logs", report.error_count is not None or bool(report.self_tests), "no error or self-test log")
    mark("temperature", report.temperature_c is not None, absent)
    return out
