"""Disks: SMART health and history, counters before and after, self-tests, a non-destructive read scan, and
signs of a previous owner's data. Never writes to any disk, except a write-verify and zero wipe of the devices the
user named with ``burnin run --destructive DEVICE --yes-destroy-data SERIAL`` (setting `destructive_devices`,
set by the CLI only, in a profile with `disk_writes = true`).

Where the SMART data comes from (see `burnin.tools.smart`): pySMART, the project's SMART library, discovers the
drives (``smartctl --scan-open``, which also finds drives behind RAID controllers as ``-d megaraid,N``), parses
each drive's ``smartctl --all`` text (attributes, NVMe health, SCSI counters, self-test log) and runs self-tests.
One ``smartctl --json -x`` read per drive adds what pySMART lacks (the ATA error log with the power-on hour of each
entry, smartctl's exit status and messages) and is the witness for pySMART's blind spots: a field pySMART left
empty that smartctl reported is taken from the JSON and noted (`smart-parser-gap`), so no drive silently drops out
of the verdict. Every smartctl call goes through ``ctx.run_tool`` (bounded, recorded in the journal). Disks are
those of ``ctx.inventory`` plus drives that only smartctl sees (behind a RAID controller).

check(): for every drive, SMART judged with the profile's thresholds (`judge_smart`), counters kept as a baseline,
power-on hours against the claims (``--expect``: `max_power_on_hours`), log entries stamped later than the drive's
power-on hours (history reset), and the first 256 KiB of every disk that does not hold the running system read
for partition tables and filesystem signatures.
run(): the read scan (setting `scan`): "sample" reads `sample_mib` spread over `sample_regions` regions from the
first to the last byte, pass after pass (each pass shifted) while `repeat_scan`; "full" reads every byte, in
regions of `region_mib`. All disks at once, one thread each, O_DIRECT into page-aligned buffers, opened read-only.
Samples ``read_mbps:DISK`` (MB/s, 10^6 bytes). A self-test (setting `self_test`: short/long) is started on every
drive that supports it and is not already running one, and its progress sampled (``self_test_remaining_pct:DISK``).
finish(): SMART read again; counters compared with the baseline; self-test results judged. A self-test still running
goes on in the drive's firmware (said so), or is aborted when `self_test_abort_on_stop` is set.

FAIL: SMART overall health FAILED (`smart-health-failed`); pending (197) or offline-uncorrectable (198) sectors;
reallocated sectors (5) above `reallocated_fail`; a pre-fail attribute at or below its threshold
(`smart-attribute-failing`); NVMe critical warning bits (decoded), media errors, spare below its threshold, wear at
`nvme_used_fail_pct`; SAS grown defects above `grown_defects_fail` or any uncorrected read/write/verify errors; the
latest self-test failed; a counter grew during the run (`smart-counter-grew`); a read error in the scan
(`disk-read-error`, naming the byte offset and LBA); a disk that stopped answering (`disk-vanished`).
WARN: reallocated sectors / grown defects at or below the limit; Reported_Uncorrect (187); UDMA CRC errors (199,
"cable or backplane"); error-log entries (for NVMe only entries that are not the host's own invalid commands);
NVMe wear at `nvme_used_warn_pct`; logs stamped after the drive's power-on hours (`smart-history-reset`); regions
far slower than the disk's median (`disk-slow-region`); single reads slower than `slow_read_s`; a self-test aborted;
partition tables or filesystem signatures on a disk (`disk-previous-data`: wipe before use); a disk this process may
not open while others could be read (`disk-untested`); smartctl not installed (`smart-not-read`: the read scan
runs, but the drives' health and history are unknown).
INFO: a disk without SMART (virtio, RAID volumes, unsupported USB bridges) or one smartctl may not open here
(`smart-unavailable`); a field pySMART missed and the JSON supplied (`smart-parser-gap`); self-test passed, or still
running in the drive's firmware when the run ended. If no disk can give SMART at all, check() is skipped with the
reason; the read scan still tests in run(), and is skipped with the reason when no disk may be opened at all.
ERROR: smartctl lists or opens a drive but neither pySMART nor its JSON gave anything to judge (or it timed out);
a disk the scan could not read for a reason other than a policy (e.g. O_DIRECT refused).

Destructive (run(), consented devices only, each checked again at the start: `destructive_refusal` refuses the
system or live disk, a mounted, swap or dm/md-held one, and a serial that no longer matches): `write_verify`
writes bytes derived from (seed, offset) over the whole device with O_DIRECT, fsyncs, reads every byte back; then
`wipe` = "zero" overwrites it with zeros, fsyncs, and reads back every byte (`wipe_verify` "full") or a sample.
Consented devices are not read-scanned. Writing goes only through `burnin.tools.writeverify.open_for_writing`,
which asserts the consent and opens O_EXCL (the kernel refuses a device in use); everything else opens devices
through `burnin.tools.readscan.open_readonly`. FAIL: `write-error` (an I/O error writing, flushing or reading back)
or `write-verify-mismatch` (bytes read back differ), naming the byte offset and LBA. INFO: `write-verify-passed`;
`disk-wiped` with a `wipe-certificate` note (serial, device, method, bytes, verified, started, finished). WARN
`wipe-incomplete`: the run ended first (stops within a chunk's I/O of being asked; says how far it got). ERROR: a
consented device that may no longer be written (mounted since) or cannot be opened exclusively. NVMe
format/sanitize and ATA secure erase are not done (a zero overwrite does not reach an SSD's spare area).
"""

from __future__ import annotations

import errno
import functools
import os
import re
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

from burnin.host import Host
from burnin.inventory.disks import Disk, mounted_devices, read_disk
from burnin.model import Finding, Probe, Severity, Verdict
from burnin.module import Module, ModuleContext, Skip
from burnin.tools import readscan
from burnin.tools import smart as smart_tool
from burnin.tools import writeverify
from burnin.tools.smart import ATA, NVME, SCSI, ScanEntry, SmartReport

MODULE = "disk"
ATTR_REALLOCATED, ATTR_POWER_ON, ATTR_REPORTED_UNCORRECT = 5, 9, 187
ATTR_PENDING, ATTR_OFFLINE_UNCORRECTABLE, ATTR_CRC = 197, 198, 199
LOG_HOURS_WRAP = 65536  # ATA and SCSI logs stamp entries with 16-bit power-on hours

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

