"""Claims: what the listing promised (a TOML file), checked against the inventory.

    [system]      vendor, product                     (strings: case-insensitive substring, or /regex/)
    [cpu]         model (string), sockets, cores (physical, all sockets), threads (logical CPUs)
    [memory]      total_gib, dimm_count, dimm_size_gib, speed_mts (rated, at least), ecc (bool)
    [[disks]]     count, min_size_gb (decimal GB, as drives are sold), transport, max_power_on_hours,
                  new (bool: at most NEW_DISK_MAX_HOURS power-on hours, and a history that adds up)
                  (or one [disks] table; each [[disks]] table is one kind of disk; without count, every disk
                  of that transport must meet it)
    [nics]        count, speed_mbps (that many ports, each able to run at least this fast), links_up
    [gpus]        count; model (substring or /regex/ of every GPU's name) and memory_gib (per GPU), checked by
                  the gpu module from the GPUs' own answers (NVML, nvidia-smi, amdgpu)
    [controllers] model (/regex/ or substring, matched against the storage controllers' names and drivers)
    [raid]        controller (model, /regex/ or substring), cache_mb, battery (bool): checked by the raid module

Loading is strict: an unknown key or a wrong type is a UsageError naming the file, line and key. Checking
gives one ClaimCheck per claimed value: ok True (as promised), False (a FAIL `claim-mismatch`, expected vs
found in the evidence), or None (could not be checked here, with why: a WARN `claim-unchecked`).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from burnin import tomlfile
from burnin.errors import UsageError
from burnin.inventory import Inventory
from burnin.inventory._record import GIB, Record
from burnin.inventory.disks import Disk
from burnin.inventory.population import PopulationPolicy, gib
from burnin.model import Finding, Severity

MODULE = "inventory"
TRANSPORTS = ("SATA", "SAS", "NVMe", "USB", "virtio", "SCSI", "MMC")

_INT, _NUMBER, _STR, _BOOL, _TEXT = "an integer", "a number", "a string", "true or false", "a string or /regex/"
SCHEMA: dict[str, dict[str, str]] = {
    "system": {"vendor": _TEXT, "product": _TEXT},
    "cpu": {"model": _TEXT, "sockets": _INT, "cores": _INT, "threads": _INT},
    "memory": {"total_gib": _NUMBER, "dimm_count": _INT, "dimm_size_gib": _NUMBER, "speed_mts": _INT,
               "ecc": _BOOL},
    "disks": {"count": _INT, "min_size_gb": _NUMBER, "transport": _STR, "max_power_on_hours": _INT, "new": _BOOL},
    "nics": {"count": _INT, "speed_mbps": _INT, "links_up": _INT},
    "gpus": {"count": _INT, "model": _TEXT, "memory_gib": _NUMBER},  # model, memory_gib: the gpu module checks
    "controllers": {"model": _TEXT},
    # Checked by the raid module (its vendor tools know the model, cache and battery): burnin.modules.raid.
    "raid": {"controller": _TEXT, "cache_mb": _INT, "battery": _BOOL},
}


@dataclass(frozen=True)
class TextClaim(Record):
    """A claimed string: a case-insensitive substring, or a regular expression when written /like this/."""

    text: str
    regex: bool

    @classmethod
    def parse(cls, value: str) -> "TextClaim":
        if len(value) >= 2 and value.startswith("/") and value.endswith("/"):
            return cls(value[1:-1], True)
        return cls(value, False)

    def matches(self, found: str | None) -> bool:
        if found is None:
            return False
        if self.regex:
            return re.search(self.text, found) is not None
        return self.text.casefold() in found.casefold()

    def __str__(self) -> str:
        return f"/{self.text}/" if self.regex else self.text


@dataclass(frozen=True)
class DiskClaim(Record):
    count: int | None = None
    min_size_gb: float | None = None
    transport: str | None = None
    max_power_on_hours: int | None = None
    new: bool | None = None  # sold as new: burnin.modules.disk checks the drive's history too


NEW_DISK_MAX_HOURS = 72  # a new drive may have run a factory test and a first power-up, not more


@dataclass(frozen=True)
class Claims(Record):
    """The parsed claims file. `values` maps "section.key" to the claimed value (TextClaim for strings)."""

    file: str | None
    values: Mapping[str, Any] = field(default_factory=dict)
    disks: tuple[DiskClaim, ...] = ()

    def get(self, key: str) -> Any:
        return self.values.get(key)


@dataclass(frozen=True)
class ClaimCheck(Record):
    key: str  # "memory.dimm_count", "disks[1].count"
    expected: Any
    found: Any
    ok: bool | None  # None: could not be checked
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def finding(self) -> Finding:
        severity, code = {True: (Severity.INFO, "claim-match"), False: (Severity.FAIL, "claim-mismatch"),
                          None: (Severity.WARN, "claim-unchecked")}[self.ok]
        evidence = {"expected": _plain(self.expected), "found": _plain(self.found), **self.evidence}
        return Finding(MODULE, severity, f"claim:{self.key}", code, self.message, evidence)


def _plain(value: Any) -> Any:
    if isinstance(value, TextClaim):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


# -- loading ---------------------------------------------------------------------------------------


def _array_key_line(text: str, table: str, index: int, key: str | None) -> int | None:
    """Line of `key` inside the index-th (0-based) [[table]] of `text` (or of the header when key is None)."""
    seen = -1
    inside = False
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith("["):
            inside = False
            if re.match(rf"^\[\[\s*{re.escape(table)}\s*\]\]", stripped):
                seen += 1
                inside = seen == index
                if inside and key is None:
                    return number
            continue
        if inside and key is not None and re.match(rf"^{re.escape(key)}\s*=", stripped):
            return number
    return None


def _check_type(value: Any, kind: str) -> str | None:
    """Why `value` is not of `kind`, or None."""
    if kind == _INT:
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return None if ok else "must be a whole number, 0 or more"
    if kind == _NUMBER:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
        return None if ok else "must be a number above 0"
    if kind == _BOOL:
        return None if isinstance(value, bool) else "must be true or false"
    if not isinstance(value, str) or not value:
        return f"must be {kind}"
    if kind == _TEXT and value.startswith("/") and value.endswith("/") and len(value) >= 2:
        try:
            re.compile(value[1:-1])
        except re.error as exc:
            return f"not a valid regular expression: {exc}"
    return None


def parse_claims(data: Mapping[str, Any], text: str = "", file: str | None = None) -> Claims:
    """Validate parsed TOML against the claims schema; errors name the line of the offending key."""

    def fail(message: str, key: str, line: int | None = None) -> UsageError:
        if line is None:
            line = tomlfile.key_line(text, key) if text else None
        return UsageError(message, file=file, line=line, key=key)

    values: dict[str, Any] = {}
    disks: list[DiskClaim] = []
    for section, body in data.items():
        if section not in SCHEMA:
            raise fail(f"unknown section (known: {', '.join(SCHEMA)})", section)
        tables: list[tuple[Mapping[str, Any], Callable[[str | None], int | None], str]]
        if section == "disks" and isinstance(body, list):
            tables = []
            for i, item in enumerate(body):
                prefix = f"disks[{i + 1}]"
                if not isinstance(item, dict):
                    raise fail("each [[disks]] entry must be a table", prefix)
                tables.append((item, lambda k, i=i: _array_key_line(text, "disks", i, k), prefix))
        elif isinstance(body, dict):
            tables = [(body, lambda k, s=section: tomlfile.key_line(text, f"{s}.{k}" if k else s), section)]
        else:
            raise fail(f"must be a table ([{section}])", section)
        for table, line_of, prefix in tables:
            for key, value in table.items():
                kind = SCHEMA[section].get(key)
                if kind is None:
                    raise fail(f"unknown key (known in [{section}]: {', '.join(SCHEMA[section])})",
                               f"{prefix}.{key}", line_of(key))
                problem = _check_type(value, kind)
                if problem is None and section == "disks" and key == "transport" and not _transport(value):
                    problem = f"unknown transport (known: {', '.join(TRANSPORTS)})"
                if problem:
                    raise fail(problem, f"{prefix}.{key}", line_of(key))
            if section == "disks":
                disks.append(DiskClaim(
                    count=table.get("count"),
                    min_size_gb=table.get("min_size_gb"),
                    transport=_transport(table["transport"]) if "transport" in table else None,
                    max_power_on_hours=table.get("max_power_on_hours"),
                    new=table.get("new"),
                ))
            else:
                for key, value in table.items():
                    values[f"{section}.{key}"] = TextClaim.parse(value) if SCHEMA[section][key] == _TEXT else value
    return Claims(file, values, tuple(disks))


def _transport(value: str) -> str | None:
    return next((t for t in TRANSPORTS if t.casefold() == value.casefold()), None)


def load_claims(path: str | Path, text: str | None = None) -> Claims:
    """Read and validate a claims file. Raises UsageError (file, line, key) on any problem."""
    data, text = tomlfile.load(path, text)
    return parse_claims(data, text, str(path))


# -- checking --------------------------------------------------------------------------------------


def _check(key: str, expected: Any, found: Any, ok: bool | None, message: str, **evidence: Any) -> ClaimCheck:
    return ClaimCheck(key, expected, found, ok, message, evidence)


def _unchecked(key: str, expected: Any, why: str) -> ClaimCheck:
    return _check(key, expected, None, None, f"{key} could not be checked: {why}.")


def _compare(key: str, expected: Any, found: Any, what: str, **evidence: Any) -> ClaimCheck:
    ok = found == expected
    verb = "as claimed" if ok else f"but {expected} was claimed"
    return _check(key, expected, found, ok, f"{what}: {found}, {verb}.", **evidence)


def _text_check(key: str, claim: TextClaim, found: Sequence[str | None], what: str) -> ClaimCheck:
    values = [v for v in found if v]
    if not values:
        return _unchecked(key, claim, f"the {what} is not known")
    ok = all(claim.matches(v) for v in values)
    shown = " / ".join(dict.fromkeys(values))
    verb = "matches the claim" if ok else f"does not match the claimed {claim}"
    return _check(key, claim, shown, ok, f"The {what} is {shown}, which {verb}.")


def _system_checks(claims: Claims, inv: Inventory) -> list[ClaimCheck]:
    checks = []
    for key, found, what in (("system.vendor", inv.system.vendor, "system vendor"),
                             ("system.product", inv.system.product, "system product")):
        if claims.get(key) is not None:
            checks.append(_text_check(key, claims.get(key), [found], what))
    return checks


def _cpu_checks(claims: Claims, inv: Inventory) -> list[ClaimCheck]:
    cpu = inv.cpu
    checks = []
    if claims.get("cpu.model") is not None:
        models = [s.model for s in cpu.socket_records if s.populated and s.model] or [cpu.model]
        checks.append(_text_check("cpu.model", claims.get("cpu.model"), models, "CPU model"))
    populated = sum(1 for s in cpu.socket_records if s.populated) if cpu.socket_records else None
    for key, found, what in (("cpu.sockets", cpu.sockets, "CPU sockets in use"),
                             ("cpu.cores", cpu.cores, "Physical CPU cores"),
                             ("cpu.threads", cpu.threads, "Logical CPUs")):
        expected = claims.get(key)
        if expected is None:
            continue
        if found is None:
            checks.append(_unchecked(key, expected, "the CPU topology is not known"))
        else:
            checks.append(_compare(key, expected, found, what, smbios_populated_sockets=populated))
    return checks


def _memory_checks(claims: Claims, inv: Inventory, policy: PopulationPolicy) -> list[ClaimCheck]:
    mem = inv.memory
    populated = [d for d in mem.dimms if d.populated]
    no_dimms = "the DIMM list needs the SMBIOS tables (run as root) or a dmidecode dump"
    checks = []
    expected = claims.get("memory.total_gib")
    if expected is not None:
        if mem.dimm_total_bytes:
            found = round(mem.dimm_total_bytes / GIB, 1)
            ok = abs(found - expected) < 0.5
            checks.append(_check("memory.total_gib", expected, found, ok,
                                 f"The DIMMs add up to {gib(mem.dimm_total_bytes)}"
                                 + (", as claimed." if ok else f", but {expected} GiB was claimed."),
                                 source="SMBIOS DIMMs"))
        elif mem.total_bytes:
            claimed = expected * GIB
            reserve = claimed * policy.reserve_pct / 100 + policy.reserve_gib * GIB
            ok = claimed - reserve <= mem.total_bytes <= claimed
            checks.append(_check("memory.total_gib", expected, round(mem.total_bytes / GIB, 1), ok,
                                 f"The OS sees {gib(mem.total_bytes)} (DIMM list not readable)"
                                 + (", consistent with the claim." if ok else
                                    f", which does not fit the claimed {expected} GiB."),
                                 source="/proc/meminfo MemTotal", reserve_bytes=int(reserve)))
        else:
            checks.append(_unchecked("memory.total_gib", expected, "neither the DIMMs nor the OS total are known"))
    expected = claims.get("memory.dimm_count")
    if expected is not None:
        if mem.dimm_source is None:
            checks.append(_unchecked("memory.dimm_count", expected, no_dimms))
        else:
            checks.append(_compare("memory.dimm_count", expected, len(populated), "Installed DIMMs",
                                   slots=mem.slot_count))
    expected = claims.get("memory.dimm_size_gib")
    if expected is not None:
        sizes = sorted({round((d.size_bytes or 0) / GIB, 2) for d in populated if d.size_bytes})
        if mem.dimm_source is None or not sizes:
            checks.append(_unchecked("memory.dimm_size_gib", expected, no_dimms))
        else:
            ok = sizes == [expected]
            checks.append(_check("memory.dimm_size_gib", expected, sizes[0] if len(sizes) == 1 else sizes, ok,
                                 f"DIMM sizes: {', '.join(f'{s:g} GiB' for s in sizes)}"
                                 + (", as claimed." if ok else f", but {expected:g} GiB DIMMs were claimed.")))
    expected = claims.get("memory.speed_mts")
    if expected is not None:
        rated = sorted({d.speed_mts for d in populated if d.speed_mts})
        configured = sorted({d.configured_speed_mts for d in populated if d.configured_speed_mts})
        if not rated:
            checks.append(_unchecked("memory.speed_mts", expected, no_dimms if mem.dimm_source is None
                                     else "the DIMMs do not state their speed"))
        else:
            ok = rated[0] >= expected
            checks.append(_check("memory.speed_mts", expected, rated[0], ok,
                                 f"The slowest DIMM is rated {rated[0]} MT/s"
                                 + (", at least" if ok else ", below") + f" the claimed {expected}.",
                                 rated_mts=rated, configured_mts=configured))
    expected = claims.get("memory.ecc")
    if expected is not None:
        widths = [(d.total_width_bits, d.data_width_bits) for d in populated
                  if d.total_width_bits and d.data_width_bits]
        ecc_dimms = all(t > dw for t, dw in widths) if widths else None
        if mem.ecc_protected is None:
            checks.append(_unchecked("memory.ecc", expected, no_dimms))
        else:
            found = mem.ecc_protected and ecc_dimms is not False
            checks.append(_check("memory.ecc", expected, found, found == expected,
                                 f"Memory error correction: {mem.ecc}"
                                 + ("" if ecc_dimms is not False else ", but the DIMMs are not ECC DIMMs")
                                 + (", as claimed." if found == expected
                                    else f"; the claim was ecc = {str(expected).lower()}."),
                                 array_ecc=mem.ecc, dimm_widths_bits=sorted(set(widths))))
    return checks


def _hours_of(disk: Disk, hours: Mapping[str, int]) -> int | None:
    for key in (disk.name, disk.dev_path, disk.serial):
        if key and key in hours:
            return hours[key]
    return None


def _disk_checks(claims: Claims, inv: Inventory, hours: Mapping[str, int] | None) -> list[ClaimCheck]:
    if not claims.disks:
        return []
    checks = []
    single = len(claims.disks) == 1
    if inv.source == "dmidecode":
        for i, claim in enumerate(claims.disks):
            prefix = "disks" if single else f"disks[{i + 1}]"
            checks.append(_unchecked(prefix, claim.to_dict(), "a dmidecode dump does not list disks"))
        return checks
    free = list(inv.disks)
    # Most demanding claims first; each takes the smallest disks that meet it.
    order = sorted(range(len(claims.disks)), key=lambda i: (-(claims.disks[i].min_size_gb or 0),
                                                            claims.disks[i].transport is None))
    for i in order:
        claim = claims.disks[i]
        prefix = "disks" if single else f"disks[{i + 1}]"
        what = " ".join(w for w in (claim.transport, "disks") if w)
        if claim.min_size_gb:
            what += f" of at least {claim.min_size_gb:g} GB"
        kind = [d for d in free if claim.transport is None or (d.transport or "").split("/")[0].casefold()
                == claim.transport.casefold()]
        fitting = sorted((d for d in kind if claim.min_size_gb is None
                          or (d.size_bytes or 0) >= claim.min_size_gb * 1e9), key=lambda d: d.size_bytes or 0)
        if claim.count is not None:
            members = fitting[: claim.count]
            ok = len(fitting) >= claim.count
            checks.append(_check(f"{prefix}.count", claim.count, len(fitting), ok,
                                 f"Found {len(fitting)} {what}" + (
                                     ", as claimed." if len(fitting) == claim.count
                                     else f"; {claim.count} {'was' if claim.count == 1 else 'were'} claimed, "
                                          "and more is no fault." if ok
                                     else f", but {claim.count} were claimed."),
                                 disks=[d.dev_path for d in members],
                                 other_disks=[d.dev_path for d in free if d not in members]))
        else:
            members = kind
            if claim.min_size_gb is not None:
                small = [d for d in kind if d not in fitting]
                ok = bool(kind) and not small
                checks.append(_check(f"{prefix}.min_size_gb", claim.min_size_gb,
                                     sorted(round((d.size_bytes or 0) / 1e9) for d in kind), ok,
                                     f"{len(kind)} {claim.transport or ''} disks, "
                                     + ("all at least " if ok else f"{len(small)} smaller than ")
                                     + f"{claim.min_size_gb:g} GB" + ("." if kind else " (none found)."),
                                     too_small=[d.dev_path for d in small]))
            elif claim.transport is not None:
                checks.append(_check(f"{prefix}.transport", claim.transport, len(kind), bool(kind),
                                     f"Found {len(kind)} {claim.transport} disks."))
        free = [d for d in free if d not in members]
        if claim.new and claim.max_power_on_hours is None:
            claim = replace(claim, max_power_on_hours=NEW_DISK_MAX_HOURS)  # "new" as hours; history: the disk module
        if claim.max_power_on_hours is not None:
            key = f"{prefix}.max_power_on_hours"
            known = {d.dev_path: _hours_of(d, hours or {}) for d in members}
            if not members or any(h is None for h in known.values()):
                why = "no disks to check" if not members else "power-on hours come from SMART, not read yet"
                checks.append(_unchecked(key, claim.max_power_on_hours, why))
            else:
                worst = max(known.values())
                ok = worst <= claim.max_power_on_hours
                checks.append(_check(key, claim.max_power_on_hours, worst, ok,
                                     f"The most used of these disks has {worst} power-on hours"
                                     + (", within the claim." if ok else
                                        f", more than the claimed {claim.max_power_on_hours}."),
                                     power_on_hours=known))
    return sorted(checks, key=lambda c: c.key)


def _nic_checks(claims: Claims, inv: Inventory) -> list[ClaimCheck]:
    keys = [k for k in ("nics.count", "nics.speed_mbps", "nics.links_up") if claims.get(k) is not None]
    if not keys:
        return []
    if inv.source == "dmidecode":
        return [_unchecked(k, claims.get(k), "a dmidecode dump does not list network ports") for k in keys]
    ports = [n for n in inv.nics if n.physical and not n.virtual_function]
    checks = []
    expected = claims.get("nics.count")
    if expected is not None:
        ok = len(ports) >= expected
        checks.append(_check("nics.count", expected, len(ports), ok,
                             f"Found {len(ports)} network ports" + (", as claimed." if ok else
                                                                   f", but {expected} were claimed."),
                             ports=[n.name for n in ports]))
    expected = claims.get("nics.speed_mbps")
    if expected is not None:
        speeds = {n.name: n.max_speed_mbps for n in ports}
        fast = [name for name, s in speeds.items() if s is not None and s >= expected]
        unknown = [name for name, s in speeds.items() if s is None]
        needed = claims.get("nics.count") or 1
        ok: bool | None = len(fast) >= needed
        if not ok and len(fast) + len(unknown) >= needed:
            ok = None  # the ports that state no speed (no link, no ethtool) might make up the rest
        message = f"{len(fast)} of {len(ports)} ports can run at {expected} Mb/s or more"
        if ok is None:
            message += f"; {len(unknown)} state no speed (no link, and no ethtool), so {needed} cannot be confirmed."
        else:
            message += ", as claimed." if ok else f", but {needed} were claimed."
        checks.append(_check("nics.speed_mbps", expected, max((s for s in speeds.values() if s), default=None),
                             ok, message, max_speed_mbps=speeds, ports_needed=needed))
    expected = claims.get("nics.links_up")
    if expected is not None:
        up = [n.name for n in ports if n.carrier]
        ok = len(up) >= expected
        checks.append(_check("nics.links_up", expected, len(up), ok,
                             f"{len(up)} ports have a link" + (", as claimed." if ok else
                                                              f", but {expected} were claimed."),
                             ports_up=up))
    return checks


def _pcie_checks(claims: Claims, inv: Inventory) -> list[ClaimCheck]:
    checks = []
    expected = claims.get("gpus.count")
    if expected is not None:
        if inv.source == "dmidecode":
            checks.append(_unchecked("gpus.count", expected, "a dmidecode dump does not list PCIe devices"))
        else:
            gpus = [d for d in inv.pcie.devices if d.is_gpu]
            ok = len(gpus) >= expected
            checks.append(_check("gpus.count", expected, len(gpus), ok,
                                 f"Found {len(gpus)} GPUs" + (", as claimed." if ok else
                                                              f", but {expected} were claimed."),
                                 gpus=[f"{d.address} {d.name}" for d in gpus]))
    claim = claims.get("controllers.model")
    if claim is not None:
        if inv.source == "dmidecode":
            checks.append(_unchecked("controllers.model", claim, "a dmidecode dump does not list PCIe devices"))
        else:
            names = [f"{d.name} {d.driver or ''}".strip() for d in inv.pcie.devices if d.is_storage_controller]
            ok = any(claim.matches(n) for n in names)
            checks.append(_check("controllers.model", claim, names, ok,
                                 ("A storage controller matches " if ok else "No storage controller matches ")
                                 + f"{claim}" + (f" (found: {'; '.join(names)})." if names else " (none found).")))
    return checks


RAID_DRIVERS = ("megaraid_sas", "hpsa", "smartpqi", "aacraid", "mpt3sas", "mpt2sas")


def _raid_checks(claims: Claims, inv: Inventory) -> list[ClaimCheck]:
    """The raid module checks raid claims against the controllers' own tools; here only the case it cannot
    see: no RAID controller in the box at all (the raid module then does not run)."""
    keys = [k for k in ("raid.controller", "raid.cache_mb") if claims.get(k) is not None]
    if claims.get("raid.battery"):
        keys.append("raid.battery")
    if not keys or inv.source == "dmidecode":
        return []
    if any(d.kind == "raid" or d.driver in RAID_DRIVERS for d in inv.pcie.devices):
        return []
    return [_check(k, claims.get(k), None, False, f"No RAID controller was found, but {k} = {claims.get(k)} "
                   "was claimed.") for k in keys]


# -- GPUs (the gpu module reads their names and memory; the inventory knows only their PCI ids) ----------------
GPU_MEMORY_SLACK = 0.97  # drivers keep a few percent of a GPU's memory back (an "80 GB" A100 shows 79.6 GiB)


def check_gpu_claims(claims: Claims | None, gpus: Sequence[Any]) -> list[ClaimCheck]:
    """`[gpus] model` and `memory_gib` against GPU records (`name`, `pci`, `memory_bytes`)."""
    checks: list[ClaimCheck] = []
    model = claims.get("gpus.model") if claims is not None else None
    memory = claims.get("gpus.memory_gib") if claims is not None else None
    if model is not None:
        checks.append(_text_check("gpus.model", model, [g.name for g in gpus], "GPU model"))
    if memory is not None:
        sizes = {g.pci: round(g.memory_bytes / GIB, 1) for g in gpus if g.memory_bytes}
        if not sizes:
            checks.append(_unchecked("gpus.memory_gib", memory, "no GPU said how much memory it has"))
        else:
            short = sorted(p for p, v in sizes.items() if v < memory * GPU_MEMORY_SLACK)
            shown = ", ".join(f"{v:g} GiB" for v in sorted(set(sizes.values())))
            checks.append(_check("gpus.memory_gib", memory, min(sizes.values()), not short,
                                 f"GPU memory: {shown}" + (f"; {memory:g} GiB per GPU was claimed ({', '.join(short)} "
                                                           "short)." if short else ", as claimed."), per_gpu=sizes))
    return checks


def check_claims(
    claims: Claims,
    inventory: Inventory,
    *,
    power_on_hours: Mapping[str, int] | None = None,
    policy: PopulationPolicy = PopulationPolicy(),
) -> list[ClaimCheck]:
    """Every claimed value against the inventory. `power_on_hours` maps a disk's name, /dev path or serial
    to its SMART power-on hours, when known."""
    return [
        *_system_checks(claims, inventory),
        *_cpu_checks(claims, inventory),
        *_memory_checks(claims, inventory, policy),
        *_disk_checks(claims, inventory, power_on_hours),
        *_nic_checks(claims, inventory),
        *_pcie_checks(claims, inventory),
        *_raid_checks(claims, inventory),
    ]


def match_claims(
    claims: Claims,
    inventory: Inventory,
    *,
    power_on_hours: Mapping[str, int] | None = None,
    policy: PopulationPolicy = PopulationPolicy(),
) -> list[Finding]:
    """Findings for every claim: FAIL claim-mismatch, WARN claim-unchecked, INFO claim-match."""
    return [c.finding() for c in check_claims(claims, inventory, power_on_hours=power_on_hours, policy=policy)]


# -- template --------------------------------------------------------------------------------------


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}" if value != int(value) else str(int(value))
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for everything a model name holds
    return str(value)


def claims_template(inventory: Inventory) -> str:
    """A claims file filled in from this machine, to edit into what the listing promised."""
    inv = inventory
    lines = [
        "# burnin claims: what the listing promised. Filled in from this machine: edit the values to what the",
        "# listing says, and delete what it does not say. Strings match as case-insensitive substrings;",
        "# write /regex/ for a regular expression.",
    ]

    def section(name: str, items: list[tuple[str, Any, str]], header: str | None = None) -> None:
        items = [(k, v, c) for k, v, c in items if v is not None]
        if not items:
            return
        lines.extend(["", header or f"[{name}]"])
        for key, value, comment in items:
            lines.append(f"{key} = {_toml(value)}" + (f"  # {comment}" if comment else ""))

    section("system", [("vendor", inv.system.vendor, ""), ("product", inv.system.product, "")])
    section("cpu", [("model", inv.cpu.model, ""), ("sockets", inv.cpu.sockets, ""),
                    ("cores", inv.cpu.cores, "physical cores, all sockets"),
                    ("threads", inv.cpu.threads, "logical CPUs")])
    mem = inv.memory
    populated = [d for d in mem.dimms if d.populated]
    sizes = {d.size_bytes for d in populated if d.size_bytes}
    speeds = [d.speed_mts for d in populated if d.speed_mts]
    total = mem.dimm_total_bytes or None
    if total:
        total_gib, total_note = round(total / GIB, 1), ""
    elif mem.total_bytes:
        total_gib = math.ceil(mem.total_bytes / GIB)
        total_note = f"the OS sees {mem.total_bytes / GIB:.1f} GiB; no DIMM list was readable"
    else:
        total_gib, total_note = None, ""
    section("memory", [
        ("total_gib", total_gib, total_note),
        ("dimm_count", len(populated) if mem.dimm_source else None, ""),
        ("dimm_size_gib", round(next(iter(sizes)) / GIB, 2) if len(sizes) == 1 else None, ""),
        ("speed_mts", min(speeds) if speeds else None, "rated speed, at least"),
        ("ecc", mem.ecc_protected, ""),
    ])
    groups: dict[str | None, list[Disk]] = {}
    for disk in inv.disks:
        if not disk.system:
            groups.setdefault(disk.transport, []).append(disk)
    for transport, disks in groups.items():
        section("disks", [
            ("count", len(disks), ""),
            ("min_size_gb", int(min(d.size_bytes or 0 for d in disks) // 1e9) or None, "decimal GB, as sold"),
            ("transport", transport if transport and transport.split("/")[0] in TRANSPORTS else None, ""),
        ], header="[[disks]]")
        lines.append("# max_power_on_hours = 20000  # checked against SMART")
    ports = [n for n in inv.nics if n.physical and not n.virtual_function]
    if inv.source != "dmidecode":
        speeds = [n.max_speed_mbps for n in ports]
        slowest = min(speeds) if speeds and None not in speeds else None
        section("nics", [("count", len(ports), ""), ("speed_mbps", slowest, "each of these ports at least this fast"),
                         ("links_up", sum(1 for n in ports if n.carrier), "")])
        section("gpus", [("count", sum(1 for d in inv.pcie.devices if d.is_gpu), "")])
        controllers = [d for d in inv.pcie.devices if d.is_storage_controller and d.device_name]
        if controllers:
            section("controllers", [("model", controllers[0].device_name, "")])
    return "\n".join(lines) + "\n"
