"""A Python thread as a load: work done in the module's own process (a disk read scan, a write-verify job).

The thread checks its stop event between steps of its work. `stop()` sets the event; a thread cannot be killed,
so `kill()` only records that it did not stop within the grace (`stuck`): a read stuck inside the kernel on a
dying disk ends when the kernel gives up, or with the module's process, which the runner kills when the module
does not stop in time.
"""

from __future__ import annotations

import threading
from typing import Callable, Mapping


class ThreadLoad:
    """`thread` (not yet started) as a `Load`; `stop_event` is the event its work checks."""

    def __init__(self, name: str, thread: threading.Thread, stop_event: threading.Event,
                 metrics: Callable[[], Mapping[str, float]] | None = None):
        self.name = name
        self.thread = thread
        self.stop_event = stop_event
        self._metrics = metrics
        self.stuck = False  # still running after the grace

    def start(self) -> None:
        self.thread.start()

    def poll(self, timeout: float) -> bool:
        if self.thread.ident is None:  # never started
            return False
        self.thread.join(max(0.0, timeout))
        return self.thread.is_alive()

    def metrics(self) -> Mapping[str, float]:
        return dict(self._metrics()) if self._metrics is not None else {}

    def stop(self) -> None:
        self.stop_event.set()

    def kill(self) -> None:
        self.stuck = self.thread.is_alive()

    def close(self) -> None:
        self.stop_event.set()
