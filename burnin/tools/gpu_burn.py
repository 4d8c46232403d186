"""gpu-burn (github.com/wilicc/gpu-burn) as a load, and nvidia-smi's ECC counters: argv and parsing, no judging."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from burnin.load import Ended, Program

COUNTERS = ("ecc.errors.corrected.volatile.total", "ecc.errors.uncorrected.volatile.total",
            "remapped_rows.uncorrectable")
_TEMP = r"(?:\d+ C|--)"
_STATUS = re.compile(rf"proc'd: (?P<procd>.*?)\s+errors: (?P<errors>.*?)\s+temps: (?P<temps>{_TEMP}(?: - {_TEMP})*)")
_TESTED = re.compile(r"^\s*GPU (\d+): (OK|FAULTY)\s*$", re.M)


def counters_argv() -> list[str]:
    return ["nvidia-smi", "--query-gpu=index,pci.bus_id,name," + ",".join(COUNTERS), "--format=csv"]


def parse_counters(text: str) -> dict[str, dict]:
    """nvidia-smi's CSV (header with units) -> PCI bus id -> index, name and each counter (None: "[N/A]")."""
    rows = list(csv.reader(io.StringIO(text), skipinitialspace=True))
    if not rows:
        return {}
    header = [name.split(" [")[0] for name in rows[0]]
    gpus = {}
    for row in rows[1:]:
        if len(row) == len(header):
            values = dict(zip(header, row))
            gpus[values["pci.bus_id"]] = {"index": values["index"], "name": values["name"],
                                          **{c: _int(values.get(c)) for c in COUNTERS}}
    return gpus


@dataclass(frozen=True)
class Status:
    """One progress report: per GPU (gpu-burn's device order), work done, errors since the last summary, temps."""

    gflops: tuple[float, ...]
    errors: tuple[int, ...]
    temps_c: tuple[float | None, ...]


@dataclass(frozen=True)
class Outcome:
    returncode: int | None
    tested: dict[int, str] = field(default_factory=dict)  # GPU -> "OK" / "FAULTY", from "Tested N GPUs:"
    last: Status | None = None
    stopped: bool = False  # we stopped it before it reported


def last_status(text: str) -> Status | None:
    found = list(_STATUS.finditer(text))
    if not found:
        return None
    m = found[-1]
    return Status(tuple(float(g) for g in re.findall(r"\((\d+) Gflop/s\)", m["procd"])),
                  tuple(int(e) for e in re.findall(r"(\d+)\s*(?:\((?:WARNING|DIED)!\))?", m["errors"])),
                  tuple(float(t[:-2]) if t != "--" else None for t in re.findall(_TEMP, m["temps"])))


def progress(lines: list[str]) -> dict[str, float]:
    status = last_status("\n".join(lines))
    if status is None:
        return {}
    metrics = {f"gflops:gpu{i}": g for i, g in enumerate(status.gflops)}
    metrics.update({f"temp_c:gpu{i}": t for i, t in enumerate(status.temps_c) if t is not None})
    return metrics


def parse_end(end: Ended) -> Outcome:
    text = end.stdout.replace("\r", "\n")
    return Outcome(end.returncode, {int(i): v for i, v in _TESTED.findall(text)}, last_status(text),
                   end.interrupted)


def program(seconds: int, doubles: bool = True) -> Program:
    argv = ["gpu_burn", *(["-d"] if doubles else []), str(seconds)]
    return Program("gpu_burn", argv, parse=parse_end, progress=progress, stderr="stdout")


def _int(text: str | None) -> int | None:
    try:
        return int(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
