"""hdparm: the Host Protected Area (``hdparm -N``, read-only), which hides sectors at the end of an ATA drive from the
operating system (and from an overwrite); and the drive's own erase: what ``hdparm -I`` says it supports (SANITIZE
feature set with BLOCK_ERASE_EXT / CRYPTO_SCRAMBLE_EXT, the Security feature set with enhanced erase, and whether
security is frozen), the sanitize and security-erase argv, and ``--sanitize-status``. Builds argv and parses; never
judges, never decides to erase (`burnin.modules.disk.erase` does, for consented devices only).

``hdparm -N /dev/sdX`` prints `` max sectors   = VISIBLE/NATIVE, HPA is enabled|disabled`` (hdparm 9.x); a drive
that does not support it, or a bridge that does not pass the command, prints "SG_IO: bad/missing sense data" or
"READ_NATIVE_MAX_ADDRESS failed" instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HDPARM = "hdparm"


def hpa_argv(device: str) -> list[str]:
    return [HDPARM, "-N", device]


@dataclass(frozen=True)
class Hpa:
    visible_sectors: int
    native_sectors: int
    enabled: bool

    @property
    def hidden_sectors(self) -> int:
        return max(0, self.native_sectors - self.visible_sectors)


def parse_hpa(text: str) -> Hpa | None:
    """The max-sectors line of ``hdparm -N``; None when the drive or bridge did not answer it (including the
    "max sectors = 0/1" a SCSI translation layer makes up after an SG_IO error: no drive has 0 visible sectors)."""
    match = re.search(r"max sectors\s*=\s*(\d+)/(\d+),\s*HPA is (enabled|disabled)", text)
    if not match or int(match[1]) == 0:  # "0/1, HPA is enabled": a SCSI layer's garbage answer (QEMU scsi-hd)
        return None
    return Hpa(int(match[1]), int(match[2]), match[3] == "enabled")


def dco_argv(device: str) -> list[str]:
    return [HDPARM, "--dco-identify", device]


def parse_dco_real_max(text: str) -> int | None:
    """``hdparm --dco-identify``: the Device Configuration Overlay's "Real max sectors" (hdparm prints the DCO's
    maximum LBA + 1), the capacity the drive was built with; None when the drive has no DCO or did not answer."""
    match = re.search(r"Real max sectors:\s*(\d+)", text)
    return int(match[1]) if match and int(match[1]) > 0 else None


# -- the drive's own erase (hdparm -I, --sanitize-*, --security-*) ---------------------------------------------------
SECURITY_PASSWORD = "burnin"  # the temporary user password an ATA security erase needs (the erase clears it)


def identify_argv(device: str) -> list[str]:
    return [HDPARM, "-I", device]


def sanitize_argv(device: str, action: str) -> list[str]:
    flag = {"block": "--sanitize-block-erase", "crypto": "--sanitize-crypto-scramble"}[action]
    return [HDPARM, "--yes-i-know-what-i-am-doing", flag, device]


def sanitize_status_argv(device: str) -> list[str]:
    return [HDPARM, "--sanitize-status", device]


def security_set_pass_argv(device: str) -> list[str]:
    return [HDPARM, "--user-master", "u", "--security-set-pass", SECURITY_PASSWORD, device]


def security_erase_argv(device: str, enhanced: bool) -> list[str]:
    flag = "--security-erase-enhanced" if enhanced else "--security-erase"
    return [HDPARM, "--user-master", "u", flag, SECURITY_PASSWORD, device]


@dataclass(frozen=True)
class AtaEraseCaps:
    """The erase commands an ATA drive's IDENTIFY DEVICE (``hdparm -I``) lists."""

    model: str
    sanitize: bool  # SANITIZE feature set
    sanitize_block: bool  # BLOCK_ERASE_EXT
    sanitize_crypto: bool  # CRYPTO_SCRAMBLE_EXT
    security_supported: bool
    security_enabled: bool  # a password is set
    security_locked: bool
    security_frozen: bool  # SECURITY FREEZE LOCK (the BIOS issues it at boot): no security command until power cycle
    enhanced_erase: bool
    erase_minutes: int | None  # the drive's estimate for the (enhanced) security erase

    def describe(self) -> str:
        sanitize = [n for n, ok in (("block erase", self.sanitize_block), ("crypto scramble", self.sanitize_crypto))
                    if ok]
        security = ("security " + ("frozen" if self.security_frozen else "not frozen")
                    + (", enhanced erase" if self.enhanced_erase else "") + (", password set" if self.security_enabled
                                                                              else "")
                    if self.security_supported else "no security erase")
        return "; ".join(["sanitize: " + ", ".join(sanitize) if self.sanitize and sanitize else "no sanitize",
                          security])


