"""SMART over a run: which drives to ask (`match_targets`), the baseline read in check(), self-tests started
and watched in run(), and the second read in finish() judged against the baseline.

The judging itself is `burnin.modules.disk.smart`; every smartctl call goes through `burnin.tools.smart`
(pySMART and smartctl's JSON) and the context's `run_tool`.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from burnin.host import Host
from burnin.inventory.disks import Disk
from burnin.judge import Reported
from burnin.module import ModuleContext, Skip
from burnin.modules.disk.history import FORGED, RESET, Slack, history_signals
from burnin.modules.disk.quirks import knowledge_of
from burnin.modules.disk.seen import seen_of
from burnin.modules.disk.settings import DiskSettings
from burnin.modules.disk.smart import (
    SmartLimits, component_of, counters_of, judge_smart, smart_absent_reason, smart_counter_growth,
)
from burnin.tools import smart as smart_tool
from burnin.tools.smart import ScanEntry, SmartReport


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
    reported: Reported = field(default_factory=Reported)  # judged in check(): again in finish() only if worse
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


class SelfTestLoad:
    """The self-tests as a load: the drives' firmware does the work; this runs (and keeps the run phase's loop
    going) while one is being watched. The module polls them in its tick (`SmartWatch.poll_self_tests`)."""

    name = "smart self-tests"

    def __init__(self, watch: "SmartWatch"):
        self.watch = watch
        self._stopped = threading.Event()

    def start(self) -> None:
        pass

    def poll(self, timeout: float) -> bool:
        if timeout > 0 and self.watch.testing:
            self._stopped.wait(timeout)
        return self.watch.testing and not self._stopped.is_set()

    def metrics(self) -> dict[str, float]:
        return {}

    def stop(self) -> None:
        self._stopped.set()  # the self-test goes on in the drive; finish() says so, or aborts it

    def kill(self) -> None:
        pass

    def close(self) -> None:
        pass


class SmartWatch:
    """The SMART part of the disk module over one run: its drives, their baselines and self-tests."""

    def __init__(self, host: Host, settings: DiskSettings):
        self.host = host
        self.settings = settings
        self.reader: smart_tool.SmartReader | None = None
        self.targets: list[Target] = []
        self.skip = ""  # why SMART was not read at all

    @property
    def testing(self) -> bool:
        """A self-test is still being watched."""
        return any(t.self_test is not None and t.self_test.remaining_pct != -1 for t in self.targets)

    def check(self, ctx: ModuleContext, disks: Sequence[Disk]) -> list[str]:
        """Read and judge every drive's SMART, keep it as the baseline; what could not be read, for an ERROR."""
        if not self.host.live:
            self.skip = f"analysing a captured tree ({self.host.root}): no drives to ask"
            return []
        if not self.host.which(smart_tool.SMARTCTL):
            self.skip = "smartctl is not installed"
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
        self.reader = smart_tool.SmartReader(ctx.run_tool)
        ctx.note("SMART through pySMART, with smartctl's JSON for what pySMART lacks",
                 pysmart=smart_tool.pysmart_version())
        try:
            entries = self.reader.scan()
        except Exception as exc:  # noqa: BLE001 - discovery failing must not hide the inventory's disks
            ctx.note(f"smartctl --scan-open failed ({type(exc).__name__}: {exc}); reading the inventory's disks")
            entries = []
        # The live stick (the inventory knows it: burnin.inventory.disks) is no server disk, whatever smartctl lists.
        boot_media = {d.dev_path for d in getattr(ctx.inventory, "boot_media", ())}
        entries = [e for e in entries if e.name not in boot_media]
        self.targets = match_targets(disks, entries)
        if not self.targets:
            self.skip = "no disks found"
            return []
        errors: list[str] = []
        hours: dict[str, int] = {}
        seen_serials: dict[str, str] = {}
        judged = unseen = 0
        for target in self.targets:
            if ctx.stopping():
                errors.append(f"{target.label}: not read, the check phase ran out of time")
                continue
            reading = self.reader.read(target.name, target.dev_type)
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
                unseen += bool(seen_of(report).essential_missing or seen_of(report).blank)
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
        if judged and judged == unseen:
            # Every drive answered, none with its health: the run must not read as "disks fine"
            ctx.warn("disk", "smart-health-unseen",
                     f"No drive's health could be read ({judged} drive(s) answered, every one with its health or "
                     "error counters blank or hidden): disk health is unknown.",
                     {"drives": [t.label for t in self.targets if t.baseline is not None]})
        if not judged and not errors:
            self.skip = "no disk here can give SMART data (" + ", ".join(t.label for t in self.targets) + ")"
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
        for judgement in judge_smart(report, target.component, SmartLimits.of(self.settings)):
            if target.reported.should_report(judgement):
                ctx.report(judgement)
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
        if any(c.new for c in claims.disks):
            self._check_new_claim(ctx)
        if not any(c.max_power_on_hours is not None or c.new for c in claims.disks):
            return
        from burnin.inventory.claims import check_claims

        for check in check_claims(claims, ctx.inventory, power_on_hours=hours):
            if check.key.endswith("max_power_on_hours"):
                f = check.finding()
                ctx.finding(f.severity, f.component, f.code, f.message, f.evidence)

    def _check_new_claim(self, ctx: ModuleContext) -> None:
        """Drives sold as new (`disks.new = true`) whose own records say they lived before: FAIL claim-mismatch."""
        slack = Slack(self.settings.history_slack_h, self.settings.history_slack_pct)
        for target in self.targets:
            if target.baseline is None:
                continue
            signals = history_signals(target.baseline, knowledge_of(target.baseline).untrusted_log_hours, slack)
            used = [s for s in signals if s.conclusion in (RESET, FORGED)]
            if used:
                ctx.fail(target.component, "claim-mismatch",
                         f"{target.label} was sold as new, but its history says otherwise: "
                         + "; ".join(f"{s.name}: {s.says}" for s in used) + ".",
                         {"claim": "disks.new", "expected": True, "signals": [s.to_record() for s in used]})

    # -- run -----------------------------------------------------------------------------------
    def start_self_tests(self, ctx: ModuleContext) -> None:
        kind = self.settings.self_test
        if kind == "none" or self.reader is None:
            return
        for target in self.targets:
            report = target.baseline
            if report is None or target.device is None or not report.smart_available:
                continue
            try:
                if report.self_test_running:
                    status, message = "running", "a self-test was already running"
                else:
                    status, message = self.reader.start_self_test(target.device, kind)
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

    def poll_self_tests(self, ctx: ModuleContext, force: bool = False) -> None:
        poll_s = self.settings.self_test_poll_s
        metrics = {}
        for target in self.targets:
            run = target.self_test
            if run is None or run.remaining_pct == -1 or target.device is None:
                continue
            if not force and time.monotonic() - run.last_poll < poll_s:
                continue
            run.last_poll = time.monotonic()
            try:
                target.device.update()
                report = smart_tool.report_from_pysmart(
                    target.device, self.reader.smartctl.texts.get(target.device.dev_reference, []) if self.reader
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
        """Read SMART again: counters against the baseline, health again, self-test results."""
        targets = [t for t in self.targets if t.baseline is not None]
        if self.reader is None or not targets:
            raise Skip(f"SMART: {self.skip or 'no drive gave SMART data in check()'}")
        self.reader.use(ctx.run_tool)
        limits = SmartLimits.of(self.settings)
        errors = []
        for target in targets:
            if ctx.stopping():
                errors.append(f"{target.label}: not read again, the finish phase ran out of time")
                continue
            reading = self.reader.read(target.name, target.dev_type)
            report = reading.report
            if report is None or not report.has_smart_data:
                ctx.fail(target.component, "smart-lost",
                         f"{target.label} gave SMART data at the start of the run but none at its end.",
                         {"problems": reading.problems})
                continue
            target.device = reading.device or target.device
            for judgement in smart_counter_growth(target.baseline, report, target.component, target.label):
                ctx.report(judgement)
            for judgement in judge_smart(report, target.component, limits):
                # a self-test that failed during the run is judged from the run's own test
                if judgement.code != "self-test-failed" and target.reported.should_report(judgement):
                    ctx.report(judgement)
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
        if self.settings.self_test_abort_on_stop and run.ours and self.reader and target.device is not None:
            aborted = False
            try:
                aborted = self.reader.abort_self_test(target.device)
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
