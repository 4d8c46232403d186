"""`burnin fleet DIR`: one page and one JSON over many journals, one row per machine, failures first."""

import json
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from burnin.cli import main
from burnin.report.fleet import collect, render_fleet

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "bench"))
from fleet_page import make_fleet  # noqa: E402
from make_journal import HOSTILE, write_journal  # noqa: E402


class Rows(HTMLParser):
    """The machines table of the page: each row's class and cell texts; and every element's tag."""

    def __init__(self, text: str):
        super().__init__()
        self.rows: list[tuple[str, list[str]]] = []
        self.tags: list[str] = []
        self._in_body = False
        self._cell: list[str] | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "machines":
            self._in_body = True
        elif tag == "tr" and self._in_body and "class" in attrs:  # a machine's row (the head row has no class)
            self.rows.append((attrs["class"] + (" hidden" if "hidden" in attrs else ""), []))
        elif tag == "td" and self._in_body and self.rows:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.rows[-1][1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._in_body = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def verdicts(rows) -> list[str]:
    return [cells[0] for _, cells in rows]


def test_a_fleet_of_100_journals_in_three_layouts_lists_failures_first(tmp_path):
    """100 generated journals (healthy, failing, cut short, a disk failure before a hang, hostile strings) from
    the stick's runs/, Ansible's results/HOST/ and Ironic agent log tarballs: one row each, FAIL first, the
    counts and the most common failing parts right, the page self-contained and every payload inert."""
    make_fleet(tmp_path / "fleet", machines=100, hours=0.02)
    (tmp_path / "fleet" / "results" / "host001" / "run.ocp.jsonl").write_text(
        '{"schemaVersion": {"major": 2, "minor": 0}, "sequenceNumber": 0, "timestamp": "2023-11-14T22:13:20Z"}\n')
    began = time.perf_counter()
    result = CliRunner().invoke(main, ["fleet", str(tmp_path / "fleet"), "--json"])
    took = time.perf_counter() - began
    assert result.exit_code == 1, result.output  # some machines FAILed
    data = json.loads(result.stdout)
    assert data["counts"] == {"FAIL": 40, "ERROR": 0, "INCOMPLETE": 20, "WARN": 20, "PASS": 20}
    machines = data["machines"]
    assert len(machines) == 100 and len({m["serial"] for m in machines}) == 100
    order = [m["verdict"] for m in machines]
    assert order == sorted(order, key=["FAIL", "ERROR", "INCOMPLETE", "WARN", "PASS"].index)
    assert {m["journal"].split("/")[0] for m in machines} == {"stick", "results", "ironic"}
    assert any("!var/log/burnin/burnin.jsonl" in m["journal"] for m in machines)  # read inside a tarball
    disk = next(m for m in machines if m["serial"] == "SN00003")
    assert disk["verdict"] == "FAIL" and disk["failing"] == ["disk:/dev/sdb S/N S2-3"]
    assert disk["top_finding"].startswith("disk:/dev/sdb S/N S2-3: /dev/sdb has 812 reallocated sectors")
    assert disk["cpu"] == "2 x Intel(R) Xeon(R) Gold 6130" and disk["memory_bytes"] == 128 * 2**30
    assert disk["disk_count"] == 2  # it hung after the disk failed: the rest did not finish, and says so
    assert disk["untested"] == ["temperatures and fans", "processors under load"]
    assert {"kind": "sensor", "machines": 20} in data["failing_part_kinds"]
    assert {"code": "smart-reallocated", "machines": 20} in data["failing_codes"]
    assert data["skipped"] == ["results/host001/run.ocp.jsonl"]
    assert took < 10, f"{took:.1f} s for 100 small journals"  # the bound on real-sized ones: scripts/bench

    page = Path(data["page"]).read_text()
    parsed = Rows(page)
    assert verdicts(parsed.rows)[:40] == ["FAIL"] * 40 and verdicts(parsed.rows)[-20:] == ["PASS"] * 20
    assert "img" not in parsed.tags and parsed.tags.count("script") == 1  # only the page's own sorter
    assert HOSTILE not in page and "srv1&lt;img" in page
    assert "http://" not in page and "https://" not in page and "@import" not in page


def test_a_machine_run_twice_is_one_row_its_latest_run(tmp_path):
    runs = tmp_path / "runs"
    write_journal(runs / "SN-7_20231114T000000Z" / "burnin.jsonl", hours=0.01, fail=True, start=1_700_000_000,
                  system_serial="SN-7")
    write_journal(runs / "SN-7_20231115T000000Z" / "burnin.jsonl", hours=0.01, start=1_700_090_000,
                  system_serial="SN-7")
    fleet = collect(tmp_path)
    assert len(fleet.machines) == 1
    only = fleet.machines[0]
    assert only.verdict == "PASS" and only.runs == 2 and only.journal.startswith("runs/SN-7_20231115")


def test_an_unreadable_journal_is_a_row_and_no_journal_is_exit_2(tmp_path):
    (tmp_path / "burnin-host9-20231114T000000Z.jsonl").write_bytes(b"")
    result = CliRunner().invoke(main, ["fleet", str(tmp_path), "--json"])
    assert result.exit_code == 3
    row = json.loads(result.stdout)["machines"][0]
    assert row["verdict"] == "UNREADABLE" and "no readable records" in row["reason"]
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(main, ["fleet", str(empty)])
    assert result.exit_code == 2 and "no burnin journal" in result.stderr and "Traceback" not in result.output


def test_the_terminal_summary_names_each_machine_to_send_back(tmp_path):
    make_fleet(tmp_path, machines=5, hours=0.01)
    result = CliRunner().invoke(main, ["fleet", str(tmp_path), "--out", str(tmp_path / "page.html")])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("FAIL: 2") and "(5 machines)" in lines[0]
    assert any(line.startswith("FAIL") and "SN00003" in line and "disk:/dev/sdb" in line for line in lines)
    assert (tmp_path / "page.html").exists()


# -- in a real browser -----------------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def chromium_dom(tmp_path, url: str) -> str:
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--virtual-time-budget=2000",
            f"--user-data-dir={tmp_path / 'chromium-profile'}", "--dump-dom", url]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_chromium_shows_the_failing_machines_first_and_sorts_and_filters(tmp_path):
    make_fleet(tmp_path / "fleet", machines=25, hours=0.01)
    fleet = collect(tmp_path / "fleet")
    page = tmp_path / "fleet.html"
    page.write_text(render_fleet(fleet))
    shown = Rows(chromium_dom(tmp_path, page.resolve().as_uri()))
    assert verdicts(shown.rows)[:10] == ["FAIL"] * 10 and "PASS" not in verdicts(shown.rows)[:15]
    assert "img" not in shown.tags  # the hostile disk model stayed text in the browser too
    # Sorted by serial (column 1), descending, and filtered by text, by the page's own script from the link.
    view = Rows(chromium_dom(tmp_path, page.resolve().as_uri() + "#sort=-1&filter=812%20reallocated"))
    serials = [cells[1] for _, cells in view.rows]
    assert serials == sorted(serials, reverse=True) and serials[-1] == "SN00000"
    visible = [cells[1] for cls, cells in view.rows if "hidden" not in cls]
    assert visible == ["SN00023", "SN00018", "SN00013", "SN00008", "SN00003"]


def test_reading_without_samples_gives_the_same_records_and_torn_tail(tmp_path):
    """journal.read(samples=False), which the fleet page uses, is journal.read less the sample lines: on a whole
    journal, one cut mid-line (torn tail), one ending in a sample, and one of a single line."""
    from burnin import journal

    whole = write_journal(tmp_path / "whole.jsonl", hours=0.01, fail=True, hostile=True)
    raw = whole.read_bytes()
    lines = raw.split(b"\n")
    variants = {"whole": raw, "torn": raw[:-37], "ends-in-a-sample": b"\n".join(lines[:40]) + b"\n",
                "one-line": lines[0]}
    for name, data in variants.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(data)
        full, lean = journal.read(path), journal.read(path, samples=False)
        assert [r for r in full.records if r["type"] != "sample"] == \
            [r for r in lean.records if r["type"] != "sample"], name
        assert (full.torn_tail, full.bad_lines, full.problems) == (lean.torn_tail, lean.bad_lines, lean.problems)
    assert journal.read(tmp_path / "torn.jsonl", samples=False).torn_tail
