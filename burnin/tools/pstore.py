"""pstore: what the kernel saved of its last moments before a crash (/sys/fs/pstore), read and grouped. No judging.

The kernel's pstore file system (fs/pstore/inode.c) names each saved record `TYPE-BACKEND-ID`: `dmesg-ramoops-0`,
`console-ramoops-0`, `dmesg-efi-167436395001001` (efi-pstore: one file per part), `dmesg-erst-...`. A dmesg record
begins with the reason and part (`Panic#1 Part1`, `Oops#2 Part1`; fs/pstore/platform.c), ramoops puts a
`====SECONDS.MICROS-D` header line before it (fs/pstore/ram.c); Part1 holds the newest lines, each further part
older ones. A compressed record the kernel could not decompress is named `*.enc.z`.

systemd-pstore.service moves the records out of /sys/fs/pstore at boot into /var/lib/systemd/pstore/ (one folder
per record time, `dmesg.txt` joined from the parts, or the files themselves), so both places are read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

PSTORE_DIR = "/sys/fs/pstore"
ARCHIVE_DIR = "/var/lib/systemd/pstore"
MAX_FILES = 256
MAX_BYTES = 4 << 20  # one record: ramoops records are tens of KiB

_NAME = re.compile(r"^(?P<kind>[a-z]+)-(?P<backend>[A-Za-z0-9_]+)-(?P<id>\d+)(?P<enc>\.enc\.z)?$")
_HEADER = re.compile(r"^(?P<reason>[A-Za-z]+)#(?P<count>\d+) Part(?P<part>\d+)$")
_RAMOOPS_TIME = re.compile(r"^====(?P<sec>\d+)\.(?P<usec>\d+)(?:-[A-Z])?$")
_PREFIX = re.compile(r"^<\d+>")


@dataclass
class PstoreRecord:
    """One crash dump: every part of one `Panic#N` (or one console/pmsg file), newest lines last."""

    kind: str  # dmesg, console, pmsg, ftrace, mce
    backend: str  # ramoops, efi, erst
    reason: str | None  # Panic, Oops, Emergency, Restart, Halt, Poweroff; None for console records
    count: int | None
    files: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # in time order, oldest first
    time_s: int | None = None  # ramoops: when it was written (seconds since the epoch)
    compressed: bool = False
    archived: str | None = None  # the systemd-pstore folder it was read from


def parse_file(name: str, text: str) -> tuple[dict, list[str]]:
    """(what the file's name and header say, its log lines without syslog level prefixes)."""
    match = _NAME.match(name)
    meta: dict = {"kind": match["kind"] if match else name.split("-", 1)[0].split(".", 1)[0],
                  "backend": match["backend"] if match else "unknown",
                  "compressed": bool(match and match["enc"]), "reason": None, "count": None, "part": 1,
                  "time_s": None}
    lines = text.replace("\r", "").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if lines:
        stamp = _RAMOOPS_TIME.match(lines[0].strip())
        if stamp:
            meta["time_s"] = int(stamp["sec"])
            lines = lines[1:]
    if lines:
        header = _HEADER.match(lines[0].strip())
        if header:
            meta.update(reason=header["reason"], count=int(header["count"]), part=int(header["part"]))
            lines = lines[1:]
    return meta, [_PREFIX.sub("", ln) for ln in lines]


def group(files: list[tuple[str, str]], archived: str | None = None) -> list[PstoreRecord]:
    """Files (name, text) -> records: parts of one dump joined oldest part first (Part1 is the newest)."""
    parts: dict[tuple, list[tuple[int, str, list[str], dict]]] = {}
    for name, text in sorted(files):
        meta, lines = parse_file(name, text)
        if meta["reason"] is not None:
            key = (meta["kind"], meta["backend"], meta["reason"], meta["count"])
        else:
            key = (meta["kind"], meta["backend"], None, name)
        parts.setdefault(key, []).append((meta["part"], name, lines, meta))
    records = []
    for (kind, backend, reason, count), chunks in parts.items():
        chunks.sort(key=lambda c: -c[0])  # the highest part is the oldest text
        record = PstoreRecord(kind, backend, reason, count if isinstance(count, int) else None, archived=archived)
        for _, name, lines, meta in chunks:
            record.files.append(name)
            record.lines.extend(lines)
            record.compressed = record.compressed or meta["compressed"]
            record.time_s = record.time_s or meta["time_s"]
        records.append(record)
    return records
