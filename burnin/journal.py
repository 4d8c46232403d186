"""The journal: JSON Lines, append-only, durable. One writer, one tolerant reader.

Every record has `type`, `t` (unix seconds) and `seq` (1, 2, 3...). Findings, notes, commands, inventory
and module/run boundaries are written and fsynced at once; samples are buffered and reach the disk at
least every `sample_flush_s` seconds (and before any durable record, so `seq` order is file order).
A crash, SIGKILL or power cut leaves every line up to the last fsync readable; the reader ignores a torn
last line. The schema is documented in docs/journal-schema.md and versioned by `run_start.schema`.
"""

from __future__ import annotations

import gc
import json
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from burnin.errors import UsageError

SCHEMA_VERSION = 1
BUFFERED_TYPES = frozenset({"sample"})
RECORD_TYPES = frozenset(
    {"run_start", "inventory", "module_start", "sample", "finding", "note", "command", "module_end", "run_end"}
)


def default_name(hostname: str | None = None, when: float | None = None) -> str:
    host = (hostname or socket.gethostname() or "host").replace("/", "_")
    stamp = datetime.fromtimestamp(when or time.time(), tz=timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"burnin-{host}-{stamp}.jsonl"


def resolve_path(option: str | None, hostname: str | None = None) -> Path:
    """--journal PATH: a directory gets the default name inside it; a file path is used as given."""
    if option is None:
        return Path.cwd() / default_name(hostname)
    path = Path(option)
    if path.is_dir() or option.endswith("/"):
        return path / default_name(hostname)
    return path


class JournalWriter:
    """Appends records to a new journal file. Thread-safe; never rewrites a byte it wrote."""

    def __init__(self, path: str | Path, sample_flush_s: float = 5.0):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # O_EXCL: a journal belongs to one run; appending a second run would make both unreadable.
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            raise UsageError("journal already exists; give a new file or a directory", file=str(self.path)) from None
        except OSError as exc:
            raise UsageError(f"cannot create journal: {exc.strerror or exc}", file=str(self.path)) from None
        self._sample_flush_s = sample_flush_s
        self._lock = threading.Lock()
        self._seq = 0
        self._pending: list[bytes] = []
        self._last_flush = time.monotonic()
        self._fsync_dir()

    def _fsync_dir(self) -> None:
        # A new file's directory entry must be durable too, or a power cut can lose the whole journal.
        try:
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)

    def write(self, record_type: str, **fields: Any) -> dict[str, Any]:
        if record_type not in RECORD_TYPES:
            raise ValueError(f"unknown journal record type {record_type!r}")
        with self._lock:
            self._seq += 1
            record = {"type": record_type, "t": round(time.time(), 3), "seq": self._seq, **fields}
            line = (json.dumps(record, default=_jsonable, ensure_ascii=False) + "\n").encode()
            self._pending.append(line)
            if record_type not in BUFFERED_TYPES or time.monotonic() - self._last_flush >= self._sample_flush_s:
                self._flush_locked()
            return record

    def flush(self) -> None:
        with self._lock:
            self._flush_locked()

    def flush_if_due(self) -> None:
        with self._lock:
            if self._pending and time.monotonic() - self._last_flush >= self._sample_flush_s:
                self._flush_locked()

    def _flush_locked(self) -> None:
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            os.fsync(self._fd)
        self._last_flush = time.monotonic()

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                self._flush_locked()
                os.close(self._fd)
                self._fd = -1


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "value"):  # enums
        return value.value
    return repr(value)


@dataclass
class JournalContents:
    records: list[dict[str, Any]] = field(default_factory=list)
    torn_tail: bool = False  # the last line was cut short (the writer died mid-line)
    bad_lines: list[int] = field(default_factory=list)  # unreadable lines elsewhere (should never happen)

    def of_type(self, record_type: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("type") == record_type]

    def first(self, record_type: str) -> dict[str, Any] | None:
        return next((r for r in self.records if r.get("type") == record_type), None)


def read(path: str | Path) -> JournalContents:
    """Read any journal, including one cut short. Raises UsageError if it is not a journal at all."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read journal: {exc.strerror or exc}", file=str(path)) from None
    contents = parse_bytes(raw)
    if not contents.records:
        raise UsageError("not a burnin journal (no readable records)", file=str(path))
    if contents.records[0].get("type") != "run_start":
        raise UsageError("not a burnin journal (first record is not run_start)", file=str(path), line=1)
    schema = contents.records[0].get("schema")
    if schema != SCHEMA_VERSION:
        raise UsageError(f"journal schema {schema!r} is not supported (this burnin reads {SCHEMA_VERSION})",
                         file=str(path), line=1)
    return contents


def parse_bytes(raw: bytes) -> JournalContents:
    """Parse a whole journal. A clean file (every line a record) is parsed in one json.loads call, which is
    about twice as fast on a 24-hour journal; anything else (a torn tail, a bad line) goes line by line."""
    body = raw.strip(b"\n")
    if body and b"\n\n" not in body:
        was_enabled = gc.isenabled()
        gc.disable()  # hundreds of thousands of small dicts: the collector only slows the parse down
        try:
            records = json.loads(b"[" + body.replace(b"\n", b",") + b"]")
        except ValueError:
            records = None
        finally:
            if was_enabled:
                gc.enable()
        if records is not None and all(type(r) is dict and "type" in r for r in records):
            return JournalContents(records=records)
    return parse_lines(raw.split(b"\n"))


def parse_lines(lines: Iterable[bytes]) -> JournalContents:
    contents = JournalContents()
    lines = list(lines)
    while lines and not lines[-1].strip():
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or "type" not in record:
                raise ValueError("not a record")
        except ValueError:
            if number == len(lines):
                contents.torn_tail = True
            else:
                contents.bad_lines.append(number)
            continue
        contents.records.append(record)
    return contents
