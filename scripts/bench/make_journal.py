#!/usr/bin/env python3
"""Simulate a burnin journal: a run of any length with 1 Hz samples from three modules, written with the
real JournalWriter. The reports' tests and benchmarks build their journals with it.

    python scripts/bench/make_journal.py OUT.jsonl [--hours 24] [--interval 1] [--fail] [--hostile]
    python scripts/bench/make_journal.py OUT.jsonl --hours 24 --sockets 2 --threads 256 --dimms 24 --disks 24

The second form simulates a server of that size (1 Hz samples of every metric its modules would read) through the
runner's sample budget, with a FAIL and a WARN finding a third and two thirds into the run: the journal must stay
within `--budget-mb` (50) and keep per-second samples for two minutes either side of each finding.

The default run: thermal (12 temperatures, 6 fans), cpu (8 clocks, 8 busy figures) and disk (2 disk
temperatures, read/write MB/s and IOPS of two disks): 42 metrics. One temperature spikes for a single sample
in the middle of the run (`SPIKE_C`), so a report that decimates can be checked for keeping peaks.

Timestamps are simulated (the run starts at `start`, default 2023-11-14 22:13:20 UTC): the writer stamps
`t` itself, and a `t` given among a record's fields takes its place.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any, Iterable

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from burnin.journal import JournalWriter  # noqa: E402

START = 1_700_000_000.0
SPIKE_C = 97.5  # the one-sample peak of "coretemp.0/Package id 0", halfway through the run
SPIKE_SENSOR = "coretemp.0/Package id 0"
HOSTILE = '<img src=x onerror="document.title=\'pwned\'">'

TEMPS = [SPIKE_SENSOR, "coretemp.1/Package id 1"] + [f"coretemp.{s}/Core {c}" for s in (0, 1) for c in range(5)]
FANS = [f"nct6779/fan{n}" for n in range(1, 7)]
CPUS = range(8)
DISKS = ["sda", "sdb"]


def inventory_record(hostile: str = "", serial: str = "SN-0001", disks: Iterable[tuple[str, str]] | None = None,
                     dimms: Iterable[tuple[str, str]] | None = None, cpu_model: str = "Intel(R) Xeon(R) Gold 6130",
                     sockets: int = 2, macs: Iterable[str] = ("0c:c4:7a:00:00:01", "0c:c4:7a:00:00:02"),
                     ) -> dict[str, Any]:
    """The fields of an `inventory` record (as documented by the inventory issue), with a few variations."""
    disks = list(disks if disks is not None else [("S1", "ST4000NM0035"), ("S2", "ST4000NM0035")])
    dimms = list(dimms if dimms is not None else [(f"P{s}-DIMM{c}1", f"D{s}{c}") for s in (1, 2) for c in "AB"])
    return {
        "inventory": {
            "system": {"manufacturer": "Supermicro", "product": "SYS-6029P-TR", "serial": serial,
                       "uuid": "00000000-0000-0000-0000-0cc47a000001"},
            "cpu": {"model": cpu_model, "sockets": sockets, "cores": 16 * sockets, "threads": 32 * sockets},
            "memory": {"total_bytes": len(dimms) * 32 * 1024**3, "ecc": "Multi-bit ECC",
                       "dimms": [{"locator": loc, "serial": sn, "populated": True, "size_bytes": 32 * 1024**3,
                                  "type": "DDR4", "manufacturer": "Samsung"} for loc, sn in dimms]},
            "disks": [{"name": f"/dev/sd{chr(97 + i)}", "model": (hostile or model), "serial": sn,
                       "size_bytes": 4_000_787_030_016, "rotational": True} for i, (sn, model) in enumerate(disks)],
            "nics": [{"name": f"eno{i + 1}", "mac": mac, "driver": "ixgbe", "speed_mbps": 10000}
                     for i, mac in enumerate(macs)],
            "pcie": [{"address": "0000:3b:00.0", "vendor": "Intel", "device": "X540", "link": "x8 5GT/s"}],
        },
        "claims": [
            {"key": "memory.total_gib", "expected": 128, "found": len(dimms) * 32, "ok": len(dimms) * 32 == 128},
            {"key": "cpu.sockets", "expected": 2, "found": sockets, "ok": sockets == 2},
        ],
    }


# Values are made in integer tenths and divided once: as fast as it gets in Python, and each number is written
# with one decimal, like the real readings (millidegrees / 1000, MB/s to 0.1).
_TEMP_NAMES = [f"temp_c:{key}" for key in TEMPS]
_FAN_NAMES = [f"fan_rpm:{key}" for key in FANS]
_FREQ_NAMES = [f"freq_mhz:cpu{c}" for c in CPUS]
_BUSY_NAMES = [f"busy_pct:cpu{c}" for c in CPUS]


def _load(i: int) -> float:
    return 0.5 + 0.5 * math.sin(i / 1800.0)  # a slow load cycle, half an hour up, half down


def _thermal(i: int, n: int, noise10: list[int], temp_offset_c: float) -> dict[str, float]:
    load = _load(i)
    base10 = int(420 + 300 * load + 10 * temp_offset_c)
    metrics = {name: (base10 + 7 * k + noise10[(i + 97 * k) % 997]) / 10 for k, name in enumerate(_TEMP_NAMES)}
    if i == n // 2:
        metrics[f"temp_c:{SPIKE_SENSOR}"] = SPIKE_C
    fan = int(3000 + 4000 * load)
    metrics.update({name: float(fan + 4 * noise10[(i + 31 * k) % 997]) for k, name in enumerate(_FAN_NAMES)})
    return metrics


def _cpu(i: int, noise10: list[int]) -> dict[str, float]:
    load = _load(i)
    freq, busy10 = int(2100 + 1300 * load), int(600 + 400 * load)
    metrics = {name: float(freq + 2 * noise10[(i + 13 * c) % 997]) for c, name in enumerate(_FREQ_NAMES)}
    metrics.update({name: min(1000, busy10 + noise10[(i + 7 * c) % 997]) / 10 for c, name in enumerate(_BUSY_NAMES)})
    return metrics


def _disk(i: int, noise10: list[int], throughput_factor: float) -> dict[str, float]:
    metrics = {}
    temp10 = int(350 + 30 * math.sin(i / 3600.0))
    for k, disk in enumerate(DISKS):
        metrics[f"temp_c:disk {disk}"] = (temp10 + noise10[(i + k) % 997]) / 10
        metrics[f"mb_per_s:{disk} read"] = int((1800 + 5 * noise10[(i + 3 * k) % 997]) * throughput_factor) / 10
        metrics[f"mb_per_s:{disk} write"] = int((1600 + 5 * noise10[(i + 5 * k) % 997]) * throughput_factor) / 10
        metrics[f"iops:{disk}"] = float(int((450 + 2 * noise10[(i + 11 * k) % 997]) * throughput_factor))
    return metrics


def write_journal(path: str | Path, hours: float = 24.0, interval_s: float = 1.0, start: float = START,
                  fail: bool = False, hostile: bool = False, inventory: dict[str, Any] | None | bool = True,
                  complete: bool = True, temp_offset_c: float = 0.0, throughput_factor: float = 1.0,
                  findings: Iterable[dict[str, Any]] = (), system_serial: str = "SN-0001") -> Path:
    """Write a simulated run's journal to `path` and return it.

    fail: a temperature finding FAILs the thermal module. hostile: an HTML/JS payload in the disk model,
    the hostname, a finding and a metric name. inventory: True for `inventory_record()`, a dict for these
    fields, False/None for none. complete: False leaves out module_end and run_end (a crash).
    """
    path = Path(path)
    payload = HOSTILE if hostile else ""
    writer = JournalWriter(path, sample_flush_s=2.0)
    modules = ["thermal", "cpu", "disk"]
    t = start
    writer.write("run_start", t=t, schema=1, run_id="00000000-0000-4000-8000-000000000001", burnin_version="0.1.0",
                 mode="run",
                 host={"hostname": "srv1" + payload, "sysroot": None, "system_vendor": "Supermicro",
                       "system_product": "SYS-6029P-TR", "system_serial": system_serial},
                 profile={"name": "soak", "duration_s": hours * 3600, "source": "builtin",
                          "settings": {"modules": modules, "skip": [], "required": [], "fail_fast": False,
                                       "disk_writes": False, "check_timeout_s": 120, "finish_timeout_s": 120,
                                       "stop_grace_s": 10, "modules_settings": {}}},
                 argv=["run", "--profile", "soak"], modules=modules)
    if inventory:
        fields = inventory if isinstance(inventory, dict) else inventory_record(payload, serial=system_serial)
        writer.write("inventory", t=t, **fields)
    for module in modules:
        writer.write("module_start", t=t, module=module)
    writer.write("note", t=t, module="thermal", message="thermal inventory", data={"temps": TEMPS, "fans": FANS})

    steps = int(hours * 3600 / interval_s)
    noise10 = [int((math.sin(k * 12.9898) * 43758.5453 % 1.0 * 2 - 1) * 10) for k in range(997)]  # -10..10, repeatable
    write = writer.write
    for i in range(steps):
        t = start + i * interval_s
        write("sample", t=t, module="thermal", metrics=_thermal(i, steps, noise10, temp_offset_c))
        write("sample", t=t, module="cpu", metrics=_cpu(i, noise10))
        disk = _disk(i, noise10, throughput_factor)
        if hostile and i == 0:
            disk[f"temp_c:{HOSTILE}"] = 30.0
        write("sample", t=t, module="disk", metrics=disk)
        if fail and i == steps // 2:
            write("finding", t=t, module="thermal", severity="fail", component=f"sensor:{SPIKE_SENSOR}",
                  code="temp-critical", message=f"{SPIKE_SENSOR} reached {SPIKE_C} °C, at or above its critical "
                                                f"limit of 95 °C.",
                  evidence={"temp_c": SPIKE_C, "max_c": 85.0, "crit_c": 95.0, "alarm": True, "crit_alarm": True})
    end = start + steps * interval_s
    for extra in findings:
        write("finding", t=end, **extra)
    if hostile:
        write("finding", t=end, module="disk", severity="warn", component=f"disk:/dev/sda S/N {payload}",
              code="smart-attribute", message=f"Model {payload} reports reallocated sectors.",
              evidence={"model": payload, "reallocated": 8})
    write("finding", t=end, module="thermal", severity="info", component="thermal", code="temp-peaks",
          message="Closest to its limit: the package.",
          evidence={"temps": {SPIKE_SENSOR: {"peak_c": SPIKE_C if steps else None, "max_c": 85.0, "crit_c": 95.0}}})
    if complete:
        verdicts = {"thermal": "FAIL" if fail else "PASS", "cpu": "PASS", "disk": "WARN" if hostile else "PASS"}
        for module, verdict in verdicts.items():
            write("module_end", t=end, module=module, verdict=verdict,
                  reason="1 failure(s): temperature" if verdict == "FAIL" else "")
        run_verdict = "FAIL" if fail else ("WARN" if hostile else "PASS")
        write("run_end", t=end, verdict=run_verdict, reason="", modules=verdicts,
              counts={"fail": int(fail), "warn": int(hostile), "info": 1}, duration_s=end - start, interrupted=None)
    writer.close()
    return path


def server_metric_names(sockets: int, threads: int, dimms: int, disks: int) -> dict[str, list[str]]:
    """The metric names each module samples on a server of this size, as the real modules name them: per-core
    and per-socket temperatures, fans, and clocks and throttle counters of every logical CPU (thermal); busy and
    clock of every logical CPU (cpu); corrected and uncorrected error counts of every DIMM (memory); temperature,
    throughput and IOPS of every disk (disk)."""
    cores = max(1, threads // 2)
    thermal = [f"temp_c:coretemp.{s}/Package id {s}" for s in range(sockets)]
    thermal += [f"temp_c:coretemp.{c % sockets}/Core {c // sockets}" for c in range(cores)]
    thermal += [f"temp_c:dimm {d}" for d in range(dimms)] + [f"fan_rpm:ipmi/FAN{n}" for n in range(1, 9)]
    thermal += [f"freq_mhz:cpu{c}" for c in range(threads)]
    thermal += [f"throttle_count:cpu{c}:{kind}" for c in range(threads) for kind in ("core", "package")]
    cpu = [f"busy_pct:cpu{c}" for c in range(threads)] + [f"freq_mhz:cpu{c}" for c in range(threads)]
    memory = [f"{kind}:dimm {d}" for d in range(dimms) for kind in ("ce_count", "ue_count")]
    disk = [f"{kind}:sd{d}" for d in range(disks) for kind in ("temp_c", "mb_per_s_read", "mb_per_s_write", "iops")]
    return {"thermal": thermal, "cpu": cpu, "memory": memory, "disk": disk}


def write_server_journal(path: str | Path, hours: float = 24.0, sockets: int = 2, threads: int = 256,
                         dimms: int = 24, disks: int = 24, budget_mb: float = 50.0, start: float = START,
                         findings_at: Iterable[float] = (1 / 3, 2 / 3)) -> Path:
    """A run of a server of this size sampled at 1 Hz by four modules, with findings at these fractions of the
    run, written through the runner's sample budget (burnin.sampling) as a live run would be."""
    from burnin.sampling import SampleBudget

    path = Path(path)
    names = server_metric_names(sockets, threads, dimms, disks)
    writer = JournalWriter(path, sample_flush_s=2.0)
    duration = hours * 3600
    modules = list(names)
    writer.write("run_start", t=start, schema=1, run_id="00000000-0000-4000-8000-000000000002",
                 burnin_version="0.1.0", mode="run",
                 host={"hostname": "big1", "sysroot": None, "system_vendor": "Supermicro",
                       "system_product": "SYS-2029BT", "system_serial": "SN-BIG"},
                 profile={"name": "soak", "duration_s": duration, "source": "builtin",
                          "settings": {"modules": modules, "required": [], "journal_max_mb": budget_mb}},
                 argv=["run", "--profile", "soak"], modules=modules)
    for module in modules:
        writer.write("module_start", t=start, module=module)

    def write(t, module, metrics, fold):
        writer.write("sample", t=round(t, 3), module=module, **({"fold": fold} if fold else {}), metrics=metrics)

    budget = SampleBudget(write, budget_mb * 1e6, duration + 240, len(modules))
    steps = int(duration)
    finding_steps = {int(steps * f): n for n, f in enumerate(findings_at)}
    noise = [((k * 7919) % 201 - 100) / 100 for k in range(4099)]  # -1..1, repeatable
    bases = {module: [40.0 + (k % 37) for k in range(len(own))] for module, own in names.items()}
    for i in range(steps):
        t = start + i
        load = _load(i)
        for module, own in names.items():
            base = bases[module]
            values = [round(b * (0.8 + 0.4 * load) + noise[(i + 13 * k) % 4099], 1) for k, b in enumerate(base)]
            budget.sample(t, module, dict(zip(own, values)))
        if i in finding_steps:
            n = finding_steps[i]
            budget.finding(t, "thermal")
            writer.write("finding", t=t, module="thermal", severity="fail" if n == 0 else "warn",
                         component="sensor:coretemp.0/Package id 0",
                         code="temp-critical" if n == 0 else "temp-above-max",
                         message=f"finding {n} of the simulation", evidence={"step": i})
    end = start + steps
    budget.flush()
    for module in modules:
        writer.write("module_end", t=end, module=module, verdict="FAIL" if module == "thermal" else "PASS", reason="")
    writer.write("run_end", t=end, verdict="FAIL", reason="failed: thermal", modules={}, counts={},
                 duration_s=duration, interrupted=None)
    writer.close()
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="journal file to create (must not exist)")
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
    parser.add_argument("--fail", action="store_true", help="include a temp-critical FAIL finding")
    parser.add_argument("--hostile", action="store_true", help="put an HTML/JS payload into journal strings")
    server = parser.add_argument_group("a server of this size, through the runner's sample budget (any of these "
                                       "options selects it)")
    server.add_argument("--sockets", type=int, help="CPU sockets (e.g. 2)")
    server.add_argument("--threads", type=int, help="logical CPUs (e.g. 256)")
    server.add_argument("--dimms", type=int, help="DIMMs (e.g. 24)")
    server.add_argument("--disks", type=int, help="disks (e.g. 24)")
    server.add_argument("--budget-mb", type=float, help="journal_max_mb (default 50)")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    if any(v is not None for v in (args.sockets, args.threads, args.dimms, args.disks, args.budget_mb)):
        path = write_server_journal(args.out, hours=args.hours, sockets=args.sockets or 2,
                                    threads=args.threads or 256, dimms=args.dimms or 24, disks=args.disks or 24,
                                    budget_mb=args.budget_mb or 50.0)
        metrics = sum(map(len, server_metric_names(args.sockets or 2, args.threads or 256, args.dimms or 24,
                                                   args.disks or 24).values()))
        print(f"{metrics} metrics at 1 Hz for {args.hours:g} h", end="; ")
    else:
        path = write_journal(args.out, hours=args.hours, interval_s=args.interval, fail=args.fail,
                             hostile=args.hostile)
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
