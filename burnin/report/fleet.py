"""`burnin fleet DIR`: one page over many journals, one row per machine, the machines to send back first.

It reads every journal under DIR, however they got there: the stick's `runs/` folders, Ansible's
`results/HOST/` (scripts/ansible), or Ironic's ramdisk logs (the agent's log tarballs, `*.tar.gz`, are opened and
their journals read). A machine is its system serial (else its hostname, else its journal's path); when a
machine ran more than once, its latest run is its row and the row says how many runs there were.

Each row: serial, model, hostname, CPUs, memory, disks, the verdict, the failing components and the first
failure, the areas not tested, the run time, the profile and the journal's path. Machines that FAILed come
first, then ERROR, INCOMPLETE, WARN and PASS. Above the table: how many machines per verdict, and the most common
failing parts (by kind of part, and by finding code).

The page is one self-contained file: no library, no external file. Filtering by verdict works without script
(radio buttons and CSS); a few lines of inline script sort by any column and filter by text, also from the link
(`fleet.html#sort=-10&filter=disk`: run time, longest first; rows holding "disk"). Every string from a journal is
escaped.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote

from burnin import __version__
from burnin.errors import UsageError
from burnin.files import write_atomically
from burnin.model import Severity

VERDICT_ORDER = ["FAIL", "ERROR", "INCOMPLETE", "WARN", "PASS"]
UNREADABLE = "UNREADABLE"  # a file named like a journal that cannot be read: the machine's result is unknown
ROW_ORDER = VERDICT_ORDER[:2] + [UNREADABLE] + VERDICT_ORDER[2:]
_JUNK_SERIALS = {"", "0", "none", "n/a", "na", "not specified", "default string", "to be filled by o.e.m.",
                 "system serial number", "0123456789", "123456789", "not applicable", "unknown"}
_ARCHIVE_MEMBER_MAX = 256 << 20  # a journal inside an agent's log tarball; far above a planned 50 MB journal
_TOP = 10  # rows of the "most common failing parts" tables


@dataclass
class MachineRow:
    key: str
    journal: str
    verdict: str
    reason: str = ""
    serial: str | None = None
    hostname: str | None = None
    model: str | None = None
    cpu: str | None = None
    cpu_threads: int | None = None
    memory_bytes: int | None = None
    disk_count: int = 0
    disk_bytes: int | None = None
    failing: list[str] = field(default_factory=list)  # components with a fail finding, in journal order
    failing_codes: list[str] = field(default_factory=list)
    top_finding: str = ""
    warnings: int = 0
    untested: list[str] = field(default_factory=list)  # areas, in a buyer's words
    duration_s: float = 0.0
    started_t: float | None = None
    profile: str | None = None
    runs: int = 1

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}


@dataclass
class Fleet:
    machines: list[MachineRow]
    skipped: list[str]  # files that are not journals (an OCP output, another JSON Lines file)

    def counts(self) -> dict[str, int]:
        counted = Counter(m.verdict for m in self.machines)
        return {v: counted.get(v, 0) for v in ROW_ORDER if counted.get(v, 0) or v in VERDICT_ORDER}

    def common_parts(self) -> list[tuple[str, int]]:
        """Kinds of failing part (disk, dimm, fan...), by how many machines have one failing."""
        kinds = Counter()
        for m in self.machines:
            kinds.update({c.split(":", 1)[0] if ":" in c else c for c in m.failing})
        return kinds.most_common(_TOP)

    def common_codes(self) -> list[tuple[str, int]]:
        codes = Counter()
        for m in self.machines:
            codes.update(set(m.failing_codes))
        return codes.most_common(_TOP)

    def to_json(self) -> dict[str, Any]:
        return {"machines": [m.to_json() for m in self.machines], "counts": self.counts(),
                "failing_part_kinds": [{"kind": k, "machines": n} for k, n in self.common_parts()],
                "failing_codes": [{"code": k, "machines": n} for k, n in self.common_codes()],
                "skipped": self.skipped}


# -- finding the journals -----------------------------------------------------------------------------------
def _candidates(root: Path) -> Iterable[Path]:
    for directory, dirs, files in os.walk(root):  # never follows symlinked directories (no cycles)
        dirs.sort()
        for name in sorted(files):
            # A tarball is an agent's logs (Ironic); burnin's own capture.tar.gz holds no journal.
            if name.endswith(".jsonl") or (name.endswith((".tar.gz", ".tgz")) and not name.startswith("capture")):
                yield Path(directory) / name


def _looks_like_journal(first_line: bytes) -> bool:
    return b'"type": "run_start"' in first_line or b'"type":"run_start"' in first_line


def _row(path: Path, shown: str) -> MachineRow | None:
    """The row of one journal file; None when the file is no journal at all (another JSON Lines format)."""
    from burnin import journal
    from burnin.report.machine import machine_of
    from burnin.verdict import summarize

    try:
        contents = journal.read(path, samples=False)  # the verdict needs no sample
    except UsageError as exc:
        try:
            with open(path, "rb") as f:
                first = f.readline(65536)
        except OSError:
            first = b""
        if first.strip() and not _looks_like_journal(first):
            return None  # an OCP output, a results file: not ours
        if not first.strip() and not Path(path).name.startswith("burnin-"):
            return None
        return MachineRow(key=f"path:{shown}", journal=shown, verdict=UNREADABLE, reason=str(exc))
    summary = summarize(contents, journal=shown)
    machine = machine_of(contents)
    serial = machine.serial if (machine.serial or "").strip().lower() not in _JUNK_SERIALS else None
    fails = [f for f in summary.findings if f.severity is Severity.FAIL]
    cpu = machine.cpu_model
    if cpu and machine.cpu_sockets and machine.cpu_sockets > 1:
        cpu = f"{machine.cpu_sockets} x {cpu}"
    profile = contents.records[0].get("profile")
    top = fails[0] if fails else next((f for f in summary.findings if f.severity is Severity.WARN), None)
    return MachineRow(
        key=f"serial:{serial}" if serial else (f"host:{machine.hostname}" if machine.hostname else f"path:{shown}"),
        journal=shown,
        verdict=summary.verdict.value,
        reason=summary.reason,
        serial=serial,
        hostname=machine.hostname,
        model=machine.model,
        cpu=cpu,
        cpu_threads=machine.cpu_threads,
        memory_bytes=machine.memory_bytes,
        disk_count=machine.disk_count,
        disk_bytes=machine.disk_bytes,
        failing=list(dict.fromkeys(f.component for f in fails)),
        failing_codes=list(dict.fromkeys(f.code for f in fails)),
        top_finding=f"{top.component}: {top.message}" if top else "",
        warnings=summary.counts.get("warn", 0),
        untested=[u.area for u in summary.untested],
        duration_s=summary.duration_s,
        started_t=summary.run_start.get("t") if isinstance(summary.run_start.get("t"), (int, float)) else None,
        profile=str(profile.get("name")) if isinstance(profile, dict) and profile.get("name") else None,
    )


def _archive_rows(path: Path, root: Path, tmp: str) -> Iterable[MachineRow | None]:
    """The journals inside an agent's log tarball (Ironic ships the ramdisk's logs as .tar.gz)."""
    try:
        archive = tarfile.open(path, "r:gz")
    except (OSError, tarfile.TarError):
        return
    with archive:
        for member in archive:
            if not (member.isfile() and member.name.endswith(".jsonl") and member.size <= _ARCHIVE_MEMBER_MAX):
                continue
            source = archive.extractfile(member)
            if source is None:
                continue
            target = Path(tmp) / "journal.jsonl"
            with source, open(target, "wb") as out:
                out.write(source.read())
            yield _row(target, f"{path.relative_to(root)}!{member.name}")
            target.unlink()


def collect(root: str | Path) -> Fleet:
    root = Path(root)
    if not root.is_dir():
        raise UsageError("not a directory", file=str(root))
    rows: list[MachineRow] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="burnin-fleet-") as tmp:
        for path in _candidates(root):
            shown = str(path.relative_to(root))
            found = _archive_rows(path, root, tmp) if not path.name.endswith(".jsonl") else [_row(path, shown)]
            for row in found:
                if row is None:
                    skipped.append(shown)
                else:
                    rows.append(row)
    return Fleet(_latest_per_machine(rows), skipped)


def _latest_per_machine(rows: list[MachineRow]) -> list[MachineRow]:
    by_key: dict[str, list[MachineRow]] = {}
    for row in rows:
        by_key.setdefault(row.key, []).append(row)
    latest = []
    for own in by_key.values():
        row = max(own, key=lambda r: (r.started_t or 0.0, r.journal))
        row.runs = len(own)
        latest.append(row)
    return sorted(latest, key=_rank)


def _rank(row: MachineRow) -> tuple:
    return (ROW_ORDER.index(row.verdict) if row.verdict in ROW_ORDER else len(ROW_ORDER), -len(row.failing),
            row.serial or row.hostname or row.journal)


# -- the page -----------------------------------------------------------------------------------------------
CSS = """
:root { --pass: #1a7f37; --warn: #9a6700; --fail: #cf222e; --error: #8250df; --fg: #1f2328; --muted: #59636e;
  --line: #d1d9e0; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); }
main { padding: 12px; } h1 { font-size: 1.4rem; margin: 0 0 .4rem; } h2 { font-size: 1.1rem; margin: 1rem 0 .3rem; }
.counts { display: flex; flex-wrap: wrap; gap: 8px; margin: .4rem 0; }
.count { color: #fff; border-radius: 6px; padding: 6px 12px; font-weight: 600; }
.v-PASS { background: var(--pass); } .v-WARN { background: var(--warn); } .v-FAIL { background: var(--fail); }
.v-ERROR, .v-INCOMPLETE, .v-UNREADABLE { background: var(--error); }
.badge { display: inline-block; color: #fff; border-radius: 4px; padding: 0 6px; font-weight: 600; font-size: .8rem; }
.side { display: flex; flex-wrap: wrap; gap: 24px; }
table { border-collapse: collapse; font-size: .85rem; }
th, td { border: 1px solid var(--line); padding: 3px 6px; text-align: left; vertical-align: top; }
td { overflow-wrap: anywhere; } th { background: var(--soft); }
#machines th { cursor: pointer; user-select: none; white-space: nowrap; }
#machines th[aria-sort="ascending"]::after { content: " \\25B2"; }
#machines th[aria-sort="descending"]::after { content: " \\25BC"; }
td.id { white-space: nowrap; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.muted { color: var(--muted); } .filters { margin: .6rem 0; display: flex; flex-wrap: wrap; gap: 10px; align-items: center; }
.filters label { white-space: nowrap; } #q { padding: 3px 6px; min-width: 16em; }
ul.parts { margin: 0; padding-left: 1.1rem; }
""" + "".join(
    f"body:has(#f-{v}:checked) #machines tbody tr:not(.r-{v}) {{ display: none; }}\n" for v in ROW_ORDER)

SCRIPT = r"""
(function () {
  var table = document.getElementById('machines'), body = table.tBodies[0];
  var heads = table.tHead.rows[0].cells;
  function key(cell, numeric) { var v = cell.getAttribute('data-sort'); if (v === null) v = cell.textContent;
    return numeric ? parseFloat(v) || 0 : v.toLowerCase(); }
  Array.prototype.forEach.call(heads, function (th, index) {
    th.addEventListener('click', function () {
      var up = th.getAttribute('aria-sort') !== 'ascending', numeric = th.hasAttribute('data-numeric');
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', up ? 'ascending' : 'descending');
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) { var x = key(a.cells[index], numeric), y = key(b.cells[index], numeric);
        return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1); });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
  var q = document.getElementById('q');
  q.addEventListener('input', function () { var text = q.value.toLowerCase();
    Array.prototype.forEach.call(body.rows, function (r) {
      r.hidden = text !== '' && r.textContent.toLowerCase().indexOf(text) < 0; }); });
  // A link can carry a view: page.html#sort=-9&filter=disk (column 9, descending; rows holding "disk").
  var view = decodeURIComponent(location.hash.slice(1));
  var s = /(?:^|&)sort=(-?)(\d+)/.exec(view), f = /(?:^|&)filter=([^&]*)/.exec(view);
  if (s && heads[+s[2]]) { heads[+s[2]].click(); if (s[1]) heads[+s[2]].click(); }
  if (f) { q.value = f[1]; q.dispatchEvent(new Event('input')); }
})();
"""


def _gib(value: int | None) -> str:
    return f"{value / 2**30:,.0f} GiB" if value else ""


def _tb(value: int | None) -> str:
    return f"{value / 1e12:,.1f} TB" if value else ""


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _when(t: float | None) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if t else ""


def _list(items: list[str], shown: int = 4) -> str:
    if not items:
        return ""
    more = f'<li class="muted">and {len(items) - shown} more</li>' if len(items) > shown else ""
    return '<ul class="parts">' + "".join(f"<li>{escape(i)}</li>" for i in items[:shown]) + more + "</ul>"


def _machine_row(m: MachineRow, base: str) -> str:
    verdict = escape(m.verdict)
    rank = ROW_ORDER.index(m.verdict) if m.verdict in ROW_ORDER else len(ROW_ORDER)
    machine = escape(m.serial or "") or '<span class="muted">no serial</span>'
    cpu = escape(m.cpu or "") + (f' <span class="muted">({m.cpu_threads} threads)</span>' if m.cpu_threads else "")
    disks = f"{m.disk_count} ({_tb(m.disk_bytes)})" if m.disk_count else ""
    failing = _list(m.failing)
    if m.top_finding:
        failing += f'<div class="muted">{escape(m.top_finding[:300])}</div>'
    elif m.verdict not in ("PASS", "WARN") and m.reason:
        failing += f'<div class="muted">{escape(m.reason[:300])}</div>'
    runs = f' <span class="muted">({m.runs} runs)</span>' if m.runs > 1 else ""
    target = m.journal.split("!", 1)[0]  # a journal inside an agent's log tarball: link the tarball
    link = escape(quote(os.path.join(base, target) if base else target), quote=True)  # a '#' or '?' in a name
    return (f'<tr class="r-{verdict}">'
            f'<td class="id" data-sort="{rank}"><span class="badge v-{verdict}">{verdict}</span></td>'
            f'<td class="id">{machine}</td>'
            f"<td>{escape(m.hostname or '')}</td><td>{escape(m.model or '')}</td>"
            f'<td>{cpu}</td><td class="num" data-sort="{m.memory_bytes or 0}">{_gib(m.memory_bytes)}</td>'
            f'<td class="num" data-sort="{m.disk_bytes or 0}">{disks}</td>'
            f'<td data-sort="{len(m.failing):04d} {escape(" ".join(m.failing), quote=True)}">{failing}</td>'
            f"<td>{_list(m.untested, 3)}</td>"
            f'<td class="num" data-sort="{m.duration_s:.0f}">{_duration(m.duration_s)}</td>'
            f'<td data-sort="{m.started_t or 0}">{_when(m.started_t)}</td><td>{escape(m.profile or "")}</td>'
            f'<td><a href="{link}">{escape(m.journal)}</a>{runs}</td></tr>')


def render_fleet(fleet: Fleet, title: str = "burnin fleet", base: str = "") -> str:
    """The whole page. `base`: prefix of the journal links (the directory as seen from the page)."""
    counts = fleet.counts()
    total = len(fleet.machines)
    boxes = "".join(f'<span class="count v-{escape(v)}">{escape(v)}: {n}</span>' for v, n in counts.items())
    filters = ('<label><input type="radio" name="verdict" id="f-all" checked> all</label>'
               + "".join(f'<label><input type="radio" name="verdict" id="f-{escape(v)}"> {escape(v)} ({n})</label>'
                         for v, n in counts.items() if n))
    parts = "".join(f"<tr><td>{escape(k)}</td><td class=\"num\">{n}</td></tr>" for k, n in fleet.common_parts())
    codes = "".join(f"<tr><td>{escape(k)}</td><td class=\"num\">{n}</td></tr>" for k, n in fleet.common_codes())
    common = ""
    if parts:
        common = (f'<h2>Most common failing parts</h2><div class="side">'
                  f"<table><thead><tr><th>part</th><th>machines</th></tr></thead><tbody>{parts}</tbody></table>"
                  f"<table><thead><tr><th>finding</th><th>machines</th></tr></thead><tbody>{codes}</tbody></table>"
                  f"</div>")
    heads = [("verdict", True), ("serial", False), ("hostname", False), ("model", False), ("CPUs", False),
             ("memory", True), ("disks", True), ("failing components", False), ("not tested", False),
             ("run time", True), ("started", True), ("profile", False), ("journal", False)]
    head = "".join(f"<th{' data-numeric' if numeric else ''}>{name}</th>" for name, numeric in heads)
    rows = "".join(_machine_row(m, base) for m in fleet.machines)
    send_back = sum(1 for m in fleet.machines if m.verdict == "FAIL")
    skipped = (f'<p class="muted">{len(fleet.skipped)} other file(s) that are not burnin journals were left out.</p>'
               if fleet.skipped else "")
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body><main>"
            f"<h1>{escape(title)}: {total} machine(s), {send_back} to send back</h1>"
            f'<div class="counts" id="counts">{boxes}</div>{common}'
            f'<h2>Machines</h2><div class="filters">{filters}'
            f'<input type="search" id="q" placeholder="filter: serial, part, host..." aria-label="filter"></div>'
            f'<div style="overflow-x:auto"><table id="machines"><thead><tr>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table></div>{skipped}"
            f'<p class="muted">burnin {escape(__version__)}: the latest run of each machine; failures first. '
            f"Click a column to sort it.</p></main><script>{SCRIPT}</script></body></html>\n")


def default_page(directory: str | Path) -> str:
    return os.path.join(directory, "fleet.html")


def write_fleet_page(fleet: Fleet, path: str | Path, title: str = "burnin fleet", root: str | Path = "") -> None:
    base = os.path.relpath(root, Path(path).resolve().parent) if root else ""
    write_atomically(path, render_fleet(fleet, title, base))


def fleet_text(fleet: Fleet) -> str:
    """The terminal's summary: counts, then each machine that is not a PASS, one line each."""
    from burnin.report.terminal import field

    lines = ["  ".join(f"{v}: {n}" for v, n in fleet.counts().items()) + f"  ({len(fleet.machines)} machines)"]
    for m in fleet.machines:
        if m.verdict in ("PASS",):
            continue
        name = m.serial or m.hostname or m.journal
        what = ", ".join(m.failing[:3]) or m.reason
        lines.append(f"{m.verdict:<10} {field(name, 60)}  {field(what, 160)}  ({field(m.journal, 120)})")
    return "\n".join(lines)
