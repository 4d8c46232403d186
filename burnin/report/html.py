"""The HTML report: one self-contained file to keep, mail or open on a phone.

No script, no external font, stylesheet or image: the charts are inline SVG, the layout one CSS block that
fits a phone's width. It shows the verdict (banner coloured by verdict), the machine, the inventory and the
claims checked against it when the journal has an `inventory` record, findings grouped by component with
their evidence, each module's verdict and reason, and charts of every sampled metric over time.
Every string taken from the journal is escaped: a disk model of `<script>...` shows as text.
"""

from __future__ import annotations

import bisect
import json
from collections import Counter
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from burnin import __version__
from burnin.journal import JournalContents
from burnin.files import write_atomically
from burnin.model import Finding, Severity, Verdict
from burnin.modules.thermal import LIMIT_MAX_C  # what thermal takes for a real limit, not an unset register
from burnin.report import charts, metrics
from burnin.report.before_boot import before_boot
from burnin.report.charts import Limit
from burnin.report.text import headline
from burnin.verdict import RunSummary

_SEVERITY_ORDER = {Severity.FAIL: 0, Severity.WARN: 1, Severity.INFO: 2}
_MAX_NOTES = 200  # notes can be many (a module's traceback per phase); the journal keeps them all
_FOLD_ROWS = 16  # longer inventory lists (a 256-thread CPU topology) start folded
# PCI IDs are hexadecimal everywhere (lspci, pci.ids, datasheets): 0x8086, never 32902. Value: digits.
_HEX_KEYS = {"vendor_id": 4, "device_id": 4, "subsystem_vendor_id": 4, "subsystem_device_id": 4, "class_code": 6}
_ID_NAMES = {"vendor_id": "vendor_name", "device_id": "device_name", "class_code": "class_name"}
_TOP_FAILS = 3  # failing components named in the banner
_MAX_MARKERS = 40  # finding markers per chart

