"""Storage links: the SAS and SATA cables, backplanes and ports between the controllers and the drives.

A marginal SAS cable or a dirty backplane connector rarely kills a drive outright: it shows as link errors that
the SAS PHYs count, and as links that train below what both ends can do. What it checks:

- SAS PHY error counters (/sys/class/sas_phy/*: `invalid_dword_count`, `running_disparity_error_count`,
  `loss_of_dword_sync_count`, `phy_reset_problem_count`) in check() and again in finish(). Counts already non-zero
  at preflight are reported per controller (setting `errors_since_boot`): they happened since boot, maybe
  before this run.
- SAS link rates: a PHY's `negotiated_linkrate` against the best both ends support: its own maximum
  (`maximum_linkrate`, `maximum_linkrate_hw`) and the other end's where the kernel shows it (an expander's PHYs;
  a SATA drive's maximum from `smartctl -i -j`; a SATA drive cannot exceed 6 Gb/s in any case).
- SATA links (/sys/class/ata_link/*): `sata_spd` (current) against the port's maximum (`hw_sata_spd_limit`
  when the kernel knows one, else the AHCI controller's "interface speed support" from `ahci_host_caps`) and
  the drive's maximum (`smartctl -i -j`). A `sata_spd_limit` below the port's maximum means the kernel itself
  slowed the link after errors.

What makes it FAIL: `sas-phy-errors`: a SAS PHY's error counters grew by at least `error_growth_min` during
the run, named by controller and PHY.
WARN: `sas-link-slow` / `sata-link-slow`: a link negotiated below what both ends support ("cable or
backplane"). Where the other end's maximum is not known, the finding takes the severity of
`slow_link_unverified` (default INFO): a 3 Gb/s drive on a 6 Gb/s port is common and no fault.

Findings (one row per code this module can emit):

| code | severity | when |
|---|---|---|
| `sas-phy-errors` | FAIL | a SAS PHY's error counters grew by `error_growth_min` during the run |
| `sas-phy-errors-since-boot` | INFO / WARN | error counts already non-zero at preflight (`errors_since_boot`) |
| `sas-link-slow` | WARN (INFO) | a SAS link below what both ends support; `slow_link_unverified` if one end unknown |
| `sata-link-slow` | WARN (INFO) | a SATA link below what the port and the drive support (likewise) |

Nothing to read (no SAS PHYs and no SATA links, as in most VMs) -> probe unavailable. Works on a captured tree
(--sysroot); smartctl outputs replay from the capture when it recorded them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

from burnin.host import Host
from burnin.judge import counter_growth
from burnin.model import Judgement, Probe, Severity
from burnin.module import Module, ModuleContext, Skip
from burnin.settings import setting
from burnin.tools import smart as smart_tool

SAS_PHYS = "/sys/class/sas_phy"
ATA_LINKS = "/sys/class/ata_link"
SAS_COUNTERS = ("invalid_dword_count", "running_disparity_error_count", "loss_of_dword_sync_count",
                "phy_reset_problem_count")
SATA_MAX_GBPS = 6.0  # SATA 3.x: no SATA drive links faster
_GBIT = re.compile(r"([\d.]+)\s*G(?:bit|bps|b/s)", re.I)
# AHCI CAP register bits 23:20 (Interface Speed Support): 1 = Gen1 1.5, 2 = Gen2 3.0, 3 = Gen3 6.0 Gb/s.
_AHCI_ISS_GBPS = {1: 1.5, 2: 3.0, 3: 6.0}


# -- records ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SasController:
    host: str  # "host11"
    driver: str | None  # "mpt3sas"
    board: str | None  # "HBA 9400-8i8e"
    firmware: str | None
    bios: str | None
    product: str | None  # "SAS3516"

    def describe(self) -> str:
        what = ", ".join(x for x in (self.driver, self.board) if x)
        fw = f", firmware {self.firmware}" if self.firmware else ""
        return f"controller {self.host}" + (f" ({what}{fw})" if what or fw else "")


@dataclass(frozen=True)
class SasAttached:
    """What is at the other end of a PHY's port."""

    name: str  # "end_device-11:0:0", "expander-11:1"
    kind: str  # "end device", "edge expander", "fanout expander"
    protocols: str | None  # target_port_protocols: "sata", "ssp", "smp"
    disks: tuple[str, ...]  # block devices behind it ("sdv",)
    bay: str | None
    max_gbps: float | None  # the other end's best rate, where the kernel (or smartctl) shows it
    max_source: str | None  # "expander PHYs", "smartctl", "SATA ceiling"

    @property
    def sata(self) -> bool:
        return "sata" in (self.protocols or "") or "stp" in (self.protocols or "")


