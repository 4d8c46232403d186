"""The one catalogue of sampled metrics: what each is called in words, its unit, and how to show it.

A module samples metrics named `PREFIX:SERIES` (`temp_c:coretemp.0/Core 1`, `read_mbps:sda`) or a bare name
(`ecc_ce_total`). The dashboard's figures ("disk sda: reading 183 MB/s") and the HTML report's chart titles
("Disk read speed (MB/s)") both come from here, so a metric is named the same way on every screen. A metric that
is not in the catalogue is shown under its own name, never dropped.

kind: "gauge" (a level: a temperature, a speed) or "counter" (a count that only grows: errors, throttle events;
its chart never goes below zero). combine: how many series of one metric make one figure on the dashboard.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Iterable, Mapping


@dataclass(frozen=True)
class Metric:
    prefix: str  # "temp_c"
    title: str  # "Temperatures": the chart's title
    unit: str  # "°C": shown after every value and on the chart's axis
    unit_ascii: str  # "C": the same on a terminal without Unicode (TERM=linux, a serial console)
    phrase: str  # "hottest {value}": the dashboard's figure; {value} is the combined value with its unit
    combine: str = "max"  # "max", "min", "mean", "sum", "each" (one figure per series: disks, ports)
    kind: str = "gauge"  # "gauge" or "counter"
    order: int = 100  # charts and figures of well-known metrics first

    def with_unit(self, value: float, ascii_only: bool = False) -> str:
        unit = self.unit_ascii if ascii_only else self.unit
        number = format_number(value)
        if not unit:
            return number
        return f"{number}{unit}" if unit == "%" else f"{number} {unit}"


_CATALOGUE = (
    Metric("temp_c", "Temperatures", "°C", "C", "hottest {value}", "max", order=1),
    Metric("fan_rpm", "Fan speeds", "RPM", "RPM", "slowest fan {value}", "min", order=2),
    Metric("busy_pct", "CPU busy", "%", "%", "busy {value}", "mean", order=3),
    Metric("freq_mhz", "CPU clocks", "MHz", "MHz", "clock {value}", "mean", order=4),
    Metric("throttle_count", "CPU throttle events", "events", "events", "throttled {value}", "sum", "counter", 5),
    Metric("ops_per_s", "CPU verified work", "operations/s", "ops/s", "{value} verified", "sum", order=6),
    Metric("mem_verified_gbps", "Memory verified", "GB/s", "GB/s", "verifying {value}", "sum", order=10),
    Metric("mem_verified_gib", "Memory verified so far", "GiB", "GiB", "{value} verified", "sum", "counter",
           order=10),
    Metric("mem_read_gbps", "Memory bandwidth, read", "GB/s", "GB/s", "read {value}", "sum", order=11),
    Metric("mem_write_gbps", "Memory bandwidth, write", "GB/s", "GB/s", "write {value}", "sum", order=12),
    Metric("mem_copy_gbps", "Memory bandwidth, copy", "GB/s", "GB/s", "copy {value}", "sum", order=13),
    Metric("mem_available_mib", "Memory available", "MiB", "MiB", "{value} free", "sum", order=14),
    Metric("ecc_ce_total", "Corrected ECC errors", "errors", "errors", "{value} corrected ECC", "sum", "counter",
           15),
    Metric("ecc_ue_total", "Uncorrected ECC errors", "errors", "errors", "{value} uncorrected ECC", "sum",
           "counter", 16),
    Metric("read_mbps", "Disk read speed", "MB/s", "MB/s", "reading {value}", "each", order=20),
    Metric("scan_pct", "Disk read scan, this pass", "%", "%", "{value} scanned", "each", order=20),
    Metric("destructive_pct", "Disk write-verify and wipe progress", "%", "%", "{value} overwritten", "each",
           order=21),
    Metric("self_test_remaining_pct", "Disk self-test remaining", "%", "%", "self-test {value} left", "each",
           order=22),
    Metric("power_on_hours", "Disk power-on hours", "h", "h", "{value} powered on", "each", order=23),
    Metric("rx_mbps", "Network received", "Mbit/s", "Mbit/s", "in {value}", "each", order=30),
    Metric("tx_mbps", "Network sent", "Mbit/s", "Mbit/s", "out {value}", "each", order=31),
    Metric("errors", "Network errors", "errors", "errors", "{value}", "sum", "counter", 32),
    Metric("drops", "Network drops", "packets", "packets", "{value} dropped", "sum", "counter", 33),
    Metric("bmc_temp_c", "BMC temperatures", "°C", "C", "BMC hottest {value}", "max", order=40),
    Metric("bmc_fan_rpm", "BMC fan speeds", "RPM", "RPM", "BMC slowest fan {value}", "min", order=41),
    Metric("bmc_volts", "BMC voltages", "V", "V", "{value}", "each", order=42),
    Metric("bmc_power_w", "BMC power draw", "W", "W", "drawing {value}", "sum", order=43),
    # The gpu module, one series per GPU ("gpu 0000:01:00.0"), every second.
    Metric("gpu_temp_c", "GPU temperatures", "°C", "C", "hottest GPU {value}", "max", order=50),
    Metric("gpu_power_w", "GPU power draw", "W", "W", "GPUs drawing {value}", "sum", order=51),
    Metric("gpu_util_pct", "GPU utilisation", "%", "%", "GPUs busy {value}", "mean", order=52),
    Metric("gpu_clock_mhz", "GPU clocks", "MHz", "MHz", "GPU clock {value}", "min", order=53),
    Metric("gpu_mem_used_mib", "GPU memory used", "MiB", "MiB", "{value} GPU memory used", "sum", order=54),
    Metric("gpu_fan_pct", "GPU fan speeds", "%", "%", "slowest GPU fan {value}", "min", order=55),
    Metric("gpu_pcie_gen", "GPU PCIe link generation", "", "", "GPU link Gen{value}", "min", order=56),
    Metric("gpu_pcie_width", "GPU PCIe link width", "lanes", "lanes", "GPU link x{value}", "min", order=57),
    Metric("gpu_throttled", "GPUs slowed down", "GPUs", "GPUs", "{value} GPUs throttled", "sum", order=58),
    Metric("gpu_ecc_ce", "GPU corrected ECC errors", "errors", "errors", "{value} GPU corrected ECC", "sum",
           "counter", 59),
    Metric("gpu_ecc_ue", "GPU uncorrected ECC errors", "errors", "errors", "{value} GPU uncorrected ECC", "sum",
           "counter", 60),
)
CATALOGUE: dict[str, Metric] = {m.prefix: m for m in _CATALOGUE}


def prefix_of(name: str) -> str:
    """"temp_c" of "temp_c:coretemp.0/Core 1"; a bare name is its own prefix."""
    return name.split(":", 1)[0]


def series_of(name: str) -> str:
    """"coretemp.0/Core 1" of "temp_c:coretemp.0/Core 1"; "" for a bare name."""
    return name.split(":", 1)[1] if ":" in name else ""


def metric(name: str) -> Metric:
    """The catalogue entry of a metric name (full or prefix); an unknown one is described by its own name."""
    prefix = prefix_of(name)
    known = CATALOGUE.get(prefix)
    if known is not None:
        return known
    return Metric(prefix, prefix.replace("_", " ") or "other", "", "", prefix.replace("_", " ") + " {value}",
                  "each", order=1000)


def title_with_unit(name: str) -> str:
    """"Disk read speed (MB/s)": a chart's title."""
    m = metric(name)
    return f"{m.title} ({m.unit})" if m.unit else m.title


