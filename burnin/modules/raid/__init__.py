"""RAID: Linux software RAID arrays and hardware RAID controllers: their state before, during and after the run.

Software RAID (/proc/mdstat, /sys/block/mdX/md/, read-only; burnin never assembles, starts or writes an array):
every array with its level, members and state. check() judges each; run() reads them again every
`md_interval_s` (a member failed mid-run is reported within seconds); finish() judges again and compares each
member's corrected read errors (`dev-X/errors`) with the baseline. Members are named with their disk's serial
(from the inventory). The live image does not assemble arrays: arrays whose md superblocks are on the disks but
that are not running are listed from `mdadm --examine --scan --verbose` (read-only: it opens the disks read-only
and assembles nothing) and said to be not examined (`md-array-not-assembled`).

Hardware RAID, through the vendor's own tool where one is installed (on PATH, or in the `tools/` folder of the
live stick's BURNIN partition: setting `tool_dirs`): storcli/storcli64 and perccli/perccli64 (JSON: `/call show
all J`, `/call/vall show all J`, `/call/eall/sall show all J`), ssacli (`ctrl all show config`, `ctrl all show
status`), arcconf (`getconfig N`), sas2ircu/sas3ircu (`LIST`, `N DISPLAY`). Judged: controller status; the cache
battery / CacheVault / Energy Pack (failed FAILs; learning, charging, low capacitance WARN); virtual drives set to
write-back running write-through; virtual drives degraded, partially degraded, offline, failed or rebuilding (with
progress); physical drives failed, unconfigured bad, offline, missing or rebuilding, their predictive-failure
flag and media/other error counts; a foreign configuration (an old owner's array) on any drive; the controller's
cache memory error counters; the tool's own warnings. Counters that grow during the run FAIL. The controllers'
event log is not read here: megaraid_sas prints the controller's critical and fatal events into the kernel log,
where the kernel-log module judges them.

Without the vendor tool: the kernel's view (scsi_host and SCSI device sysfs of megaraid_sas, hpsa, smartpqi,
aacraid and mpt2sas/mpt3sas): the controller, its PCI address, firmware where the driver shows it, the volumes the
OS sees and their state (an offline volume FAILs), and a `raid-not-examined` finding saying what could not be
seen (severity: setting `unexamined`) — never a silent PASS.

SCSI enclosure services (a disk shelf's or backplane's fans, power supplies, temperatures, slots): every SES device
the kernel lists (/sys/class/scsi_generic, type 13) is read with `sg_ses --page=es` (sg3-utils) in check() and
finish(): a critical or unrecoverable element, or one with a fail bit, FAILs; a non-critical one or a warning bit
(predicted failure, over-temperature warning) WARNs. Without sg_ses the enclosures are noted as not examined.

Claims (`--expect`): `raid.controller` (model, substring or /regex/), `raid.cache_mb`, `raid.battery` (true: a
working cache battery/CacheVault was promised; missing or failed FAILs).

| code | severity | when |
|---|---|---|
| `md-array-degraded` | FAIL | a software RAID array with members missing and no rebuild running |
| `md-member-failed` | FAIL | an array member marked faulty (F), or with write errors |
| `md-array-inactive` | FAIL | an array that is not running (not an IMSM/DDF container) |
| `md-array-recovering` | WARN | a degraded array rebuilding onto a spare, with its progress |
| `md-array-resync` | WARN | an array resynchronising its members, with its progress |
| `md-mismatch` | WARN | the last check found sectors whose copies differ (mismatch_cnt) |
| `md-member-errors` | WARN | read errors corrected on a member during the run |
| `md-array-not-assembled` | INFO | md superblocks on the disks describe an array that is not running here |
| `raid-controller-status` | WARN / FAIL | the controller's status is not optimal (FAIL: failed/fault) |
| `raid-battery-failed` | FAIL | the cache battery / CacheVault reports failed, missing or replace |
| `raid-battery-degraded` | WARN | the battery is learning, charging, low or otherwise not optimal |
| `raid-cache-write-through` | WARN | a VD set to write-back runs write-through (cache turned off) |
| `raid-vd-degraded` | FAIL | a virtual drive degraded or partially degraded |
| `raid-vd-failed` | FAIL | a virtual drive offline or failed |
| `raid-vd-rebuilding` | WARN | a virtual drive rebuilding, with progress where the tool says |
| `raid-vd-state-unknown` | WARN | a virtual drive state burnin does not know |
| `raid-pd-failed` | FAIL | a physical drive failed, unconfigured bad, offline or missing |
| `raid-pd-rebuilding` | WARN | a physical drive being rebuilt |
| `raid-pd-predictive-failure` | FAIL | a drive's predictive-failure count or S.M.A.R.T. alert |
| `raid-pd-errors` | WARN | media or other errors counted on a drive before the run |
| `raid-foreign-config` | WARN | drives carrying a foreign configuration (another owner's array) |
| `raid-controller-memory-errors` | WARN / FAIL | cache memory errors (FAIL: uncorrectable) |
| `raid-controller-warning` | WARN | the vendor tool's own warning about the controller |
| `raid-counter-grew` | FAIL | a controller or drive error counter grew during the run |
| `raid-controller-vanished` | FAIL | a controller that answered before the run does not after it |
| `raid-tool-failed` | WARN | a vendor tool is installed but gave nothing readable |
| `raid-volume-offline` | FAIL | the kernel sees a volume behind a RAID controller offline |
| `raid-not-examined` | WARN (`unexamined`) | a RAID controller without its vendor tool: what was not seen |
| `ses-element-failed` | FAIL | an enclosure element (PSU, fan, sensor, slot) critical, unrecoverable or failed |
| `ses-element-warning` | WARN | an enclosure element non-critical, predicting failure or over a warning limit |
| `claim-mismatch` / `claim-match` | FAIL / INFO | the raid claims against what the tools and kernel show |
| `claim-unchecked` | WARN | a raid claim that could not be checked (no vendor tool) |

Nothing to look at (no /proc/mdstat arrays, no RAID driver bound, no vendor tool) -> probe unavailable. Under
--sysroot: /proc/mdstat and sysfs from the tree, the tools' outputs replayed where `burnin capture` recorded them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping

from burnin.judge import Reported
from burnin.model import Judgement, Probe, Severity
from burnin.module import Module, ModuleContext, Skip
from burnin.modules.raid import judge, sources
from burnin.modules.raid.judge import judge_controller, judge_growth, judge_md, judge_md_errors, judge_ses
from burnin.modules.raid.sources import KernelController, ToolReading
from burnin.settings import setting
from burnin.tools import mdstat, sg_ses
from burnin.tools.raid_records import Controller

__all__ = ["RaidModule", "RaidSettings", "judge_claims", "judge_controller", "judge_growth", "judge_md",
           "judge_unexamined"]

# What the vendor tool shows that the kernel does not, in a buyer's words.
NOT_SEEN = ("the controller's own status", "the cache battery or CacheVault", "the arrays' (virtual drives') state",
            "the physical drives' error counts and states", "foreign configurations (a previous owner's arrays)",
            "the cache memory error counters")
DOWNLOAD = {"storcli": "storcli64 (broadcom.com, 'StorCLI')", "perccli": "perccli64 (dell.com, 'PERCCLI')",
            "ssacli": "ssacli (hpe.com, 'HPE Smart Storage Administrator CLI')",
            "arcconf": "arcconf (microchip.com, 'ARCCONF command line utility')",
            "sas3ircu": "sas3ircu (broadcom.com, 'SAS3IRCU')", "sas2ircu": "sas2ircu (broadcom.com, 'SAS2IRCU')"}


@dataclass(frozen=True)
class RaidSettings:
    md_interval_s: float = setting(2.0, "how often software RAID state is read during the run", unit="s")
    tool_interval_s: float = setting(60.0, "how often the vendor tools are asked during the run", unit="s")
    tool_timeout_s: float = setting(120.0, "time allowed for one vendor tool call (storcli on a big controller "
                                    "takes a while)", unit="s")
    tool_dirs: tuple[str, ...] = setting((sources.STICK_TOOLS,), "folders searched for the vendor tools after PATH "
                                         "(the live stick's tools/ folder)")
    unexamined: str = setting("warn", "severity of a RAID controller whose vendor tool is not installed",
                              choices=("info", "warn", "fail"))


def judge_unexamined(kc: KernelController, severity: Severity) -> Judgement:
    tools = " or ".join(DOWNLOAD[t] for t in sources.RAID_DRIVERS[kc.driver][1] if t in DOWNLOAD)
    volumes = [f"{d.block or d.address} ({(d.vendor or '').strip()} {(d.model or '').strip()}".rstrip() + ")"
               for d in kc.devices]
    return Judgement(severity, f"raid:{kc.pci_address or kc.host}", "raid-not-examined",
                     f"{kc.describe()}: its vendor tool is not installed, so {', '.join(NOT_SEEN)} were not "
                     f"examined; only what the kernel shows was (volumes: {', '.join(volumes) or 'none'}). "
                     f"Put {tools} on the stick's tools/ folder to examine it.",
                     {"driver": kc.driver, "host": kc.host, "pci_address": kc.pci_address,
                      "attributes": dict(kc.attributes), "volumes": volumes, "not_examined": list(NOT_SEEN)})


def judge_kernel(kc: KernelController) -> list[Judgement]:
    found = []
    for d in kc.devices:
        if d.state and d.state not in ("running", "created"):
            found.append(Judgement(Severity.FAIL, f"raid:{kc.pci_address or kc.host}/{d.address}",
                                   "raid-volume-offline",
                                   f"{kc.describe()}: the kernel sees {d.block or d.address} "
                                   f"({(d.model or '').strip()}) {d.state}.",
                                   {"device": d.address, "state": d.state, "block": d.block, "model": d.model}))
    lockup = kc.attributes.get("lockup_detected")
    if lockup and lockup not in ("0", "0x0"):
        found.append(Judgement(Severity.FAIL, f"raid:{kc.pci_address or kc.host}", "raid-controller-status",
                               f"{kc.describe()}: the driver detected a controller lockup ({lockup}).",
                               {"lockup_detected": lockup, "driver": kc.driver}))
    return found


def judge_claims(claims: Any, controllers: list[Controller], kernel: list[KernelController]) -> list[Judgement]:
    """`raid.controller`, `raid.cache_mb`, `raid.battery` against the controllers the tools (or kernel) show."""
    if claims is None or (not controllers and not kernel):
        return []  # no RAID controller at all: the inventory module fails the claims (the raid module may not run)
    found = []

    def claim(key: str, ok: bool | None, message: str, expected: Any, seen: Any) -> None:
        severity, code = {True: (Severity.INFO, "claim-match"), False: (Severity.FAIL, "claim-mismatch"),
                          None: (Severity.WARN, "claim-unchecked")}[ok]
        found.append(Judgement(severity, f"claim:{key}", code, message,
                               {"expected": str(expected) if not isinstance(expected, (bool, int)) else expected,
                                "found": seen}))

    model = claims.get("raid.controller")
    if model is not None:
        names = [c.model for c in controllers if c.model] or \
            [kc.attributes.get("board_name") or kc.attributes.get("model") or kc.family for kc in kernel]
        if names:
            ok = any(model.matches(n) for n in names)
            if not ok and not controllers:
                claim("raid.controller", None, f"The kernel shows {', '.join(names)}; without the vendor tool the "
                      f"exact model ({model}) cannot be confirmed.", model, names)
            else:
                claim("raid.controller", ok, f"RAID controller(s): {', '.join(names)}"
                      + (", as claimed." if ok else f", but {model} was claimed."), model, names)
    cache = claims.get("raid.cache_mb")
    if cache is not None:
        sizes = [c.cache_mb for c in controllers if c.cache_mb is not None]
        if not sizes:
            claim("raid.cache_mb", None, "The controller's cache size is not known here (it needs the vendor tool).",
                  cache, None)
        else:
            ok = max(sizes) >= cache
            claim("raid.cache_mb", ok, f"Controller cache: {', '.join(f'{s} MB' for s in sizes)}"
                  + (", as claimed." if ok else f", but {cache} MB was claimed."), cache, sizes)
    battery = claims.get("raid.battery")
    if battery is not None:
        known = [c for c in controllers if c.battery is not None]
        if battery is False:
            pass  # nothing promised
        elif not known:
            claim("raid.battery", None, "Whether the controller has a cache battery is not known here (it needs the "
                  "vendor tool).", True, None)
        else:
            good = [c for c in known
                    if c.battery.present and judge.battery_severity(c.battery.state) is not Severity.FAIL]
            states = {c.key: (c.battery.kind, "present" if c.battery.present else "absent", c.battery.state)
                      for c in known}
            claim("raid.battery", bool(good),
                  "A working cache battery/CacheVault is fitted, as claimed." if good else
                  "A cache battery/CacheVault was claimed, but it is "
                  + ("missing." if not any(c.battery.present for c in known) else "failed."), True, states)
    return found


class RaidModule(Module):
    name = "raid"
    summary = "software RAID arrays and RAID controllers: arrays, cache battery, drives, foreign configurations"
    needs = ("/proc/mdstat (software RAID)", "the vendor tool for a hardware RAID controller (storcli/perccli, "
             "ssacli, arcconf, sas2ircu/sas3ircu), else the kernel's view")
    stress = False
    Settings = RaidSettings

    def __init__(self, host, settings: Mapping[str, Any] | None = None):
        super().__init__(host, settings)
        self._reported = Reported()
        self._md_errors: dict[str, dict[str, int | None]] | None = None
        self._controllers: list[Controller] | None = None
        self._tools: dict[str, str] | None = None
        self._checked = False
        self._ses: dict[str, str] = {}

    # -- discovery -------------------------------------------------------------------------------------
    def _find_tools(self) -> dict[str, str]:
        if self._tools is None:
            self._tools = {}
            for family, (names, _) in sources.TOOLS.items():
                path = sources.find_tool(self.host, names, self.settings.tool_dirs)
                if path and path not in self._tools.values():
                    self._tools[family] = path
        return self._tools

    def probe(self) -> Probe:
        try:
            if mdstat.parse_mdstat(self.host.read_text(mdstat.MDSTAT) or ""):
                return Probe.ok()
            if sources.kernel_controllers(self.host):
                return Probe.ok()
            if self._find_tools():
                return Probe.ok()
            if sg_ses.ses_devices(self.host) and self.host.which("sg_ses"):
                return Probe.ok()
            return Probe.unavailable("no software RAID array (/proc/mdstat), no RAID controller driver bound and no "
                                     "RAID vendor tool installed")
        except Exception as exc:  # noqa: BLE001 - probe never raises
            return Probe.unavailable(f"cannot read RAID state: {exc}")

    def _emit(self, ctx: ModuleContext, judgements) -> None:
        for j in judgements:
            if self._reported.should_report(j):
                ctx.report(j)

    # -- software RAID ---------------------------------------------------------------------------------
    def _md(self, ctx: ModuleContext, when: str) -> dict[str, dict[str, int | None]] | None:
        text = self.host.read_text(mdstat.MDSTAT)
        if text is None:
            return None
        serials = {d.name: d.serial for d in getattr(ctx.inventory, "disks", ()) or () if d.serial}
        errors: dict[str, dict[str, int | None]] = {}
        arrays = mdstat.parse_mdstat(text)
        metrics = {}
        for array in arrays:
            sysfs = mdstat.read_sysfs(self.host, array.name)
            self._emit(ctx, judge_md(array, sysfs, serials, lambda d: mdstat.parent_disk(self.host, d)))
            if sysfs is not None:
                errors[array.name] = {d: m.errors for d, m in sysfs.members.items()}
            if array.sync_pct is not None:
                metrics[f"md_sync_pct:{array.name}"] = array.sync_pct
            if array.raid_disks is not None and array.active_disks is not None:
                metrics[f"md_active_members:{array.name}"] = array.active_disks
        if metrics:
            ctx.sample(metrics)
        if when == "check":
            ctx.note("software RAID arrays", arrays={a.name: {"level": a.level, "active": a.active,
                                                              "members": [m.device + (f"({m.flags})" if m.flags else "")
                                                                          for m in a.members],
                                                              "status": a.status_map} for a in arrays})
        return errors

    # -- hardware RAID ---------------------------------------------------------------------------------
    def _read_tools(self, ctx: ModuleContext, details: bool = True) -> tuple[list[Controller], list[str]]:
        controllers, families = [], []

        def run(argv):
            return ctx.run_tool(argv, timeout=self.settings.tool_timeout_s)

        for family, path in self._find_tools().items():
            reader = sources.TOOLS[family][1]
            reading: ToolReading = sources.read_storcli(run, path, family, details) if family in (
                "storcli", "perccli") else reader(run, path)
            for problem in reading.problems:
                self._emit(ctx, [Judgement(Severity.WARN, f"raid-tool:{family}", "raid-tool-failed",
                                           f"{family} ({path}) is installed but gave nothing readable: {problem}",
                                           {"tool": family, "path": path, "problem": problem})])
            controllers += reading.controllers
            families.append(family)
        return controllers, families

    def _kernel_check(self, ctx: ModuleContext, controllers: list[Controller], families: list[str]) -> list:
        kernel = sources.kernel_controllers(self.host)
        covered_pci = {c.pci_address for c in controllers if c.pci_address}
        covered_tools = {c.tool for c in controllers}
        severity = Severity(self.settings.unexamined)
        for kc in kernel:
            ctx.note(f"{kc.describe()} (kernel view)", host=kc.host, driver=kc.driver, pci_address=kc.pci_address,
                     attributes=dict(kc.attributes),
                     devices=[{"address": d.address, "block": d.block, "model": d.model, "state": d.state,
                               "raid_level": d.raid_level} for d in kc.devices])
            self._emit(ctx, judge_kernel(kc))
            tools = sources.RAID_DRIVERS[kc.driver][1]
            seen = kc.pci_address in covered_pci or (not kc.pci_address and any(t in covered_tools for t in tools)) \
                or (kc.driver in ("hpsa", "smartpqi", "aacraid") and any(t in covered_tools for t in tools))
            if not seen and kc.has_volumes:
                self._emit(ctx, [judge_unexamined(kc, severity)])
        return kernel

    def _enclosures(self, ctx: ModuleContext) -> dict[str, str]:
        devices = sg_ses.ses_devices(self.host)
        if devices and not self.host.which("sg_ses"):
            ctx.note("enclosure services devices were not examined: sg_ses (sg3-utils) is not installed",
                     devices=devices)
            return {}
        for device, name in devices.items():
            result = ctx.run_tool(sg_ses.status_argv(device), timeout=self.settings.tool_timeout_s)
            page = sg_ses.parse_status(result.stdout) if result.stdout.strip() else None
            if page is None or not page.elements:
                ctx.note(f"enclosure {name} ({device}): no enclosure status page", error=result.error,
                         stderr=result.stderr[-300:])
                continue
            self._emit(ctx, judge_ses(device, name, page))
            metrics = {f"ses_fan_rpm:{device}/{e.index}": e.rpm for e in page.elements if e.rpm is not None}
            metrics.update({f"ses_temp_c:{device}/{e.index}": e.temperature_c for e in page.elements
                            if e.temperature_c is not None})
            if metrics:
                ctx.sample(metrics)
        return devices

    def _on_disks(self, ctx: ModuleContext) -> None:
        """Arrays described by md superblocks on the disks that are not running: said, not examined."""
        if not self.host.which("mdadm"):
            return
        result = ctx.run_tool(mdstat.examine_scan_argv(), timeout=self.settings.tool_timeout_s)
        running = {m.device for a in mdstat.parse_mdstat(self.host.read_text(mdstat.MDSTAT) or "")
                   for m in a.members}
        for array in mdstat.parse_examine_scan(result.stdout):
            devices = [d.rsplit("/", 1)[-1] for d in array.devices]
            if devices and all(d in running for d in devices):
                continue
            ctx.info(f"md-on-disk:{array.uuid or array.name}", "md-array-not-assembled",
                     f"Software RAID array {array.label or array.name}"
                     + (f" ({array.level}, {array.members} members)" if array.level else "")
                     + f" is on {', '.join(array.devices) or 'the disks'} but not running here: it was not "
                     "examined (burnin does not assemble arrays; an earlier owner's array, or this system does "
                     "not start them).",
                     {"array": array.name, "uuid": array.uuid, "name": array.label, "level": array.level,
                      "devices": list(array.devices)})

    def check(self, ctx: ModuleContext) -> None:
        self._md_errors = self._md(ctx, "check")
        self._on_disks(ctx)
        if self._md_errors is None:
            ctx.note("no /proc/mdstat: the md driver is not loaded, so no software RAID array is running"
                     + ("; arrays on the disks (if any) are not assembled here and were not examined"
                        if self.host.live else ""))
        controllers, families = self._read_tools(ctx)
        self._controllers = controllers
        for c in controllers:
            ctx.note(f"{c.describe()}", tool=c.tool, model=c.model, serial=c.serial, pci_address=c.pci_address,
                     slot=c.slot, firmware=c.firmware, status=c.status, cache_mb=c.cache_mb,
                     battery=None if c.battery is None else {"kind": c.battery.kind, "present": c.battery.present,
                                                             "state": c.battery.state},
                     virtual_drives={vd.id: vd.state for vd in c.virtual_drives},
                     physical_drives={pd.id: pd.state for pd in c.physical_drives})
            self._emit(ctx, judge_controller(c))
        kernel = self._kernel_check(ctx, controllers, families)
        self._ses = self._enclosures(ctx)
        for j in judge_claims(ctx.claims, controllers, kernel):
            ctx.report(j)
        self._checked = True
        if self._md_errors is None and not controllers and not kernel and not self._find_tools() and not self._ses:
            raise Skip("no software RAID array, no RAID controller and no vendor tool here")

    def run(self, ctx: ModuleContext) -> None:
        if not self._checked:
            raise Skip("the RAID state was not read before the run (check did not run)")
        next_tools = time.monotonic() + self.settings.tool_interval_s  # asked again tool_interval_s into the run
        while not ctx.stopping():
            if self._md_errors is not None:
                self._md(ctx, "run")
            if self._controllers and time.monotonic() >= next_tools:
                now, _ = self._read_tools(ctx, details=False)
                for c in now:
                    self._emit(ctx, judge_controller(c))
                next_tools = time.monotonic() + self.settings.tool_interval_s
            if ctx.wait(self.settings.md_interval_s):
                break

    def finish(self, ctx: ModuleContext) -> None:
        if not self._checked:
            raise Skip("the RAID state was not read before the run (check did not run)")
        if self._md_errors is not None:
            after = self._md(ctx, "finish") or {}
            serials = {d.name: d.serial for d in getattr(ctx.inventory, "disks", ()) or () if d.serial}
            self._emit(ctx, judge_md_errors(self._md_errors, after, serials,
                                            lambda d: mdstat.parent_disk(self.host, d)))
        if self._controllers:
            now, _ = self._read_tools(ctx)
            for c in now:
                self._emit(ctx, judge_controller(c))
            self._emit(ctx, judge_growth(self._controllers, now))
        if self._ses:
            self._enclosures(ctx)
