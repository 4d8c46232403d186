"""Where the raid module's readings come from: the vendor tools (found on PATH or in the live stick's tools/
folder), and the kernel's own view of RAID controllers when no tool is there (scsi_host and SCSI device sysfs).
Reading only; the judging is `burnin.modules.raid.judge`."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Callable, Sequence

from burnin.host import CommandResult, Host
from burnin.tools import arcconf, sasircu, ssacli, storcli
from burnin.tools.raid_records import Controller

# The kernel drivers of RAID controllers and HBAs: what a buyer calls them and the tools that can read them.
RAID_DRIVERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "megaraid_sas": ("Broadcom/LSI MegaRAID or Dell PERC", ("storcli", "perccli")),
    "hpsa": ("HPE Smart Array", ("ssacli",)),
    "smartpqi": ("HPE/Microchip Smart Array (SmartPQI)", ("ssacli", "arcconf")),
    "aacraid": ("Microchip/Adaptec RAID", ("arcconf",)),
    "mpt3sas": ("Broadcom/LSI SAS3 HBA", ("sas3ircu",)),
    "mpt2sas": ("Broadcom/LSI SAS2 HBA", ("sas2ircu",)),
}
HBA_DRIVERS = ("mpt3sas", "mpt2sas")  # plain HBAs unless they carry integrated-RAID volumes
# scsi_host attributes that name the firmware, model or state, by driver (those present are read).
HOST_ATTRS = ("version_fw", "fw_version", "firmware_revision", "firmware_version", "board_name", "model",
              "serial_number", "version_product", "lockup_detected", "ctlr_num", "raid_map_id")
DEVICE_ATTRS = ("vendor", "model", "rev", "state", "raid_level", "path_info")
_PCI = re.compile(r"^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")
STICK_TOOLS = "/run/burnin/stick/tools"  # the live stick's BURNIN partition is mounted at /run/burnin/stick
RUN_COPIES = "/run/burnin/raid-tools"  # where a tool from a noexec folder runs from (a fixed path: captures replay it)


@dataclass(frozen=True)
class KernelDevice:
    address: str  # "0:2:0:0"
    vendor: str | None
    model: str | None
    state: str | None  # "running", "offline", "blocked"
    raid_level: str | None  # hpsa/smartpqi: "RAID 1(+0)", "N/A"
    block: str | None  # "sda"


@dataclass(frozen=True)
class KernelController:
    host: str  # "host0"
    driver: str
    family: str
    pci_address: str | None
    attributes: dict[str, str] = field(default_factory=dict)
    devices: tuple[KernelDevice, ...] = ()

    @property
    def firmware(self) -> str | None:
        return next((self.attributes[a] for a in ("version_fw", "fw_version", "firmware_revision",
                                                  "firmware_version") if self.attributes.get(a)), None)

    @property
    def has_volumes(self) -> bool:
        """An HBA with integrated-RAID volumes (they show as "Logical Volume" devices), or any RAID driver."""
        if self.driver not in HBA_DRIVERS:
            return True
        return any("logical volume" in (d.model or "").lower() for d in self.devices)

    def describe(self) -> str:
        name = self.attributes.get("board_name") or self.attributes.get("model") or self.family
        return f"RAID controller {name} ({self.driver}" + (f", {self.pci_address}" if self.pci_address else "") + \
            (f", firmware {self.firmware}" if self.firmware else "") + ")"


def _text(host: Host, path: str) -> str | None:
    value = host.read_text(path)
    return value.strip() or None if value is not None else None


def kernel_controllers(host: Host) -> list[KernelController]:
    """Every SCSI host bound to a RAID/HBA driver, with its PCI address, firmware attributes and the SCSI
    devices (volumes, pass-through disks) the kernel sees behind it."""
    found = []
    for link in host.glob("/sys/class/scsi_host", "host*"):
        name = link.rsplit("/", 1)[1]
        driver = _text(host, f"{link}/proc_name")
        if driver not in RAID_DRIVERS:
            continue
        real = host.realpath(link)
        pci = next((p for p in reversed(real.split("/")) if _PCI.match(p)), None)
        attributes = {a: v for a in HOST_ATTRS if (v := _text(host, f"{link}/{a}")) is not None}
        number = name[4:]
        devices = []
        for dev in host.glob("/sys/class/scsi_device", f"{number}:*"):
            base = f"{dev}/device"
            values = {a: _text(host, f"{base}/{a}") for a in DEVICE_ATTRS}
            blocks = host.listdir(f"{base}/block")
            devices.append(KernelDevice(dev.rsplit("/", 1)[1], values["vendor"], values["model"], values["state"],
                                        values["raid_level"], blocks[0] if blocks else None))
        found.append(KernelController(name, driver, RAID_DRIVERS[driver][0], pci, attributes, tuple(devices)))
    return found


def find_tool(host: Host, names: Sequence[str], dirs: Sequence[str], copies: str = RUN_COPIES) -> str | None:
    """The first of `names` on PATH, else in one of `dirs` (the stick's tools/ folder); on a captured tree, the
    name its recorded outputs were run under."""
    for name in names:
        if host.which(name):
            return name  # Host.run finds it on PATH; a capture replays it under this argv
    for directory in dirs:
        for name in names:
            path = f"{directory.rstrip('/')}/{name}"
            if not host.live:
                for recorded in (path, f"{RUN_COPIES}/{name}"):
                    if host.which(recorded):
                        return recorded
                continue
            if os.path.isfile(path):
                return runnable_copy(path, copies)
    return None


def runnable_copy(path: str, copies: str = RUN_COPIES) -> str | None:
    """The stick is mounted noexec (and FAT keeps no execute bit): a copy in a private directory in RAM that may
    run. None when it cannot be copied."""
    if os.access(path, os.X_OK) and not _noexec(path):
        return path
    try:
        try:
            os.makedirs(copies, exist_ok=True)
            target_dir = copies
        except OSError:
            target_dir = tempfile.mkdtemp(prefix="burnin-raid-tools-")
        target = os.path.join(target_dir, os.path.basename(path))
        shutil.copyfile(path, target)
        os.chmod(target, 0o755)
        return target
    except OSError:
        return None


def _noexec(path: str) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_NOEXEC)
    except (OSError, AttributeError):
        return False


Runner = Callable[[Sequence[str]], CommandResult]


@dataclass
class ToolReading:
    tool: str  # "storcli", "ssacli", ...
    path: str
    controllers: list[Controller]
    problems: list[str]


def read_storcli(run: Runner, path: str, family: str, details: bool = True) -> ToolReading:
    result = run(storcli.show_all_argv(path))
    if not result.stdout.strip():
        why = result.error or result.stderr[-200:] or "no output"
        return ToolReading(family, path, [], [f"{path} /call show all J: {why}"])
    try:
        controllers, problems = storcli.parse_show_all(result.stdout, family)
    except ValueError as exc:
        return ToolReading(family, path, [], [f"{path} /call show all J: unreadable output ({exc})"])
    if details and controllers:
        vds, drives = {}, {}
        for argv, parser in ((storcli.vds_argv(path), storcli.parse_vds), (storcli.drives_argv(path),
                                                                            storcli.parse_drives)):
            extra = run(argv)
            try:
                parsed = parser(extra.stdout) if extra.stdout.strip() else {}
            except ValueError as exc:
                problems.append(f"{' '.join(argv)}: unreadable output ({exc})")
                parsed = {}
            if parser is storcli.parse_vds:
                vds = parsed
            else:
                drives = parsed
        controllers = storcli.merge(controllers, vds, drives)
    return ToolReading(family, path, controllers, problems)


def read_ssacli(run: Runner, path: str) -> ToolReading:
    config = run(ssacli.config_argv(path))
    if not config.stdout.strip():
        return ToolReading("ssacli", path, [], [f"{path} ctrl all show config: {config.error or 'no output'}"])
    controllers = ssacli.parse_config(config.stdout)
    status = run(ssacli.status_argv(path))
    return ToolReading("ssacli", path, ssacli.merge_status(controllers, ssacli.parse_status(status.stdout)), [])


def read_arcconf(run: Runner, path: str) -> ToolReading:
    first = run([path, *arcconf.getconfig_argv(1)[1:]])
    if not first.stdout.strip() or "Controllers found: 0" in first.stdout:
        return ToolReading("arcconf", path, [], [f"{path} getconfig 1: {first.error or 'no controller'}"]
                           if not first.stdout.strip() else [])
    controllers = [arcconf.parse_getconfig(first.stdout, 1)]
    for n in range(2, (arcconf.controllers_found(first.stdout) or 1) + 1):
        more = run([path, *arcconf.getconfig_argv(n)[1:]])
        if more.stdout.strip():
            controllers.append(arcconf.parse_getconfig(more.stdout, n))
    return ToolReading("arcconf", path, controllers, [])


def read_sasircu(run: Runner, path: str, family: str) -> ToolReading:
    listing = run(sasircu.list_argv(path))
    adapters = sasircu.parse_list(listing.stdout)
    if not adapters:
        return ToolReading(family, path, [], [] if listing.stdout.strip() else
                           [f"{path} LIST: {listing.error or 'no output'}"])
    controllers = []
    for index, pci in adapters.items():
        shown = run(sasircu.display_argv(path, index))
        if shown.stdout.strip():
            controllers.append(sasircu.parse_display(shown.stdout, family, index, pci))
    return ToolReading(family, path, controllers, [])


# family -> (program names, reader)
TOOLS: dict[str, tuple[tuple[str, ...], Callable[[Runner, str], ToolReading]]] = {
    "storcli": (("storcli64", "storcli", "storcli2"), lambda run, p: read_storcli(run, p, "storcli")),
    "perccli": (("perccli64", "perccli"), lambda run, p: read_storcli(run, p, "perccli")),
    "ssacli": (ssacli.NAMES, read_ssacli),
    "arcconf": (arcconf.NAMES, read_arcconf),
    "sas3ircu": (("sas3ircu",), lambda run, p: read_sasircu(run, p, "sas3ircu")),
    "sas2ircu": (("sas2ircu",), lambda run, p: read_sasircu(run, p, "sas2ircu")),
}
