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
regions of `region_mib`. All disks at once, one thread each, O_DIRECT into page-aligned buffers, opened read-only;
each scan, write job and the self-test watch is a load driven (and stopped) by `burnin.load`.
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
`wipe` = "zero" overwrites it with zeros, fsyncs, and reads back every byte (`wipe_verify` "full") or a sample;
`wipe` = "device" (the default) prefers the drive's own erase (`erase`: NVMe sanitize block/crypto erase, Format NVM
with crypto or user-data erase, ATA sanitize, ATA enhanced security erase, SCSI sanitize via `sg_sanitize`; chosen
from `nvme id-ctrl` / `hdparm -I`, declined with the reason when security is frozen, a password is set, the tool is
missing, or the erase would take other namespaces with it), polls it to its end, then reads back a random `erase_verify_pct` sample into which a
pattern was written just before: none of it may still hold the pattern (FAIL `wipe-not-erased`), and the
certificate carries the method, the drive's status (NVMe sanitize log SSTAT/SPROG, the format's result, hdparm's
sanitize state, sg_requests progress and TEST UNIT READY), the HPA/DCO state and the sample's SHA-256. A drive that
refuses the command gets the zero overwrite.
Consented devices are not read-scanned. Writing goes only through `burnin.tools.writeverify.open_for_writing`,
which asserts the consent and opens O_EXCL (the kernel refuses a device in use); everything else opens devices
through `burnin.tools.readscan.open_readonly`. FAIL: `write-error` (an I/O error writing, flushing or reading back)
or `write-verify-mismatch` (bytes read back differ), naming the byte offset and LBA. INFO: `write-verify-passed`;
`disk-wiped` with a `wipe-certificate` note (serial, device, method, bytes, verified, started, finished). WARN
`wipe-incomplete`: the run ended first (stops within a chunk's I/O of being asked; says how far it got). ERROR: a
consented device that may no longer be written (mounted since) or cannot be opened exclusively. WARN
`wipe-device-erase-failed`: the drive accepted its erase but did not report success (a "NOT WIPED" certificate).

What each report let burnin see (`seen`: health, error counters, wear, spare, temperature, logs; blank, absent
or hidden health is `smart-not-reported`, never a pass), smartmontools' drive-database quirks (`quirks`, through
`burnin.tools.drivedb`: a documented quirk is noted with the database's words, not failed), and the drive's history
(`history`: logs read wrap-aware, ATA device statistics, Seagate FARM, SAS pages, writes per hour; one conclusion of
consistent / reset / forged / unknown, the `drive-history` block). Before a wipe, the Host Protected Area is read
(`hdparm -N`, read-only): a disk with hidden sectors gets `wipe-hidden-area` and a "NOT WIPED" certificate.

The package, by capability: `smart` (SMART judgement: pure functions, also for `burnin smart FILE`), `smart_watch`
(SMART over a run: the drives, the baseline, self-tests, the second read), `scan` (the read scan and the
previous-data check), `destructive` (write-verify and wipe, and the consent rules), `erase` (the drive's own erase), `settings`.

Findings (component `disk:/dev/X S/N SERIAL`; one row per code this module can emit):

| code | severity | when |
|---|---|---|
| `smart-health-failed` | FAIL | the drive's own SMART health check says FAILED |
| `smart-pending-sectors` | FAIL | Current_Pending_Sector (197) non-zero |
| `smart-offline-uncorrectable` | FAIL | Offline_Uncorrectable (198) non-zero |
| `smart-reallocated-sectors` | WARN / FAIL | reallocated sectors (5); FAIL above `reallocated_fail` |
| `smart-attribute-failing` | FAIL | a pre-fail attribute at or below its threshold |
| `smart-attribute-failed-before` | WARN | an attribute that reached its threshold in the past |
| `smart-reported-uncorrect` | WARN | Reported_Uncorrect (187) non-zero |
| `smart-crc-errors` | WARN | UDMA_CRC_Error_Count (199): cable or backplane |
| `smart-error-log` | WARN | entries in the error log (NVMe: not the host's own) |
| `smart-history-reset` | WARN | a history signal says reset: logs stamped after the power-on hours, FARM or device |
|  |  | statistics far ahead of SMART's hours, more writes than the hours allow (`history`) |
| `smart-history-forged` | WARN | FARM agrees with SMART but the heads flew far longer, or more hours than weeks since |
|  |  | assembly/manufacture |
| `drive-history` | INFO | the history block: every signal with its evidence and conclusion |
| `smart-seen` | INFO | what the report let burnin read (health, error counters, wear, spare, temperature, logs) |
| `smart-not-reported` | WARN | health or error counters blank, absent, or hidden behind a translation layer or RAID |
| `smart-health-unseen` | WARN | no drive's health could be read in this run (named in the verdict block) |
| `smart-quirk-discounted` | INFO | a value the drive database explains (MX500 197 flipping 0/1, bogus raw values) |
| `smart-drivedb-warning` | WARN (INFO) | smartctl's drive database warns about the model/firmware (INFO: an update may exist) |
| `smart-command-timeouts` | WARN / FAIL | Command_Timeout (188); FAIL above `command_timeout_fail` |
| `smart-reallocation-events` | WARN / FAIL | Reallocated_Event_Count (196); FAIL above `reallocation_events_fail` |
| `scsi-worn-out` | WARN / FAIL | SCSI percentage used endurance indicator at `nvme_used_warn_pct` / `nvme_used_fail_pct` |
| `nvme-critical-warning` | FAIL | NVMe critical warning bits (decoded) |
| `nvme-media-errors` | FAIL | NVMe media and data integrity errors |
| `nvme-worn-out` | WARN / FAIL | Percentage Used at `nvme_used_warn_pct` / `nvme_used_fail_pct` |
| `nvme-spare-low` | FAIL | available spare below the drive's threshold |
| `scsi-grown-defects` | WARN / FAIL | grown defect list; FAIL above `grown_defects_fail` |
| `scsi-uncorrected-errors` | FAIL | uncorrected read/write/verify errors |
| `self-test-failed` | FAIL | the latest (or this run's) self-test failed |
| `smart-counter-grew` | FAIL (INFO, WARN) | a SMART error counter grew during the run (NVMe error log: INFO when the |
|  |  | new entries are all the host's own commands, WARN when they cannot be read) |
| `smart-lost` | FAIL | SMART data at the start of the run, none at its end |
| `smart-not-read` | WARN | smartctl is not installed: health and history unknown |
| `smart-unavailable` | INFO | no SMART on this disk, or smartctl may not open it here |
| `smart-parser-gap` | INFO | a field pySMART missed, taken from smartctl's JSON |
| `smart-json-wrong-type` | INFO | `burnin smart` FILE: a value of the wrong type, left out (the report is |
|  |  | then ERROR, never PASS) |
| `self-test-not-started` | INFO | the drive refused to start the self-test |
| `self-test-no-result` | WARN | a self-test ended without a new log entry |
| `self-test-aborted` | WARN | a self-test that did not complete |
| `self-test-passed` | INFO | a self-test completed without error |
| `self-test-stopped` | INFO | our self-test aborted at the end (`self_test_abort_on_stop`) |
| `self-test-continues` | INFO | a self-test still running in the drive when the run ended |
| `claim-mismatch` / `claim-match` | FAIL / INFO | power-on hours against the claims' `max_power_on_hours` |
| `claim-unchecked` | WARN | a power-on-hours claim that could not be checked |
| `disk-previous-data` | WARN (INFO) | partitions or signatures on a disk (setting `previous_data`) |
| `disk-read-error` | FAIL | a read error in the scan, naming the byte offset and LBA |
| `disk-vanished` | FAIL | a disk that stopped answering during the scan or the writes |
| `disk-read-hung` | WARN | a read that had not returned when the run ended |
| `disk-slow-read` | WARN | single reads slower than `slow_read_s` |
| `disk-slow-region` | WARN | regions slower than `slow_region_fraction` of the median |
| `disk-untested` | WARN | a disk this process may not open while others were read |
| `write-error` | FAIL | an I/O error writing, flushing or reading back (destructive) |
| `write-verify-mismatch` | FAIL | bytes read back differ from those written (destructive) |
| `write-verify-passed` | INFO | every byte written read back as written (destructive) |
| `disk-wiped` | INFO | zeros written and read back, with a `wipe-certificate` note |
| `wipe-incomplete` | WARN | the run ended before the wipe finished |
| `wipe-hidden-area` | WARN | overwritten, but a Host Protected Area hides sectors (`hdparm -N`): no "wiped" certificate |
| `wipe-device-erase-failed` | WARN | the drive's own erase (sanitize, format, security erase) did not report success |
| `wipe-not-erased` | FAIL | after the drive reported its erase done, data written just before it read back unchanged |
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from burnin.host import Host
from burnin.load import ThreadLoad, drive
from burnin.model import Probe, Severity
from burnin.module import Module, ModuleContext, Skip
from burnin.modules.disk.destructive import (
    Destructive, destructive_consent, destructive_refusal, lookup_disk, writable_refusal,
)
from burnin.modules.disk.scan import ReadScan, check_previous_data, data_signatures, slow_regions
from burnin.modules.disk.settings import DiskSettings
from burnin.modules.disk.smart import (
    SavedVerdict, SmartLimits, component_of, counters_of, decode_critical_warning, history_findings,
    judge_reports, judge_smart, smart_absent_reason, smart_counter_growth,
)
from burnin.modules.disk.smart_watch import SelfTestLoad, SmartWatch, Target, match_targets

__all__ = [
    "DiskModule", "DiskSettings", "SavedVerdict", "SmartLimits", "Target", "component_of", "counters_of",
    "data_signatures", "decode_critical_warning", "destructive_consent", "destructive_refusal", "history_findings",
    "judge_reports", "judge_smart", "lookup_disk", "match_targets", "slow_regions", "smart_absent_reason",
    "smart_counter_growth", "writable_refusal",
]


class DiskModule(Module):
    """SMART, counters, self-tests, a read-only scan and previous-data checks; see the module docstring."""

    name = "disk"
    summary = ("SMART health and history of every disk, self-tests, and a read-only O_DIRECT scan (writes only to "
               "a disk named with --destructive)")
    needs = ("root", "smartctl (smartmontools) for SMART")
    stress = True
    Settings = DiskSettings

    def __init__(self, host: Host, settings: Mapping[str, Any] | None = None):
        super().__init__(host, settings)
        self.smart = SmartWatch(host, self.settings)

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
        check_previous_data(ctx, self.host, disks, Severity(self.settings.previous_data))
        errors = self.smart.check(ctx, disks)
        if errors:
            raise RuntimeError("could not read SMART from " + "; ".join(errors))
        if self.smart.skip:
            raise Skip(f"SMART: {self.smart.skip}")

    # -- run -----------------------------------------------------------------------------------
    def run(self, ctx: ModuleContext) -> None:
        if ctx.inventory is None:
            raise Skip("no inventory was collected, so the disks are not known")
        if self.smart.reader is not None:
            self.smart.reader.use(ctx.run_tool)
        self.smart.start_self_tests(ctx)
        destructive = Destructive(self.host, self.settings)
        errors = destructive.plan(ctx)
        scan = ReadScan(self.host, self.settings)
        scanners = scan.plan(ctx, [d for d in ctx.inventory.disks if d.dev_path not in destructive.devices])
        active_tests = [t for t in self.smart.targets if t.self_test is not None]
        if not scanners and not active_tests and not destructive.jobs:
            if errors:
                raise RuntimeError("read scan could not start: " + "; ".join(errors))
            raise Skip("nothing to do: the read scan and self-tests are off or have no disk")

        def tick() -> None:
            scan.report_events(ctx)
            self.smart.poll_self_tests(ctx)

        # Until every load ended by itself (a single pass, the writes done, the self-tests finished) or the run
        # phase ends; then each is stopped the one way (burnin.load).
        threads = [*destructive.jobs, *scanners]
        loads = [ThreadLoad(t.name, t, t.stop_event, t.metrics) for t in threads]
        drive(ctx, [*loads, *([SelfTestLoad(self.smart)] if active_tests else [])],
              interval_s=self.settings.sample_interval_s, tick=tick)
        errors += destructive.judge(ctx)
        problems, refused = scan.judge(ctx)
        errors += problems
        if errors:
            raise RuntimeError("read scan: " + "; ".join(errors))
        if refused and len(refused) == len(scanners) and not active_tests and not destructive.jobs:
            raise Skip("read scan: no disk may be opened here (" + "; ".join(why for _, why in refused) + ")")
        for disk, why in refused:
            ctx.warn(component_of(disk.dev_path, disk.serial), "disk-untested",
                     f"{disk.dev_path} was not read: this process may not open it (a container or device policy).",
                     {"reason": why})

    # -- finish --------------------------------------------------------------------------------
    def finish(self, ctx: ModuleContext) -> None:
        self.smart.finish(ctx)