DISK_SETTINGS: dict[str, Any] = {
    # SMART judgement
    "reallocated_fail": 50,  # reallocated sectors above this FAIL; any at all WARN
    "grown_defects_fail": 50,  # SAS grown defect list above this FAILs; any at all WARNs
    "nvme_used_warn_pct": 90,
    "nvme_used_fail_pct": 100,
    # self-tests (run phase)
    "self_test": "short",  # none | short | long
    "self_test_poll_s": 30.0,
    "self_test_abort_on_stop": False,
    # read scan (run phase)
    "scan": "sample",  # none | sample | full
    "sample_mib": 1024,  # read per disk per pass in sample mode
    "sample_regions": 64,
    "region_mib": 256,  # region size of a full scan: throughput is judged per region
    "read_block_kib": 1024,
    "repeat_scan": True,  # pass after pass until the run ends
    "slow_region_fraction": 0.2,  # a region slower than this fraction of the disk's median...
    "slow_region_min_s": 0.5,  # ...and that took at least this long is slow
    "slow_read_s": 2.0,  # one read taking this long is slow (retries inside the drive)
    "sample_interval_s": 2.0,
    # previous data
    "previous_data": "warn",  # warn | info
    # destructive (run phase): ONLY the devices the user named with --destructive DEVICE and confirmed with
    # --yes-destroy-data SERIAL; the CLI sets this list ("/dev/sdX=SERIAL"), a profile may not
    "destructive_devices": [],
    "write_verify": "full",  # none | full: write a seeded pattern over the whole device, read it back
    "wipe": "zero",  # none | zero: overwrite with zeros afterwards, and record a wipe certificate
    "wipe_verify": "full",  # full | sample (sample_mib over sample_regions)
    "write_block_kib": 1024,
}


# -- judgement: SMART ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SmartLimits:
    reallocated_fail: int = 50
    grown_defects_fail: int = 50
    nvme_used_warn_pct: int = 90
    nvme_used_fail_pct: int = 100

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "SmartLimits":
        merged = {**DISK_SETTINGS, **settings}
        return cls(int(merged["reallocated_fail"]), int(merged["grown_defects_fail"]),
                   int(merged["nvme_used_warn_pct"]), int(merged["nvme_used_fail_pct"]))


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


def _f(severity: Severity, component: str, code: str, message: str, **evidence: Any) -> Finding:
    return Finding(MODULE, severity, component, code, message, evidence)


def judge_smart(report: SmartReport, component: str, limits: SmartLimits = SmartLimits()) -> list[Finding]:
    """Everything one SMART report says about the drive's health, as findings (none: healthy)."""
    out: list[Finding] = []
    FAIL, WARN = Severity.FAIL, Severity.WARN
    if report.health_passed is False:
        out.append(_f(FAIL, component, "smart-health-failed",
                      "The drive's own SMART health check reports FAILED: the drive expects to fail.",
                      exit_status=report.exit_status))

    if report.protocol == ATA:
        def raw(attr_id: int) -> int | None:
            attr = report.attribute(attr_id)
            return attr.raw if attr else None

        pending = raw(ATTR_PENDING)
        if pending:
            out.append(_f(FAIL, component, "smart-pending-sectors",
                          f"{_n(pending, 'sector')} could not be read and wait to be reallocated "
                          "(Current_Pending_Sector).",
                          current_pending_sector=pending))
        offline = raw(ATTR_OFFLINE_UNCORRECTABLE)
        if offline:
            out.append(_f(FAIL, component, "smart-offline-uncorrectable",
                          f"{_n(offline, 'sector')} found unreadable by the drive's own scan (Offline_Uncorrectable).",
                          offline_uncorrectable=offline))
        reallocated = raw(ATTR_REALLOCATED)
        if reallocated:
            over = reallocated > limits.reallocated_fail
            out.append(_f(FAIL if over else WARN, component, "smart-reallocated-sectors",
                          f"{_n(reallocated, 'sector')} reallocated"
                          + (f", more than the limit of {limits.reallocated_fail}." if over else
                             ": the surface has worn or damaged spots."),
                          reallocated_sector_ct=reallocated, limit=limits.reallocated_fail))
        reported = raw(ATTR_REPORTED_UNCORRECT)
        if reported:
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
    out.extend(history_findings(report, component))
    return out


def history_findings(report: SmartReport, component: str) -> list[Finding]:
    """Log entries stamped at more power-on hours than the drive says it has: its history may have been reset."""
    poh = report.power_on_hours
    if poh is None:
        return []
    if report.protocol in (ATA, SCSI) and poh >= LOG_HOURS_WRAP:
        return []  # 16-bit log stamps have wrapped: they cannot be compared with the hours
    later = [("error log", e.hours) for e in report.error_log if e.hours is not None and e.hours > poh + 1]
    later += [("self-test log", t.hours) for t in report.self_tests if t.hours is not None and t.hours > poh + 1]
    if not later:
        return []
    latest = max(h for _, h in later)
    return [_f(Severity.WARN, component, "smart-history-reset",
               f"The drive's logs hold entries from power-on hour {latest}, but it says it has run only {poh} "
               "hours: its history may have been reset.", power_on_hours=poh, latest_log_hours=latest,
               entries=[{"log": log, "power_on_hours": h} for log, h in later[:10]])]


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


