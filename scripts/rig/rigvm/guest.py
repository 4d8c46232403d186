"""A running rig guest: boot it, talk to it over the 9p share, inject faults over QMP, collect its results.

    guest = Guest(run_dir).start(AGENT_JOB)      # boots; the job serves rig-agent
    guest.wait_ready()
    guest.sh("burnin modules --json")            # -> ShellResult(rc, out, err, t_start, t_end)
    guest.qmp("set_link", name="nic0", up=False)
    guest.stop(); rc = guest.wait()

The share is RUN/share (the guest's /mnt/rig): job.sh, job.log, job.rc, boot.txt, out/, agent/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from rigvm import qmp as qmp_client
from rigvm.server import SERVER, Server, qemu_argv

RIG_DIR = Path(os.environ.get("RIG_DIR", "/var/tmp/burnin-rig"))
PROFILES = Path(__file__).resolve().parent.parent / "profiles"
# The agent (and what it starts) runs at nice -10: under emulation a guest loaded by burnin's stress modules would
# otherwise start an injection seconds late. Start what is being measured with `nice -n 10` to run it at 0.
AGENT_JOB = ("#!/bin/bash\n# serve the host's commands until it writes agent/stop\n"
             "exec nice -n -10 /usr/local/bin/rig-agent\n")
JOB_NEVER_ENDED = 99
KEEP_RUNS = 8


class GuestError(RuntimeError):
    """The guest died, or did not answer in time; the message ends with the console's last lines."""


@dataclass(frozen=True)
class ShellResult:
    rc: int
    out: str
    err: str
    t_start: float  # guest wall clock when the agent started the command
    t_end: float
    uptime_start: float

    @property
    def duration_s(self) -> float:
        return self.t_end - self.t_start


@dataclass
class Timings:
    qemu_start: float = 0.0
    ready: float | None = None  # the agent (or the job) started: the boot is done
    qemu_end: float | None = None
    commands: list[tuple[str, float]] = field(default_factory=list)

    @property
    def boot_s(self) -> float | None:
        return None if self.ready is None else self.ready - self.qemu_start

    @property
    def wall_s(self) -> float | None:
        return None if self.qemu_end is None else self.qemu_end - self.qemu_start


def new_run_dir(label: str = "run") -> Path:
    runs = RIG_DIR / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    old = sorted(runs.iterdir(), key=lambda p: p.stat().st_mtime)
    for stale in old[:-KEEP_RUNS] if len(old) > KEEP_RUNS else []:
        shutil.rmtree(stale, ignore_errors=True)
    run = runs / f"{time.strftime('%Y%m%d-%H%M%S')}-{label}-{os.getpid()}"
    run.mkdir()
    return run


