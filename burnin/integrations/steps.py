"""One burnin run as an engine's step (an Ironic clean or service step): arguments in, a summary or a failure out.

The run is the `burnin run` command in a child process (the same Python), so that its forked module processes,
signal handling and exit codes are exactly those of the command line, and an engine's own threads are never
touched. Each run gets a folder under RESULTS_DIR (/var/log/burnin, where the agent collects logs) holding the
journal, the HTML report, the OCP output and the `--json` summary.

Destructive disk work (`destructive` devices with `yes_destroy_data` serials) is passed on only when the caller
says the step may destroy data (a clean step, never a service step); the command then checks the consent exactly
as on the command line (the serial of each device, never the boot or a mounted disk).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

RESULTS_DIR = "/var/log/burnin"
TOP_FINDINGS = 3
_EXIT_WORDS = {1: "FAIL", 2: "refused (bad arguments)", 3: "ERROR or INCOMPLETE", 130: "interrupted"}


class StepFailed(Exception):
    """The step failed: a FAIL, ERROR or INCOMPLETE verdict, or arguments burnin refused. str() is the message an
    operator sees on the node (the verdict and the top findings)."""

    def __init__(self, message: str, result: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.result = dict(result or {})


@dataclass(frozen=True)
class StepArgs:
    profile: str = "quick"
    duration: str | None = None
    expect: Mapping[str, Any] | None = None
    only: Sequence[str] | str | None = None
    skip: Sequence[str] | str | None = None
    sysroot: str | None = None
    destructive: Sequence[str] | str | None = None
    yes_destroy_data: Sequence[str] | str | None = None


def _names(value: Sequence[str] | str | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


def claims_toml(expect: Mapping[str, Any]) -> str:
    """The claims as a TOML file: tables ([cpu], [memory]) of strings, numbers, booleans and lists of them."""
    def value(item: Any) -> str:
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, (int, float)):
            return repr(item)
        if isinstance(item, str):
            return json.dumps(item, ensure_ascii=False)  # a TOML basic string
        if isinstance(item, list):
            return "[" + ", ".join(value(i) for i in item) + "]"
        raise StepFailed(f"expect: {type(item).__name__} values are not claims (strings, numbers, lists)")

    if not isinstance(expect, Mapping):
        raise StepFailed("expect must be a dict of tables, e.g. {\"cpu\": {\"sockets\": 2}}")
    lines = []
    for table, keys in expect.items():
        if not isinstance(keys, Mapping):
            raise StepFailed(f"expect.{table} must be a dict of claims, e.g. {{\"sockets\": 2}}")
        lines.append(f"[{json.dumps(str(table))}]")
        lines += [f"{json.dumps(str(key))} = {value(item)}" for key, item in keys.items()]
    return "\n".join(lines) + "\n"


def burnin_argv(args: StepArgs, folder: Path, allow_destructive: bool) -> list[str]:
    argv = [sys.executable, "-m", "burnin", "run", "--profile", args.profile, "--plain",
            "--journal", str(folder / "journal.jsonl"), "--html", str(folder / "report.html"),
            "--ocp", str(folder / "ocp.jsonl"), "--json"]
    if args.duration:
        argv += ["--duration", str(args.duration)]
    if _names(args.only):
        argv += ["--only", ",".join(_names(args.only))]
    if _names(args.skip):
        argv += ["--skip", ",".join(_names(args.skip))]
    if args.sysroot:
        argv += ["--sysroot", str(args.sysroot)]
    if args.expect:
        claims = folder / "claims.toml"
        claims.write_text(claims_toml(args.expect))
        argv += ["--expect", str(claims)]
    destructive, serials = _names(args.destructive), _names(args.yes_destroy_data)
    if destructive or serials:
        if not allow_destructive:
            raise StepFailed("destructive disk work is never done in a service step (the node keeps its data); "
                             "run burnin_run as a manual clean step with destructive and yes_destroy_data")
        argv += [a for device in destructive for a in ("--destructive", device)]
        argv += [a for serial in serials for a in ("--yes-destroy-data", serial)]
    return argv


def _top_findings(summary: Mapping[str, Any]) -> list[str]:
    findings = [f for f in summary.get("findings") or [] if isinstance(f, dict)]
    order = {"fail": 0, "warn": 1}
    ranked = sorted((f for f in findings if f.get("severity") in order), key=lambda f: order[f["severity"]])
    return [f"{f.get('severity', '').upper()} {f.get('component')}: {f.get('message')}" for f in ranked[:TOP_FINDINGS]]


def run_step(args: StepArgs, allow_destructive: bool, results_dir: str | Path = RESULTS_DIR,
             timeout_s: float | None = None) -> dict[str, Any]:
    """Run burnin; the step's result on PASS or WARN, StepFailed (verdict and top findings) otherwise."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    folder = Path(results_dir) / f"burnin-{stamp}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    folder.mkdir(parents=True, exist_ok=False)
    argv = burnin_argv(args, folder, allow_destructive)
    with open(folder / "output.log", "wb") as log:
        try:
            done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=log, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired:
            raise StepFailed(f"burnin did not finish within {timeout_s:g} s; see {folder}/output.log") from None
    (folder / "result.json").write_bytes(done.stdout)
    try:
        summary = json.loads(done.stdout or b"{}")
    except ValueError:
        summary = {}
    result = {
        "verdict": summary.get("verdict") or _EXIT_WORDS.get(done.returncode, f"exit {done.returncode}"),
        "reason": summary.get("reason", ""),
        "exit_code": done.returncode,
        "top_findings": _top_findings(summary),
        "untested": [f"{u.get('area')} ({u.get('reason')})" for u in summary.get("untested") or []
                     if isinstance(u, dict)],
        "counts": summary.get("counts") or {},
        "folder": str(folder),
        "journal": str(folder / "journal.jsonl"),
        "html": str(folder / "report.html"),
        "ocp": str(folder / "ocp.jsonl"),
    }
    if done.returncode == 0:
        return result
    if summary:
        message = f"burnin {result['verdict']}" + (f": {result['reason']}" if result["reason"] else "")
        if result["top_findings"]:
            message += "; " + "; ".join(result["top_findings"])
    else:  # refused before any run (exit 2): its one line says why
        lines = (folder / "output.log").read_text(errors="replace").strip().splitlines()
        message = f"burnin {result['verdict']}: {lines[-1] if lines else 'no output'}"
    raise StepFailed(f"{message} (results: {folder})", result)


def last_result(results_dir: str | Path = RESULTS_DIR) -> dict[str, Any] | None:
    """The newest run's `--json` summary under results_dir, with its folder; None when there is none."""
    folders = sorted(Path(results_dir).glob("burnin-*/result.json"), key=lambda p: p.stat().st_mtime)
    for path in reversed(folders):
        try:
            summary = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(summary, dict) and summary.get("verdict"):
            return {"verdict": summary["verdict"], "reason": summary.get("reason", ""),
                    "top_findings": _top_findings(summary), "folder": str(path.parent),
                    "untested": [u.get("area") for u in summary.get("untested") or [] if isinstance(u, dict)]}
    return None
