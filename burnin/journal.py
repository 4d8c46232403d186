"""The journal: JSON Lines, append-only, durable. One writer, one tolerant reader.

Every record has `type`, `t` (unix seconds) and `seq` (1, 2, 3...). Findings, notes, commands, inventory
and module/run boundaries are written and fsynced at once; samples are buffered and reach the disk at
least every `sample_flush_s` seconds (and before any durable record, so `seq` order is file order).
A crash, SIGKILL or power cut leaves every line up to the last fsync readable; the reader ignores a torn
last line. The schema is documented in docs/journal-schema.md and versioned by `run_start.schema`.
"""

from __future__ import annotations

import bisect
import collections
import gc
import itertools
import json
import math
import operator
import os
import re
import socket
import threading
import time
from collections.abc import Iterator, Sequence
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
        # Why the journal stopped taking records (a full disk, an I/O error), or None while it takes them. After a
        # failed write nothing more is written, so the file ends at most in one torn line, which the reader ignores.
        self.failed: str | None = None
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
        if self._pending and self.failed is None and self._fd >= 0:
            data = b"".join(self._pending)
            self._pending.clear()
            view = memoryview(data)
            try:
                while view:
                    written = os.write(self._fd, view)
                    view = view[written:]
                os.fsync(self._fd)
            except OSError as exc:
                self.failed = exc.strerror or str(exc)
        self._pending.clear()
        self._last_flush = time.monotonic()

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                self._flush_locked()
                try:
                    os.close(self._fd)
                except OSError as exc:  # NFS and some FUSE filesystems report a failed write only here
                    self.failed = self.failed or exc.strerror or str(exc)
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
    records: Sequence[dict[str, Any]] = field(default_factory=list)
    torn_tail: bool = False  # the last line was cut short (the writer died mid-line)
    bad_lines: list[int] = field(default_factory=list)  # unreadable lines elsewhere (should never happen)
    problems: list[str] = field(default_factory=list)  # records of the wrong shape left out, one line each
    # Set by parse_bytes: every record that is not a row of a sample table, with its line index, and the
    # tables; `records` is then a view over both that makes a dict of each sample only when asked to.
    _others: list[tuple[int, dict[str, Any]]] | None = field(default=None, repr=False, compare=False)
    _tables: list[SampleTable] = field(default_factory=list, repr=False, compare=False)

    def of_type(self, record_type: str) -> list[dict[str, Any]]:
        if self._others is not None and record_type != "sample":
            return [r for _, r in self._others if r.get("type") == record_type]
        return [r for r in self.records if r.get("type") == record_type]

    def first(self, record_type: str) -> dict[str, Any] | None:
        if self._others is not None and record_type != "sample":
            return next((r for _, r in self._others if r.get("type") == record_type), None)
        return next((r for r in self.records if r.get("type") == record_type), None)

    def folded(self) -> bool:
        """Whether some samples were folded by the sample budget (burnin.sampling): a long run's journal."""
        # Folded lines are never read as table rows (their `fold` member is not the writer's sample shape).
        records = (r for _, r in self._others) if self._others is not None else iter(self.records)
        return any(r.get("type") == "sample" and "fold" in r for r in records)

    def sample_columns(self) -> list[tuple[str, list[Run]]] | None:
        """The samples as columns, with no dict per record: [(module, runs)], modules in order of first
        appearance, each module's runs in file order. A run is (names, times, columns): consecutive samples
        of the module with the same metric names, `columns` one list of values per name.
        Samples whose `metrics` is not a non-empty object or whose `t` is not a number have nothing to chart
        and are left out. None when the journal was not read by parse_bytes, or a sample's module is not a
        string: use `records` then."""
        if self._others is None:
            return None
        records: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for index, record in self._others:
            if record.get("type") == "sample":
                module = record.get("module")
                if not isinstance(module, str):
                    return None
                records.setdefault(module, []).append((index, record))
        tables: dict[str, list[SampleTable]] = {}
        for table in self._tables:
            tables.setdefault(table.module, []).append(table)
        first_line = {module: own[0][0] for module, own in records.items()}
        for table in self._tables:
            first_line[table.module] = min(first_line.get(table.module, table.lines[0]), table.lines[0])
        return [(m, _runs(tables.get(m, []), records.get(m, []))) for m in sorted(first_line, key=first_line.get)]


Run = tuple[tuple[str, ...], Sequence[Any], list[Sequence[Any]]]


