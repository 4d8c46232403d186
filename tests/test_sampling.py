"""The journal's sample budget (burnin.sampling): a long run of a big server fits its budget, keeps exact peaks in
the folded envelope, and per-second samples around every finding; a short run is written as before.

The journals are made by scripts/bench/make_journal.py's server simulation, which writes through the same
SampleBudget the runner uses; the full-size figure (24 h, 2 sockets, 256 threads, 24 DIMMs, 24 disks) comes from
that script and is given in the issue's note.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

from burnin.journal import read
from burnin.report.charts import journal_series
from burnin.sampling import DETAIL_S, SampleBudget, planned_interval_s

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def make_journal():
    spec = importlib.util.spec_from_file_location("make_journal", ROOT / "scripts" / "bench" / "make_journal.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_journal"] = module
    spec.loader.exec_module(module)
    return module


def test_the_interval_grows_with_the_run_and_the_metrics():
    assert planned_interval_s(2000, 1.0, 600, 10e6) == 0.0  # ten minutes fit: raw
    day = planned_interval_s(2000, 1.0, 86400, 10e6)
    assert day > 1 and planned_interval_s(2000, 1.0, 2 * 86400, 10e6) == pytest.approx(2 * day, rel=0.01)
    assert planned_interval_s(20000, 1.0, 86400, 10e6) > 9 * day


def test_a_long_run_of_a_server_fits_its_budget_with_detail_around_each_finding(make_journal, tmp_path):
    budget_mb = 4.0
    path = make_journal.write_server_journal(tmp_path / "server.jsonl", hours=1.0, sockets=2, threads=16, dimms=8,
                                             disks=4, budget_mb=budget_mb)
    raw_mb = sum(len(n) for n in make_journal.server_metric_names(2, 16, 8, 4).values()) * 34 * 3600 / 1e6
    size_mb = path.stat().st_size / 1e6
    assert raw_mb > 2 * budget_mb and size_mb <= budget_mb, (raw_mb, size_mb)

    contents = read(path)
    assert not contents.problems and not contents.bad_lines
    findings = contents.of_type("finding")
    assert len(findings) == 2
    samples = [r for r in contents.records if r["type"] == "sample" and r["module"] == "thermal"]
    times = [s["t"] for s in samples]
    assert times == sorted(times)  # one module's samples stay in time order, folded or not
    folded = [s for s in samples if "fold" in s]
    assert folded and {s["fold"]["stat"] for s in folded} == {"min", "mean", "max"}
    for finding in findings:
        around = [s for s in samples if abs(s["t"] - finding["t"]) <= DETAIL_S - 1]
        # Per-second detail: every second of the four minutes around the finding is there, raw.
        assert all("fold" not in s for s in around)
        assert len(around) >= 2 * (DETAIL_S - 1) - 1
        assert max(b["t"] - a["t"] for a, b in zip(around, around[1:])) <= 1.0

    # The HTML report draws those minutes second by second, one set of charts per finding.
    from burnin.report.html import render_html
    from burnin.verdict import summarize

    html = render_html(summarize(contents, journal=str(path)), contents)
    detail = html.split('<section id="detail">', 1)[1].split("</section>", 1)[0]
    assert detail.count("<figure>") >= 2 and "FAIL sensor:coretemp.0/Package id 0" in detail
    assert "WARN sensor:coretemp.0/Package id 0" in detail
    points = detail.split("<polyline", 1)[1].split('points="', 1)[1].split('"', 1)[0].split()
    assert len(points) >= 2 * DETAIL_S - 2  # a point for each second, not buckets

    # The envelope keeps the true extremes: the folded maximum of a series is the maximum of its raw samples.
    series = {s.metric: s for s in journal_series(contents) if s.module == "thermal"}
    package = series["temp_c:coretemp.0/Package id 0"]
    assert max(package.values) == pytest.approx(max(
        s["metrics"]["temp_c:coretemp.0/Package id 0"] for s in samples))


def test_a_short_run_is_written_raw_and_at_once():
    written = []
    budget = SampleBudget(lambda t, m, metrics, fold: written.append((t, fold)), 50e6, 600, 4)
    for i in range(100):
        budget.sample(1000.0 + i, "thermal", {"temp_c:a": 40.0 + i % 3})
    assert len(written) == 100 and all(fold is None for _, fold in written)


def test_values_that_are_not_finite_numbers_are_written_raw_never_folded():
    written = []
    budget = SampleBudget(lambda t, m, metrics, fold: written.append((t, dict(metrics), fold)), 1e6, 86400 * 30, 1)
    for i in range(400):
        value = None if i == 300 else math.nan if i == 301 else 40.0 + i % 5
        budget.sample(1000.0 + i, "thermal", {"temp_c:a": value, "temp_c:b": 1.0})
    budget.flush()
    raw = [w for w in written if w[2] is None]
    assert any(w[1]["temp_c:a"] is None for w in raw)
    assert any(isinstance(w[1]["temp_c:a"], float) and math.isnan(w[1]["temp_c:a"]) for w in raw)
    assert any(w[2] is not None for w in written)
    times = [w[0] for w in written]
    assert times == sorted(times)
