"""The disk module's SMART phases with smartctl's real outputs replayed through the host layer (discovery behind
RAID, pySMART gaps filled from JSON, counters that grow, self-tests), and the module on this machine."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import pytest

from burnin.host import CommandResult, Host
from burnin.inventory import collect
from burnin.inventory.claims import parse_claims
from burnin.inventory.disks import Disk
from burnin.model import Severity
from burnin.module import Skip
from burnin.modules.disk import DiskModule, match_targets
from burnin.testing import RecordingContext
from burnin.tools.smart import ScanEntry, json_argv

DATA = Path(__file__).parent / "data" / "smart"


def text(name: str) -> str:
    return (DATA / "text" / name).read_text(encoding="utf-8", errors="replace")


def capture(name: str) -> str:
    return (DATA / "json" / name).read_text()


class ReplayHost(Host):
    """The live host as far as the module can tell, with smartctl's answers replayed from captures.
    Unknown calls get what smartctl prints for an unsupported request: nothing, exit status 1."""

    def __init__(self, answers: dict[tuple[str, ...], str | Callable[[], CommandResult] | CommandResult]):
        super().__init__("/")
        self.answers = answers
        self.calls: list[tuple[str, ...]] = []

    def which(self, tool: str) -> str | None:
        return f"/usr/sbin/{tool}" if tool == "smartctl" else None

    def run(self, argv, timeout=30.0, input=None) -> CommandResult:
        argv = tuple(str(a) for a in argv)
        self.calls.append(argv)
        answer = self.answers.get(argv)
        if callable(answer):
            return answer()
        if isinstance(answer, CommandResult):
            return answer
        if answer is None:
            return CommandResult(argv, 1, "", "", 0.0)
        return CommandResult(argv, 0, answer, "", 0.01)


def disk(name: str, serial: str | None = None, transport: str = "SATA", **more) -> Disk:
    fields = dict(name=name, dev_path=f"/dev/{name}", model=None, vendor=None, serial=serial, wwn=None,
                  firmware=None, size_bytes=10**12, transport=transport, rotational=False, removable=False,
                  sysfs_path=f"/sys/devices/x/{name}", pci_address=None, partitions=(), holders=(), mountpoints=(),
                  system=True)  # system: the previous-data check leaves these (absent) devices alone
    fields.update(more)
    return Disk(**fields)


def phases(module, ctx, *names, seconds=10.0) -> dict[str, str]:
    outcome = {}
    for phase in names:
        ctx.phase, ctx.deadline = phase, time.monotonic() + seconds
        try:
            getattr(module, phase)(ctx)
            outcome[phase] = "ok"
        except Skip as exc:
            outcome[phase] = f"skip: {exc}"
        except RuntimeError as exc:
            outcome[phase] = f"error: {exc}"
    return outcome


NOTES = {"smart-seen", "drive-history", "smart-drivedb-warning"}  # per-drive notes (what was read, the history block): tested in test_disk_history


def of(ctx, severity=None) -> set[tuple[str, str, str]]:
    return {(f.severity.value, f.code, f.component) for f in ctx.findings
            if (severity is None or f.severity.value == severity) and f.code not in NOTES}


# -- discovery -------------------------------------------------------------------------------------
def test_targets_pair_namespaces_with_their_controller_and_keep_drives_behind_raid():
    entries = [ScanEntry("/dev/nvme0", "nvme"), ScanEntry("/dev/sda", "sat"), ScanEntry("/dev/sdc", "scsi"),
               ScanEntry("/dev/bus/0", "megaraid,16"), ScanEntry("/dev/sdc", "megaraid,17")]
    disks = [disk("nvme0n1", transport="NVMe"), disk("nvme0n2", transport="NVMe"), disk("sda"), disk("sdb"),
             disk("sdc", transport="SCSI")]
    targets = match_targets(disks, entries)
    assert [(t.label, t.dev_type, t.disk.name if t.disk else None, t.sample_id) for t in targets] == [
        ("/dev/nvme0n1", "nvme", "nvme0n1", "nvme0n1"),  # read through its controller, once for both namespaces
        ("/dev/sda", "sat", "sda", "sda"),
        ("/dev/sdb", None, "sdb", "sdb"),  # not in the scan: still read, smartctl says why if it cannot
        ("/dev/sdc", "scsi", "sdc", "sdc"),  # a RAID volume...
        ("/dev/bus/0 -d megaraid,16", "megaraid,16", None, "megaraid,16@0"),
        ("/dev/sdc -d megaraid,17", "megaraid,17", None, "megaraid,17@sdc")]  # ...and a drive behind it
    assert targets[0].name == "/dev/nvme0"


def test_every_drive_is_judged_including_the_one_behind_the_raid_controller():
    host = ReplayHost({
        ("smartctl", "--scan-open"): (DATA / "scan" / "linux_multiple_devices.txt").read_text(),
        ("smartctl", "-d", "nvme", "--all", "/dev/nvme0"): text("listing_nvme0.txt"),
        ("smartctl", "-d", "nvme", "--all", "/dev/nvme1"): text("listing_nvme1.txt"),
        ("smartctl", "-d", "sat+megaraid,60", "--all", "/dev/bus/0"): text("megaraid_ph_sata_hdd_1_issue_56.txt"),
    })  # no JSON answers: judged on pySMART's parse alone, and the module says so
    disks = (disk("nvme0n1", transport="NVMe"), disk("nvme1n1", transport="NVMe"))
    module = DiskModule(host, {})
    ctx = RecordingContext("disk", host, inventory=SimpleNamespace(disks=disks))
    assert phases(module, ctx, "check") == {"check": "ok"}
    assert of(ctx, "fail") == of(ctx, "warn") == set()
    read = {n["data"]["disk"]: n["data"] for n in ctx.notes if n["message"].endswith("SMART read")}
    assert set(read) == {"/dev/nvme0n1", "/dev/nvme1n1", "/dev/bus/0 -d sat+megaraid,60"}
    assert read["/dev/bus/0 -d sat+megaraid,60"]["serial"] == "PHYF110005YA480BGN"
    assert read["/dev/bus/0 -d sat+megaraid,60"]["counters"]["reallocated_sectors"] == 0
    assert read["/dev/nvme0n1"]["protocol"] == "NVMe" and read["/dev/nvme0n1"]["power_on_hours"] > 0
    assert any("smartctl printed no JSON" in n["message"] for n in ctx.notes)
    assert {"temp_c:nvme0n1", "power_on_hours:nvme1n1", "temp_c:sat+megaraid,60@0"} <= {
        k for s in ctx.samples for k in s}
    assert ("smartctl", "--json=c", "-x", "-d", "nvme", "/dev/nvme0") in host.calls


def _sat_drive(json_name: str) -> dict:
    """A SATA drive whose text pySMART gets nothing from: everything comes from smartctl's JSON."""
    return {
        ("smartctl", "--scan-open"): "/dev/sda -d sat # /dev/sda [SAT], ATA device\n",
        tuple(json_argv("/dev/sda", "sat")): capture(json_name),
    }


