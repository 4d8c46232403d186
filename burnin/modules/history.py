"""History: what the machine recorded before this boot. A used server remembers how its last life ended, even when
the seller does not say: the firmware, the kernel and the BMC keep it, and this module puts it on one screen
before the first stress second.

check() reads, through the host's root path (a live machine or a `--sysroot` capture):
- ACPI BERT, the boot error records the firmware kept from the previous boot: the table
  (/sys/firmware/acpi/tables/BERT) and its error region (/sys/firmware/acpi/tables/data/BERT), decoded as UEFI
  CPER (burnin.tools.cper: severity, section type, memory node/card/module/bank/row/column and physical address,
  processor APIC id, PCIe address, the record's time). Without a readable region, the kernel's own decode
  ("BERT: Error records from previous boot:" and its "[Hardware Error]:" lines) stands in;
- AMD's previous system reset reason, as the kernel prints it on Zen ("x86/amd: Previous system reset reason
  [0x...]: ..."), decoded bit by bit (burnin.tools.amd_reset);
- pstore (/sys/fs/pstore, and what systemd-pstore archived this boot to /var/lib/systemd/pstore): the kernel's
  dump of its last moments before an earlier crash, its last lines shown;
- the BMC's event log (IPMI SEL through ipmitool, where the machine has a BMC): entries dated before this boot
  (`before_boot()`, a small function over dated events that any log source can feed);
- this boot's kernel log before burnin started, every hardware-error event listed with the kernel-log catalogue.

| code | severity | when |
|---|---|---|
| `history-bert-fatal` | FAIL | a BERT record of fatal severity: this machine crashed on a hardware error before you booted it (what, where and, where the record says, when) |
| `history-bert-uncorrected` | FAIL | a BERT record of an uncorrected (recoverable) hardware error |
| `history-bert-corrected` | WARN | a BERT record of a corrected hardware error |
| `history-bert-info` | INFO | a BERT record of severity "none", or one that could not be decoded (said how far it decoded) |
| `history-reset-hardware` | FAIL | AMD's reset reason names a hardware fault: an uncorrected error (data fabric sync flood), a parity error, the thermal trip pin |
| `history-reset-unexpected` | WARN | AMD's reset reason names an unplanned reset: a hardware watchdog, a CPU shutdown event, the CPU's thermal limit, a 4-second power button press, a failed boot, a software sync flood |
| `history-reset-reason` | INFO | AMD's reset reason names a planned one (software reboot, power state change, reset pin, remote command) |
| `history-pstore-hardware-panic` | FAIL | pstore holds a panic caused by a hardware error (machine check, "Hardware Error", fatal NMI) |
| `history-pstore-panic` | WARN | pstore holds another kernel panic or oops of an earlier boot |
| `history-pstore-record` | INFO | pstore holds another record (console log, restart, halt) |
| `history-bmc-recent` | WARN | the BMC logged power supply, fan, memory, processor or temperature events in the `recent_days` before this boot |
| `history-bmc-older` | INFO | the BMC's hardware events from before that, counted |
| `history-kernel-errors` | INFO | hardware-error events already in this boot's kernel log before burnin started, each listed (the kernel-log module judges them: `kernel-errors-before-run`) |
| `history-summary` | INFO | always: every source, read or not available and why; "nothing recorded" when no source holds anything |

A source that is absent (no BERT table, no pstore mounted, no BMC) is listed as not available: silence is never
a clean history. No source readable at all -> SKIP.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from burnin.host import CAPTURE_DIR
from burnin.model import Judgement, Probe, Severity
from burnin.module import Module, ModuleContext, Skip
from burnin.modules.bmc import CATEGORY_NAMES, sel_category, sel_component, sel_severity
from burnin.modules.kernel_log import finding_of, read_saved_log, record_lines
from burnin.settings import setting
from burnin.tools import amd_reset, cper, ipmitool, pstore

FAIL, WARN, INFO = Severity.FAIL, Severity.WARN, Severity.INFO
BERT_TABLE = "/sys/firmware/acpi/tables/BERT"
BERT_DATA = "/sys/firmware/acpi/tables/data/BERT"
KMSG = "/dev/kmsg"
SAVED_LOG = f"/{CAPTURE_DIR}/kmsg.txt"
LAST_LINES = 12  # lines of a crash dump shown in a finding

# -- BERT -------------------------------------------------------------------------------------------
_BERT_CODES = {"fatal": (FAIL, "history-bert-fatal"), "recoverable": (FAIL, "history-bert-uncorrected"),
               "corrected": (WARN, "history-bert-corrected")}
_RANK = {"fatal": 3, "recoverable": 2, "corrected": 1}


def _worst(severities: Iterable[str]) -> str:
    return max(severities, key=lambda s: _RANK.get(s, 0), default="info")


def describe_section(section: cper.Section) -> tuple[str, str]:
    """(component, what it says in words) of one CPER section."""
    f = section.fields
    if section.type_guid in cper.MEMORY_TYPES:
        where = " ".join(f"{k} {f[k]}" for k in ("node", "card", "module", "rank", "bank", "device", "row", "column")
                         if k in f)
        place = " ".join(w for w in (section.fru_text and f"DIMM {section.fru_text}", where and f"({where})") if w)
        words = [place,
                 "physical address " + f["physical_address"] if "physical_address" in f else None,
                 f.get("error_type"), "SMBIOS handle 0x%04x" % f["module_handle"] if "module_handle" in f else None]
        component = (f"dimm:{section.fru_text}" if section.fru_text
                     else "memory:" + "/".join(f"{k}{f[k]}" for k in ("node", "card", "module") if k in f)
                     if where else "memory")
        return component, "memory error: " + ", ".join(w for w in words if w)
    if section.type_guid in ("dc3ea0b0-a144-4797-b95b-53fa242b6e1d", "9876ccad-47b4-4bdb-b65e-16f193c4f3db",
                             "e19e3d16-bc11-11e4-9caa-c2051d5d46b0"):
        cpu = f.get("local_apic_id") or f.get("processor_id") or f.get("mpidr")
        kinds = f.get("error_structures") or ([f["error_type"]] if "error_type" in f else [])
        return (f"cpu:apic{cpu}" if cpu else "cpu"), (
            f"{section.type_name}" + (f" on CPU {cpu}" if cpu else "") + (f" ({', '.join(kinds)})" if kinds else "")
            + (f", FRU {section.fru_text}" if section.fru_text else ""))
    if "pci_address" in f:
        return f"pcie:{f['pci_address']}", f"{section.type_name} at {f['pci_address']}" + (
            f" (slot {f['slot']})" if "slot" in f else "")
    extra = ", ".join(f"{k} {v}" for k, v in f.items() if v is not None)
    return "platform", section.type_name + (f" ({extra})" if extra else "") + (
        f", FRU {section.fru_text}" if section.fru_text else "")


def judge_bert(region: cper.Region, source: str) -> list[Judgement]:
    """One finding per boot error record: its worst severity decides; every section is said."""
    found = []
    for record in region.records:
        severity = _worst([record.severity] + [s.severity for s in record.sections])
        described = [describe_section(s) for s in record.sections]
        when = next((s.timestamp for s in record.sections if s.timestamp), None)
        component = next((c for c, _ in described if c not in ("platform", "memory", "cpu")),
                         described[0][0] if described else "platform")
        what = "; ".join(words for _, words in described) or "no section the firmware filled in"
        level, code = _BERT_CODES.get(severity, (INFO, "history-bert-info"))
        lead = {"fatal": "This machine crashed on a hardware error before you booted it",
                "recoverable": "The firmware recorded an uncorrected hardware error before this boot",
                "corrected": "The firmware recorded a corrected hardware error before this boot"}.get(
            severity, "The firmware kept a boot error record")
        evidence = {"source": source, "severity": severity, "record_offset": record.offset,
                    "block_status": f"0x{record.block_status:x}", "record_time": when,
                    "sections": [{"type": s.type_name, "type_guid": s.type_guid, "severity": s.severity,
                                  "fru_id": s.fru_id, "fru_text": s.fru_text, "timestamp": s.timestamp,
                                  "length": s.length, **s.fields} for s in record.sections]}
        if region.problems:
            evidence["problems"] = list(region.problems)
        found.append(Judgement(level, component, code,
                               f"{lead} (ACPI BERT, {severity}{', recorded ' + when if when else ''}): {what}.",
                               evidence))
    return found


_KV = re.compile(r"(\w+):\s*(0x[0-9a-fA-F]+|\d+)")


def bert_from_kernel(lines: Sequence[str]) -> list[list[str]]:
    """The kernel's decode of BERT records: the "[Hardware Error]:" lines after "BERT: Error records from previous
    boot:", one list per record ("event severity:" starts one)."""
    blocks: list[list[str]] = []
    inside = False
    for line in lines:
        if "BERT: Error records from previous boot" in line:
            inside = True
            continue
        if inside and "[Hardware Error]:" in line and not line.lstrip().startswith(("mce:", "mce ")) \
                and "mce: [Hardware Error]" not in line:
            text = line.split("[Hardware Error]:", 1)[1].strip()
            if text.startswith("event severity:") or not blocks:
                blocks.append([])
            blocks[-1].append(text)
        elif inside and blocks:
            inside = False
    return blocks


