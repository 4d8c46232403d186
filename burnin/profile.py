"""Run profiles: TOML files that say how long to run, which modules, and every threshold.

A profile may `extends = "seller"` (a built-in name, or a path relative to the file) and override keys;
tables merge key by key, everything else is replaced. Validation is strict: an unknown key, a bad
duration or a wrong type is a UsageError naming the file, the line and the key.
"""

from __future__ import annotations

import importlib.resources
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from burnin import tomlfile
from burnin.errors import UsageError
from burnin.settings import SettingError, SettingSpec, check_value

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?", re.IGNORECASE)
_UNIT_S = {"ms": 0.001, "s": 1, "": 1, "m": 60, "h": 3600, "d": 86400}

# Top-level keys of a profile, their type, and what they mean (shown by `burnin profiles`).
TOP_LEVEL_KEYS: dict[str, tuple[type | tuple[type, ...], str]] = {
    "name": (str, "profile name"),
    "description": (str, "one line shown by `burnin profiles`"),
    "extends": (str, "built-in profile name or path this one starts from"),
    "duration": ((str, int, float), "length of the stress-and-monitor phase, e.g. 30m, 24h, 90s"),
    "modules": (list, "modules to run (default: every registered module)"),
    "skip": (list, "modules not to run"),
    "required": (list, "modules that must test: their SKIP or ERROR makes the run ERROR"),
    "plain": (bool, "plain progress lines instead of the live dashboard"),
    "fail_fast": (bool, "stop before the stress phase when a preflight check FAILs"),
    "disk_writes": (bool, "whether any module may write to disks (still needs the explicit device flags)"),
    "check_timeout": ((str, int, float), "budget of the preflight phase per module"),
    "finish_timeout": ((str, int, float), "budget of the final-checks phase per module"),
    "stop_grace": ((str, int, float), "how long a module has to stop after its deadline or Ctrl-C before it is killed"),
    "sample_flush": ((str, int, float), "samples reach the disk at least this often"),
    "journal_max_mb": ((int, float), "the journal's size budget in MB: longer runs fold their samples to fit"),
    "settings": (dict, "[settings.MODULE] tables: each module's thresholds and options"),
    "watchdog": (bool, "arm the hardware watchdog (/dev/watchdog) during `run`: a hard hang reboots the machine"),
}


MAX_DURATION_S = 366 * 86400  # a year: no burn-in runs longer, and a longer one is a typo or an attack


def parse_duration(value: Any) -> float:
    """Seconds from "90s", "30m", "1h30m", "1.5h", "2d", "500ms" or a plain number of seconds: finite, not
    negative, at most a year (NaN would disable every deadline and infinity crash the run)."""
    seconds = _parse_duration(value)
    if not math.isfinite(seconds):
        raise ValueError(f"bad duration {str(value)[:40]!r}: not a finite number")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"bad duration {str(value)[:40]!r}: longer than a year")
    return seconds


def _parse_duration(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"bad duration {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"bad duration {value!r}: negative")
        try:
            return float(value)
        except OverflowError:  # an integer of hundreds of digits
            return math.inf
    text = str(value).strip().lower().replace(" ", "")
    if len(text) > 64:
        raise ValueError(f"bad duration {text[:40]!r}...: too long (use e.g. 90s, 30m, 1h30m, 24h)")
    if not text:
        raise ValueError("bad duration '': empty")
    pos = 0
    total = 0.0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if not match or match.end() == pos:
            raise ValueError(f"bad duration {value!r} (use e.g. 90s, 30m, 1h30m, 24h)")
        total += float(match.group(1)) * _UNIT_S[(match.group(2) or "").lower()]
        pos = match.end()
    return total


def format_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts)


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    duration_s: float
    modules: tuple[str, ...] | None  # None: every registered module
    skip: tuple[str, ...]
    required: tuple[str, ...]
    plain: bool
    fail_fast: bool
    disk_writes: bool
    check_timeout_s: float
    finish_timeout_s: float
    stop_grace_s: float
    sample_flush_s: float
    module_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    source: str = ""
    journal_max_mb: float = 50.0
    watchdog: bool = False  # arm /dev/watchdog during `run` (burnin.tools.watchdog)

    def settings_for(self, module: str) -> dict[str, Any]:
        return dict(self.module_settings.get(module, {}))

    def selected(self, registered: list[str]) -> list[str]:
        wanted = list(self.modules) if self.modules is not None else list(registered)
        return [m for m in wanted if m not in self.skip]

    def to_record(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "duration_s": self.duration_s,
            "source": self.source,
            "settings": {
                "modules": list(self.modules) if self.modules is not None else None,
                "skip": list(self.skip),
                "required": list(self.required),
                "fail_fast": self.fail_fast,
                "disk_writes": self.disk_writes,
                "check_timeout_s": self.check_timeout_s,
                "finish_timeout_s": self.finish_timeout_s,
                "stop_grace_s": self.stop_grace_s,
                "journal_max_mb": self.journal_max_mb,
                "watchdog": self.watchdog,
                "modules_settings": {k: dict(v) for k, v in self.module_settings.items()},
            },
        }


