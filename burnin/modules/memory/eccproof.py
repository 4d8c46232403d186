"""Proving that ECC errors would be seen: "0 corrected errors" only means something where a corrected error
would have been counted.

Where ACPI EINJ offers "Memory Correctable" (`/sys/kernel/debug/apei/einj/available_error_type`, type 0x8) and
the profile allows it (`ecc_proof`), one correctable error is injected into a page burnin owns (its physical
address from /proc/self/pagemap), the page is read back, and an EDAC corrected-error counter must rise on exactly
one DIMM within `ecc_proof_timeout_s`: "ECC reporting proven (DIMM P1-DIMMA1)". Everywhere else the verdict says
"ECC reporting unverified" and why, or "not applicable" where SMBIOS says the memory has no ECC.

`decide()` is pure: it is tested on captured sysfs/debugfs trees. `prove()` needs root and real hardware
(scripts/ecc-proof runs it on its own).
"""

from __future__ import annotations

import mmap
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from burnin.host import Host
from burnin.modules.memory.patterns import physical_address
from burnin.tools import edac

EINJ_DIR = "/sys/kernel/debug/apei/einj"
EINJ_TABLE = "/sys/firmware/acpi/tables/EINJ"
HEST_TABLE = "/sys/firmware/acpi/tables/HEST"
MEMORY_CORRECTABLE = 0x8
PAGE_MASK = 0xFFFFFFFFFFFFF000

PROVEN, UNVERIFIED, NOT_APPLICABLE, INJECT = "proven", "unverified", "not applicable", "inject"
NO_ECC = frozenset({"None", "Parity"})  # SMBIOS type 16 error correction types that are not ECC


@dataclass(frozen=True)
class EccProof:
    status: str  # INJECT (decided, not done yet), PROVEN, UNVERIFIED, NOT_APPLICABLE
    why: str  # the reason in a buyer's words; for PROVEN the DIMM
    evidence: Mapping[str, Any] = field(default_factory=dict)

    def line(self) -> str:
        if self.status == PROVEN:
            return f"ECC reporting proven ({self.why})"
        if self.status == NOT_APPLICABLE:
            return f"ECC reporting not applicable ({self.why})"
        return f"ECC reporting unverified: {self.why}"


def parse_einj_types(text: str | None) -> dict[int, str]:
    """`available_error_type`: "0x00000008\tMemory Correctable" lines (EINJv2 headings are skipped)."""
    types: dict[int, str] = {}
    for line in (text or "").splitlines():
        head, _, name = line.strip().partition("\t")
        if not name:
            head, _, name = line.strip().partition(" ")
        try:
            types.setdefault(int(head, 16), name.strip())
        except ValueError:
            continue
    return types


def decide(*, ecc_types: tuple[str, ...] | None, edac_snapshot: edac.EdacSnapshot, einj_table: bool,
           einj_types: str | None, hest: bool, allowed: bool, live: bool,
           kernel_lines: tuple[str, ...] = ()) -> EccProof:
    """Whether a corrected-error injection can prove ECC reporting here, or why not. Pure.

    `ecc_types`: the SMBIOS memory arrays' error correction ("Multi-bit ECC"...), None when SMBIOS is unreadable;
    `einj_types`: the contents of available_error_type, None when the file is absent; `hest`: the firmware has an
    ACPI HEST (errors may be handled firmware-first); `kernel_lines`: the kernel's EDAC lines (an "ECC disabled"
    from amd64_edac)."""
    if ecc_types and all(kind in NO_ECC for kind in ecc_types):
        return EccProof(NOT_APPLICABLE, f"the memory has no ECC: SMBIOS error correction {', '.join(ecc_types)}",
                        {"smbios_ecc": list(ecc_types)})
    disabled = [line for line in kernel_lines if "ecc disabled" in line.lower()]
    if disabled:
        return EccProof(UNVERIFIED, "ECC is not enabled in the firmware (the EDAC driver says so)",
                        {"kernel": disabled[:3]})
    if not edac_snapshot.available:
        if hest:
            why = ("firmware-first error handling (ACPI HEST) without the GHES EDAC driver: corrected errors go to "
                   "the firmware and the BMC, not to the kernel's counters")
        else:
            why = "no EDAC driver is loaded for this memory controller, so no corrected error can be counted"
        return EccProof(UNVERIFIED, why, {"edac_core_present": edac_snapshot.present, "hest": hest})
    if not live:  # a capture may not hold the ACPI tables and debugfs: say what is known
        return EccProof(UNVERIFIED, "injection needs the live machine (this is a captured tree)",
                        {"einj_table": einj_table, "einj_types": einj_types is not None})
    if einj_types is None:
        why = ("the firmware offers no error injection (no ACPI EINJ table)" if not einj_table else
               "the EINJ table is there but its interface is not (modprobe einj; mount -t debugfs none "
               "/sys/kernel/debug)")
        return EccProof(UNVERIFIED, why, {"einj_table": einj_table})
    types = parse_einj_types(einj_types)
    if MEMORY_CORRECTABLE not in types:
        return EccProof(UNVERIFIED, "EINJ does not offer a correctable memory error on this platform",
                        {"einj_types": {f"{k:#x}": v for k, v in types.items()}})
    if not allowed:
        return EccProof(UNVERIFIED, "EINJ could prove it here, but the profile does not allow injection "
                        "(set [settings.memory] ecc_proof = true)", {"einj": True})
    return EccProof(INJECT, "EINJ offers Memory Correctable and the profile allows it", {"einj": True})


