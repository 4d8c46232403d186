"""The fast journal reader (parse_bytes: sample lines read as columns) reads exactly what the reference reader
(parse_lines: one json.loads per line) reads, for journals written by JournalWriter, cut short, or not written
by it at all; and the charts made from its columns are the charts made from the records."""

import json
import math
import sys
from pathlib import Path

import pytest

from burnin import journal
from burnin.report import charts

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "bench"))
from make_journal import SPIKE_C, SPIKE_SENSOR, write_journal  # noqa: E402


def exact(value) -> str:
    """Compared as JSON text: 1 and 1.0 differ, NaN equals NaN."""
    return json.dumps(value, ensure_ascii=False)


def read_both(raw: bytes) -> journal.JournalContents:
    """parse_bytes, after checking it against parse_lines: records, torn tail, bad lines and chart series."""
    fast, reference = journal.parse_bytes(raw), journal.parse_lines(raw.split(b"\n"))
    assert (fast.torn_tail, fast.bad_lines) == (reference.torn_tail, reference.bad_lines)
    assert len(fast.records) == len(reference.records)
    if reference.records:  # the ends come without building every record (summarize needs only those)
        assert exact(fast.records[0]) == exact(reference.records[0])
        assert exact(fast.records[-1]) == exact(reference.records[-1])
    assert exact(list(fast.records)) == exact(reference.records)
    assert exact(fast.of_type("finding")) == exact(reference.of_type("finding"))
    series = [(s.module, s.metric, list(s.times), list(s.values)) for s in charts.journal_series(fast)]
    expected = [(s.module, s.metric, list(s.times), list(s.values)) for s in charts.collect_series(reference.records)]
    assert exact(series) == exact(expected)
    return fast


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(journal, "_BLOCK_LINES", 16)  # many blocks, and blocks that mix metric sets


def test_a_simulated_run_reads_as_one_table_per_module(tmp_path, small_blocks):
    path = write_journal(tmp_path / "j.jsonl", hours=0.05, fail=True)  # 180 samples per module
    contents = read_both(path.read_bytes())
    columns = contents.sample_columns()
    assert [module for module, _ in columns] == ["thermal", "cpu", "disk"]
    assert [len(runs) for _, runs in columns] == [1, 1, 1]  # every sample line went into its module's table
    names, times, values = columns[0][1][0]
    assert len(times) == 180 and f"temp_c:{SPIKE_SENSOR}" in names
    assert max(values[names.index(f"temp_c:{SPIKE_SENSOR}")]) == SPIKE_C


def test_hostile_strings_and_escaped_quotes_read_the_same(tmp_path, small_blocks):
    path = write_journal(tmp_path / "j.jsonl", hours=0.02, hostile=True)
    assert b'\\"' in path.read_bytes()  # a metric name with quotes: the line is read on its own
    read_both(path.read_bytes())


def test_a_journal_cut_anywhere_reads_the_same(tmp_path, small_blocks):
    raw = write_journal(tmp_path / "j.jsonl", hours=0.004, fail=True, complete=False).read_bytes()
    ends = [i + 1 for i, byte in enumerate(raw) if byte == ord("\n")][-4:]  # the last four lines
    cuts = set(range(ends[0] - 1, ends[-1] - 40, 11)) | set(range(ends[-1] - 40, ends[-1] + 1)) | set(ends)
    torn = {cut: read_both(raw[:cut]).torn_tail for cut in cuts}
    assert not any(torn[end] for end in ends) and sum(torn.values()) > 0.9 * len(torn)  # whole lines are not torn


