"""The wipe certificate as a standalone, printable HTML page (`burnin run|report ... --wipe-certificate FILE`).

One section per `wipe-certificate` note in the journal (written by the disk module's destructive path): the drive
(model, serial, device), the method, what the drive or the read-back confirmed, the HPA state, the times, and the
result: "wiped", or "NOT WIPED" with the reason (a hidden area the overwrite could not reach). No script, no
external resource; every value from the hardware is HTML-escaped.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any, Iterable, Mapping

from burnin.files import write_atomically

FIELDS = (("model", "Model"), ("serial", "Serial number"), ("device", "Device"), ("method", "Method"),
          ("bytes", "Bytes"), ("verified", "Read back"), ("drive_status", "Drive-reported status"),
          ("drive_erase", "Drive's own erase"), ("capabilities", "Drive's erase capabilities"),
          ("hpa", "Hidden area (HPA)"), ("sample_sha256", "Read-back sample SHA-256"), ("started", "Started (UTC)"),
          ("finished", "Finished (UTC)"))


def certificates(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The wipe-certificate notes of a journal's records, in order."""
    return [dict(r.get("data") or {}) for r in records
            if r.get("type") == "note" and r.get("message") == "wipe-certificate"]


def _row(label: str, value: Any) -> str:
    return f"<tr><th>{html.escape(label)}</th><td>{html.escape(str(value))}</td></tr>"


def certificate_html(certs: list[Mapping[str, Any]], host: str = "", run_started: str = "") -> str:
    sections = []
    for cert in certs:
        result = str(cert.get("result") or "wiped")
        ok = result == "wiped"
        rows = "".join(_row(label, cert[key]) for key, label in FIELDS if cert.get(key) not in (None, ""))
        sections.append(f'<section class="{"ok" if ok else "no"}"><h2>{"Wiped" if ok else html.escape(result)}'
                        f"</h2><table>{rows}</table></section>")
    if not sections:
        sections.append('<section class="no"><h2>No drive was wiped in this run</h2></section>')
    head = (f"<p>Host {html.escape(host)}" + (f", run started {html.escape(run_started)}" if run_started else "")
            + "</p>") if host else ""
    return ("<!doctype html><html><head><meta charset=\"utf-8\"><title>Wipe certificate</title><style>"
            "body{font-family:sans-serif;max-width:50em;margin:2em auto}table{border-collapse:collapse;width:100%}"
            "th,td{border:1px solid #999;padding:.3em .6em;text-align:left}th{width:14em;background:#eee}"
            "section{margin:1.5em 0;page-break-inside:avoid}.ok h2{color:#060}.no h2{color:#a00}"
            "@media print{body{margin:0}}</style></head><body><h1>Wipe certificate (burnin)</h1>"
            + head + "".join(sections) + "</body></html>\n")


def write_wipe_certificate(summary: Any, contents: Any, path: str | Path) -> None:
    start = getattr(summary, "run_start", None) or {}
    write_atomically(path, certificate_html(certificates(contents.records), str(start.get("host", "")),
                                            str(start.get("started", ""))))