CSS = """
:root { --pass: #1a7f37; --warn: #9a6700; --fail: #cf222e; --error: #8250df; --skip: #6e7781;
  --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  background: var(--bg); }
main { max-width: 1200px; margin: 0 auto; padding: 12px; }
h1 { font-size: 1.5rem; margin: 0; } h2 { font-size: 1.2rem; margin: 1.6rem 0 .5rem; border-bottom: 1px solid
  var(--line); padding-bottom: .2rem; } h3 { font-size: 1rem; margin: 1rem 0 .3rem; }
.banner { color: #fff; padding: 14px 16px; border-radius: 8px; }
.banner p { margin: .3rem 0 0; }
.v-PASS { background: var(--pass); } .v-WARN { background: var(--warn); } .v-FAIL { background: var(--fail); }
.v-ERROR, .v-INCOMPLETE { background: var(--error); } .v-SKIP { background: var(--skip); }
.badge { display: inline-block; color: #fff; border-radius: 4px; padding: 0 6px; font-size: .8rem;
  font-weight: 600; white-space: nowrap; }
.s-fail { background: var(--fail); } .s-warn { background: var(--warn); } .s-info { background: var(--skip); }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .3rem 0; font-size: .9rem; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
td { overflow-wrap: anywhere; }
th { background: var(--soft); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.kv th { width: 12em; }
.ok { color: var(--pass); font-weight: 600; } .bad { color: var(--fail); font-weight: 600; }
.component { border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; margin: .6rem 0; }
.component > h3 { margin: 0 0 .3rem; overflow-wrap: anywhere; }
.finding { margin: .4rem 0; } .finding p { margin: .2rem 0; } .code { font-family: ui-monospace, monospace; }
.muted { color: var(--muted); font-size: .85rem; }
details > summary { cursor: pointer; color: var(--muted); }
pre { background: var(--soft); padding: 6px 8px; border-radius: 4px; white-space: pre-wrap;
  overflow-wrap: anywhere; font-size: .8rem; margin: .2rem 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 520px), 1fr)); gap: 16px; }
figure { margin: 0; border: 1px solid var(--line); border-radius: 8px; padding: 8px; min-width: 0; }
figcaption { font-weight: 600; margin-bottom: 4px; }
svg.chart { width: 100%; height: auto; display: block; font: 16px system-ui, sans-serif; }
svg .plot { fill: #fff; stroke: var(--line); } svg .grid { stroke: #eaeef2; stroke-width: 1; }
svg .ytick { text-anchor: end; dominant-baseline: middle; fill: var(--muted); }
svg .xtick, svg .axis { text-anchor: middle; fill: var(--muted); } svg .xtick.end { text-anchor: end; }
svg .line { fill: none; stroke-width: 1.5; stroke-linejoin: round; vector-effect: non-scaling-stroke; }
svg .band { fill-opacity: .15; stroke-opacity: .45; stroke-width: 1; vector-effect: non-scaling-stroke; }
svg .limit { stroke-width: 1.5; stroke-dasharray: 6 4; vector-effect: non-scaling-stroke; }
svg .limit.crit { stroke: var(--fail); } svg .limit.max { stroke: var(--warn); }
svg .limitlabel { text-anchor: end; font-size: 14px; } svg .limitlabel.crit { fill: var(--fail); }
svg .limitlabel.max { fill: var(--warn); }
.legend td { padding: 1px 6px; } .swatch { width: 24px; height: 6px; vertical-align: middle; margin-right: 4px; }
svg .marker { stroke-width: 1.5; vector-effect: non-scaling-stroke; } svg line.marker { stroke-dasharray: 2 3; }
svg .marker.fail { stroke: var(--fail); fill: var(--fail); } svg .marker.warn { stroke: var(--warn); fill: var(--warn); }
.banner ul { margin: .4rem 0 0; padding-left: 1.2rem; } .banner .top li { margin: .1rem 0; }
.when { color: var(--muted); font-size: .85rem; font-variant-numeric: tabular-nums; margin-right: .3rem; }
footer { margin: 2rem 0 1rem; color: var(--muted); font-size: .8rem; }
@media (max-width: 600px) { body { font-size: 14px; } main { padding: 8px; } .kv th { width: auto; } }
@media print {
  body { font-size: 10pt; } main { max-width: none; padding: 0; }
  .banner, .badge, svg .marker, svg .band { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .charts { display: block; } .scroll { overflow: visible; }
  figure { break-inside: avoid; page-break-inside: avoid; margin: 0 0 10pt; }
  svg.chart { max-height: 8cm; } .component, .finding, tr { break-inside: avoid; page-break-inside: avoid; }
  h2, h3 { break-after: avoid; page-break-after: avoid; } details > summary { color: var(--fg); }
}
"""


# -- small helpers ---------------------------------------------------------------------------------
def _text(value: Any, key: Any = "") -> str:
    """Any journal value as escaped text: sizes in bytes also in GB and GiB, nested data as compact JSON."""
    if value is None:
        return '<span class="muted">unknown</span>'
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) and str(key).endswith("_bytes") and value >= 10**6:
        return f"{value / 1e9:,.1f} GB = {value / 2**30:,.1f} GiB"
    if isinstance(value, int) and not isinstance(value, bool) and key in _HEX_KEYS:
        return f"0x{value:0{_HEX_KEYS[key]}x}"
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) for v in value):
        return escape(", ".join(map(str, value))) if value else '<span class="muted">none</span>'
    if isinstance(value, (dict, list)):
        return escape(json.dumps(value, ensure_ascii=False, default=str))
    return escape(str(value))


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%H:%M:%S")


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(t: Any) -> str:
    if not isinstance(t, (int, float)):
        return "unknown"
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(seconds: float) -> str:
    return charts.elapsed_label(seconds) if seconds >= 1 else f"{seconds:.1f}s"


def kv_table(mapping: Mapping[str, Any], fold_unknown: bool = False, raw: bool = False) -> str:
    """Keys and values; with fold_unknown, the keys without a value are one line below instead of rows;
    raw: numbers exactly as recorded (evidence)."""
    unknown = [k for k, v in mapping.items() if v is None] if fold_unknown else []
    rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{_text(v, '' if raw else k)}</td></tr>"
                   for k, v in mapping.items() if not (fold_unknown and v is None))
    table = f'<div class="scroll"><table class="kv">{rows}</table></div>' if rows else ""
    if unknown:
        table += f'<p class="muted">unknown: {escape(", ".join(map(str, unknown)))}</p>'
    return table


