"""The HTML report: verdict, machine, inventory, findings, modules and charts in one self-contained file that
renders in a real browser (headless Chromium), keeps peaks through decimation, and shows hostile journal
strings as text."""

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from burnin import journal
from burnin.report import charts, html
from burnin.verdict import summarize

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "bench"))
from make_journal import HOSTILE, SPIKE_C, inventory_record, write_journal  # noqa: E402

SCRIPT = "<script>alert(1)</script>"


class Page(HTMLParser):
    """Tags, attributes and visible text of a page, as a browser's parser sees them."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def all_text(self) -> str:
        return " ".join(self.text)

    def named(self, tag):
        return [attrs for t, attrs in self.tags if t == tag]


def report(tmp_path, **kwargs):
    path = write_journal(tmp_path / "j.jsonl", **{"hours": 0.1, **kwargs})
    contents = journal.read(path)
    summary = summarize(contents, journal=str(path))
    out = tmp_path / "report.html"
    html.write_html(summary, contents, out)
    return out.read_text(encoding="utf-8"), summary


def test_report_shows_verdict_machine_modules_and_findings_by_component(tmp_path):
    text, summary = report(tmp_path, fail=True)
    page = Page(text)
    words = page.all_text()
    assert summary.verdict.value == "FAIL"
    assert 'class="banner v-FAIL"' in text
    assert "FAIL - faults found" in words
    assert "Supermicro SYS-6029P-TR" in words and "SN-0001" in words
    assert "sensor:coretemp.0/Package id 0" in words and "temp-critical" in words
    assert "at or above its critical limit of 95 °C" in words
    module_rows = re.findall(r"<tr><td>(\w+)</td><td><span class=\"badge v-(\w+)\">", text)
    assert module_rows == [("thermal", "FAIL"), ("cpu", "PASS"), ("disk", "PASS")]
    assert page.named("meta")[1] == {"name": "viewport", "content": "width=device-width, initial-scale=1"}


def test_page_needs_nothing_from_outside(tmp_path):
    text, _ = report(tmp_path)
    page = Page(text)
    assert not page.named("script") and not page.named("link") and not page.named("img")
    assert not re.search(r"(src|href)=\"?(https?:)?//", text)
    assert "@import" not in text and "url(" not in text


def test_inventory_and_claims_are_tables(tmp_path):
    inventory = inventory_record()
    inventory["claims"][1].update(found=1, ok=False)
    text, _ = report(tmp_path, inventory=inventory)
    words = Page(text).all_text()
    assert "ST4000NM0035" in words and "0c:c4:7a:00:00:02" in words and "P2-DIMMB1" in words
    claims = re.search(r"<h3>Claims.*?</table>", text).group(0)
    assert claims.count("<tr>") == 3
    assert "cpu.sockets</td><td>2</td><td>1</td><td><span class=\"bad\">MISMATCH" in claims
    assert "memory.total_gib</td><td>128</td><td>128</td><td><span class=\"ok\">ok" in claims


def test_real_inventory_record_renders_readably(tmp_path, data_dir):
    record = json.loads((data_dir / "report" / "inventory-debian12-vm.json").read_text())
    text, _ = report(tmp_path, inventory=record)
    words = Page(text).all_text()
    assert "AMD EPYC" in words and "02:fc:00:00:00:01" in words and "/dev/vda" in words
    assert "25.3 GB = 23.5 GiB" in words  # memory total_bytes, for a person
    assert "unknown: vendor, product, version, serial" in words  # no SMBIOS here: one line, not 19 rows
    assert "adx, aes, avx" in words  # flags as a list
    assert "SMBIOS tables not readable" in words  # the inventory's notes
    assert re.search(r"memory\.dimm_count</td><td>8</td><td><span class=\"muted\">unknown</span></td><td>"
                     r"<span class=\"muted\">not checked", text)


def test_inventory_with_missing_and_odd_parts_still_renders(tmp_path):
    odd = {"inventory": {"system": None, "disks": [{"name": "/dev/nvme0n1"}, {"serial": "X", "extra": [1, 2]}],
                         "memory": "unreadable", "gpu": {"count": 0}}}
    text, _ = report(tmp_path, inventory=odd)
    words = Page(text).all_text()
    assert "/dev/nvme0n1" in words and "1, 2" in words and "unreadable" in words and "gpu" in words
    assert "<h3>system</h3>" not in text  # nothing to show, no empty heading


def test_hostile_journal_strings_render_as_text(tmp_path):
    text, _ = report(tmp_path, hostile=True, inventory=inventory_record(SCRIPT))
    page = Page(text)
    assert not page.named("script") and not page.named("img")
    words = page.all_text()
    assert SCRIPT in words  # the disk model, shown as the text it is
    assert HOSTILE in words  # hostname, finding, metric name in the legend
    assert "<script>" not in text and "<img " not in text


def test_a_one_second_peak_survives_decimation_of_a_long_run(tmp_path):
    text, _ = report(tmp_path, hours=24, interval_s=30)  # 2880 samples per series: decimated to 600
    legend = re.search(r"coretemp\.0/Package id 0</td><td class=\"num\">[\d.]+</td><td class=\"num\">([\d.]+)<",
                       text)
    assert float(legend.group(1)) == SPIKE_C
    polylines = re.findall(r'<polyline[^>]* points="([^"]+)"', text)
    assert len(polylines) == 42
    assert all(100 <= len(p.split()) <= charts.MAX_POINTS for p in polylines)
    assert "the shaded band its min to max" in text


def test_decimation_keeps_each_buckets_min_and_max():
    values = [50.0] * 10_000
    values[1234], values[8765] = 99.0, 3.0
    data = charts.decimate(list(range(10_000)), values, max_points=100)
    assert len(data.times) == 100
    assert max(data.highs) == 99.0 and min(data.lows) == 3.0
    assert data.maximum == 99.0 and data.minimum == 3.0 and data.last == 50.0 and data.count == 10_000


def test_decimation_drops_values_that_are_not_numbers():
    data = charts.decimate([1, 2, 3, 4], [1.0, None, "x", 4.0])
    assert (data.minimum, data.maximum, data.count) == (1.0, 4.0, 2)
    assert charts.decimate([1, 2], [None, None]) is None


def test_metrics_are_charted_by_unit_prefix_well_known_first(tmp_path):
    path = tmp_path / "j.jsonl"
    writer = journal.JournalWriter(path)
    writer.write("run_start", t=1000.0, schema=1, host={}, profile={"name": "x", "settings": {}}, modules=["m"])
    writer.write("module_start", t=1000.0, module="m")
    for i in range(5):
        writer.write("sample", t=1000.0 + i, module="m",
                     metrics={"zeta_units:a": i, "busy_pct:cpu0": 50 + i, "temp_c:x": 40 + i, "plain": 1})
    writer.write("module_end", t=1010.0, module="m", verdict="PASS", reason="")
    writer.close()
    contents = journal.read(path)
    text = html.render_html(summarize(contents), contents)
    titles = re.findall(r"<figcaption>([^<]+)</figcaption>", text)
    assert titles == ["Temperatures (°C)", "CPU busy (%)", "plain", "zeta units"]


def test_many_cpus_are_drawn_as_one_envelope_that_keeps_the_busiest(tmp_path):
    path = tmp_path / "j.jsonl"
    writer = journal.JournalWriter(path)
    writer.write("run_start", t=0.0, schema=1, host={}, profile={"name": "x", "settings": {}}, modules=["cpu"])
    for i in range(2000):
        busy = {f"busy_pct:cpu{c}": 50.0 for c in range(40)}
        if i == 1000:
            busy["busy_pct:cpu17"] = 100.0
        writer.write("sample", t=float(i), module="cpu", metrics=busy)
    writer.close()
    contents = journal.read(path)
    text = html.render_html(summarize(contents), contents)
    page = Page(text)
    assert len(page.named("polyline")) == 1 and len(page.named("polygon")) == 1
    band = [float(point.split(",")[1]) for point in page.named("polygon")[0]["points"].split()]
    assert min(band) < max(band)  # the one busy second of cpu17 stands out of the flat 50 %
    assert "each of the 40 series" in text and text.count("<tr><td>cpu") == 40


def test_temperature_limits_are_drawn_from_findings(tmp_path):
    text, summary = report(tmp_path, fail=True)
    limits = html.temperature_limits(summary.findings)
    assert [(lim.kind, lim.value) for lim in limits] == [("crit", 95.0), ("max", 85.0)]
    assert text.count('class="limit crit"') == 1 and "crit 95 °C" in text


def test_run_cut_short_says_so(tmp_path):
    text, summary = report(tmp_path, complete=False)
    assert summary.verdict.value == "INCOMPLETE"
    assert 'class="banner v-INCOMPLETE"' in text and "The run ended unexpectedly" in text


def test_html_from_the_sample_columns_equals_html_from_the_records(tmp_path):
    # A crashed run whose last line was cut mid-sample, with hostile strings: the reader's columns and the
    # reference reader's records (one json.loads per line) make the same page, byte for byte.
    path = write_journal(tmp_path / "j.jsonl", hours=1, fail=True, hostile=True, complete=False)
    with path.open("ab") as out:
        out.write(b'{"type": "sample", "t": 1700003600.0, "seq": 99999, "module": "thermal", "metrics": {"temp_c:co')
    contents = journal.read(path)
    reference = journal.parse_lines(path.read_bytes().split(b"\n"))
    summary = summarize(contents, journal=str(path))
    assert summary == summarize(reference, journal=str(path))
    assert summary.ended_unexpectedly and summary.torn_tail
    text = html.render_html(summary, contents)
    assert text == html.render_html(summary, reference)
    assert "The run ended unexpectedly" in text and "last line was cut short" in text


def test_a_24_hour_report_stays_under_2_mb(tmp_path):
    # File size depends on the points drawn, not the run's length; 24 h at 10 s keeps the test quick.
    text, _ = report(tmp_path, hours=24, interval_s=10)
    assert len(text.encode()) < 2_000_000


# -- in a real browser -----------------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")


def chromium(tmp_path, page: Path, *args: str) -> str:
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--virtual-time-budget=2000",
            f"--user-data-dir={tmp_path / 'chromium-profile'}", *args, page.resolve().as_uri()]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@needs_chromium
def test_the_browser_would_run_an_unescaped_payload(tmp_path):
    # The check below is only worth something if the browser runs an injected handler: prove that it does.
    page = tmp_path / "unescaped.html"
    page.write_text(f"<!DOCTYPE html><html><head><title>burnin</title></head><body>{HOSTILE}</body></html>")
    dom = chromium(tmp_path, page, "--dump-dom")
    assert "<title>pwned</title>" in dom


@needs_chromium
def test_report_renders_in_chromium_with_charts_and_inert_hostile_text(tmp_path):
    text, summary = report(tmp_path, hours=1, fail=True, hostile=True)
    page = tmp_path / "report.html"
    title = re.search(r"<title>(.*?)</title>", text).group(1)
    dom = chromium(tmp_path, page, "--dump-dom")
    assert f"<title>{title}</title>" in dom and "pwned" not in title
    parsed = Page(dom)
    assert not parsed.named("img") and not parsed.named("script")  # nothing was created from the payload
    words = parsed.all_text()
    assert HOSTILE in words and "FAIL - faults found" in words
    polylines = [attrs["points"].split() for attrs in parsed.named("polyline")]
    assert len(polylines) == 42 and all(len(points) > 100 for points in polylines)
    assert len(parsed.named("circle")) == 1  # the payload's metric: one sample, one dot
    shot = tmp_path / "report-phone.png"
    chromium(tmp_path, page, f"--screenshot={shot}", "--window-size=412,2000")
    assert shot.stat().st_size > 10_000
    print(f"screenshot of the report on a 412 px wide screen: {shot}")
