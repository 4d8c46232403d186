"""One worker pool: Python worker processes (forked, optionally pinned), their result pipes, and how each ended.

The module passes in the worker function; the pool calls it in each worker process as
``target(*args, stop, conn)``: `stop` is an event the worker checks between steps of its work, `conn` the pipe
it sends its messages through (tuples whose second item is the worker's key, by convention). Before the target
runs, the worker is tied to the module process (it dies with it), ignores SIGINT (the pool stops it, not the
terminal) and, when the pool was given CPUs for it, is pinned to them; a worker that cannot be pinned sends
``("error", key, text, traceback)`` and exits 1.

The pool is a `Load`: `poll()` collects the workers' messages and, for each worker that ended, an
``("exit", key, exitcode, asked)`` message after its last words (`asked`: the pool had been asked to stop when
the end was seen, so the worker ended as asked, or was killed after the grace); `events()` hands them to the
module.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import time
import traceback
from collections import Counter
from typing import Any, Callable, Hashable, Iterable, Mapping

from burnin.host import die_with_parent


def _bootstrap(target: Callable[..., None], key: Hashable, cpus: frozenset[int] | None, args: tuple, stop,
               conn) -> None:
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the pool stops its workers itself
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if cpus:
        try:
            os.sched_setaffinity(0, cpus)
        except OSError as exc:
            conn.send(("error", key, f"{type(exc).__name__}: {exc}", traceback.format_exc()[-1500:]))
            raise SystemExit(1)
    target(*args, stop, conn)


class WorkerPool:
    """Worker processes running `target`, one per key of `workers` (key -> the target's arguments)."""

    def __init__(self, name: str, target: Callable[..., None], workers: Mapping[Hashable, tuple], *,
                 cpus: Mapping[Hashable, Iterable[int]] | None = None):
        self.name = name
        self._target = target
        self._args = {key: tuple(args) for key, args in workers.items()}
        self._cpus = {key: frozenset(c) for key, c in (cpus or {}).items() if c}
        self._mp = multiprocessing.get_context("fork")
        self._stop = self._mp.Event()
        self.procs: dict[Hashable, Any] = {}
        self._conns: dict[Hashable, multiprocessing.connection.Connection] = {}
        self._events: list[tuple] = []
        self.starts: Counter = Counter()  # how often each worker was started
        self.stopping = False  # the pool was asked to stop: workers ending now end as asked

    # -- the Load protocol -------------------------------------------------------------------------------
    def start(self) -> None:
        for key in self._args:
            self.start_worker(key)

    def start_worker(self, key: Hashable) -> None:
        """Start (or restart) one worker."""
        reader, writer = self._mp.Pipe(duplex=False)
        proc = self._mp.Process(target=_bootstrap, name=f"burnin-{self.name}-{key}", daemon=True,
                                args=(self._target, key, self._cpus.get(key), self._args[key], self._stop, writer))
        proc.start()
        writer.close()
        self.procs[key] = proc
        self._conns[key] = reader
        self.starts[key] += 1

    def poll(self, timeout: float) -> bool:
        """Wait up to `timeout` for a message or an exit; collect what arrived. True while any worker runs."""
        waitables = list(self._conns.values()) + [p.sentinel for p in self.procs.values()]
        if waitables and timeout > 0:
            multiprocessing.connection.wait(waitables, timeout=timeout)
        elif timeout > 0:
            time.sleep(timeout)  # nothing to wait on: keep the caller's pace
        for key in list(self._conns):
            self._drain(key)
        for key, proc in list(self.procs.items()):
            if proc.exitcode is None and proc.is_alive():
                continue
            proc.join(0.5)
            self._drain(key)
            self._events.append(("exit", key, proc.exitcode, self.stopping))
            del self.procs[key]
            conn = self._conns.pop(key, None)
            if conn is not None:
                conn.close()
        return bool(self.procs)

    def events(self) -> list[tuple]:
        """The messages collected since the last call, in arrival order per worker."""
        out, self._events = self._events, []
        return out

    def metrics(self) -> Mapping[str, float]:
        return {}  # what the workers did arrives as messages; the module counts them

    def stop(self) -> None:
        self.poll(0.0)  # workers that died before the request died on their own: their exits say so
        self.stopping = True
        self._stop.set()

    def kill(self) -> None:
        for proc in self.procs.values():
            proc.kill()
        for proc in self.procs.values():
            proc.join(1.0)

    def close(self) -> None:
        self.poll(0.0)
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()

    # -- helpers ---------------------------------------------------------------------------------------
    def _drain(self, key: Hashable) -> None:
        conn = self._conns.get(key)
        while conn is not None:
            try:
                if not conn.poll():
                    break
                self._events.append(conn.recv())
            except (EOFError, OSError):
                self._conns.pop(key, None)
                conn.close()
                break
