"""smartmontools' drive database (``drivedb.h``): what it knows of a drive model and firmware. Reads, never judges.

smartctl applies this table itself (attribute names, raw formats, firmware-bug fixes) and prints its warning for a
known model/firmware; what it does not print are the maintainers' comments on a preset ("MX500: May flip 0 <> 1
(ticket #1227)"). This adapter reads the same file smartctl uses (the updated copy from ``update-smart-drivedb``
first, then the packaged one) so a judge can quote that knowledge instead of a list of burnin's own.

An entry is ``{ family, model regex, firmware regex, warning, presets }`` (C string literals, concatenated);
``-v ID,FORMAT,NAME`` presets name an attribute, ``-F FIX`` names a firmware bug smartctl works around. The regexes
are POSIX extended; Python's ``re`` reads those the database uses.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass
from typing import Iterable

DRIVEDB_PATHS = ("/var/lib/smartmontools/drivedb/drivedb.h", "/usr/share/smartmontools/drivedb.h",
                 "/etc/smart_drivedb.h")
DRIVEDB_ENV = "BURNIN_DRIVEDB"  # a path to use instead (tests, or an air-gapped copy)


@dataclass(frozen=True)
class Preset:
    attr_id: int
    format: str
    name: str  # "" when the preset only changes the format
    comment: str = ""  # the maintainers' comment on this line


@dataclass(frozen=True)
class DriveDbEntry:
    family: str
    model_regex: str
    firmware_regex: str
    warning: str
    presets: tuple[Preset, ...] = ()
    fixes: tuple[str, ...] = ()  # -F samsung, samsung2, samsung3, xerrorlba, nologdir
    source: str = ""  # the file it came from

    def preset(self, attr_id: int) -> Preset | None:
        return next((p for p in self.presets if p.attr_id == attr_id), None)


class DriveDb:
    """The entries of one drivedb.h, parsed when first needed; a lookup by family parses only that family's
    entries (smartctl names the family in its report, so `burnin smart FILE` rarely parses the whole table)."""

    def __init__(self, path: str, text: str = "", entries: list[DriveDbEntry] | None = None, version: str = ""):
        self.path = path
        self.text = text
        self._entries = entries
        self.version = version

    @property
    def entries(self) -> list[DriveDbEntry]:
        if self._entries is None:
            parsed = parse_drivedb(self.text, self.path)
            self._entries, self.version = parsed.entries, parsed.version
        return self._entries

    def family_entries(self, family: str) -> list[DriveDbEntry]:
        if self._entries is not None or not self.text:
            return [e for e in self.entries if e.family == family]
        out: list[DriveDbEntry] = []
        literal = '"' + family.replace("\\", "\\\\").replace('"', '\\"') + '"'
        for match in re.finditer(r"\{\s*" + re.escape(literal), self.text):
            end = self.text.find("\n  }", match.start())
            if end > 0:
                out += parse_drivedb("builtin_knowndrives[] = {" + self.text[match.start():end + 4] + "}",
                                     self.path).entries
        return out

    def match(self, model: str | None, firmware: str | None = None, family: str | None = None
              ) -> DriveDbEntry | None:
        """The first entry whose model (and firmware) regex matches in full, as smartctl picks it. When smartctl
        already named the family, only that family's entries are tried."""
        if not model:
            return None
        candidates: Iterable[DriveDbEntry] = (self.family_entries(family) if family else []) or self.entries
        for entry in candidates:
            if _full(entry.model_regex, model) and (not entry.firmware_regex
                                                    or _full(entry.firmware_regex, firmware or "")):
                return entry
        return None


@functools.lru_cache(maxsize=4096)
def _compiled(regex: str) -> "re.Pattern[str] | None":
    try:
        return re.compile(regex)
    except re.error:
        return None


def _full(regex: str, text: str) -> bool:
    pattern = _compiled(regex)
    return bool(pattern and pattern.fullmatch(text))


_TOKEN = re.compile(r'"((?:[^"\\]|\\.)*)"|(//[^\n]*)|/\*.*?\*/|([{},])|(\n)', re.S)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m[1], m[1]), text)


def parse_drivedb(text: str, source: str = "") -> DriveDb:
    """The entries of a drivedb.h text, each preset with the comment on its line."""
    start = text.find("builtin_knowndrives[]")
    body = text[start:] if start >= 0 else text
    db = DriveDb(source, entries=[])
    fields: list[list[tuple[str, str]]] | None = None  # per field: (string literal, comment on its line)
    current: list[tuple[str, str]] = []
    for match in _TOKEN.finditer(body):
        literal, comment, punct, newline = match.groups()
        if fields is None:
            if punct == "{":
                fields, current = [], []
            continue
        if literal is not None:
            current.append((_unescape(literal), ""))
        elif comment is not None and current and not current[-1][1]:
            current[-1] = (current[-1][0], comment[2:].strip())
        elif punct == ",":
            fields.append(current)
            current = []
        elif punct == "}":
            fields.append(current)
            _add_entry(db, fields, source)
            fields = None
        elif punct == "{":  # nested: not an entry of the table
            fields, current = [], []
        del newline
    return db


def _add_entry(db: DriveDb, fields: list[list[tuple[str, str]]], source: str) -> None:
    if len(fields) < 5:
        return
    family, model, firmware, warning = ("".join(s for s, _ in f) for f in fields[:4])
    if family.startswith("VERSION:") or family.startswith("$Id"):
        db.version = family
        return
    if family.startswith(("$", "USB:")) or family == "DEFAULT" or not model:
        return
    presets: list[Preset] = []
    fixes: list[str] = []
    for literal, comment in fields[4]:
        for m in re.finditer(r"-v\s+(\d+),([^,\s]+)(?:,(\S+))?", literal):
            presets.append(Preset(int(m[1]), m[2], m[3] or "", comment))
        fixes += re.findall(r"-F\s+(\S+)", literal)
    db._entries.append(DriveDbEntry(family, model, firmware, warning, tuple(presets), tuple(fixes), source))


@functools.lru_cache(maxsize=4)
def _load(path: str, mtime: float) -> DriveDb:
    with open(path, encoding="utf-8", errors="replace") as f:
        return DriveDb(path, f.read())


def load_drivedb(paths: Iterable[str] | None = None) -> DriveDb | None:
    """The drive database smartctl would use here (BURNIN_DRIVEDB overrides it); None when there is none."""
    env = os.environ.get(DRIVEDB_ENV)
    for path in ([env] if env else list(paths or DRIVEDB_PATHS)):
        try:
            return _load(path, os.stat(path).st_mtime)
        except OSError:
            continue
    return None
