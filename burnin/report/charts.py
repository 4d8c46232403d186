"""Charts over time from a journal's `sample` records, as inline SVG: no script, no font, no network.

Metrics are grouped by the prefix of their name (`temp_c:`, `fan_rpm:`, `read_mbps:`, any other prefix too);
each group is one chart with one line per metric, titled in words with its unit from the metric catalogue
(burnin.report.metrics), over clock time (UTC), with a marker at each finding's time. A long run is decimated to a few hundred
buckets per series, and each bucket keeps its minimum and maximum, drawn as a band around the mean line, so a
one-second peak in a 24-hour run is still on the chart (and in the legend's max column).
"""

from __future__ import annotations

import gc
import math
import operator
import time
from dataclasses import dataclass
from html import escape
from typing import Any, Callable, Iterable, Sequence

from burnin.journal import JournalContents
from burnin.report import metrics

MAX_POINTS = 600  # per series: ~1 point per 2 px on a wide screen
TOTAL_POINTS = 24_000  # across all lines drawn, so a big machine's report stays small
MAX_LINES = 16  # a chart with more series draws their envelope (min, mean, max across them) instead

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
DASHES = ("", "6 3", "2 3", "8 3 2 3")

# Chart geometry, in viewBox units (the SVG scales to its box; text scales with it).
WIDTH, HEIGHT = 560, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 14, 14, 40


@dataclass(frozen=True)
class Series:
    module: str
    metric: str  # full name with its unit prefix: "temp_c:coretemp.0/Core 1"
    times: Sequence[float]
    values: Sequence[float]

    @property
    def unit(self) -> str:
        return unit_of(self.metric)


@dataclass(frozen=True)
class Decimated:
    """A series cut into buckets: each keeps its time (middle), min, max and mean."""

    times: list[float]
    lows: list[float]
    highs: list[float]
    means: list[float]
    minimum: float
    maximum: float
    last: float
    count: int


@dataclass(frozen=True)
class Limit:
    """A horizontal line on the charts of one unit, e.g. a sensor's critical temperature."""

    unit: str  # "temp_c"
    value: float
    label: str  # "crit 95 °C"
    kind: str = "crit"  # "crit" (red) or "max" (amber)


def unit_of(metric: str) -> str:
    """The prefix that says what a metric is ("temp_c"); a bare name ("ecc_ce_total") is its own."""
    return metrics.prefix_of(metric)


def collect_series(records: Iterable[dict[str, Any]]) -> list[Series]:
    """Every (module, metric) series in the `sample` records, in order of first appearance.

    A module's samples usually carry the same metric names every time: then its rows are read with one
    itemgetter mapped over them and transposed at once (zip), all in C, which keeps a 24-hour journal (3.5
    million values) fast. Otherwise runs of records with the same names are read one record at a time.
    The garbage collector is paused meanwhile: it would rescan the journal's million objects again and again
    while the rows are built, which triples the time.
    """
    columns: dict[tuple[str, str], tuple[list[float], list[Any]]] = {}
    paused = gc.isenabled()
    gc.disable()
    try:
        samples = [r for r in records if r.get("type") == "sample"]
        modules = list(dict.fromkeys(r.get("module") for r in samples))
        for module in modules:
            own = samples if len(modules) == 1 else [r for r in samples if r.get("module") == module]
            if not _uniform(module, own, columns):
                _segmented(module, own, columns)
    finally:
        if paused:
            gc.enable()
    return [Series(str(module), metric, ts, vs) for (module, metric), (ts, vs) in columns.items() if ts]


def journal_series(contents: JournalContents) -> list[Series]:
    """collect_series of a journal: from the sample columns the reader keeps when it has them (no dict per
    sample: `JournalContents.sample_columns`), else from its records. The same series either way."""
    blocks = contents.sample_columns()
    if blocks is None:
        return collect_series(contents.records)
    pieces: dict[tuple[str, str], list[tuple[Sequence[Any], Sequence[Any]]]] = {}
    for module, runs in blocks:
        for names, times, columns in runs:
            for name, column in zip(names, columns):
                pieces.setdefault((module, name), []).append((times, column))
    series = []
    for (module, metric), own in pieces.items():
        if len(own) == 1:
            times, values = own[0]
        else:
            times = [t for ts, _ in own for t in ts]
            values = [v for _, vs in own for v in vs]
        series.append(Series(module, metric, times, values))
    return series


def _add(columns: dict, module: Any, names: Sequence[str], times: list[float], rows: list[Any]) -> None:
    rows = rows if len(names) > 1 else [(v,) for v in rows]
    for name, column in zip(names, zip(*rows)):
        ts, vs = columns.setdefault((module, name), ([], []))
        ts.extend(times)
        vs.extend(column)


