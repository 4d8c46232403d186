"""Writing files that something else reads while we write them."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomically(path: str | Path, text: str, durable: bool = False) -> None:
    """Write a whole file or nothing: a reader (CI, a scraper) never sees half of it. `durable`: on disk before
    it replaces the old file (a ledger that must survive the process being killed)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half file behind
        raise