def judge_bert_lines(blocks: list[list[str]]) -> list[Judgement]:
    found = []
    for block in blocks:
        fields: dict[str, str] = {}
        for text in block:
            key, sep, value = text.partition(":")
            if sep and key.strip() in ("event severity", "section_type", "section type", "fru_text",
                                       "physical_address", "DIMM location", "Local APIC_ID", "Error Structure Type"):
                fields.setdefault(key.strip().replace(" ", "_").lower(), value.strip())
            for k, v in _KV.findall(text) if text.startswith("node") else ():
                fields.setdefault(k, v)
        severity = fields.get("event_severity", "unknown")
        kind = fields.get("section_type", "unknown section").split(",")[0]
        where = [fields[k] for k in ("fru_text", "dimm_location") if k in fields]
        component = (f"dimm:{where[0]}" if where and "memory" in kind else
                     f"cpu:apic{fields['local_apic_id']}" if "local_apic_id" in fields else "platform")
        parts = [kind] + [f"DIMM {w}" for w in where if "memory" in kind]
        if "physical_address" in fields:
            parts.append(f"physical address {fields['physical_address']}")
        if "local_apic_id" in fields:
            parts.append(f"CPU APIC {fields['local_apic_id']}")
        if "error_structure_type" in fields:
            parts.append(fields["error_structure_type"])
        what = ", ".join(parts)
        level, code = _BERT_CODES.get(severity, (INFO, "history-bert-info"))
        lead = ("This machine crashed on a hardware error before you booted it" if severity == "fatal"
                else "The firmware recorded a hardware error before this boot")
        found.append(Judgement(level, component, code,
                               f"{lead} (ACPI BERT as the kernel printed it, {severity}; the record's time is only in "
                               f"the raw table): {what}.",
                               {"source": "kernel log (BERT)", "severity": severity, "lines": block[:40],
                                "fields": fields}))
    return found


