"""EDAC: the kernel's memory error counters, read from sysfs into typed records. Never judges.

Layout (kernel `Documentation/admin-guide/ras.rst`, `drivers/edac/edac_mc_sysfs.c`), one directory per memory
controller under ``/sys/devices/system/edac/mc``:

- ``mcN/``: ``ce_count``, ``ue_count`` (corrected / uncorrected errors since boot or the last reset),
  ``ce_noinfo_count``, ``ue_noinfo_count`` (errors the driver could not place), ``seconds_since_reset``,
  ``mc_name``, ``size_mb``.
- ``mcN/dimmM/`` or, where the controller knows ranks but not modules, ``mcN/rankM/``: ``dimm_label`` (the
  board's slot name, or a firmware name such as ``CPU_SrcID#0_Ha#0_Chan#0_DIMM#0``), ``dimm_location``
  (``channel 0 slot 0``), ``dimm_ce_count``, ``dimm_ue_count``, ``size`` (MiB), ``dimm_mem_type``.
- ``mcN/csrowK/`` (the older interface, still present): ``ce_count``, ``ue_count``, per channel
  ``chJ_ce_count`` and ``chJ_dimm_label``, ``size_mb``.

No ``mc`` directory, or one without ``mcN`` entries, means no EDAC driver is loaded: an empty snapshot.

`counters()` picks, per controller, the finest place the driver names (DIMM or rank, else csrow channel, else
csrow, else the controller) so that one error is counted once; `increases()` compares two snapshots.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from burnin.host import Host
from burnin.judge import counter_growth

EDAC_MC = "/sys/devices/system/edac/mc"


@dataclass(frozen=True)
class EdacDimm:
    """One ``dimmM`` (or ``rankM``) directory."""

    mc: int
    index: int
    kind: str  # "dimm" or "rank"
    label: str | None
    location: str | None  # "channel 0 slot 0", as the driver lays out its layers
    ce_count: int | None
    ue_count: int | None
    size_mib: int | None
    mem_type: str | None

    @property
    def key(self) -> str:
        return f"mc{self.mc}/{self.kind}{self.index}"


@dataclass(frozen=True)
class EdacChannel:
    """One ``chJ_*`` pair inside a csrow."""

    csrow: int
    channel: int
    label: str | None
    ce_count: int | None


@dataclass(frozen=True)
class EdacCsrow:
    mc: int
    index: int
    ce_count: int | None
    ue_count: int | None
    size_mib: int | None
    channels: tuple[EdacChannel, ...]


@dataclass(frozen=True)
class EdacController:
    mc: int
    name: str | None
    ce_count: int | None
    ue_count: int | None
    ce_noinfo_count: int | None
    ue_noinfo_count: int | None
    seconds_since_reset: int | None
    size_mib: int | None
    dimms: tuple[EdacDimm, ...]
    csrows: tuple[EdacCsrow, ...]


@dataclass(frozen=True)
class EdacSnapshot:
    controllers: tuple[EdacController, ...]
    taken_at: float = field(default=0.0, compare=False)  # time.monotonic() of the reading
    present: bool = False  # the ``mc`` directory exists (a core EDAC module is loaded)

    @property
    def available(self) -> bool:
        """At least one memory controller driver reports counters."""
        return bool(self.controllers)


@dataclass(frozen=True)
class EdacCounter:
    """One error counter at the finest place its controller names."""

    key: str  # "mc1/dimm0", "mc0/csrow3/ch0", "mc0/csrow0", "mc0", "mc0/noinfo"
    mc: int
    kind: str  # "ce" (corrected) or "ue" (uncorrected)
    count: int
    label: str | None = None  # the DIMM label(s) the driver gives for this place
    location: str | None = None  # where the driver places it ("channel 0 slot 0", "csrow 3 channel 0")


@dataclass(frozen=True)
class EdacIncrease:
    counter: EdacCounter  # the later reading
    before: int
    after: int

    @property
    def delta(self) -> int:
        return self.after - self.before


# -- reading -------------------------------------------------------------------------------------------
_NUMBERED = re.compile(r"^(mc|dimm|rank|csrow)(\d+)$")
_CHANNEL_FILE = re.compile(r"^ch(\d+)_(ce_count|dimm_label)$")


def _numbered(host: Host, directory: str, prefix: str) -> list[tuple[int, str]]:
    found = []
    for name in host.listdir(directory):
        m = _NUMBERED.match(name)
        if m and m[1] == prefix:
            found.append((int(m[2]), f"{directory}/{name}"))
    return sorted(found)


def _text(host: Host, path: str) -> str | None:
    value = host.read_text(path)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _int(host: Host, path: str) -> int | None:
    value = _text(host, path)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def read_dimm(host: Host, mc: int, kind: str, index: int, path: str) -> EdacDimm:
    return EdacDimm(
        mc=mc, index=index, kind=kind,
        label=_text(host, f"{path}/dimm_label"),
        location=_text(host, f"{path}/dimm_location"),
        ce_count=_int(host, f"{path}/dimm_ce_count"),
        ue_count=_int(host, f"{path}/dimm_ue_count"),
        size_mib=_int(host, f"{path}/size"),
        mem_type=_text(host, f"{path}/dimm_mem_type"),
    )


def read_csrow(host: Host, mc: int, index: int, path: str) -> EdacCsrow:
    channels: dict[int, dict[str, object]] = {}
    for name in host.listdir(path):
        m = _CHANNEL_FILE.match(name)
        if m:
            channels.setdefault(int(m[1]), {})[m[2]] = f"{path}/{name}"
    chans = []
    for ch, files in sorted(channels.items()):
        label_path = files.get("dimm_label")
        count_path = files.get("ce_count")
        chans.append(EdacChannel(
            csrow=index, channel=ch,
            label=_text(host, str(label_path)) if label_path else None,
            ce_count=_int(host, str(count_path)) if count_path else None,
        ))
    return EdacCsrow(
        mc=mc, index=index,
        ce_count=_int(host, f"{path}/ce_count"),
        ue_count=_int(host, f"{path}/ue_count"),
        size_mib=_int(host, f"{path}/size_mb"),
        channels=tuple(chans),
    )


def read_controller(host: Host, mc: int, path: str) -> EdacController:
    dimms = [read_dimm(host, mc, "dimm", i, p) for i, p in _numbered(host, path, "dimm")]
    dimms += [read_dimm(host, mc, "rank", i, p) for i, p in _numbered(host, path, "rank")]
    return EdacController(
        mc=mc,
        name=_text(host, f"{path}/mc_name"),
        ce_count=_int(host, f"{path}/ce_count"),
        ue_count=_int(host, f"{path}/ue_count"),
        ce_noinfo_count=_int(host, f"{path}/ce_noinfo_count"),
        ue_noinfo_count=_int(host, f"{path}/ue_noinfo_count"),
        seconds_since_reset=_int(host, f"{path}/seconds_since_reset"),
        size_mib=_int(host, f"{path}/size_mb"),
        dimms=tuple(dimms),
        csrows=tuple(read_csrow(host, mc, i, p) for i, p in _numbered(host, path, "csrow")),
    )


def read_edac(host: Host) -> EdacSnapshot:
    """Every memory controller's counters, now. Empty (not an error) when no EDAC driver is loaded."""
    controllers = tuple(read_controller(host, mc, path) for mc, path in _numbered(host, EDAC_MC, "mc"))
    return EdacSnapshot(controllers, time.monotonic(), host.is_dir(EDAC_MC))


