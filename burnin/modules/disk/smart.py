"""SMART judgement: what one smartctl report (or two, before and after a run) says about a drive's health.

Pure functions from `burnin.tools.smart.SmartReport` to `model.Judgement`; the thresholds are the disk module's
settings (`SmartLimits`). Also judges saved reports for `burnin smart FILE...` with the same rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, NamedTuple

from burnin import judge
from burnin.model import Finding, Judgement, Severity, Verdict
from burnin.modules.disk.history import FORGED, RESET, Slack, conclusion_of, history_signals
from burnin.modules.disk.quirks import DriveKnowledge, knowledge_of
from burnin.modules.disk.seen import seen_of
from burnin.modules.disk.settings import DiskSettings
from burnin.settings import build
from burnin.tools import smart as smart_tool
from burnin.tools.smart import ATA, NVME, SCSI, SmartReport

MODULE = "disk"
ATTR_REALLOCATED, ATTR_POWER_ON, ATTR_REPORTED_UNCORRECT = 5, 9, 187
ATTR_PENDING, ATTR_OFFLINE_UNCORRECTABLE, ATTR_CRC = 197, 198, 199
ATTR_COMMAND_TIMEOUT, ATTR_REALLOCATION_EVENTS = 188, 196

CRITICAL_WARNING_BITS = {
    0x01: "available spare below its threshold",
    0x02: "temperature above or below its threshold",
    0x04: "NVM subsystem reliability degraded",
    0x08: "media placed in read-only mode",
    0x10: "volatile memory backup device failed",
    0x20: "persistent memory region read-only or unreliable",
}
# NVMe error-log statuses that are the host's own doing (a probe for an optional feature), not the drive's:
# (status code type, status code)
BENIGN_NVME_STATUSES = frozenset({(0, 0x01), (0, 0x02), (0, 0x0B), (1, 0x09), (1, 0x0D), (1, 0x0E), (1, 0x0F)})

# -- judgement: SMART ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SmartLimits:
    """The SMART thresholds of the disk module's settings."""

    reallocated_fail: int = DiskSettings.reallocated_fail
    grown_defects_fail: int = DiskSettings.grown_defects_fail
    nvme_used_warn_pct: int = DiskSettings.nvme_used_warn_pct
    nvme_used_fail_pct: int = DiskSettings.nvme_used_fail_pct
    command_timeout_fail: int = DiskSettings.command_timeout_fail
    reallocation_events_fail: int = DiskSettings.reallocation_events_fail
    history_slack_h: int = DiskSettings.history_slack_h
    history_slack_pct: float = DiskSettings.history_slack_pct

    @classmethod
    def of(cls, settings: DiskSettings) -> "SmartLimits":
        return cls(settings.reallocated_fail, settings.grown_defects_fail, settings.nvme_used_warn_pct,
                   settings.nvme_used_fail_pct, settings.command_timeout_fail, settings.reallocation_events_fail,
                   settings.history_slack_h, settings.history_slack_pct)


def component_of(label: str, serial: str | None) -> str:
    return f"disk:{label} S/N {serial}" if serial else f"disk:{label}"


def decode_critical_warning(value: int) -> list[str]:
    words = [text for bit, text in CRITICAL_WARNING_BITS.items() if value & bit]
    rest = value & ~sum(CRITICAL_WARNING_BITS)
    if rest:
        words.append(f"unknown bits 0x{rest:02x}")
    return words


def nvme_error_is_benign(status_code_type: int | None, status_code: int | None) -> bool:
    return (status_code_type, status_code) in BENIGN_NVME_STATUSES