def _uniform(module: Any, records: list[dict[str, Any]], columns: dict) -> bool:
    """The fast path: every record of the module has the same metric names and a numeric time."""
    metrics = [r.get("metrics") for r in records]
    times = [r.get("t") for r in records]
    if not metrics or not isinstance(metrics[0], dict) or not metrics[0]:
        return False
    names = tuple(metrics[0])
    try:
        if set(map(len, metrics)) != {len(names)} or not set(map(type, times)) <= {int, float}:
            return False
        rows = list(map(operator.itemgetter(*names), metrics))
    except (TypeError, KeyError):  # a record without metrics, or with other names
        return False
    rows = rows if len(names) > 1 else [(v,) for v in rows]
    for name, column in zip(names, zip(*rows)):
        columns[(module, name)] = (times, column)  # the module's series share one list of times
    return True


def _segmented(module: Any, records: list[dict[str, Any]], columns: dict) -> None:
    """The careful path: runs of records with the same metric names, each run transposed at once."""
    names: tuple[str, ...] = ()
    getter: Callable[[dict], Any] | None = None
    times: list[float] = []
    rows: list[Any] = []
    for record in records:
        metrics, t = record.get("metrics"), record.get("t")
        if not isinstance(metrics, dict) or not metrics or not isinstance(t, (int, float)):
            continue
        if getter is not None and len(metrics) == len(names):
            try:
                rows.append(getter(metrics))
                times.append(t)
                continue
            except KeyError:
                pass
        _add(columns, module, names, times, rows)
        names = tuple(metrics)
        for name in names:  # keep the order of first appearance
            columns.setdefault((module, name), ([], []))
        getter, times, rows = operator.itemgetter(*names), [t], [operator.itemgetter(*names)(metrics)]
    _add(columns, module, names, times, rows)


def _numbers(times: Sequence[float], values: Sequence[Any]) -> tuple[list[float], list[float]]:
    """The samples whose value is a finite number (a module may have sent null, a string or NaN)."""
    pairs = [(t, float(v)) for t, v in zip(times, values)
             if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def decimate(times: Sequence[float], values: Sequence[float], max_points: int = MAX_POINTS) -> Decimated | None:
    """At most `max_points` buckets of consecutive samples, each with its min, max and mean (peaks kept)."""
    try:
        return _decimate(times, values, max_points)
    except (TypeError, ValueError):
        pass
    times, values = _numbers(times, values)
    return _decimate(times, values, max_points) if values else None


def _decimate(times: Sequence[float], values: Sequence[float], max_points: int) -> Decimated | None:
    n = len(values)
    if n == 0:
        return None
    size = max(1, math.ceil(n / max(1, max_points)))
    if size == 1:
        result = Decimated(list(times), list(values), list(values), list(values), min(values), max(values),
                           values[-1], n)
    else:
        ts, lows, highs, means = [], [], [], []
        for start in range(0, n, size):
            chunk = values[start:start + size]
            ts.append((times[start] + times[min(start + size, n) - 1]) / 2)
            lows.append(min(chunk))
            highs.append(max(chunk))
            means.append(sum(chunk) / len(chunk))
        result = Decimated(ts, lows, highs, means, min(lows), max(highs), values[-1], n)
    if not all(map(math.isfinite, (result.minimum, result.maximum, *result.means))):
        raise ValueError("not finite")  # NaN or inf somewhere: take the careful path
    return result


def group_series(series: Sequence[Series]) -> list[tuple[str, list[Series]]]:
    """Series by metric prefix: the catalogue's well-known metrics first (temperatures, fans, CPU), then the rest."""
    groups: dict[str, list[Series]] = {}
    for s in series:
        groups.setdefault(s.unit, []).append(s)
    return [(u, groups[u]) for u in metrics.sorted_prefixes(groups)]


def group_title(unit: str) -> tuple[str, str]:
    """("Temperatures", "°C"): the metric catalogue's title and unit; an unknown prefix in words."""
    m = metrics.metric(unit)
    return m.title, m.unit


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 2.5, 5 x 10^n) covering low..high."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(1, count)
    if not (raw > 0 and math.isfinite(raw)):  # a span float cannot tell apart (values near 2**53, or 1e308)
        return [low if math.isfinite(low) else 0.0]
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value <= high + step * 0.5:
        ticks.append(round(value, 10))
        value += step
        if len(ticks) > 20:
            break
    return ticks


def tick_labels(ticks: Sequence[float]) -> list[str]:
    """Labels with as many decimals as the step needs, so that no two ticks read the same (0.01, 0.0125, ...)."""
    if len(ticks) < 2:
        return [format_value(t) for t in ticks]
    step = min(abs(b - a) for a, b in zip(ticks, ticks[1:])) or 1.0
    for decimals in range(0, 10):
        labels = [f"{t:,.{decimals}f}" for t in ticks]
        if len(set(labels)) == len(labels) and abs(round(step, decimals) - step) < step * 1e-6:
            return ["0" if set(label) <= set("-0.,") else label for label in labels]
    return [f"{t:g}" for t in ticks]


