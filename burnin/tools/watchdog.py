"""The hardware watchdog (/dev/watchdog, the kernel's watchdog API: Documentation/watchdog/watchdog-api.rst).

Opening the device starts the timer; every write (or WDIOC_KEEPALIVE) restarts it; if nothing does for `timeout`
seconds the hardware resets the machine. Writing the magic character 'V' just before closing stops it (drivers
with WDIOF_MAGICCLOSE; without 'V' the driver says "watchdog did not stop!" and the timer keeps running). So a
soak that hangs the machine hard reboots it, and the next boot reports the unfinished run; a normal end stops it.
"""

from __future__ import annotations

import fcntl
import os
import struct
import time

DEVICE = "/dev/watchdog"
# ioctl numbers from include/uapi/linux/watchdog.h: _IOR/_IOWR('W', n, ...)
WDIOC_GETSUPPORT = 0x80285700  # struct watchdog_info (40 bytes)
WDIOC_KEEPALIVE = 0x80045705
WDIOC_SETTIMEOUT = 0xC0045706
WDIOC_GETTIMEOUT = 0x80045707
WDIOF_MAGICCLOSE = 0x0100


class WatchdogError(Exception):
    pass


class HardwareWatchdog:
    """An armed watchdog: `pet()` often enough, `disarm()` at a normal end (magic close)."""

    def __init__(self, path: str, timeout_s: int):
        try:
            self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise WatchdogError(f"cannot open {path}: {exc.strerror or exc}") from exc
        self.path = path
        self.identity, self.magic_close = self._support()
        self.timeout_s = self._set_timeout(timeout_s)
        self._last = 0.0
        self.pet(force=True)

    def _support(self) -> tuple[str, bool]:
        buf = bytearray(40)
        try:
            fcntl.ioctl(self._fd, WDIOC_GETSUPPORT, buf, True)
        except OSError:
            return "unknown", True
        options = struct.unpack_from("<I", buf, 0)[0]
        return buf[8:40].split(b"\0", 1)[0].decode("ascii", "replace"), bool(options & WDIOF_MAGICCLOSE)

    def _set_timeout(self, wanted: int) -> int | None:
        buf = bytearray(struct.pack("<i", int(wanted)))
        try:
            fcntl.ioctl(self._fd, WDIOC_SETTIMEOUT, buf, True)
            return struct.unpack("<i", buf)[0]
        except OSError:
            try:
                fcntl.ioctl(self._fd, WDIOC_GETTIMEOUT, buf, True)
                return struct.unpack("<i", buf)[0]
            except OSError:
                return None

    def pet(self, force: bool = False) -> None:
        """Restart the timer; at most once a second unless forced (the runner calls this from its loop)."""
        now = time.monotonic()
        if self._fd is None or (not force and now - self._last < 1.0):
            return
        os.write(self._fd, b"\0")
        self._last = now

    def disarm(self) -> bool:
        """The magic close: 'V', then close. True when the driver promises to stop on it."""
        if self._fd is None:
            return True
        fd, self._fd = self._fd, None
        try:
            os.write(fd, b"V")
        finally:
            os.close(fd)
        return self.magic_close

    def abandon(self) -> None:
        """Close without the magic character: the timer keeps running and the machine resets (tests, and a run
        that must not end quietly). Never called by the runner."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
