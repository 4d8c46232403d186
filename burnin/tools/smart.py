"""SMART: one adapter for everything burnin reads from smartctl. Builds argv, parses, never judges.

Two sources, one record (`SmartReport`) that `burnin.modules.disk` judges:

- **pySMART** (the project's SMART library) parses smartctl's *text*: device discovery (`smartctl --scan-open`,
  which also lists drives behind RAID controllers as ``-d megaraid,N``), identity, the ATA attribute table, NVMe
  health and error log, SCSI counters, the self-test log, and starting, polling and aborting self-tests. Its
  ``Smartctl`` object is injectable: live, `HostSmartctl` runs every call through burnin's host layer (bounded,
  recorded in the journal); for a saved report, `_SavedText` answers every call with the file's text.
- **smartctl's own JSON** (``smartctl --json=c -x``, smartctl >= 7.0) for what pySMART lacks: the ATA error log's
  entry count and the power-on hour of each entry (history-reset check), smartctl's exit-status bits and its error
  messages (why a disk cannot be read). It is also the witness that catches pySMART's blind spots: a field pySMART
  left empty that the JSON has is filled from the JSON and listed in `Reading.gaps`, never silently dropped.

pySMART's import sets LANG=C for the whole process and replaces the global logging class; `pysmart()` imports it
lazily and undoes both. Saved text reports from ``smartctl -x`` print ATA attributes in the brief format that
pySMART's table parser skips, so `parse_ata_attribute_table` (both formats) fills that gap for saved text.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

from burnin.host import CommandResult

SMARTCTL = "smartctl"
SMARTCTL_TIMEOUT_S = 60.0  # a drive spinning up from standby takes ~20 s; a dying one may take longer
SELF_TEST_KINDS = ("short", "long")

ATA, NVME, SCSI = "ATA", "NVMe", "SCSI"

# Self-test outcomes, whatever the protocol spells them as
PASSED, FAILED, ABORTED, RUNNING, UNKNOWN = "passed", "failed", "aborted", "running", "unknown"
TEXT_FALLBACK = "text-fallback"  # pySMART could not parse a saved text report; only burnin's own reads of it


# -- records ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScanEntry:
    """One line of ``smartctl --scan-open``: a device name and the -d type that opens it."""

    name: str  # "/dev/sda", "/dev/bus/0", "/dev/nvme0"
    dev_type: str  # "sat", "nvme", "scsi", "megaraid,16", "sat+megaraid,60", "sntasmedia"
    comment: str = ""

    @property
    def behind_raid(self) -> bool:
        return any(k in self.dev_type for k in ("megaraid", "cciss", "areca", "3ware", "aacraid", "hpt"))

    def label(self) -> str:
        return f"{self.name} -d {self.dev_type}" if self.behind_raid else self.name


@dataclass(frozen=True)
class AtaAttribute:
    id: int
    name: str
    value: int | None
    worst: int | None
    thresh: int | None
    raw: int | None  # the leading count of the raw value ("37 (Min/Max 20/45)" -> 37)
    raw_text: str
    prefailure: bool | None
    when_failed: str  # "" (never), "now", "past"


@dataclass(frozen=True)
class SelfTestEntry:
    kind: str  # "Short offline", "Extended", "Background short"
    status: str  # as smartctl words it
    result: str  # PASSED, FAILED, ABORTED, RUNNING, UNKNOWN
    hours: int | None  # power-on hours when it ran (16-bit, wraps, on ATA)
    lba: int | None  # first failing LBA


@dataclass(frozen=True)
class ErrorLogEntry:
    number: int | None
    hours: int | None  # power-on hours when it happened (16-bit, wraps, on ATA)
    description: str = ""


@dataclass(frozen=True)
class NvmeErrorEntry:
    error_count: int
    status: int | None  # the status field as logged (bit 0 is the phase tag)

    @property
    def status_code(self) -> int | None:
        return None if self.status is None else (self.status >> 1) & 0xFF

    @property
    def status_code_type(self) -> int | None:
        return None if self.status is None else (self.status >> 9) & 0x7


@dataclass(frozen=True)
class NvmeHealth:
    critical_warning: int | None
    available_spare: int | None
    available_spare_threshold: int | None
    percentage_used: int | None
    media_errors: int | None
    error_log_entries: int | None  # num_err_log_entries: lifetime count
    errors: tuple[NvmeErrorEntry, ...] = ()


@dataclass(frozen=True)
class ScsiCounters:
    grown_defects: int | None
    uncorrected_read: int | None
    uncorrected_write: int | None
    uncorrected_verify: int | None
    non_medium_errors: int | None = None


@dataclass(frozen=True)
class SmartReport:
    """What one smartctl read of one drive says, whichever way it was parsed. None: not reported."""

    device: str  # "/dev/sda", "/dev/bus/0"
    dev_type: str | None  # the smartctl -d type, when known
    protocol: str | None  # ATA, NVME, SCSI; None when smartctl could not talk to it
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    smart_available: bool | None = None
    smart_enabled: bool | None = None
    health_passed: bool | None = None
    power_on_hours: int | None = None
    temperature_c: int | None = None
    attributes: tuple[AtaAttribute, ...] = ()
    nvme: NvmeHealth | None = None
    scsi: ScsiCounters | None = None
    error_count: int | None = None  # ATA: the device's error count; NVMe: error-log entries
    error_log: tuple[ErrorLogEntry, ...] = ()  # newest first
    self_tests: tuple[SelfTestEntry, ...] = ()  # newest first
    self_test_running: bool | None = None
    self_test_remaining_pct: int | None = None
    messages: tuple[str, ...] = ()  # what smartctl said went wrong
    exit_status: int | None = None  # smartctl's exit-status bits (JSON only)
    source: str = ""  # "pysmart", "smartctl-json", "pysmart+json"
    # What smartmontools' drive database knows of this model/firmware, as smartctl printed it
    model_family: str | None = None
    in_database: bool | None = None
    drivedb_warnings: tuple[str, ...] = ()  # "==> WARNING: ..." for a known model/firmware
    # History and wear beyond the health log
    scsi_endurance_used_pct: int | None = None  # SCSI "Percentage used endurance indicator"
    manufactured: str | None = None  # SAS: "2021-W32" (log page 0x0E)
    start_stop_cycles: int | None = None  # SAS: accumulated start-stop cycles
    background_scan_power_on_minutes: int | None = None  # SAS: background scan page 0x15
    devstat_power_on_hours: int | None = None  # ATA device statistics (GP log 0x04): 32-bit power-on hours
    devstat_power_on_resets: int | None = None
    power_cycles: int | None = None
    bytes_written: int | None = None  # NVMe data units written x 512,000
    scsi_vendor: str | None = None  # "NVMe" when an NVMe drive is seen through SCSI translation
    farm: Any = None  # the `seagate_farm_log` object of `smartctl -l farm -j` (burnin.tools.farm reads it)

    def attribute(self, attr_id: int) -> AtaAttribute | None:
        for attr in self.attributes:
            if attr.id == attr_id:
                return attr
        return None

    @property
    def has_smart_data(self) -> bool:
        """Whether there is anything health-related to judge."""
        return bool(self.health_passed is not None or self.attributes or self.nvme or self.scsi)

    def label(self) -> str:
        if self.dev_type and any(k in self.dev_type for k in ("megaraid", "cciss", "areca", "3ware")):
            return f"{self.device} -d {self.dev_type}"
        return self.device


EXTRA_FIELDS = ("model_family", "in_database", "drivedb_warnings", "scsi_endurance_used_pct", "manufactured",
                "start_stop_cycles", "background_scan_power_on_minutes", "devstat_power_on_hours",
                "devstat_power_on_resets", "power_cycles", "bytes_written", "scsi_vendor", "farm")


# -- argv: the one place a smartctl command line is built ------------------------------------------------
def smartctl_argv(device: str, *options: str, dev_type: str | None = None) -> list[str]:
    """`smartctl OPTIONS [-d TYPE] DEVICE`."""
    return [SMARTCTL, *options, *(["-d", dev_type] if dev_type else []), device]


def scan_argv() -> list[str]:
    return [SMARTCTL, "--scan-open"]


def json_argv(device: str, dev_type: str | None = None) -> list[str]:
    """Everything smartctl knows (-x), as compact JSON."""
    return smartctl_argv(device, "--json=c", "-x", dev_type=dev_type)


def identity_argv(device: str) -> list[str]:
    """The identity page (-i) as JSON (smartctl >= 7.0): model, serial, SATA version and interface speeds."""
    return smartctl_argv(device, "-i", "-j")


def parse_scan(lines: Iterable[str]) -> list[ScanEntry]:
    """`smartctl --scan-open` lines -> entries. Lines for devices it could not open ("# /dev/sdb -d usb... failed:
    ...") are left out: the disk is still read directly, so its reason is not lost."""
    entries = []
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#") or "failed:" in line:
            continue
        match = re.match(r"^(\S+)\s+-d\s+(\S+)(?:\s*#\s*(.*))?$", line)
        if match:
            entries.append(ScanEntry(match[1], match[2], (match[3] or "").strip()))
    return entries


# -- small helpers ---------------------------------------------------------------------------------
def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    if isinstance(value, str):
        match = re.match(r"\s*(\d[\d,.'\u2019\u00a0 ]*)", value)
        if match:
            digits = re.sub(r"\D", "", match[1])
            return int(digits) if digits else None
    return None


def _leading_int(text: str | None) -> int | None:
    if not text:
        return None
    match = re.match(r"\s*(\d+)", str(text))
    return int(match[1]) if match else None


def classify_self_test(status: str) -> str:
    """A self-test status as any smartctl protocol words it -> PASSED, FAILED, ABORTED, RUNNING or UNKNOWN."""
    text = status.strip().lower()
    if not text:
        return UNKNOWN
    if "progress" in text or text == "running":
        return RUNNING
    if "without error" in text or text in ("completed", "completed without error"):
        return PASSED
    if "abort" in text or "interrupt" in text:
        return ABORTED
    if "fail" in text or "error" in text or "incomplete" in text:
        return FAILED
    return UNKNOWN


# -- smartctl JSON ---------------------------------------------------------------------------------
def _ata_self_test_result(status: Mapping[str, Any]) -> str:
    value = status.get("value")
    if isinstance(value, int):
        nibble = value >> 4
        if nibble == 0:
            return PASSED
        if nibble in (1, 2):
            return ABORTED
        if 3 <= nibble <= 8:
            return FAILED
        if nibble == 15:
            return RUNNING
    if status.get("passed") is True:
        return PASSED
    if status.get("passed") is False:
        return FAILED
    return classify_self_test(str(status.get("string", "")))


def _nvme_self_test_result(result: Mapping[str, Any]) -> str:
    value = result.get("value")
    if isinstance(value, int):
        if value == 0:
            return PASSED
        if value in (1, 2, 3, 4, 8, 9):
            return ABORTED
        if value in (5, 6, 7):
            return FAILED
    return classify_self_test(str(result.get("string", "")))


def _scsi_self_test_result(result: Mapping[str, Any]) -> str:
    value = result.get("value")
    if isinstance(value, int):
        if value == 0:
            return PASSED
        if value in (1, 2):
            return ABORTED
        if 3 <= value <= 7:
            return FAILED
        if value == 15:
            return RUNNING
    return classify_self_test(str(result.get("string", "")))


# What report_from_json reads of a smartctl JSON document, and of which type. smartctl writes these types; a
# document that does not (a hand-edited or corrupted saved report, a smartctl bug) has the value left out and
# said, never a traceback further on. Keys not named here are not read and not checked.
_NUM, _STR, _BOOL, _ANY = "number", "string", "true/false", "any"
_RAW = {"value": _NUM, "string": _STR}
_ATA_LOG = {"count": _NUM, "table": [{"error_number": _NUM, "lifetime_hours": _NUM, "error_description": _STR}]}
_ATA_STATUS = {"value": _NUM, "passed": _BOOL, "string": _STR}
_ATA_TESTS = {"table": [{"type": {"string": _STR}, "status": _ATA_STATUS, "lifetime_hours": _NUM, "lba": _NUM}]}
_SCSI_TEST = {"code": {"string": _STR}, "result": {"value": _NUM, "string": _STR}, "power_on_time": {"hours": _NUM},
              "lba_first_failure": _NUM}
SMART_JSON_SHAPE: dict[str, Any] = {
    "device": {"name": _STR, "info_name": _STR, "type": _STR, "protocol": _STR},
    "smartctl": {"messages": [{"string": _STR}], "exit_status": _NUM},
    "smart_support": {"available": _BOOL, "enabled": _BOOL},
    "smart_status": {"passed": _BOOL},
    "ata_smart_attributes": {"table": [{"id": _NUM, "name": _STR, "value": _NUM, "worst": _NUM, "thresh": _NUM,
                                        "raw": _RAW, "flags": {"prefailure": _BOOL}, "when_failed": _STR}]},
    "nvme_smart_health_information_log": {key: _NUM for key in (
        "critical_warning", "available_spare", "available_spare_threshold", "percentage_used", "media_errors",
        "num_err_log_entries")},
    "nvme_error_information_log": {"table": [{"error_count": _NUM, "status_field": {"value": _NUM}}]},
    "scsi_error_counter_log": {kind: {"total_uncorrected_errors": _NUM} for kind in ("read", "write", "verify")},
    "scsi_grown_defect_list": _NUM,
    "scsi_nonmedium_error": {"count": _NUM},
    "ata_smart_error_log": {"extended": _ATA_LOG, "summary": _ATA_LOG},
    "ata_smart_self_test_log": {"extended": _ATA_TESTS, "standard": _ATA_TESTS},
    "ata_smart_data": {"self_test": {"status": {**_ATA_STATUS, "remaining_percent": _NUM}}},
    "nvme_self_test_log": {"table": [{"self_test_code": {"string": _STR}, "self_test_result": {"value": _NUM,
                                                                                              "string": _STR},
                                      "power_on_hours": _NUM, "lba": _ANY}],
                           "current_self_test_operation": {"value": _NUM},
                           "current_self_test_completion_percent": _NUM},
    **{f"scsi_self_test_{i}": _SCSI_TEST for i in range(20)},
    "model_name": _STR, "scsi_model_name": _STR, "serial_number": _STR, "firmware_version": _STR,
    "scsi_revision": _STR, "power_on_time": {"hours": _NUM}, "temperature": {"current": _NUM},
    # drive database, history and wear (burnin.modules.disk.quirks, .history)
    "model_family": _STR, "in_smartctl_database": _BOOL, "scsi_vendor": _STR,
    "scsi_percentage_used_endurance_indicator": _NUM, "power_cycle_count": _NUM,
    "scsi_start_stop_cycle_counter": {"year_of_manufacture": _STR, "week_of_manufacture": _STR,
                                      "accumulated_start_stop_cycles": _NUM},
    "ata_device_statistics": {"pages": [{"table": [{"name": _STR, "value": _NUM}]}]},
    "seagate_farm_log": {"page_1_drive_information": {
        key: _NUM for key in ("poh", "spoh", "head_flight_hours", "power_cycle_count", "number_of_heads")}},
}


def _fits(value: Any, kind: str) -> bool:
    if kind == _NUM:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if kind == _STR:
        return isinstance(value, str)
    if kind == _BOOL:
        return isinstance(value, bool)
    return True


def _shaped(value: Any, shape: Any, where: str, problems: list[str]) -> Any:
    """`value` with every part that does not fit `shape` left out (said in `problems`); `_DROP` if it all does not."""
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            problems.append(f"{where} is not an object")
            return _DROP
        out = dict(value)
        for key, inner in shape.items():
            if key in out:
                kept = _shaped(out[key], inner, f"{where}.{key}" if where else key, problems)
                if kept is _DROP:
                    del out[key]
                else:
                    out[key] = kept
        return out
    if isinstance(shape, list):
        if not isinstance(value, list):
            problems.append(f"{where} is not a list")
            return _DROP
        rows = [_shaped(row, shape[0], f"{where}[{n}]", problems) for n, row in enumerate(value)]
        return [row for row in rows if row is not _DROP]
    if not _fits(value, shape):
        problems.append(f"{where} is not a {shape} ({json.dumps(value, default=str)[:40]})")
        return _DROP
    return value


_DROP = object()


def checked_json(doc: Any) -> tuple[dict[str, Any], list[str]]:
    """A smartctl JSON document with the values of the wrong type left out, and one phrase per value left out."""
    problems: list[str] = []
    shaped = _shaped(doc, SMART_JSON_SHAPE, "", problems)
    if shaped is _DROP:
        raise ReportError("JSON, but not a smartctl document (not an object)")
    return shaped, [f"smartctl JSON: {p}, ignored" for p in problems[:20]] + (
        [f"smartctl JSON: {len(problems) - 20} more values of the wrong type ignored"] if len(problems) > 20 else [])


def report_from_json(doc: Mapping[str, Any]) -> SmartReport:
    """A ``smartctl --json`` document (any of -a, -x, -i -H -A -l error) -> SmartReport."""
    device = doc.get("device") or {}
    smartctl = doc.get("smartctl") or {}
    messages = tuple(str(m.get("string", "")) for m in smartctl.get("messages") or [] if m.get("string"))
    protocol = device.get("protocol")
    protocol = {"ata": ATA, "nvme": NVME, "scsi": SCSI}.get(str(protocol).lower()) if protocol else None
    support = doc.get("smart_support") or {}
    status = doc.get("smart_status") or {}

    attributes = []
    for row in (doc.get("ata_smart_attributes") or {}).get("table") or []:
        raw = row.get("raw") or {}
        raw_text = str(raw.get("string", raw.get("value", "")))
        attributes.append(AtaAttribute(
            id=_int(row.get("id")) or 0,
            name=str(row.get("name", "")),
            value=_int(row.get("value")),
            worst=_int(row.get("worst")),
            thresh=_int(row.get("thresh")),
            # The leading count of the raw string, as smartctl decoded it (packed raw values such as
            # "37 (Min/Max 20/45)" keep their count first); the 48-bit raw number when there is no string.
            raw=_leading_int(raw.get("string")) if raw.get("string") is not None else _int(raw.get("value")),
            raw_text=raw_text,
            prefailure=(row.get("flags") or {}).get("prefailure"),
            when_failed=str(row.get("when_failed") or ""),
        ))

    nvme = None
    log = doc.get("nvme_smart_health_information_log")
    if log is not None:
        errors = tuple(
            NvmeErrorEntry(_int(e.get("error_count")) or 0, _int((e.get("status_field") or {}).get("value")))
            for e in (doc.get("nvme_error_information_log") or {}).get("table") or [] if e.get("error_count")
        )
        nvme = NvmeHealth(
            critical_warning=_int(log.get("critical_warning")),
            available_spare=_int(log.get("available_spare")),
            available_spare_threshold=_int(log.get("available_spare_threshold")),
            percentage_used=_int(log.get("percentage_used")),
            media_errors=_int(log.get("media_errors")),
            error_log_entries=_int(log.get("num_err_log_entries")),
            errors=errors,
        )

    scsi = None
    if protocol == SCSI and ("scsi_grown_defect_list" in doc or "scsi_error_counter_log" in doc):
        counters = doc.get("scsi_error_counter_log") or {}

        def uncorrected(kind: str) -> int | None:
            return _int((counters.get(kind) or {}).get("total_uncorrected_errors"))

        scsi = ScsiCounters(
            grown_defects=_int(doc.get("scsi_grown_defect_list")),
            uncorrected_read=uncorrected("read"),
            uncorrected_write=uncorrected("write"),
            uncorrected_verify=uncorrected("verify"),
            non_medium_errors=_int((doc.get("scsi_nonmedium_error") or {}).get("count")),
        )

    # Error log: -x gives the extended comprehensive log, -a the summary one
    error_count = None
    error_log: list[ErrorLogEntry] = []
    ata_errors = doc.get("ata_smart_error_log") or {}
    for part in ("extended", "summary"):
        if part in ata_errors:
            body = ata_errors[part] or {}
            error_count = _int(body.get("count"))
            for e in body.get("table") or []:
                error_log.append(ErrorLogEntry(_int(e.get("error_number")), _int(e.get("lifetime_hours")),
                                               str(e.get("error_description", ""))))
            break
    if nvme is not None:
        error_count = nvme.error_log_entries

    self_tests: list[SelfTestEntry] = []
    running = None
    remaining = None
    ata_log = doc.get("ata_smart_self_test_log") or {}
    for part in ("extended", "standard"):
        if part in ata_log:
            for e in (ata_log[part] or {}).get("table") or []:
                st = e.get("status") or {}
                self_tests.append(SelfTestEntry(str((e.get("type") or {}).get("string", "")),
                                                str(st.get("string", "")), _ata_self_test_result(st),
                                                _int(e.get("lifetime_hours")), _int(e.get("lba"))))
            break
    current = ((doc.get("ata_smart_data") or {}).get("self_test") or {}).get("status") or {}
    if current:
        running = _ata_self_test_result(current) == RUNNING
        remaining = _int(current.get("remaining_percent")) if running else None
    nvme_log = doc.get("nvme_self_test_log") or {}
    if nvme_log:
        for e in nvme_log.get("table") or []:
            res = e.get("self_test_result") or {}
            self_tests.append(SelfTestEntry(str((e.get("self_test_code") or {}).get("string", "")),
                                            str(res.get("string", "")), _nvme_self_test_result(res),
                                            _int(e.get("power_on_hours")), _int((e.get("lba") or {}).get("value")
                                                                               if isinstance(e.get("lba"), dict)
                                                                               else e.get("lba"))))
        op = _int((nvme_log.get("current_self_test_operation") or {}).get("value"))
        if op is not None:
            running = op != 0
            done = _int(nvme_log.get("current_self_test_completion_percent"))
            remaining = 100 - done if running and done is not None else None
    for i in range(20):
        e = doc.get(f"scsi_self_test_{i}")
        if not e:
            continue
        res = e.get("result") or {}
        self_tests.append(SelfTestEntry(str((e.get("code") or {}).get("string", "")), str(res.get("string", "")),
                                        _scsi_self_test_result(res),
                                        _int((e.get("power_on_time") or {}).get("hours")),
                                        _int(e.get("lba_first_failure"))))

    health = status.get("passed")
    extras = _json_extras(doc)
    return SmartReport(
        device=str(device.get("name") or device.get("info_name") or "?"),
        dev_type=device.get("type"),
        protocol=protocol,
        model=doc.get("model_name") or doc.get("scsi_model_name"),
        serial=doc.get("serial_number"),
        firmware=doc.get("firmware_version") or doc.get("scsi_revision"),
        smart_available=support.get("available", True if protocol == NVME else None),
        smart_enabled=support.get("enabled", True if protocol == NVME else None),
        health_passed=health if isinstance(health, bool) else None,
        power_on_hours=_int((doc.get("power_on_time") or {}).get("hours")),
        temperature_c=_int((doc.get("temperature") or {}).get("current")),
        attributes=tuple(attributes),
        nvme=nvme,
        scsi=scsi,
        error_count=error_count,
        error_log=tuple(error_log),
        self_tests=tuple(self_tests),
        self_test_running=running,
        self_test_remaining_pct=remaining,
        messages=messages,
        exit_status=_int(smartctl.get("exit_status")),
        source="smartctl-json",
        **extras,
    )


def _json_extras(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Drive-database identity, wear and history fields of a smartctl JSON document (None where absent)."""
    out: dict[str, Any] = {
        "model_family": doc.get("model_family") if isinstance(doc.get("model_family"), str) else None,
        "in_database": doc.get("in_smartctl_database") if isinstance(doc.get("in_smartctl_database"), bool)
        else None,
        "scsi_endurance_used_pct": _int(doc.get("scsi_percentage_used_endurance_indicator")),
        "power_cycles": _int(doc.get("power_cycle_count")),
        "scsi_vendor": doc.get("scsi_vendor") if isinstance(doc.get("scsi_vendor"), str) else None,
    }
    ssc = doc.get("scsi_start_stop_cycle_counter") or {}
    year, week = _int(ssc.get("year_of_manufacture")), _int(ssc.get("week_of_manufacture"))
    if year:
        out["manufactured"] = f"{year}-W{week:02d}" if week else str(year)
    out["start_stop_cycles"] = _int(ssc.get("accumulated_start_stop_cycles"))
    for page in (doc.get("ata_device_statistics") or {}).get("pages") or []:
        for row in page.get("table") or [] if isinstance(page, dict) else []:
            name = str(row.get("name", "")).lower()
            if name == "power-on hours":
                out["devstat_power_on_hours"] = _int(row.get("value"))
            elif name == "lifetime power-on resets":
                out["devstat_power_on_resets"] = _int(row.get("value"))
    log = doc.get("nvme_smart_health_information_log") or {}
    units = _int(log.get("data_units_written"))
    if units is not None:
        out["bytes_written"] = units * 512_000
    if out["power_cycles"] is None:
        out["power_cycles"] = _int(log.get("power_cycles"))
    farm = doc.get("seagate_farm_log")
    if isinstance(farm, dict) and farm.get("supported", True) is not False and farm.get("page_1_drive_information"):
        out["farm"] = farm
    return out


def parse_extras_text(lines: Sequence[str]) -> dict[str, Any]:
    """What `_json_extras` reads, from smartctl's text (-a / -x): the drive database lines and warnings, SCSI wear,
    manufacture date, start-stop cycles, background-scan power-on time, ATA device statistics."""
    out: dict[str, Any] = {}
    warnings_: list[str] = []
    block: list[str] | None = None
    devstat = False
    for line in lines:
        if block is not None:
            if line.strip():
                block.append(line.strip())
                continue
            warnings_.append(" ".join(block))
            block = None
        if line.startswith("==> WARNING:"):
            block = [line[len("==> WARNING:"):].strip()]
            continue
        key, _, value = line.partition(":")
        value = value.strip()
        if key == "Model Family" and value:
            out["model_family"] = value
        elif key == "Device is" and value:
            out["in_database"] = value.startswith("In smartctl database")
        elif key == "Vendor" and value:
            out["scsi_vendor"] = value
        elif key == "Percentage used endurance indicator":
            out["scsi_endurance_used_pct"] = _int(value)
        elif key == "Accumulated start-stop cycles":
            out["start_stop_cycles"] = _int(value)
        elif key == "Power Cycles" or key == "Power_Cycle_Count":
            out["power_cycles"] = _int(value)
        elif key == "Data Units Written" and _int(value) is not None:
            out["bytes_written"] = _int(value) * 512_000
        match = re.match(r"^Manufactured in week (\d+) of year (\d+)", line)
        if match:
            out["manufactured"] = f"{int(match[2])}-W{int(match[1]):02d}"
        match = re.search(r"Accumulated power on time, hours:minutes (\d+):(\d+)", line)
        if match:
            out["background_scan_power_on_minutes"] = int(match[1]) * 60 + int(match[2])
        if line.startswith("Device Statistics ("):
            devstat = True
        elif devstat:
            match = re.match(r"^0x01\s+0x0(10|08)\s+\d\s+(\d+)\s+\S+\s+(.*)$", line)
            if match and match[3].strip().lower() == "power-on hours":
                out["devstat_power_on_hours"] = int(match[2])
            elif match and match[3].strip().lower() == "lifetime power-on resets":
                out["devstat_power_on_resets"] = int(match[2])
    if block:
        warnings_.append(" ".join(block))
    if warnings_:
        out["drivedb_warnings"] = tuple(warnings_)
    return out


# -- smartctl text (what pySMART lacks) ------------------------------------------------------------
_ATTR_OLD = re.compile(r"^\s*(\d+)\s+(\S+)\s+0x[0-9a-fA-F]+\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(.+)$")
_ATTR_BRIEF = re.compile(r"^\s*(\d+)\s+(\S+)\s+([PO-][O-][S-][R-][C-][K-]\S*)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(.+)$")


def _when_failed(text: str) -> str:
    text = text.strip().lower()
    if text in ("", "-"):
        return ""
    if "now" in text:
        return "now"
    if "past" in text:
        return "past"
    return text


def parse_ata_attribute_table(lines: Sequence[str]) -> list[AtaAttribute]:
    """The ATA attribute table of smartctl text, in the -a format (flags as 0x002f, type and updated columns)
    or the brief -x format (flags as "POSR-K", a FAIL column). pySMART reads only the first."""
    attrs: list[AtaAttribute] = []
    inside = False
    for line in lines:
        if re.match(r"^ID#\s+ATTRIBUTE_NAME", line):
            inside = True
            continue
        if not inside:
            continue
        if not line.strip() or line.startswith(("=", "SMART", "General", "Read")):
            if attrs:
                break
            continue
        if line.strip().startswith("||") or line.strip().startswith("|"):
            continue  # the legend under the brief table
        match = _ATTR_OLD.match(line)
        if match:
            raw_text = match[9].strip()
            attrs.append(AtaAttribute(int(match[1]), match[2], _int(match[3]), _int(match[4]),
                                      _leading_int(match[5]), _leading_int(raw_text), raw_text,
                                      match[6].lower().startswith("pre"), _when_failed(match[8])))
            continue
        match = _ATTR_BRIEF.match(line)
        if match:
            raw_text = match[8].strip()
            attrs.append(AtaAttribute(int(match[1]), match[2], _int(match[4]), _int(match[5]),
                                      _leading_int(match[6]), _leading_int(raw_text), raw_text,
                                      match[3].startswith("P"), _when_failed(match[7])))
    return attrs


def parse_ata_error_log_text(lines: Sequence[str]) -> tuple[int | None, list[ErrorLogEntry]]:
    """ATA error count and entries (with the power-on hour of each) from smartctl text; pySMART reads neither."""
    count: int | None = None
    seen_log = False
    entries: list[ErrorLogEntry] = []
    for line in lines:
        if re.match(r"^SMART (Extended Comprehensive )?Error Log Version", line):
            seen_log = True
            continue
        match = re.match(r"^(?:ATA|Device) Error Count:\s+(\d+)", line)
        if match:
            count = int(match[1])
            continue
        if seen_log and count is None and line.strip() == "No Errors Logged":
            count = 0
            continue
        match = re.match(r"^Error (\d+)(?: \[\d+\])? (?:occurred )?at disk power-on lifetime: (\d+) hours", line)
        if match:
            entries.append(ErrorLogEntry(int(match[1]), int(match[2])))
    return count, entries


def parse_nvme_error_log_text(lines: Sequence[str]) -> list[NvmeErrorEntry]:
    """The NVMe error information log table. pySMART's parser expects no column after VS; smartctl 7.3 and later
    print a "Message" column, and pySMART then reads no entry at all."""
    entries: list[NvmeErrorEntry] = []
    inside = False
    for line in lines:
        if line.startswith("Error Information (NVMe Log 0x01"):
            inside = True
            continue
        if not inside:
            continue
        if not line.strip():
            break
        match = re.match(r"^\s*\d+\s+(\d+)\s+\S+\s+\S+\s+(0x[0-9a-fA-F]+|-)\s", line)
        if match:
            entries.append(NvmeErrorEntry(int(match[1]), int(match[2], 16) if match[2] != "-" else None))
    return entries


def parse_health_text(lines: Sequence[str]) -> bool | None:
    """The drive's own overall verdict line (pySMART folds attribute failures into its `assessment`)."""
    for line in lines:
        if "overall-health self-assessment test result:" in line:
            return line.split(":", 1)[1].strip().upper() == "PASSED"
        if line.startswith("SMART Health Status:"):
            return line.split(":", 1)[1].strip().upper() == "OK"
    return None


def detect_interface(lines: Sequence[str]) -> str | None:
    """Which pySMART interface a saved smartctl text report is: "nvme", "scsi" or "ata"; None if none."""
    text = "\n".join(lines)
    if "NVMe Log 0x02" in text or re.search(r"^NVMe Version:", text, re.M) or "Model Number:" in text:
        return "nvme"
    if re.search(r"^Vendor:\s+\S", text, re.M) and re.search(r"^Product:\s+\S", text, re.M):
        return "scsi"
    if re.search(r"^(Device Model|Model Family|ATA Version is):", text, re.M) or "ID# ATTRIBUTE_NAME" in text:
        return "ata"
    return None


# -- pySMART ---------------------------------------------------------------------------------------
_PYSMART: Any = None


def pysmart() -> Any:
    """The pySMART package, imported on first use with its side effects undone: its import sets LANG=C for the
    whole process and installs its own logging class for every logger created afterwards."""
    global _PYSMART
    if _PYSMART is None:
        logger_class = logging.getLoggerClass()
        lang = os.environ.get("LANG")
        import pySMART  # noqa: PLC0415 - lazily, on purpose
        import pySMART.interface  # noqa: PLC0415
        import pySMART.smartctl  # noqa: PLC0415

        logging.setLoggerClass(logger_class)
        if lang is None:
            os.environ.pop("LANG", None)
        else:
            os.environ["LANG"] = lang
        # pySMART logs chatter ("Detected encoding: ...") that must not reach the dashboard's terminal
        log = logging.getLogger("pySMART")
        log.addHandler(logging.NullHandler())
        log.propagate = False
        _PYSMART = pySMART
    return _PYSMART


def pysmart_version() -> str | None:
    try:
        return str(pysmart().__version__)
    except Exception:  # noqa: BLE001 - only for the journal
        return None


def _smartctl_base() -> type:
    return pysmart().smartctl.Smartctl


def make_host_smartctl(run: Callable[[Sequence[str], float], CommandResult]) -> Any:
    """A pySMART ``Smartctl`` whose every call goes through `run` (the host layer: bounded, journaled).
    It keeps the last text each device printed for `--all` (for what pySMART does not parse) and the last
    tool error (smartctl missing, timed out)."""
    base = _smartctl_base()

    class HostSmartctl(base):  # type: ignore[misc, valid-type]
        def __init__(self) -> None:
            super().__init__(smartctl_path=SMARTCTL)
            self.run = run
            self.texts: dict[str, list[str]] = {}
            self.tool_error = ""

        def _exec(self, cmd: list[str]) -> tuple[list[str], int]:
            result = self.run(cmd, SMARTCTL_TIMEOUT_S)
            if result.error:
                self.tool_error = result.error
            lines = result.stdout.splitlines()
            if "--all" in cmd or "-x" in cmd:
                self.texts[cmd[-1]] = lines
            return lines, 1 if result.returncode is None else result.returncode

    return HostSmartctl()


def _saved_text_smartctl(lines: list[str]) -> Any:
    base = _smartctl_base()

    class _SavedText(base):  # type: ignore[misc, valid-type]
        """Answers pySMART's report calls with a saved report; its probing calls (-l sataphy, ...) get nothing."""

        def __init__(self) -> None:
            super().__init__(smartctl_path=SMARTCTL)

        def _exec(self, cmd: list[str]) -> tuple[list[str], int]:
            if any(flag in cmd for flag in ("--all", "-x", "--info", "-a")):
                return list(lines), 0
            return [], 1

    return _SavedText()


def report_from_pysmart(device: Any, lines: Sequence[str] = (), dev_type: str | None = None) -> SmartReport:
    """A pySMART Device (after update()) -> SmartReport. `lines` is the text it parsed, for what it lacks
    (the ATA error log and its hours, the drive's own health line)."""
    psm = pysmart()
    iface = device.if_attributes
    protocol = None
    attributes: tuple[AtaAttribute, ...] = ()
    nvme = None
    scsi = None
    power_on_hours = None
    error_count = None
    error_log: tuple[ErrorLogEntry, ...] = ()
    if isinstance(iface, psm.interface.AtaAttributes):
        protocol = ATA
        attrs = []
        for a in iface.legacyAttributes:
            if a is None:
                continue
            attrs.append(AtaAttribute(int(a.num), str(a.name), _int(a.value_str), _int(a.worst),
                                      a.thresh, a.raw_int, str(a.raw), str(a.type).lower().startswith("pre"),
                                      _when_failed(str(a.when_failed))))
        attributes = tuple(attrs)
        poh = next((a for a in attributes if a.id == 9), None)
        power_on_hours = poh.raw if poh else None
        count, entries = parse_ata_error_log_text(lines)
        error_count, error_log = count, tuple(entries)
    elif isinstance(iface, psm.interface.NvmeAttributes):
        protocol = NVME
        nvme = NvmeHealth(
            critical_warning=iface.criticalWarning,
            available_spare=iface.availableSpare,
            available_spare_threshold=iface.availableSpareThreshold,
            percentage_used=iface.percentageUsed,
            media_errors=iface.integrityErrors,
            error_log_entries=iface.errorEntries,
            errors=tuple(NvmeErrorEntry(int(e.errCount), _int(e.status)) for e in iface.errors or []
                         if getattr(e, "errCount", None)) or tuple(parse_nvme_error_log_text(lines)),
        )
        power_on_hours = iface.powerOnHours
        error_count = iface.errorEntries
    elif isinstance(iface, psm.interface.SCSIAttributes):
        protocol = SCSI
        diag = iface.diagnostics
        if device.smart_capable or any(v is not None for v in (diag.Reallocated_Sector_Ct, diag.Power_On_Hours)):
            scsi = ScsiCounters(
                grown_defects=diag.Reallocated_Sector_Ct,
                uncorrected_read=diag.Uncorrected_Reads,
                uncorrected_write=diag.Uncorrected_Writes,
                uncorrected_verify=diag.Uncorrected_Verifies,
                non_medium_errors=diag.Non_Medium_Errors,
            )
        power_on_hours = diag.Power_On_Hours

    tests = []
    for t in device.tests or []:
        status = str(t.status or "")
        lba = _leading_int(str(t.LBA)) if t.LBA not in (None, "-") else None
        tests.append(SelfTestEntry(str(t.type or ""), status, classify_self_test(status), _leading_int(str(t.hours)),
                                   lba))
    running = bool(getattr(device, "_test_running", False))
    progress = getattr(device, "_test_progress", None)
    health = parse_health_text(lines) if lines else None
    if health is None and device.assessment in ("PASS", "FAIL"):
        health = device.assessment == "PASS"
    capable = bool(device.smart_capable) or protocol == NVME
    report = SmartReport(
        device=device.dev_reference,
        dev_type=dev_type or device.smartctl_interface,
        protocol=protocol,
        model=device.model,
        serial=device.serial or None,
        firmware=device.firmware,
        smart_available=capable if protocol is not None or device.model else None,
        smart_enabled=bool(device.smart_enabled) or protocol == NVME,
        health_passed=health,
        power_on_hours=power_on_hours,
        temperature_c=device.temperature,
        attributes=attributes,
        nvme=nvme,
        scsi=scsi,
        error_count=error_count,
        error_log=error_log,
        self_tests=tuple(tests),
        self_test_running=running,
        self_test_remaining_pct=(100 - int(progress)) if running and isinstance(progress, (int, float)) else None,
        source="pysmart",
    )
    extras = parse_extras_text(lines) if lines else {}
    return replace(report, **extras) if extras else report


def open_pysmart_device(name: str, dev_type: str | None, smartctl: Any) -> tuple[Any, list[str]]:
    """A pySMART Device for `name`, and the warnings pySMART raised while making it ("does not exist")."""
    psm = pysmart()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        device = psm.Device(name, interface=dev_type, smartctl=smartctl)
    return device, [" ".join(str(w.message).split()) for w in caught]


# -- saved reports (`burnin smart FILE`) -----------------------------------------------------------
class ReportError(ValueError):
    """A file that is not a smartctl report burnin can read."""


def report_from_text(text: str, name: str = "/dev/saved") -> tuple[SmartReport, list[str]]:
    """A saved ``smartctl -a`` / ``-x`` text report, parsed by pySMART, with what pySMART lacks parsed here.
    Returns the report and the gaps: fields pySMART left empty that the text has (filled from the text)."""
    lines = text.splitlines()
    interface = detect_interface(lines)
    if interface is None:
        raise ReportError("not a smartctl report: no ATA, NVMe or SCSI information section found")
    gaps: list[str] = []
    try:
        device, _ = open_pysmart_device(name, interface, _saved_text_smartctl(lines))
        report = report_from_pysmart(device, lines, dev_type=None)
    except Exception as exc:  # noqa: BLE001 - pySMART's parse failures are gaps, not crashes
        gaps.append(f"pySMART could not parse it ({type(exc).__name__}: {exc})")
        report = SmartReport(device=name, dev_type=None,
                             protocol={"ata": ATA, "nvme": NVME, "scsi": SCSI}[interface],
                             health_passed=parse_health_text(lines), source=TEXT_FALLBACK)
    if report.protocol == ATA or (report.protocol is None and interface == "ata"):
        table = parse_ata_attribute_table(lines)
        if table and not report.attributes:
            gaps.append("pySMART read no ATA attributes (the brief table of smartctl -x); read here instead")
            report = replace(report, attributes=tuple(table), protocol=ATA)
            if report.power_on_hours is None:
                poh = next((a for a in table if a.id == 9), None)
                report = replace(report, power_on_hours=poh.raw if poh else None)
        if report.error_count is None:
            count, entries = parse_ata_error_log_text(lines)
            report = replace(report, error_count=count, error_log=tuple(entries))
    extras = {k: v for k, v in parse_extras_text(lines).items() if getattr(report, k) in (None, ())}
    return replace(report, device=name, **extras), gaps


def read_saved_report(path: str) -> tuple[SmartReport, list[str]]:
    """A saved smartctl report: JSON (``smartctl -j``/``--json``) or text (``smartctl -a``/``-x``). Raises
    ReportError for a file that is not one; a report of an unexpected shape is never a traceback."""
    from burnin.errors import UsageError
    from burnin.inputs import TOOL_OUTPUT_MAX_BYTES, read_input

    try:
        data = read_input(path, "smartctl report", TOOL_OUTPUT_MAX_BYTES)
    except UsageError as exc:
        raise ReportError(exc.detail) from None
    try:
        return _saved_report(path, data)
    except ReportError:
        raise
    except Exception as exc:  # noqa: BLE001 - a parser crash on a hostile file is that file's ERROR
        raise ReportError(f"cannot be read as a smartctl report ({type(exc).__name__}: {str(exc)[:200]})") from None


def _saved_report(path: str, data: bytes) -> tuple[SmartReport, list[str]]:
    text = data.decode("utf-8", errors="replace")
    if not text.lstrip().startswith("{"):
        # the same decoding pySMART gives live output (chardet: smartctl prints in the locale's encoding)
        text = "\n".join(_smartctl_base()(smartctl_path=SMARTCTL)._decode_output(data))
    if text.lstrip().startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ReportError(f"not valid JSON: {exc}") from exc
        if not isinstance(doc, dict) or "smartctl" not in doc and "device" not in doc:
            raise ReportError("JSON, but not smartctl's (no 'smartctl' or 'device' member)")
        doc, problems = checked_json(doc)
        report = report_from_json(doc)
        return replace(report, device=report.device if report.device != "?" else path), problems
    return report_from_text(text, name=path)


# -- merging the two live sources ------------------------------------------------------------------
def _nvme_gaps(primary: NvmeHealth | None, witness: NvmeHealth | None) -> tuple[NvmeHealth | None, list[str]]:
    if witness is None:
        return primary, []
    if primary is None:
        return witness, ["NVMe health log"]
    gaps = []
    values = {}
    for name in ("critical_warning", "available_spare", "available_spare_threshold", "percentage_used",
                 "media_errors", "error_log_entries"):
        mine, theirs = getattr(primary, name), getattr(witness, name)
        if mine is None and theirs is not None:
            gaps.append(f"NVMe {name}")
            values[name] = theirs
    if not primary.errors and witness.errors:
        values["errors"] = witness.errors
    return replace(primary, **values), gaps


def _scsi_gaps(primary: ScsiCounters | None, witness: ScsiCounters | None) -> tuple[ScsiCounters | None, list[str]]:
    if witness is None:
        return primary, []
    if primary is None:
        return witness, ["SCSI error counters"]
    gaps = []
    values = {}
    for name in ("grown_defects", "uncorrected_read", "uncorrected_write", "uncorrected_verify", "non_medium_errors"):
        if getattr(primary, name) is None and getattr(witness, name) is not None:
            gaps.append(f"SCSI {name}")
            values[name] = getattr(witness, name)
    return replace(primary, **values), gaps


def merge_reports(primary: SmartReport | None, witness: SmartReport | None) -> tuple[SmartReport | None, list[str]]:
    """pySMART's report (primary) completed from smartctl's JSON (witness). Returns the merged report and the
    judged fields pySMART lacked but the JSON had ("gaps"). Fields pySMART never parses (the ATA error log's
    hours, exit status, messages) come from the JSON without counting as gaps."""
    if primary is None:
        return witness, (["everything (pySMART read nothing)"] if witness and witness.has_smart_data else [])
    if witness is None:
        return primary, []
    if not primary.has_smart_data and witness.has_smart_data:
        return replace(witness, source="smartctl-json"), ["everything (pySMART read no SMART data)"]
    gaps: list[str] = []
    values: dict[str, Any] = {}
    for name in ("protocol", "model", "serial", "firmware", "health_passed", "power_on_hours"):
        if getattr(primary, name) is None and getattr(witness, name) is not None:
            values[name] = getattr(witness, name)
            if name in ("protocol", "health_passed", "power_on_hours"):
                gaps.append(name.replace("_", " "))
    if witness.smart_available and not primary.smart_available:
        values["smart_available"] = True
        gaps.append("SMART support (pySMART said none)")
    if primary.smart_enabled is None or (witness.smart_enabled and not primary.smart_enabled):
        values["smart_enabled"] = witness.smart_enabled
    if primary.temperature_c is None:
        values["temperature_c"] = witness.temperature_c
    if not primary.attributes and witness.attributes:
        values["attributes"] = witness.attributes
        gaps.append("ATA attributes")
    nvme, more = _nvme_gaps(primary.nvme, witness.nvme)
    values["nvme"] = nvme
    gaps += more
    scsi, more = _scsi_gaps(primary.scsi, witness.scsi)
    values["scsi"] = scsi
    gaps += more
    if primary.error_count is None and witness.error_count is not None:
        values["error_count"] = witness.error_count
    if witness.error_log and not primary.error_log:
        values["error_log"] = witness.error_log
    if not primary.self_tests and witness.self_tests:
        values["self_tests"] = witness.self_tests
        gaps.append("self-test log")
    if primary.self_test_running is None:
        values["self_test_running"] = witness.self_test_running
        values["self_test_remaining_pct"] = witness.self_test_remaining_pct
    for name in EXTRA_FIELDS:
        if getattr(primary, name) in (None, ()) and getattr(witness, name) not in (None, ()):
            values[name] = getattr(witness, name)
    values["messages"] = witness.messages
    values["exit_status"] = witness.exit_status
    values["source"] = "pysmart+json"
    return replace(primary, **values), gaps


# -- the live reader -------------------------------------------------------------------------------
@dataclass
class Reading:
    """One live read of one drive: the merged report, what pySMART lacked, and why it may be unusable."""

    name: str
    dev_type: str | None
    report: SmartReport | None
    gaps: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # pySMART exceptions, tool errors, JSON trouble
    device: Any = None  # the pySMART Device, for self-tests


class SmartReader:
    """Reads drives through pySMART and smartctl's JSON, both run by `run` (normally ``ctx.run_tool``)."""

    def __init__(self, run: Callable[..., CommandResult]):
        self._run = run
        self.smartctl = make_host_smartctl(self._call)

    def use(self, run: Callable[..., CommandResult]) -> None:
        """Route later calls through another runner (each phase has its own context)."""
        self._run = run

    def _call(self, argv: Sequence[str], timeout: float) -> CommandResult:
        return self._run(list(argv), timeout=timeout)

    def scan(self) -> list[ScanEntry]:
        return parse_scan(self.smartctl.scan())

    def read_json(self, name: str, dev_type: str | None) -> tuple[SmartReport | None, str]:
        result = self._call(json_argv(name, dev_type), SMARTCTL_TIMEOUT_S)
        if result.error:
            return None, result.error
        try:
            doc = json.loads(result.stdout)
        except json.JSONDecodeError:
            first = (result.stdout or result.stderr).strip().splitlines()[:1]
            return None, f"smartctl printed no JSON (smartctl older than 7.0?): {first[0] if first else 'nothing'}"
        try:
            doc, problems = checked_json(doc)
            return report_from_json(doc), "; ".join(problems)
        except Exception as exc:  # noqa: BLE001 - a parser crash is a problem of this disk, never a dropped run
            return None, f"smartctl JSON could not be read ({type(exc).__name__}: {str(exc)[:200]})"

    def read(self, name: str, dev_type: str | None) -> Reading:
        reading = Reading(name, dev_type, None)
        primary = None
        try:
            device, said = open_pysmart_device(name, dev_type, self.smartctl)
            reading.device = device
            if device.smartctl_interface is None and said:
                reading.problems.append("pySMART: " + "; ".join(said))
            else:
                primary = report_from_pysmart(device, self.smartctl.texts.get(device.dev_reference, []), dev_type)
        except Exception as exc:  # noqa: BLE001 - a parser crash is a finding, never a dropped disk
            reading.problems.append(f"pySMART raised {type(exc).__name__}: {exc}")
        witness, why = self.read_json(name, dev_type)
        if why:
            reading.problems.append(why)
        reading.report, reading.gaps = merge_reports(primary, witness)
        if reading.report is not None and dev_type and not reading.report.dev_type:
            reading.report = replace(reading.report, dev_type=dev_type)
        return reading

    # -- self-tests, through pySMART ---------------------------------------------------------------
    def start_self_test(self, device: Any, kind: str) -> tuple[str, str]:
        """Start a self-test: ("started" | "running" | "unsupported" | "error", pySMART's message)."""
        code, message, _ = device.run_selftest(kind)
        return {0: "started", 1: "running", 2: "unsupported"}.get(code, "error"), str(message)

    def abort_self_test(self, device: Any) -> bool:
        return device.abort_selftest() == 0
