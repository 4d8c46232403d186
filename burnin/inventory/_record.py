"""The base of every inventory record: frozen, and turned into plain JSON-ready data by `to_dict()`."""

from __future__ import annotations

import dataclasses
from typing import Any


class Record:
    """Mixin for frozen dataclasses: `to_dict()` gives dicts, lists and scalars only (JSON-ready)."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


def plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


GIB = 1024**3
MIB = 1024**2
