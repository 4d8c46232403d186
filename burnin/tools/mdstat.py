"""Linux software RAID: /proc/mdstat and /sys/block/mdX/md/, read-only. Parsing only, no judging.

/proc/mdstat gives each array's level, members (with (F) faulty, (S) spare, (W) write-mostly, (J) journal,
(R) replacement), `[n/m] [UU_]` and the progress of a resync, recovery, check or reshape; /sys/block/mdX/md/
gives `array_state`, `degraded`, `sync_action`, `sync_completed`, `mismatch_cnt` and, per member, `dev-X/state`
(in_sync, faulty, spare, write_error, blocked, ...) and `dev-X/errors` (read errors corrected on it).
Format: drivers/md/md.c (md_seq_show, status_resync) and Documentation/admin-guide/md.rst.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

from burnin.host import Host

MDSTAT = "/proc/mdstat"
SYS_BLOCK = "/sys/block"
SYNC_ACTIONS = ("resync", "recovery", "check", "repair", "reshape")

_HEADER = re.compile(r"^(?P<name>md[\w/]*|md_d\d+)\s*:\s*(?P<rest>.*)$")
_MEMBER = re.compile(r"^(?P<dev>[^\s\[]+)\[(?P<index>\d+)\](?P<flags>(?:\([A-Z]\))*)$")
_COUNTS = re.compile(r"\[(?P<raid>\d+)/(?P<active>\d+)\]\s*\[(?P<map>[U_]+)\]")
_PROGRESS = re.compile(r"\b(?P<action>resync|recovery|check|repair|reshape)\s*=\s*(?P<pct>[\d.]+)%"
                       r"(?:\s*\((?P<done>\d+)/(?P<total>\d+)\))?(?:\s*finish=(?P<finish>[\d.]+min))?"
                       r"(?:\s*speed=(?P<speed>\d+K/sec))?")
_DELAYED = re.compile(r"\b(?P<action>resync|recovery|check|repair|reshape)\s*=\s*(?P<what>DELAYED|PENDING)")
_BLOCKS = re.compile(r"^(?P<blocks>\d+) blocks(?: super (?P<super>\S+))?")


@dataclass(frozen=True)
class MdMember:
    device: str  # "sdb1"
    index: int  # the [n] of /proc/mdstat (the member's descriptor number, not its slot)
    flags: str  # "F" faulty, "S" spare, "W" write-mostly, "J" journal, "R" replacement; may combine

    @property
    def faulty(self) -> bool:
        return "F" in self.flags

    @property
    def spare(self) -> bool:
        return "S" in self.flags


@dataclass(frozen=True)
class MdArray:
    name: str  # "md0"
    active: bool  # "active" (False: "inactive": not running)
    read_only: str | None  # "read-only", "auto-read-only"
    level: str | None  # "raid1", "raid5"; None for an inactive array
    members: tuple[MdMember, ...]
    blocks: int | None
    superblock: str | None  # "1.2", "external:imsm"
    raid_disks: int | None  # [n/m]: n
    active_disks: int | None  # [n/m]: m
    status_map: str | None  # "UU_"
    sync_action: str | None  # resync, recovery, check, repair, reshape in progress
    sync_pct: float | None
    sync_finish: str | None  # "122.9min"
    sync_speed: str | None  # "22568K/sec"
    delayed: str | None  # "resync=DELAYED"
    lines: tuple[str, ...] = ()

    @property
    def container(self) -> bool:
        """An external-metadata container (IMSM/DDF): inactive by design, its arrays are listed separately."""
        return (self.superblock or "").startswith("external:") and "/" not in (self.superblock or "")[9:]

    @property
    def missing_slots(self) -> list[int]:
        return [i for i, c in enumerate(self.status_map or "") if c == "_"]

    @property
    def degraded(self) -> bool:
        if self.raid_disks is not None and self.active_disks is not None and self.active_disks < self.raid_disks:
            return True
        return "_" in (self.status_map or "")


@dataclass(frozen=True)
class MdMemberState:
    """/sys/block/mdX/md/dev-Y/: the kernel's view of one member."""

    device: str
    state: tuple[str, ...]  # "in_sync", "faulty", "spare", "write_error", "blocked", "want_replacement", ...
    errors: int | None  # read errors seen and corrected on this member
    slot: str | None  # "0", "none"


@dataclass(frozen=True)
class MdSysfs:
    name: str
    array_state: str | None  # clear, inactive, suspended, readonly, read-auto, clean, active, write-pending, ...
    level: str | None
    raid_disks: int | None
    degraded: int | None  # how many members are missing
    sync_action: str | None  # idle, resync, recover, check, repair, reshape, frozen
    sync_completed: str | None  # "180544 / 333326336" or "none"
    mismatch_cnt: int | None
    last_sync_action: str | None
    members: Mapping[str, MdMemberState] = field(default_factory=dict)

    @property
    def sync_pct(self) -> float | None:
        done, _, total = (self.sync_completed or "").partition("/")
        try:
            return round(100.0 * int(done) / int(total), 1) if int(total) else None
        except ValueError:
            return None


