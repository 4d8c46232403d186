"""`burnin compare A.jsonl B.jsonl`: what changed between two runs of the same machine, typically the seller
run (A) and the soak at home (B).

Compared: the hardware in the `inventory` records (disks by serial, DIMMs by slot and serial, CPUs by model
and count and, where both runs read them, by each socket's PPIN, NICs by MAC), failures and warnings that B reports and A did not, and samples under the same
metric name: peak temperatures higher in B, median bandwidth/throughput lower in B.

FAIL: a different machine (system serial differs), a disk, DIMM or NIC of A missing or swapped in B, a CPU of A
(by PPIN) not in B, another CPU model or count, less memory, or a new failure in B. WARN: hardware added in B, CPU cores or threads
changed, temperatures higher by more than `temp_rise_c`, throughput lower by more than `throughput_drop_pct`,
a new warning in B, or no inventory to compare. The exit code is `run`'s: 0 PASS/WARN, 1 FAIL.
"""

from __future__ import annotations

import statistics
import textwrap
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from burnin.journal import JournalContents
from burnin.model import ExitCode, Finding, Severity, Verdict, exit_code_for
from burnin.report import terminal
from burnin.report.charts import journal_series, unit_of

MODULE = "compare"
TEMP_RISE_C = 5.0
THROUGHPUT_DROP_PCT = 10.0
WIDTH = 80

# Serial numbers that firmware fills in when nobody set one: they identify nothing.
PLACEHOLDER_SERIALS = frozenset({
    "", "0", "none", "not specified", "not applicable", "to be filled by o.e.m.", "default string",
    "system serial number", "0123456789", "123456789", "n/a", "na", "unknown", "not available", "xxxxxxxxxx",
})
THROUGHPUT_UNITS = frozenset({"bps", "kbps", "mbps", "gbps", "iops", "mibps", "gibps", "bandwidth", "throughput"})


@dataclass(frozen=True)
class MetricChange:
    """One metric in both runs: the peak (temperatures) or the median (throughput) of each."""

    module: str
    metric: str
    statistic: str  # "peak" or "median"
    a: float
    b: float
    change: float  # b - a in the metric's unit (peak) or percent of a (median)
    flagged: bool

    def to_json(self) -> dict[str, Any]:
        return {"module": self.module, "metric": self.metric, "statistic": self.statistic, "a": self.a,
                "b": self.b, "change": round(self.change, 2), "flagged": self.flagged}


@dataclass
class CompareResult:
    findings: list[Finding]
    metrics: list[MetricChange]
    unchanged: list[str]  # "4 DIMMs", "2 disks": hardware found the same in both
    gone: list[Finding]  # failures and warnings of A that B no longer reports
    a: dict[str, Any]  # a short description of each run
    b: dict[str, Any]
    verdict: Verdict = Verdict.PASS
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def exit_code(self) -> ExitCode:
        return exit_code_for(self.verdict)

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "counts": self.counts,
            "findings": [f.to_record() for f in self.findings],
            "a": self.a,
            "b": self.b,
            "unchanged": self.unchanged,
            "gone": [f.to_record() for f in self.gone],
            "metrics": [m.to_json() for m in self.metrics],
        }

    def text(self) -> str:
        return render_text(self)


# -- reading the journals --------------------------------------------------------------------------
def _pick(mapping: Any, *keys: str) -> Any:
    """The first of `keys` that the mapping has with a value (inventory records name things variously)."""
    if not isinstance(mapping, Mapping):
        return None
    for key in keys:
        value = mapping.get(key)
        if value not in (None, ""):
            return value
    return None


