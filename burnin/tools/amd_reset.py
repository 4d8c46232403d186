"""AMD's previous system reset reason, as the kernel prints it on Zen: decoded bit by bit. No judging.

Linux (arch/x86/kernel/cpu/amd.c, print_s5_reset_status_mmio, since 6.16) reads the FCH register
PMx000000C0 (S5_RESET_STATUS) at boot and prints one line per known bit that is set:

    x86/amd: Previous system reset reason [0x08000800]: an uncorrected error caused a data fabric sync flood event

The bit meanings and their classes are the kernel's (s5_reset_reason_txt[] and Documentation/arch/x86/
amd-debugging.rst, "Random reboot issues"). All bits set (0xffffffff) is a read error and is not decoded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# bit -> (class, the kernel's words)
BITS: dict[int, tuple[str, str]] = {
    0: ("pin", "thermal pin BP_THERMTRIP_L was tripped"),
    1: ("pin", "power button was pressed for 4 seconds"),
    2: ("pin", "shutdown pin was tripped"),
    4: ("remote", "remote ASF power off command was received"),
    9: ("internal", "internal CPU thermal limit was tripped"),
    16: ("pin", "system reset pin BP_SYS_RST_L was tripped"),
    17: ("software", "software issued PCI reset"),
    18: ("software", "software wrote 0x4 to reset control register 0xCF9"),
    19: ("software", "software wrote 0x6 to reset control register 0xCF9"),
    20: ("software", "software wrote 0xE to reset control register 0xCF9"),
    21: ("acpi-state", "ACPI power state transition occurred"),
    22: ("pin", "keyboard reset pin KB_RST_L was tripped"),
    23: ("internal", "internal CPU shutdown event occurred"),
    24: ("hardware", "system failed to boot before failed boot timer expired"),
    25: ("hardware", "hardware watchdog timer expired"),
    26: ("remote", "remote ASF reset command was received"),
    27: ("internal", "an uncorrected error caused a data fabric sync flood event"),
    29: ("internal", "FCH and MP1 failed warm reset handshake"),
    30: ("internal", "a parity error occurred"),
    31: ("internal", "a software sync flood event occurred"),
}
_LINE = re.compile(r"(?:x86/amd: )?Previous system reset reason(?: \[0x(?P<value>[0-9a-fA-F]{1,8})\])?: "
                   r"(?P<text>[^`\n]*)")


@dataclass(frozen=True)
class ResetReason:
    value: int | None  # the register, when the line carries it
    text: str  # what the kernel's line says
    bits: tuple[int, ...]  # every bit set in the register (named or not); () when the line has no value
    line: str

    def named(self) -> list[tuple[int, str, str]]:
        """(bit, class, meaning) of the bits the kernel names; the line's own text when there is no value."""
        if self.value is None:
            for bit, (kind, words) in BITS.items():
                if words.lower() == self.text.lower():
                    return [(bit, kind, words)]
            return []
        return [(bit, *BITS[bit]) for bit in self.bits if bit in BITS]


def parse_line(line: str) -> ResetReason | None:
    match = _LINE.search(line)
    if not match:
        return None
    value = int(match["value"], 16) if match["value"] else None
    if value == 0xFFFFFFFF:
        return None
    bits = tuple(b for b in range(32) if value is not None and value & (1 << b))
    return ResetReason(value, match["text"].strip(), bits, line.strip())


def parse_lines(lines) -> list[ResetReason]:
    """Every reset-reason line, one per register value (the kernel prints the same value once per set bit)."""
    seen: dict[tuple, ResetReason] = {}
    for line in lines:
        reason = parse_line(line)
        if reason is not None:
            seen.setdefault((reason.value, reason.text if reason.value is None else None), reason)
    return list(seen.values())
