"""One external-program lifecycle: spawn -> poll -> sample -> SIGINT -> grace -> kill -> parse.

An adapter in `burnin/tools/` says how to run its program as a load by returning a `Program`: the argv (given a
scratch directory the run may write into: a YAML report, temp files), how to read progress from the output
lines as they come (optional), and how to parse the end (`Ended`: exit status, output, scratch files) into the
tool's own outcome record. Tools never judge; the module judges the parsed outcome.

`ProgramLoad` runs one `Program` as a `Load`: the program gets its own process group (so the stop request and
the kill reach every process it started) and dies with the module process; its output goes to files in the
scratch directory (a chatty program never blocks on a full pipe). `outcome` is the parsed end; `close()` parses
it (if nobody asked yet), kills any straggler of its process group and removes the scratch directory.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from burnin.host import Host

MAX_READ = 1 << 20  # output read per poll for progress; the rest waits for the next poll


@dataclass(frozen=True)
class Ended:
    """How one program run ended, for the adapter's parser."""

    returncode: int | None  # None: it never started (see `spawn_error`); negative: ended by that signal
    stdout: str
    stderr: str  # empty when the program's stderr went into stdout
    scratch: str  # the run's scratch directory (still there while the parser runs)
    seconds: float
    interrupted: bool = False  # we asked it to stop (SIGINT) before it ended by itself
    killed: bool = False  # it did not stop within the grace: SIGKILL
    spawn_error: str | None = None

    def read(self, name: str) -> str:
        """A file the program wrote into its scratch directory ("" when it wrote none)."""
        return _read(self.scratch, name)


@dataclass(frozen=True)
class Program:
    """How to run one external program as a load (what a `burnin/tools/` adapter returns)."""

    name: str  # for the journal: "stress-ng cpu3"
    argv: Sequence[str] | Callable[[str], Sequence[str]]  # or a function of the scratch directory
    parse: Callable[[Ended], Any] = lambda ended: ended  # the end -> the tool's outcome record
    # new lines of stdout (with stderr too when stderr="stdout") -> metrics for the next sample
    progress: Callable[[Sequence[str]], Mapping[str, float] | None] | None = None
    stderr: str = "separate"  # "separate", "stdout" (merged into stdout) or "discard"
    oom_score_adj: int | None = None  # set on the started program (ours): +500 makes it the OOM killer's pick
    cwd: str | None = None  # where it runs (gpu-burn reads its compare.ptx from there); None: our own directory
    env: Mapping[str, str] | None = None  # added to the inherited environment (CUDA_VISIBLE_DEVICES=3)

    def argv_for(self, scratch: str) -> list[str]:
        argv = self.argv(scratch) if callable(self.argv) else self.argv
        return [str(a) for a in argv]