@dataclass(frozen=True)
class SasPhy:
    name: str  # "phy-11:0:2"
    host: str  # "host11"
    parent: str  # "host11" or "expander-11:0": whose PHY it is
    phy_identifier: str | None
    negotiated_gbps: float | None  # None: "Unknown", "Phy disabled", "Link Rate failed"…
    negotiated_text: str | None
    max_gbps: float | None  # min(programmed maximum, hardware maximum)
    counters: Mapping[str, int]
    attached: SasAttached | None
    port: str | None  # "port-11:0:0"; None when the PHY is in no port (or the port is not in the tree)

    def describe(self) -> str:
        where = f"PHY {self.phy_identifier} of {self.parent}" if self.parent != self.host else \
            f"PHY {self.phy_identifier} of {self.host}"
        if self.attached and self.attached.disks:
            where += f", to disk {'/'.join(self.attached.disks)}"
        elif self.attached:
            where += f", to {self.attached.name}"
        if self.attached and self.attached.bay:
            where += f" in bay {self.attached.bay}"
        return f"SAS {self.name} ({where})"


@dataclass(frozen=True)
class SataLink:
    name: str  # "link1"
    port: str  # "ata1"
    current_gbps: float | None  # None: link down or empty port ("<unknown>")
    limit_gbps: float | None  # libata's limit; None when there is none
    hw_limit_gbps: float | None  # the port's own limit; None when the kernel sets none
    controller_max_gbps: float | None  # the AHCI controller's Interface Speed Support
    device_class: str | None  # "ata", "atapi", "pmp", "none"
    disks: tuple[str, ...]

    @property
    def port_max_gbps(self) -> float | None:
        known = [v for v in (self.hw_limit_gbps, self.controller_max_gbps) if v]
        return min(known) if known else None


@dataclass(frozen=True)
class DriveSpeed:
    """A SATA drive's interface speeds as smartctl reports them from IDENTIFY DEVICE."""

    max_gbps: float | None
    current_gbps: float | None
    sata_version: str | None


# -- parsing ---------------------------------------------------------------------------------------
def parse_gbps(text: str | None) -> float | None:
    """"6.0 Gbit" (SAS), "3.0 Gbps" (SATA), "6.0 Gb/s" (smartctl) -> 6.0; "Unknown", "<unknown>" -> None."""
    match = _GBIT.search(text or "")
    return float(match.group(1)) if match else None


def ahci_max_gbps(caps_text: str | None) -> float | None:
    """`ahci_host_caps` is the AHCI CAP register in hex ("e730ff45"); its ISS field is the controller's maximum."""
    try:
        caps = int((caps_text or "").strip(), 16)
    except ValueError:
        return None
    return _AHCI_ISS_GBPS.get((caps >> 20) & 0xF)


