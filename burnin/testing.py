"""Helpers for testing modules in-process: a context that records what a phase emitted."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, TypeVar

from burnin.host import Host
from burnin.model import Finding, Severity
from burnin.module import Module, ModuleContext


T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float = 10.0, what: str = "the condition") -> T:
    """Wait until `condition()` is true, polling briefly; its value, or AssertionError after `timeout` seconds.

    Tests wait on what they need (a file written, a thread started, a process gone), never a fixed time: a fixed
    sleep is either too short on a loaded machine or wasted on an idle one."""
    end = time.monotonic() + timeout
    delay = 0.005
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= end:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


class RecordingContext(ModuleContext):
    """A ModuleContext that keeps samples, findings, notes and commands in lists."""

    def __init__(
        self,
        module: str,
        host: Host,
        phase: str = "check",
        seconds: float = 5.0,
        cancel: threading.Event | None = None,
        inventory=None,
        claims=None,
    ):
        super().__init__(module, host, phase, time.monotonic() + seconds, cancel or threading.Event(), inventory,
                         claims)
        self.samples: list[dict[str, float]] = []
        self.findings: list[Finding] = []
        self.notes: list[dict[str, Any]] = []
        self.commands: list[dict[str, Any]] = []

    def _emit(self, kind: str, payload: dict[str, Any]) -> None:
        if kind == "sample":
            self.samples.append(payload["metrics"])
        elif kind == "finding":
            self.findings.append(Finding.from_record(payload))
        elif kind == "note":
            self.notes.append(payload)
        elif kind == "command":
            self.commands.append(payload)

    def codes(self, severity: Severity | str | None = None) -> list[str]:
        wanted = Severity(severity) if severity else None
        return [f.code for f in self.findings if wanted is None or f.severity is wanted]


def run_phases(module: Module, phases=("check", "run", "finish"), seconds: float = 5.0, inventory=None,
               claims=None) -> RecordingContext:
    """Run the phases a module implements, in order, on one recording context (as the runner would)."""
    ctx = RecordingContext(module.name, module.host, seconds=seconds, inventory=inventory, claims=claims)
    for phase in phases:
        if type(module).implements(phase):
            ctx.phase = phase
            ctx.deadline = time.monotonic() + seconds
            getattr(module, phase)(ctx)
    return ctx