class ProgramLoad:
    """One `Program` run as a `Load`."""

    def __init__(self, host: Host, program: Program):
        self.host = host
        self.program = program
        self.name = program.name
        self.argv: list[str] = []
        self.proc: subprocess.Popen | None = None
        self.scratch: str | None = None
        self.spawn_error: str | None = None
        self.interrupted = False
        self.killed = False
        self._files: list[Any] = []
        self._started = 0.0
        self._ended_at: float | None = None
        self._offset = 0
        self._partial = ""
        self._metrics: dict[str, float] = {}
        self._outcome: Any = None
        self._parsed = False

    # -- the Load protocol -------------------------------------------------------------------------------
    def start(self) -> None:
        slug = re.sub(r"[^\w.-]+", "-", self.name).strip("-") or "program"
        self.scratch = tempfile.mkdtemp(prefix=f"burnin-{slug}-")
        self.argv = self.program.argv_for(self.scratch)
        out = open(os.path.join(self.scratch, "stdout"), "w")
        self._files.append(out)
        if self.program.stderr == "stdout":
            err: Any = subprocess.STDOUT
        elif self.program.stderr == "discard":
            err = subprocess.DEVNULL
        else:
            err = open(os.path.join(self.scratch, "stderr"), "w")
            self._files.append(err)
        self._started = time.monotonic()
        try:
            extra: dict[str, Any] = {}
            if self.program.cwd is not None:
                extra["cwd"] = self.program.cwd
            if self.program.env:
                extra["env"] = {**os.environ, **{str(k): str(v) for k, v in self.program.env.items()}}
            self.proc = self.host.spawn(self.argv, stdout=out, stderr=err, start_new_session=True, **extra)
        except OSError as exc:
            self.spawn_error = f"{type(exc).__name__}: {exc}"
            self._ended_at = time.monotonic()
            return
        if self.program.oom_score_adj is not None:
            try:
                with open(self.host.path(f"/proc/{self.proc.pid}/oom_score_adj"), "w") as f:  # our own child
                    f.write(str(self.program.oom_score_adj))
            except OSError:
                pass

    @property
    def started_at(self) -> float:
        """When it was started (time.monotonic())."""
        return self._started

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def running(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None and self._ended_at is None:
                self._ended_at = time.monotonic()
            return False
        return True

    def poll(self, timeout: float) -> bool:
        if self.running() and timeout > 0:
            try:
                self.proc.wait(timeout)  # type: ignore[union-attr]
            except subprocess.TimeoutExpired:
                pass
        self._read_progress()
        return self.running()

    def metrics(self) -> Mapping[str, float]:
        out, self._metrics = self._metrics, {}
        return out

    def stop(self) -> None:
        """SIGINT to the program's process group: the tools we run stop early and still report."""
        if self.running():
            self.interrupted = True
            self._signal(signal.SIGINT)

    def kill(self) -> None:
        if self.running():
            self.killed = True
        self._signal(signal.SIGKILL)
        if self.proc is not None:
            try:
                self.proc.wait(1.0)
            except subprocess.TimeoutExpired:
                pass

    def close(self) -> None:
        if self.running():  # a program nobody stopped: the one stop rule still applies
            self.stop()
            try:
                self.proc.wait(1.0)  # type: ignore[union-attr]
            except subprocess.TimeoutExpired:
                self.kill()
        for f in self._files:
            f.close()
        self._files = []
        if self.proc is not None:
            self._signal(signal.SIGKILL)  # stragglers it left in its group
        if not self._parsed and self.scratch is not None:
            self.outcome  # noqa: B018 - parse while the scratch directory is still there
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)

    # -- the end ---------------------------------------------------------------------------------------
    def ended(self) -> Ended:
        for f in self._files:
            f.flush()
        scratch = self.scratch or ""
        stdout, stderr = _read(scratch, "stdout"), _read(scratch, "stderr")
        end = self._ended_at if self._ended_at is not None else time.monotonic()
        return Ended(None if self.proc is None else self.proc.returncode, stdout, stderr, scratch,
                     max(0.0, end - self._started), self.interrupted, self.killed, self.spawn_error)

    @property
    def outcome(self) -> Any:
        """The adapter's parse of the end (parsed once, after the program ended)."""
        if not self._parsed:
            if self.running():
                raise RuntimeError(f"{self.name} is still running: no outcome yet")
            self._outcome = self.program.parse(self.ended())
            self._parsed = True
        return self._outcome

    # -- helpers ---------------------------------------------------------------------------------------
    def _signal(self, sig: int) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def _read_progress(self) -> None:
        if self.program.progress is None or self.scratch is None:
            return
        try:
            with open(os.path.join(self.scratch, "stdout"), "rb") as f:
                f.seek(self._offset)
                chunk = f.read(MAX_READ)
        except OSError:
            return
        if not chunk:
            return
        self._offset += len(chunk)
        text = self._partial + chunk.decode(errors="replace")
        lines = text.split("\n")
        self._partial = lines.pop()
        if lines:
            found = self.program.progress(lines)
            if found:
                self._metrics.update({str(k): float(v) for k, v in found.items() if v is not None})


def _read(directory: str, name: str) -> str:
    if not directory:
        return ""
    try:
        with open(os.path.join(directory, name), errors="replace") as f:  # our own scratch files
            return f.read()
    except OSError:
        return ""
