"""Screens as a buyer sees them: a real terminal (tmux), a real browser (headless Chromium), kept as artefacts.

Screenshots go to $BURNIN_ARTEFACTS when set (CI keeps that folder), else to a `burnin-artefacts` folder in the
system's temporary directory; each test's files are named after it, and a run overwrites the previous one's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)


def artefact_dir() -> Path:
    path = Path(os.environ.get("BURNIN_ARTEFACTS") or Path(tempfile.gettempdir()) / "burnin-artefacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


class Tmux:
    """A detached tmux session of a given size running one shell command."""

    def __init__(self, command: str, width: int, height: int, term: str):
        self.session = f"burnin-test-{os.getpid()}-{int(time.time() * 1000)}"
        # A tmux server of our own (-L): a shared one hands its sessions the environment it started with (a stale
        # COLUMNS=80 makes every program think the terminal is 80 wide). The program sees the TERM set here.
        self.tmux = ["tmux", "-L", self.session]
        subprocess.run([*self.tmux, "new-session", "-d", "-s", self.session, "-x", str(width), "-y", str(height),
                        f"unset COLUMNS LINES; export TERM={term}; {command}"], check=True)
        self.width, self.height = width, height

    def screen(self, colours: bool = False) -> str:
        argv = [*self.tmux, "capture-pane", "-p", "-t", self.session] + (["-e"] if colours else [])
        return subprocess.run(argv, capture_output=True, text=True).stdout

    def wait_for(self, predicate, timeout_s: float) -> str:
        """The screen once predicate(screen) holds (polled), or the last screen after timeout_s."""
        deadline = time.monotonic() + timeout_s
        text = self.screen()
        while not predicate(text) and time.monotonic() < deadline:
            time.sleep(0.1)
            text = self.screen()
        return text

    def close(self) -> None:
        subprocess.run([*self.tmux, "kill-server"], capture_output=True)


def save_terminal(name: str, ansi_text: str, width: int) -> Path:
    """The pane with its colours as an SVG 'screenshot' (rich draws it) plus the raw text; returns the SVG."""
    from rich.console import Console
    from rich.text import Text

    folder = artefact_dir()
    (folder / f"{name}.txt").write_text(ansi_text)
    console = Console(record=True, width=width, force_terminal=True, color_system="truecolor",
                      file=open(os.devnull, "w"))
    # One piece: tmux writes a colour once where it starts, and it holds over the following lines.
    console.print(Text.from_ansi(ansi_text.rstrip("\n")), no_wrap=True, overflow="crop")
    svg = folder / f"{name}.svg"
    console.save_svg(str(svg), title=name)
    return svg


def chromium(url_or_path: str | Path, *, dump_dom: bool = False, screenshot: Path | None = None,
             width: int = 1280, height: int = 2000, timeout_s: float = 90) -> str:
    """Run headless Chromium once: the DOM after load (dump_dom) or a PNG of the page at `width` CSS pixels."""
    assert CHROMIUM, "chromium is not installed"
    url = url_or_path if str(url_or_path).startswith(("file:", "http:", "data:")) else Path(url_or_path).as_uri()
    profile = tempfile.mkdtemp(prefix="burnin-chromium-")
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--hide-scrollbars", f"--user-data-dir={profile}", "--no-first-run", "--disable-extensions",
            "--force-device-scale-factor=1", f"--window-size={width},{height}"]
    if dump_dom:
        argv.append("--dump-dom")
    if screenshot is not None:
        argv.append(f"--screenshot={screenshot}")
    try:
        result = subprocess.run(argv + [url], capture_output=True, text=True, timeout=timeout_s)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if screenshot is not None:
        assert screenshot.exists(), f"chromium made no screenshot: {result.stderr[-500:]}"
    return result.stdout
