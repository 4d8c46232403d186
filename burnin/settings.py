"""Typed module settings: each module declares its thresholds and options as one frozen dataclass.

    @dataclass(frozen=True)
    class ThermalSettings:
        interval_s: float = setting(1.0, "how often the sensors are read", unit="s")
        throttle: str = setting("warn", "severity of CPU throttling during the run", choices=("warn", "fail"))

    class ThermalModule(Module):
        Settings = ThermalSettings      # the module reads self.settings.interval_s

Profile validation, `burnin modules --json` and the README's settings table all come from these declarations:
the field's annotation is the type a profile must give (an int is accepted for a float; a TOML list becomes a
tuple), `choices` are the allowed values, `unit` and `help` describe it.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from dataclasses import dataclass, field
from typing import Any, Mapping


def setting(default: Any, help: str, *, unit: str = "", choices: tuple = ()) -> Any:
    """One setting: its default, a one-line description, its unit and, for strings, the allowed values."""
    return field(default=default, metadata={"help": help, "unit": unit, "choices": tuple(choices)})


@dataclass(frozen=True)
class NoSettings:
    """A module without settings."""


@dataclass(frozen=True)
class SettingSpec:
    """What one setting is, for profile validation and documentation."""

    name: str
    type: Any  # the resolved annotation: bool, int, float, str, tuple[str, ...], ...
    default: Any
    help: str
    unit: str
    choices: tuple

    @property
    def type_name(self) -> str:
        return type_name(self.type)

    def to_record(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type_name, "default": _plain(self.default), "unit": self.unit,
                "choices": list(self.choices), "help": self.help}


class SettingError(ValueError):
    """A profile value that does not fit its setting; `key` names the setting."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def specs(settings_type: type) -> tuple[SettingSpec, ...]:
    """Every setting of a settings dataclass, in declaration order."""
    hints = typing.get_type_hints(settings_type)
    out = []
    for f in dataclasses.fields(settings_type):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        out.append(SettingSpec(f.name, hints[f.name], default, f.metadata.get("help", ""),
                               f.metadata.get("unit", ""), tuple(f.metadata.get("choices", ()))))
    return tuple(out)


def defaults(settings_type: type) -> dict[str, Any]:
    return {s.name: s.default for s in specs(settings_type)}


def check_value(spec: SettingSpec, value: Any) -> Any:
    """The value converted to the setting's type (int -> float, list -> tuple); SettingError when it does not fit."""
    checked = _convert(value, spec.type)
    if checked is _BAD:
        raise SettingError(spec.name, f"wrong type: {type(value).__name__} {_short(value)} (expected "
                                      f"{spec.type_name}, like the default {_plain(spec.default)!r})")
    if spec.choices and checked not in spec.choices:
        raise SettingError(spec.name, f"must be one of {', '.join(map(repr, spec.choices))}, not {checked!r}")
    return checked


def build(settings_type: type, table: Mapping[str, Any] | None) -> Any:
    """The settings object from a profile's table (already validated, or raises SettingError)."""
    known = {s.name: s for s in specs(settings_type)}
    values = {}
    for key, value in (table or {}).items():
        if key not in known:
            raise SettingError(key, f"unknown setting (known: {', '.join(sorted(known)) or 'none'})")
        values[key] = check_value(known[key], value)
    return settings_type(**values)


def as_dict(settings: Any) -> dict[str, Any]:
    return {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)}


# -- types ------------------------------------------------------------------------------------------------
_BAD = object()


def _convert(value: Any, annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Union:  # Optional[...]
        if value is None and type(None) in typing.get_args(annotation):
            return None
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                converted = _convert(value, arg)
                if converted is not _BAD:
                    return converted
        return _BAD
    if annotation is bool:
        return value if isinstance(value, bool) else _BAD
    if isinstance(value, bool):  # bool is an int in Python; `retest_count = true` must not pass as 1
        return _BAD
    if annotation is float:
        # NaN and infinity pass every comparison the wrong way (a NaN interval or limit disables its check).
        if isinstance(value, (int, float)) and math.isfinite(value) and abs(value) <= 1e15:
            return float(value)
        return _BAD
    if annotation is int:
        return value if isinstance(value, int) and abs(value) <= 2 ** 63 else _BAD
    if annotation is str:
        return value if isinstance(value, str) else _BAD
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            return _BAD
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            items = [_convert(v, args[0]) for v in value]
        elif len(args) == len(value):
            items = [_convert(v, a) for v, a in zip(value, args)]
        else:
            return _BAD
        return _BAD if any(i is _BAD for i in items) else tuple(items)
    if origin in (dict, Mapping) or annotation in (dict, Mapping):
        return dict(value) if isinstance(value, dict) else _BAD
    return value


def type_name(annotation: Any) -> str:
    names = {str: "string", int: "integer", float: "number", bool: "true/false", dict: "table", Any: "any value"}
    if annotation in names:
        return names[annotation]
    origin = typing.get_origin(annotation)
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return f"list of {type_name(args[0])}"
        return "list of " + ", ".join(type_name(a) for a in args)
    if origin is typing.Union:
        return " or ".join(type_name(a) for a in typing.get_args(annotation) if a is not type(None))
    return getattr(annotation, "__name__", str(annotation))


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."