class Guest:
    def __init__(self, run: Path, image: Path | None = None, server: Server = SERVER, accel: str = "tcg",
                 timeout_s: float = 1800, append: str = "", reboot: bool = False, extra: tuple[str, ...] = ()):
        self.run = Path(run)
        self.share = self.run / "share"
        self.agent = self.share / "agent"
        self.image = Path(image) if image else RIG_DIR / "image"
        self.server = server
        self.accel = accel
        self.timeout_s = timeout_s
        self.append = append
        self.reboot, self.extra = reboot, tuple(extra)  # see qemu_argv: boots again on a reset; more devices
        self.timings = Timings()
        self.process: subprocess.Popen | None = None
        self._seq = 0
        self.qmp_socket = str(self.run / "qmp.sock")

    # -- lifecycle ---------------------------------------------------------------------------------------
    def argv(self, console: str = "file") -> list[str]:
        return qemu_argv(self.server, self.run, self.image, accel=self.accel, append=self.append, console=console,
                         reboot=self.reboot, extra=self.extra)

    def start(self, job: str) -> "Guest":
        """Boot with `job` (a bash script's text) as the guest's job."""
        for name in ("rootfs.img", "vmlinuz", "initrd.img"):
            if not (self.image / name).exists():
                raise GuestError(f"no guest image: {self.image / name} is missing (run scripts/rig/build-guest)")
        (self.share / "out").mkdir(parents=True, exist_ok=True)
        self.agent.mkdir(exist_ok=True)
        (self.share / "job.sh").write_text(job)
        # The rig's burnin profiles travel with every boot (the guest reads them from /mnt/rig/profiles).
        shutil.copytree(PROFILES, self.share / "profiles", dirs_exist_ok=True)
        argv = self.argv()
        (self.run / "qemu.argv").write_text(" ".join(argv) + "\n")
        self.timings.qemu_start = time.time()
        with open(self.run / "qemu.log", "wb") as log:
            # The guest must never outlive the tests: QEMU gets its own process group, killed by kill()/wait().
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def console_tail(self, lines: int = 30) -> str:
        try:
            text = (self.run / "console.log").read_text(errors="replace")
        except OSError:
            return "(no console log)"
        qemu = ""
        try:
            qemu = (self.run / "qemu.log").read_text(errors="replace").strip()
        except OSError:
            pass
        return "\n".join(text.splitlines()[-lines:]) + (f"\nqemu: {qemu}" if qemu else "")

    def wait_for(self, path: Path, timeout_s: float, poll_s: float = 0.1) -> None:
        deadline = time.monotonic() + timeout_s
        while not path.exists():
            if not self.alive:
                raise GuestError(f"the guest stopped while waiting for {path.name}:\n{self.console_tail()}")
            if time.monotonic() > deadline:
                raise GuestError(f"no {path.name} after {timeout_s:.0f} s:\n{self.console_tail()}")
            time.sleep(poll_s)

    def wait_ready(self, timeout_s: float = 600) -> float:
        """Wait until the agent serves; returns the boot time in seconds (QEMU start to agent start)."""
        self.wait_for(self.agent / "ready", timeout_s)
        self.timings.ready = time.time()
        return self.timings.ready - self.timings.qemu_start

    def stop(self, rc: int = 0) -> None:
        """Tell the agent to end the job (and so power the guest off)."""
        (self.agent / "stop.tmp").write_text(f"{rc}\n")
        os.rename(self.agent / "stop.tmp", self.agent / "stop")

    def wait(self, timeout_s: float | None = None) -> int:
        """Wait for QEMU to exit; the job's exit status, or 99 when the job never finished (a panic, a hang)."""
        assert self.process is not None
        try:
            self.process.wait(timeout=timeout_s if timeout_s is not None else self.timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
        if self.timings.qemu_end is None:
            self.timings.qemu_end = time.time()
        rc_file = self.share / "job.rc"
        return int(rc_file.read_text().strip()) if rc_file.exists() else JOB_NEVER_ENDED

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, 9)
            except ProcessLookupError:
                pass
            self.process.wait()
        if self.timings.qemu_end is None:
            self.timings.qemu_end = time.time()

    def __enter__(self) -> "Guest":
        return self

    def __exit__(self, *exc) -> None:
        if self.alive:
            try:
                self.stop()
                self.process.wait(timeout=60)
            except Exception:  # noqa: BLE001 - whatever happened, the guest must go
                pass
        self.kill()

    # -- talking to the guest ----------------------------------------------------------------------------
    def send(self, script: str) -> str:
        """Queue a bash script for the agent; returns its name for result()."""
        self._seq += 1
        name = f"{self._seq:04d}"
        tmp = self.agent / f"{name}.tmp"
        tmp.write_text(script if script.endswith("\n") else script + "\n")
        os.rename(tmp, self.agent / f"{name}.cmd")
        return name

    def result(self, name: str, timeout_s: float = 300) -> ShellResult:
        self.wait_for(self.agent / f"{name}.done", timeout_s)
        done = json.loads((self.agent / f"{name}.done").read_text())
        out = (self.agent / f"{name}.out").read_text(errors="replace")
        err = (self.agent / f"{name}.err").read_text(errors="replace")
        self.timings.commands.append((name, done["t_end"] - done["t_start"]))
        return ShellResult(done["rc"], out, err, done["t_start"], done["t_end"], done["uptime_start"])

    def sh(self, script: str, timeout_s: float = 300, check: bool = False) -> ShellResult:
        """Run a bash script in the guest as root and wait for it."""
        result = self.result(self.send(script), timeout_s)
        if check and result.rc != 0:
            raise GuestError(f"guest command failed (rc {result.rc}): {script.strip()}\n{result.out}{result.err}")
        return result

    def qmp(self, command: str, **arguments) -> object:
        return qmp_client.qmp(self.qmp_socket, command, arguments or None)

    def hmp(self, command_line: str) -> str:
        return qmp_client.hmp(self.qmp_socket, command_line)