# -- AMD reset reason ------------------------------------------------------------------------------
RESET_FAIL_BITS = frozenset({0, 27, 30})  # thermal trip pin, data fabric sync flood, parity error
RESET_WARN_BITS = frozenset({1, 2, 9, 23, 24, 25, 29, 31})


def judge_reset(reason: amd_reset.ResetReason) -> Judgement:
    named = reason.named()
    bits = {bit for bit, _, _ in named}
    meanings = "; ".join(words for _, _, words in named) or reason.text
    value = f"0x{reason.value:08x}" if reason.value is not None else None
    evidence = {"register": value, "bits": list(reason.bits), "line": reason.line,
                "decoded": [{"bit": b, "class": kind, "meaning": words} for b, kind, words in named],
                "unnamed_bits": [b for b in reason.bits if b not in amd_reset.BITS]}
    if bits & RESET_FAIL_BITS:
        return Judgement(FAIL, "platform", "history-reset-hardware",
                         f"The last reset of this machine was caused by a hardware fault: {meanings} "
                         f"(AMD reset reason {value or 'as the kernel printed it'}).", evidence)
    if bits & RESET_WARN_BITS:
        return Judgement(WARN, "platform", "history-reset-unexpected",
                         f"The last reset of this machine was not a planned one: {meanings} "
                         f"(AMD reset reason {value or 'as the kernel printed it'}).", evidence)
    return Judgement(INFO, "platform", "history-reset-reason",
                     f"The last reset of this machine: {meanings} (AMD reset reason {value or 'as printed'}).",
                     evidence)


