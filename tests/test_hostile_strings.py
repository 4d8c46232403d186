"""Strings the seller controls (DMI, hwmon labels, thermal zones) reach a terminal shown, never obeyed.

A captured tree (the procfs capture and the dual-socket-hot hwmon capture, tests/data) gets hostile strings in
every hardware string it holds: a window retitle and a clear-screen (`ESC ] 0 ; pwned BEL ESC [ 2 J`), colour codes,
a C1 CSI, a bidi override, HTML, and 10 kB strings. `check`, `inventory`, `report` and `compare` then run under
a real pseudo-terminal, as a buyer would see them.
"""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from burnin.report.terminal import block, field, is_safe
from burnin.report.text import _COLOUR, _RESET

DATA = Path(__file__).parent / "data"
HOSTILE = "Dell\033]0;pwned\007\033[2J\033[31mRED\x9b2J\u202eevil<script>alert(1)</script>"
LONG = "A" * 10_000


def _hostile_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(DATA / "sysfs" / "procfs", tree, symlinks=True)
    shutil.copytree(DATA / "thermal" / "dual-socket-hot", tree, symlinks=True, dirs_exist_ok=True)
    dmi = tree / "sys/class/dmi/id"
    for path in dmi.iterdir():
        if path.name not in ("uevent", "modalias"):
            path.write_text(LONG + "\n" if path.name == "product_name" else HOSTILE + "\n")
    for label in tree.glob("sys/devices/platform/*/hwmon/hwmon*/*_label"):
        label.write_text(HOSTILE + "\n")
    for name in tree.glob("sys/devices/platform/*/hwmon/hwmon*/name"):
        name.write_text("coretemp\033[2J\n")
    (tree / "sys/class/thermal/thermal_zone0/type").write_text(HOSTILE + "\n")
    return tree


def _in_pty(args: list[str], cwd: Path, timeout_s: float = 120.0) -> tuple[int, bytes]:
    """Run `burnin ARGS` with a pseudo-terminal as stdin, stdout and stderr; everything it wrote, and its exit."""
    master, slave = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "25"}
    proc = subprocess.Popen([sys.executable, "-m", "burnin", *args], stdin=slave, stdout=slave, stderr=slave,
                            cwd=cwd, env=env, start_new_session=True)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        return proc.wait(timeout=max(1.0, deadline - time.monotonic())), bytes(out)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
        os.close(master)


def _assert_nothing_obeyed(out: bytes) -> str:
    """The terminal output with burnin's own colours of the verdict box taken out, checked for the seller's
    sequences."""
    text = out.decode("utf-8", errors="replace").replace("\r\n", "\n")
    for own in (*_COLOUR.values(), _RESET):
        text = text.replace(own, "")
    assert "\x07" not in text, "a BEL reached the terminal"
    assert "\x1b]" not in text, "an OSC (window title) sequence reached the terminal"
    assert "\x1b[2J" not in text, "a clear-screen reached the terminal"
    assert "\x9b" not in text, "a C1 CSI reached the terminal"
    assert "\u202e" not in text, "a bidi override reached the terminal"
    return text


def test_field_shows_controls_escaped_and_bounds_long_strings():
    shown = field(HOSTILE)
    assert is_safe(shown) and "\n" not in field("a\nb")
    assert shown.startswith("Dell\\x1b]0;pwned\\x07\\x1b[2J")
    assert "\\x9b" in shown and "\\u202e" in shown
    long = field(LONG)
    assert len(long) < 250 and long.endswith("...(+9800 chars)")
    assert block("a\n\tb\x1b") == "a\n\tb\\x1b"


def test_plain_check_inventory_report_and_compare_show_hostile_strings_escaped(tmp_path):
    tree = _hostile_tree(tmp_path)
    journal = tmp_path / "run.jsonl"
    code, out = _in_pty(["check", "--profile", "ci", "--plain", "--sysroot", str(tree), "--only", "inventory,thermal",
                         "--journal", str(journal)], tmp_path)
    text = _assert_nothing_obeyed(out)
    assert code in (0, 1, 3), text[-2000:]
    assert not any(c in text for c in "\x1b\x00\x08\x0b\x0c\x7f"), "plain output holds a raw control character"
    assert "Dell\\x1b]0;pwned\\x07\\x1b[2J" in text  # the buyer sees what the seller wrote
    assert "VERDICT:" in text
    assert "Traceback" not in text
    assert max(map(len, text.splitlines())) < 1000  # the 10 kB product name is cut

    # The journal keeps the strings as they were (JSON escapes them); the HTML escapes its own way.
    start = json.loads(journal.read_text().splitlines()[0])
    assert start["host"]["system_vendor"].startswith("Dell\x1b]0;pwned\x07")

    for args in (["inventory", "--sysroot", str(tree)], ["report", str(journal)],
                 ["compare", str(journal), str(journal)],
                 ["report", str(journal), "--html", str(tmp_path / "r.html")]):
        code, out = _in_pty(args, tmp_path)
        text = _assert_nothing_obeyed(out)
        assert "Traceback" not in text, (args, text[-2000:])
        assert not any(c in text for c in "\x1b\x00\x08\x7f"), (args, "raw control character")
        assert "\\x1b" in text or args[0] == "compare", args
        if args[0] == "inventory":
            assert "...(+" in text  # the 10 kB product version is cut
            assert max(map(len, text.splitlines())) < 500

    html = (tmp_path / "r.html").read_text()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_dashboard_on_a_terminal_shows_hostile_strings_escaped(tmp_path):
    tree = _hostile_tree(tmp_path)
    code, out = _in_pty(["check", "--profile", "quick", "--sysroot", str(tree), "--only", "inventory,thermal",
                         "--journal", str(tmp_path / "dash.jsonl")], tmp_path)
    text = _assert_nothing_obeyed(out)  # rich draws with its own sequences; none of the seller's get through
    assert "Traceback" not in text
    assert "Dell\\x1b]0;pwned" in text
