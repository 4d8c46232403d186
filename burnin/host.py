"""The one way burnin touches the machine: file reads under a root path, and external commands.

Every read of /sys, /proc, /dev and the SMBIOS tables goes through `Host.path()` so a captured tree
(`--sysroot DIR`) can stand in for the live machine. Every external program runs through `Host.run()`
(bounded by a timeout, argv and outcome recorded) or `Host.spawn()` (long-running tools that must die
with burnin, even when burnin itself is killed with SIGKILL).
"""

from __future__ import annotations

import ctypes
import fnmatch
import json
import os
import shutil
import signal
import stat
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """Ask the kernel to send `sig` to this process when its parent dies (Linux prctl).

    This is what keeps a stress load from outliving a burnin that was killed with SIGKILL.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: nothing to arm
        pass


@dataclass(frozen=True)
class CommandResult:
    """What one external command did. `returncode` is None when it never ran or was killed on timeout."""

    argv: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    error: str = ""  # why it did not run or did not finish ("not installed", "timed out after 30 s")

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.error

    def to_record(self) -> dict:
        return {
            "argv": list(self.argv),
            "returncode": self.returncode,
            "duration_s": round(self.duration_s, 3),
            "timed_out": self.timed_out,
            "error": self.error,
            "stderr_tail": self.stderr[-500:],
        }


CAPTURE_DIR = ".burnin-capture"  # inside a captured tree: the manifest and the recorded command outputs
OUTSIDE_THE_TREE = "outside-the-tree"  # what Host.path gives for a path whose links leave a captured tree
READ_MAX_BYTES = 64 << 20  # one file of /sys or /proc: pages; /proc/cpuinfo of a big server: a megabyte


class Host:
    """The machine under test, or a captured tree of one (made by `burnin capture`, or any copy of /sys)."""

    def __init__(self, root: str | os.PathLike = "/"):
        self.root = Path(root).resolve()
        self.live = self.root == Path("/")
        self._root_text = str(self.root)
        self._root_prefix = self._root_text.rstrip("/") + "/"
        self.outside: set[str] = set()  # host paths of a captured tree whose links lead out of it (not read)
        # While `burnin capture` records: every host path touched and every command run.
        self.touched: set[str] | None = None
        self.commands_run: list[CommandResult] | None = None
        self._replay = {} if self.live else _load_replay(self.read_bytes(f"/{CAPTURE_DIR}/commands.json"))

    @property
    def can_run(self) -> bool:
        """Whether commands give answers: on the live machine, or replayed from a capture that recorded them."""
        return self.live or bool(self._replay)

    def record(self) -> None:
        """Start recording what is read and run (for `burnin capture`)."""
        self.touched = set()
        self.commands_run = []

    def __repr__(self) -> str:
        return f"Host(root={str(self.root)!r})"

    # -- files ---------------------------------------------------------------------------------
    def path(self, host_path: str) -> Path:
        """The real path of `host_path` (an absolute path on the machine under test).

        In a captured tree, a path whose links lead out of the tree (to /dev/zero, or any file of the judging
        machine) is not followed: the path given back names nothing, so every read of it finds nothing.
        """
        if not host_path.startswith("/"):
            raise ValueError(f"host paths are absolute, got {host_path!r}")
        if self.touched is not None:
            self.touched.add(host_path)
        local = self.root / host_path.lstrip("/")
        if self.live:
            return local
        real = os.path.realpath(local)
        if real == self._root_text or real.startswith(self._root_prefix):
            return local
        self.outside.add(host_path)
        return self.root / CAPTURE_DIR / OUTSIDE_THE_TREE

    def link_target(self, host_path: str) -> str | None:
        """The text of a symlink (not followed, so it may point anywhere); None when it is not a symlink."""
        parent, _, name = host_path.rstrip("/").rpartition("/")
        try:
            return os.readlink(self.path(parent or "/") / name)
        except (OSError, ValueError):
            return None

    def exists(self, host_path: str) -> bool:
        return self.path(host_path).exists()

    def is_dir(self, host_path: str) -> bool:
        return self.path(host_path).is_dir()

    def read_text(self, host_path: str) -> str | None:
        """The file's text without trailing whitespace; None when absent or unreadable (sysfs EIO, EACCES…),
        not a regular file, or larger than READ_MAX_BYTES."""
        data = self.read_bytes(host_path)
        return None if data is None else data.decode("utf-8", errors="replace").rstrip()

    def read_bytes(self, host_path: str) -> bytes | None:
        """The file's bytes; None when absent, unreadable, not a regular file (a FIFO would hang, a device read
        forever) or larger than READ_MAX_BYTES."""
        try:
            fd = os.open(self.path(host_path), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, ValueError):
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            chunks, total = [], 0
            while True:
                # sysfs attributes must be read from their start in one read; a page is the most they hold.
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
                total += len(chunk)
                if total > READ_MAX_BYTES:
                    return None
        except OSError:
            return None
        finally:
            os.close(fd)

    def read_int(self, host_path: str) -> int | None:
        text = self.read_text(host_path)
        if text is None:
            return None
        try:
            return int(text.split()[0], 0) if text else None
        except ValueError:
            return None

    def listdir(self, host_path: str) -> list[str]:
        """Entry names, sorted; empty when the directory is absent."""
        try:
            return sorted(os.listdir(self.path(host_path)))
        except OSError:
            return []

    def glob(self, host_dir: str, pattern: str) -> list[str]:
        """Host paths of the entries of `host_dir` whose names match `pattern` (sorted naturally)."""
        names = [n for n in self.listdir(host_dir) if fnmatch.fnmatchcase(n, pattern)]
        return [f"{host_dir.rstrip('/')}/{n}" for n in sorted(names, key=natural_key)]

    def realpath(self, host_path: str) -> str:
        """Resolve symlinks inside the tree and give the result back as a host path."""
        real = Path(os.path.realpath(self.path(host_path)))
        try:
            return "/" + str(real.relative_to(self.root)).lstrip(".")
        except ValueError:  # an absolute link that leaves a captured tree
            return str(real)

    # -- programs ------------------------------------------------------------------------------
    def which(self, tool: str) -> str | None:
        """Where `tool` is installed on a live host; in a capture, a name if its outputs were recorded."""
        if not self.live:
            return f"(captured) {tool}" if any(argv[0] == tool for argv in self._replay) else None
        return shutil.which(tool)

    def run(self, argv: Sequence[str], timeout: float = 30.0, input: str | None = None) -> CommandResult:
        """Run one external command to completion, bounded by `timeout`; never raises for tool trouble."""
        argv = tuple(str(a) for a in argv)
        start = time.monotonic()
        if not self.live:
            if argv in self._replay:
                return self._replay[argv]
            return CommandResult(argv, None, "", "", 0.0, error=f"not run: analysing a captured tree ({self.root})"
                                 " that holds no output of this command")
        result = self._run(argv, timeout, input, start)
        if self.commands_run is not None:
            self.commands_run.append(result)
        return result

    def _run(self, argv: tuple[str, ...], timeout: float, input: str | None, start: float) -> CommandResult:
        if shutil.which(argv[0]) is None:
            return CommandResult(argv, None, "", "", 0.0, error=f"{argv[0]} is not installed")
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                preexec_fn=die_with_parent,
                start_new_session=True,
            )
        except OSError as exc:
            return CommandResult(argv, None, "", "", time.monotonic() - start, error=f"cannot start: {exc}")
        try:
            out, err = proc.communicate(input=input, timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_process_group(proc.pid)
            out, err = proc.communicate()
            return CommandResult(
                argv, None, out, err, time.monotonic() - start, timed_out=True,
                error=f"timed out after {timeout:g} s",
            )
        return CommandResult(argv, proc.returncode, out, err, time.monotonic() - start)

    def spawn(self, argv: Sequence[str], **popen_kwargs) -> subprocess.Popen:
        """Start a long-running tool that dies with its parent (even a SIGKILLed one).

        It stays in the caller's process group: the runner gives each module its own group and kills that
        whole group when the module ends, hangs or the run is cancelled, so nothing is left running.
        """
        if not self.live:
            raise RuntimeError(f"cannot start programs while analysing a captured tree ({self.root})")
        popen_kwargs.setdefault("stdin", subprocess.DEVNULL)
        return subprocess.Popen(
            [str(a) for a in argv], preexec_fn=die_with_parent, **popen_kwargs
        )


def _load_replay(data: bytes | None) -> dict[tuple[str, ...], CommandResult]:
    try:
        entries = json.loads(data) if data is not None else []
    except (ValueError, RecursionError):
        return {}
    replay = {}
    for entry in entries if isinstance(entries, list) else []:
        # A recorded output of the wrong shape is not replayed: the command then reads as not recorded.
        if not isinstance(entry, dict) or not isinstance(entry.get("argv"), list) \
                or not all(isinstance(a, str) for a in entry["argv"]) or not entry["argv"]:
            continue
        returncode, duration = entry.get("returncode"), entry.get("duration_s", 0.0)
        if not (returncode is None or type(returncode) is int) or not isinstance(entry.get("stdout"), str) \
                or not isinstance(entry.get("stderr"), str) or type(duration) not in (int, float):
            continue
        argv = tuple(entry["argv"])
        replay[argv] = CommandResult(argv, returncode, entry["stdout"], entry["stderr"], float(duration),
                                     bool(entry.get("timed_out")), str(entry.get("error", "")))
    return replay


def kill_process_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def natural_key(name: str) -> list:
    """Sort "hwmon10" after "hwmon9" and "cpu2" before "cpu10"."""
    parts: list = []
    digits = ""
    text = ""
    for ch in name:
        if ch.isdigit():
            if text:
                parts.append((1, text))
                text = ""
            digits += ch
        else:
            if digits:
                parts.append((0, int(digits)))
                digits = ""
            text += ch
    if digits:
        parts.append((0, int(digits)))
    if text:
        parts.append((1, text))
    return parts


def parse_cpulist(text: str | None) -> list[int]:
    """The kernel's CPU-list format: "0-3,8,10-11" -> [0, 1, 2, 3, 8, 10, 11] (sorted, unique)."""
    cpus: set[int] = set()
    for part in (text or "").strip().split(","):
        first, _, last = part.strip().partition("-")
        if first.isdigit() and (not last or last.isdigit()):
            cpus.update(range(int(first), int(last or first) + 1))
    return sorted(cpus)


def format_cpulist(cpus) -> str:
    """[0, 1, 2, 3, 8] -> "0-3,8", the kernel's CPU-list format."""
    ranges: list[list[int]] = []
    for cpu in sorted(set(cpus)):
        if ranges and cpu == ranges[-1][1] + 1:
            ranges[-1][1] = cpu
        else:
            ranges.append([cpu, cpu])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in ranges)