def test_pysmart_gap_is_filled_from_json_and_a_counter_that_grew_fails():
    host = ReplayHost(_sat_drive("ST3500418AS_11.json"))
    module = DiskModule(host, {"self_test": "none"})
    ctx = RecordingContext("disk", host,
                           inventory=SimpleNamespace(disks=(disk("sda", serial="5VM1"),)))
    assert phases(module, ctx, "check") == {"check": "ok"}
    component = "disk:/dev/sda S/N 5VM1"
    assert of(ctx) == {("info", "smart-parser-gap", component), ("warn", "smart-reallocated-sectors", component),
                       ("warn", "smart-command-timeouts", component)}
    gap = next(f for f in ctx.findings if f.code == "smart-parser-gap")
    assert gap.evidence["gaps"] == ["everything (pySMART read no SMART data)"]
    # the end of the run: a later real reading with 304 reallocated sectors stands in for the same drive
    host.answers[tuple(json_argv("/dev/sda", "sat"))] = capture("ST3500418AS_12.json")
    ctx.findings.clear()
    assert phases(module, ctx, "finish") == {"finish": "ok"}
    grew = [f for f in ctx.findings if f.code == "smart-counter-grew"]
    assert [(f.severity, f.component, f.evidence["counter"], f.evidence["before"], f.evidence["after"])
            for f in grew] == [(Severity.FAIL, component, "reallocated_sectors", 1, 304)]