def _n(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _f(severity: Severity, component: str, code: str, message: str, **evidence: Any) -> Judgement:
    return Judgement(severity, component, code, message, evidence)


def judge_smart(report: SmartReport, component: str, limits: SmartLimits = SmartLimits(),
                knowledge: DriveKnowledge | None = None) -> list[Judgement]:
    """Everything one SMART report says about the drive's health, as findings (none: healthy). `knowledge` is what
    smartmontools' drive database says of the model (`quirks.knowledge_of`; looked up here when not given)."""
    knowledge = knowledge if knowledge is not None else knowledge_of(report)
    out = _judge_counters(report, component, limits, knowledge)
    out += judge_seen(report, component)
    out += _judge_drivedb(report, component, knowledge)
    out += _judge_history(report, component, limits, knowledge)
    return out


def _quirk_note(component: str, attr: Any, quirk: Any) -> Judgement:
    return _f(Severity.INFO, component, "smart-quirk-discounted",
              f"SMART attribute {attr.id} {attr.name} reads {attr.raw_text}, not judged: it {quirk.describe()} "
              f"({quirk.source}).", attribute=attr.id, name=attr.name, raw=attr.raw_text, quirk=quirk.kind,
              source=quirk.source)


def _judge_counters(report: SmartReport, component: str, limits: SmartLimits,
                    knowledge: DriveKnowledge) -> list[Judgement]:
    out: list[Judgement] = []
    FAIL, WARN = Severity.FAIL, Severity.WARN
    if report.health_passed is False:
        out.append(_f(FAIL, component, "smart-health-failed",
                      "The drive's own SMART health check reports FAILED: the drive expects to fail.",
                      exit_status=report.exit_status))

    if report.protocol == ATA:
        def raw(attr_id: int) -> int | None:
            attr = report.attribute(attr_id)
            return attr.raw if attr else None

        def quirked(attr_id: int) -> bool:
            """The drive database explains this value: noted, not judged."""
            attr, quirk = report.attribute(attr_id), knowledge.quirks.get(attr_id)
            if attr is None or quirk is None or not attr.raw:
                return False
            if quirk.discounts(attr.raw):
                out.append(_quirk_note(component, attr, quirk))
                return True
            return False

        pending = raw(ATTR_PENDING)
        renamed = knowledge.quirks.get(ATTR_PENDING)
        if pending and not quirked(ATTR_PENDING) and renamed is not None:
            out.append(_f(WARN, component, "smart-pending-sectors",
                          f"Attribute 197 ({renamed.name}) reads {pending}; the drive database says it "
                          f"{renamed.describe()} ({renamed.source}), so it is a warning, not a failure.",
                          current_pending=pending, name=renamed.name, quirk=renamed.kind, source=renamed.source))
        elif pending and renamed is None:
            out.append(_f(FAIL, component, "smart-pending-sectors",
                          f"{_n(pending, 'sector')} could not be read and wait to be reallocated "
                          "(Current_Pending_Sector).",
                          current_pending_sector=pending))
        offline = raw(ATTR_OFFLINE_UNCORRECTABLE)
        if offline and not quirked(ATTR_OFFLINE_UNCORRECTABLE):
            out.append(_f(FAIL, component, "smart-offline-uncorrectable",
                          f"{_n(offline, 'sector')} found unreadable by the drive's own scan (Offline_Uncorrectable).",
                          offline_uncorrectable=offline))
        def counted(code: str, count: int, limit: int, what: str, under: str, **evidence: Any) -> None:
            """WARN for any at all, FAIL above the profile's limit."""
            over = count > limit
            out.append(_f(FAIL if over else WARN, component, code,
                          what + (f", more than the limit of {limit}." if over else under),
                          **evidence, limit=limit))

        reallocated = raw(ATTR_REALLOCATED)
        if reallocated and not quirked(ATTR_REALLOCATED):
            counted("smart-reallocated-sectors", reallocated, limits.reallocated_fail,
                    f"{_n(reallocated, 'sector')} reallocated", ": the surface has worn or damaged spots.",
                    reallocated_sector_ct=reallocated)
        timeouts = command_timeouts(report.attribute(ATTR_COMMAND_TIMEOUT))
        if timeouts and not quirked(ATTR_COMMAND_TIMEOUT):
            counted("smart-command-timeouts", timeouts, limits.command_timeout_fail,
                    f"{_n(timeouts, 'command')} timed out (Command_Timeout, 188)",
                    ": one of Backblaze's five failure predictors; check cable and power too.",
                    command_timeout=timeouts, raw=report.attribute(ATTR_COMMAND_TIMEOUT).raw_text)
        events = raw(ATTR_REALLOCATION_EVENTS)
        if events and not quirked(ATTR_REALLOCATION_EVENTS):
            counted("smart-reallocation-events", events, limits.reallocation_events_fail,
                    f"{_n(events, 'reallocation event')} (Reallocated_Event_Count, 196)", ".",
                    reallocated_event_count=events)
        reported = raw(ATTR_REPORTED_UNCORRECT)
        if reported and not quirked(ATTR_REPORTED_UNCORRECT):
            out.append(_f(WARN, component, "smart-reported-uncorrect",
                          f"The drive has reported {_n(reported, 'error')} it could not correct (Reported_Uncorrect).",
                          reported_uncorrect=reported))
        crc = raw(ATTR_CRC)
        if crc:
            out.append(_f(WARN, component, "smart-crc-errors",
                          f"{_n(crc, 'transfer error')} between drive and controller (UDMA_CRC_Error_Count): check the "
                          "cable or backplane.", udma_crc_error_count=crc))
        for attr in report.attributes:
            below = (attr.prefailure and attr.thresh and attr.value is not None and attr.value <= attr.thresh)
            if below or attr.when_failed == "now":
                out.append(_f(FAIL, component, "smart-attribute-failing",
                              f"SMART attribute {attr.id} {attr.name} is at {attr.value}, at or below its failure "
                              f"threshold {attr.thresh}.", attribute=attr.id, name=attr.name, value=attr.value,
                              worst=attr.worst, thresh=attr.thresh, raw=attr.raw_text))
            elif attr.when_failed == "past":
                out.append(_f(WARN, component, "smart-attribute-failed-before",
                              f"SMART attribute {attr.id} {attr.name} fell to its failure threshold in the past "
                              f"(worst {attr.worst}, threshold {attr.thresh}).", attribute=attr.id, name=attr.name,
                              value=attr.value, worst=attr.worst, thresh=attr.thresh))
        if report.error_count:
            out.append(_f(WARN, component, "smart-error-log",
                          f"The drive's error log holds {_n(report.error_count, 'error')}.",
                          error_count=report.error_count,
                          latest=[{"number": e.number, "power_on_hours": e.hours, "description": e.description}
                                  for e in report.error_log[:5]]))

    if report.protocol == NVME and report.nvme is not None:
        nvme = report.nvme
        if nvme.critical_warning:
            words = decode_critical_warning(nvme.critical_warning)
            out.append(_f(FAIL, component, "nvme-critical-warning",
                          f"The NVMe drive raises critical warning 0x{nvme.critical_warning:02x}: {', '.join(words)}.",
                          critical_warning=nvme.critical_warning, meaning=words))
        if nvme.media_errors:
            out.append(_f(FAIL, component, "nvme-media-errors",
                          f"{_n(nvme.media_errors, 'unrecovered data integrity error')} "
                          "(Media and Data Integrity Errors).",
                          media_errors=nvme.media_errors))
        used = nvme.percentage_used
        if used is not None and used >= limits.nvme_used_warn_pct:
            worn = used >= limits.nvme_used_fail_pct
            out.append(_f(FAIL if worn else WARN, component, "nvme-worn-out",
                          f"The drive has used {used}% of its rated write endurance.",
                          percentage_used=used, warn_pct=limits.nvme_used_warn_pct,
                          fail_pct=limits.nvme_used_fail_pct))
        spare, threshold = nvme.available_spare, nvme.available_spare_threshold
        if spare is not None and threshold and spare < threshold:
            out.append(_f(FAIL, component, "nvme-spare-low",
                          f"Only {spare}% spare capacity is left, below the drive's threshold of {threshold}%.",
                          available_spare=spare, available_spare_threshold=threshold))
        drive_errors = [e for e in nvme.errors if not nvme_error_is_benign(e.status_code_type, e.status_code)]
        if drive_errors:
            out.append(_f(WARN, component, "smart-error-log",
                          f"The drive's error log holds {len(drive_errors)} errors that are not the host's own "
                          "invalid commands.", error_log_entries=nvme.error_log_entries,
                          statuses=[f"0x{e.status:04x}" for e in drive_errors[:5] if e.status is not None]))

    if report.protocol == SCSI:
        used = report.scsi_endurance_used_pct
        if used is not None and used >= limits.nvme_used_warn_pct:
            worn = used >= limits.nvme_used_fail_pct
            out.append(_f(FAIL if worn else WARN, component, "scsi-worn-out",
                          f"The drive has used {used}% of its rated write endurance (Percentage used endurance "
                          "indicator).", percentage_used_endurance_indicator=used,
                          warn_pct=limits.nvme_used_warn_pct, fail_pct=limits.nvme_used_fail_pct))
    if report.protocol == SCSI and report.scsi is not None:
        scsi = report.scsi
        if scsi.grown_defects:
            over = scsi.grown_defects > limits.grown_defects_fail
            out.append(_f(FAIL if over else WARN, component, "scsi-grown-defects",
                          f"{_n(scsi.grown_defects, 'defect')} added to the drive's grown defect list"
                          + (f", more than the limit of {limits.grown_defects_fail}." if over else "."),
                          grown_defect_list=scsi.grown_defects, limit=limits.grown_defects_fail))
        uncorrected = {k: v for k, v in (("read", scsi.uncorrected_read), ("write", scsi.uncorrected_write),
                                         ("verify", scsi.uncorrected_verify)) if v}
        if uncorrected:
            total = sum(uncorrected.values())
            out.append(_f(FAIL, component, "scsi-uncorrected-errors",
                          f"{_n(total, 'uncorrected error')} "
                          f"({', '.join(f'{v} {k}' for k, v in uncorrected.items())}).",
                          **{f"uncorrected_{k}": v for k, v in uncorrected.items()}))

    latest = next((t for t in report.self_tests if t.result != smart_tool.RUNNING), None)
    if latest is not None and latest.result == smart_tool.FAILED:
        out.append(_f(FAIL, component, "self-test-failed",
                      f"The drive's latest self-test ({latest.kind}) failed: {latest.status}"
                      + (f" at LBA {latest.lba}." if latest.lba is not None else "."),
                      kind=latest.kind, status=latest.status, power_on_hours=latest.hours, lba=latest.lba))
    return out


def command_timeouts(attr: Any) -> int | None:
    """Attribute 188's count. Seagate packs three 16-bit counters into its raw value (all timeouts, over 5 s, over
    7.5 s: raw 4295032853 = 0x0001_0001_0015 is 21 timeouts); smartctl prints them as one 48-bit number unless the
    drive database sets ``-v 188,raw16``."""
    if attr is None or attr.raw is None:
        return None
    words = attr.raw_text.split()
    if len(words) == 3 and all(w.isdigit() for w in words):  # raw16 as smartctl prints it: "21 1 1"
        return int(words[0])
    return attr.raw & 0xFFFF if attr.raw > 0xFFFF else attr.raw


def judge_seen(report: SmartReport, component: str) -> list[Judgement]:
    """What this report let burnin see (INFO `smart-seen`), and WARN `smart-not-reported` when the drive's health
    or error counters are blank, absent or hidden: silence is not health."""
    seen = seen_of(report)
    out = [_f(Severity.INFO, component, "smart-seen",
              "Read: " + (", ".join(seen.seen) or "nothing") + "; not read: "
              + (", ".join(f"{a} ({why})" for a, why in seen.not_seen.items()) or "nothing") + ".",
              **seen.to_evidence())]
    missing = seen.essential_missing
    if missing or seen.blank:
        why = "; ".join(f"{a}: {seen.not_seen[a]}" for a in missing)
        out.append(_f(Severity.WARN, component, "smart-not-reported",
                      f"The drive's {' and '.join(missing)} could not be read ({why}): its health is unknown, "
                      "not good.", missing=missing, blank=seen.blank, hidden_by=seen.hidden_by,
                      **seen.to_evidence()))
    return out


def _judge_drivedb(report: SmartReport, component: str, knowledge: DriveKnowledge) -> list[Judgement]:
    return [_f(Severity.WARN if re.search(r"problem|hang|corrupt|data loss|AFFECTED", w, re.I) else Severity.INFO,
               component, "smart-drivedb-warning",
               f"smartmontools' drive database warns about this model/firmware: {w}",
               warning=w, family=knowledge.family or report.model_family, model=report.model,
               firmware=report.firmware) for w in knowledge.warnings]


def _judge_history(report: SmartReport, component: str, limits: SmartLimits,
                   knowledge: DriveKnowledge | None = None) -> list[Judgement]:
    untrusted = knowledge.untrusted_log_hours if knowledge else ""
    signals = history_signals(report, untrusted, Slack(limits.history_slack_h, limits.history_slack_pct))
    if not signals:
        return []
    conclusion = conclusion_of(signals)
    out = [_f(Severity.INFO, component, "drive-history",
              f"History {conclusion}: " + "; ".join(f"{s.name}: {s.conclusion} ({s.says})" for s in signals) + ".",
              conclusion=conclusion, signals=[s.to_record() for s in signals])]
    for s in signals:
        if s.conclusion in (RESET, FORGED):
            latest = s.evidence.get("latest_log_hours")
            out.append(_f(Severity.WARN, component, "smart-history-reset" if s.conclusion == RESET else
                          "smart-history-forged",
                          f"{s.name}: {s.says}" + ("" if s.conclusion == FORGED else
                                                   ": the drive's history may have been reset") + ".",
                          signal=s.name, power_on_hours=report.power_on_hours,
                          **({"latest_log_hours": latest} if latest is not None else {}), evidence=s.evidence))
    return out


def history_findings(report: SmartReport, component: str, limits: SmartLimits = SmartLimits(),
                     knowledge: DriveKnowledge | None = None) -> list[Judgement]:
    """The WARNs of the history signals (reset or forged); none when the history adds up."""
    return [j for j in _judge_history(report, component, limits, knowledge) if j.severity is Severity.WARN]


def counters_of(report: SmartReport) -> dict[str, int]:
    """The counters that must not grow during a run."""
    counters: dict[str, int | None] = {}
    if report.protocol == ATA:
        for attr_id, name in ((ATTR_REALLOCATED, "reallocated_sectors"), (ATTR_PENDING, "pending_sectors"),
                              (ATTR_OFFLINE_UNCORRECTABLE, "offline_uncorrectable"),
                              (ATTR_REPORTED_UNCORRECT, "reported_uncorrect"), (ATTR_CRC, "udma_crc_errors")):
            attr = report.attribute(attr_id)
            counters[name] = attr.raw if attr else None
        counters["error_log_entries"] = report.error_count
    elif report.protocol == NVME and report.nvme is not None:
        counters["media_errors"] = report.nvme.media_errors
        counters["error_log_entries"] = report.nvme.error_log_entries
    elif report.protocol == SCSI and report.scsi is not None:
        counters["grown_defects"] = report.scsi.grown_defects
        counters["uncorrected_read_errors"] = report.scsi.uncorrected_read
        counters["uncorrected_write_errors"] = report.scsi.uncorrected_write
        counters["uncorrected_verify_errors"] = report.scsi.uncorrected_verify
    return {k: v for k, v in counters.items() if v is not None}


def smart_counter_growth(before: SmartReport, after: SmartReport, component: str, label: str) -> list[Judgement]:
    """FAIL for every counter that grew between the two reports. NVMe error-log growth made only of the host's
    own invalid commands (smartctl probing) is not the drive's fault: INFO."""
    old, new = counters_of(before), counters_of(after)
    # A SMART counter that went down was not reset: pending sectors fall when the drive remaps them. Only
    # counters that rose count.
    rose = [name for name, value in new.items() if name in old and value > old[name]]
    out = []
    for name, delta in judge.counter_growth(old, new, keys=rose).items():
        was, value = old[name], new[name]
        evidence = {"counter": name, "before": was, "after": value}
        if after.protocol == NVME and name == "error_log_entries":
            fresh = [e for e in (after.nvme.errors if after.nvme else ()) if e.error_count > was]
            if fresh and all(nvme_error_is_benign(e.status_code_type, e.status_code) for e in fresh):
                out.append(_f(Severity.INFO, component, "smart-counter-grew",
                              f"{label}: the error log grew by {delta} entries, all the host's own invalid "
                              "commands (not a drive fault).", **evidence))
                continue
            if not fresh:
                out.append(_f(Severity.WARN, component, "smart-counter-grew",
                              f"{label}: the NVMe error log grew from {was} to {value} entries during the run, and "
                              "the new entries could not be read to tell whether the drive caused them.", **evidence))
                continue
        out.append(_f(Severity.FAIL, component, "smart-counter-grew",
                      f"{label}: {name.replace('_', ' ')} grew from {was} to {value} during the run.", **evidence))
    return out


def smart_absent_reason(report: SmartReport | None) -> str | None:
    """Why a drive gives no SMART here, when smartctl itself says so: virtual disks, RAID volumes, unknown USB
    bridges, or a policy that forbids opening it. None when the drive has SMART data or the reason is unknown."""
    if report is None:
        return None
    if report.has_smart_data:
        return None
    said = "; ".join(report.messages)
    if report.smart_available is False:
        return "the device has no SMART" + (f" ({said})" if said else "")
    if said and re.search(r"Unable to detect device type|Unknown USB bridge|lacks SMART|does not support SMART|"
                          r"not supported|Unsupported", said, re.I):
        return said
    if said and re.search(r"Permission denied|Operation not permitted", said, re.I):
        return f"smartctl may not open it here (a container or device policy: {said})"
    return None


# -- judgement: saved reports (`burnin smart FILE...`) ---------------------------------------------
class SavedVerdict(NamedTuple):
    path: str
    verdict: Verdict
    findings: list[Finding]
    reason: str


def judge_reports(paths: Iterable[str], settings: Mapping[str, Any] | None = None) -> list[SavedVerdict]:
    """Judge saved smartctl reports (``smartctl -a``/``-x`` text, or ``smartctl -j`` JSON) with the same rules
    as a live run. Settings are the disk module's (defaults, or a profile's [settings.disk] table, already
    validated against `DiskSettings`)."""
    limits = SmartLimits.of(build(DiskSettings, settings))
    results = []
    for path in paths:
        try:
            report, gaps = smart_tool.read_saved_report(path)
        except smart_tool.ReportError as exc:
            results.append(SavedVerdict(path, Verdict.ERROR, [], str(exc)))
            continue
        label = report.device if report.device not in ("?", "/dev/saved") else path
        component = component_of(label, report.serial)
        wrong_type = [gap for gap in gaps if gap.startswith("smartctl JSON:")]
        findings = [_f(Severity.INFO, component, "smart-parser-gap", f"Read by burnin itself: {gap}.",
                       gap=gap).finding(MODULE) for gap in gaps if gap not in wrong_type]
        findings += [_f(Severity.INFO, component, "smart-json-wrong-type", f"{gap}.", problem=gap).finding(MODULE)
                     for gap in wrong_type]
        if report.source == smart_tool.TEXT_FALLBACK and not report.attributes:
            results.append(SavedVerdict(path, Verdict.ERROR, findings, "; ".join(gaps)))
            continue
        if not report.has_smart_data:
            why = smart_absent_reason(report) or "no SMART health data in this report"
            findings += [j.finding(MODULE) for j in judge_seen(report, component) if j.severity is Severity.INFO]
            results.append(SavedVerdict(path, Verdict.ERROR, findings, why))
            continue
        findings += [j.finding(MODULE) for j in judge_smart(report, component, limits)]
        fails = [f for f in findings if f.severity is Severity.FAIL]
        warns = [f for f in findings if f.severity is Severity.WARN]
        if fails:
            verdict, reason = Verdict.FAIL, fails[0].message
        elif warns:
            verdict, reason = Verdict.WARN, warns[0].message
        else:
            verdict, reason = Verdict.PASS, ""
        if wrong_type and verdict in (Verdict.PASS, Verdict.WARN):
            # A value left out may have been the one that fails the disk: not a pass.
            verdict, reason = Verdict.ERROR, f"{wrong_type[0]} (the report is not all readable)"
        results.append(SavedVerdict(path, verdict, findings, reason))
    return results

