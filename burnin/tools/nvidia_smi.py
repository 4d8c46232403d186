"""nvidia-smi's full query as XML (`nvidia-smi -q -x`): argv and parsing into one `NvidiaGpu` record per GPU.

The same record is filled from NVML (`burnin/tools/nvidia_nvml.py`) on a live machine; the XML is what a capture
keeps and what is read when NVML is not importable. nvidia-smi prints "N/A" for what a GPU does not support (ECC on
a GeForce, row remapping before Ampere or under MIG): that is None here, never 0. Never judges.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

XML_ARGV = ("nvidia-smi", "-q", "-x")
MAX_XML_BYTES = 32 << 20
# Counters whose growth during a run means something (name -> what it counts); all volatile (since driver load).
COUNTERS = ("ecc_volatile_correctable", "ecc_volatile_uncorrectable", "remapped_rows_uncorrectable",
            "remapped_rows_correctable", "retired_pages_dbe", "retired_pages_sbe", "pcie_replays",
            "nvlink_errors")


class NvidiaSmiError(ValueError):
    """The text is not nvidia-smi's XML."""


@dataclass(frozen=True)
class NvidiaGpu:
    pci: str  # "0000:01:00.0", as the kernel names it
    name: str | None = None
    serial: str | None = None
    uuid: str | None = None
    vbios: str | None = None
    driver: str | None = None
    memory_total_mib: float | None = None
    memory_used_mib: float | None = None
    ecc_mode: str | None = None  # "Enabled", "Disabled", None (not supported)
    ecc_volatile_correctable: int | None = None
    ecc_volatile_uncorrectable: int | None = None
    ecc_aggregate_correctable: int | None = None
    ecc_aggregate_uncorrectable: int | None = None
    sram_threshold_exceeded: bool | None = None
    retired_pages_sbe: int | None = None  # retired for multiple single-bit errors
    retired_pages_dbe: int | None = None  # retired for a double-bit error
    retirement_pending: bool | None = None
    remapped_rows_correctable: int | None = None
    remapped_rows_uncorrectable: int | None = None
    remap_pending: bool | None = None
    remap_failure: bool | None = None
    remap_histogram: dict[str, int] = field(default_factory=dict)  # banks by spare rows left: max ... none
    link_gen: int | None = None
    link_gen_max: int | None = None  # the best both GPU and slot can do
    link_width: int | None = None
    link_width_max: int | None = None
    pcie_replays: int | None = None
    nvlink_errors: int | None = None
    nvlinks_down: tuple[int, ...] = ()
    throttle: tuple[str, ...] = ()  # active clock-event reasons other than idle
    fan_pct: float | None = None
    temp_c: float | None = None
    memory_temp_c: float | None = None
    temp_slowdown_c: float | None = None
    power_w: float | None = None
    power_limit_w: float | None = None
    util_pct: float | None = None
    sm_clock_mhz: float | None = None

    def counters(self) -> dict[str, int | None]:
        return {name: getattr(self, name) for name in COUNTERS}

    @property
    def memory_bytes(self) -> int | None:
        return None if self.memory_total_mib is None else int(self.memory_total_mib * 2**20)

    def metrics(self) -> dict[str, float]:
        """One sample's figures, named `PREFIX:gpu PCI` (see burnin/report/metrics.py)."""
        series = f"gpu {self.pci}"
        values = {"gpu_temp_c": self.temp_c, "gpu_power_w": self.power_w, "gpu_util_pct": self.util_pct,
                  "gpu_clock_mhz": self.sm_clock_mhz, "gpu_mem_used_mib": self.memory_used_mib,
                  "gpu_fan_pct": self.fan_pct, "gpu_pcie_gen": self.link_gen, "gpu_pcie_width": self.link_width,
                  "gpu_ecc_ce": self.ecc_volatile_correctable, "gpu_ecc_ue": self.ecc_volatile_uncorrectable,
                  "gpu_throttled": float(bool(self.throttle))}
        return {f"{k}:{series}": float(v) for k, v in values.items() if v is not None}