DEFAULTS: dict[str, Any] = {
    "description": "",
    "duration": "30m",
    "skip": [],
    "required": [],
    "plain": False,
    "fail_fast": False,
    "disk_writes": False,
    "watchdog": False,
    "check_timeout": "2m",
    "finish_timeout": "2m",
    "stop_grace": "3s",
    "sample_flush": "5s",
    "journal_max_mb": 50,
}


def builtin_names() -> list[str]:
    return sorted(p.name[:-5] for p in _builtin_dir().iterdir() if p.name.endswith(".toml"))


def _builtin_dir():
    return importlib.resources.files("burnin.profiles")


def _builtin_path(name: str) -> Path:
    return Path(str(_builtin_dir().joinpath(f"{name}.toml")))


def _exists(path: Path) -> bool:
    """Whether a path names something; a name no file system takes (too long, a NUL byte) names nothing."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def resolve(name_or_path: str) -> Path:
    """A built-in profile name ("seller") or a path to a TOML file."""
    if name_or_path in builtin_names():
        return _builtin_path(name_or_path)
    path = Path(name_or_path)
    if path.suffix == ".toml" or "/" in name_or_path or _exists(path):
        if not _exists(path):
            raise UsageError(f"profile file not found: {name_or_path}")
        return path
    raise UsageError(f"unknown profile {name_or_path[:200]!r} (built-in: {', '.join(builtin_names())}; or give a .toml path)")


def load(name_or_path: str, module_specs: Mapping[str, Sequence[SettingSpec]]) -> Profile:
    """Load, merge (`extends`) and validate a profile against the registered modules' settings
    (`Module.setting_specs()` of each module, by name)."""
    path = resolve(name_or_path)
    merged, sources = _load_chain(path, seen=())
    return _build(merged, sources, module_specs, display=str(path))


MAX_EXTENDS = 8  # profiles in one `extends` chain, the last one included


def _load_chain(path: Path, seen: tuple[Path, ...]) -> tuple[dict[str, Any], list[tuple[str, str, dict]]]:
    """Merged data, and for each file (base first): (file name, text, its own data) for error lines."""
    real = path.resolve()
    if real in seen:
        raise UsageError("profile extends itself in a loop", file=str(path))
    if len(seen) >= MAX_EXTENDS:
        raise UsageError(f"extends chain longer than {MAX_EXTENDS} profiles", file=str(path))
    data, text = tomlfile.load(path)
    parent_name = data.get("extends")
    if parent_name is None:
        return data, [(str(path), text, data)]
    if not isinstance(parent_name, str):
        raise UsageError("must be a profile name or path (a string)", file=str(path),
                         line=tomlfile.key_line(text, "extends"), key="extends")
    if parent_name in builtin_names():
        parent_path = _builtin_path(parent_name)
    else:
        parent_path = (path.parent / parent_name)
        if not _exists(parent_path):
            raise UsageError(f"extends {parent_name[:200]!r}: no such built-in profile or file", file=str(path),
                             line=tomlfile.key_line(text, "extends"), key="extends")
    base, sources = _load_chain(parent_path, seen + (real,))
    return _merge(base, data), sources + [(str(path), text, data)]


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if key == "extends":
            continue
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _where(sources: list[tuple[str, str, dict]], dotted: str) -> tuple[str, int | None]:
    """The file (last in the chain that sets it) and line of a dotted key."""
    for name, text, _data in reversed(sources):
        line = tomlfile.key_line(text, dotted)
        if line is not None:
            return name, line
    return sources[-1][0], None


def _build(data: dict[str, Any], sources, schemas: Mapping[str, Sequence[SettingSpec]], display: str) -> Profile:
    def bad(dotted: str, message: str) -> UsageError:
        file, line = _where(sources, dotted)
        return UsageError(message, file=file, line=line, key=dotted)

    for key, value in data.items():
        if key not in TOP_LEVEL_KEYS:
            raise bad(key, f"unknown key (known: {', '.join(TOP_LEVEL_KEYS)})")
        expected = TOP_LEVEL_KEYS[key][0]
        allowed = expected if isinstance(expected, tuple) else (expected,)
        # bool is an int in Python; `duration = true` must not pass as 1 second.
        if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
            raise bad(key, f"wrong type: {type(value).__name__} (expected {_type_name(expected)})")
    settings_tables = data.pop("settings", {})
    values = {**DEFAULTS, **data}

    durations = {}
    for key in ("duration", "check_timeout", "finish_timeout", "stop_grace", "sample_flush"):
        try:
            durations[key] = parse_duration(values[key])
        except ValueError as exc:
            raise bad(key, str(exc)) from None

    journal_max_mb = values["journal_max_mb"]
    if not (isinstance(journal_max_mb, (int, float)) and 1 <= journal_max_mb <= 1e6):
        raise bad("journal_max_mb", f"must be a number of MB from 1 to 1000000, not {journal_max_mb!r}")

    known = sorted(schemas)
    for key in ("modules", "skip", "required"):
        if key in values and values[key] is not None:
            for item in values[key]:
                if not isinstance(item, str):
                    raise bad(key, f"wrong type in list: {item!r} (expected module names)")
                if item not in schemas:
                    raise bad(key, f"unknown module {item!r} (known: {', '.join(known)})")

    module_settings: dict[str, dict[str, Any]] = {}
    for module, table in settings_tables.items():
        if module not in schemas:
            raise bad(f"settings.{module}", f"unknown module {module!r} (known: {', '.join(known)})")
        if not isinstance(table, dict):
            raise bad(f"settings.{module}", "must be a table")
        module_settings[module] = {}
        specs = {spec.name: spec for spec in schemas[module]}
        for key, value in table.items():
            dotted = f"settings.{module}.{key}"
            if key not in specs:
                raise bad(dotted, f"unknown setting (known for {module}: {', '.join(sorted(specs)) or 'none'})")
            try:
                module_settings[module][key] = check_value(specs[key], value)
            except SettingError as exc:
                raise bad(dotted, str(exc)) from None

    name = values.get("name") or Path(sources[-1][0]).stem
    return Profile(
        name=name,
        description=values["description"],
        duration_s=durations["duration"],
        modules=tuple(values["modules"]) if values.get("modules") is not None else None,
        skip=tuple(values["skip"]),
        required=tuple(values["required"]),
        plain=values["plain"],
        fail_fast=values["fail_fast"],
        disk_writes=values["disk_writes"],
        check_timeout_s=durations["check_timeout"],
        finish_timeout_s=durations["finish_timeout"],
        stop_grace_s=durations["stop_grace"],
        sample_flush_s=durations["sample_flush"],
        module_settings=module_settings,
        source=display,
        journal_max_mb=float(journal_max_mb),
        watchdog=values["watchdog"],
    )


def _type_name(expected) -> str:
    types = expected if isinstance(expected, tuple) else (expected,)
    names = {str: "string", int: "integer", float: "number", bool: "true/false", list: "list", dict: "table"}
    return " or ".join(names.get(t, t.__name__) for t in types)
