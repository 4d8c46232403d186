"""RAPL package power from the powercap interface (/sys/class/powercap/intel-rapl:N, also on AMD Zen with the
`intel_rapl_common`/`amd_energy` support): energy counters in microjoules that wrap at max_energy_range_uj.
Read through the host's root path; no judging here."""

from __future__ import annotations

import time
from dataclasses import dataclass

from burnin.host import Host

ROOT = "/sys/class/powercap"


@dataclass(frozen=True)
class Domain:
    path: str
    name: str  # "package-0", "dram"...
    max_range_uj: int | None


def domains(host: Host) -> list[Domain]:
    """The package domains (top level intel-rapl:N, not the sub-zones)."""
    found = []
    for path in host.glob(ROOT, "intel-rapl:*"):
        if path.rsplit("/", 1)[-1].count(":") != 1:
            continue
        name = (host.read_text(f"{path}/name") or path.rsplit("/", 1)[-1]).strip()
        if host.read_int(f"{path}/energy_uj") is None:
            continue
        found.append(Domain(path, name, host.read_int(f"{path}/max_energy_range_uj")))
    return found


def energy_delta_uj(before: int, after: int, max_range_uj: int | None) -> int | None:
    """Energy used between two readings, across one wrap of the counter; None when it cannot be told."""
    if after >= before:
        return after - before
    if max_range_uj:
        return max_range_uj - before + after
    return None


class PowerMeter:
    """Average package power between calls of `read()`: {"power_w:package-0": watts}."""

    def __init__(self, host: Host):
        self.host = host
        self.domains = domains(host)
        self._last: dict[str, tuple[float, int]] = {}
        self.read()

    @property
    def available(self) -> bool:
        return bool(self.domains)

    def read(self, now: float | None = None) -> dict[str, float]:
        now = time.monotonic() if now is None else now
        out = {}
        for d in self.domains:
            energy = self.host.read_int(f"{d.path}/energy_uj")
            if energy is None:
                continue
            last = self._last.get(d.path)
            self._last[d.path] = (now, energy)
            if last is None or now <= last[0]:
                continue
            delta = energy_delta_uj(last[1], energy, d.max_range_uj)
            if delta is not None:
                out[f"power_w:{d.name}"] = round(delta / 1e6 / (now - last[0]), 2)
        return out
