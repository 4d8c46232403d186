"""The journal's room: a filesystem that fills up mid-run ends the run INCOMPLETE (exit 3, one line, the journal
up to there readable); a run whose journal cannot fit is refused before it starts (exit 2, one line).

The full filesystem is real: a small tmpfs mounted for the test (root only; skipped elsewhere), filled by another
writer while `burnin run` is sampling into it.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from burnin.cli import main
from plugin_site import install_plugin

PLUGIN = '''
    from burnin.module import Module

    class Chatty(Module):
        name = "chatty"
        summary = "samples forty metrics twenty times a second"

        def run(self, ctx):
            while not ctx.wait(0.05):
                ctx.sample({f"temp_c:sensor{n}": 40.0 + n / 10 for n in range(40)})
'''


@pytest.fixture
def small_fs(tmp_path):
    mountpoint = tmp_path / "fs"
    mountpoint.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mountpoint)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def _wait_for(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _fill(directory: Path) -> None:
    """Write a file until the filesystem has no room left, down to its last block."""
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 16, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_a_filesystem_that_fills_up_mid_run_ends_it_incomplete_with_one_line(tmp_path, small_fs):
    site = install_plugin(tmp_path / "site", "chatty_plugin", PLUGIN, {"chatty": "chatty_plugin:Chatty"})
    profile = tmp_path / "p.toml"
    profile.write_text('duration = "5m"\nmodules = ["chatty"]\nsample_flush = "0.2s"\nstop_grace = "2s"\n')
    journal = small_fs / "run.jsonl"
    env = dict(os.environ, PYTHONPATH=str(site))
    agent = subprocess.Popen([sys.executable, "-m", "burnin", "run", "--profile", str(profile), "--journal",
                              str(journal), "--plain"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    try:
        _wait_for(lambda: journal.exists() and journal.read_bytes().count(b'"type": "sample"') >= 3, 60,
                  "the first samples")
        _fill(small_fs)
        _, stderr = agent.communicate(timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    assert agent.returncode == 3, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr
    said = [line for line in stderr.splitlines() if "No space left on device" in line and "INCOMPLETE" in line]
    assert len(said) == 1, stderr
    assert "VERDICT: INCOMPLETE" in stderr

    # The journal up to the full disk reads, and says the run did not finish.
    report = CliRunner().invoke(main, ["report", str(journal)])
    assert report.exit_code == 3 and "INCOMPLETE" in report.output, report.output
    assert "Traceback" not in report.output


def test_a_run_whose_journal_cannot_fit_is_refused_before_it_starts(tmp_path, small_fs):
    profile = tmp_path / "p.toml"
    profile.write_text('extends = "soak"\n')  # 24 h: the journal may grow to its 50 MB budget
    journal = small_fs / "run.jsonl"
    result = CliRunner().invoke(main, ["run", "--profile", str(profile), "--journal", str(journal)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "MB free" in lines[0] and "journal_max_mb = 50" in lines[0], result.stderr
    assert not journal.exists()
    # A smaller budget fits.
    profile.write_text('extends = "soak"\njournal_max_mb = 5\nduration = "1s"\nmodules = ["thermal"]\n')
    assert "MB free" not in CliRunner().invoke(main, ["check", "--profile", str(profile), "--journal",
                                                      str(journal)]).stderr
