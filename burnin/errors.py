"""Errors that end a command with a one-line message and exit code 2 (never a traceback)."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the user: a profile, claims file, option or path.

    `str()` is the one line the user sees: "FILE:LINE: KEY: what is wrong".
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None, key: str | None = None):
        self.file = file
        self.line = line
        self.key = key
        self.detail = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        key = f"{self.key}: " if self.key else ""
        return f"{where}{key}{self.detail}"
