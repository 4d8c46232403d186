"""The live dashboard and the end of a run in a real pseudo-terminal: 80x25 with TERM=linux, as on a server's text
console, and a 160x48 terminal emulator. Screens are kept as artefacts (tests/screens.py says where)."""

import re
import shutil
import sys
import time

import pytest

from burnin.model import Finding, Severity
from burnin.report.dashboard import ASCII, UNICODE, State, ascii_terminal, fit, frame, headline
from plugin_site import install_plugin
from screens import Tmux, save_terminal

PLUGIN = '''
from burnin.module import Module

class Hot(Module):
    name = "hot"
    summary = "a sensor that runs hot"

    def check(self, ctx):
        ctx.fail("sensor:coretemp/Package id 0", "temp-critical", "Package id 0 reached 101 C (critical 100 C)")

    def run(self, ctx):
        while not ctx.wait(0.5):
            ctx.sample({"temp_c:coretemp/Package id 0": 101.0, "fan_rpm:nct6779/fan2": 3100.0})


class Reader(Module):
    name = "storage-links-long"
    summary = "a stress module with a long name"
    stress = True

    def run(self, ctx):
        while not ctx.wait(0.5):
            ctx.sample({"read_mbps:sda": 183.4, "read_mbps:sdb": 127.217})
'''

FINDING = Finding.from_record({"module": "thermal", "severity": "fail", "component": "sensor:coretemp/Package id 0",
                               "code": "temp-critical", "message": "Package id 0 reached 101 C (critical 100 C)",
                               "evidence": {}})


def test_headline_says_what_the_numbers_are_with_units():
    assert headline({"temp_c:a": 40.0, "temp_c:b": 71.4, "fan_rpm:x": 900.0, "fan_rpm:y": 1200.0}) == \
        "hottest 71.4 °C, slowest fan 900 RPM"
    assert headline({"busy_pct:cpu0": 99.0, "busy_pct:cpu1": 97.0, "freq_mhz:cpu0": 2400.0}) == \
        "busy 98%, clock 2,400 MHz"
    assert headline({"read_mbps:sda": 183.4, "ops_per_s:total": 1.0}, ascii_only=True) == \
        "1 operations/s verified, sda reading 183 MB/s".replace("operations/s", "ops/s")
    assert headline({"temp_c:a": 40.0}, ascii_only=True) == "hottest 40 C"
    assert headline({"weird_thing:x": 3.0}) == "x weird thing 3"


def test_ascii_on_the_linux_console_and_dumb_terminals():
    assert ascii_terminal("linux", "utf-8") and ascii_terminal("dumb", "utf-8")
    assert ascii_terminal("xterm-256color", "ascii")
    assert not ascii_terminal("xterm-256color", "utf-8")
    assert fit("abcdef", 5, ASCII) == "ab..." and fit("abcdef", 5, UNICODE) == "abcd…"
    assert fit("a\x1b[2Jb", 9, ASCII) == "a\\x1b[2Jb"  # shown escaped, as on every terminal output


def _state(modules: int, findings: int) -> State:
    state = State(title="burnin run - profile seller - Dell Inc. PowerEdge R640", phase="stress and monitor")
    state.started = time.time() - 190
    state.run_end = time.time() + 1600
    state.modules = {f"module-{i:02d}-with-a-long-name": "running" for i in range(modules)}
    state.findings = [(time.time() - 60 + i, FINDING) for i in range(findings)]
    state.counts[Severity.FAIL] = findings
    return state


@pytest.mark.parametrize("width,height", [(80, 25), (160, 48), (100, 30)])
def test_frame_fills_the_terminal_and_closes_its_box(width, height):
    lines = [text for text, _ in frame(_state(14, 30), width, height, ASCII)]
    assert len(lines) == height - 1, "the frame uses the terminal's height, leaving the cursor's line"
    assert all(len(line) == width for line in lines), "every line is the terminal's width"
    assert lines[0].startswith("+--") and lines[-1] == "+" + "-" * (width - 2) + "+"
    assert all(line[0] in "+|" and line[-1] in "+|" for line in lines), "a right border on every line"
    assert all(ord(ch) < 128 for line in lines for ch in line)
    text = "\n".join(lines)
    assert re.search(r"\d\d:\d\d:\d\d FAIL sensor:coretemp/Package id 0", text), "findings carry their time"
    assert "ends ~" in text and "left ~" in text and "elapsed 3m1" in text


