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
