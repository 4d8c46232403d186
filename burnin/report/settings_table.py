"""The README's table of every module's profile settings, made from the modules' `Settings` declarations.

`burnin modules --settings-table` prints it; scripts/update-settings-table writes it into README.md between the
markers below, and a test keeps the README's copy current.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

BEGIN = "<!-- settings-table: begin (burnin modules --settings-table; scripts/update-settings-table) -->"
END = "<!-- settings-table: end -->"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return "(none)" if value is None else str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def settings_table(classes: Mapping[str, type]) -> str:
    """One Markdown row per setting of every module (by module name, settings in declaration order)."""
    rows = ["| module | setting | default | what it sets |", "|---|---|---|---|"]
    for name in sorted(classes):
        for spec in classes[name].setting_specs():
            default = _value(spec.default) + (f" {spec.unit}" if spec.unit else "")
            what = spec.help or "(no description)"
            if spec.choices:
                what += f"; one of {', '.join(_value(c) for c in spec.choices)}"
            rows.append(f"| `{name}` | `{spec.name}` | `{_cell(default)}` | {_cell(what)} |")
    return "\n".join(rows) + "\n"


def replace_in(text: str, table: str) -> str:
    """`text` (the README) with the part between the markers replaced by `table`; ValueError without markers."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no settings table markers ({BEGIN} ... {END})")
    return text[:start + len(BEGIN)] + "\n" + table + text[end:]


def current_in(text: str) -> str | None:
    """The table between the markers, or None when there are none."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        return None
    return text[start + len(BEGIN):end].lstrip("\n")
