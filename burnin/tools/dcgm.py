"""DCGM's diagnostic (`dcgmi diag -r LEVEL -j`) as a load: argv and parsing of its JSON, per test and per GPU.

DCGM 3.x nests results under "DCGM GPU Diagnostic" > "test_categories" > "tests" > "results" (each with a
`gpu_ids` and a `status` of Pass, Fail, Warn or Skip); 4.x lists "tests" at the top with results per entity. Both
are read. dcgmi may print a line before its JSON; it is skipped. Never judges.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from burnin.load import Ended, Program


@dataclass(frozen=True)
class DiagResult:
    category: str
    test: str
    gpu: int | None  # DCGM's GPU id (nvidia-smi's index); None: a result for all GPUs (the deployment checks)
    status: str  # "pass", "fail", "warn", "skip", or what DCGM wrote, lowercased
    detail: str = ""  # DCGM's info and warnings


@dataclass(frozen=True)
class DiagOutcome:
    returncode: int | None
    level: int
    results: tuple[DiagResult, ...] = ()
    error: str | None = None  # why there is no result (not JSON, dcgmi's own error)
    stopped: bool = False
    version: str | None = None
    raw_tail: str = field(default="", repr=False)


def argv(level: int) -> list[str]:
    return ["dcgmi", "diag", "-r", str(level), "-j"]


def _detail(result: dict) -> str:
    parts: list[str] = []
    for key in ("info", "warnings", "errors"):
        value = result.get(key)
        for item in value if isinstance(value, list) else [value] if value else []:
            parts.append(str(item.get("warning") or item.get("error") or item) if isinstance(item, dict) else str(item))
    return "; ".join(p.strip() for p in parts if p and p.strip())


def _gpus(result: dict) -> list[int | None]:
    ids = result.get("gpu_ids", result.get("entity_id"))
    if isinstance(ids, int):
        return [ids]
    text = str(ids or "").strip()
    if not text or "," in text:
        return [None]  # one result that stands for every GPU
    return [int(text)] if text.isdigit() else [None]


def parse_json(text: str, level: int = 0, returncode: int | None = 0) -> DiagOutcome:
    start = text.find("{")
    try:
        data = json.loads(text[start:]) if start >= 0 else None
    except ValueError as exc:
        return DiagOutcome(returncode, level, error=f"dcgmi's output is not JSON ({exc})", raw_tail=text[-2000:])
    if not isinstance(data, dict):
        return DiagOutcome(returncode, level, error="dcgmi printed no JSON", raw_tail=text[-2000:])
    root = data.get("DCGM GPU Diagnostic") or data.get("DCGM Diagnostic") or data
    tests = [(c.get("category", ""), t) for c in root.get("test_categories") or [] if isinstance(c, dict)
             for t in c.get("tests") or [] if isinstance(t, dict)]
    tests += [("", t) for t in root.get("tests") or [] if isinstance(t, dict)]
    results = tuple(DiagResult(category, str(test.get("name", "?")), gpu, str(r.get("status", "?")).lower(), _detail(r))
                    for category, test in tests for r in test.get("results") or [] if isinstance(r, dict)
                    for gpu in _gpus(r))
    error = data.get("runtime_error") or root.get("runtime_error")
    if not results and not error:
        error = "dcgmi's JSON holds no test result"
    return DiagOutcome(returncode, level, results, str(error) if error else None, version=root.get("version"),
                       raw_tail=text[-2000:])


def program(level: int) -> Program:
    def parse(end: Ended) -> DiagOutcome:
        outcome = parse_json(end.stdout, level, end.returncode)
        if end.spawn_error:
            return DiagOutcome(None, level, error=end.spawn_error)
        if outcome.error and end.stderr.strip():
            outcome = DiagOutcome(outcome.returncode, level, outcome.results,
                                  f"{outcome.error}: {end.stderr.strip()[-300:]}", raw_tail=outcome.raw_tail)
        return DiagOutcome(outcome.returncode, level, outcome.results, outcome.error, end.interrupted,
                           outcome.version, outcome.raw_tail)

    return Program(f"dcgmi diag -r {level}", argv(level), parse=parse)
