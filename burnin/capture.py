"""`burnin capture OUT`: everything the inventory and the health checks read, to judge the machine elsewhere.

The capture is made by watching, not by a list: the host layer records every path the inventory and the
`check` phase of every monitor module touch, and every command they run (ethtool, smartctl, ...). Those files
are copied into OUT with the symlinks between them (so `/sys/class/net/eth0 -> ../../devices/...` resolves
the same way), directories that were listed get their entries, and the commands' outputs go to
`.burnin-capture/commands.json`, where `Host(OUT)` replays them. So `burnin inventory --sysroot OUT` and
`burnin check --sysroot OUT` on another machine see what they saw here.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping

import burnin
from burnin.host import CAPTURE_DIR, Host

MAX_FILE_BYTES = 16 * 2**20  # SMBIOS tables and sysfs attributes are small; anything bigger is not ours to copy
NEVER = ("/dev/", "/proc/kcore", "/proc/kmsg")  # device nodes and streams: nothing a file copy can hold


def record_checks(host: Host, module_classes: Mapping[str, type]) -> dict[str, str]:
    """Run the inventory and the check phase of every monitor module on a recording host.

    Returns {module: what happened}, for the manifest. Only check phases run (a capture loads nothing): those of
    the monitor modules, and of the stress modules that judge captures (their preflight reads, never their load).
    """
    from burnin.inventory import collect
    from burnin.testing import RecordingContext

    outcomes: dict[str, str] = {}
    inventory = collect(host)
    outcomes["(inventory)"] = "collected"
    for name, cls in sorted(module_classes.items()):
        # A stress module whose check phase judges captures (gpu: nvidia-smi -q -x, amdgpu sysfs) is recorded too.
        if not cls.applies_to_captures() or not cls.implements("check"):
            outcomes[name] = "not run (stress module, or no check phase)"
            continue
        module = cls(host)
        try:
            probe = module.probe()
            if not probe.available:
                outcomes[name] = f"not available: {probe.reason}"
                continue
            module.check(RecordingContext(name, host, "check", seconds=30.0, inventory=inventory))
            outcomes[name] = "check ran"
        except Exception as exc:  # noqa: BLE001 - a module's trouble must not spoil the capture of the others
            outcomes[name] = f"check raised {type(exc).__name__}: {exc}"
    return outcomes


def _copy_file(source: Path, dest: Path) -> None:
    try:
        with open(source, "rb") as f:
            data = f.read(MAX_FILE_BYTES)
    except OSError:
        return  # unreadable here (EACCES, EIO): absent in the capture too, which is how the reader sees it
    dest.write_bytes(data)


class _Tree:
    """Rebuilds chosen host paths under `out`, symlinks included, as they are on this machine."""

    def __init__(self, out: Path):
        self.out = out
        self.files = 0

    def _dest(self, host_path: str) -> Path:
        return self.out / host_path.lstrip("/")

    def place(self, host_path: str, contents: bool = True) -> str | None:
        """Make `host_path` exist in the capture; returns its resolved host path (None if it does not exist)."""
        if host_path.startswith(NEVER) or host_path == "/dev":
            return None
        current = "/"
        for part in [p for p in host_path.split("/") if p]:
            live = os.path.join(current, part)
            dest = self._dest(live)
            try:
                info = os.lstat(live)
            except OSError:
                return None
            if stat.S_ISLNK(info.st_mode):
                target = os.readlink(live)
                if os.path.isabs(target):
                    target = os.path.relpath(target, current)
                if not dest.is_symlink():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    if dest.exists():
                        shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
                    os.symlink(target, dest)
                resolved = os.path.realpath(live)
                if self.place(resolved, contents=False) is None:
                    return None
                current = resolved
            elif stat.S_ISDIR(info.st_mode):
                dest.mkdir(parents=True, exist_ok=True)
                current = live
            elif stat.S_ISREG(info.st_mode):
                if not dest.exists():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    if contents:
                        _copy_file(Path(live), dest)
                        self.files += 1
                    else:
                        dest.touch()
                elif contents and dest.stat().st_size == 0:
                    _copy_file(Path(live), dest)
                    self.files += 1
                current = live
            else:
                return None  # sockets, device nodes
        return current

    def place_listing(self, host_path: str) -> None:
        """A listed directory: its entries must list the same (links as links, files as placeholders)."""
        resolved = self.place(host_path, contents=False)
        if resolved is None or not os.path.isdir(resolved):
            return
        try:
            names = os.listdir(resolved)
        except OSError:
            return
        for name in names:
            self.place(os.path.join(resolved, name), contents=False) if not os.path.islink(
                os.path.join(resolved, name)) else self._link_only(os.path.join(resolved, name))

    def _link_only(self, live: str) -> None:
        dest = self._dest(live)
        if dest.is_symlink() or dest.exists():
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        target = os.readlink(live)
        if os.path.isabs(target):
            target = os.path.relpath(target, os.path.dirname(live))
        os.symlink(target, dest)


def capture(out: str | Path, module_classes: Mapping[str, type]) -> dict[str, Any]:
    """Capture this machine into `out` (a new directory, or a .tar.gz file). Returns the manifest."""
    out = Path(out)
    as_tar = out.name.endswith((".tar.gz", ".tgz"))
    if out.exists():
        from burnin.errors import UsageError

        raise UsageError("already exists; give a new directory or .tar.gz name", file=str(out))
    host = Host("/")
    host.record()
    started = time.time()
    outcomes = record_checks(host, module_classes)
    workdir = Path(tempfile.mkdtemp(prefix="burnin-capture-")) / "capture" if as_tar else out
    workdir.mkdir(parents=True)
    tree = _Tree(workdir)
    touched = sorted(host.touched or ())
    for path in touched:
        if os.path.isdir(path):
            tree.place_listing(path)
        else:
            tree.place(path)
    meta = workdir / CAPTURE_DIR
    meta.mkdir()
    from burnin.kernel_log.kmsg import save_kernel_log

    # The kernel log is a stream, not a file: saved in /dev/kmsg's format for `check --sysroot` to judge.
    kernel_log_records = save_kernel_log(meta / "kmsg.txt")
    commands = [{**result.to_record(), "stdout": result.stdout, "stderr": result.stderr}
                for result in host.commands_run or ()]
    (meta / "commands.json").write_text(json.dumps(commands, indent=1))
    manifest = {
        "burnin_version": burnin.__version__,
        "created": started,
        "hostname": socket.gethostname(),
        "paths_touched": len(touched),
        "files_copied": tree.files,
        "commands": [c["argv"] for c in commands],
        "modules": outcomes,
        "kernel_log_records": kernel_log_records,
    }
    (meta / "manifest.json").write_text(json.dumps(manifest, indent=1))
    if as_tar:
        with tarfile.open(out, "w:gz") as tar:
            tar.add(workdir, arcname=out.name.split(".")[0])
        shutil.rmtree(workdir.parent)
    return manifest