def parse_mdstat(text: str) -> list[MdArray]:
    """/proc/mdstat -> its arrays; lines that are not an array (Personalities, unused devices) are skipped."""
    arrays: list[MdArray] = []
    block: list[str] = []
    for line in text.splitlines():
        if _HEADER.match(line.strip()) and not line.startswith((" ", "\t")):
            if block:
                arrays.append(_parse_array(block))
            block = [line.strip()]
        elif block and line.strip() and not line.startswith("unused devices"):
            block.append(line.strip())
        elif line.startswith("unused devices") and block:
            arrays.append(_parse_array(block))
            block = []
    if block:
        arrays.append(_parse_array(block))
    return arrays


def _parse_array(lines: list[str]) -> MdArray:
    header = _HEADER.match(lines[0])
    assert header is not None
    words = header.group("rest").split()
    active = bool(words) and words[0] == "active"
    words = words[1:] if words and words[0] in ("active", "inactive") else words
    read_only = None
    while words and words[0].startswith("("):
        read_only = words[0].strip("()")
        words = words[1:]
    level = None
    if words and not _MEMBER.match(words[0]):
        level, words = words[0], words[1:]
    members = []
    for word in words:
        m = _MEMBER.match(word)
        if m:
            members.append(MdMember(m.group("dev"), int(m.group("index")), "".join(re.findall(r"[A-Z]",
                                                                                            m.group("flags")))))
    rest = " ".join(lines[1:])
    blocks = _BLOCKS.match(lines[1]) if len(lines) > 1 else None
    counts = _COUNTS.search(rest)
    progress = _PROGRESS.search(rest)
    delayed = _DELAYED.search(rest)
    return MdArray(
        name=header.group("name"), active=active, read_only=read_only, level=level, members=tuple(members),
        blocks=int(blocks.group("blocks")) if blocks else None, superblock=blocks.group("super") if blocks else None,
        raid_disks=int(counts.group("raid")) if counts else None,
        active_disks=int(counts.group("active")) if counts else None,
        status_map=counts.group("map") if counts else None,
        sync_action=progress.group("action") if progress else None,
        sync_pct=float(progress.group("pct")) if progress else None,
        sync_finish=progress.group("finish") if progress else None,
        sync_speed=progress.group("speed") if progress else None,
        delayed=f"{delayed.group('action')}={delayed.group('what')}" if delayed else None,
        lines=tuple(lines),
    )


def _text(host: Host, path: str) -> str | None:
    value = host.read_text(path)
    return value.strip() if value is not None else None


def read_sysfs(host: Host, name: str) -> MdSysfs | None:
    """/sys/block/NAME/md/ of one array; None when the kernel shows no md directory for it."""
    base = f"{SYS_BLOCK}/{name}/md"
    if not host.is_dir(base):
        return None
    members = {}
    for dev in host.glob(base, "dev-*"):
        device = dev.rsplit("/", 1)[1][4:]
        state = _text(host, f"{dev}/state")
        members[device] = MdMemberState(device, tuple((state or "").replace(",", " ").split()),
                                        host.read_int(f"{dev}/errors"), _text(host, f"{dev}/slot"))
    return MdSysfs(name, _text(host, f"{base}/array_state"), _text(host, f"{base}/level"),
                   host.read_int(f"{base}/raid_disks"), host.read_int(f"{base}/degraded"),
                   _text(host, f"{base}/sync_action"), _text(host, f"{base}/sync_completed"),
                   host.read_int(f"{base}/mismatch_cnt"), _text(host, f"{base}/last_sync_action"), members)


def parent_disk(host: Host, device: str) -> str:
    """The whole disk a member lives on: "sdb1" -> "sdb", "nvme0n1p2" -> "nvme0n1"; itself when it is a disk."""
    real = host.realpath(f"/sys/class/block/{device}")
    parts = real.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-1] == device and host.exists(f"{real}/partition"):
        return parts[-2]
    return device


@dataclass(frozen=True)
class OnDiskArray:
    """An array that md superblocks on the disks describe (`mdadm --examine --scan --verbose`, read-only)."""

    name: str  # "/dev/md/0"
    level: str | None
    members: int | None  # num-devices
    uuid: str | None
    label: str | None  # name=host:0
    devices: tuple[str, ...]  # "/dev/sdb1", ...


def examine_scan_argv() -> list[str]:
    """Reads the md superblocks of every block device, opening them read-only; assembles and writes nothing."""
    return ["mdadm", "--examine", "--scan", "--verbose"]


def parse_examine_scan(text: str) -> list[OnDiskArray]:
    arrays: list[OnDiskArray] = []
    for line in text.splitlines():
        words = line.split()
        if words and words[0] == "ARRAY" and len(words) > 1:
            fields = dict(w.split("=", 1) for w in words[2:] if "=" in w)
            members = fields.get("num-devices")
            arrays.append(OnDiskArray(words[1], fields.get("level"), int(members) if members and members.isdigit()
                                      else None, fields.get("UUID"), fields.get("name"), ()))
        elif arrays and line.strip().startswith("devices="):
            devices = tuple(d for d in line.strip()[len("devices="):].split(",") if d)
            last = arrays[-1]
            arrays[-1] = OnDiskArray(last.name, last.level, last.members, last.uuid, last.label, devices)
    return arrays