def rows_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A list of records as one table, the columns the union of their keys (robust to missing ones)."""
    columns = list(dict.fromkeys(k for row in rows if isinstance(row, Mapping) for k in row))
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(row, c)}</td>" for c in columns) + "</tr>"
                   for row in rows if isinstance(row, Mapping))
    return f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'


def _cell(row: Mapping[str, Any], column: str) -> str:
    """A table cell; a PCI ID in hex with its name from the same row ("0x8086 Intel Corporation")."""
    if column not in row:
        return ""
    text = _text(row.get(column), column)
    name = row.get(_ID_NAMES.get(column, ""))
    if column in _HEX_KEYS and isinstance(row.get(column), int) and isinstance(name, str) and name:
        text += f' <span class="muted">{escape(name)}</span>'
    return text


def _section_body(value: Any) -> str:
    """An inventory part: key/values as one table, each list of records as its own (long ones folded)."""
    if isinstance(value, Mapping):
        scalars = {k: v for k, v in value.items() if not _is_rows(v)}
        parts = [kv_table(scalars, fold_unknown=True)] if scalars else []
        for key, rows in value.items():
            if _is_rows(rows):
                title = f"{escape(str(key))} ({len(rows)})"
                parts.append(f"<details><summary>{title}</summary>{rows_table(rows)}</details>"
                             if len(rows) > _FOLD_ROWS else f"<h4>{title}</h4>{rows_table(rows)}")
        return "".join(parts)
    if _is_rows(value):
        return rows_table(value)
    if isinstance(value, list):
        return "<ul>" + "".join(f"<li>{_text(item)}</li>" for item in value) + "</ul>"
    return f"<p>{_text(value)}</p>"


def _is_rows(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


# -- sections --------------------------------------------------------------------------------------
def banner(summary: RunSummary) -> str:
    verdict = summary.verdict.value
    lines = [f"<h1>{escape(headline(summary))}</h1>"]
    if summary.ended_unexpectedly:
        lines.append("<p>The run ended unexpectedly: the journal stops without an end record (burnin was killed, "
                     "crashed, or the machine hung, rebooted or lost power).</p>")
    elif summary.interrupted:
        lines.append(f"<p>The run was interrupted ({escape(summary.interrupted)}) before it finished.</p>")
    if summary.reason and summary.verdict is not Verdict.PASS:
        lines.append(f"<p>Why: {escape(summary.reason)}</p>")
    fails = [f for f in summary.findings if f.severity is Severity.FAIL]
    if fails:
        items = "".join(f"<li><b>{escape(f.component)}</b>: {escape(f.message)}</li>" for f in fails[:_TOP_FAILS])
        more = f"<li>and {len(fails) - _TOP_FAILS} more, below</li>" if len(fails) > _TOP_FAILS else ""
        lines.append(f'<ul class="top">{items}{more}</ul>')
    if summary.untested:
        items = "".join(f"<li>{escape(u.area)}: {escape(u.reason or u.verdict)}</li>" for u in summary.untested)
        lines.append(f'<div class="untested"><p>NOT tested:</p><ul>{items}</ul></div>')
    counts = summary.counts or {}
    lines.append(f"<p>{counts.get('fail', 0)} failure(s), {counts.get('warn', 0)} warning(s), "
                 f"{len(summary.modules)} module(s), ran {_duration(summary.duration_s)}</p>")
    return f'<section class="banner v-{escape(verdict)}" id="verdict">{"".join(lines)}</section>'


def machine_section(summary: RunSummary) -> str:
    start = summary.run_start
    host = start.get("host") or {}
    profile = start.get("profile") or {}
    facts = {
        "machine": " ".join(str(host[k]) for k in ("system_vendor", "system_product") if host.get(k)) or None,
        "serial number": host.get("system_serial"),
        "hostname": host.get("hostname"),
        "captured tree": host.get("sysroot"),
        "profile": f"{profile.get('name', '?')} ({start.get('mode', 'run')})",
        "started": _when(start.get("t")),
        "ran for": _duration(summary.duration_s),
        "modules": ", ".join(map(str, start.get("modules") or [])) or None,
        "burnin": start.get("burnin_version"),
        "run id": start.get("run_id"),
        "journal": summary.journal or None,
    }
    facts = {k: v for k, v in facts.items() if v is not None or k in ("machine", "serial number")}
    return f'<section id="machine"><h2>Machine</h2>{kv_table(facts)}</section>'


def inventory_section(record: Mapping[str, Any] | None) -> str:
    if not record:
        return ""
    parts = ['<section id="inventory"><h2>Inventory</h2>']
    claims = record.get("claims")
    if isinstance(claims, list) and claims:
        rows = []
        for claim in claims:
            if not isinstance(claim, Mapping):
                continue
            ok = claim.get("ok")
            mark = '<span class="ok">ok</span>' if ok is True else (
                '<span class="bad">MISMATCH</span>' if ok is False else '<span class="muted">not checked</span>')
            rows.append(f"<tr><td>{_text(claim.get('key'))}</td><td>{_text(claim.get('expected'))}</td>"
                        f"<td>{_text(claim.get('found'))}</td><td>{mark}</td></tr>")
        parts.append('<h3>Claims (what the seller said) against what was found</h3><div class="scroll"><table>'
                     "<tr><th>claim</th><th>expected</th><th>found</th><th></th></tr>" + "".join(rows) +
                     "</table></div>")
    inventory = record.get("inventory")
    if isinstance(inventory, Mapping):
        order = ["system", "cpu", "memory", "disks", "nics", "pcie"]
        for key in order + [k for k in inventory if k not in order]:
            if key in inventory and inventory[key] not in (None, {}, []):
                parts.append(f"<h3>{escape(str(key))}</h3>{_section_body(inventory[key])}")
    parts.append("</section>")
    return "".join(parts)


def modules_section(summary: RunSummary) -> str:
    if not summary.modules:
        return '<section id="modules"><h2>Modules</h2><p>No module ran.</p></section>'
    rows = "".join(
        f'<tr><td>{escape(name)}</td><td><span class="badge v-{escape(verdict.value)}">{escape(verdict.value)}'
        f"</span></td><td>{escape(summary.module_reasons.get(name, ''))}</td></tr>"
        for name, verdict in summary.modules.items())
    return (f'<section id="modules"><h2>Modules</h2><div class="scroll"><table><tr><th>module</th><th>verdict</th>'
            f"<th>reason</th></tr>{rows}</table></div></section>")


def _finding(finding: Finding, open_evidence: bool, t: float | None = None, start_t: float | None = None) -> str:
    severity = finding.severity.value
    when = ""
    if t is not None:
        since = f", {_duration(t - start_t)} into the run" if start_t is not None and t >= start_t else ""
        when = f'<time class="when" datetime="{_iso(t)}">{_clock(t)} UTC{since}</time> '
    evidence = ""
    if finding.evidence:
        flat = all(not isinstance(v, (dict, list)) for v in finding.evidence.values())
        body = kv_table(finding.evidence, raw=True) if flat else (
            "<pre>" + escape(json.dumps(dict(finding.evidence), indent=1, ensure_ascii=False, default=str)) + "</pre>")
        evidence = f"<details{' open' if open_evidence else ''}><summary>evidence</summary>{body}</details>"
    return (f'<div class="finding">{when}<span class="badge s-{severity}">{severity.upper()}</span> '
            f'<span class="code">{escape(finding.code)}</span> <span class="muted">({escape(finding.module)})</span>'
            f"<p>{escape(finding.message)}</p>{evidence}</div>")


def before_boot_section(findings: Sequence[Finding]) -> str:
    """What the machine recorded before this boot (the history module), above everything the run found."""
    section = before_boot(findings)
    if section is None:
        return ""
    parts = ['<section id="before-boot"><h2>Before this boot</h2>']
    if section.records:
        parts += [_finding(f, f.severity is Severity.FAIL) for f in section.records]
    else:
        parts.append(f"<p>{escape(section.headline())}</p>")
    if section.sources:
        parts.append("<details><summary>sources</summary>" + kv_table(section.sources, raw=True) + "</details>")
    parts.append("</section>")
    return "".join(parts)


def findings_section(findings: Sequence[Finding], times: Sequence[float | None] = (),
                     start_t: float | None = None) -> str:
    """Failures and warnings by component (the worst first), each with its time; information folded."""
    timed = list(zip(findings, list(times) + [None] * (len(findings) - len(times))))
    by_component: dict[str, list[tuple[Finding, float | None]]] = {}
    for finding, t in timed:
        if finding.severity is not Severity.INFO:
            by_component.setdefault(finding.component, []).append((finding, t))
    infos = [(f, t) for f, t in timed if f.severity is Severity.INFO]
    parts = ['<section id="findings"><h2>Findings by component</h2>']
    if not by_component:
        parts.append("<p>No failures and no warnings.</p>")
    ranked = sorted(by_component.items(), key=lambda kv: min(_SEVERITY_ORDER[f.severity] for f, _ in kv[1]))
    for component, own in ranked:
        own.sort(key=lambda pair: _SEVERITY_ORDER[pair[0].severity])
        parts.append(f'<div class="component"><h3>{escape(component)}</h3>' +
                     "".join(_finding(f, f.severity is Severity.FAIL, t, start_t) for f, t in own) + "</div>")
    if infos:
        parts.append(f"<details><summary>Information ({len(infos)})</summary>" +
                     "".join(f'<div class="component"><h3>{escape(f.component)}</h3>{_finding(f, False, t, start_t)}'
                             "</div>" for f, t in infos) + "</details>")
    parts.append("</section>")
    return "".join(parts)


def notes_section(notes: Sequence[Mapping[str, Any]]) -> str:
    if not notes:
        return ""
    shown = notes[:_MAX_NOTES]
    items = "".join(
        f"<li><span class=\"muted\">{escape(str(n.get('module') or 'runner'))}</span> {escape(str(n.get('message', '')))}"
        + (f"<pre>{escape(json.dumps(n.get('data'), ensure_ascii=False, default=str))}</pre>" if n.get("data") else "")
        + "</li>" for n in shown)
    more = f"<p class=\"muted\">{len(notes) - len(shown)} more in the journal.</p>" if len(notes) > len(shown) else ""
    return (f'<section id="notes"><details><summary>Notes ({len(notes)}): facts recorded during the run'
            f"</summary><ul>{items}</ul>{more}</details></section>")


def temperature_limits(findings: Iterable[Finding]) -> list[Limit]:
    """Critical and maximum temperatures named in findings' evidence (thermal's temp-peaks lists them all)."""
    found: dict[tuple[str, float], Limit] = {}

    def add(kind: str, value: Any) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= LIMIT_MAX_C:
            found.setdefault((kind, float(value)), Limit("temp_c", float(value), f"{kind} {value:g} °C", kind))

    for finding in findings:
        evidence = finding.evidence or {}
        temps = evidence.get("temps")
        sources = list(temps.values()) if isinstance(temps, Mapping) else []
        if finding.component.startswith("sensor:"):
            sources.append(evidence)
        for source in sources:
            if isinstance(source, Mapping):
                add("crit", source.get("crit_c"))
                add("max", source.get("max_c"))
    # Many sensors share limits; more than a few lines would hide the data.
    crit = sorted((lim for lim in found.values() if lim.kind == "crit"), key=lambda lim: lim.value)[:2]
    high = sorted((lim for lim in found.values() if lim.kind == "max"), key=lambda lim: lim.value)[:2]
    return crit + high


def finding_markers(findings: Sequence[Finding], times: Sequence[float | None]) -> list[tuple[str, charts.Marker]]:
    """(module, marker) for every failure and warning with a time."""
    out = []
    for finding, t in zip(findings, times):
        if finding.severity is Severity.INFO or not isinstance(t, (int, float)):
            continue
        out.append((finding.module, charts.Marker(float(t), finding.severity.value,
                                                  f"{_clock(t)} UTC {finding.severity.value.upper()} "
                                                  f"{finding.component}: {finding.message}")))
    return out


def _single_values(unit: str, drawn: Sequence[tuple[str, charts.Decimated]]) -> str:
    """A metric sampled once is a number, not a chart of one dot."""
    m = metrics.metric(unit)
    items = "".join(f"<tr><td>{escape(label)}</td><td class=\"num\">{escape(m.with_unit(data.last))}</td></tr>"
                    for label, data in drawn)
    return (f'<figure class="single"><figcaption>{escape(metrics.title_with_unit(unit))}</figcaption>'
            f'<p class="muted">Sampled once, so shown as a number:</p><div class="scroll"><table class="legend">'
            f"{items}</table></div></figure>")


def charts_section(contents: JournalContents, start_t: float, end_t: float, limits: Sequence[Limit],
                   markers: Sequence[tuple[str, charts.Marker]] = ()) -> str:
    series = charts.journal_series(contents)
    if not series:
        return '<section id="charts"><h2>Charts</h2><p>No samples were recorded.</p></section>'
    groups = charts.group_series(series)
    lines = sum(1 if len(group) > charts.MAX_LINES else len(group) for _, group in groups)
    points = charts.points_per_series(lines)
    duplicated = {name for name, count in Counter(s.metric for s in series).items() if count > 1}
    notes: set[str] = set()
    figures = [_figure(unit, group, points, duplicated, start_t, end_t, limits, notes, markers)
               for unit, group in groups]
    if markers:
        notes.add("A red (failure) or amber (warning) marker stands at each finding's time.")
    return (f'<section id="charts"><h2>Charts</h2><p class="muted">Times are UTC. A gap in a line is a time with no '
            f'samples. {" ".join(sorted(notes))}</p><div class="charts">{"".join(figures)}</div></section>'
            + detail_section(contents, series, limits, markers))


def _figure(unit: str, group: Sequence[charts.Series], points: int, duplicated: set[str], start_t: float,
            end_t: float, limits: Sequence[Limit], notes: set[str],
            markers: Sequence[tuple[str, charts.Marker]] = (), caption: str = "") -> str:
    """One chart of a group of series of one unit, with its legend ("" when none has a number to draw)."""
    drawn = []
    for s in group:
        data = charts.decimate(s.times, s.values, points)
        if data is not None:
            label = metrics.series_of(s.metric) or metrics.metric(s.metric).title
            drawn.append((f"{s.module}/{label}" if s.metric in duplicated else label, data))
    if not drawn:
        return ""
    if all(d.count < 2 for _, d in drawn):
        return _single_values(unit, drawn)
    if any(d.count > len(d.times) for _, d in drawn):
        notes.add("Long series are shown as buckets: the line is each bucket's mean, the shaded band its min to "
                  "max, so short peaks stay visible.")
    lines_drawn = drawn
    if len(drawn) > charts.MAX_LINES and (merged := charts.envelope([d for _, d in drawn])) is not None:
        lines_drawn = [(f"all {len(drawn)}: mean, and lowest to highest", merged)]
        notes.add(f"Charts with more than {charts.MAX_LINES} series show them together: the band from the "
                  "lowest to the highest of them, the line their mean; the table lists each one.")
    times = [t for _, d in drawn for t in (d.times[0], d.times[-1])]
    t0, t1 = min([start_t] + times), max([end_t] + times)
    modules = {s.module for s in group}
    own = [m for module, m in markers if (module in modules or m.severity == "fail") and t0 <= m.t <= t1]
    svg = charts.svg_chart(unit, lines_drawn, t0, t1, limits, own[:_MAX_MARKERS])
    table = legend(drawn, swatches=lines_drawn is drawn)
    if len(drawn) > charts.MAX_LINES:
        table = f"<details><summary>each of the {len(drawn)} series</summary>{table}</details>"
    return (f"<figure><figcaption>{escape(caption)}{escape(metrics.title_with_unit(unit))}</figcaption>{svg}{table}"
            "</figure>")


DETAIL_FINDINGS = 6  # findings (failures first) whose minutes get charts of their own


def detail_section(contents: JournalContents, series: Sequence[charts.Series], limits: Sequence[Limit],
                   markers: Sequence[tuple[str, charts.Marker]] = ()) -> str:
    """Per-second charts of the finding's module for the minutes around each failure and warning, for a journal
    whose long run was folded to fit its budget (burnin.sampling keeps those minutes raw); "" for any other."""
    from burnin.sampling import DETAIL_S

    if not contents.folded():
        return ""
    records = [r for r in contents.of_type("finding") if r.get("severity") in ("fail", "warn")]
    records.sort(key=lambda r: r.get("severity") != "fail")
    figures = []
    for record in records[:DETAIL_FINDINGS]:
        t, module = record["t"], record.get("module")
        t0, t1 = t - DETAIL_S, t + DETAIL_S
        window = []
        for s in series:
            if s.module != module:
                continue
            try:  # a module's samples are in time order: the window by bisection, not a scan of the day
                first, last = bisect.bisect_left(s.times, t0), bisect.bisect_right(s.times, t1)
            except TypeError:
                continue
            if last - first > 1:
                window.append(charts.Series(s.module, s.metric, s.times[first:last], s.values[first:last]))
        caption = f"{record.get('severity', '').upper()} {record.get('component', '')} at {_when(t)}: "
        for unit, group in charts.group_series(window):
            figures.append(_figure(unit, group, int(2 * DETAIL_S) + 1, set(), t0, t1, limits, set(), markers,
                                   caption))
    if not any(figures):
        return ""
    return (f'<section id="detail"><h2>Around the findings</h2><p class="muted">Each second of the '
            f'{DETAIL_S / 60:g} minutes before and after each failure and warning, for its module (times UTC).</p>'
            f'<div class="charts">{"".join(figures)}</div></section>')


def legend(drawn: Sequence[tuple[str, charts.Decimated]], swatches: bool = True) -> str:
    """Each series' colour (when drawn as its own line), name, min, max and last value."""
    rows = []
    for index, (label, data) in enumerate(drawn):
        stroke, dash = charts.colour(index)
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        swatch = (f'<svg class="swatch" viewBox="0 0 24 6" aria-hidden="true"><line x1="0" y1="3" x2="24" y2="3" '
                  f'stroke="{stroke}" stroke-width="3"{dash_attr}/></svg>') if swatches else ""
        rows.append(f'<tr><td>{swatch}{escape(label)}</td>'
                    f'<td class="num">{metrics.format_number(data.minimum)}</td>'
                    f'<td class="num">{metrics.format_number(data.maximum)}</td>'
                    f'<td class="num">{metrics.format_number(data.last)}</td></tr>')
    return ('<div class="scroll"><table class="legend"><tr><th>series</th><th>min</th><th>max</th><th>last</th></tr>'
            + "".join(rows) + "</table></div>")