def _flag(block: str, word: str) -> bool | None:
    """A Security-section line: "supported" / "not supported" (None when absent)."""
    match = re.search(rf"^\s*(not)?\s+{word}\b", block, re.M)
    return None if match is None else match[1] is None


def parse_identify(text: str) -> AtaEraseCaps | None:
    """``hdparm -I``: the erase features; None when it is no ATA IDENTIFY output (an NVMe drive, a bridge that does
    not pass it, a loop device)."""
    if "Commands/features:" not in text and "Security:" not in text:
        return None
    model = re.search(r"Model Number:\s*(.*)", text)

    def enabled_feature(name: str) -> bool:  # "   *\tNAME" (the star is "enabled"; a blank is "supported only")
        return bool(re.search(rf"^\s*\*?\s*{re.escape(name)}\b", text, re.M)) and not re.search(
            rf"^\s*not\s+{re.escape(name)}", text, re.M)

    security = text.split("Security:", 1)[1] if "Security:" in text else ""
    security = re.split(r"\n(?=\S)", security, maxsplit=1)[0]  # up to the next unindented section
    minutes = re.findall(r"(\d+)min for (ENHANCED )?SECURITY ERASE UNIT", security)
    enhanced = bool(re.search(r"^\s*supported: enhanced erase", security, re.M))
    estimate = [int(m) for m, e in minutes if bool(e) == enhanced] or [int(m) for m, _ in minutes]
    return AtaEraseCaps(model=(model[1].strip() if model else ""), sanitize=enabled_feature("SANITIZE feature set"),
                        sanitize_block=enabled_feature("BLOCK_ERASE_EXT command"),
                        sanitize_crypto=enabled_feature("CRYPTO_SCRAMBLE_EXT command"),
                        security_supported=bool(_flag(security, "supported")),
                        security_enabled=bool(_flag(security, "enabled")),
                        security_locked=bool(_flag(security, "locked")),
                        security_frozen=bool(_flag(security, "frozen")), enhanced_erase=enhanced,
                        erase_minutes=estimate[0] if estimate else None)


@dataclass(frozen=True)
class AtaSanitizeStatus:
    state: str  # "SD0" idle, "SD1" frozen, "SD2" in progress, "SD3" failed, "SD4" succeeded
    text: str  # hdparm's words for the state
    percent: float | None
    last_ok: bool  # "Last Sanitize Operation Completed Without Error"

    @property
    def in_progress(self) -> bool:
        return self.state == "SD2"

    @property
    def succeeded(self) -> bool:
        return self.state == "SD4" or (self.state == "SD0" and self.last_ok)


def parse_sanitize_status(text: str) -> AtaSanitizeStatus | None:
    """``hdparm --sanitize-status``: "State:    SD2 Sanitize operation In Process" / "Progress: 0x41c2 (25%)" /
    "Last Sanitize Operation Completed Without Error"."""
    state = re.search(r"State:\s*(SD\d)\s*(.*)", text)
    if not state:
        return None
    progress = re.search(r"Progress:\s*0x[0-9a-fA-F]+\s*\((\d+)%\)", text)
    return AtaSanitizeStatus(state[1], state[2].strip(), float(progress[1]) if progress else None,
                             "Completed Without Error" in text)