def parse_drive_speed(text: str) -> DriveSpeed | None:
    """`interface_speed` of `smartctl -j` output: {"max": {"units_per_second": 60, "bits_per_unit": 100000000}…}."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    speeds = data.get("interface_speed") if isinstance(data, dict) else None
    if not isinstance(speeds, dict):
        return None

    def gbps(entry) -> float | None:
        if not isinstance(entry, dict):
            return None
        try:
            return round(entry["units_per_second"] * entry["bits_per_unit"] / 1e9, 2)
        except (KeyError, TypeError):
            return parse_gbps(entry.get("string"))

    version = data.get("sata_version", {})
    return DriveSpeed(gbps(speeds.get("max")), gbps(speeds.get("current")),
                      version.get("string") if isinstance(version, dict) else None)


# -- reading sysfs ---------------------------------------------------------------------------------
def _device_dir(host: Host, class_link: str, class_name: str) -> str:
    """/sys/class/sas_phy/phy-1:2 -> the device directory: …/phy-1:2 (without /sas_phy/phy-1:2)."""
    real = host.realpath(class_link)
    suffix = f"/{class_name}/{class_link.rsplit('/', 1)[1]}"
    return real[: -len(suffix)] if real.endswith(suffix) else real


def _host_of(path: str) -> str:
    return next((p for p in reversed(path.split("/")) if re.fullmatch(r"host\d+", p)), "host?")


def _text(host: Host, path: str) -> str | None:
    value = host.read_text(path)
    return value.strip() or None if value is not None else None


def _disks_under(host: Host, device_dir: str) -> tuple[str, ...]:
    """Block devices below a SCSI/SAS device directory: target*/H:C:T:L/block/*."""
    disks = []
    for target in host.glob(device_dir, "target*"):
        for lun in host.glob(target, "*:*:*:*"):
            disks += [p.rsplit("/", 1)[1] for p in host.glob(f"{lun}/block", "*")]
    return tuple(disks)


def read_controller(host: Host, host_dir: str) -> SasController:
    name = host_dir.rsplit("/", 1)[1]
    base = f"{host_dir}/scsi_host/{name}"
    return SasController(name, _text(host, f"{base}/proc_name"), _text(host, f"{base}/board_name"),
                         _text(host, f"{base}/version_fw"), _text(host, f"{base}/version_bios"),
                         _text(host, f"{base}/version_product"))


def read_attached(host: Host, port_dir: str, drive_speeds: Mapping[str, DriveSpeed]) -> SasAttached | None:
    for entry in host.listdir(port_dir):
        path = f"{port_dir}/{entry}"
        if entry.startswith("expander-"):
            dev = f"{path}/sas_device/{entry}"
            maxima = [parse_gbps(host.read_text(f"{phy}/sas_phy/{phy.rsplit('/', 1)[1]}/maximum_linkrate_hw"))
                      for phy in host.glob(path, "phy-*")]
            best = max((m for m in maxima if m), default=None)
            return SasAttached(entry, _text(host, f"{dev}/device_type") or "expander",
                               _text(host, f"{dev}/target_port_protocols"), (), None, best,
                               "expander PHYs" if best else None)
        if entry.startswith("end_device-"):
            dev = f"{path}/sas_device/{entry}"
            protocols = _text(host, f"{dev}/target_port_protocols")
            disks = _disks_under(host, path)
            attached = SasAttached(entry, _text(host, f"{dev}/device_type") or "end device", protocols, disks,
                                   _text(host, f"{dev}/bay_identifier"), None, None)
            if attached.sata:
                speed = next((drive_speeds[d] for d in disks if d in drive_speeds and drive_speeds[d].max_gbps), None)
                if speed:
                    return _replace(attached, max_gbps=speed.max_gbps, max_source="smartctl")
                return _replace(attached, max_gbps=SATA_MAX_GBPS, max_source="SATA ceiling")
            return attached
    return None


def _replace(record, **changes):
    from dataclasses import replace

    return replace(record, **changes)


def read_sas_phys(host: Host, drive_speeds: Mapping[str, DriveSpeed] | None = None) -> dict[str, SasPhy]:
    phys = {}
    for link in host.glob(SAS_PHYS, "phy-*"):
        name = link.rsplit("/", 1)[1]
        attrs = host.realpath(link)
        device_dir = _device_dir(host, link, "sas_phy")
        parent = device_dir.rsplit("/", 2)[-2] if device_dir.count("/") >= 2 else "?"
        counters = {}
        for counter in SAS_COUNTERS:
            value = host.read_int(f"{attrs}/{counter}")
            if value is not None:
                counters[counter] = value
        maxima = [parse_gbps(host.read_text(f"{attrs}/{a}")) for a in ("maximum_linkrate", "maximum_linkrate_hw")]
        known_max = [m for m in maxima if m]
        port = attached = None
        if host.path(f"{device_dir}/port").is_symlink():
            port_dir = host.realpath(f"{device_dir}/port")
            port = port_dir.rsplit("/", 1)[1]
            if host.is_dir(port_dir):
                attached = read_attached(host, port_dir, drive_speeds or {})
        negotiated = _text(host, f"{attrs}/negotiated_linkrate")
        phys[name] = SasPhy(name, _host_of(device_dir), parent, _text(host, f"{attrs}/phy_identifier"),
                            parse_gbps(negotiated), negotiated, min(known_max) if known_max else None, counters,
                            attached, port)
    return phys


def sas_disks(host: Host) -> list[str]:
    """SATA drives behind SAS PHYs (whose maximum smartctl can tell)."""
    disks = []
    for phy in read_sas_phys(host).values():
        if phy.attached and phy.attached.sata:
            disks += phy.attached.disks
    return disks


def read_sata_links(host: Host) -> dict[str, SataLink]:
    links = {}
    for class_link in host.glob(ATA_LINKS, "link*"):
        name = class_link.rsplit("/", 1)[1]
        attrs = host.realpath(class_link)
        link_dir = _device_dir(host, class_link, "ata_link")
        port_dir = link_dir.rsplit("/", 1)[0]
        port = port_dir.rsplit("/", 1)[1]
        classes = [_text(host, f"{d}/ata_device/{d.rsplit('/', 1)[1]}/class") for d in host.glob(link_dir, "dev*")]
        device_class = next((c for c in classes if c and c != "none"), classes[0] if classes else None)
        caps = None
        disks: list[str] = []
        for scsi_host in host.glob(port_dir, "host*"):
            caps = caps or ahci_max_gbps(host.read_text(f"{scsi_host}/scsi_host/{scsi_host.rsplit('/', 1)[1]}"
                                                        f"/ahci_host_caps"))
            disks += _disks_under(host, scsi_host)
        links[name] = SataLink(name, port, parse_gbps(host.read_text(f"{attrs}/sata_spd")),
                               parse_gbps(host.read_text(f"{attrs}/sata_spd_limit")),
                               parse_gbps(host.read_text(f"{attrs}/hw_sata_spd_limit")), caps, device_class,
                               tuple(disks) if "." not in name else ())  # behind a port multiplier: not mapped
    return links


# -- judging ---------------------------------------------------------------------------------------
def judge_sas_link(phy: SasPhy, unverified: Severity, controller: SasController | None = None) -> Judgement | None:
    """`sas-link-slow` for a PHY that negotiated below the best both ends support (WARN when both ends' maxima
    are known, else `unverified`), or None."""
    if not phy.negotiated_gbps or not phy.max_gbps:
        return None
    peer = phy.attached.max_gbps if phy.attached else None
    verified = bool(peer) and phy.attached is not None and phy.attached.max_source != "SATA ceiling"
    achievable = min(phy.max_gbps, peer) if peer else phy.max_gbps
    if phy.negotiated_gbps + 1e-6 >= achievable:
        return None
    c = controller or SasController(phy.host, None, None, None, None, None)
    if verified:
        why = f"both it and {phy.attached.name if phy.attached else 'the other end'} support " \
              f"{achievable:g} Gb/s: check the cable or backplane"
    else:
        why = (f"the PHY supports {achievable:g} Gb/s but the other end's maximum is not visible "
               f"(a slower drive or expander explains it; otherwise check the cable or backplane)")
    return Judgement(Severity.WARN if verified else unverified, f"sas-phy:{phy.host}/{phy.name}", "sas-link-slow",
                     f"{phy.describe()} on {c.describe()} runs at {phy.negotiated_gbps:g} Gb/s; {why}.", {
        "phy": phy.name, "controller": phy.host, "parent": phy.parent, "phy_identifier": phy.phy_identifier,
        "negotiated": phy.negotiated_text, "negotiated_gbps": phy.negotiated_gbps, "phy_max_gbps": phy.max_gbps,
        "attached": phy.attached.name if phy.attached else None,
        "attached_max_gbps": peer, "attached_max_source": phy.attached.max_source if phy.attached else None,
        "disks": list(phy.attached.disks) if phy.attached else [], "achievable_gbps": achievable,
        "both_ends_known": verified, "controller_board": c.board, "controller_firmware": c.firmware,
    })


def judge_sata_link(link: SataLink, drive: DriveSpeed | None, unverified: Severity,
                    component: str | None = None) -> Judgement | None:
    """`sata-link-slow` for a SATA link below what both the port and the drive support (WARN when both maxima
    are known, else `unverified`), or None. `component` names the drive (default: the port)."""
    if not link.current_gbps or link.device_class in ("atapi", "pmp", "none"):
        return None  # empty or down port; optical drives (1.5 Gb/s by design); port multipliers
    drive_max = drive.max_gbps if drive else None
    port_max = link.port_max_gbps
    known = [v for v in (port_max, drive_max) if v]
    if not known:
        return None
    achievable = min(known)
    if link.current_gbps + 1e-6 >= achievable:
        return None
    verified = bool(port_max and drive_max)
    kernel_limited = bool(link.limit_gbps and port_max and link.limit_gbps < port_max)
    disk = f"disk /dev/{'/'.join(link.disks)}" if link.disks else "the drive"
    if verified:
        why = f"both the port and the drive support {achievable:g} Gb/s: check the cable or backplane"
    elif drive is None or not drive.max_gbps:
        why = (f"the port supports {achievable:g} Gb/s; the drive's own maximum is unknown (no "
               f"smartctl answer), and an older drive would explain it")
    else:
        why = (f"the drive supports {achievable:g} Gb/s; the port's maximum is unknown, and an "
               f"older controller would explain it")
    if kernel_limited:
        why += f"; the kernel itself limited the link to {link.limit_gbps:g} Gb/s after errors"
    return Judgement(Severity.WARN if verified else unverified, component or f"ata:{link.port}", "sata-link-slow",
                     f"The SATA link of {disk} on {link.port} runs at {link.current_gbps:g} Gb/s; {why}.", {
        "link": link.name, "port": link.port, "disks": list(link.disks), "current_gbps": link.current_gbps,
        "port_max_gbps": port_max, "hw_sata_spd_limit_gbps": link.hw_limit_gbps,
        "controller_max_gbps": link.controller_max_gbps, "drive_max_gbps": drive_max,
        "drive_sata_version": drive.sata_version if drive else None,
        "kernel_limit_gbps": link.limit_gbps, "kernel_limited": kernel_limited,
        "achievable_gbps": achievable, "both_ends_known": verified,
    })


def _describe_counts(counts: Mapping[str, int], sign: str = "") -> str:
    short = {"invalid_dword_count": "invalid dwords", "running_disparity_error_count": "disparity errors",
             "loss_of_dword_sync_count": "losses of dword sync", "phy_reset_problem_count": "PHY reset problems"}
    return ", ".join(f"{short[k]} {sign}{v}" for k, v in counts.items() if v)


# -- the module ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StorageLinksSettings:
    error_growth_min: int = setting(1, "growth of a SAS PHY's error counters during the run that FAILs", unit="errors")
    errors_since_boot: str = setting("info", "severity of SAS PHY error counts already non-zero at preflight",
                                     choices=("info", "warn"))
    slow_link_unverified: str = setting("info", "severity of a slow link where the other end's maximum is not known",
                                        choices=("info", "warn"))
    use_smartctl: bool = setting(True, "ask smartctl for SATA drives' maximum link speed")


class StorageLinksModule(Module):
    name = "storage-links"
    summary = "SAS PHY error counters and SAS/SATA links slower than both ends support (cables, backplanes)"
    needs = ("/sys/class/sas_phy or /sys/class/ata_link", "smartctl (optional: drive maximum link speed)")
    stress = False
    Settings = StorageLinksSettings

    def __init__(self, host: Host, settings: Mapping[str, Any] | None = None):
        super().__init__(host, settings)
        self._phys: dict[str, SasPhy] | None = None

    def probe(self) -> Probe:
        try:
            if self.host.glob(SAS_PHYS, "phy-*") or self.host.glob(ATA_LINKS, "link*"):
                return Probe.ok()
            return Probe.unavailable(f"no SAS PHYs ({SAS_PHYS}) and no SATA links ({ATA_LINKS}): no SAS or "
                                     f"SATA controller with a link to check")
        except Exception as exc:  # probe never raises
            return Probe.unavailable(f"cannot read {SAS_PHYS} or {ATA_LINKS}: {exc}")

    def _drive_speeds(self, ctx: ModuleContext, disks: list[str]) -> dict[str, DriveSpeed]:
        """Each SATA drive's maximum link speed from smartctl, where smartctl answers."""
        use = self.settings.use_smartctl
        if not disks or not use or not self.host.can_run or not self.host.which(smart_tool.SMARTCTL):
            if disks and use:
                ctx.note("smartctl is not available: SATA drives' maximum link speed is unknown", disks=disks)
            return {}
        speeds = {}
        for disk in sorted(set(disks)):
            result = ctx.run_tool(smart_tool.identity_argv(f"/dev/{disk}"), timeout=30)
            speed = parse_drive_speed(result.stdout) if result.stdout else None
            if speed is not None:
                speeds[disk] = speed
            else:
                ctx.note(f"smartctl gave no interface speed for /dev/{disk}", returncode=result.returncode,
                         error=result.error)
        return speeds

    def _component_disk(self, ctx: ModuleContext, disks) -> str | None:
        if not disks:
            return None
        serials = {d.name: d.serial for d in getattr(ctx.inventory, "disks", ()) if d.serial}
        disk = disks[0]
        return f"disk:/dev/{disk}" + (f" S/N {serials[disk]}" if disk in serials else "")

    # -- phases ----------------------------------------------------------------------------------------
    def check(self, ctx: ModuleContext) -> None:
        sata_links = read_sata_links(self.host)
        sas_sata_disks = sas_disks(self.host)
        if not sata_links and not self.host.glob(SAS_PHYS, "phy-*"):
            raise Skip(f"no SAS PHYs ({SAS_PHYS}) and no SATA links ({ATA_LINKS})")
        sata_disks = [d for link in sata_links.values() if link.current_gbps and link.device_class == "ata"
                      for d in link.disks]
        speeds = self._drive_speeds(ctx, sata_disks + sas_sata_disks)
        phys = read_sas_phys(self.host, speeds)
        self._phys = phys
        self._check_sas(ctx, phys)
        self._check_sata(ctx, sata_links, speeds)

    def _check_sas(self, ctx: ModuleContext, phys: Mapping[str, SasPhy]) -> None:
        if not phys:
            return
        controllers: dict[str, SasController] = {}
        for phy in phys.values():
            if phy.host not in controllers:
                host_dir = _host_dir(self.host, phy.name)
                controllers[phy.host] = read_controller(self.host, host_dir) if host_dir else \
                    SasController(phy.host, None, None, None, None, None)
        for c in controllers.values():
            ctx.note(f"SAS {c.describe()}", host=c.host, driver=c.driver, board=c.board, firmware=c.firmware,
                     bios=c.bios, product=c.product,
                     phys=sorted(p.name for p in phys.values() if p.host == c.host))
        unverified = Severity(self.settings.slow_link_unverified)
        not_judged = {}
        for phy in phys.values():
            slow = judge_sas_link(phy, unverified, controllers[phy.host])
            if slow is None:
                if not phy.negotiated_gbps:
                    not_judged[phy.name] = phy.negotiated_text or "no negotiated rate"
                continue
            ctx.report(slow)
        if not_judged:
            ctx.note("SAS PHYs without a link (empty bays, disabled PHYs) were not judged", phys=not_judged)
        since_boot = Severity(self.settings.errors_since_boot)
        for host_name, c in sorted(controllers.items()):
            dirty = {p.name: {k: v for k, v in p.counters.items() if v} for p in phys.values()
                     if p.host == host_name and any(p.counters.values())}
            if dirty:
                totals = {k: sum(p.get(k, 0) for p in dirty.values()) for k in SAS_COUNTERS}
                ctx.finding(since_boot, f"sas-controller:{host_name}", "sas-phy-errors-since-boot",
                            f"{len(dirty)} SAS PHY(s) on {c.describe()} counted link errors since boot, before this "
                            f"run ({_describe_counts(totals)}).",
                            {"controller": host_name, "phys": dirty, "totals": totals})

    def _check_sata(self, ctx: ModuleContext, links: Mapping[str, SataLink],
                    speeds: Mapping[str, DriveSpeed]) -> None:
        unverified = Severity(self.settings.slow_link_unverified)
        for link in links.values():
            drive = next((speeds[d] for d in link.disks if d in speeds), None)
            slow = judge_sata_link(link, drive, unverified, self._component_disk(ctx, link.disks))
            if slow is not None:
                ctx.report(slow)

    def finish(self, ctx: ModuleContext) -> None:
        if self._phys is None:
            raise Skip("no SAS baseline was taken (check did not run)")
        if not self._phys:
            ctx.note("no SAS PHYs: only SATA links were checked (at preflight)")
            return
        after = read_sas_phys(self.host)
        minimum = self.settings.error_growth_min
        for name, before in sorted(self._phys.items()):
            now = after.get(name)
            if now is None:
                ctx.note(f"SAS {name} present at preflight is gone at the end", phy=name, controller=before.host)
                continue
            # A count that went down was reset (a PHY or link reset clears them): counted from zero.
            grown = counter_growth(before.counters, now.counters, keys=SAS_COUNTERS)
            if sum(grown.values()) < minimum or not grown:
                continue
            host_dir = _host_dir(self.host, name)
            c = read_controller(self.host, host_dir) if host_dir else SasController(before.host, *([None] * 5))
            ctx.fail(f"sas-phy:{before.host}/{name}", "sas-phy-errors",
                     f"{before.describe()} on {c.describe()} counted new link errors during the run "
                     f"({_describe_counts(grown, '+')}): a marginal cable, backplane or connector.",
                     {"phy": name, "controller": before.host, "parent": before.parent, "grown": grown,
                      "before": dict(before.counters), "after": dict(now.counters),
                      "disks": list(before.attached.disks) if before.attached else [],
                      "controller_board": c.board, "controller_firmware": c.firmware})


def _host_dir(host: Host, phy_name: str) -> str | None:
    device_dir = _device_dir(host, f"{SAS_PHYS}/{phy_name}", "sas_phy")
    parts = device_dir.split("/")
    for i in range(len(parts) - 1, -1, -1):
        if re.fullmatch(r"host\d+", parts[i]):
            return "/".join(parts[: i + 1])
    return None