def on_the_bus(host: Any) -> list[str]:
    """PCI addresses of NVIDIA display/3D controllers in sysfs (vendor 0x10de, class 0x03): GPUs the driver should
    answer for, whether it does or not."""
    return [a for d in host.glob("/sys/bus/pci/devices", "*") if (host.read_text(f"{d}/vendor") or "") == "0x10de"
            and (host.read_text(f"{d}/class") or "").startswith("0x03") and (a := d.rsplit("/", 1)[1])]


def normalise_pci(bus_id: str | None) -> str:
    """nvidia-smi's "00000000:01:00.0" -> the kernel's "0000:01:00.0"."""
    text = (bus_id or "").strip().lower()
    m = re.fullmatch(r"([0-9a-f]{4,8}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])", text)
    return f"{m[1][-4:]}:{m[2]}:{m[3]}.{m[4]}" if m else text


def _text(node: ET.Element | None, path: str) -> str | None:
    found = node.find(path) if node is not None else None
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return None if value in ("", "N/A", "[N/A]", "Unknown Error", "Not Supported") or "deprecated" in value else value


def _number(node: ET.Element | None, path: str) -> float | None:
    m = re.match(r"-?\d+(?:\.\d+)?", _text(node, path) or "")
    return float(m[0]) if m else None


def _int(node: ET.Element | None, path: str) -> int | None:
    value = _number(node, path)
    return None if value is None else int(value)


def _yes(node: ET.Element | None, path: str) -> bool | None:
    value = _text(node, path)
    return None if value is None else value.lower() in ("yes", "true", "active")


def _first(node: ET.Element, *paths: str) -> float | None:
    return next((v for p in paths if (v := _number(node, p)) is not None), None)


def _throttle(gpu: ET.Element) -> tuple[str, ...]:
    reasons = gpu.find("clocks_event_reasons")
    if reasons is None:
        reasons = gpu.find("clocks_throttle_reasons")  # before driver 535
    active = []
    for child in list(reasons) if reasons is not None else []:
        name = re.sub(r"^clocks?_(?:event|throttle)_reasons?_", "", child.tag)
        if (child.text or "").strip() == "Active" and name not in ("gpu_idle", "clocks_gpu_idle"):
            active.append(name)
    return tuple(active)


