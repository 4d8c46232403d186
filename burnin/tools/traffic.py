"""A TCP sender/receiver pair for the network module's port-pair test: `python -m burnin.tools.traffic`.

Runs inside a network namespace (`ip netns exec NS python -m burnin.tools.traffic ...`), so it is a small
program of its own rather than a function: Python 3.11 has no os.setns, and a namespace switch belongs to one
process anyway.

    receive --bind ADDR --port P --streams N --seconds S    listen, count bytes until the senders close
    send    --to ADDR   --port P --streams N --seconds S    push bytes for S seconds

Each prints JSON lines on stdout: {"event": "ready"} once the receiver listens, and one {"event": "result", ...}
at the end with bytes moved, seconds, and the CPU seconds the process used (to tell a slow link from a slow CPU).
The sender uses sendfile() from an in-memory file (the kernel sends the same pages again and again, no copy
through Python); the receiver discards data in the kernel (recv with MSG_TRUNC, which TCP supports), so both
ends spend their time in the network stack and the driver, like iperf3 does. Adapters never judge.

The end of this file is the adapter: `worker_argv` and the argument builders, `parse_output`, and `PairLoad`, a
pair's four workers run as one `burnin.load` load (receivers first; the senders once both said "ready").
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import socket
import sys
import threading
import time

CHUNK_BYTES = 4 << 20  # bytes handed to the kernel per sendfile() call
RECV_BYTES = 1 << 20
ACCEPT_GRACE_S = 10.0  # how long a sender keeps trying to connect; a receiver's default wait for its senders
EXTRA_S = 10.0  # how long past --seconds a receiver waits for its senders to finish


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _emit(event: str, **fields) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def _payload_fd() -> int:
    """An in-memory file of pseudo-random bytes (incompressible, not all zeros) to sendfile() from."""
    fd = os.memfd_create("burnin-traffic")
    block = os.urandom(1 << 16)
    for _ in range(CHUNK_BYTES // len(block)):
        os.write(fd, block)
    return fd


def send(to: str, port: int, streams: int, seconds: float) -> dict:
    fd = _payload_fd()
    sockets = []
    deadline_connect = time.monotonic() + ACCEPT_GRACE_S
    for _ in range(streams):
        while True:
            try:
                sockets.append(socket.create_connection((to, port), timeout=2.0))
                break
            except OSError:
                if time.monotonic() > deadline_connect:
                    raise
                time.sleep(0.1)
    counts = [0] * streams
    start = time.monotonic()
    stop_at = start + seconds

    def pump(index: int, sock: socket.socket) -> None:
        sock.settimeout(None)
        out = sock.fileno()
        sent = 0
        while time.monotonic() < stop_at:
            try:
                n = os.sendfile(out, fd, 0, CHUNK_BYTES)
            except (BrokenPipeError, ConnectionResetError):
                break
            if n <= 0:
                break
            sent += n
            counts[index] = sent
        sock.close()

    threads = [threading.Thread(target=pump, args=(i, s), daemon=True) for i, s in enumerate(sockets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    return {"role": "send", "bytes": sum(counts), "seconds": elapsed, "streams": streams, "cpu_s": _cpu_s()}


def receive(bind: str, port: int, streams: int, seconds: float, accept_s: float = ACCEPT_GRACE_S) -> dict:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((bind, port))
    server.listen(streams)
    _emit("ready", bind=bind, port=port)
    server.settimeout(accept_s)
    counts = [0] * streams
    marks: list[float] = []  # monotonic times of the first byte and of each stream's end
    lock = threading.Lock()

    def drain(index: int, conn: socket.socket) -> None:
        buf = bytearray(RECV_BYTES)
        got = 0
        first = True
        while True:
            try:
                n = conn.recv_into(buf, RECV_BYTES, socket.MSG_TRUNC)
            except (ConnectionResetError, TimeoutError, OSError):
                break
            if n <= 0:
                break
            if first:
                first = False
                with lock:
                    marks.append(time.monotonic())
            got += n
            counts[index] = got
        with lock:
            marks.append(time.monotonic())
        conn.close()

    threads = []
    for index in range(streams):
        try:
            conn, _ = server.accept()
        except (TimeoutError, OSError):
            break
        conn.settimeout(seconds + EXTRA_S)
        t = threading.Thread(target=drain, args=(index, conn), daemon=True)
        t.start()
        threads.append(t)
    server.close()
    for t in threads:
        t.join(seconds + EXTRA_S)
    elapsed = (max(marks) - min(marks)) if len(marks) >= 2 else 0.0
    return {"role": "receive", "bytes": sum(counts), "seconds": elapsed, "streams": len(threads), "cpu_s": _cpu_s()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m burnin.tools.traffic", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="role", required=True)
    for role, where in (("send", "--to"), ("receive", "--bind")):
        p = sub.add_parser(role)
        p.add_argument(where, required=True, dest="address")
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--streams", type=int, default=1)
        p.add_argument("--seconds", type=float, required=True)
        if role == "receive":
            # Senders start only once both receivers are ready: on a slow machine that takes a while.
            p.add_argument("--accept-s", type=float, default=ACCEPT_GRACE_S, dest="accept_s",
                           help="how long to wait for the senders to connect")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(143))
    try:
        if args.role == "send":
            result = send(args.address, args.port, max(1, args.streams), args.seconds)
        else:
            result = receive(args.address, args.port, max(1, args.streams), args.seconds, args.accept_s)
    except OSError as exc:
        _emit("error", role=args.role, error=f"{type(exc).__name__}: {exc}")
        return 1
    _emit("result", **result)
    return 0


if __name__ == "__main__":
    sys.exit(main())


# -- the adapter: how the network module runs a pair's four workers as one load ---------------------------
# (burnin is imported lazily: the worker itself runs with -I -S, without burnin on its path)
ROLES = ("recv_b", "recv_a", "send_a", "send_b")  # "recv_b" receives on port b what port a sends


def worker_argv(*args: str, nice: bool = False) -> list[str]:
    """The worker, started without site-packages (-I -S: less to import on a slow or busy machine), and when
    `nice` ahead of the stress modules' load (nice -5, root only): the link is under test, not the scheduler."""
    python = [sys.executable, "-I", "-S", os.path.abspath(__file__), *args]
    return ["nice", "-n", "-5", *python] if nice else python