def _serial(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return None if text.lower() in PLACEHOLDER_SERIALS else text


def inventory_of(contents: JournalContents) -> dict[str, Any]:
    record = contents.first("inventory") or {}
    inventory = record.get("inventory")
    return dict(inventory) if isinstance(inventory, Mapping) else {}


def system_serial(contents: JournalContents) -> str | None:
    system = inventory_of(contents).get("system")
    host = (contents.records[0].get("host") if contents.records else None) or {}
    return _serial(_pick(system, "serial", "serial_number")) or _serial(host.get("system_serial"))


def describe(contents: JournalContents) -> dict[str, Any]:
    start = contents.records[0] if contents.records else {}
    end = contents.first("run_end") or {}
    host = start.get("host") or {}
    return {
        "run_id": start.get("run_id"),
        "started_t": start.get("t"),
        "profile": (start.get("profile") or {}).get("name"),
        "machine": " ".join(str(host[k]) for k in ("system_vendor", "system_product") if host.get(k)) or None,
        "hostname": host.get("hostname"),
        "system_serial": system_serial(contents),
        "verdict": end.get("verdict") or "INCOMPLETE",
        "duration_s": end.get("duration_s") if end else (
            (contents.records[-1].get("t") or 0) - (start.get("t") or 0) if contents.records else 0),
    }


def _rows(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


# -- hardware --------------------------------------------------------------------------------------
def _f(severity: Severity, component: str, code: str, message: str, **evidence: Any) -> Finding:
    return Finding(MODULE, severity, component, code, message, evidence)


def _size(value: Any) -> str:
    if isinstance(value, (int, float)) and value > 0:
        for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
            if value >= size:
                return f"{value / size:.3g} {unit}"
    return ""


def _disk_label(disk: Mapping[str, Any]) -> str:
    parts = [str(p) for p in (_pick(disk, "model", "model_name"), _size(_pick(disk, "size_bytes", "size")),
                              _pick(disk, "dev_path", "name", "path", "device")) if p]
    return ", ".join(parts)


def compare_disks(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> tuple[list[Finding], list[str]]:
    key = lambda d: _serial(_pick(d, "serial", "serial_number", "wwn"))  # noqa: E731
    in_a = {key(d): d for d in a if key(d)}
    in_b = {key(d): d for d in b if key(d)}
    findings = [_f(Severity.FAIL, f"disk:S/N {sn}", "disk-missing",
                   f"Disk S/N {sn} ({_disk_label(d)}) of the first run is not in the second: removed or swapped.",
                   serial=sn, a=dict(d))
                for sn, d in in_a.items() if sn not in in_b]
    findings += [_f(Severity.WARN, f"disk:S/N {sn}", "disk-new",
                    f"Disk S/N {sn} ({_disk_label(d)}) is in the second run only.", serial=sn, b=dict(d))
                 for sn, d in in_b.items() if sn not in in_a]
    same = sum(1 for sn in in_a if sn in in_b)
    unchanged = [f"{same} disk(s) by serial"] if same else []
    unmatched = sum(1 for d in list(a) + list(b) if not key(d))
    if unmatched:
        unchanged.append(f"{unmatched} disk(s) without a serial number not compared")
    return findings, unchanged


def _dimms(memory: Any) -> dict[str, Mapping[str, Any]]:
    dimms = {}
    for dimm in _rows(_pick(memory, "dimms", "devices", "modules")):
        if dimm.get("populated") is False or dimm.get("size_bytes") == 0:
            continue
        slot = " ".join(str(p) for p in (dimm.get("bank_locator"), dimm.get("locator")) if p) or None
        if slot:
            dimms[slot] = dimm
    return dimms


def _dimm_label(dimm: Mapping[str, Any]) -> str:
    size = _pick(dimm, "size_bytes")
    size_text = f"{size / 2**30:g} GiB" if isinstance(size, (int, float)) and size > 0 else ""
    serial = f"S/N {dimm['serial']}" if dimm.get("serial") else ""
    parts = [str(p) for p in (_pick(dimm, "manufacturer"), _pick(dimm, "part_number"), size_text, serial) if p]
    return " ".join(parts) or "a module"


def compare_memory(a: Any, b: Any) -> tuple[list[Finding], list[str]]:
    dimms_a, dimms_b = _dimms(a), _dimms(b)
    findings: list[Finding] = []
    if dimms_a and dimms_b:
        for slot, dimm in dimms_a.items():
            other = dimms_b.get(slot)
            if other is None:
                findings.append(_f(Severity.FAIL, f"dimm:{slot}", "dimm-missing",
                                   f"Slot {slot} held {_dimm_label(dimm)} in the first run and is empty in the second.",
                                   a=dict(dimm)))
                continue
            differs = [k for k in ("serial", "size_bytes", "part_number")
                       if dimm.get(k) not in (None, "") and other.get(k) not in (None, "")
                       and str(dimm.get(k)).strip() != str(other.get(k)).strip()]
            if differs:
                findings.append(_f(Severity.FAIL, f"dimm:{slot}", "dimm-swapped",
                                   f"Slot {slot} held {_dimm_label(dimm)} in the first run and {_dimm_label(other)} "
                                   f"in the second.", differs=differs, a=dict(dimm), b=dict(other)))
        findings += [_f(Severity.WARN, f"dimm:{slot}", "dimm-new",
                        f"Slot {slot} holds {_dimm_label(d)} in the second run only.", b=dict(d))
                     for slot, d in dimms_b.items() if slot not in dimms_a]
        same = sum(1 for slot in dimms_a if slot in dimms_b) - sum(1 for f in findings if f.code == "dimm-swapped")
        return findings, [f"{same} DIMM(s) by slot and serial"] if same else []
    total_a = _pick(a, "total_bytes", "mem_total_bytes", "dimm_total_bytes")
    total_b = _pick(b, "total_bytes", "mem_total_bytes", "dimm_total_bytes")
    if isinstance(total_a, (int, float)) and isinstance(total_b, (int, float)) and total_a > 0:
        if total_b < total_a * 0.99:  # the kernel's share of reserved memory moves a little between boots
            findings.append(_f(Severity.FAIL, "memory", "memory-smaller",
                               f"The second run has {total_b / 2**30:.1f} GiB of memory, the first "
                               f"{total_a / 2**30:.1f} GiB.", a_bytes=total_a, b_bytes=total_b))
            return findings, []
        return findings, [f"memory size ({total_a / 2**30:.0f} GiB; no slot list to compare modules)"]
    return findings, []


def _cpu_facts(cpu: Any) -> dict[str, Any]:
    if isinstance(cpu, list):  # one entry per socket
        rows = _rows(cpu)
        return {"model": _pick(rows[0], "model", "model_name", "brand", "version", "name") if rows else None,
                "sockets": len(rows) or None}
    return {
        "model": _pick(cpu, "model", "model_name", "brand", "brand_raw", "name"),
        "sockets": _pick(cpu, "sockets", "socket_count", "packages", "count"),
        "cores": _pick(cpu, "cores", "core_count", "physical_cores"),
        "threads": _pick(cpu, "threads", "logical_cpus", "logical", "thread_count", "cpus"),
    }


def compare_cpu(a: Any, b: Any) -> tuple[list[Finding], list[str]]:
    fa, fb = _cpu_facts(a), _cpu_facts(b)
    findings = []
    model_a, model_b = (" ".join(str(f["model"]).split()) if f.get("model") else None for f in (fa, fb))
    if model_a and model_b and model_a != model_b:
        findings.append(_f(Severity.FAIL, "cpu", "cpu-changed",
                           f"The CPU model changed from {model_a} to {model_b}.", a=model_a, b=model_b))
    for key, severity, code in (("sockets", Severity.FAIL, "cpu-count-changed"),
                                ("cores", Severity.WARN, "cpu-cores-changed"),
                                ("threads", Severity.WARN, "cpu-cores-changed")):
        va, vb = fa.get(key), fb.get(key)
        if va is not None and vb is not None and va != vb:
            findings.append(_f(severity, "cpu", code, f"The CPU {key} changed from {va} to {vb}.", key=key, a=va, b=vb))
    unchanged = [f"CPU ({model_a}, {fa.get('sockets') or '?'} socket(s))"] if model_a and not findings else []
    ppin_findings, ppin_same = compare_ppins(a, b)
    return findings + ppin_findings, unchanged + ppin_same


def _ppins(cpu: Any) -> dict[str, Any]:
    """PPIN -> socket (package) of an inventory's CPU record; {} where the run read none."""
    rows = _rows(cpu.get("ppins")) if isinstance(cpu, Mapping) else []
    out = {}
    for row in rows:
        ppin = _serial(row.get("ppin"))
        if ppin and ppin not in ("0x0", "0"):
            out[ppin.lower()] = row.get("package")
    return out


def compare_ppins(a: Any, b: Any) -> tuple[list[Finding], list[str]]:
    """The processors themselves, by PPIN: a CPU of the first run that is not in the second was swapped."""
    in_a, in_b = _ppins(a), _ppins(b)
    if not in_a or not in_b:
        if in_a or in_b:
            return [_f(Severity.INFO, "cpu", "cpu-ppin-unknown",
                       f"Only the {'first' if in_a else 'second'} run read the CPUs' PPINs, so whether the same "
                       "processors came back cannot be told.", a=sorted(in_a), b=sorted(in_b))], []
        return [], []
    findings = [_f(Severity.FAIL, f"cpu:socket{socket}", "cpu-swapped",
                   f"The CPU in socket {socket} of the first run (PPIN {ppin}) is not in the second: another "
                   "processor of the same model was fitted.", ppin=ppin, socket=socket, b=sorted(in_b))
                for ppin, socket in in_a.items() if ppin not in in_b]
    findings += [_f(Severity.WARN, f"cpu:socket{socket}", "cpu-new",
                    f"The CPU in socket {socket} of the second run (PPIN {ppin}) was not in the first.",
                    ppin=ppin, socket=socket, a=sorted(in_a)) for ppin, socket in in_b.items() if ppin not in in_a]
    same = sum(1 for ppin in in_a if ppin in in_b)
    return findings, [f"{same} CPU(s) by PPIN"] if same else []


def _mac(nic: Mapping[str, Any]) -> str | None:
    mac = _pick(nic, "mac", "mac_address", "permaddr", "perm_addr", "address")
    mac = str(mac).strip().lower() if mac else None
    return None if not mac or mac == "00:00:00:00:00:00" else mac


def _physical(nic: Mapping[str, Any]) -> bool:
    """Bridges, bonds, containers' veths and SR-IOV functions get new MACs at will: not hardware to compare."""
    return nic.get("physical") is not False and not nic.get("virtual_function")


def compare_nics(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> tuple[list[Finding], list[str]]:
    in_a = {m: n for n in a if _physical(n) and (m := _mac(n))}
    in_b = {m: n for n in b if _physical(n) and (m := _mac(n))}
    findings = [_f(Severity.FAIL, f"nic:{mac}", "nic-missing",
                   f"Network port {mac} ({_pick(n, 'name', 'ifname') or '?'}) of the first run is not in the second.",
                   mac=mac, a=dict(n)) for mac, n in in_a.items() if mac not in in_b]
    findings += [_f(Severity.WARN, f"nic:{mac}", "nic-new",
                    f"Network port {mac} ({_pick(n, 'name', 'ifname') or '?'}) is in the second run only.",
                    mac=mac, b=dict(n)) for mac, n in in_b.items() if mac not in in_a]
    same = sum(1 for mac in in_a if mac in in_b)
    return findings, [f"{same} NIC(s) by MAC"] if same else []


def compare_hardware(a: JournalContents, b: JournalContents) -> tuple[list[Finding], list[str]]:
    findings: list[Finding] = []
    serial_a, serial_b = system_serial(a), system_serial(b)
    if serial_a and serial_b and serial_a != serial_b:
        findings.append(_f(Severity.FAIL, "system", "different-machine",
                           f"These are two different machines: system serial {serial_a} in the first run, "
                           f"{serial_b} in the second.", a=serial_a, b=serial_b))
    elif not (serial_a and serial_b):
        findings.append(_f(Severity.INFO, "system", "serial-unknown",
                           "A system serial number is missing, so it cannot be told whether both runs are of the "
                           "same machine.", a=serial_a, b=serial_b))
    inv_a, inv_b = inventory_of(a), inventory_of(b)
    if not inv_a or not inv_b:
        missing = " and ".join(n for n, inv in (("first", inv_a), ("second", inv_b)) if not inv)
        findings.append(_f(Severity.WARN, "inventory", "no-inventory",
                           f"The {missing} run has no inventory record, so the hardware was not compared.",
                           a=bool(inv_a), b=bool(inv_b)))
        return findings, []
    unchanged: list[str] = []
    for found, same in (compare_cpu(inv_a.get("cpu"), inv_b.get("cpu")),
                        compare_memory(inv_a.get("memory"), inv_b.get("memory")),
                        compare_disks(_rows(inv_a.get("disks")), _rows(inv_b.get("disks"))),
                        compare_nics(_rows(inv_a.get("nics")), _rows(inv_b.get("nics")))):
        findings += found
        unchanged += same
    return findings, unchanged


# -- findings and samples --------------------------------------------------------------------------
def _judged(contents: JournalContents) -> dict[tuple[str, str], Finding]:
    found: dict[tuple[str, str], Finding] = {}
    for record in contents.of_type("finding"):
        finding = Finding.from_record(record)
        if finding.severity is not Severity.INFO:
            key = (finding.code, finding.component)
            if key not in found or finding.severity is Severity.FAIL:
                found[key] = finding
    return found


def compare_findings(a: JournalContents, b: JournalContents) -> tuple[list[Finding], list[Finding]]:
    """Failures and warnings new in B (as compare findings of the same severity), and those gone from B."""
    in_a, in_b = _judged(a), _judged(b)
    new = [_f(f.severity, f.component, "new-finding",
              f"New in the second run: {f.message}", finding_code=f.code, module=f.module,
              evidence=dict(f.evidence))
           for key, f in in_b.items() if key not in in_a]
    gone = [f for key, f in in_a.items() if key not in in_b]
    return new, gone


def is_throughput(unit: str) -> bool:
    unit = unit.lower()
    return unit in THROUGHPUT_UNITS or unit.endswith(("_per_s", "bps"))


def compare_samples(a: JournalContents, b: JournalContents, temp_rise_c: float, throughput_drop_pct: float
                    ) -> tuple[list[Finding], list[MetricChange]]:
    def numbers(contents: JournalContents) -> dict[tuple[str, str], list[float]]:
        return {(s.module, s.metric): [float(v) for v in s.values if isinstance(v, (int, float))
                                       and not isinstance(v, bool) and v == v]
                for s in journal_series(contents)
                if unit_of(s.metric) == "temp_c" or is_throughput(unit_of(s.metric))}

    series_a, series_b = numbers(a), numbers(b)
    findings, changes = [], []
    for key, values_a in series_a.items():
        values_b = series_b.get(key)
        if not values_a or not values_b:
            continue
        module, metric = key
        name = metric.split(":", 1)[1] if ":" in metric else metric
        if unit_of(metric) == "temp_c":
            peak_a, peak_b = max(values_a), max(values_b)
            rise = peak_b - peak_a
            flagged = rise > temp_rise_c
            changes.append(MetricChange(module, metric, "peak", peak_a, peak_b, rise, flagged))
            if flagged:
                findings.append(_f(Severity.WARN, f"sensor:{name}", "temp-higher",
                                   f"{name} peaked at {peak_b:g} °C in the second run, {rise:.1f} °C above the first "
                                   f"run's {peak_a:g} °C.", metric=metric, a_peak_c=peak_a, b_peak_c=peak_b,
                                   threshold_c=temp_rise_c))
        else:
            median_a, median_b = statistics.median(values_a), statistics.median(values_b)
            if median_a <= 0:
                continue
            drop_pct = (median_a - median_b) / median_a * 100
            flagged = drop_pct > throughput_drop_pct
            changes.append(MetricChange(module, metric, "median", median_a, median_b, -drop_pct, flagged))
            if flagged:
                findings.append(_f(Severity.WARN, f"metric:{metric}", "throughput-lower",
                                   f"{metric} was {drop_pct:.0f}% lower in the second run (median {median_b:g} against "
                                   f"{median_a:g}).", metric=metric, a_median=median_a, b_median=median_b,
                                   threshold_pct=throughput_drop_pct))
    return findings, changes


# -- the comparison --------------------------------------------------------------------------------
def compare(a: JournalContents, b: JournalContents, temp_rise_c: float = TEMP_RISE_C,
            throughput_drop_pct: float = THROUGHPUT_DROP_PCT) -> CompareResult:
    """A (the earlier run) against B (the later one)."""
    hardware, unchanged = compare_hardware(a, b)
    new, gone = compare_findings(a, b)
    drift, metrics = compare_samples(a, b, temp_rise_c, throughput_drop_pct)
    findings = hardware + new + drift
    counts = {s.value: sum(1 for f in findings if f.severity is s) for s in Severity}
    verdict = Verdict.FAIL if counts["fail"] else Verdict.WARN if counts["warn"] else Verdict.PASS
    return CompareResult(findings, metrics, unchanged, gone, describe(a), describe(b), verdict, counts)


# -- text ------------------------------------------------------------------------------------------
def _wrap(text: str, indent: int) -> list[str]:
    text = terminal.message(text)
    return textwrap.wrap(text, WIDTH - 1, initial_indent=" " * indent, subsequent_indent=" " * (indent + 2)) or [""]


def _run_line(label: str, run: Mapping[str, Any]) -> str:
    from burnin.profile import format_duration

    machine = run.get("machine") or run.get("hostname") or "unknown machine"
    serial = f" S/N {run['system_serial']}" if run.get("system_serial") else ""
    return (f"{label}: {machine}{serial}, profile {run.get('profile') or '?'}, "
            f"ran {format_duration(float(run.get('duration_s') or 0))}, verdict {run.get('verdict')}")


def render_text(result: CompareResult) -> str:
    heads = {Verdict.PASS: "no difference that matters", Verdict.WARN: "drift: read the warnings",
             Verdict.FAIL: "the hardware or its health differs"}
    thick, thin = "=" * WIDTH, "-" * WIDTH
    lines = [thick, f" COMPARE: {result.verdict.value} - {heads.get(result.verdict, '')}", thick]
    lines += _wrap(_run_line("A (first run)", result.a), 1) + _wrap(_run_line("B (second run)", result.b), 1)
    marks = {Severity.FAIL: "FAIL", Severity.WARN: "WARN", Severity.INFO: "info"}
    sections = (("Hardware", lambda f: f.code not in ("new-finding", "temp-higher", "throughput-lower")),
                ("New in B", lambda f: f.code == "new-finding"),
                ("Drift", lambda f: f.code in ("temp-higher", "throughput-lower")))
    for title, chosen in sections:
        own = [f for f in result.findings if chosen(f)]
        if not own and not (title == "Hardware" and result.unchanged):
            continue
        lines += [thin, f" {title}"]
        for finding in own:
            lines += _wrap(f"{marks[finding.severity]} {finding.component} [{finding.code}]", 2)
            lines += _wrap(finding.message, 7)
        if title == "Hardware" and result.unchanged:
            lines += _wrap("same: " + "; ".join(result.unchanged), 2)
    if result.gone:
        lines += [thin, " Gone in B (reported by A only)"]
        for finding in result.gone:
            lines += _wrap(f"{marks[finding.severity]} {finding.component} [{finding.code}]", 2)
    if result.metrics:
        lines += [thin, f" {'metric':<46}{'A':>9}{'B':>9}{'change':>11}"]
        for m in result.metrics:
            change = f"{round(m.change, 1) + 0.0:+.1f} °C" if m.statistic == "peak" else f"{round(m.change):+d}%"
            label = f"{m.metric} ({m.statistic})"
            if len(label) > 45:
                label = label[:44] + "~"
            lines.append(f" {label:<46}{m.a:>9.4g}{m.b:>9.4g}{change:>11}" + ("  <" if m.flagged else ""))
    lines.append(thick)
    # Every line is one line: a journal's strings are shown, not obeyed.
    return "\n".join(terminal.field(line, 4000) for line in lines)
