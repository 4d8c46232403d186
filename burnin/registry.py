"""Modules are found through the entry-point group `burnin.modules`, built-ins exactly like plugins."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import entry_points

from burnin.module import Module

GROUP = "burnin.modules"


@dataclass(frozen=True)
class Registered:
    name: str
    cls: type[Module] | None
    error: str = ""  # why a plugin could not be loaded (it is reported, not silently dropped)


def discover() -> list[Registered]:
    found: dict[str, Registered] = {}
    for ep in entry_points(group=GROUP):
        if ep.name in found:
            continue  # the same distribution seen twice on sys.path (editable + regular install)
        try:
            cls = ep.load()
        except Exception as exc:  # a broken third-party plugin must not break burnin
            found[ep.name] = Registered(ep.name, None, f"cannot load {ep.value}: {type(exc).__name__}: {exc}")
            continue
        if not (isinstance(cls, type) and issubclass(cls, Module)):
            found[ep.name] = Registered(ep.name, None, f"{ep.value} is not a burnin Module class")
        elif cls.name != ep.name:
            found[ep.name] = Registered(ep.name, None, f"{ep.value} calls itself {cls.name!r}, registered as {ep.name!r}")
        else:
            found[ep.name] = Registered(ep.name, cls)
    return sorted(found.values(), key=lambda r: r.name)


def module_classes() -> dict[str, type[Module]]:
    return {r.name: r.cls for r in discover() if r.cls is not None}