# -- pstore ---------------------------------------------------------------------------------------
_PANIC = re.compile(r"Kernel panic - not syncing: (.*)|(?:BUG|Oops|general protection fault)[: ].*")
# A hardware cause in a crash dump: machine checks, firmware-first errors, a fatal NMI (IOCK/SERR, "NMI: Not
# continuing"), uncorrected PCIe or memory errors. The NMI watchdog (a hard lockup) is not in it: that is a hang.
_HARDWARE = re.compile(r"Machine Check|\[Hardware Error\]|Fatal hardware error|hardware memory (?:corruption|error)"
                       r"|NMI(?! watchdog)(?!: Watchdog)|Uncorrected|EDAC .* UE ", re.I)


def judge_pstore(record: pstore.PstoreRecord) -> Judgement:
    panic = next((ln.strip() for ln in reversed(record.lines) if "Kernel panic - not syncing" in ln), None)
    oops = panic or next((ln.strip() for ln in record.lines if _PANIC.search(ln)), None)
    hardware = [ln.strip() for ln in record.lines if _HARDWARE.search(ln)]
    last = [ln for ln in record.lines if ln.strip()][-LAST_LINES:]
    name = ", ".join(record.files[:4]) + (" ..." if len(record.files) > 4 else "")
    when = (dt.datetime.fromtimestamp(record.time_s, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            if record.time_s else None)
    evidence = {"files": record.files, "backend": record.backend, "kind": record.kind, "reason": record.reason,
                "last_lines": last, "panic_line": panic, "hardware_lines": hardware[:20], "written": when,
                "archived": record.archived, "compressed": record.compressed}
    where = f"pstore {name}" + (f", written {when}" if when else "")
    is_crash = record.kind == "dmesg" and (record.reason in ("Panic", "Oops") or oops)
    if is_crash and hardware and (panic is None or _HARDWARE.search(panic) or "hardware" in panic.lower()
                                  or any("Machine check" in h or "Fatal hardware error" in h for h in hardware)):
        return Judgement(FAIL, "kernel", "history-pstore-hardware-panic",
                         f"An earlier boot of this machine crashed on a hardware error ({where}): "
                         f"{panic or hardware[-1]}.", evidence)
    if is_crash:
        return Judgement(WARN, "kernel", "history-pstore-panic",
                         f"An earlier boot of this machine crashed ({where}): {oops or record.reason}.", evidence)
    if record.compressed:
        what = "a compressed record the kernel could not read back"
    else:
        what = f"{record.kind} record" + (f" ({record.reason})" if record.reason else "")
    return Judgement(INFO, "kernel", "history-pstore-record",
                     f"The kernel kept a {what} of an earlier boot ({where}).", evidence)


# -- the BMC's log: before this boot --------------------------------------------------------------
@dataclass(frozen=True)
class DatedEvent:
    """One log entry of any source (IPMI SEL now; Redfish log services can feed the same), with its date."""

    when: dt.datetime | None  # aware (UTC); None: the entry carries no usable date
    source: str  # "ipmi-sel", "redfish"
    category: str | None  # psu, fan, memory, processor, temperature, voltage, ... ; None: bookkeeping
    severity: Severity | None  # what the source's own judge says; None: not a hardware fault
    text: str
    component: str
    raw: str = ""


def before_boot(events: Iterable[DatedEvent], boot_time: dt.datetime) -> tuple[list[DatedEvent], list[DatedEvent]]:
    """(entries dated before `boot_time`, entries without a usable date). Entries dated at or after it belong to
    this boot and are the run's business, not the machine's history."""
    before, undated = [], []
    for event in events:
        if event.when is None:
            undated.append(event)
        elif event.when < boot_time:
            before.append(event)
    return before, undated


RECENT_CATEGORIES = ("psu", "fan", "memory", "processor", "temperature")


def judge_bmc_history(before: Sequence[DatedEvent], boot_time: dt.datetime, recent_days: float) -> list[Judgement]:
    hardware = [e for e in before if e.severity is not None]
    recent_from = boot_time - dt.timedelta(days=recent_days)
    recent = [e for e in hardware if e.category in RECENT_CATEGORIES and e.when and e.when >= recent_from]
    older = [e for e in hardware if e not in recent]
    found = []
    if recent:
        kinds: dict[str, int] = {}
        for e in recent:
            kinds[e.category or "other"] = kinds.get(e.category or "other", 0) + 1
        found.append(Judgement(
            WARN, "bmc", "history-bmc-recent",
            f"The BMC logged {len(recent)} hardware event(s) in the {recent_days:g} days before this boot "
            f"({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))}); the latest: {_event_line(recent[-1])}.",
            {"events": [_event_record(e) for e in recent[-50:]], "counts": kinds,
             "window_from": recent_from.isoformat(), "boot_time": boot_time.isoformat()}))
    if older:
        found.append(Judgement(
            INFO, "bmc", "history-bmc-older",
            f"The BMC holds {len(older)} older hardware event(s) from before this boot; the latest: "
            f"{_event_line(older[-1])}.", {"events": [_event_record(e) for e in older[-50:]]}))
    return found


def _event_line(event: DatedEvent) -> str:
    return f"{event.when:%Y-%m-%d %H:%M} {event.text}" if event.when else event.text


def _event_record(event: DatedEvent) -> dict[str, Any]:
    return {"when": event.when.isoformat() if event.when else None, "source": event.source,
            "category": event.category, "severity": event.severity.value if event.severity else None,
            "text": event.text, "component": event.component, "raw": event.raw}


def sel_date(date: str | None, time_: str | None) -> dt.datetime | None:
    """ipmitool's "12/14/22" / "12/14/2022" and "23:09:44 CET" as UTC (the BMC's own clock, its zone name
    ignored: most BMCs keep UTC, and a zone name like CET is not an offset)."""
    if not date or not time_:
        return None
    clock = time_.split()[0]
    for fmt in ("%m/%d/%Y %H:%M:%S", "%m/%d/%y %H:%M:%S"):
        try:
            return dt.datetime.strptime(f"{date} {clock}", fmt).replace(tzinfo=dt.timezone.utc)
        except ValueError:
            continue
    return None


def sel_events(listing: ipmitool.SelList) -> list[DatedEvent]:
    """The SEL's entries, each with the bmc module's category and severity (one meaning of a SEL entry)."""
    events = []
    for entry in listing.entries:
        category = sel_category(entry)
        text = f"{CATEGORY_NAMES.get(category or '', entry.sensor_type)}: {entry.sensor_type}" + (
            f" {entry.sensor}" if entry.sensor else "") + f": {entry.description or '(no description)'}" + (
            "" if entry.asserted is not False else " (deasserted)")
        events.append(DatedEvent(sel_date(entry.date, entry.time), "ipmi-sel", category, sel_severity(entry), text,
                                 sel_component(entry), entry.line.strip()))
    return events


# -- the module -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class HistorySettings:
    recent_days: float = setting(30.0, "the BMC's hardware events in this many days before this boot WARN; older "
                                       "ones are listed", unit="days")
    read_bmc: bool = setting(True, "read the BMC's event log (ipmitool sel list) where the machine has a BMC")


@dataclass
class _Sources:
    status: dict[str, str] = field(default_factory=dict)  # source -> what was found, or why not available

    def read(self, name: str, what: str) -> None:
        self.status[name] = what

    def missing(self, name: str, why: str) -> None:
        self.status[name] = "not available: " + why

    @property
    def readable(self) -> list[str]:
        return [n for n, s in self.status.items() if not s.startswith("not available")]


class HistoryModule(Module):
    name = "history"
    summary = ("what the machine recorded before this boot: firmware boot error records (ACPI BERT), AMD's reset "
               "reason, kernel crash dumps (pstore), the BMC's event log, hardware errors logged at boot")
    needs = ("root (BERT and the kernel log)", "ipmitool and a BMC (optional)")
    stress = False
    judges_captures = True
    Settings = HistorySettings

    def probe(self) -> Probe:
        return Probe.ok()

    def check(self, ctx: ModuleContext) -> None:
        sources = _Sources()
        findings: list[Judgement] = []
        kernel_lines, kernel_records = self._kernel_log(ctx, sources)
        findings += self._bert(sources, kernel_lines)
        findings += self._reset_reason(sources, kernel_lines)
        boot = self._boot_time()
        findings += self._pstore(sources, boot)
        findings += self._bmc(ctx, sources, boot)
        findings += self._kernel_events(kernel_records, ctx)
        if not sources.readable:
            raise Skip("no source of the machine's history could be read: "
                       + "; ".join(f"{n}: {s.removeprefix('not available: ')}" for n, s in sources.status.items()))
        for judgement in findings:
            ctx.report(judgement)
        recorded = [j for j in findings if j.code != "history-kernel-errors"]
        worst = FAIL if any(j.severity is FAIL for j in recorded) else WARN if any(
            j.severity is WARN for j in recorded) else None
        readable = ", ".join(sources.readable)
        if not recorded:
            message = f"Nothing recorded before this boot in the sources read ({readable})."
        else:
            message = (f"{len(recorded)} record(s) from before this boot"
                       + (f", the worst {worst.value.upper()}" if worst else "") + f" (sources read: {readable}).")
        missing = [n for n in sources.status if n not in sources.readable]
        if missing:
            message += f" Not available: {', '.join(missing)}."
        ctx.report(Judgement(INFO, "history", "history-summary", message,
                             {"sources": sources.status, "records": len(recorded),
                              "boot_time": boot.isoformat() if boot else None,
                              "nothing_recorded": not recorded, "worst": worst.value if worst else None}))

    # -- sources -------------------------------------------------------------------------------------
    def _boot_time(self) -> dt.datetime | None:
        stat = self.host.read_text("/proc/stat") or ""
        match = re.search(r"^btime (\d+)", stat, re.M)
        return dt.datetime.fromtimestamp(int(match.group(1)), dt.timezone.utc) if match else None

    def _kernel_log(self, ctx: ModuleContext, sources: _Sources) -> tuple[list[str], list]:
        from burnin.kernel_log.kmsg import parse_record, read_available

        records = []
        if self.host.live:
            try:
                fd = os.open(self.host.path(KMSG), os.O_RDONLY | os.O_NONBLOCK)
            except OSError as exc:
                sources.missing("kernel log", f"cannot read {KMSG}: {exc.strerror or exc}")
                return [], []
            try:
                for kind, data in read_available(fd):
                    if kind == "record":
                        record = parse_record(data)  # type: ignore[arg-type]
                        if record is not None:
                            records.append(record)
            finally:
                os.close(fd)
        else:
            saved = self.host.path(SAVED_LOG)
            if not saved.is_file():
                sources.missing("kernel log", "the capture has no saved kernel log")
                return [], []
            records = read_saved_log(saved)
        records = [r for r in records if r.facility == 0]  # lines userspace wrote are no evidence
        first = records[0].seq if records else None
        sources.read("kernel log", f"{len(records)} records of this boot"
                     + ("" if first in (0, None) else f" (the oldest were overwritten: from record {first})"))
        return [line for r in records for line in r.message.split("\n")], records

    def _bert(self, sources: _Sources, kernel_lines: list[str]) -> list[Judgement]:
        table_bytes = self.host.read_bytes(BERT_TABLE)
        kernel_blocks = bert_from_kernel(kernel_lines)
        if table_bytes is None:
            why = ("no BERT table (the firmware provides none)" if not self.host.exists(BERT_TABLE)
                   else f"{BERT_TABLE} is not readable (root needed)")
            if kernel_blocks:
                sources.read("ACPI BERT", f"{len(kernel_blocks)} record(s), from the kernel's print ({why})")
                return judge_bert_lines(kernel_blocks)
            sources.missing("ACPI BERT", why)
            return []
        table = cper.parse_table(table_bytes)
        data = self.host.read_bytes(BERT_DATA)
        if data is None:
            why = (f"{BERT_DATA} is absent" if not self.host.exists(BERT_DATA)
                   else f"{BERT_DATA} is not readable (root needed)")
            if kernel_blocks:
                sources.read("ACPI BERT", f"{len(kernel_blocks)} record(s), from the kernel's print ({why})")
                return judge_bert_lines(kernel_blocks)
            sources.missing("ACPI BERT", f"table present ({table.region_length if table else '?'}-byte region), "
                                         f"but {why}")
            return []
        region = cper.parse_region(data)
        sources.read("ACPI BERT", f"{len(region.records)} record(s) in a {len(data)}-byte error region"
                     + (f" ({'; '.join(region.problems)})" if region.problems else ""))
        found = judge_bert(region, BERT_DATA)
        if not region.records and kernel_blocks:
            found = judge_bert_lines(kernel_blocks)
        return found

    def _reset_reason(self, sources: _Sources, kernel_lines: list[str]) -> list[Judgement]:
        reasons = amd_reset.parse_lines(kernel_lines)
        if reasons:
            sources.read("AMD reset reason", "; ".join(r.text for r in reasons))
        elif kernel_lines:
            sources.missing("AMD reset reason", "the kernel printed none (not an AMD Zen machine, or a kernel "
                                                "older than 6.16)")
        else:
            sources.missing("AMD reset reason", "no kernel log")
        return [judge_reset(r) for r in reasons]

    def _pstore(self, sources: _Sources, boot: dt.datetime | None) -> list[Judgement]:
        records: list[pstore.PstoreRecord] = []
        where = []
        if self.host.is_dir(pstore.PSTORE_DIR):
            files = self._files(pstore.PSTORE_DIR)
            records += pstore.group(files)
            where.append(f"{pstore.PSTORE_DIR}: {len(files)} file(s)")
        archive = self.host.path(pstore.ARCHIVE_DIR)
        if archive.is_dir():
            since = boot.timestamp() if boot else 0.0
            archived = 0
            for folder in sorted(p for p in archive.iterdir() if p.is_dir())[-pstore.MAX_FILES:]:
                try:
                    fresh = folder.stat().st_mtime >= since
                except OSError:
                    continue
                if fresh:  # systemd-pstore moved it out of /sys/fs/pstore at this boot; older ones were seen before
                    host_dir = f"{pstore.ARCHIVE_DIR}/{folder.name}"
                    records += pstore.group(self._files(host_dir), archived=host_dir)
                    archived += 1
            where.append(f"{pstore.ARCHIVE_DIR}: {archived} folder(s) archived by systemd-pstore at this boot")
        if not where:
            sources.missing("pstore", f"{pstore.PSTORE_DIR} is not mounted or not there (no kernel crash dumps kept)")
            return []
        sources.read("pstore", f"{len(records)} record(s)" + ("" if records else ", empty") + f" ({'; '.join(where)})")
        return [judge_pstore(r) for r in records]

    def _files(self, host_dir: str) -> list[tuple[str, str]]:
        out = []
        try:
            names = sorted(os.listdir(self.host.path(host_dir)))[:pstore.MAX_FILES]
        except OSError:
            return out
        for name in names:
            if name.startswith("."):
                continue
            data = self.host.read_bytes(f"{host_dir}/{name}")
            if data is not None:
                out.append((name, data[:pstore.MAX_BYTES].decode("utf-8", errors="replace")))
        return out

    def _bmc(self, ctx: ModuleContext, sources: _Sources, boot: dt.datetime | None) -> list[Judgement]:
        if not self.settings.read_bmc:
            sources.missing("BMC event log", "not read (profile: read_bmc = false)")
            return []
        if self.host.live and not any(self.host.exists(p) for p in ipmitool.DEVICE_PATHS):
            sources.missing("BMC event log", "no IPMI device (/dev/ipmi0): no BMC, or its driver is not loaded")
            return []
        if not self.host.can_run or not (self.host.which("ipmitool") or not self.host.live):
            sources.missing("BMC event log", "ipmitool is not installed" if self.host.live
                            else "no ipmitool output in the capture")
            return []
        result = ctx.run_tool(ipmitool.sel_list_argv(), timeout=60)
        if not result.ok and "SEL has no entries" not in (result.stdout + result.stderr):
            sources.missing("BMC event log", f"ipmitool sel list failed: {result.error or result.stderr.strip()[-200:]}")
            return []
        events = sel_events(ipmitool.parse_sel_list(result.stdout))
        if boot is None:
            sources.read("BMC event log", f"{len(events)} entries (boot time unknown: not split)")
            return []
        before, undated = before_boot(events, boot)
        sources.read("BMC event log", f"{len(events)} entries, {len(before)} dated before this boot"
                     + (f", {len(undated)} undated" if undated else ""))
        return judge_bmc_history(before, boot, self.settings.recent_days)

    def _kernel_events(self, records: list, ctx: ModuleContext) -> list[Judgement]:
        from burnin.kernel_log.judge import group_lines
        from burnin.kernel_log.parts import event_aliases

        inventory = getattr(ctx, "inventory", None)
        lines = [ln for r in records for ln in record_lines(r)]
        events = group_lines(lines, event_aliases(inventory) if inventory is not None else None)
        listed = []
        for event in events:
            judged = finding_of(event, inventory)
            listed.append({"severity": judged.severity.value, "code": judged.code, "component": judged.component,
                           "message": judged.message, "line": judged.evidence.get("line"),
                           "kernel_time_s": judged.evidence.get("kernel_time_s"),
                           "lines": judged.evidence.get("lines", [])[:20]})
        if not listed:
            return []
        listed.sort(key=lambda e: e["kernel_time_s"] or 0)
        fails = sum(1 for e in listed if e["severity"] == "FAIL")
        return [Judgement(INFO, "kernel", "history-kernel-errors",
                          f"This boot's kernel log held {len(listed)} hardware-error event(s) before burnin started"
                          + (f", {fails} of them of FAIL grade" if fails else "") + ": "
                          + "; ".join(f"{e['code']} on {e['component']}" for e in listed[:5])
                          + (" ..." if len(listed) > 5 else "") + ".",
                          {"events": listed[:200], "count": len(listed)})]