@dataclass
class SampleTable:
    """Sample records of one module with the same metric names in the same order, read as columns."""

    module: str
    names: tuple[str, ...]
    lines: list[int]  # the 0-based line index of each row, ascending
    times: list[Any]
    seqs: list[Any]
    columns: list[list[Any]]  # one per name: the values as json.loads reads them

    def record(self, row: int) -> dict[str, Any]:
        return {"type": "sample", "t": self.times[row], "seq": self.seqs[row], "module": self.module,
                "metrics": dict(zip(self.names, [column[row] for column in self.columns]))}

    def records(self) -> Iterator[dict[str, Any]]:
        # map, zip and dict all run in C: a quarter of a million records in a tenth of a second.
        metrics = map(dict, map(zip, itertools.repeat(self.names), zip(*self.columns)))
        rows = zip(itertools.repeat("sample"), self.times, self.seqs, itertools.repeat(self.module), metrics)
        return map(dict, map(zip, itertools.repeat(_RECORD_KEYS), rows))


_RECORD_KEYS = ("type", "t", "seq", "module", "metrics")


def _runs(tables: list[SampleTable], records: list[tuple[int, dict[str, Any]]]) -> list[Run]:
    """One module's tables and single sample records as runs, in file order."""
    if len(tables) <= 1:
        # The usual case: one table, and a record or two read on their own (the last line of a crashed run).
        table = tables[0] if tables else None
        rows = len(table.lines) if table else 0
        runs: list[Run] = []
        start = 0
        for index, record in records:
            cut = bisect.bisect_left(table.lines, index) if table else 0
            if cut > start:
                runs.append(_table_run(table, start, cut))
                start = cut
            runs.extend(_record_run(record))
        if start < rows:
            runs.append(_table_run(table, start, rows))
        return runs
    # A module that wrote different sets of metrics: order every row by its line.
    points: list[tuple[int, Any, int]] = [(index, record, 0) for index, record in records]
    for table in tables:
        points.extend((index, table, row) for row, index in enumerate(table.lines))
    points.sort(key=lambda p: p[0])
    runs = []
    table, start, stop = None, 0, 0
    for _, item, row in points:
        if isinstance(item, SampleTable):
            if item is table and row == stop:
                stop += 1
                continue
            if table is not None:
                runs.append(_table_run(table, start, stop))
            table, start, stop = item, row, row + 1
            continue
        if table is not None:
            runs.append(_table_run(table, start, stop))
            table = None
        runs.extend(_record_run(item))
    if table is not None:
        runs.append(_table_run(table, start, stop))
    return runs


def _table_run(table: SampleTable, start: int, stop: int) -> Run:
    if start == 0 and stop == len(table.lines):
        return table.names, table.times, table.columns
    return table.names, table.times[start:stop], [c[start:stop] for c in table.columns]


def _record_run(record: dict[str, Any]) -> list[Run]:
    metrics, t = record.get("metrics"), record.get("t")
    if isinstance(metrics, dict) and metrics and isinstance(t, (int, float)):
        return [(tuple(metrics), [t], [[v] for v in metrics.values()])]
    return []


class _Records(Sequence):
    """A journal's records in file order, made on first use from the records read one by one and the sample
    tables. The first and the last record (all `summarize` needs) are made without the others."""

    def __init__(self, others: list[tuple[int, dict[str, Any]]], tables: list[SampleTable]):
        self._others, self._tables = others, tables
        self._count = len(others) + sum(len(t.lines) for t in tables)
        ends = [t.lines[-1] for t in tables] + ([others[-1][0]] if others else [])
        self._lines = 1 + max(ends, default=-1)  # the lines the records come from
        self._list: list[dict[str, Any]] | None = None

    def _all(self) -> list[dict[str, Any]]:
        if self._list is None:
            paused = gc.isenabled()
            gc.disable()
            try:
                # Each record into the place of its line, then the places without a record dropped.
                places: list[Any] = [None] * self._lines
                for index, record in self._others:
                    places[index] = record
                for table in self._tables:
                    collections.deque(map(places.__setitem__, table.lines, table.records()), maxlen=0)
                self._list = [record for record in places if record is not None]
            finally:
                if paused:
                    gc.enable()
        return self._list

    def _edge(self, last: bool) -> dict[str, Any]:
        pick = max if last else min
        candidates = [(self._others[-1 if last else 0][0], -1, None)] if self._others else []
        candidates += [(t.lines[-1 if last else 0], n, t) for n, t in enumerate(self._tables)]
        if not candidates:
            raise IndexError("journal has no records")
        _, _, table = pick(candidates, key=operator.itemgetter(0))
        if table is None:
            return self._others[-1 if last else 0][1]
        return table.record(-1 if last else 0)

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index):  # type: ignore[override]
        if self._list is None and isinstance(index, int):
            if index in (0, -self._count):
                return self._edge(last=False)
            if index in (-1, self._count - 1):
                return self._edge(last=True)
        return self._all()[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self._all())

    def __reversed__(self) -> Iterator[dict[str, Any]]:
        return reversed(self._all())

    def __eq__(self, other: object) -> bool:
        return self._all() == (other._all() if isinstance(other, _Records) else other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._all())