def test_frame_with_more_modules_than_rows_says_how_many_more():
    lines = [text for text, _ in frame(_state(30, 3), 80, 25, ASCII)]
    assert len(lines) == 24
    assert any("+1" in line and "more" in line for line in lines)
    assert sum("FAIL sensor:" in line for line in lines) >= 2


def _run_in_tmux(tmp_path, width, height, term):
    site = install_plugin(tmp_path / "site", "hot_plugin", PLUGIN,
                          {"hot": "hot_plugin:Hot", "storage-links-long": "hot_plugin:Reader"})
    profile = tmp_path / "p.toml"
    profile.write_text('duration = "10s"\nmodules = ["hot", "storage-links-long"]\n')
    command = (f"cd {tmp_path} && PYTHONPATH={site} {sys.executable} -m burnin run "
               f"--profile {profile} --journal {tmp_path}/j.jsonl; echo EXIT=$?; sleep 120")
    return Tmux(command, width, height, term)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)")
@pytest.mark.parametrize("width,height,term", [(80, 25, "linux"), (160, 48, "xterm-256color")])
def test_a_run_in_a_real_terminal_ends_with_the_verdict_box_on_the_last_screen(tmp_path, width, height, term):
    tmux = _run_in_tmux(tmp_path, width, height, term)
    name = f"terminal-{width}x{height}-{term}"
    try:
        during = tmux.wait_for(lambda s: "watching" in s and "reading" in s and "hottest" in s, 30)
        save_terminal(f"{name}-during", tmux.screen(colours=True), width)
        lines = during.rstrip("\n").splitlines()
        assert "burnin run - profile p" in during
        assert "watching" in during, "a monitor watches during the stress phase"
        assert "storage-links-long" in during and "running" in during
        assert "sda reading 183 MB/s" in during and "read_mbps" not in during
        assert "hottest 101 C" in during if term == "linux" else "hottest 101 °C" in during
        assert re.search(r"\d\d:\d\d:\d\d FAIL sensor:coretemp/Package id 0", during)
        assert re.search(r"ends ~\d\d:\d\d:\d\d", during)
        frame_lines = [line for line in lines if line[:1] in "+|"]
        assert len(frame_lines) >= 12
        assert all(len(line) == width and line[-1] in "+|" for line in frame_lines), \
            "the frame spans the terminal's width and has its right border"
        if term == "linux":
            assert all(ord(ch) < 128 for ch in during), "no Unicode glyphs on a Linux text console"
        after = tmux.wait_for(lambda s: "EXIT=" in s, 60)
        coloured = tmux.screen(colours=True)
        save_terminal(f"{name}-end", coloured, width)
        assert "EXIT=1" in after
        last = after.rstrip("\n").splitlines()
        exit_at = max(i for i, line in enumerate(last) if line.startswith("EXIT="))
        box = last[:exit_at]
        assert box[-1].startswith("+====="), "the verdict box is the last thing burnin prints"
        top = max(i for i, line in enumerate(box[:-1]) if line.startswith("+====="))
        inside = "\n".join(box[top:])
        assert "VERDICT: FAIL" in inside
        assert "FAIL sensor:coretemp/Package id 0" in inside, "the top failing component is in the box"
        assert "NOT tested" not in inside or "hot" not in inside
        assert "\x1b[1;31m" in coloured or "\x1b[31m" in coloured or "\x1b[91m" in coloured, \
            "the verdict box is coloured on a terminal that has colours"
        if term == "linux":
            assert all(ord(ch) < 128 for ch in after)
    finally:
        tmux.close()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)")
def test_a_dumb_terminal_gets_no_colour_and_no_unicode(tmp_path):
    tmux = _run_in_tmux(tmp_path, 80, 25, "dumb")
    try:
        tmux.wait_for(lambda s: "EXIT=" in s, 60)
        coloured = tmux.screen(colours=True)
        assert "VERDICT: FAIL" in coloured
        assert "\x1b[" not in coloured, "no colour codes on a dumb terminal"
        assert all(ord(ch) < 128 for ch in tmux.screen())
    finally:
        tmux.close()
