"""Which DIMM holds a physical address: the name a miscompare carries to the buyer.

In order of trust:
1. the EDAC driver's own address decoder, where the kernel exposes one (`skx_edac`/`i10nm_edac` built with
   CONFIG_EDAC_DEBUG: `/sys/kernel/debug/edac/{skx,i10nm}_test/addr`). Writing an address there makes the driver
   decode it and count one (fake) corrected error on the DIMM it decodes to: the counter that rose is the answer.
   That one count is the decoder's, not the machine's, so the ECC watch is told to discount it;
2. the firmware's memory map, SMBIOS type 20 (memory device mapped address: a byte range per DIMM). Boards that
   interleave channels state ranges that are not how the memory controller places lines: such an answer is named
   as the firmware's and, where the record says it is interleaved, with the DIMMs that share the interleave;
3. else "address only, no decoder on this platform".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from burnin.host import Host
from burnin.inventory.smbios import MemoryDeviceRecord, MemoryMappedRecord
from burnin.tools import edac

DECODERS = ("/sys/kernel/debug/edac/skx_test/addr", "/sys/kernel/debug/edac/i10nm_test/addr")
EDAC_DECODER, SMBIOS_MAP, NONE = "edac-decoder", "smbios-type-20", "none"


@dataclass(frozen=True)
class DimmLocation:
    method: str  # EDAC_DECODER, SMBIOS_MAP, NONE
    dimms: tuple[str, ...]  # slot names, most likely first; () for NONE
    text: str  # for the finding's message
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {"method": self.method, "dimms": list(self.dimms), "text": self.text, **self.evidence}


NO_DECODER = DimmLocation(NONE, (), "address only, no decoder on this platform")


def by_smbios(phys: int, mapped: Sequence[MemoryMappedRecord], devices: Sequence[MemoryDeviceRecord]
              ) -> DimmLocation | None:
    """The DIMM(s) whose type 20 range holds `phys`; None when no record covers it. Pure."""
    by_handle = {d.handle: d for d in devices}
    hits = [m for m in mapped if m.start <= phys <= m.end and m.device_handle in by_handle]
    if not hits:
        return None
    names = [by_handle[m.device_handle].locator or by_handle[m.device_handle].bank_locator or f"{m.device_handle:#06x}"
             for m in hits]
    interleaved = [m for m in hits if m.interleave_position not in (None, 0, 0xFF) or
                   (m.interleaved_depth not in (None, 0, 1, 0xFF))]
    partners: list[str] = []
    if interleaved:
        first = interleaved[0]
        for m in mapped:  # the other DIMMs of the same interleave set (same array-mapped range, same depth)
            if (m.array_mapped_handle == first.array_mapped_handle and m.interleaved_depth == first.interleaved_depth
                    and m.device_handle in by_handle and m not in hits):
                partners.append(by_handle[m.device_handle].locator or f"{m.device_handle:#06x}")
    text = f"DIMM {' or '.join(names)} by the firmware's memory map (SMBIOS type 20)"
    if interleaved:
        text += (f"; interleaved {first.interleaved_depth}-way, so it may lie on "
                 + (", ".join(partners[: first.interleaved_depth or 8]) if partners else "a DIMM of its set"))
    return DimmLocation(SMBIOS_MAP, tuple(names + partners), text, {
        "smbios_ranges": [{"start": f"{m.start:#x}", "end": f"{m.end:#x}", "device_handle": m.device_handle,
                           "interleave_position": m.interleave_position, "interleaved_depth": m.interleaved_depth}
                          for m in hits]})


def decoder_path(host: Host) -> str | None:
    return next((p for p in DECODERS if host.exists(p)), None)


def by_edac_decoder(host: Host, phys: int, names: Callable[[edac.EdacSnapshot], Mapping], wait_s: float = 2.0,
                    poll_s: float = 0.1) -> tuple[DimmLocation | None, list[edac.EdacIncrease]]:
    """Ask the EDAC driver's debug decoder; (location, the counter increases it caused) or (None, []) without
    one. The caller discounts the increases from the ECC watch."""
    path = decoder_path(host)
    if path is None or not host.live:
        return None, []
    before = edac.read_edac(host)
    try:
        with open(host.path(path), "w") as f:
            f.write(str(phys))
    except OSError:
        return None, []
    deadline = time.monotonic() + wait_s
    grown: list[edac.EdacIncrease] = []
    while time.monotonic() < deadline:
        after = edac.read_edac(host)
        grown = [g for g in edac.increases(before, after) if g.counter.kind == "ce"]
        if grown:
            break
        time.sleep(poll_s)
    placed = [g for g in grown if not g.counter.key.endswith("/noinfo")]
    if len(placed) != 1:
        return None, grown
    counter = placed[0].counter
    component, place = names(edac.read_edac(host)).get((counter.key, "ce"), (None, {}))
    slot = str(place.get("slot") or f"DIMM {counter.label or counter.key}")
    return DimmLocation(EDAC_DECODER, (slot.removeprefix("DIMM "),), f"{slot} by the EDAC driver's address decoder",
                        {"edac_counter": counter.key, "edac_label": counter.label, "decoder": path}), grown


def locate(phys: int | None, *, host: Host, mapped: Sequence[MemoryMappedRecord],
           devices: Sequence[MemoryDeviceRecord], names: Callable[[edac.EdacSnapshot], Mapping],
           discount: Callable[[list[edac.EdacIncrease]], None]) -> DimmLocation:
    """The DIMM behind a physical address, by the best means this platform has."""
    if phys is None:
        return DimmLocation(NONE, (), "no physical address (needs root), so no DIMM can be named")
    found, caused = by_edac_decoder(host, phys, names)
    if caused:
        discount(caused)
    if found is not None:
        return found
    return by_smbios(phys, mapped, devices) or NO_DECODER