def test_every_kind_of_value_and_changing_metric_sets_read_the_same(tmp_path, small_blocks):
    path = tmp_path / "j.jsonl"
    writer = journal.JournalWriter(path)
    writer.write("run_start", t=0.0, schema=1, host={}, profile={}, modules=["a", "b"])
    odd = [7, -3, -2.5, 0.0, -0.0, 1e-05, 1.5e16, 12345678901234567890, None, True, False, math.nan, math.inf,
           -math.inf, "n/a", [1, 2], {}, {"x": 1}]
    for i in range(60):
        writer.write("sample", t=float(i), module="a", metrics={"temp_c:温度 °": 40.5 + i % 7, "fan_rpm:f": 30 + i})
        metrics = {"busy_pct:cpu0": float(i), "busy_pct:cpu1": odd[i % len(odd)]}
        if i % 9 == 4:
            metrics = {"busy_pct:cpu1": 1.0, "busy_pct:cpu0": 2.0}  # the same names in another order
        elif 20 <= i < 30:
            metrics["busy_pct:cpu2"] = 50.0  # a CPU comes online for a while
        elif i % 11 == 0:
            metrics = {}
        writer.write("sample", t=i if i % 13 else None, module="b", metrics=metrics)
        if i % 17 == 0:
            writer.write("note", module="b", message="between samples", data={"i": i})
    writer.write("run_end", verdict="PASS", reason="", modules={}, counts={}, duration_s=60.0, interrupted=None)
    writer.close()
    columns = dict(read_both(path.read_bytes()).sample_columns())
    assert len(columns["a"]) == 1 and len(columns["a"][0][1]) == 60  # module a: one table


def test_lines_not_written_by_the_writer_read_the_same(small_blocks):
    good = [json.dumps({"type": "sample", "t": float(i), "seq": i + 2, "module": "m", "metrics": {"a": i, "b": 0.5}})
            for i in range(40)]
    lines = [json.dumps({"type": "run_start", "t": 0.0, "seq": 1, "schema": 1})] + good
    lines[5] = '{"type":"sample","t":4.0,"seq":6,"module":"m","metrics":{"a":4,"b":0.5}}'  # compact
    lines[7] = '{"t": 6.0, "type": "sample", "seq": 8, "module": "m", "metrics": {"a": 6, "b": 0.5}}'  # key order
    lines[9] = good[8][:-1] + ', "extra": 1}'  # one key more
    lines[11] = good[10].replace('"a": 10', '"a": 10, "a": 11')  # a metric twice: json.loads keeps the last
    lines[13] = good[12].replace('"m"', '"m2"')  # another module, for one sample
    lines[15] = good[14].replace('"a": 14', '"a":  14')  # other spacing
    lines[17] = good[16].replace("16", "1.6.1")  # not JSON: a bad line
    lines[19] = good[18] + "\r"  # a Windows line end
    lines[21] = ""  # a blank line
    lines[23] = good[22].replace("0.5", "+0.5")  # a number JSON does not allow
    lines[25] = good[24].replace("0.5", ".5")
    lines[27] = good[26].replace('"a": 26', '"a": 026')
    lines[29] = "[1, 2]"  # JSON, but not a record
    lines[31] = good[30].replace('"a"', '"\\u0061"')  # an escaped metric name
    lines[33] = good[32].replace('"a"', '"a\tb"')  # a raw control character: not JSON
    contents = read_both(("\n".join(lines) + "\n\n").encode())
    assert contents.bad_lines == [18, 24, 26, 28, 30, 34]
    runs = dict(contents.sample_columns())["m"]
    assert len(runs) < 20  # the writer's lines between the odd ones were still read as columns
    # A sample without a module name: no columns, the charts come from the records (still the same series).
    assert read_both("\n".join([lines[0], good[0], good[1].replace('"m"', "null")]).encode()).sample_columns() is None


def test_decimated_charts_keep_every_metrics_lowest_and_highest_value(tmp_path):
    raw = write_journal(tmp_path / "j.jsonl", hours=24, interval_s=30, fail=True).read_bytes()
    contents = journal.parse_bytes(raw)
    records = journal.parse_lines(raw.split(b"\n")).records
    reference = {(s.module, s.metric): s.values for s in charts.collect_series(records)}
    series = charts.journal_series(contents)
    assert len(series) == 42
    for s in series:
        data = charts.decimate(s.times, s.values, 200)  # 2880 samples in 200 buckets
        assert len(data.times) <= 200 and data.count == 2880
        assert (data.minimum, data.maximum) == (min(reference[s.module, s.metric]), max(reference[s.module, s.metric]))
        assert (min(data.lows), max(data.highs)) == (data.minimum, data.maximum)
    spike = next(s for s in series if s.metric == f"temp_c:{SPIKE_SENSOR}")
    assert charts.decimate(spike.times, spike.values, 200).maximum == SPIKE_C