def test_interface_pysmart_cannot_handle_is_judged_from_json_and_said():
    # a USB-NVMe bridge smartctl knows (-d sntjmicron) but pySMART refuses ("Unknown interface")
    host = ReplayHost({
        ("smartctl", "--scan-open"): "/dev/sdb -d sntjmicron # /dev/sdb [USB NVMe JMicron], NVMe device\n",
        tuple(json_argv("/dev/sdb", "sntjmicron")): capture("nvme-null-SAMSUNG_MZWLL3T2HAJQ-00005-nvme0.json"),
    })
    module = DiskModule(host, {})
    ctx = RecordingContext("disk", host,
                           inventory=SimpleNamespace(disks=(disk("sdb", serial="S3", transport="USB"),)))
    assert phases(module, ctx, "check") == {"check": "ok"}
    component = "disk:/dev/sdb S/N S3"
    assert of(ctx) == {("info", "smart-parser-gap", component), ("fail", "smart-health-failed", component),
                       ("fail", "nvme-critical-warning", component)}
    gap = next(f for f in ctx.findings if f.code == "smart-parser-gap")
    assert any("Unknown interface" in p for p in gap.evidence["problems"])


def test_drive_that_smartctl_lists_but_nothing_can_read_is_an_error_naming_it():
    answers = {
        ("smartctl", "--scan-open"): "/dev/sda -d sat # /dev/sda [SAT], ATA device\n"
                                     "/dev/sdb -d sat # /dev/sdb [SAT], ATA device\n",
        tuple(json_argv("/dev/sda", "sat")): capture("ST3500418AS_12.json"),
        tuple(json_argv("/dev/sdb", "sat")): CommandResult(tuple(json_argv("/dev/sdb", "sat")), None, "", "", 60.0,
                                                           timed_out=True, error="timed out after 60 s"),
    }
    host = ReplayHost(answers)
    module = DiskModule(host, {})
    ctx = RecordingContext("disk", host,
                           inventory=SimpleNamespace(disks=(disk("sda"), disk("sdb"))))
    outcome = phases(module, ctx, "check")
    assert outcome["check"].startswith("error:") and "/dev/sdb" in outcome["check"]
    assert "timed out" in outcome["check"]
    assert ("fail", "smart-reallocated-sectors", "disk:/dev/sda S/N REDACTED") in of(ctx)  # still judged


def test_missing_smartctl_skips_smart_with_the_reason():
    class NoSmartctl(ReplayHost):
        def which(self, tool):
            return None

    host = NoSmartctl({})
    module = DiskModule(host, {})
    ctx = RecordingContext("disk", host, inventory=SimpleNamespace(disks=(disk("sda"),)))
    assert phases(module, ctx, "check", "finish") == {"check": "skip: SMART: smartctl is not installed",
                                                      "finish": "skip: SMART: smartctl is not installed"}
    assert host.calls == []
    # Said loudly, once: the drives' health is unknown.
    assert [(f.severity, f.code, f.component) for f in ctx.findings] == [(Severity.WARN, "smart-not-read", "disk")]
    assert ctx.findings[0].evidence["disks"] == ["/dev/sda"]


def test_power_on_hours_are_checked_against_the_claims():
    host = ReplayHost(_sat_drive("ST3500418AS_12.json"))  # 44668 power-on hours
    inventory = replace(collect(LIVE_FOR_INVENTORY), disks=(disk("sda", system=False, size_bytes=500 * 10**9),))
    claims = parse_claims({"disks": {"count": 1, "max_power_on_hours": 20000}})
    module = DiskModule(host, {})
    ctx = RecordingContext("disk", host, inventory=inventory, claims=claims)
    module.smart.check(ctx, inventory.disks)
    [claim] = [f for f in ctx.findings if f.code.startswith("claim-")]
    assert (claim.severity, claim.code, claim.component) == (Severity.FAIL, "claim-mismatch",
                                                             "claim:disks.max_power_on_hours")
    assert claim.evidence["expected"] == 20000 and claim.evidence["found"] == 44668


LIVE_FOR_INVENTORY = Host("/")


# -- self-tests ------------------------------------------------------------------------------------
SELF_TEST_STARTED = """smartctl 7.3 2022-02-28 r5338 [x86_64-linux] (local build)
Copyright (C) 2002-22, Bruce Allen, Christian Franke, www.smartmontools.org

=== START OF OFFLINE IMMEDIATE AND SELF-TEST SECTION ===
Sending command: "Execute SMART Short self-test routine immediately in off-line mode".
Drive command "Execute SMART Short self-test routine immediately in off-line mode" successful.
Testing has begun.
Please wait 1 minutes for test to complete.
Test will complete after Mon Jan  1 00:01:00 2024
"""  # the lines smartctl prints when it starts a test (smartmontools ataprint.cpp)


