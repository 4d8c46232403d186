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


def load(path: str | Path, text: str | None = None) -> tuple[dict[str, Any], str]:
    """Parse a TOML file into (data, text); syntax errors become a one-line UsageError with the line."""
    path = Path(path)
    if text is None:
        try:
            text = path.read_text()
        except OSError as exc:
            raise UsageError(f"cannot read: {exc.strerror or exc}", file=str(path)) from None
        except UnicodeDecodeError:
            raise UsageError("not a text file", file=str(path)) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _AT_LINE.search(message)
        line = int(match.group(1)) if match else None
        if line is None and "(at end of document)" in message:
            line = max(1, len(text.splitlines()))
        detail = _AT_LINE.sub("", message).replace("(at end of document)", "at the end").strip()
        raise UsageError(f"not valid TOML: {detail}", file=str(path), line=line) from None
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
