"""AMD GPUs through the amdgpu driver's sysfs: identity, VRAM size, RAS error counters and bad-page records.

Read through the host's root path (so a capture is read the same way), for every /sys/class/drm/cardN whose PCI
vendor is AMD (0x1002):
    device/ras/<block>_err_count   "ue: N" / "ce: N" per RAS block (umc is the memory)
    device/ras/gpu_vram_bad_pages  one line per retired VRAM page: "0x<pfn> : 0x<size> : R|P|F" (reserved,
                                   pending, failed to reserve)
    device/mem_info_vram_total, unique_id, serial_number, product_name, vbios_version, the PCI link files
The driver retires pages up to a threshold (module parameter `bad_page_threshold`; -1, its default, means one page
per 100 MiB of VRAM: RAS_BAD_PAGE_COVER in drivers/gpu/drm/amd/amdgpu/amdgpu_ras.c). Never judges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from burnin.host import Host
from burnin.inventory.pcie import parse_link_speed, parse_link_width

DRM = "/sys/class/drm"
THRESHOLD_PARAM = "/sys/module/amdgpu/parameters/bad_page_threshold"
BAD_PAGE_COVER_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class AmdGpu:
    pci: str
    card: str
    name: str | None = None
    serial: str | None = None
    unique_id: str | None = None
    vbios: str | None = None
    vram_bytes: int | None = None
    ras: dict[str, dict[str, int]] = field(default_factory=dict)  # block -> {"ue": n, "ce": n}
    bad_pages: int | None = None  # None: the driver exposes no bad-page table (no RAS)
    bad_pages_pending: int = 0
    bad_page_threshold: int | None = None
    link_speed_gts: float | None = None
    link_speed_max_gts: float | None = None
    link_width: int | None = None
    link_width_max: int | None = None

    @property
    def memory_bytes(self) -> int | None:
        return self.vram_bytes

    def counters(self) -> dict[str, int | None]:
        out: dict[str, int | None] = {f"ras_{b}_{k}": v for b, kinds in self.ras.items() for k, v in kinds.items()}
        out["bad_pages"] = self.bad_pages
        return out


def parse_err_count(text: str | None) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"^(ue|ce|de):\s*(\d+)", text or "", re.M)}


def parse_bad_pages(text: str | None) -> tuple[int, int] | None:
    """(records, pending) of gpu_vram_bad_pages."""
    if text is None:
        return None
    flags = re.findall(r"^\s*0x[0-9a-fA-F]+\s*:\s*0x[0-9a-fA-F]+\s*:\s*([RPF])", text, re.M)
    return len(flags), flags.count("P")


def threshold(param: int | None, vram_bytes: int | None) -> int | None:
    if param is not None and param > 0:
        return param
    if param in (None, -1) and vram_bytes:
        return max(1, vram_bytes // BAD_PAGE_COVER_BYTES)
    return None  # -2: the driver ignores the threshold


def read_gpus(host: Host) -> list[AmdGpu]:
    gpus = []
    param = host.read_int(THRESHOLD_PARAM)
    for card in host.glob(DRM, "card[0-9]*"):
        if "-" in card.rsplit("/", 1)[1]:
            continue  # connectors (card0-DP-1)
        dev = f"{card}/device"
        if (host.read_text(f"{dev}/vendor") or "").lower() != "0x1002":
            continue
        ras = {name[: -len("_err_count")]: counts for name in host.listdir(f"{dev}/ras")
               if name.endswith("_err_count") and (counts := parse_err_count(host.read_text(f"{dev}/ras/{name}")))}
        bad = parse_bad_pages(host.read_text(f"{dev}/ras/gpu_vram_bad_pages"))
        vram = host.read_int(f"{dev}/mem_info_vram_total")
        gpus.append(AmdGpu(
            pci=host.realpath(dev).rsplit("/", 1)[1], card=card.rsplit("/", 1)[1],
            name=host.read_text(f"{dev}/product_name") or None, serial=host.read_text(f"{dev}/serial_number") or None,
            unique_id=host.read_text(f"{dev}/unique_id") or None, vbios=host.read_text(f"{dev}/vbios_version"),
            vram_bytes=vram, ras=ras, bad_pages=bad[0] if bad else None, bad_pages_pending=bad[1] if bad else 0,
            bad_page_threshold=threshold(param, vram),
            link_speed_gts=parse_link_speed(host.read_text(f"{dev}/current_link_speed")),
            link_speed_max_gts=parse_link_speed(host.read_text(f"{dev}/max_link_speed")),
            link_width=parse_link_width(host.read_text(f"{dev}/current_link_width")),
            link_width_max=parse_link_width(host.read_text(f"{dev}/max_link_width"))))
    return gpus
