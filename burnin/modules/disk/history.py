"""Drive provenance: does the drive's history add up? Each signal compares two records the drive keeps of its own
life and concludes one of consistent / reset / forged / unknown, with its evidence.

| signal | reset | forged |
|---|---|---|
| error and self-test logs, read wrap-aware (ATA and SCSI stamp 16-bit hours: a log that wraps at 65,536 h is consistent) | an entry stamped after the power-on hours | |
| ATA device statistics (GP log 0x04, 32-bit power-on hours) against attribute 9 | statistics far ahead of attribute 9 | |
| Seagate FARM (``smartctl -l farm``): power-on hours, head flight hours, per-head write hours, assembly date | FARM or head hours far above SMART's | FARM agrees with SMART but the heads flew far longer, or more hours than weeks since assembly |
| SAS background-scan power-on minutes (page 0x15), manufacture date (page 0x0E) | scan page far ahead of the power-on hours | more hours than weeks since manufacture |
| writes per power-on hour | more bytes written than the interface can move in the hours claimed | |

"Far" is `history_slack_pct` of the larger figure, and at least `history_slack_h` hours. A drive-database firmware
bug in the logs (`burnin.modules.disk.quirks`) makes the log signal "unknown", never "reset".
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from burnin.tools.farm import FarmSummary, farm_summary
from burnin.tools.smart import ATA, NVME, SCSI, SmartReport

CONSISTENT, RESET, FORGED, UNKNOWN = "consistent", "reset", "forged", "unknown"
LOG_HOURS_WRAP = 65536  # ATA and SCSI logs stamp entries with 16-bit power-on hours
# The most an interface can write in an hour: a drive that wrote more per power-on hour had its hours reset
MAX_BYTES_PER_HOUR = {NVME: 8_000_000_000 * 3600, ATA: 600_000_000 * 3600, SCSI: 2_400_000_000 * 3600}


@dataclass(frozen=True)
class Slack:
    hours: int = 48
    pct: float = 2.0

    def far_above(self, a: int, b: int) -> bool:
        """`a` is far above `b`: beyond what clocks and rounding explain."""
        return a - b > max(self.hours, max(a, b) * self.pct / 100)


@dataclass(frozen=True)
class Signal:
    name: str
    conclusion: str
    says: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {"signal": self.name, "conclusion": self.conclusion, "says": self.says, "evidence": self.evidence}


def unwrap_log_hours(stamps: list[int], power_on_hours: int, width: int = LOG_HOURS_WRAP) -> list[int]:
    """16-bit log stamps (newest first) as full power-on hours: each the latest hour at or before the one after it
    that the stamp can stand for. A log that wrapped reads as a steady past, never as hours from the future."""
    out = []
    ceiling = power_on_hours
    for stamp in stamps:
        full = ceiling - ((ceiling - stamp) % width)
        if full < 0:  # a stamp above the hours: not a wrap (log_signal calls that a reset)
            full = stamp
        out.append(full)
        ceiling = max(full, 0)
    return out


def log_signal(report: SmartReport, untrusted: str, slack: Slack) -> Signal | None:
    poh = report.power_on_hours
    stamps = [("error log", e.hours) for e in report.error_log if e.hours is not None]
    stamps += [("self-test log", t.hours) for t in report.self_tests if t.hours is not None]
    if poh is None or not stamps:
        return None
    name = "log hours"
    if untrusted:
        return Signal(name, UNKNOWN, f"the logs' hours are not evidence on this drive: {untrusted}",
                      {"quirk": untrusted})
    wraps = report.protocol in (ATA, SCSI)
    later = [(log, h) for log, h in stamps if h > poh + 1 and not (wraps and poh >= LOG_HOURS_WRAP)]
    evidence: dict[str, Any] = {"power_on_hours": poh, "entries": [{"log": log, "power_on_hours": h}
                                                                  for log, h in stamps[:10]]}
    if wraps and poh >= LOG_HOURS_WRAP:
        tests = [t.hours for t in report.self_tests if t.hours is not None]
        evidence["self_test_hours_unwrapped"] = unwrap_log_hours(tests, poh)[:10]
        evidence["wrapped"] = True
    if later:
        latest = max(h for _, h in later)
        return Signal(name, RESET, f"log entries from power-on hour {latest}, but the drive says it has run {poh} "
                      "hours", {**evidence, "latest_log_hours": latest})
    return Signal(name, CONSISTENT, "every log entry is stamped within the drive's power-on hours"
                  + (" (16-bit stamps, read across their wrap at 65,536 h)" if evidence.get("wrapped") else ""),
                  evidence)


def devstat_signal(report: SmartReport, slack: Slack) -> Signal | None:
    stat, poh = report.devstat_power_on_hours, report.power_on_hours
    if stat is None or poh is None or report.protocol != ATA:
        return None
    evidence = {"device_statistics_power_on_hours": stat, "attribute_9_power_on_hours": poh}
    if slack.far_above(stat, poh):
        return Signal("device statistics", RESET, f"the device statistics count {stat} power-on hours, attribute 9 "
                      f"only {poh}: attribute 9 was reset", evidence)
    return Signal("device statistics", CONSISTENT, "device statistics and attribute 9 agree", evidence)


def _weeks_since(yyww: str, now: dt.date) -> int | None:
    match = re.fullmatch(r"(\d{2}|\d{4})-?W?(\d{1,2})", yyww.strip())
    if not match:
        return None
    year = int(match[1]) + (2000 if len(match[1]) == 2 else 0)
    week = max(1, min(53, int(match[2])))
    try:
        made = dt.date.fromisocalendar(year, min(week, 52), 1)
    except ValueError:
        return None
    return (now - made).days // 7


def farm_signal(report: SmartReport, farm: FarmSummary, slack: Slack, now: dt.date) -> Signal:
    poh = report.power_on_hours
    evidence: dict[str, Any] = {"smart_power_on_hours": poh, **farm.to_record()}
    head_hours = farm.max_head_hours
    if poh is None:
        return Signal("Seagate FARM", UNKNOWN, "SMART gave no power-on hours to compare FARM with", evidence)
    if farm.power_on_hours is not None and slack.far_above(farm.power_on_hours, poh):
        return Signal("Seagate FARM", RESET, f"FARM counts {farm.power_on_hours} power-on hours, SMART only {poh}: "
                      "SMART was reset", evidence)
    if head_hours is not None and slack.far_above(head_hours, poh):
        return Signal("Seagate FARM", FORGED if farm.power_on_hours is not None else RESET,
                      f"the heads have flown {head_hours} hours, but SMART"
                      + (" and FARM say" if farm.power_on_hours is not None else " says")
                      + f" the drive has run {poh}: its power-on hours were rewritten", evidence)
    weeks = _weeks_since(farm.assembly_date, now) if farm.assembly_date else None
    if weeks is not None:
        evidence["weeks_since_assembly"] = weeks
        if weeks >= 0 and slack.far_above(poh, weeks * 168 + 168):
            return Signal("Seagate FARM", FORGED, f"{poh} power-on hours, but the drive was assembled only {weeks} "
                          f"weeks ago ({farm.assembly_date})", evidence)
    return Signal("Seagate FARM", CONSISTENT, "FARM's power-on and head hours agree with SMART", evidence)


def sas_signal(report: SmartReport, slack: Slack, now: dt.date) -> Signal | None:
    if report.protocol != SCSI or report.power_on_hours is None:
        return None
    poh = report.power_on_hours
    evidence: dict[str, Any] = {"power_on_hours": poh, "manufactured": report.manufactured,
                                "start_stop_cycles": report.start_stop_cycles,
                                "background_scan_power_on_minutes": report.background_scan_power_on_minutes}
    minutes = report.background_scan_power_on_minutes
    if minutes is not None and slack.far_above(minutes // 60, poh):
        return Signal("SAS logs", RESET, f"the background-scan page counts {minutes // 60} power-on hours, the drive "
                      f"says {poh}", evidence)
    weeks = _weeks_since(report.manufactured, now) if report.manufactured else None
    if weeks is not None and weeks >= 0 and slack.far_above(poh, weeks * 168 + 168):
        return Signal("SAS logs", FORGED, f"{poh} power-on hours, but the drive was made {weeks} weeks ago "
                      f"({report.manufactured})", evidence)
    if minutes is None and weeks is None:
        return None
    return Signal("SAS logs", CONSISTENT, "manufacture date and background-scan hours fit the power-on hours",
                  evidence)


def wear_signal(report: SmartReport) -> Signal | None:
    written, poh = report.bytes_written, report.power_on_hours
    cap = MAX_BYTES_PER_HOUR.get(report.protocol or "")
    if written is None or poh is None or cap is None or written == 0:
        return None
    per_hour = written / max(poh, 1)
    evidence = {"bytes_written": written, "power_on_hours": poh, "bytes_per_power_on_hour": int(per_hour),
                "interface_max_bytes_per_hour": cap}
    if per_hour > cap:
        return Signal("writes per hour", RESET, f"{written / 1e12:.1f} TB written in {poh} power-on hours is more "
                      "than the interface can move: the hours were reset", evidence)
    return Signal("writes per hour", CONSISTENT, "the data written fits the power-on hours", evidence)


def history_signals(report: SmartReport, untrusted_logs: str = "", slack: Slack = Slack(),
                    now: dt.date | None = None) -> list[Signal]:
    now = now or dt.date.today()
    signals = [log_signal(report, untrusted_logs, slack), devstat_signal(report, slack),
               sas_signal(report, slack, now), wear_signal(report)]
    farm = farm_summary(report.farm) if report.farm is not None else None
    if farm is not None:
        signals.append(farm_signal(report, farm, slack, now))
    return [s for s in signals if s is not None]


def conclusion_of(signals: list[Signal]) -> str:
    for worst in (FORGED, RESET, CONSISTENT):
        if any(s.conclusion == worst for s in signals):
            return worst
    return UNKNOWN