def receive_args(bind: str, port: int, streams: int, seconds: float, accept_s: float) -> list[str]:
    return ["receive", "--bind", bind, "--port", str(port), "--streams", str(streams), "--seconds",
            f"{seconds:.1f}", "--accept-s", f"{accept_s:.1f}"]


def send_args(to: str, port: int, streams: int, seconds: float) -> list[str]:
    return ["send", "--to", to, "--port", str(port), "--streams", str(streams), "--seconds", f"{seconds:.1f}"]


def parse_output(text: str) -> dict:
    """The last "result" (or "error") JSON line a worker printed."""
    found: dict = {}
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") in ("result", "error"):
            found = record
    return found


def parse_ended(ended) -> dict:
    """A worker's end (`burnin.load.Ended`): its result or error record, else the tail of what it said."""
    err = (ended.stderr or ended.spawn_error or "").strip()
    return parse_output(ended.stdout) or ({"error": err[-300:]} if err else {})


class PairLoad:
    """One port pair's traffic test as a `burnin.load.Load`: both receivers start, and once each said "ready"
    (within `ready_s` of the previous one) both senders start. A receiver that ends or stays silent instead
    leaves the pair untested (`error`), and its other workers are stopped at once."""

    def __init__(self, host, name: str, argv: dict[str, list[str]], ready_s: float):
        from burnin.load import Program, ProgramLoad

        self.name = name
        self.ready_s = ready_s
        self.loads = {role: ProgramLoad(host, Program(f"{name} {role}", argv[role], parse=parse_ended,
                                                      progress=self._progress_of(role)))
                      for role in ROLES}
        self.ready: set[str] = set()
        self.error: str | None = None  # why the test could not start
        self.failed_role: str | None = None
        self._phase = "new"  # new -> waiting (receivers) -> running (senders too) | failed
        self._deadline = 0.0
        self._ready_seen = 0
        self._closed = False

    def _progress_of(self, role: str):
        def progress(lines):
            if any('"ready"' in line for line in lines):
                self.ready.add(role)
            return None
        return progress

    def _receivers(self) -> list:
        return [self.loads["recv_b"], self.loads["recv_a"]]

    def _started(self) -> list:
        return [load for role, load in self.loads.items() if role.startswith("recv") or self._phase == "running"]

    # -- the Load protocol -------------------------------------------------------------------------------
    def start(self) -> None:
        for load in self._receivers():
            load.start()
        self._phase = "waiting"
        self._deadline = time.monotonic() + self.ready_s

    def poll(self, timeout: float) -> bool:
        if self._phase == "waiting":
            self._wait_ready(timeout)
            timeout = 0.0
        running = False
        for load in self._started():
            if load.poll(0.0 if running else timeout):
                running = True
        return running

    def _wait_ready(self, timeout: float) -> None:
        give_up = time.monotonic() + timeout
        while True:
            if len(self.ready) > self._ready_seen:  # each receiver gets `ready_s` after the one before it
                self._ready_seen = len(self.ready)
                self._deadline = time.monotonic() + self.ready_s
            for role in ("recv_b", "recv_a"):
                load = self.loads[role]
                alive = load.poll(0.0)
                if role in self.ready:
                    continue
                if not alive or time.monotonic() > self._deadline:
                    end = load.ended()
                    said = (end.stdout + end.stderr + (end.spawn_error or "")).strip()
                    self.error = said[-300:] if not alive and said else f"no answer in {self.ready_s:g} s"
                    self.failed_role = role
                    self._phase = "failed"
                    for other in self._receivers():
                        other.kill()
                    return
            if len(self.ready) == 2:
                for role in ("send_a", "send_b"):
                    self.loads[role].start()
                self._phase = "running"
                return
            left = give_up - time.monotonic()
            if left <= 0:
                return
            self.loads["recv_a" if "recv_b" in self.ready else "recv_b"].poll(min(0.05, left))

    def metrics(self) -> dict:
        return {}  # the module measures the ports' own counters

    def stop(self) -> None:
        for load in self._started():
            load.stop()

    def kill(self) -> None:
        for load in self._started():
            load.kill()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for load in self._started():
            load.close()

    # -- the end ---------------------------------------------------------------------------------------
    @property
    def interrupted(self) -> bool:
        """Stopped or killed before every worker ended by itself."""
        return any(load.interrupted or load.killed for load in self._started())

    def results(self) -> dict[str, dict]:
        """role -> the worker's result record (empty for a worker that never ran or said nothing)."""
        return {role: (load.outcome if load.proc is not None or load.spawn_error else {})
                for role, load in self.loads.items()}
