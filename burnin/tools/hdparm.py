"""hdparm, read-only: the Host Protected Area (``hdparm -N``), which hides sectors at the end of an ATA drive from the
operating system (and from an overwrite). Builds argv, parses, never judges, never sets anything.

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
    """The max-sectors line of ``hdparm -N``; None when the drive or bridge did not answer it."""
    match = re.search(r"max sectors\s*=\s*(\d+)/(\d+),\s*HPA is (enabled|disabled)", text)
    if not match:
        return None
    return Hpa(int(match[1]), int(match[2]), match[3] == "enabled")
