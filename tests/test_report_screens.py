"""The HTML report as a buyer reads it: the verdict and the failing component first, findings with their time, charts
titled in words with units over clock time with a marker at each finding, no chart of a single dot, counters never
below zero, no repeated tick labels, gaps left open, PCI IDs in hex; checked on the page and in headless Chromium
at 1280 and 390 px wide (screenshots kept: tests/screens.py says where)."""

import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from burnin import journal
from burnin.report import charts, html, metrics
from burnin.verdict import summarize
from screens import CHROMIUM, artefact_dir, chromium

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "bench"))
from make_journal import write_journal  # noqa: E402

T0 = 1_764_660_000.0  # 2025-12-02 07:20:00 UTC


class Page(HTMLParser):
    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.stack: list[str] = []
        self.texts: list[tuple[tuple[str, ...], str]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in ("br", "meta", "line", "rect", "path", "circle", "polyline", "polygon", "img", "input"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag in self.stack:
            while self.stack and self.stack.pop() != tag:
                pass

    def handle_data(self, data):
        self.texts.append((tuple(self.stack), data))

    def named(self, tag, cls=None):
        return [a for t, a in self.tags if t == tag and (cls is None or cls in (a.get("class") or "").split())]

    def text_in(self, tag) -> list[str]:
        return [data for stack, data in self.texts if tag in stack]


def _write(tmp_path, samples, findings=(), inventory=None, verdicts=None):
    """A journal with the real modules' metric names: samples are (t, module, metrics)."""
    path = tmp_path / "j.jsonl"
    writer = journal.JournalWriter(path)
    modules = sorted({m for _, m, _ in samples} | {f["module"] for f in findings}) or ["thermal"]
    writer.write("run_start", t=T0, schema=1, mode="run", burnin_version="0.1.0",
                 host={"hostname": "srv1", "system_vendor": "Dell Inc.", "system_product": "PowerEdge R640",
                       "system_serial": "7XK2Q53"},
                 profile={"name": "quick", "duration_s": 180, "settings": {}}, modules=modules)
    if inventory:
        writer.write("inventory", t=T0, **inventory)
    for module in modules:
        writer.write("module_start", t=T0, module=module)
    records = [(t, "sample", {"module": m, "metrics": ms}) for t, m, ms in samples]
    records += [(f["t"], "finding", {k: v for k, v in f.items() if k != "t"}) for f in findings]
    for t, kind, fields in sorted(records, key=lambda r: r[0]):
        writer.write(kind, t=t, **fields)
    end = max([T0 + 180] + [r[0] for r in records])
    verdicts = verdicts or {m: ("FAIL" if any(f["module"] == m and f["severity"] == "fail" for f in findings)
                                else "PASS") for m in modules}
    for module, verdict in verdicts.items():
        writer.write("module_end", t=end, module=module, verdict=verdict, reason="")
    run = "FAIL" if "FAIL" in verdicts.values() else "PASS"
    writer.write("run_end", t=end, verdict=run, reason="", modules=verdicts, duration_s=end - T0, interrupted=None)
    writer.close()
    contents = journal.read(path)
    return html.render_html(summarize(contents, journal=str(path)), contents)


FAN_STOPPED = {"t": T0 + 95, "module": "thermal", "severity": "fail", "component": "fan:nct6779/fan2",
               "code": "fan-stopped", "message": "fan2 stopped: 0 RPM (it spun at 3100 RPM before).",
               "evidence": {"rpm": 0, "min_rpm": 600}}


def _short_run(tmp_path):
    samples = []
    for i in range(0, 180, 2):
        t = T0 + i
        if 60 <= i < 90:  # the module was stopped: no samples for 30 s
            continue
        samples.append((t, "thermal", {"temp_c:coretemp.0/Package id 0": 55 + i / 10,
                                       "fan_rpm:nct6779/fan2": 3100.0 if i < 95 else 0.0}))
        samples.append((t, "memory", {"ecc_ce_total": 0, "ecc_ue_total": 0,
                                      "mem_verified_gbps:node0": 0.0105 + (i % 3) * 0.0005}))
        samples.append((t, "disk", {"read_mbps:sda": 183.0 + i % 7}))
    samples.append((T0 + 1, "disk", {"temp_c:sda": 34.0, "power_on_hours:sda": 41234.0}))
    return _write(tmp_path, samples, [FAN_STOPPED])


def test_findings_with_time_and_component_come_right_after_the_banner(tmp_path):
    text = _short_run(tmp_path)
    order = [text.index(f'id="{name}"') for name in ("verdict", "findings", "machine", "modules", "charts")]
    assert order == sorted(order)
    banner = text[text.index('id="verdict"'):text.index('id="findings"')]
    assert "fan:nct6779/fan2" in banner, "the banner names the failing component"
    assert '<time class="when" datetime="2025-12-02T07:21:35Z">07:21:35 UTC, 1m35s into the run</time>' in text


def test_every_chart_has_a_title_in_words_with_its_unit(tmp_path):
    page = Page(_short_run(tmp_path))
    titles = page.text_in("figcaption")
    assert titles[:2] == ["Temperatures (°C)", "Fan speeds (RPM)"]
    assert "Disk read speed (MB/s)" in titles and "Memory verified (GB/s)" in titles
    assert "Corrected ECC errors (errors)" in titles
    assert not [t for t in titles if "_" in t], "no raw metric names as titles"


def test_a_metric_sampled_once_is_a_number_not_a_dot(tmp_path):
    text = _short_run(tmp_path)
    page = Page(text)
    for svg in re.findall(r"<svg class=\"chart\".*?</svg>", text):
        assert "<polyline" in svg, "no chart of single points only"
    assert len(page.named("circle")) == 1, "a disk's one temperature among the sensors' lines is a dot"
    single = text[text.index("Disk power-on hours (h)"):]
    assert "41,234 h" in single[:600]


def test_counters_never_get_an_axis_below_zero_and_ticks_never_repeat(tmp_path):
    text = _short_run(tmp_path)
    page = Page(text)
    svgs = re.findall(r"<figcaption>([^<]+)</figcaption>(<svg.*?</svg>)", text)
    assert svgs
    for title, svg in svgs:
        ticks = re.findall(r'class="ytick">([^<]+)<', svg)
        assert len(ticks) == len(set(ticks)), f"{title}: repeated tick labels {ticks}"
        assert not any(t.startswith("-") for t in ticks), f"{title}: an axis below zero {ticks}"
        clock = re.findall(r'class="xtick">([^<]+)<', svg)
        assert clock and all(re.fullmatch(r"\d\d:\d\d(:\d\d)?", c) for c in clock), clock
    assert page.named("text")


def test_a_gap_in_the_samples_is_left_open(tmp_path):
    svg = re.search(r"Temperatures \(°C\)</figcaption>(<svg.*?</svg>)", _short_run(tmp_path)).group(1)
    assert len(re.findall(r"<polyline", svg)) == 2, "the 30 s without samples splits the line in two"
    assert charts.segments([0, 2, 4, 6, 40, 42, 44]) == [(0, 4), (4, 7)]
    assert charts.segments([0, 1, 2, 3]) == [(0, 4)]


def test_a_marker_stands_at_each_findings_time(tmp_path):
    text = _short_run(tmp_path)
    page = Page(text)
    markers = page.named("line", "marker")
    assert markers and all("fail" in m["class"] for m in markers)
    assert "07:21:35 UTC FAIL fan:nct6779/fan2" in text


def test_tick_labels_have_the_digits_the_step_needs():
    assert charts.tick_labels([0.01, 0.0125, 0.015]) == ["0.0100", "0.0125", "0.0150"]
    assert charts.tick_labels([0, 2000, 4000]) == ["0", "2,000", "4,000"]
    assert charts.tick_labels([0.0, 0.5, 1.0]) == ["0", "0.5", "1.0"]


def test_pci_ids_are_hex_with_their_names(tmp_path, data_dir):
    record = json.loads((data_dir / "report" / "inventory-debian12-vm.json").read_text())
    text = _write(tmp_path, [(T0 + i, "thermal", {"temp_c:x": 40.0}) for i in range(3)], inventory=record)
    assert "0x8086 <span class=\"muted\">Intel Corporation</span>" in text
    assert ">32902<" not in text and "0x060000" in text


def test_the_catalogue_names_every_metric_the_modules_sample():
    # The metric names the built-in modules sample (grep "ctx.sample" in burnin/modules): each has a title and unit.
    for name in ("temp_c:x", "fan_rpm:x", "freq_mhz:cpu0", "busy_pct:cpu0", "throttle_count:cpu0:core",
                 "ops_per_s:total", "ecc_ce_total", "ecc_ue_total", "mem_verified_gbps:node0", "mem_verified_gib:node0",
                 "mem_read_gbps:node0", "mem_available_mib", "read_mbps:sda", "scan_pct:sda", "destructive_pct:sdb",
                 "self_test_remaining_pct:sda", "power_on_hours:sda", "rx_mbps:eth0", "tx_mbps:eth0",
                 "errors:eth0", "drops:eth0", "bmc_temp_c:CPU1 Temp", "bmc_fan_rpm:FAN1", "bmc_volts:12V",
                 "bmc_power_w:PSU1"):
        m = metrics.metric(name)
        assert m.order < 1000 and m.unit and "_" not in m.title, name
    assert metrics.metric("ecc_ue_total").kind == "counter"


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
@pytest.mark.parametrize("width", [1280, 390])
def test_the_report_in_chromium_shows_verdict_and_failing_component_first(tmp_path, width):
    path = write_journal(tmp_path / "j.jsonl", hours=1, fail=True)
    contents = journal.read(path)
    summary = summarize(contents, journal=str(path))
    page_path = tmp_path / "report.html"
    html.write_html(summary, contents, page_path)
    dom = Page(chromium(page_path, dump_dom=True, width=width))
    sections = [a.get("id") for t, a in dom.tags if t == "section" and a.get("id")]
    assert sections.index("findings") < sections.index("machine"), "findings precede the machine block"
    titles = dom.text_in("figcaption")
    assert titles and all(re.search(r"\(.+\)$", t) or t in ("mb per s", "iops") for t in titles), titles
    assert "Temperatures (°C)" in titles
    assert not dom.named("circle") and dom.named("line", "marker")
    shot = artefact_dir() / f"report-{width}px.png"
    chromium(page_path, screenshot=shot, width=width, height=900 if width > 500 else 844)
    assert shot.stat().st_size > 10_000


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_a_24_hour_report_prints_without_splitting_a_chart(tmp_path):
    path = write_journal(tmp_path / "j.jsonl", hours=24, interval_s=30, fail=True)
    contents = journal.read(path)
    page_path = tmp_path / "report.html"
    html.write_html(summarize(contents, journal=str(path)), contents, page_path)
    text = page_path.read_text()
    assert "@media print" in text and "break-inside: avoid" in text
    pdf = artefact_dir() / "report-24h-print.pdf"
    import subprocess

    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={tmp_path / 'p'}",
                    "--no-pdf-header-footer", f"--print-to-pdf={pdf}", page_path.as_uri()],
                   capture_output=True, timeout=120)
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf.read_bytes()))
    assert 1 <= pages <= 12, pages
