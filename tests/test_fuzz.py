"""Fuzzing every input a stranger can hand burnin: 0 tracebacks, 0 hangs, only the documented exit codes.

Each test starts from real data (a journal written by a real `check` of a captured tree, the smartctl and
dmidecode captures under tests/data, SMBIOS tables built from those dumps by test_inventory_smbios' encoder)
and breaks it the way a corrupted file or an attacker would: a value of the wrong type anywhere, keys added and
removed, lines replaced by other JSON or by bytes, structures truncated and overwritten. Every failure found
this way became a fix; the examples hypothesis keeps (its database) replay first.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from burnin.cli import main
from burnin.errors import UsageError
from burnin.model import ExitCode
from burnin.report.terminal import is_safe

DATA = Path(__file__).parent / "data"
# 40 examples per input kind keep the suite fast (seconds); BURNIN_FUZZ_EXAMPLES=2000 for a longer hunt.
FUZZ = settings(max_examples=int(os.environ.get("BURNIN_FUZZ_EXAMPLES", "40")), deadline=None,
                suppress_health_check=list(HealthCheck), print_blob=True)
DOCUMENTED = {code.value for code in ExitCode}

HOSTILE_STRINGS = ["", "\x1b[2J", "\x1b]0;pwned\x07", "\x9b2J", "\u202e", "catastrophic", "FAIL", "fail",
                   "<script>alert(1)</script>", "<img src=x onerror=alert(1)>"]
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
                         st.sampled_from(HOSTILE_STRINGS))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)


def _cli(args: list[str]):
    result = CliRunner().invoke(main, args)
    stderr = result.stderr if hasattr(result, "stderr") else ""
    assert result.exit_code in DOCUMENTED, (args, result.exit_code, result.output[-2000:])
    assert not (result.exception and not isinstance(result.exception, SystemExit)), (args, result.exception)
    assert "internal error" not in stderr and "Traceback" not in result.output, (args, result.output[-3000:])
    return result


# -- journals --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_journal(tmp_path_factory) -> list[str]:
    """The lines of a journal written by a real check of the hot dual-socket capture (findings, samples)."""
    path = tmp_path_factory.mktemp("journal") / "real.jsonl"
    result = CliRunner().invoke(main, ["check", "--profile", "ci", "--plain", "--only", "thermal,inventory",
                                       "--sysroot", str(DATA / "thermal" / "dual-socket-hot"),
                                       "--journal", str(path)])
    assert result.exit_code == 1, result.output  # the hot capture FAILs
    lines = path.read_text().splitlines()
    # More samples, so the fast column reader has tables to take (and to reject when a line is broken).
    samples = [line for line in lines if line.startswith('{"type": "sample"')]
    return lines[:6] + samples * 40 + lines[6:]


JOURNAL_KEYS = ["type", "t", "seq", "module", "severity", "component", "code", "message", "evidence", "metrics",
                "verdict", "reason", "duration_s", "interrupted", "inventory", "claims", "host", "profile",
                "schema", "data", "when", "modules"]


def broken_journal(draw, lines: list[str]) -> bytes:
    """The journal's lines with 1 to 4 of them broken: a field set to any JSON value, a nested field changed, a
    field dropped, the line replaced by other JSON or by bytes, or cut short."""
    lines = list(lines)
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(lines) - 1))
        how = draw(st.sampled_from(["set", "set", "nested", "drop", "line", "bytes", "cut"]))
        try:
            record = json.loads(lines[index])
        except ValueError:
            record = None  # broken by an earlier change
        if not isinstance(record, dict) and how in ("set", "nested", "drop"):
            how = "line"
        if how == "set":
            record[draw(st.sampled_from(JOURNAL_KEYS))] = draw(json_values)
        elif how == "nested":
            inner = [k for k, v in record.items() if isinstance(v, dict)]
            if inner:
                key = draw(st.sampled_from(inner))
                record[key] = {**record[key], draw(st.sampled_from(
                    list(record[key]) + ["name", "settings", "required", "system_vendor"])): draw(json_values)}
        elif how == "drop" and len(record) > 1:
            record.pop(draw(st.sampled_from(sorted(record))))
        if how == "line":
            lines[index] = json.dumps(draw(json_values))
        elif how == "bytes":
            lines[index] = draw(st.binary(max_size=60)).decode("latin-1")
        elif how == "cut":
            lines[index] = lines[index][:draw(st.integers(0, len(lines[index])))]
        else:
            lines[index] = json.dumps(record, ensure_ascii=draw(st.booleans()))
    return ("\n".join(lines) + "\n").encode("utf-8", errors="surrogatepass")


def test_broken_journals_are_reported_in_one_line_never_a_traceback(real_journal, tmp_path):
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(real_journal) + "\n")

    @FUZZ
    @given(data=st.data())
    def check(data):
        raw = broken_journal(data.draw, real_journal)
        path = tmp_path / "broken.jsonl"
        path.write_bytes(raw)
        html = tmp_path / "r.html"
        result = _cli(["report", str(path), "--html", str(html), "--junit", str(tmp_path / "j.xml"),
                       "--prom", str(tmp_path / "p.prom")])
        assert is_safe(result.output)  # no raw control character from the journal reaches the terminal
        if result.exit_code != 2 and html.exists():
            page = html.read_text(encoding="utf-8")
            assert "<script" not in page and "<img" not in page  # every journal string escaped
        _cli(["report", str(path), "--json"])
        _cli(["compare", str(good), str(path)])

    check()


def test_column_reader_and_line_reader_agree_on_broken_journals(real_journal):
    from burnin.journal import checked, parse_bytes, parse_lines

    @FUZZ
    @given(data=st.data())
    def check(data):
        raw = broken_journal(data.draw, real_journal)
        fast, slow = checked(parse_bytes(raw)), checked(parse_lines(raw.split(b"\n")))
        assert list(fast.records) == list(slow.records)
        assert fast.problems == slow.problems or len(fast.problems) == len(slow.problems)

    check()


# -- smartctl reports ------------------------------------------------------------------------------
SMART_JSON = sorted((DATA / "smart" / "json").glob("*.json"))
SMART_TEXT = sorted((DATA / "smart" / "text").glob("*"))


def _mutate_json(draw, value, depth=0):
    """`value` with one part somewhere replaced by a random JSON value (or dropped)."""
    if isinstance(value, dict) and value and depth < 6 and draw(st.integers(0, 3)):
        key = draw(st.sampled_from(sorted(value)))
        return {**value, key: _mutate_json(draw, value[key], depth + 1)}
    if isinstance(value, list) and value and depth < 6 and draw(st.integers(0, 3)):
        index = draw(st.integers(0, len(value) - 1))
        return value[:index] + [_mutate_json(draw, value[index], depth + 1)] + value[index + 1:]
    return draw(json_values)


def test_broken_smartctl_json_is_that_reports_error_never_a_traceback(tmp_path):
    from burnin.modules.disk import judge_reports

    docs = []
    for path in SMART_JSON:
        try:
            docs.append(json.loads(path.read_text()))
        except ValueError:
            continue

    @FUZZ
    @given(data=st.data())
    def check(data):
        doc = data.draw(st.sampled_from(docs))
        for _ in range(data.draw(st.integers(1, 3))):
            doc = _mutate_json(data.draw, doc)
        path = tmp_path / "report.json"
        path.write_text(json.dumps(doc))
        results = judge_reports([str(path)])
        assert len(results) == 1 and results[0].verdict.value in ("PASS", "WARN", "FAIL", "ERROR")

    check()
    # The cases, once each.
    base = json.loads((DATA / "smart" / "json" / "ST3500418AS_11.json").read_text())
    for broken in ({**base, "smart_status": -1}, {**base, "smart_status": {"passed": "yes"}}):
        path = tmp_path / "case.json"
        path.write_text(json.dumps(broken))
        assert judge_reports([str(path)])[0].verdict.value == "ERROR"


def test_broken_smartctl_text_and_random_bytes_never_a_traceback(tmp_path):
    from burnin.modules.disk import judge_reports

    texts = [p.read_bytes() for p in SMART_TEXT if p.is_file() and p.suffix not in (".md",)]

    @FUZZ
    @given(data=st.data())
    def check(data):
        how = data.draw(st.sampled_from(["bytes", "lines", "splice"]))
        if how == "bytes":
            raw = data.draw(st.binary(max_size=2000))
        else:
            lines = data.draw(st.sampled_from(texts)).split(b"\n")
            for _ in range(data.draw(st.integers(1, 8))):
                index = data.draw(st.integers(0, len(lines) - 1))
                if how == "lines":
                    lines[index] = data.draw(st.binary(max_size=80))
                else:
                    words = lines[index].split()
                    if words:
                        words[data.draw(st.integers(0, len(words) - 1))] = data.draw(st.sampled_from(
                            [b"-1", b"nan", b"99999999999999999999999", b"0x", b"", b"\x1b[2J", b"---"]))
                    lines[index] = b" ".join(words)
            raw = b"\n".join(lines)
        path = tmp_path / "report.txt"
        path.write_bytes(raw)
        results = judge_reports([str(path)])
        assert len(results) == 1

    check()


# -- dmidecode text and binary SMBIOS --------------------------------------------------------------
DMIDECODE = sorted((DATA / "dmidecode").glob("*.dmidecode.txt"))


def test_broken_dmidecode_text_never_a_traceback():
    from burnin.inventory import SmbiosError, collect
    from burnin.host import Host
    from burnin.report.inventory_text import inventory_text

    texts = [p.read_text(errors="replace") for p in DMIDECODE[:6]]

    @FUZZ
    @given(data=st.data())
    def check(data):
        lines = data.draw(st.sampled_from(texts)).splitlines()
        for _ in range(data.draw(st.integers(1, 10))):
            index = data.draw(st.integers(0, len(lines) - 1))
            line = lines[index]
            key, sep, _ = line.partition(": ")
            lines[index] = key + sep + data.draw(st.one_of(
                st.text(max_size=40), st.sampled_from(["-1 MB", "99999999999999999999 GB", "0x", "Unknown",
                                                        "No Module Installed", "\x1b]0;x\x07", "nan MT/s"])))
        try:
            found = collect(Host("/nonexistent-root"), dmidecode_text="\n".join(lines))
        except SmbiosError:
            return
        assert is_safe(inventory_text(found))
        json.dumps(found.to_dict())

    check()


def test_broken_binary_smbios_never_a_traceback():
    from burnin.inventory.smbios import SmbiosError, parse_dump
    from test_inventory_smbios import _dump_of

    dumps = [_dump_of(path)[1] for path in DMIDECODE[:4]]

    @FUZZ
    @given(data=st.data())
    def check(data):
        dump = bytearray(data.draw(st.sampled_from(dumps)))
        for _ in range(data.draw(st.integers(1, 12))):
            at = data.draw(st.integers(0, len(dump) - 1))
            patch = data.draw(st.binary(min_size=1, max_size=8))
            dump[at:at + len(patch)] = patch
        if data.draw(st.booleans()):
            dump = dump[:data.draw(st.integers(0, len(dump)))]
        try:
            parse_dump(bytes(dump))
        except SmbiosError:
            pass

    check()


# -- profiles and claims ---------------------------------------------------------------------------
toml_values = st.one_of(st.sampled_from(['"30m"', '"0s"', "nan", "inf", "-inf", "1e400", "-5", "0", "true", '""',
                                          '"seller"', '"/dev/zero"', "[]", "[1, \"a\"]", "{}", '"9' + "9" * 400 + '"',
                                          "9" * 400, '"\\u001b[2J"', "1979-05-27T07:32:00Z", "3.5"]),
                        st.integers().map(str), st.text(max_size=20).map(json.dumps))
profile_keys = ["name", "description", "extends", "duration", "modules", "skip", "required", "plain", "fail_fast",
                "disk_writes", "check_timeout", "finish_timeout", "stop_grace", "sample_flush", "unknown",
                "settings.thermal.interval_s", "settings.thermal.above_max", "settings.cpu.engines",
                "settings.disk.destructive_devices", "settings.nosuch.x", "settings.memory.share_of_available"]


def test_fuzzed_profiles_are_refused_in_one_line_or_load(tmp_path):
    from burnin import profile as profiles
    from burnin.cli import _load_profile
    from burnin.registry import module_classes

    classes = module_classes()

    @FUZZ
    @given(pairs=st.lists(st.tuples(st.sampled_from(profile_keys), toml_values), max_size=6),
           junk=st.sampled_from(["", "[[x]]\n", "a = " + "[" * 200 + "]" * 200 + "\n", "= =\n", "\x00\n",
                                 "[settings]\nthermal = 1\n"]))
    def check(pairs, junk):
        text = "".join(f"{key} = {value}\n" for key, value in dict(pairs).items()) + junk
        path = tmp_path / "fuzzed.toml"
        path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
        try:
            loaded = _load_profile(str(path), classes)
        except UsageError:
            return
        for seconds in (loaded.duration_s, loaded.stop_grace_s, loaded.check_timeout_s, loaded.sample_flush_s):
            assert math.isfinite(seconds) and 0 <= seconds <= profiles.MAX_DURATION_S

    check()


claims_keys = ["system.vendor", "system.product", "cpu.model", "cpu.sockets", "cpu.cores", "cpu.threads",
               "memory.total", "memory.dimms", "memory.dimm_size", "disks.count", "disks.min_size", "nics.count",
               "nosuch.key", "memory.speed", "memory.ecc", "disks.models"]


def test_fuzzed_claims_are_refused_in_one_line_or_checked(tmp_path):
    from burnin.host import Host
    from burnin.inventory import collect
    from burnin.inventory.claims import check_claims, load_claims

    found = collect(Host(DATA / "sysfs" / "procfs"))

    @FUZZ
    @given(pairs=st.lists(st.tuples(st.sampled_from(claims_keys), toml_values), max_size=6))
    def check(pairs):
        text = "".join(f"{key} = {value}\n" for key, value in dict(pairs).items())
        path = tmp_path / "claims.toml"
        path.write_bytes(text.encode("utf-8", errors="surrogatepass"))
        try:
            claims = load_claims(path)
        except UsageError:
            return
        for claim in check_claims(claims, found):
            json.dumps(claim.to_dict(), default=str)

    check()


# -- captured trees --------------------------------------------------------------------------------
TREE_FILES = ["sys/class/dmi/id/sys_vendor", "sys/class/dmi/id/product_name", "sys/class/dmi/id/product_serial",
              "sys/class/net/eth0/speed", "sys/class/net/eth0/address", "sys/class/net/eth0/carrier",
              "sys/devices/pci0000:00/0000:00:02.1/current_link_speed",
              "sys/devices/pci0000:00/0000:00:02.1/max_link_width",
              "sys/devices/system/cpu/cpu0/topology/core_id", "sys/devices/system/node/node0/cpulist"]


def test_fuzzed_captured_trees_never_a_traceback(tmp_path):
    from burnin.host import Host
    from burnin.inventory import collect, inventory_findings
    from burnin.report.inventory_text import inventory_text

    tree = tmp_path / "tree"
    shutil.copytree(DATA / "sysfs" / "procfs", tree, symlinks=True)
    originals = {name: (tree / name).read_bytes() if (tree / name).is_file() else None for name in TREE_FILES}

    @FUZZ
    @given(changes=st.lists(st.tuples(st.sampled_from(TREE_FILES), st.one_of(
        st.binary(max_size=80), st.sampled_from([b"-1", b"nan", b"99999999999999999999999", b"\x1b[2J",
                                                 b"Unknown", b"0-3,9999999", b"", b"\xff\xfe"]))), max_size=5))
    def check(changes):
        for name, original in originals.items():
            if original is not None:
                (tree / name).write_bytes(original)
        for name, content in changes:
            path = tree / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        found = collect(Host(tree))
        assert is_safe(inventory_text(found, (), inventory_findings(found)))
        json.dumps(found.to_dict())

    check()
