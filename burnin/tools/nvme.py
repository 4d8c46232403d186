"""nvme-cli for the drive's own erase: what the controller can do (``nvme id-ctrl -o json``: OACS, SANICAP, FNA), the
namespace's current LBA format (``nvme id-ns -o json``: FLBAS), Sanitize and Format NVM argv, and the Sanitize
Status log (``nvme sanitize-log -o json``). Builds argv and parses output; never judges, never decides to erase.

Identify fields (NVMe Base Specification 2.0): OACS bit 1 = Format NVM supported, bit 2... ; SANICAP bit 0 = crypto
erase, bit 1 = block erase, bit 2 = overwrite; FNA bit 0 = a format applies to all namespaces, bit 1 = a secure erase
applies to all namespaces, bit 2 = cryptographic erase supported as part of a format. nvme-cli prints them as numbers
(JSON) or as "0x.." strings (some versions, and the plain output).

Sanitize Status log (log page 0x81), as nvme-cli 2.x prints it in JSON::

    {"nvme0": {"sprog": 65535, "sstat": {"global_erased": 1, "no_cmplted_passes": 0,
               "status": "(1) The most recent sanitize operation completed successfully"}, "cdw10_info": 2, ...}}

SSTAT bits 2:0: 0 never sanitized, 1 completed successfully, 2 in progress, 3 failed, 4 completed successfully with
deallocation (No-Deallocate requested but not honoured); bits 7:3 overwrite passes completed; bit 8 Global Data
Erased (no user data has been written since the last sanitize, or ever). SPROG: progress of the sanitize in
progress, as a fraction of 65536 (65535 when none is running). Some nvme-cli versions wrote the status string under
a key named after the string itself: the number in "(N)" is read from whichever value holds it; older versions
print "sstat" as a plain number.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

NVME = "nvme"

SANACT = {"block": 2, "overwrite": 3, "crypto": 4}  # Sanitize Action (CDW10 bits 2:0)
SES = {"user-data": 1, "crypto": 2}  # Format NVM Secure Erase Settings
SSTAT_TEXT = {0: "never sanitized", 1: "completed successfully", 2: "in progress", 3: "failed",
              4: "completed successfully, with deallocation"}


def controller_of(namespace_dev: str) -> str | None:
    """/dev/nvme2n1 -> /dev/nvme2 (None for a name that is no NVMe namespace)."""
    match = re.fullmatch(r"(/dev/nvme\d+)n\d+", namespace_dev)
    return match[1] if match else None


def id_ctrl_argv(controller: str) -> list[str]:
    return [NVME, "id-ctrl", controller, "-o", "json"]


def id_ns_argv(namespace: str) -> list[str]:
    return [NVME, "id-ns", namespace, "-o", "json"]


def sanitize_argv(controller: str, action: str) -> list[str]:
    return [NVME, "sanitize", controller, f"--sanact={SANACT[action]}"]


def sanitize_log_argv(controller: str) -> list[str]:
    return [NVME, "sanitize-log", controller, "-o", "json"]


def format_argv(namespace: str, ses: str, lbaf: int) -> list[str]:
    """Format NVM with a secure erase, keeping the namespace's current LBA format (nvme-cli 1.x defaults to format
    0, which may change the block size). ``--force`` skips nvme-cli's interactive confirmation."""
    return [NVME, "format", namespace, f"--ses={SES[ses]}", f"--lbaf={lbaf}", "--force"]


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError):
        return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip(), 0)
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class EraseCaps:
    """What an NVMe controller says it can erase with (Identify Controller)."""

    model: str
    format_nvm: bool  # OACS bit 1
    sanitize_crypto: bool  # SANICAP bit 0
    sanitize_block: bool  # SANICAP bit 1
    sanitize_overwrite: bool  # SANICAP bit 2
    format_crypto: bool  # FNA bit 2
    format_all_namespaces: bool  # FNA bit 0 or 1: a format (or its secure erase) takes every namespace with it
    namespaces: int | None  # NN: the most namespaces the controller supports

    def describe(self) -> str:
        sanitize = [name for name, ok in (("block erase", self.sanitize_block), ("crypto erase", self.sanitize_crypto),
                                          ("overwrite", self.sanitize_overwrite)) if ok]
        fmt = ("Format NVM" + (" with crypto erase" if self.format_crypto else "")) if self.format_nvm else ""
        return "; ".join(filter(None, ["sanitize: " + ", ".join(sanitize) if sanitize else "no sanitize", fmt or
                                       "no Format NVM"]))