def read(path: str | Path, samples: bool = True) -> JournalContents:
    """Read any journal, including one cut short. Raises UsageError if it is not a journal at all; records of
    the wrong shape are left out and said in `problems` (see record_problem). samples=False leaves the sample
    lines out unread (a verdict needs none of them: `burnin fleet` reads a hundred journals that way)."""
    path = Path(path)
    raw = _read_journal_file(path)
    if not samples:  # keep the lines that are not the writer's sample lines, and the last line (it may be torn)
        cut = raw.rstrip(b"\n").rfind(b"\n") + 1
        first = raw.find(b"\n") + 1
        kept = [b"" if raw.startswith(_SAMPLE_START) else raw[:first]]
        kept += [raw[m.end():raw.find(b"\n", m.end()) + 1] for m in _NOT_SAMPLE_LINE.finditer(raw, 0, cut - 1)]
        kept.append(raw[cut:] if cut >= first else b"")
        raw = b"".join(kept)
    contents = parse_bytes(raw)
    if not contents.records:
        raise UsageError("not a burnin journal (no readable records)", file=str(path))
    if contents.records[0].get("type") != "run_start":
        raise UsageError("not a burnin journal (first record is not run_start)", file=str(path), line=1)
    schema = contents.records[0].get("schema")
    if schema != SCHEMA_VERSION:
        raise UsageError(f"journal schema {schema!r} is not supported (this burnin reads {SCHEMA_VERSION})",
                         file=str(path), line=1)
    problem = _run_start_problem(contents.records[0])
    if problem:
        raise UsageError(f"not a burnin journal (run_start: {problem})", file=str(path), line=1)
    return checked(contents)


def _read_journal_file(path: Path) -> bytes:
    from burnin.inputs import read_input

    return read_input(path, what="journal", limit=JOURNAL_MAX_BYTES)


# -- records of the wrong shape ----------------------------------------------------------------------
# The reader takes any JSON; what the reports use must have the writer's types. A record that does not is
# left out and said in one line (the rest of the journal is still read), never a traceback further on.
JOURNAL_MAX_BYTES = 4 << 30  # far above any planned journal (50 MB for a 24 h soak of a big server)
_SEVERITIES = ("fail", "warn", "info")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value \
        and value not in (float("inf"), float("-inf"))


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}.get(
        type(value), "a number")


def _want(record: dict[str, Any], key: str, types: tuple[type, ...], optional: bool = True) -> str | None:
    """Why record[key] is not of `types` (absent is fine when optional), or None."""
    if key not in record:
        return None if optional else f"no {key}"
    value = record[key]
    if value is None and optional:
        return None
    if isinstance(value, types) and not (isinstance(value, bool) and bool not in types):
        return None
    return f"{key} is {_kind(value)} ({_short(value)})"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def record_problem(record: dict[str, Any]) -> str | None:
    """What is wrong with a journal record for the reports (one phrase), or None when it has the writer's shape."""
    kind = record.get("type")
    if not isinstance(kind, str):
        return f"record whose type is {_kind(kind)}"
    if not _number(record.get("t")):
        return f"{kind[:40]} whose time t is not a number ({_short(record.get('t'))})"
    if kind not in RECORD_TYPES:
        return None  # a newer writer's record: the reports do not read it
    checks: list[str | None] = []
    if kind in ("module_start", "module_end", "sample"):
        checks.append(_want(record, "module", (str,), optional=False))
    if kind == "finding":
        severity = record.get("severity")
        if severity not in _SEVERITIES:
            return f"finding with unknown severity {_short(severity)}"
        checks += [_want(record, key, (str,)) for key in ("module", "component", "code", "message")]
        checks.append(_want(record, "evidence", (dict,)))
    elif kind == "module_end":
        checks += [_want(record, "verdict", (str,)), _want(record, "reason", (str,))]
    elif kind == "run_end":
        checks += [_want(record, "interrupted", (str,)), _want(record, "verdict", (str,)),
                   _want(record, "reason", (str,)), _want(record, "incomplete", (str,))]
        duration = record.get("duration_s")
        if duration is not None and not (_number(duration) and duration >= 0):
            checks.append(f"duration_s is not a number of seconds ({_short(duration)})")
    elif kind == "sample":
        checks.append(_want(record, "metrics", (dict,), optional=False))
    elif kind == "note":
        checks += [_want(record, "module", (str,)), _want(record, "message", (str,))]
    elif kind == "inventory":
        checks += [_want(record, "inventory", (dict,)), _want(record, "when", (str,)),
                   _want(record, "claims", (list,))]
        if isinstance(record.get("claims"), list) and not all(isinstance(c, dict) for c in record["claims"]):
            checks.append("a claim is not an object")
    problem = next((c for c in checks if c), None)
    return f"{kind} whose {problem}" if problem else None


