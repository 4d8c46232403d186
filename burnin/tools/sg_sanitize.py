"""sg3_utils for a SCSI/SAS drive's own erase: ``sg_sanitize`` (the SCSI SANITIZE command, SBC-3), its progress
through ``sg_requests --progress`` (the sense data's progress indication while the drive sanitizes), and ``sg_turs``
(TEST UNIT READY: a drive whose sanitize failed answers "not ready"/"medium format corrupted" until a new one
succeeds). Builds argv and parses output; never judges, never decides to erase.

``sg_sanitize --block --quick --early DEV`` starts a block-erase sanitize with the IMMED bit set and returns (no
15-second countdown, no waiting in the tool). When the drive refuses, sg_sanitize prints one of "Sanitize command not
supported" (the opcode is unknown), "bad field in Sanitize cdb, option probably not supported" (that service
action, e.g. block erase on a drive with crypto erase only), "Sanitize failed, device not ready" (sg3_utils 1.4x);
sg3_utils 1.46 prints "Sanitize failed: Illegal request, Invalid opcode" (unknown opcode) or "Sanitize failed:
Illegal request" (a field it does not support) and the sense data; it exits non-zero. ``sg_requests --progress`` prints "Progress indication: 12.34% done" while the sanitize runs and nothing
once it is over.
"""

from __future__ import annotations

import re

SG_SANITIZE, SG_REQUESTS, SG_TURS = "sg_sanitize", "sg_requests", "sg_turs"
ACTIONS = {"block": "--block", "crypto": "--crypto"}


def sanitize_argv(device: str, action: str) -> list[str]:
    return [SG_SANITIZE, ACTIONS[action], "--quick", "--early", device]


def progress_argv(device: str) -> list[str]:
    return [SG_REQUESTS, "--progress", device]


def turs_argv(device: str) -> list[str]:
    return [SG_TURS, device]


def parse_progress(text: str) -> float | None:
    """The percentage done of the operation in progress, or None when the drive reports none (it is over)."""
    match = re.search(r"Progress indication:\s*(\d+)\.(\d+)% done", text)
    return float(f"{match[1]}.{match[2]}") if match else None


def action_unsupported(text: str) -> bool:
    """sg_sanitize's words for "the drive does not do that sanitize action" (another action may still work)."""
    return "bad field in Sanitize cdb" in text or ("Illegal request" in text and "Invalid opcode" not in text)