_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
               172800, 604800)


def time_ticks(span_s: float, count: int = 6) -> list[float]:
    step = next((s for s in _TIME_STEPS if span_s / s <= count), _TIME_STEPS[-1])
    return [i * step for i in range(int(span_s // step) + 1)]


def clock_ticks(t0: float, t1: float, count: int = 6) -> list[tuple[float, str]]:
    """Ticks at round clock times (UTC) between t0 and t1, with their labels: 14:05, 14:10 (14:05:30 when the
    step is under a minute, then fewer of them: they are wider; the date when the step is days)."""
    span = max(t1 - t0, 1e-9)
    step = next((s for s in _TIME_STEPS if span / s <= count), _TIME_STEPS[-1])
    if step < 60:
        step = next((s for s in _TIME_STEPS if span / s <= 4), step)
    fmt = "%H:%M:%S" if step < 60 else "%H:%M" if step < 86400 else "%m-%d"
    first = math.ceil(t0 / step) * step
    ticks = []
    t = first
    while t <= t1 + 1e-6 and len(ticks) <= count + 1:
        ticks.append((t, time.strftime(fmt, time.gmtime(t))))
        t += step
    return ticks


def elapsed_label(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds == 0:
        return "0"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts[:2])


def format_value(value: float) -> str:
    return metrics.format_number(value)


def colour(index: int) -> tuple[str, str]:
    return PALETTE[index % len(PALETTE)], DASHES[(index // len(PALETTE)) % len(DASHES)]


def segments(times: Sequence[float]) -> list[tuple[int, int]]:
    """Index ranges [start, end) of the runs of samples without a gap: a pause longer than three usual steps
    (the journal had no samples: the module was stopped, the machine hung) is left open, never bridged."""
    if len(times) < 3:
        return [(0, len(times))] if times else []
    steps = sorted(b - a for a, b in zip(times, times[1:]))
    usual = steps[len(steps) // 2]
    limit = max(usual * 3, 1e-9)
    out, start = [], 0
    for i in range(1, len(times)):
        if times[i] - times[i - 1] > limit:
            out.append((start, i))
            start = i
    out.append((start, len(times)))
    return out


@dataclass(frozen=True)
class Marker:
    """A finding's time on the charts: a vertical line with its severity and words."""

    t: float
    severity: str  # "fail" or "warn"
    label: str


def svg_chart(unit: str, series: Sequence[tuple[str, Decimated]], t0: float, t1: float,
              limits: Sequence[Limit] = (), markers: Sequence[Marker] = ()) -> str:
    """One chart: its title and unit from the metric catalogue, a clock (UTC) time axis, a min-max band and a
    mean line per series (broken where samples are missing), limit lines, and a marker at each finding's time.

    `series` pairs a label with its decimated data; the legend is drawn by the caller (HTML wraps better on
    a phone than SVG text). Coordinates are rounded to 0.1 unit to keep the file small. A counter, or any metric
    that is never negative, gets no axis below zero.
    """
    title, unit_label = group_title(unit)
    kind = metrics.metric(unit).kind
    limits = [lim for lim in limits if lim.unit == unit]
    low = min([d.minimum for _, d in series] + [lim.value for lim in limits])
    high = max([d.maximum for _, d in series] + [lim.value for lim in limits])
    never_negative = kind == "counter" or low >= 0
    if high - low < 1e-9:
        pad = max(1.0, abs(high) * 0.1)
        low, high = low - pad, high + pad
    if never_negative:
        low = max(0.0, low)
    ticks = nice_ticks(low, high)
    if never_negative:
        ticks = [t for t in ticks if t >= 0] or [0.0]
    low, high = min(low, ticks[0]), max(high, ticks[-1])
    labels = tick_labels(ticks)
    left = max(LEFT, 30 + 9 * max(map(len, labels)))  # room for the widest tick label beside the unit
    span = max(t1 - t0, 1e-9)
    plot_w, plot_h = WIDTH - left - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> str:
        return f"{left + (t - t0) / span * plot_w:.1f}"

    span_v = high - low

    def y(v: float) -> str:
        # Values a float cannot tell apart (near 2**53) or span (1e308 apart) are drawn mid-height, not a crash.
        frac = (high - v) / span_v if span_v > 0 and math.isfinite(span_v) else 0.5
        return f"{TOP + (frac if math.isfinite(frac) else 0.5) * plot_h:.1f}"

    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
           f'aria-label="{escape(title)}{f" ({escape(unit_label)})" if unit_label else ""} over time" '
           f'xmlns="http://www.w3.org/2000/svg">',
           f'<rect x="{left}" y="{TOP}" width="{plot_w}" height="{plot_h}" class="plot"/>']
    for tick, label in zip(ticks, labels):
        out.append(f'<line x1="{left}" x2="{WIDTH - RIGHT}" y1="{y(tick)}" y2="{y(tick)}" class="grid"/>'
                   f'<text x="{left - 6}" y="{y(tick)}" class="ytick">{escape(label)}</text>')
    for tick, label in clock_ticks(t0, t1):
        edge = " end" if float(x(tick)) > WIDTH - RIGHT - 24 else ""  # the last label stays inside the chart
        out.append(f'<line x1="{x(tick)}" x2="{x(tick)}" y1="{TOP}" y2="{TOP + plot_h}" class="grid"/>'
                   f'<text x="{x(tick)}" y="{TOP + plot_h + 18}" class="xtick{edge}">{label}</text>')
    out.append(f'<text x="{left + plot_w / 2:.0f}" y="{HEIGHT - 4}" class="axis">time (UTC)</text>')
    out.append(f'<text x="14" y="{TOP + plot_h / 2:.0f}" class="axis" '
               f'transform="rotate(-90 14 {TOP + plot_h / 2:.0f})">{escape(unit_label or title)}</text>')
    for index, (label, data) in enumerate(series):
        stroke, dash = colour(index)
        xs = [x(t) for t in data.times]
        for start, end in segments(data.times):
            part = slice(start, end)
            if data.lows[part] != data.highs[part]:
                band = " ".join(f"{px},{y(v)}" for px, v in zip(xs[part], data.highs[part]))
                band += " " + " ".join(f"{px},{y(v)}" for px, v in zip(reversed(xs[part]),
                                                                       reversed(data.lows[part])))
                out.append(f'<polygon class="band" fill="{stroke}" stroke="{stroke}" points="{band}"><title>'
                           f'{escape(label)} min-max</title></polygon>')
            if end - start == 1:  # a line needs two points: a dot shows a lone sample
                out.append(f'<circle cx="{xs[start]}" cy="{y(data.means[start])}" r="3" fill="{stroke}">'
                           f'<title>{escape(label)}</title></circle>')
                continue
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            points = " ".join(f"{px},{y(v)}" for px, v in zip(xs[part], data.means[part]))
            out.append(f'<polyline class="line" stroke="{stroke}"{dash_attr} points="{points}">'
                       f'<title>{escape(label)}</title></polyline>')
    for lim in limits:
        out.append(f'<line x1="{left}" x2="{WIDTH - RIGHT}" y1="{y(lim.value)}" y2="{y(lim.value)}" '
                   f'class="limit {escape(lim.kind)}"/><text x="{WIDTH - RIGHT - 4}" y="{float(y(lim.value)) - 4:.1f}" '
                   f'class="limitlabel {escape(lim.kind)}">{escape(lim.label)}</text>')
    for marker in markers:
        if t0 - 1e-6 <= marker.t <= t1 + 1e-6:
            out.append(f'<line x1="{x(marker.t)}" x2="{x(marker.t)}" y1="{TOP}" y2="{TOP + plot_h}" '
                       f'class="marker {escape(marker.severity)}"><title>{escape(marker.label)}</title></line>'
                       f'<path d="M{x(marker.t)},{TOP} l-5,-9 h10 z" class="marker {escape(marker.severity)}">'
                       f'<title>{escape(marker.label)}</title></path>')
    out.append("</svg>")
    return "".join(out)


def points_per_series(series_count: int) -> int:
    return max(100, min(MAX_POINTS, TOTAL_POINTS // max(1, series_count)))


def envelope(members: Sequence[Decimated]) -> Decimated | None:
    """Many series of one unit as one: per bucket the lowest low, the highest high and the mean of the means.

    For charts with too many lines to tell apart (a 128-thread machine's busy_pct). Needs the members
    sampled together (same buckets), as one module's metrics are; None otherwise.
    """
    if not members or len({len(m.times) for m in members}) != 1:
        return None
    first = members[0].times
    step = (first[-1] - first[0]) / max(1, len(first) - 1)
    if any(abs(m.times[0] - first[0]) > step or abs(m.times[-1] - first[-1]) > step for m in members):
        return None
    lows = [min(column) for column in zip(*(m.lows for m in members))]
    highs = [max(column) for column in zip(*(m.highs for m in members))]
    means = [sum(column) / len(members) for column in zip(*(m.means for m in members))]
    return Decimated(list(first), lows, highs, means, min(lows), max(highs),
                     sum(m.last for m in members) / len(members), sum(m.count for m in members))