def _running(report: str, remaining: int) -> str:
    """The drive's real report, as it reads while a short self-test runs (execution status edited)."""
    return report.replace(
        "Self-test execution status:      (   0)\tThe previous self-test routine completed\n"
        "\t\t\t\t\twithout error or no self-test has ever \n\t\t\t\t\tbeen run.",
        f"Self-test execution status:      ( 249)\tSelf-test routine in progress...\n"
        f"\t\t\t\t\t{remaining}% of test remaining.")


def _logged(report: str, status: str, lba: str) -> str:
    """The drive's real report with one more (newest) entry in its self-test log."""
    return report.replace("# 1  Extended offline    Completed without error       00%      1284         -",
                          f"# 1  Short offline       {status:<29} 90%      1380         {lba}\n"
                          "# 2  Extended offline    Completed without error       00%      1284         -").replace(
        "# 2  Short offline       Completed without error       00%      1281",
        "# 3  Short offline       Completed without error       00%      1281")


def _self_test_host() -> tuple[ReplayHost, str]:
    report = text("sat_hdd_0_issue70.txt")
    assert "Self-test execution status:      (   0)" in report and _running(report, 90) != report
    all_argv = ("smartctl", "-d", "sat", "--all", "/dev/sda")
    host = ReplayHost({("smartctl", "--scan-open"): "/dev/sda -d sat # /dev/sda [SAT], ATA device\n",
                       all_argv: report,
                       ("smartctl", "-d", "sat", "-t", "short", "/dev/sda"): SELF_TEST_STARTED})
    return host, report


def test_short_self_test_is_started_followed_and_its_failure_named():
    host, report = _self_test_host()
    all_argv = ("smartctl", "-d", "sat", "--all", "/dev/sda")
    module = DiskModule(host, {"self_test": "short", "scan": "none", "self_test_poll_s": 0.0,
                               "sample_interval_s": 0.05})
    ctx = RecordingContext("disk", host,
                           inventory=SimpleNamespace(disks=(disk("sda", serial="WS10SM2A"),)))
    assert phases(module, ctx, "check") == {"check": "ok"}
    # pySMART reads the drive once more before it starts a test, then the module polls it
    polls = iter([report, _running(report, 90), _running(report, 40),
                  _logged(report, "Completed: read failure", "81604")])
    host.answers[all_argv] = lambda: CommandResult(all_argv, 0, next(polls, _logged(
        report, "Completed: read failure", "81604")), "", 0.01)
    assert phases(module, ctx, "run", seconds=5) == {"run": "ok"}
    assert ("smartctl", "-d", "sat", "-t", "short", "/dev/sda") in host.calls
    progress = [s["self_test_remaining_pct:sda"] for s in ctx.samples if "self_test_remaining_pct:sda" in s]
    assert progress[:2] == [90, 40]
    [failed] = [f for f in ctx.findings if f.code == "self-test-failed"]
    assert failed.severity is Severity.FAIL and failed.evidence["lba"] == 81604
    assert failed.component == "disk:/dev/sda S/N WS10SM2A" and "read failure" in failed.message


def test_a_running_self_test_is_watched_not_restarted_and_said_to_go_on_in_firmware():
    host, report = _self_test_host()
    all_argv = ("smartctl", "-d", "sat", "--all", "/dev/sda")
    host.answers[all_argv] = _running(report, 70)  # someone else's test runs already
    module = DiskModule(host, {"self_test": "short", "scan": "none", "self_test_poll_s": 0.0,
                               "sample_interval_s": 0.05})
    ctx = RecordingContext("disk", host, inventory=SimpleNamespace(disks=(disk("sda"),)))
    assert phases(module, ctx, "check") == {"check": "ok"}
    assert phases(module, ctx, "run", seconds=0.3) == {"run": "ok"}
    assert phases(module, ctx, "finish") == {"finish": "ok"}
    assert not any("-t" in call for call in host.calls)
    assert any("already running" in n["message"] for n in ctx.notes)
    [goes_on] = [f for f in ctx.findings if f.code == "self-test-continues"]
    assert goes_on.severity is Severity.INFO and "firmware" in goes_on.message
    assert goes_on.evidence["remaining_pct"] == 70


