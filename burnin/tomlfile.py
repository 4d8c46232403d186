"""TOML files the user writes (profiles, claims): load them, and point at the line of a bad key."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from burnin.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

_AT_LINE = re.compile(r"\(at line (\d+), column \d+\)")
_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_.\-\"' ]+?)\s*=")


MAX_DEPTH = 16  # tables and arrays inside each other: a profile needs 3, a claims file 4


def _depth(value: Any, limit: int) -> int:
    """How deep tables and arrays nest in `value`, counted up to `limit + 1` (no recursion)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return depth
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def load(path: str | Path, text: str | None = None) -> tuple[dict[str, Any], str]:
    """Parse a TOML file into (data, text); syntax errors become a one-line UsageError with the line. Only a
    regular file of at most 1 MiB is read; tables nested deeper than MAX_DEPTH are refused."""
    from burnin.inputs import TOML_MAX_BYTES, read_input_text

    path = Path(path)
    if text is None:
        text = read_input_text(path, "TOML file", TOML_MAX_BYTES)
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise UsageError(f"not valid TOML: nested deeper than {MAX_DEPTH} levels", file=str(path)) from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _AT_LINE.search(message)
        line = int(match.group(1)) if match else None
        if line is None and "(at end of document)" in message:
            line = max(1, len(text.splitlines()))
        detail = _AT_LINE.sub("", message).replace("(at end of document)", "at the end").strip()
        raise UsageError(f"not valid TOML: {detail}", file=str(path), line=line) from None
    if _depth(data, MAX_DEPTH) > MAX_DEPTH:
        raise UsageError(f"tables or arrays nested deeper than {MAX_DEPTH} levels", file=str(path))
    return data, text


def _unquote(part: str) -> str:
    part = part.strip()
    if len(part) >= 2 and part[0] == part[-1] and part[0] in "\"'":
        return part[1:-1]
    return part


def _split_dotted(key: str) -> list[str]:
    return [_unquote(p) for p in re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', key)]


def key_line(text: str, dotted_key: str) -> int | None:
    """The 1-based line where `dotted_key` (e.g. "modules.thermal.interval_s") is set, or None.

    Understands table headers, arrays of tables and dotted keys; good enough to point a user at the line.
    """
    wanted = _split_dotted(dotted_key)
    table: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            table = _split_dotted(header.group(1))
            if table == wanted:
                return number
            continue
        key = _KEY.match(line)
        if not key:
            continue
        full = table + _split_dotted(key.group(1))
        if full == wanted or (len(full) < len(wanted) and wanted[: len(full)] == full):
            return number
    return None