def _run_start_problem(record: dict[str, Any]) -> str | None:
    checks = [record_problem(record), _want(record, "host", (dict,)), _want(record, "profile", (dict,)),
              _want(record, "mode", (str,)), _want(record, "run_id", (str,)), _want(record, "burnin_version", (str,)),
              _want(record, "modules", (list,))]
    profile = record.get("profile") or {}
    if isinstance(profile, dict):
        checks += [_want(profile, "name", (str,)), _want(profile, "settings", (dict,))]
        settings = profile.get("settings") or {}
        if isinstance(settings, dict):
            required = settings.get("required")
            if required is not None and not (isinstance(required, list) and all(isinstance(r, str) for r in required)):
                checks.append("profile.settings.required is not a list of module names")
    return next((c for c in checks if c), None)


def checked(contents: JournalContents) -> JournalContents:
    """The contents without the records the reports cannot use, each said in `problems` ("journal line 812:
    finding with unknown severity 'catastrophic' ignored"). Sample tables are the writer's by construction."""
    if contents._others is not None:
        numbered = contents._others
    else:
        numbered = list(enumerate(contents.records))  # parse_lines: no line numbers kept; count records
    kept: list[tuple[int, dict[str, Any]]] = []
    problems: list[str] = []
    for index, record in numbered:
        problem = record_problem(record) if index or record.get("type") != "run_start" else None
        if problem:
            problems.append(f"journal line {index + 1}: {problem} ignored")
        else:
            kept.append((index, record))
    if not problems:
        return contents
    if contents._others is None:
        return JournalContents(records=[r for _, r in kept], torn_tail=contents.torn_tail,
                               bad_lines=contents.bad_lines, problems=problems)
    return JournalContents(records=_Records(kept, contents._tables), torn_tail=contents.torn_tail,
                           bad_lines=contents.bad_lines, problems=problems, _others=kept, _tables=contents._tables)


# -- the fast reader ---------------------------------------------------------------------------------
# A 24-hour journal is a quarter of a million sample lines, and json.loads making a dict of each (and of
# its metrics) was most of `burnin report`'s time. JournalWriter writes every sample line the same way
# (json.dumps, keys in the order type, t, seq, module, metrics), so the lines of one module with the same
# metric names differ only in their numbers. parse_bytes sorts the sample lines by module, then takes a
# module's lines a few hundred at a time: it splits them at their quotes, checks that the strings (keys,
# module, metric names) are exactly those of a table and that the gaps between the strings are exactly the
# writer's punctuation around JSON scalars, and reads each column of numbers with one json.loads.
# Every other line, the last line (it may be torn), and every line that fails a check are read with
# json.loads on their own, as parse_lines does: the records are exactly parse_lines'
# (tests/test_journal_reader.py checks that on the writer's journals, cut ones and hand-written ones).
_SAMPLE_START = b'{"type": "sample", "t": '
# A newline before a line that is not the writer's sample line. finditer skips the sample lines in C (its scan
# for the literal newline is fast; an alternation such as `\A|\n` would make it try every byte, 8 times slower).
_NOT_SAMPLE_LINE = re.compile(rb'\n(?!\{"type": "sample", "t": )')
_SAMPLE_KEYS = (b"type", b"sample", b"t", b"seq", b"module")  # the strings before the module name
_BLOCK_LINES = 512  # lines split at a time: a block and its parts stay in the CPU cache (4096: 20 % slower)
_SCALAR_BYTES = b"0123456789+-.eEtrufalsnNIiy"  # numbers, true, false, null, NaN, Infinity
_NEWLINE_TO_COMMA = bytes.maketrans(b"\n", b",")
# The gaps between the strings of a sample line: `{` before "type", then `: `, `, `, `: T, `, `: S, `, `: `,
# `, `, `: {` before the first metric name, `: V, ` after each name but the last, `: V}}` after the last.
_PUNCTUATION = ((1, b": "), (2, b", "), (5, b": "), (6, b", "), (7, b": {"))


