"""The live dashboard in a real pseudo-terminal: 80x25, TERM=linux, as on a server's text console."""

import shutil
import subprocess
import sys
import time

import pytest

from burnin.report.dashboard import headline
from burnin.testing import wait_for
from plugin_site import install_plugin

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
'''


def test_headline_picks_the_telling_numbers():
    assert headline({"temp_c:a": 40.0, "temp_c:b": 71.4, "fan_rpm:x": 900.0, "fan_rpm:y": 1200.0}) == \
        "max 71 C, fans >= 900 rpm"
    assert headline({"busy_pct:cpu0": 99.0, "busy_pct:cpu1": 97.0, "freq_mhz:cpu0": 2400.0}) == \
        "busy 98%, 2400 MHz"


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)")
def test_dashboard_on_an_80x25_linux_console_shows_modules_findings_and_verdict(tmp_path):
    site = install_plugin(tmp_path / "site", "hot_plugin", PLUGIN, {"hot": "hot_plugin:Hot"})
    profile = tmp_path / "p.toml"
    profile.write_text('duration = "6s"\nmodules = ["hot"]\n')
    session = f"burnin-test-{int(time.time() * 1000)}"
    command = (f"cd {tmp_path} && PYTHONPATH={site} TERM=linux {sys.executable} -m burnin run "
               f"--profile {profile} --journal {tmp_path}/j.jsonl; echo EXIT=$?; sleep 60")
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "25", command], check=True)
    try:
        def screen():
            return subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True,
                                  text=True).stdout

        during = wait_for(lambda: (lambda text: text if "running" in text else "")(screen()), timeout=15,
                          what="the dashboard showing a running module")
        assert "burnin run - profile p" in during
        assert "hot" in during and "running" in during
        assert "FAIL sensor:coretemp/Package id 0" in during
        assert all(ord(ch) < 128 for ch in during), "no Unicode glyphs on a Linux text console"
        assert all(len(line) <= 80 for line in during.splitlines())
        after = wait_for(lambda: (lambda text: text if "EXIT=" in text else "")(screen()), timeout=30,
                         what="the run's end on the screen")
        assert "VERDICT: FAIL" in after and "EXIT=1" in after
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