def counter_growth(before: SmartReport, after: SmartReport, component: str, label: str) -> list[Finding]:
    """FAIL for every counter that grew between the two reports. NVMe error-log growth made only of the host's
    own invalid commands (smartctl probing) is not the drive's fault: INFO."""
    old, new = counters_of(before), counters_of(after)
    out = []
    for name, value in new.items():
        was = old.get(name)
        if was is None or value <= was:
            continue
        evidence = {"counter": name, "before": was, "after": value}
        if after.protocol == NVME and name == "error_log_entries":
            fresh = [e for e in (after.nvme.errors if after.nvme else ()) if e.error_count > was]
            if fresh and all(nvme_error_is_benign(e.status_code_type, e.status_code) for e in fresh):
                out.append(_f(Severity.INFO, component, "smart-counter-grew",
                              f"{label}: the error log grew by {value - was} entries, all the host's own invalid "
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
    as a live run. Settings are the disk module's (defaults, or a profile's [settings.disk] table)."""
    limits = SmartLimits.from_settings(settings or {})
    results = []
    for path in paths:
        try:
            report, gaps = smart_tool.read_saved_report(path)
        except smart_tool.ReportError as exc:
            results.append(SavedVerdict(path, Verdict.ERROR, [], str(exc)))
            continue
        label = report.device if report.device not in ("?", "/dev/saved") else path
        component = component_of(label, report.serial)
        findings = [_f(Severity.INFO, component, "smart-parser-gap", f"Read by burnin itself: {gap}.", gap=gap)
                    for gap in gaps]
        if report.source == smart_tool.TEXT_FALLBACK and not report.attributes:
            results.append(SavedVerdict(path, Verdict.ERROR, findings, "; ".join(gaps)))
            continue
        if not report.has_smart_data:
            why = smart_absent_reason(report) or "no SMART health data in this report"
            results.append(SavedVerdict(path, Verdict.ERROR, findings, why))
            continue
        findings += judge_smart(report, component, limits)
        fails = [f for f in findings if f.severity is Severity.FAIL]
        warns = [f for f in findings if f.severity is Severity.WARN]
        if fails:
            verdict, reason = Verdict.FAIL, fails[0].message
        elif warns:
            verdict, reason = Verdict.WARN, warns[0].message
        else:
            verdict, reason = Verdict.PASS, ""
        results.append(SavedVerdict(path, verdict, findings, reason))
    return results


# -- judgement: previous data ----------------------------------------------------------------------
HEAD_BYTES = 256 * 1024


def data_signatures(head: bytes, logical_block: int = 512) -> list[str]:
    """Partition tables and filesystem / volume signatures in the first bytes of a disk."""
    found: list[str] = []

    def at(offset: int, magic: bytes) -> bool:
        return head[offset:offset + len(magic)] == magic

    if len(head) >= 512 and at(510, b"\x55\xaa"):
        types = [head[446 + 16 * i + 4] for i in range(4)]
        if 0xEE in types:
            found.append("protective MBR (GPT disk)")
        elif any(types):
            found.append("MBR partition table")
        elif at(3, b"NTFS    "):
            found.append("NTFS")
        elif at(82, b"FAT32   ") or at(54, b"FAT1"):
            found.append("FAT filesystem")
        else:
            found.append("boot sector")
    for block in sorted({512, logical_block, 4096}):
        if at(block, b"EFI PART"):
            found.append("GPT partition table")
            break
    checks = [
        (0x438, b"\x53\xef", "ext2/3/4 filesystem"), (0, b"XFSB", "XFS filesystem"),
        (65600, b"_BHRfS_M", "btrfs filesystem"), (512, b"LABELONE", "LVM physical volume"),
        (0, b"LUKS\xba\xbe", "LUKS encrypted volume"), (4096, b"\xfc\x4e\x2b\xa9", "Linux md RAID member (1.2)"),
        (0, b"\xfc\x4e\x2b\xa9", "Linux md RAID member (1.1)"), (4086, b"SWAPSPACE2", "Linux swap"),
        (32769, b"CD001", "ISO 9660 image"), (0, b"bluestore block device", "Ceph BlueStore"),
        (24, b"\xc6\x85\x73\xf6\x4e\x1a\x45\xca\x82\x65\xf5\x7f\x48\xba\x6d\x81", "bcache"),
    ]
    for offset, magic, name in checks:
        if at(offset, magic) and name not in found:
            found.append(name)
    if not at(0x438, b"\x53\xef") and at(4096 + 24, b"\xc6\x85\x73\xf6"):
        found.append("bcache")
    # ZFS: uberblocks (magic 0x00bab10c, either byte order) fill 128..256 KiB of vdev label 0
    for offset in range(128 * 1024, min(len(head), 256 * 1024) - 8, 1024):
        word = head[offset:offset + 8]
        if word in (struct.pack("<Q", 0x00BAB10C), struct.pack(">Q", 0x00BAB10C)):
            found.append("ZFS pool member")
            break
    return list(dict.fromkeys(found))


# -- the rules for writing: consent naming the device --------------------------------------------
def writable_refusal(disk: Disk) -> str | None:
    """Why `disk` must never be written to, or None."""
    if disk.system:
        return f"{disk.dev_path} holds the running system ({', '.join(disk.mountpoints) or 'boot or live medium'})"
    if disk.mountpoints:
        return f"{disk.dev_path} is mounted or used as swap ({', '.join(disk.mountpoints)})"
    if disk.holders:
        return f"{disk.dev_path} is in use by {', '.join(disk.holders)} (device-mapper or md)"
    return None


def lookup_disk(host: Host, device: str) -> Disk | None:
    """The whole disk `device` names (/dev/sdb, a /dev/disk/by-id link), read afresh from sysfs with its mount
    state, or None when it is no whole disk here. Loop devices read as disks without a serial (so they are refused:
    tests stand in for this function)."""
    real = host.realpath(device) if host.live else device
    name = real.rstrip("/").rsplit("/", 1)[-1]
    if not name or not host.exists(f"/sys/block/{name}"):
        return None
    return read_disk(host, name, mounted_devices(host))


def destructive_refusal(device: str, disk: Disk | None, serial: str | None) -> str | None:
    """Why the disk `device` names (`disk`, as `lookup_disk` read it) may not be destroyed with the consent
    `serial` (the user's --yes-destroy-data), or None when it may."""
    if disk is None:
        return f"{device}: no such whole disk here"
    why = writable_refusal(disk)
    if why:
        return why
    if not disk.serial:
        return f"{disk.dev_path} has no known serial number, so no consent can name it"
    if serial is None:
        return (f"{disk.dev_path} (S/N {disk.serial}) needs --yes-destroy-data {disk.serial}: everything on it "
                "will be destroyed")
    if serial != disk.serial:
        return f"{disk.dev_path}: --yes-destroy-data {serial!r} does not match its serial number {disk.serial!r}"
    return None


def destructive_consent(host: Host, devices: Sequence[str], serials: Sequence[str]) -> list[str]:
    """Check the --destructive DEVICE / --yes-destroy-data SERIAL pairs; "/dev/X=SERIAL" for each consented
    device. Raises ValueError (one line) on the first refusal."""
    if not host.live:
        raise ValueError("--destructive is not possible on a captured tree (--sysroot)")
    if not devices:
        raise ValueError("--yes-destroy-data needs --destructive DEVICE")
    left = list(serials)
    consented: list[str] = []
    for device in devices:
        disk = lookup_disk(host, device)
        serial = disk.serial if disk is not None and disk.serial in left else (left[0] if left else None)
        why = destructive_refusal(device, disk, serial)
        if why:
            raise ValueError(f"--destructive refused: {why}")
        assert disk is not None and disk.serial
        left.remove(disk.serial)
        entry = f"{disk.dev_path}={disk.serial}"
        if entry in consented:
            raise ValueError(f"--destructive names {disk.dev_path} twice")
        consented.append(entry)
    if left:
        raise ValueError(f"--yes-destroy-data {left[0]!r} matches none of the --destructive devices")
    return consented


# -- judgement: the read scan ----------------------------------------------------------------------
def slow_regions(results: Sequence[readscan.RegionResult], fraction: float, min_s: float
                 ) -> tuple[float, list[readscan.RegionResult]]:
    """The disk's median region throughput (bytes/s) and the regions slower than `fraction` of it that also
    took at least `min_s` (a fast device's tiny regions are never "slow" by jitter alone)."""
    rates = [r.bytes_per_s for r in results if r.seconds > 0]
    if len(rates) < 8:
        return (readscan.median(rates) if rates else 0.0), []
    mid = readscan.median(rates)
    slow = [r for r in results if r.seconds >= min_s and r.bytes_per_s < fraction * mid]
    return mid, slow


# -- the module ------------------------------------------------------------------------------------
@dataclass
class Target:
    """One drive SMART is read from: an inventory disk, or a drive only smartctl sees (behind RAID)."""

    name: str  # what smartctl opens
    dev_type: str | None
    disk: Disk | None
    component: str = ""
    sample_id: str = ""
    baseline: SmartReport | None = None
    device: Any = None  # the pySMART Device, for self-tests
    emitted: set = field(default_factory=set)  # codes reported in check()
    self_test: "SelfTestRun | None" = None

    @property
    def label(self) -> str:
        if self.disk is not None:
            return self.disk.dev_path
        return f"{self.name} -d {self.dev_type}" if self.dev_type else self.name


@dataclass
class SelfTestRun:
    kind: str
    ours: bool  # we started it (False: it was already running)
    started: float
    newest_before: tuple | None  # the newest log entry before it started
    log_length_before: int
    remaining_pct: int | None = None
    last_poll: float = 0.0


def _entry_key(report: SmartReport | None) -> tuple | None:
    if report is None or not report.self_tests:
        return None
    t = report.self_tests[0]
    return (t.kind, t.status, t.hours)


def match_targets(disks: Sequence[Disk], entries: Sequence[ScanEntry]) -> list[Target]:
    """Inventory disks paired with what `smartctl --scan-open` calls them, plus drives only smartctl lists."""
    # drives behind a RAID controller may be listed under a block device's name too ("/dev/sda -d megaraid,1"):
    # an inventory disk pairs only with the entry that opens it directly
    by_name = {e.name: e for e in entries if not e.behind_raid}
    used: set[str] = set()
    targets: dict[str, Target] = {}
    for disk in disks:
        candidates = [disk.dev_path]
        nvme = re.match(r"^(nvme\d+)n\d+$", disk.name)
        if nvme:
            candidates.insert(0, f"/dev/{nvme[1]}")
        entry = next((by_name[c] for c in candidates if c in by_name), None)
        name = entry.name if entry else disk.dev_path
        if name in targets:  # a second namespace of the same NVMe controller
            continue
        if entry:
            used.add(entry.name)
        targets[name] = Target(name, entry.dev_type if entry else None, disk, sample_id=disk.name)
    for entry in entries:
        if (entry.behind_raid or entry.name not in used) and entry.label() not in targets:
            targets[entry.label()] = Target(entry.name, entry.dev_type, None,
                                            sample_id=f"{entry.dev_type}@{os.path.basename(entry.name)}")
    return list(targets.values())


class DiskModule(Module):
    """SMART, counters, self-tests, a read-only scan and previous-data checks; see the module docstring."""

    name = "disk"
    summary = ("SMART health and history of every disk, self-tests, and a read-only O_DIRECT scan (writes only to "
               "a disk named with --destructive)")
    needs = ("root", "smartctl (smartmontools) for SMART")
    stress = True
    settings = DISK_SETTINGS
    choices = {"self_test": ("none", "short", "long"), "scan": ("none", "sample", "full"),
               "previous_data": ("warn", "info"), "write_verify": ("none", "full"), "wipe": ("none", "zero"),
               "wipe_verify": ("full", "sample")}

    def __init__(self, host: Host, settings: Mapping[str, Any] | None = None):
        super().__init__(host, settings)
        self._reader: smart_tool.SmartReader | None = None
        self._targets: list[Target] = []
        self._smart_skip = ""  # why SMART was not read at all

    # -- probe ---------------------------------------------------------------------------------
    def probe(self) -> Probe:
        if not hasattr(os, "O_DIRECT") or not hasattr(os, "preadv"):
            return Probe.unavailable("needs Linux (O_DIRECT reads)")
        if self.host.live and hasattr(os, "geteuid") and os.geteuid() != 0:
            return Probe.unavailable("needs root: SMART and raw reads of the disks")
        return Probe.ok()

    # -- check ---------------------------------------------------------------------------------
    def check(self, ctx: ModuleContext) -> None:
        if ctx.inventory is None:
            raise Skip("no inventory was collected, so the disks are not known")
        disks = list(ctx.inventory.disks)
        self._check_previous_data(ctx, disks)
        errors = self._check_smart(ctx, disks)
        if errors:
            raise RuntimeError("could not read SMART from " + "; ".join(errors))
        if self._smart_skip:
            raise Skip(f"SMART: {self._smart_skip}")

    def _check_previous_data(self, ctx: ModuleContext, disks: Sequence[Disk]) -> None:
        severity = Severity(self.config["previous_data"])
        for disk in disks:
            if disk.system:
                continue
            if disk.mountpoints:
                # Mounted: this system's own data (a data disk of the installed system, the results stick of the
                # live image), whoever wrote it first.
                ctx.note(f"{disk.dev_path} is mounted ({', '.join(disk.mountpoints)}): in use by this system, not "
                         "checked for a previous owner's data", disk=disk.dev_path)
                continue
            signs = [f"partition {p}" for p in disk.partitions]
            if self.host.live and disk.size_bytes:
                lb = self.host.read_int(f"/sys/block/{disk.name}/queue/logical_block_size") or 512
                try:
                    head = readscan.read_head(str(self.host.path(disk.dev_path)), HEAD_BYTES)
                    signs += [s for s in data_signatures(head, lb) if s not in signs]
                except OSError as exc:
                    ctx.note(f"{disk.dev_path}: first bytes not readable for the previous-data check: {exc.strerror}",
                             disk=disk.dev_path)
            if signs:
                ctx.finding(severity, component_of(disk.dev_path, disk.serial), "disk-previous-data",
                            f"{disk.dev_path} holds a previous owner's data ({', '.join(signs[:4])}): wipe it "
                            "before use.", {"signatures": signs, "mountpoints": list(disk.mountpoints)})

    def _check_smart(self, ctx: ModuleContext, disks: Sequence[Disk]) -> list[str]:
        if not self.host.live:
            self._smart_skip = f"analysing a captured tree ({self.host.root}): no drives to ask"
            return []
        if not self.host.which(smart_tool.SMARTCTL):
            self._smart_skip = "smartctl is not installed"
            if disks:
                # The read scan still runs, but a drive's health and history are what a buyer most needs: a run
                # that never read them must not look like a clean pass.
                ctx.warn("disk", "smart-not-read",
                         "SMART was not read: smartctl is not installed, so the drives' health and history "
                         "(reallocated sectors, earlier errors, power-on hours) are unknown.",
                         {"disks": [d.dev_path for d in disks], "hint": "Debian: apt-get install smartmontools"})
            else:
                ctx.note("SMART skipped: smartctl is not installed (Debian: apt-get install smartmontools)")
            return []
        self._reader = smart_tool.SmartReader(ctx.run_tool)
        ctx.note("SMART through pySMART, with smartctl's JSON for what pySMART lacks",
                 pysmart=smart_tool.pysmart_version())
        try:
            entries = self._reader.scan()
        except Exception as exc:  # noqa: BLE001 - discovery failing must not hide the inventory's disks
            ctx.note(f"smartctl --scan-open failed ({type(exc).__name__}: {exc}); reading the inventory's disks")
            entries = []
        # The live stick (the inventory knows it: burnin.inventory.disks) is no server disk, whatever smartctl lists.
        boot_media = {d.dev_path for d in getattr(ctx.inventory, "boot_media", ())}
        entries = [e for e in entries if e.name not in boot_media]
        self._targets = match_targets(disks, entries)
        if not self._targets:
            self._smart_skip = "no disks found"
            return []
        errors: list[str] = []
        hours: dict[str, int] = {}
        seen_serials: dict[str, str] = {}
        judged = 0
        for target in self._targets:
            if ctx.stopping():
                errors.append(f"{target.label}: not read, the check phase ran out of time")
                continue
            reading = self._reader.read(target.name, target.dev_type)
            report = reading.report
            target.device = reading.device
            serial = (target.disk.serial if target.disk and target.disk.serial else None) or \
                (report.serial if report else None)
            if target.disk is None and serial and serial in seen_serials:
                ctx.note(f"{target.label} is {seen_serials[serial]} seen through the RAID controller; judged once")
                target.baseline = None
                continue
            if serial:
                seen_serials[serial] = target.label
            target.component = component_of(target.label, serial)
            if report is not None and report.has_smart_data:
                judged += 1
                target.baseline = report
                self._emit_reading(ctx, target, reading)
                if report.power_on_hours is not None and target.disk is not None:
                    hours[target.disk.name] = report.power_on_hours
                continue
            absent = smart_absent_reason(report)
            if absent and not any("raised" in p or "timed out" in p for p in reading.problems):
                ctx.info(target.component, "smart-unavailable",
                         f"smartctl cannot read SMART from {target.label}: {absent}.",
                         {"transport": target.disk.transport if target.disk else None,
                          "smartctl_messages": list(report.messages) if report else []})
            else:
                why = "; ".join(reading.problems) or (", ".join(report.messages) if report else "") or "no SMART data"
                errors.append(f"{target.label}: {why}")
        self._check_claims(ctx, hours)
        if not judged and not errors:
            self._smart_skip = "no disk here can give SMART data (" + ", ".join(t.label for t in self._targets) + ")"
        return errors

    def _emit_reading(self, ctx: ModuleContext, target: Target, reading: smart_tool.Reading) -> None:
        report = reading.report
        assert report is not None
        if reading.gaps:
            ctx.info(target.component, "smart-parser-gap",
                     f"pySMART did not parse {', '.join(reading.gaps)} for {target.label}; taken from smartctl's JSON.",
                     {"gaps": reading.gaps, "problems": reading.problems})
        elif reading.problems:
            ctx.note(f"{target.label}: " + "; ".join(reading.problems), disk=target.label)
        for finding in judge_smart(report, target.component, SmartLimits.from_settings(self.config)):
            target.emitted.add(finding.code)
            ctx.finding(finding.severity, finding.component, finding.code, finding.message, finding.evidence)
        metrics = {}
        if report.temperature_c is not None:
            metrics[f"temp_c:{target.sample_id}"] = report.temperature_c
        if report.power_on_hours is not None:
            metrics[f"power_on_hours:{target.sample_id}"] = report.power_on_hours
        ctx.sample(metrics)
        ctx.note(f"{target.label}: SMART read", disk=target.label, protocol=report.protocol, model=report.model,
                 serial=report.serial, power_on_hours=report.power_on_hours, counters=counters_of(report),
                 source=report.source)

    def _check_claims(self, ctx: ModuleContext, hours: Mapping[str, int]) -> None:
        claims = ctx.claims
        if claims is None or ctx.inventory is None or not getattr(claims, "disks", ()):
            return
        if not any(c.max_power_on_hours is not None for c in claims.disks):
            return
        from burnin.inventory.claims import check_claims

        for check in check_claims(claims, ctx.inventory, power_on_hours=hours):
            if check.key.endswith("max_power_on_hours"):
                f = check.finding()
                ctx.finding(f.severity, f.component, f.code, f.message, f.evidence)

    # -- run -----------------------------------------------------------------------------------
    def run(self, ctx: ModuleContext) -> None:
        if ctx.inventory is None:
            raise Skip("no inventory was collected, so the disks are not known")
        if self._reader is not None:
            self._reader.use(ctx.run_tool)
        self._start_self_tests(ctx)
        stop = threading.Event()
        jobs, errors = self._start_destructive(ctx, stop)
        destroying = {job.disk.dev_path for job in jobs}  # type: ignore[attr-defined]
        scanners, scan_errors = self._start_scans(
            ctx, [d for d in ctx.inventory.disks if d.dev_path not in destroying], stop)
        errors += scan_errors
        active_tests = [t for t in self._targets if t.self_test is not None]
        if not scanners and not active_tests and not jobs:
            if errors:
                raise RuntimeError("read scan could not start: " + "; ".join(errors))
            raise Skip("nothing to do: the read scan and self-tests are off or have no disk")
        interval = float(self.config["sample_interval_s"])
        last_bytes = {name: 0 for name in scanners}
        last_t = time.monotonic()
        reported: dict[str, int] = {}
        try:
            while not ctx.wait(interval):
                now = time.monotonic()
                metrics = {}
                for name, scanner in scanners.items():
                    with scanner.state.lock:
                        done = scanner.state.bytes_read
                    metrics[f"read_mbps:{name}"] = (done - last_bytes[name]) / max(now - last_t, 1e-6) / 1e6
                    last_bytes[name] = done
                    self._report_events(ctx, name, scanner, reported)
                for job in jobs:
                    with job.state.lock:
                        metrics[f"destructive_pct:{job.disk.name}"] = (  # type: ignore[attr-defined]
                            round(100 * job.state.bytes_done / job.size, 2) if job.size else 0.0)
                last_t = now
                ctx.sample(metrics)
                self._poll_self_tests(ctx)
                scanning = any(not s.state.finished for s in scanners.values())
                testing = any(t.self_test is not None and t.self_test.remaining_pct != -1 for t in self._targets)
                if not scanning and not testing and not any(job.is_alive() for job in jobs):
                    break
        finally:
            stop.set()
            deadline = time.monotonic() + 1.0
            for thread in [*scanners.values(), *jobs]:
                thread.join(max(0.0, deadline - time.monotonic()))
        for job in jobs:
            errors += self._judge_destructive(ctx, job)
        refused = []
        for name, scanner in scanners.items():
            self._report_events(ctx, name, scanner, reported)
            if scanner.state.open_errno in (errno.EPERM, errno.EACCES):
                refused.append(f"{scanner.disk.dev_path}: {scanner.state.fatal}")  # type: ignore[attr-defined]
                continue
            errors += self._judge_scan(ctx, name, scanner)
        if errors:
            raise RuntimeError("read scan: " + "; ".join(errors))
        if refused and len(refused) == len(scanners) and not active_tests and not jobs:
            raise Skip("read scan: no disk may be opened here (" + "; ".join(refused) + ")")
        for why in refused:
            disk_path = why.split(":", 1)[0]
            disk = next(s.disk for s in scanners.values() if s.disk.dev_path == disk_path)  # type: ignore[attr-defined]
            ctx.warn(component_of(disk.dev_path, disk.serial), "disk-untested",
                     f"{disk.dev_path} was not read: this process may not open it (a container or device policy).",
                     {"reason": why})

    # -- destructive: write-verify and wipe of the consented devices ----------------------------
    def _start_destructive(self, ctx: ModuleContext, stop: threading.Event
                           ) -> tuple[list[writeverify.WriteJob], list[str]]:
        """A write-verify-and-wipe thread for every device the user consented to, each checked again first
        (mounted since? another disk under that name?); what cannot start is an error (the user asked for it)."""
        jobs: list[writeverify.WriteJob] = []
        errors: list[str] = []
        for entry in self.config["destructive_devices"]:
            device, _, serial = str(entry).partition("=")
            disk = lookup_disk(self.host, device)
            why = destructive_refusal(device, disk, serial or None)
            if why:
                errors.append(f"destructive test of {device} not started: {why}")
                continue
            assert disk is not None and disk.size_bytes is not None
            lb = self.host.read_int(f"/sys/block/{disk.name}/queue/logical_block_size") or 512
            plan = None
            if self.config["wipe_verify"] == "sample":
                plan = functools.partial(readscan.plan_sample, disk.size_bytes,
                                         int(self.config["sample_mib"]) * readscan.MIB,
                                         int(self.config["sample_regions"]), readscan.MIB, 0)
            path = str(self.host.path(disk.dev_path))
            writeverify.consent(path)
            job = writeverify.WriteJob(path, disk.size_bytes, lb, stop, seed=int.from_bytes(os.urandom(8), "big"),
                                       write_verify=self.config["write_verify"] == "full",
                                       wipe=self.config["wipe"] == "zero", wipe_verify_plan=plan,
                                       block_bytes=int(self.config["write_block_kib"]) * 1024)
            job.disk = disk  # type: ignore[attr-defined]
            job.start()
            jobs.append(job)
            ctx.note(f"{disk.dev_path} (S/N {disk.serial}): destructive write-verify and wipe started, with the "
                     "user's consent", disk=disk.dev_path, serial=disk.serial, size_bytes=disk.size_bytes,
                     write_verify=self.config["write_verify"], wipe=self.config["wipe"],
                     wipe_verify=self.config["wipe_verify"], seed=job.seed)
        return jobs, errors

    def _judge_destructive(self, ctx: ModuleContext, job: writeverify.WriteJob) -> list[str]:
        disk: Disk = job.disk  # type: ignore[attr-defined]
        component = component_of(disk.dev_path, disk.serial)
        with job.state.lock:
            state = job.state
            problems, fatal, stage, done = list(state.problems), state.fatal, state.stage, state.bytes_done
            wv_done, wiped, wipe_done, verified = (state.write_verify_done, state.wiped_bytes, state.wipe_done,
                                                   state.wipe_verified)
            started, wipe_started, finished = state.started, state.wipe_started, state.finished or time.time()
        for p in problems:
            what = "read back wrong" if p.kind == "write-verify-mismatch" else p.message
            ctx.fail(component, p.kind,
                     f"{disk.dev_path} {what} at byte {p.offset} (LBA {p.lba}, {job.logical_block}-byte blocks) "
                     f"during the {p.stage}.",
                     {"offset_bytes": p.offset, "lba": p.lba, "logical_block_size": job.logical_block,
                      "stage": p.stage, "errno": p.errno, "detail": p.message})
        errors = []
        if fatal and not problems:
            if "stopped answering" in fatal:
                ctx.fail(component, "disk-vanished", f"{disk.dev_path} stopped answering: {fatal}.",
                         {"stage": stage})
            else:
                errors.append(f"{disk.dev_path}: {fatal}")
        if wv_done:
            ctx.info(component, "write-verify-passed",
                     f"Every byte written to {disk.dev_path} read back as written.", {"bytes": job.size})
        if self.config["wipe"] == "none":
            return errors
        if wipe_done and verified:
            iso = functools.partial(time.strftime, "%Y-%m-%dT%H:%M:%SZ")
            ctx.note("wipe-certificate", serial=disk.serial, device=disk.dev_path, model=disk.model,
                     method="overwrite with zeros, 1 pass", bytes=job.size, verified=verified,
                     started=iso(time.gmtime(wipe_started)), finished=iso(time.gmtime(finished)))
            ctx.info(component, "disk-wiped",
                     f"{disk.dev_path} (S/N {disk.serial}) was overwritten with zeros and read back as zeros "
                     f"({'every byte' if verified == 'full' else 'sampled'}).",
                     {"bytes": job.size, "verified": verified, "method": "zero"})
        elif not problems and not fatal:
            where = (f"zeros written to {wiped} of {job.size} bytes" if stage == "wipe" else
                     f"zeros written, verification stopped after {done} bytes" if stage == "wipe-verify" else
                     f"the write-verify pass stopped after {done} bytes; the wipe did not start")
            ctx.warn(component, "wipe-incomplete",
                     f"The wipe of {disk.dev_path} (S/N {disk.serial}) did not finish before the run ended "
                     f"({where}): the disk is partly overwritten, not wiped.",
                     {"stage": stage, "bytes_done": done, "zeroed_bytes": wiped, "size_bytes": job.size,
                      "started": round(started, 1)})
        return errors

    def _start_scans(self, ctx: ModuleContext, disks: Sequence[Disk], stop: threading.Event
                     ) -> tuple[dict[str, readscan.DiskScanner], list[str]]:
        mode = self.config["scan"]
        if mode == "none":
            return {}, []
        block = int(self.config["read_block_kib"]) * 1024
        scanners: dict[str, readscan.DiskScanner] = {}
        errors: list[str] = []
        for disk in disks:
            if not disk.size_bytes:
                ctx.note(f"{disk.dev_path}: size unknown or zero, not scanned", disk=disk.dev_path)
                continue
            lb = self.host.read_int(f"/sys/block/{disk.name}/queue/logical_block_size") or 512
            if mode == "full":
                plan = functools.partial(_full_plan, disk.size_bytes, int(self.config["region_mib"]) * readscan.MIB)
            else:
                plan = functools.partial(_sample_plan, disk.size_bytes, int(self.config["sample_mib"]) * readscan.MIB,
                                         int(self.config["sample_regions"]))
            scanner = readscan.DiskScanner(str(self.host.path(disk.dev_path)), disk.size_bytes, lb, plan, stop,
                                           block_bytes=block, repeat=bool(self.config["repeat_scan"]),
                                           slow_read_s=float(self.config["slow_read_s"]), name=disk.name)
            scanner.disk = disk  # type: ignore[attr-defined]
            scanner.start()
            scanners[disk.name] = scanner
        ctx.note(f"read scan ({mode}) started on {len(scanners)} disks", disks=list(scanners),
                 block_bytes=block)
        return scanners, errors

    def _report_events(self, ctx: ModuleContext, name: str, scanner: readscan.DiskScanner,
                       reported: dict[str, int]) -> None:
        disk: Disk = scanner.disk  # type: ignore[attr-defined]
        for event in scanner.state.drain():
            if isinstance(event, readscan.ReadError):
                reported[name] = reported.get(name, 0) + 1
                if reported[name] > 10:
                    continue  # the summary at the end counts the rest
                ctx.fail(component_of(disk.dev_path, disk.serial), "disk-read-error",
                         f"Reading {disk.dev_path} failed at byte {event.offset} (LBA {event.lba}, "
                         f"{event.logical_block}-byte blocks): {event.message}.",
                         {"offset_bytes": event.offset, "lba": event.lba, "logical_block_size": event.logical_block,
                          "errno": event.errno, "chunk_offset": event.chunk_offset,
                          "chunk_length": event.chunk_length})

    def _judge_scan(self, ctx: ModuleContext, name: str, scanner: readscan.DiskScanner) -> list[str]:
        disk: Disk = scanner.disk  # type: ignore[attr-defined]
        component = component_of(disk.dev_path, disk.serial)
        state = scanner.state
        with state.lock:
            regions = list(state.regions)
            errors = list(state.errors)
            not_kept = state.errors_not_kept
            slow_reads = list(state.slow_reads)
            current = state.current_read
            fatal, gone, bytes_read, passes = state.fatal, state.gone, state.bytes_read, state.passes_done
        problems = []
        if len(errors) + not_kept > 10:
            ctx.fail(component, "disk-read-error",
                     f"{disk.dev_path}: {len(errors) + not_kept} reads failed in all during the scan.",
                     {"failed_reads": len(errors) + not_kept,
                      "first_offsets": [e.offset for e in errors[:20]]})
        if gone:
            ctx.fail(component, "disk-vanished", f"{disk.dev_path} stopped answering during the read scan: {fatal}.",
                     {"bytes_read": bytes_read})
        elif fatal:
            problems.append(f"{disk.dev_path}: {fatal}")
        if current is not None and scanner.is_alive():
            stuck = time.monotonic() - current[1]
            ctx.warn(component, "disk-read-hung",
                     f"A read of {disk.dev_path} at byte {current[0]} had not returned after {stuck:.0f} s.",
                     {"offset_bytes": current[0], "seconds": round(stuck, 1)})
        if slow_reads:
            worst = max(slow_reads, key=lambda r: r.seconds)
            ctx.warn(component, "disk-slow-read",
                     f"{len(slow_reads)} reads of {disk.dev_path} took {self.config['slow_read_s']:g} s or more "
                     f"(worst {worst.seconds:.1f} s at byte {worst.offset}): the drive is retrying.",
                     {"count": len(slow_reads), "worst_seconds": round(worst.seconds, 2),
                      "offsets": [r.offset for r in slow_reads[:20]]})
        mid, slow = slow_regions(regions, float(self.config["slow_region_fraction"]),
                                 float(self.config["slow_region_min_s"]))
        if slow:
            ctx.warn(component, "disk-slow-region",
                     f"{len(slow)} regions of {disk.dev_path} read at under "
                     f"{float(self.config['slow_region_fraction']):.0%} of its median speed ({mid / 1e6:.0f} MB/s).",
                     {"median_mbps": round(mid / 1e6, 1),
                      "slow_regions": [{"offset_bytes": r.offset, "mbps": round(r.bytes_per_s / 1e6, 1)}
                                       for r in slow[:20]]})
        rates = [r.bytes_per_s / 1e6 for r in regions]
        ctx.note(f"{disk.dev_path}: read {bytes_read / 1e9:.2f} GB in {passes} full passes", disk=disk.dev_path,
                 bytes_read=bytes_read, passes=passes, regions=len(regions),
                 coverage=round(bytes_read / disk.size_bytes, 4) if disk.size_bytes else None,
                 median_mbps=round(readscan.median(rates), 1) if rates else None,
                 min_mbps=round(min(rates), 1) if rates else None, failed_reads=len(errors) + not_kept)
        return problems

    # -- self-tests ----------------------------------------------------------------------------
    def _start_self_tests(self, ctx: ModuleContext) -> None:
        kind = self.config["self_test"]
        if kind == "none" or self._reader is None:
            return
        for target in self._targets:
            report = target.baseline
            if report is None or target.device is None or not report.smart_available:
                continue
            try:
                if report.self_test_running:
                    status, message = "running", "a self-test was already running"
                else:
                    status, message = self._reader.start_self_test(target.device, kind)
            except Exception as exc:  # noqa: BLE001 - pySMART trouble: say so, go on with the other drives
                status, message = "error", f"{type(exc).__name__}: {exc}"
            if status == "started":
                target.self_test = SelfTestRun(kind, True, time.monotonic(), _entry_key(report),
                                               len(report.self_tests))
                ctx.note(f"{target.label}: {kind} self-test started", disk=target.label)
            elif status == "running":
                # Never start one while another runs: watch the one that is running instead.
                target.self_test = SelfTestRun("running", False, time.monotonic(), _entry_key(report),
                                               len(report.self_tests))
                ctx.note(f"{target.label}: a self-test is already running; not starting another, watching it",
                         disk=target.label)
            else:
                ctx.info(target.component, "self-test-not-started",
                         f"The {kind} self-test could not be started on {target.label}: {message}",
                         {"status": status, "message": message})

    def _poll_self_tests(self, ctx: ModuleContext, force: bool = False) -> None:
        poll_s = float(self.config["self_test_poll_s"])
        metrics = {}
        for target in self._targets:
            run = target.self_test
            if run is None or run.remaining_pct == -1 or target.device is None:
                continue
            if not force and time.monotonic() - run.last_poll < poll_s:
                continue
            run.last_poll = time.monotonic()
            try:
                target.device.update()
                report = smart_tool.report_from_pysmart(
                    target.device, self._reader.smartctl.texts.get(target.device.dev_reference, []) if self._reader
                    else [], target.dev_type)
            except Exception as exc:  # noqa: BLE001
                ctx.note(f"{target.label}: self-test poll failed: {type(exc).__name__}: {exc}")
                continue
            if report.self_test_running:
                run.remaining_pct = report.self_test_remaining_pct
                if run.remaining_pct is not None:
                    metrics[f"self_test_remaining_pct:{target.sample_id}"] = run.remaining_pct
                if report.temperature_c is not None:
                    metrics[f"temp_c:{target.sample_id}"] = report.temperature_c
            else:
                self._judge_self_test(ctx, target, report)
        ctx.sample(metrics)

    def _judge_self_test(self, ctx: ModuleContext, target: Target, report: SmartReport) -> None:
        run = target.self_test
        assert run is not None
        run.remaining_pct = -1  # done
        new = _entry_key(report) != run.newest_before or len(report.self_tests) > run.log_length_before
        entry = report.self_tests[0] if report.self_tests else None
        if not new or entry is None:
            ctx.warn(target.component, "self-test-no-result",
                     f"The self-test on {target.label} ended but left no new entry in the drive's self-test log.",
                     {"kind": run.kind})
            return
        evidence = {"kind": entry.kind, "status": entry.status, "power_on_hours": entry.hours, "lba": entry.lba,
                    "minutes": round((time.monotonic() - run.started) / 60, 1)}
        if entry.result == smart_tool.PASSED:
            ctx.info(target.component, "self-test-passed",
                     f"The {entry.kind} self-test on {target.label} completed without error.", evidence)
        elif entry.result == smart_tool.FAILED:
            ctx.fail(target.component, "self-test-failed",
                     f"The {entry.kind} self-test on {target.label} failed: {entry.status}"
                     + (f" at LBA {entry.lba}." if entry.lba is not None else "."), evidence)
        else:
            ctx.warn(target.component, "self-test-aborted",
                     f"The {entry.kind} self-test on {target.label} did not complete: {entry.status}.", evidence)

    # -- finish --------------------------------------------------------------------------------
    def finish(self, ctx: ModuleContext) -> None:
        targets = [t for t in self._targets if t.baseline is not None]
        if self._reader is None or not targets:
            raise Skip(f"SMART: {self._smart_skip or 'no drive gave SMART data in check()'}")
        self._reader.use(ctx.run_tool)
        limits = SmartLimits.from_settings(self.config)
        errors = []
        for target in targets:
            if ctx.stopping():
                errors.append(f"{target.label}: not read again, the finish phase ran out of time")
                continue
            reading = self._reader.read(target.name, target.dev_type)
            report = reading.report
            if report is None or not report.has_smart_data:
                ctx.fail(target.component, "smart-lost",
                         f"{target.label} gave SMART data at the start of the run but none at its end.",
                         {"problems": reading.problems})
                continue
            target.device = reading.device or target.device
            for f in counter_growth(target.baseline, report, target.component, target.label):
                ctx.finding(f.severity, f.component, f.code, f.message, f.evidence)
            for f in judge_smart(report, target.component, limits):
                if f.code not in target.emitted and f.code != "self-test-failed":
                    ctx.finding(f.severity, f.component, f.code, f.message, f.evidence)
            self._finish_self_test(ctx, target, report)
        if errors:
            raise RuntimeError("; ".join(errors))

    def _finish_self_test(self, ctx: ModuleContext, target: Target, report: SmartReport) -> None:
        run = target.self_test
        if run is None or run.remaining_pct == -1:
            return
        if not report.self_test_running:
            self._judge_self_test(ctx, target, report)
            return
        left = report.self_test_remaining_pct
        if self.config["self_test_abort_on_stop"] and run.ours and self._reader and target.device is not None:
            aborted = False
            try:
                aborted = self._reader.abort_self_test(target.device)
            except Exception:  # noqa: BLE001
                pass
            ctx.info(target.component, "self-test-stopped",
                     f"The self-test on {target.label} was " + ("aborted" if aborted else "asked to abort")
                     + f" because the run ended ({left if left is not None else '?'}% left).",
                     {"remaining_pct": left, "aborted": aborted})
        else:
            ctx.info(target.component, "self-test-continues",
                     f"The {run.kind if run.ours else 'running'} self-test on {target.label} had not finished when "
                     f"the run ended ({left if left is not None else '?'}% left); it goes on in the drive's firmware "
                     "and its result will be in the drive's self-test log.", {"remaining_pct": left})
        run.remaining_pct = -1


def _full_plan(size: int, region_bytes: int, pass_index: int) -> list[readscan.Region]:
    return readscan.plan_full(size, region_bytes)


def _sample_plan(size: int, sample_bytes: int, count: int, pass_index: int) -> list[readscan.Region]:
    return readscan.plan_sample(size, sample_bytes, count, readscan.MIB, pass_index)
