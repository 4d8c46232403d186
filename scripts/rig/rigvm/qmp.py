"""A small QMP client (standard library only) for driving a running rig guest: fault injection and device
hot-plug. Usage as a program:

    python3 -m rigvm.qmp RUN/qmp.sock set_link '{"name": "nic0", "up": false}'
    python3 -m rigvm.qmp RUN/qmp.sock human-monitor-command '{"command-line": "mce 0 1 0x9400000000000090 0 0x7e000000 0"}'
"""

from __future__ import annotations

import json
import socket
import sys
from typing import Any


class QmpError(RuntimeError):
    """QEMU answered a command with an error."""


def qmp(sock_path: str, command: str, arguments: dict[str, Any] | None = None, timeout_s: float = 30.0) -> Any:
    """Run one command on a fresh connection and return its "return" value (events on the way are skipped)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        sock.connect(sock_path)
        stream = sock.makefile("rw")
        json.loads(stream.readline())  # the greeting
        result = None
        for name, args in (("qmp_capabilities", None), (command, arguments)):
            message: dict[str, Any] = {"execute": name}
            if args is not None:
                message["arguments"] = args
            stream.write(json.dumps(message) + "\n")
            stream.flush()
            while True:
                line = stream.readline()
                if not line:
                    raise QmpError(f"QEMU closed the QMP connection during {name}")
                reply = json.loads(line)
                if "event" not in reply:
                    break
            if "error" in reply:
                raise QmpError(f"{name}: {reply['error'].get('class')}: {reply['error'].get('desc')}")
            result = reply.get("return")
        return result


def hmp(sock_path: str, command_line: str) -> str:
    """A human-monitor command (e.g. "mce ..."); QEMU returns its text output, "" on success."""
    return qmp(sock_path, "human-monitor-command", {"command-line": command_line}) or ""


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    args = json.loads(argv[2]) if len(argv) > 2 else None
    print(json.dumps(qmp(argv[0], argv[1], args)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