def _gpu(gpu: ET.Element, driver: str | None) -> NvidiaGpu:
    ecc = gpu.find("ecc_errors")
    remap = gpu.find("remapped_rows")
    hist = remap.find("row_remapper_histogram") if remap is not None else None
    link = gpu.find("pci/pci_gpu_link_info")
    device_max, host_max = _int(link, "pcie_gen/max_device_link_gen"), _int(link, "pcie_gen/max_host_link_gen")
    gen_max = min(device_max, host_max) if device_max and host_max else _int(link, "pcie_gen/max_link_gen")
    return NvidiaGpu(
        pci=normalise_pci(_text(gpu, "pci/pci_bus_id") or gpu.get("id")),
        name=_text(gpu, "product_name"), serial=_text(gpu, "serial"), uuid=_text(gpu, "uuid"),
        vbios=_text(gpu, "vbios_version"), driver=driver,
        memory_total_mib=_number(gpu, "fb_memory_usage/total"), memory_used_mib=_number(gpu, "fb_memory_usage/used"),
        ecc_mode=_text(gpu, "ecc_mode/current_ecc"),
        ecc_volatile_correctable=_sum(ecc, "volatile", "correctable"),
        ecc_volatile_uncorrectable=_sum(ecc, "volatile", "uncorrectable"),
        ecc_aggregate_correctable=_sum(ecc, "aggregate", "correctable"),
        ecc_aggregate_uncorrectable=_sum(ecc, "aggregate", "uncorrectable"),
        sram_threshold_exceeded=_yes(ecc, "aggregate/sram_threshold_exceeded"),
        retired_pages_sbe=_int(gpu, "retired_pages/multiple_single_bit_retirement/retired_count"),
        retired_pages_dbe=_int(gpu, "retired_pages/double_bit_retirement/retired_count"),
        retirement_pending=_either(_yes(gpu, "retired_pages/pending_retirement"),
                                   _yes(gpu, "retired_pages/pending_blacklist")),
        remapped_rows_correctable=_int(remap, "remapped_row_corr"),
        remapped_rows_uncorrectable=_int(remap, "remapped_row_unc"),
        remap_pending=_yes(remap, "remapped_row_pending"), remap_failure=_yes(remap, "remapped_row_failure"),
        remap_histogram={c.tag.rsplit("_", 1)[1]: int(v) for c in (list(hist) if hist is not None else [])
                         if (v := _number(hist, c.tag)) is not None},
        link_gen=_int(link, "pcie_gen/current_link_gen"), link_gen_max=gen_max,
        link_width=_int(link, "link_widths/current_link_width"),
        link_width_max=_int(link, "link_widths/max_link_width"),
        pcie_replays=_int(gpu, "pci/replay_counter"), throttle=_throttle(gpu), fan_pct=_number(gpu, "fan_speed"),
        temp_c=_number(gpu, "temperature/gpu_temp"), memory_temp_c=_number(gpu, "temperature/memory_temp"),
        temp_slowdown_c=_number(gpu, "temperature/gpu_temp_slow_threshold"),
        power_w=_first(gpu, "gpu_power_readings/power_draw", "gpu_power_readings/instant_power_draw",
                       "power_readings/power_draw"),
        power_limit_w=_first(gpu, "gpu_power_readings/current_power_limit", "power_readings/power_limit"),
        util_pct=_number(gpu, "utilization/gpu_util"), sm_clock_mhz=_number(gpu, "clocks/sm_clock"),
    )


def _either(*values: bool | None) -> bool | None:
    known = [v for v in values if v is not None]
    return any(known) if known else None


def _sum(ecc: ET.Element | None, scope: str, kind: str) -> int | None:
    """DRAM and SRAM counts of one kind ("correctable", "uncorrectable": parity and SEC-DED included); older
    drivers give <single_bit>/<double_bit> totals instead."""
    node = ecc.find(scope) if ecc is not None else None
    if node is None:
        return None
    old = {"correctable": "single_bit/total", "uncorrectable": "double_bit/total"}[kind]
    if node.find(old) is not None:
        return _int(node, old)
    values = [_int(node, c.tag) for c in node if c.tag.split("_", 1)[-1].startswith(kind)]
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def parse_xml(text: str) -> list[NvidiaGpu]:
    """`nvidia-smi -q -x` -> one record per GPU, in nvidia-smi's order (PCI bus order)."""
    if len(text) > MAX_XML_BYTES:
        raise NvidiaSmiError("nvidia-smi's XML is larger than 32 MiB")
    if "<!ENTITY" in text:
        raise NvidiaSmiError("nvidia-smi's XML declares entities (refused)")
    try:
        root = ET.fromstring(re.sub(r"<!DOCTYPE[^>]*>", "", text, count=1).strip())
    except ET.ParseError as exc:
        raise NvidiaSmiError(f"not nvidia-smi XML: {exc}") from None
    if root.tag != "nvidia_smi_log":
        raise NvidiaSmiError(f"not nvidia-smi XML: the root element is <{root.tag}>")
    driver = _text(root, "driver_version")
    return [_gpu(gpu, driver) for gpu in root.findall("gpu")]


def as_record(gpu: Any) -> dict[str, Any]:
    """A GPU record (NvidiaGpu, amdgpu.AmdGpu) as plain JSON values, for the journal."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in gpu.__dict__.items()}