def format_number(value: float) -> str:
    """Few digits, none misleading: 183, 41.5, 2.35, 0.0105; thousands grouped: 2,400."""
    if not math.isfinite(value):
        return str(value)
    size = abs(value)
    if size >= 1000 or value == int(value):
        return f"{value:,.0f}"
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}".rstrip("0").rstrip(".")
    if size >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def _combine(how: str, values: list[float]) -> float:
    if how == "min":
        return min(values)
    if how == "mean":
        return statistics.fmean(values)
    if how == "sum":
        return math.fsum(values)
    return max(values)


def figures(metrics: Mapping[str, float], ascii_only: bool = False) -> list[str]:
    """A module's latest sample in words, the well-known metrics first: ["hottest 71 °C", "slowest fan 900 RPM"],
    ["sda reading 183 MB/s", "sdb reading 120 MB/s"]. Values that are not finite numbers are left out."""
    groups: dict[str, list[tuple[str, float]]] = {}
    for name, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            continue
        groups.setdefault(prefix_of(name), []).append((series_of(name), float(value)))
    out = []
    for prefix in sorted(groups, key=lambda p: (metric(p).order, p)):
        m, members = metric(prefix), groups[prefix]
        if m.combine == "each":
            for series, value in members:
                figure = m.phrase.format(value=m.with_unit(value, ascii_only))
                out.append(f"{series} {figure}" if series else figure)
        else:
            value = _combine(m.combine, [v for _, v in members])
            figure = m.phrase.format(value=m.with_unit(value, ascii_only))
            if m.kind == "counter" and m.phrase == "{value}":
                figure = f"{format_number(value)} {m.title.lower()}"
            out.append(figure)
    return out


def sorted_prefixes(prefixes: Iterable[str]) -> list[str]:
    """Well-known metrics first, in the catalogue's order, then the rest by name."""
    return sorted(set(prefixes), key=lambda p: (metric(p).order, p))
