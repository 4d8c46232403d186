"""Seagate FARM (Field Accessible Reliability Metrics), as ``smartctl -l farm -j`` prints it (smartctl >= 7.4; the
``seagate_farm_log`` object, keys as smartmontools' farmprint.cpp names them). Builds argv, reads, never judges.

FARM is kept by the drive apart from SMART: its power-on hours, head flight hours and per-head write hours survive a
SMART reset, which is how drives sold as new with 15,000-50,000 hours were caught in 2025.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from burnin.tools.smart import SMARTCTL


def farm_argv(device: str, dev_type: str | None = None) -> list[str]:
    return [SMARTCTL, "-l", "farm", "--json=c", *(["-d", dev_type] if dev_type else []), device]


@dataclass(frozen=True)
class FarmSummary:
    power_on_hours: int | None
    spindle_power_on_hours: int | None
    head_flight_hours: int | None
    head_write_hours: tuple[int, ...] = field(default_factory=tuple)  # "Write Power On (hrs) by Head"
    assembly_date: str = ""  # YYWW, as the drive stores it
    reallocated_sectors: int | None = None
    serial: str = ""

    @property
    def max_head_hours(self) -> int | None:
        values = [v for v in (self.head_flight_hours, *self.head_write_hours) if v is not None]
        return max(values) if values else None

    def to_record(self) -> dict[str, Any]:
        return {"farm_power_on_hours": self.power_on_hours, "farm_spindle_power_on_hours": self.spindle_power_on_hours,
                "farm_head_flight_hours": self.head_flight_hours, "farm_head_write_hours": list(self.head_write_hours),
                "farm_assembly_date": self.assembly_date, "farm_reallocated_sectors": self.reallocated_sectors}


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    value = int(value)
    # FARM fields carry a status byte in their top bits (bit 63: supported, bit 62: valid): keep the count
    return value & ((1 << 56) - 1) if value >= 0 else None


def farm_summary(farm: Mapping[str, Any] | None) -> FarmSummary | None:
    """The history fields of a ``seagate_farm_log`` object; None when it holds no drive information."""
    if not isinstance(farm, Mapping):
        return None
    page1 = farm.get("page_1_drive_information")
    if not isinstance(page1, Mapping):
        return None
    page5 = farm.get("page_5_reliability_statistics")
    page5 = page5 if isinstance(page5, Mapping) else {}
    page3 = farm.get("page_3_error_statistics")
    page3 = page3 if isinstance(page3, Mapping) else {}
    heads = _count(page1.get("number_of_heads")) or 0
    write_hours = []
    for head in range(min(heads, 64)):
        hours = _count(page5.get(f"write_workload_power_on_time_by_head_{head}"))
        if hours is not None:
            write_hours.append(hours)
    date = page1.get("date_of_assembly")
    return FarmSummary(
        power_on_hours=_count(page1.get("poh")),
        spindle_power_on_hours=_count(page1.get("spoh")),
        head_flight_hours=_count(page1.get("head_flight_hours")),
        head_write_hours=tuple(write_hours),
        assembly_date=date.strip() if isinstance(date, str) else "",
        reallocated_sectors=_count(page3.get("number_of_reallocated_sectors")),
        serial=str(page1.get("serial_number") or ""),
    )
