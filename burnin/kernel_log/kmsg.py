"""/dev/kmsg records, and kernel-log text as users paste it (dmesg, dmesg -T/-x, journalctl, syslog)."""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Mapping

READ_SIZE = 16384  # larger than the kernel's biggest record (8 KiB); a smaller buffer fails with EINVAL


@dataclass(frozen=True)
class KmsgRecord:
    """One /dev/kmsg record."""

    facility: int  # 0 = kernel; userspace writes get 1 (user) or more
    level: int  # 0 emerg .. 7 debug
    seq: int
    usec: int  # since boot
    message: str
    context: Mapping[str, str] = field(default_factory=dict)  # continuation lines: SUBSYSTEM=, DEVICE=

    @property
    def time_s(self) -> float:
        return self.usec / 1e6


def parse_record(data: bytes | str) -> KmsgRecord | None:
    """b"6,339,5140900,-;NET: Registered protocol family 10\\n SUBSYSTEM=net\\n" -> KmsgRecord; None if malformed."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    head, sep, rest = text.partition(";")
    if not sep:
        return None
    fields = head.split(",")
    try:
        prio, seq, usec = int(fields[0]), int(fields[1]), int(fields[2])
    except (IndexError, ValueError):
        return None
    lines = rest.split("\n")
    context = {}
    for line in lines[1:]:
        if line.startswith(" ") and "=" in line:
            key, _, value = line[1:].partition("=")
            context[key] = value
    return KmsgRecord(prio >> 3, prio & 7, seq, usec, lines[0], context)


def read_available(fd: int) -> Iterator[tuple[str, object]]:
    """Everything /dev/kmsg has for this reader now: ("record", bytes) items, and ("overrun", None) when records
    were overwritten before we read them (EPIPE; the kernel moves us to the oldest record still held)."""
    while True:
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                yield "overrun", None
                continue
            if exc.errno == errno.EINTR:
                continue
            raise
        if not data:
            return
        yield "record", data


def save_kernel_log(dest: os.PathLike | str, source: str = "/dev/kmsg") -> int | None:
    """Copy every record the kernel still holds into `dest`, in /dev/kmsg's own format; the number of records,
    or None when the log cannot be read (not root, a container)."""
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    count = 0
    try:
        with open(dest, "wb") as out:
            for kind, data in read_available(fd):
                if kind == "record":
                    out.write(data if data.endswith(b"\n") else data + b"\n")  # type: ignore[union-attr]
                    count += 1
    finally:
        os.close(fd)
    return count


_RECORD = re.compile(r"^\d+,\d+,\d+,[^;]*;")
_DMESG_TIME = re.compile(r"^\[\s*(?P<t>\d+\.\d+)\]\s?")
_DMESG_HUMAN = re.compile(r"^\[(?:\w{3} )?\w{3}\s+\d+ [\d:]+(?: \d{4})?\]\s?")
_DMESG_X = re.compile(r"^(?P<fac>\w+)\s*:(?P<lvl>\w+)\s*: ")
_SYSLOG = re.compile(r"^(?:\w{3}\s+\d+ [\d:]+|\d{4}-\d\d-\d\d[T ][\d:.,]+(?:[+-]\d\d:?\d\d|Z)?)\s+\S+\s+"
                     r"(?P<ident>[^\s:\[]+)(?:\[\d+\])?:\s?")
_LEVELS = {"emerg": 0, "alert": 1, "crit": 2, "err": 3, "warn": 4, "notice": 5, "info": 6, "debug": 7}


@dataclass(frozen=True)
class TextLine:
    message: str
    kernel_time_s: float | None
    level: int | None
    lineno: int


def parse_text(lines: Iterable[str]) -> Iterator[TextLine]:
    """Kernel messages out of pasted text: dmesg (with or without -T/-x), journalctl -k, /var/log/kern.log,
    syslog, or saved /dev/kmsg records. Lines another program wrote into the journal are skipped."""
    for lineno, raw in enumerate(lines, 1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            continue
        if _RECORD.match(line):
            rec = parse_record(line)
            if rec is not None and rec.facility == 0:
                yield TextLine(rec.message, rec.time_s, rec.level, lineno)
            continue
        if line.startswith(" ") and "=" in line and " " not in line.strip():
            continue  # a /dev/kmsg continuation line (SUBSYSTEM=...)
        level = None
        m = _SYSLOG.match(line)
        if m:
            if m["ident"] != "kernel":
                continue
            line = line[m.end():]
        m = _DMESG_X.match(line)
        if m and m["lvl"] in _LEVELS:
            if m["fac"] != "kern":
                continue
            level = _LEVELS[m["lvl"]]
            line = line[m.end():]
        t = None
        m = _DMESG_TIME.match(line)
        if m:
            t = float(m["t"])
            line = line[m.end():]
        else:
            m = _DMESG_HUMAN.match(line)
            if m:
                line = line[m.end():]
        if line.startswith(": "):  # some syslog daemons put ": " after "kernel:"
            line = line[2:]
        if line.strip():
            yield TextLine(line, t, level, lineno)
