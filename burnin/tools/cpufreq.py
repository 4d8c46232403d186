"""CPU frequency limits (cpufreq `scaling_max_freq`, intel_pstate `max_perf_pct`), changed with a crash-proof restore.

The cpu module's corner test moves the CPUs' clock ceiling between its minimum and its maximum every few seconds
while the kernels run (faults show at particular clocks). Every file is written through the host's root path, and
its original value goes into a small JSON ledger under /run/burnin (as `burnin.tools.netns` does for network
namespaces) BEFORE the first write: `FreqLedger.restore()` puts everything back at the end, and `recover()` - run
when the cpu module starts - restores what a run killed with SIGKILL left behind (its process is gone).
The adapter only reads and writes; the module decides when.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from burnin.files import write_atomically
from burnin.host import Host
from burnin.tools.netns import _owner_alive, _process_start, state_dir

LEDGER_GLOB = "cpufreq-*.json"
PSTATE = "/sys/devices/system/cpu/intel_pstate"


@dataclass(frozen=True)
class Limit:
    """One file that bounds a clock, and the two values the cycle moves it between."""

    path: str  # host path
    low: int
    high: int


def policy_dirs(host: Host) -> list[str]:
    return host.glob("/sys/devices/system/cpu/cpufreq", "policy[0-9]*")


def cycle_limits(host: Host) -> tuple[list[Limit], str | None]:
    """The files the cycle would move, or why there are none. intel_pstate in active mode: max_perf_pct between
    min_perf_pct and 100; otherwise each policy's scaling_max_freq between cpuinfo_min_freq and cpuinfo_max_freq."""
    limits: list[Limit] = []
    status = (host.read_text(f"{PSTATE}/status") or "").strip()
    if status == "active" and host.read_int(f"{PSTATE}/max_perf_pct") is not None:
        low = host.read_int(f"{PSTATE}/min_perf_pct") or 0
        limits.append(Limit(f"{PSTATE}/max_perf_pct", max(low, 1), 100))
    for policy in policy_dirs(host):
        low, high = host.read_int(f"{policy}/cpuinfo_min_freq"), host.read_int(f"{policy}/cpuinfo_max_freq")
        if low and high and high > low and host.read_int(f"{policy}/scaling_max_freq") is not None:
            limits.append(Limit(f"{policy}/scaling_max_freq", low, high))
    if not limits:
        return [], "no cpufreq policies with a writable clock limit (a VM, or no cpufreq driver)"
    return limits, None


def write_value(host: Host, path: str, value: int | str) -> None:
    with open(host.path(path), "w") as f:
        f.write(f"{value}\n")


class FreqLedger:
    """The original value of every limit this process changes, on disk before the first change."""

    def __init__(self, host: Host, directory: str | os.PathLike | None = None):
        self.host = host
        self.pid = os.getpid()
        self.start = _process_start(Host("/"), self.pid)
        self.path = state_dir(directory) / f"cpufreq-{self.pid}-{self.start or 0}.json"
        self.original: dict[str, str] = {}

    def set(self, path: str, value: int) -> None:
        if path not in self.original:
            current = self.host.read_text(path)
            if current is None:
                raise OSError(f"{path} cannot be read")
            self.original[path] = current.strip()
            self.save()
        write_value(self.host, path, value)

    def save(self) -> None:
        data = {"pid": self.pid, "start": self.start, "root": str(self.host.root), "written": time.time(),
                "original": self.original}
        write_atomically(self.path, json.dumps(data, indent=1), durable=True)

    def restore(self) -> list[str]:
        """Every changed file back to its original value; what could not be restored (empty: all)."""
        problems = restore_values(self.host, self.original)
        if not problems:
            self.path.unlink(missing_ok=True)
        return problems


def restore_values(host: Host, original: dict[str, str]) -> list[str]:
    problems = []
    # the ceiling of intel_pstate first, then the policies: a max below the min is refused by the kernel
    for path, value in sorted(original.items(), key=lambda item: "max_perf_pct" not in item[0]):
        try:
            write_value(host, path, value)
        except OSError as exc:
            problems.append(f"{path}: {value} not restored ({exc.strerror or exc})")
    return problems


def recover(host: Host, directory: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Restore the limits of earlier runs that died (their process is gone) for this host's root."""
    done = []
    for path in sorted(Path(state_dir(directory)).glob(LEDGER_GLOB)):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            done.append({"ledger": str(path), "problems": ["unreadable ledger, left in place"]})
            continue
        if data.get("root") != str(host.root) or _owner_alive(Host("/"), data.get("pid"), data.get("start")):
            continue
        problems = restore_values(host, dict(data.get("original") or {}))
        done.append({"ledger": str(path), "restored": sorted(data.get("original") or {}), "problems": problems})
        if not problems:
            path.unlink(missing_ok=True)
    return done


class FreqCycler:
    """Moves every limit between its low and high value every `period_s` seconds (call `tick()` often)."""

    def __init__(self, host: Host, limits: Sequence[Limit], period_s: float,
                 directory: str | os.PathLike | None = None):
        self.limits = list(limits)
        self.period_s = period_s
        self.ledger = FreqLedger(host, directory)
        self.high = True
        self.next_switch = time.monotonic() + period_s
        self.switches = 0

    def tick(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if now < self.next_switch:
            return False
        self.high = not self.high
        for limit in sorted(self.limits, key=lambda lim: "max_perf_pct" not in lim.path):
            self.ledger.set(limit.path, limit.high if self.high else limit.low)
        self.switches += 1
        self.next_switch = now + self.period_s
        return True

    def restore(self) -> list[str]:
        return self.ledger.restore()