# -- the page --------------------------------------------------------------------------------------
def render_html(summary: RunSummary, contents: JournalContents, limits: Sequence[Limit] | None = None) -> str:
    """The whole report as one HTML string. `limits`: lines to draw on the charts (default: from findings)."""
    start = summary.run_start
    start_t = float(start.get("t") or 0.0)
    end_t = float(summary.last_record_t or start_t)
    if limits is None:
        limits = temperature_limits(summary.findings)
    host = start.get("host") or {}
    machine = " ".join(str(host[k]) for k in ("system_vendor", "system_product") if host.get(k))
    title = f"burnin {summary.verdict.value}: {machine or host.get('hostname') or 'unknown machine'}"
    footer = (f"Made by burnin {escape(__version__)} from the journal {escape(summary.journal or '(unnamed)')}"
              f" ({len(contents.records)} records).")
    if summary.torn_tail:
        footer += " The journal's last line was cut short (the writer stopped mid-line); it was ignored."
    times = [r.get("t") if isinstance(r.get("t"), (int, float)) else None for r in contents.of_type("finding")]
    if len(times) != len(summary.findings):
        times = []
    body = "".join([
        banner(summary),
        before_boot_section(summary.findings),
        findings_section(summary.findings, times, start_t or None),
        machine_section(summary),
        modules_section(summary),
        inventory_section(contents.first("inventory")),
        charts_section(contents, start_t, end_t, limits, finding_markers(summary.findings, times)),
        notes_section(contents.of_type("note")),
    ])
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head>"
            f"<body><main>{body}<footer>{footer}</footer></main></body></html>\n")


def write_html(summary: RunSummary, contents: JournalContents, path: str | Path) -> None:
    """`--html FILE`: the report, written atomically (a reader never sees half a file)."""
    write_atomically(path, render_html(summary, contents))