def test_self_test_still_running_at_the_end_is_aborted_when_the_profile_says_so():
    host, report = _self_test_host()
    all_argv = ("smartctl", "-d", "sat", "--all", "/dev/sda")
    module = DiskModule(host, {"self_test": "short", "scan": "none", "self_test_poll_s": 0.0,
                               "self_test_abort_on_stop": True, "sample_interval_s": 0.05})
    ctx = RecordingContext("disk", host, inventory=SimpleNamespace(disks=(disk("sda"),)))
    assert phases(module, ctx, "check") == {"check": "ok"}
    answers = iter([report])  # idle when pySMART looks before starting the test, running from then on
    host.answers[all_argv] = lambda: CommandResult(all_argv, 0, next(answers, _running(report, 90)), "", 0.01)
    host.answers[("smartctl", "-d", "sat", "-X", "/dev/sda")] = "Self-testing aborted!\n"
    assert phases(module, ctx, "run", seconds=0.3) == {"run": "ok"}
    assert phases(module, ctx, "finish") == {"finish": "ok"}
    assert ("smartctl", "-d", "sat", "-X", "/dev/sda") in host.calls
    [stopped] = [f for f in ctx.findings if f.code == "self-test-stopped"]
    assert stopped.evidence == {"remaining_pct": 90, "aborted": True}


# -- this machine ----------------------------------------------------------------------------------
def test_module_on_this_machine_gives_no_false_failure():
    host = Host("/")
    module = DiskModule(host, {"sample_mib": 16, "sample_interval_s": 0.2, "self_test": "none"})
    if not module.probe().available:
        pytest.skip(module.probe().reason)
    inventory = collect(host)
    ctx = RecordingContext("disk", host, inventory=inventory)
    outcome = phases(module, ctx, "check", "run", "finish", seconds=3)
    assert of(ctx, "fail") == set(), ctx.findings
    assert not any(v.startswith("error") for v in outcome.values()), outcome
    for target in ctx.findings:
        assert target.code in {"smart-unavailable", "smart-parser-gap", "disk-previous-data", "disk-untested",
                               "self-test-not-started"} or target.severity is not Severity.FAIL
    if any(f.code == "smart-unavailable" for f in ctx.findings):  # e.g. a VM's virtio disk: said, not passed
        unavailable = next(f for f in ctx.findings if f.code == "smart-unavailable")
        assert unavailable.severity is Severity.INFO and unavailable.component.startswith("disk:/dev/")


def test_a_disk_sold_as_new_fails_on_its_hours_and_on_a_history_reset():
    # issue 17: `disks.new = true`; the drive's FARM log (synthesized, tests/data/smart/SOURCE.md) says SMART was reset
    farm = (DATA / "synthesized" / "farm-smart-reset.json").read_text()
    host = ReplayHost({("smartctl", "--scan-open"): "/dev/sda -d sat # /dev/sda [SAT], ATA device\n",
                       tuple(json_argv("/dev/sda", "sat")): farm})
    inventory = replace(collect(LIVE_FOR_INVENTORY), disks=(disk("sda", system=False, size_bytes=16 * 10**12),))
    claims = parse_claims({"disks": {"count": 1, "new": True}})
    module = DiskModule(host, {})
    ctx = RecordingContext("disk", host, inventory=inventory, claims=claims)
    module.smart.check(ctx, inventory.disks)
    mismatches = {(f.component, f.evidence.get("claim") or f.evidence.get("expected")) for f in ctx.findings
                  if f.code == "claim-mismatch"}
    assert ("disk:/dev/sda S/N REDACTED", "disks.new") in mismatches  # the history
    assert ("claim:disks.max_power_on_hours", 72) in mismatches  # 13,114 power-on hours is not new


def test_a_run_where_no_drive_health_could_be_read_says_so_and_the_verdict_block_names_it():
    # issue 17: an NVMe drive whose controller answers with an all-zero health log (synthesized from a real capture)
    blank = (DATA / "synthesized" / "nvme-blank-health-log.json").read_text()
    host = ReplayHost({("smartctl", "--scan-open"): "/dev/nvme0 -d nvme # /dev/nvme0, NVMe device\n",
                       tuple(json_argv("/dev/nvme0", "nvme")): blank})
    module = DiskModule(host, {"self_test": "none"})
    ctx = RecordingContext("disk", host, inventory=SimpleNamespace(disks=(disk("nvme0n1", transport="NVMe"),)))
    assert phases(module, ctx, "check") == {"check": "ok"}
    assert ("warn", "smart-health-unseen", "disk") in of(ctx)
    assert any(f.code == "smart-not-reported" and f.evidence["blank"] for f in ctx.findings)
    from burnin.coverage import unseen_areas

    [area] = unseen_areas(ctx.findings)
    assert (area.module, area.verdict) == ("disk", "not seen") and "health is unknown" in area.reason