# -- counting ------------------------------------------------------------------------------------------
def _labels(values) -> str | None:
    seen: list[str] = []
    for v in values:
        if v and v not in seen:
            seen.append(v)
    return ", ".join(seen) or None


def controller_counters(ctl: EdacController) -> list[EdacCounter]:
    """The controller's counters at the finest place it names, each error counted once."""
    out: list[EdacCounter] = []
    mc = ctl.mc
    dimms = [d for d in ctl.dimms if d.ce_count is not None or d.ue_count is not None]
    channels = [ch for row in ctl.csrows for ch in row.channels if ch.ce_count is not None]
    rows = [row for row in ctl.csrows if row.ce_count is not None or row.ue_count is not None]

    # corrected errors
    if any(d.ce_count is not None for d in dimms):
        out += [EdacCounter(d.key, mc, "ce", d.ce_count, d.label, d.location)
                for d in dimms if d.ce_count is not None]
    elif channels:
        out += [EdacCounter(f"mc{mc}/csrow{ch.csrow}/ch{ch.channel}", mc, "ce", ch.ce_count, ch.label,
                            f"csrow {ch.csrow} channel {ch.channel}") for ch in channels]
    elif any(row.ce_count is not None for row in rows):
        out += [EdacCounter(f"mc{mc}/csrow{row.index}", mc, "ce", row.ce_count,
                            _labels(ch.label for ch in row.channels), f"csrow {row.index}")
                for row in rows if row.ce_count is not None]
    elif ctl.ce_count is not None:
        out.append(EdacCounter(f"mc{mc}", mc, "ce", ctl.ce_count))

    # uncorrected errors: no per-channel file exists for them
    if any(d.ue_count is not None for d in dimms):
        out += [EdacCounter(d.key, mc, "ue", d.ue_count, d.label, d.location)
                for d in dimms if d.ue_count is not None]
    elif any(row.ue_count is not None for row in rows):
        out += [EdacCounter(f"mc{mc}/csrow{row.index}", mc, "ue", row.ue_count,
                            _labels(ch.label for ch in row.channels), f"csrow {row.index}")
                for row in rows if row.ue_count is not None]
    elif ctl.ue_count is not None:
        out.append(EdacCounter(f"mc{mc}", mc, "ue", ctl.ue_count))

    # errors the driver could not place, and whatever the controller total holds beyond the parts
    for kind, total, noinfo in (("ce", ctl.ce_count, ctl.ce_noinfo_count), ("ue", ctl.ue_count, ctl.ue_noinfo_count)):
        parts = sum(c.count for c in out if c.kind == kind and c.key != f"mc{mc}")
        placed_at_controller = any(c.key == f"mc{mc}" and c.kind == kind for c in out)
        unplaced = noinfo or 0
        if total is not None and not placed_at_controller:
            unplaced = max(unplaced, total - parts)
        if unplaced or noinfo is not None:
            out.append(EdacCounter(f"mc{mc}/noinfo", mc, kind, unplaced, None,
                                   "memory controller, DIMM not identified"))
    return out


def counters(snapshot: EdacSnapshot) -> dict[tuple[str, str], EdacCounter]:
    """(key, kind) -> counter, over every controller."""
    return {(c.key, c.kind): c for ctl in snapshot.controllers for c in controller_counters(ctl)}


def totals(snapshot: EdacSnapshot) -> dict[str, int]:
    """Corrected and uncorrected errors summed over the controllers (``ce``, ``ue``)."""
    out = {"ce": 0, "ue": 0}
    for c in counters(snapshot).values():
        out[c.kind] += c.count
    return out


def increases(before: EdacSnapshot, after: EdacSnapshot) -> list[EdacIncrease]:
    """Counters that grew between two snapshots. A counter that shrank was reset: its new value is the increase;
    one that was not there before counts from zero."""
    old, new = counters(before), counters(after)
    grown = counter_growth({k: old[k].count if k in old else 0 for k in new}, {k: c.count for k, c in new.items()})
    return [EdacIncrease(new[k], new[k].count - grown[k], new[k].count) for k in sorted(grown)]