class _Table:
    """The sample lines whose strings are exactly `keys` (in order), checked and read as columns."""

    def __init__(self, keys: tuple[bytes, ...]):
        self.keys = list(keys)
        self.width = len(keys)  # strings per line, and gaps per line
        self.valid = self._read_keys(keys)
        # Where each value's gap is (t, seq, the metrics), counted from a line's first gap; the last metric's
        # gap `: V}}\n{` is also the next line's first.
        self.positions = [3, 4] + list(range(8, self.width)) + [self.width]
        self.blocks: list[tuple[list[int], list[bytes]]] = []  # (lines, each column's values "V,V,...,V")
        self.rejected: list[int] = []
        self._block_keys: list[bytes] = []  # the strings of a whole block, made on first use

    def _read_keys(self, keys: tuple[bytes, ...]) -> bool:
        # The strings must read back as themselves: valid UTF-8, no escape, no control character, and no
        # metric name twice (json.loads would keep the last).
        if len(keys) < 8 or keys[:5] != _SAMPLE_KEYS or keys[6] != b"metrics" or any(b"\\" in k for k in keys):
            return False
        try:
            texts = [k.decode("utf-8") for k in keys[5:]]
        except UnicodeDecodeError:
            return False
        if any(c < " " for text in texts for c in text):
            return False
        self.module, self.names = texts[0], tuple(texts[2:])
        return len(set(self.names)) == len(self.names)

    def add(self, lines: list[bytes], indexes: list[int]) -> bool:
        """Take these lines (ascending) if every one is exactly a sample line with this table's strings."""
        columns = self._columns(lines, indexes)
        if columns is not None:
            self.blocks.append((indexes, columns))
        return columns is not None

    def take(self, lines: list[bytes], indexes: list[int]) -> None:
        """Take these lines, or if one of them spoils the block, each line that is one (the others:
        `rejected`, to be read one by one)."""
        if not self.add(lines, indexes):
            for index in indexes:
                if len(indexes) == 1 or not self.add(lines, [index]):
                    self.rejected.append(index)

    def _columns(self, lines: list[bytes], indexes: list[int]) -> list[bytes] | None:
        """Each column's values ("V,V,...,V" for t, seq and each metric) of these lines, or None if one of
        them is not exactly a sample line with this table's strings."""
        count = len(indexes)
        text = b"\n".join(operator.itemgetter(*indexes)(lines)) if count > 1 else lines[indexes[0]]
        parts = text.split(b'"')
        if count == _BLOCK_LINES and not self._block_keys:
            self._block_keys = self.keys * count
        if parts[1::2] != (self._block_keys if count == _BLOCK_LINES else self.keys * count):
            return None
        gaps, width = parts[0::2], self.width
        if gaps[0] != b"{":
            return None
        for position, punctuation in _PUNCTUATION:
            if gaps[position::width] != [punctuation] * count:
                return None
        # Column by column (a column's numbers then lie together in memory, which the charts' min and max
        # over each column are much faster for): every gap must be `: ` + a scalar + `, ` (the last metric:
        # `}}` + newline + `{`, or `}}` at the end).
        inner, last = b": , " * count, (b": }}\n{" * count)[:-2]
        columns = []
        for position in self.positions:
            values = b"".join(gaps[position::width])
            if values.translate(None, _SCALAR_BYTES) != (last if position == width else inner):
                return None
            numbers = values.translate(_NEWLINE_TO_COMMA, b"{}: ")  # "V,V,...,V" (and a "," after the last)
            columns.append(numbers if position == width else numbers[:-1])
        return columns

    def table(self, lines: list[bytes]) -> SampleTable | None:
        """The rows as columns. A block with a value that is not JSON (`1.2.3`, `+1`) or a time that is not
        a finite number is taken again line by line, and the lines at fault are left out (`rejected`)."""
        rows: list[int] = []
        columns: list[list[Any]] = [[] for _ in self.positions]
        blocks = collections.deque(self.blocks)
        while blocks:
            indexes, texts = blocks.popleft()
            try:
                block = [json.loads(b"[" + text + b"]") for text in texts] if texts is not None else []
            except ValueError:
                block = []
            if len(block) != len(columns) or any(len(values) != len(indexes) for values in block) \
                    or not set(map(type, block[0])) <= {int, float} or not all(map(math.isfinite, block[0])):
                if len(indexes) == 1:
                    self.rejected.extend(indexes)
                else:
                    blocks.extendleft(reversed([([i], self._columns(lines, [i])) for i in indexes]))
                continue
            rows.extend(indexes)
            for column, values in zip(columns, block):
                column.extend(values)
        if not rows:
            return None
        return SampleTable(self.module, self.names, rows, columns[0], columns[1], columns[2:])


