"""Files the user hands burnin (profiles, claims, dmidecode dumps, smartctl reports, journals): read bounded.

A FIFO or a device as a profile would hang or read until memory runs out (`--profile /dev/zero`). Only regular
files are read, and only up to a size that no real input of that kind reaches; anything else is one line
(UsageError, exit 2).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from burnin.errors import UsageError

MiB = 1 << 20
TOML_MAX_BYTES = 1 * MiB  # profiles and claims: a few kB in practice
TOOL_OUTPUT_MAX_BYTES = 64 * MiB  # a dmidecode dump or a smartctl report: tens of kB in practice


def _size_text(limit: int) -> str:
    return f"{limit // MiB} MiB" if limit >= MiB else f"{limit} bytes"


def read_input(path: str | os.PathLike, what: str, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; UsageError (one line) for anything else."""
    name = str(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise UsageError(f"cannot read {what}: {exc.strerror or exc}", file=name) from None
    if not stat.S_ISREG(info.st_mode):
        kind = ("a directory" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode)
                else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "not a regular file")
        raise UsageError(f"cannot read {what}: {kind}, not a regular file", file=name)
    if info.st_size > limit:
        raise UsageError(f"{what} too large: {info.st_size} bytes (at most {_size_text(limit)})", file=name)
    try:
        # O_NONBLOCK: should the path have become a FIFO since the stat, open does not wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UsageError(f"cannot read {what}: {exc.strerror or exc}", file=name) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError(f"cannot read {what}: not a regular file", file=name)
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 * MiB, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise UsageError(f"{what} too large: over {_size_text(limit)}", file=name)
        return b"".join(chunks)
    except OSError as exc:
        raise UsageError(f"cannot read {what}: {exc.strerror or exc}", file=name) from None
    finally:
        os.close(fd)


def read_input_text(path: str | os.PathLike, what: str, limit: int, errors: str = "strict") -> str:
    """read_input decoded as UTF-8; a file that is not text is one line."""
    raw = read_input(path, what, limit)
    try:
        return raw.decode("utf-8", errors=errors)
    except UnicodeDecodeError:
        raise UsageError(f"{what} is not a text file (not UTF-8)", file=str(path)) from None


def is_regular_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False