def gather(host: Host, ecc_types: tuple[str, ...] | None, allowed: bool,
           kernel_lines: tuple[str, ...] = ()) -> EccProof:
    """Read what `decide` needs through the host's root path."""
    return decide(ecc_types=ecc_types, edac_snapshot=edac.read_edac(host), einj_table=host.exists(EINJ_TABLE),
                  einj_types=host.read_text(f"{EINJ_DIR}/available_error_type"), hest=host.exists(HEST_TABLE),
                  allowed=allowed, live=host.live, kernel_lines=kernel_lines)


# -- the injection (root, real hardware) ------------------------------------------------------------------------
def _write(host: Host, name: str, value: str) -> None:
    with open(host.path(f"{EINJ_DIR}/{name}"), "w") as f:
        f.write(value)


def prove(host: Host, timeout_s: float = 10.0, names: Callable[[edac.EdacSnapshot], Mapping] | None = None,
          poll_s: float = 0.2) -> EccProof:
    """Inject one correctable error into a page of this process and wait for one DIMM's counter to rise."""
    page = os.sysconf("SC_PAGE_SIZE")
    buf = mmap.mmap(-1, page, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        buf[:] = b"\xa5" * page  # touch: the page must exist before it has a physical address
        phys, why = physical_address(str(host.path("/proc/self/pagemap")), _address(buf))
        if phys is None:
            return EccProof(UNVERIFIED, f"the page's physical address is not readable ({why})")
        before = edac.read_edac(host)
        try:
            _write(host, "error_type", f"{MEMORY_CORRECTABLE:#x}")
            _write(host, "param1", f"{phys & PAGE_MASK:#x}")
            _write(host, "param2", f"{PAGE_MASK:#x}")
            _write(host, "error_inject", "1")
        except OSError as exc:
            return EccProof(UNVERIFIED, f"EINJ refused the injection ({exc.strerror or exc})",
                            {"physical_address": f"{phys:#x}"})
        bytes(buf[:])  # read the page back: the error is consumed (and corrected) on access
        deadline = time.monotonic() + timeout_s
        grown: list[edac.EdacIncrease] = []
        while time.monotonic() < deadline:
            grown = [g for g in edac.increases(before, edac.read_edac(host)) if g.counter.kind == "ce"]
            if grown:
                break
            time.sleep(poll_s)
        return judge_proof(grown, phys, timeout_s, names(edac.read_edac(host)) if names else {})
    finally:
        buf.close()


def _address(buf: mmap.mmap) -> int:
    import ctypes

    return ctypes.addressof(ctypes.c_char.from_buffer(buf))


def judge_proof(grown: list[edac.EdacIncrease], phys: int, timeout_s: float,
                names: Mapping[tuple[str, str], tuple[str, Mapping[str, Any]]]) -> EccProof:
    """Exactly one DIMM's corrected counter rose: proven, naming it; none, or several: unverified, and why."""
    evidence = {"physical_address": f"{phys:#x}", "grown": [
        {"counter": g.counter.key, "label": g.counter.label, "increase": g.delta} for g in grown]}
    placed = [g for g in grown if not g.counter.key.endswith("/noinfo")]
    if not grown:
        return EccProof(UNVERIFIED, f"an injected correctable error was not counted within {timeout_s:g} s "
                        "(the platform hides corrected errors from the OS)", evidence)
    if len(placed) != 1:
        what = "no DIMM" if not placed else f"{len(placed)} DIMMs"
        return EccProof(UNVERIFIED, f"an injected correctable error was counted on {what} instead of exactly one",
                        evidence)
    counter = placed[0].counter
    component, place = names.get((counter.key, "ce"), (None, {}))
    slot = place.get("slot") or f"DIMM {counter.label or counter.key}"
    return EccProof(PROVEN, slot, {**evidence, "component": component, **place})