def _module_tables(lines: list[bytes], indexes: list[int], tables: dict[tuple[bytes, ...], _Table],
                   alone: list[int]) -> None:
    """One module's sample lines into tables, a block of lines at a time; lines that fit none go alone."""
    current: _Table | None = None
    for start in range(0, len(indexes), _BLOCK_LINES):
        block = indexes[start:start + _BLOCK_LINES]
        if current is not None and current.add(lines, block):
            continue
        # Another set of metrics somewhere in this block (or a line that is not the writer's): line by line.
        groups: dict[tuple[bytes, ...], list[int]] = {}
        for index in block:
            groups.setdefault(tuple(lines[index].split(b'"')[1::2]), []).append(index)
        for keys, group in groups.items():
            table = tables.get(keys)
            if table is None:
                table = tables[keys] = _Table(keys)
            if table.valid:
                table.take(lines, group)
            else:
                alone.extend(group)
        current = tables[tuple(lines[block[-1]].split(b'"')[1::2])]


def parse_bytes(raw: bytes) -> JournalContents:
    """Parse a whole journal: the same records, torn tail and bad lines as parse_lines, with the sample
    lines written by JournalWriter read as columns (see above)."""
    lines = raw.split(b"\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return JournalContents()
    paused = gc.isenabled()
    gc.disable()  # hundreds of thousands of objects: the collector would only slow the parse down
    try:
        last = len(lines) - 1
        by_module: dict[bytes, list[int]] = {}  # module name (as written) -> its sample lines
        alone: list[int] = []  # lines for json.loads, one by one
        for index, line in enumerate(lines):
            if line.startswith(_SAMPLE_START) and index != last:
                parts = line.split(b'"', 12)
                if len(parts) == 13:
                    own = by_module.get(parts[11])
                    if own is None:
                        own = by_module[parts[11]] = []
                    own.append(index)
                    continue
            alone.append(index)
        tables: dict[tuple[bytes, ...], _Table] = {}
        for indexes in by_module.values():
            _module_tables(lines, indexes, tables, alone)
        columns = []
        for table in tables.values():
            read = table.table(lines) if table.valid else None
            if read is not None:
                columns.append(read)
            alone.extend(table.rejected)
        others, torn_tail, bad_lines = _parse_each(lines, sorted(alone), last)
        return JournalContents(records=_Records(others, columns), torn_tail=torn_tail, bad_lines=bad_lines,
                               _others=others, _tables=columns)
    finally:
        if paused:
            gc.enable()


def _parse_each(lines: list[bytes], indexes: Iterable[int], last: int
                ) -> tuple[list[tuple[int, dict[str, Any]]], bool, list[int]]:
    """json.loads each of these lines: the records with their line index, whether the last line was torn,
    and the (1-based) numbers of the other unreadable lines."""
    records: list[tuple[int, dict[str, Any]]] = []
    torn_tail, bad_lines = False, []
    for index in indexes:
        line = lines[index]
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or "type" not in record:
                raise ValueError("not a record")
        except ValueError:
            if index == last:
                torn_tail = True
            else:
                bad_lines.append(index + 1)
            continue
        records.append((index, record))
    return records, torn_tail, bad_lines


def parse_lines(lines: Iterable[bytes]) -> JournalContents:
    """The reference reader: one json.loads per line. parse_bytes gives the same records."""
    lines = list(lines)
    while lines and not lines[-1].strip():
        lines.pop()
    records, torn_tail, bad_lines = _parse_each(lines, range(len(lines)), len(lines) - 1)
    return JournalContents(records=[r for _, r in records], torn_tail=torn_tail, bad_lines=bad_lines)