def parse_id_ctrl(text: str) -> EraseCaps | None:
    """Identify Controller (``nvme id-ctrl -o json``); None when it is not that."""
    data = _json(text)
    if not isinstance(data, dict):
        return None
    oacs, sanicap, fna = _int(data.get("oacs")), _int(data.get("sanicap")), _int(data.get("fna"))
    if oacs is None and sanicap is None:
        return None
    oacs, sanicap, fna = oacs or 0, sanicap or 0, fna or 0
    return EraseCaps(model=str(data.get("mn") or "").strip(), format_nvm=bool(oacs & 0x2),
                     sanitize_crypto=bool(sanicap & 0x1), sanitize_block=bool(sanicap & 0x2),
                     sanitize_overwrite=bool(sanicap & 0x4), format_crypto=bool(fna & 0x4),
                     format_all_namespaces=bool(fna & 0x3), namespaces=_int(data.get("nn")))


def parse_id_ns_lbaf(text: str) -> int | None:
    """The namespace's current LBA format index (FLBAS bits 3:0, and 6:5 above 16 formats), or None."""
    data = _json(text)
    flbas = _int(data.get("flbas")) if isinstance(data, dict) else None
    if flbas is None:
        return None
    return (flbas & 0xF) | ((flbas >> 5) & 0x3) << 4


@dataclass(frozen=True)
class SanitizeLog:
    status: int  # SSTAT bits 2:0
    global_erased: bool | None
    passes: int | None
    progress: int  # SPROG, of 65536
    cdw10: int | None  # the Sanitize command's CDW10 (its action) of the most recent sanitize

    @property
    def in_progress(self) -> bool:
        return self.status == 2

    @property
    def succeeded(self) -> bool:
        return self.status in (1, 4)

    @property
    def percent(self) -> float:
        return 100.0 if self.progress >= 65535 else round(100 * self.progress / 65536, 1)

    def describe(self) -> str:
        parts = [f"SSTAT status {self.status}: {SSTAT_TEXT.get(self.status, 'reserved value')}"]
        if self.global_erased is not None:
            parts.append("global data erased" if self.global_erased else "global data erased bit not set")
        if self.passes:
            parts.append(f"{self.passes} overwrite passes")
        if self.in_progress:
            parts.append(f"progress {self.percent} %")
        if self.cdw10 is not None:
            action = {v: k for k, v in SANACT.items()}.get(self.cdw10 & 0x7)
            parts.append(f"last action {action or self.cdw10 & 0x7} (CDW10 {self.cdw10:#x})")
        return ", ".join(parts)


def parse_sanitize_log(text: str) -> SanitizeLog | None:
    """``nvme sanitize-log -o json`` (nvme-cli 1.x and 2.x layouts); None when it is not that."""
    data = _json(text)
    if not isinstance(data, dict):
        return None
    body = data
    if "sstat" not in body and len(data) == 1:  # 2.x: one level down, under the device name
        (body,) = data.values()
    if not isinstance(body, dict) or "sstat" not in body:
        return None
    sstat, global_erased, passes = body.get("sstat"), None, None
    if isinstance(sstat, dict):
        global_erased = bool(_int(sstat.get("global_erased"))) if "global_erased" in sstat else None
        passes = _int(sstat.get("no_cmplted_passes"))
        numbers = [m for v in sstat.values() if isinstance(v, str) for m in re.findall(r"^\((\d+)\)", v.strip())]
        status = int(numbers[0]) if numbers else None
    else:
        raw = _int(sstat)
        status = None if raw is None else raw & 0x7
        if raw is not None:
            global_erased, passes = bool(raw & 0x100), (raw >> 3) & 0x1F
    progress = _int(body.get("sprog"))
    if status is None or progress is None:
        return None
    return SanitizeLog(status, global_erased, passes, progress, _int(body.get("cdw10_info")))


def format_succeeded(stdout: str) -> bool:
    """nvme-cli prints "Success formatting namespace:N" when the Format NVM command completed without error."""
    return bool(re.search(r"^Success formatting namespace", stdout, re.M))
