"""Text for a terminal: every string that came from hardware or a file is shown, never obeyed.

A DMI vendor, a disk model, a sensor label or a journal field is written by whoever owned the machine. Sent raw
to a terminal, `ESC ] 0 ; ... BEL` retitles the window and `ESC [ 2 J` clears the screen under the verdict.
`field()` makes one such string safe for one line: control characters (C0, DEL, C1), and the Unicode controls
that reorder or hide text (bidi overrides, zero-width marks, line/paragraph separators) are shown as Python
escapes (`\\x1b`, `\\u202e`), and a long string is cut to a bound with a mark saying how much was left out.
`block()` does the same for a whole multi-line text at the output boundary, keeping its newlines. JSON and HTML
outputs escape in their own way and do not use this.
"""

from __future__ import annotations

import re
from typing import Any

FIELD_MAX = 200  # characters of one hardware string on a line (a DMI string is at most 64 bytes)
MESSAGE_MAX = 2000  # a finding's message, a reason

# C0 except newline and tab (kept by block(), escaped by field()), DEL, C1, and the format characters that
# make text read differently from what it is: soft hyphen, zero-width and bidi controls, line separators, BOM.
_UNSAFE_IN_BLOCK = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb"
    "\ud800-\udfff]"
)
_UNSAFE_IN_FIELD = re.compile(_UNSAFE_IN_BLOCK.pattern[:1] + "\t\n" + _UNSAFE_IN_BLOCK.pattern[1:])


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def field(value: Any, limit: int = FIELD_MAX) -> str:
    """One string for one line of a terminal: controls shown escaped, at most `limit` characters (plus a mark)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        # Cut first so escaping a hostile megabyte costs nothing; the mark says the string was longer.
        cut = len(text) - limit
        text = text[:limit]
        return _UNSAFE_IN_FIELD.sub(_escape, text) + f"...(+{cut} chars)"
    return _UNSAFE_IN_FIELD.sub(_escape, text)


def message(value: Any) -> str:
    """A finding's message or a reason: like field(), with a longer bound."""
    return field(value, MESSAGE_MAX)


def block(text: str) -> str:
    """A whole text for a terminal: every control character but newline and tab shown escaped."""
    return _UNSAFE_IN_BLOCK.sub(_escape, text)


def is_safe(text: str) -> bool:
    """Whether `text` holds no character a terminal would obey other than newline and tab (tests use this)."""
    return _UNSAFE_IN_BLOCK.search(text) is None
