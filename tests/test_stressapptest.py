"""stressapptest adapter: argv and the parser, on real captured output (tests/data/stressapptest/SOURCE.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from burnin.tools import stressapptest as sat

DATA = Path(__file__).parent / "data" / "stressapptest"


def case(name: str) -> sat.Outcome:
    return sat.parse_outcome(int((DATA / f"{name}.rc").read_text()), (DATA / f"{name}.stdout").read_text())


def test_argv_binds_to_the_node_cpus_and_asks_for_whole_steps():
    assert sat.argv(512, 10, 2) == ["stressapptest", "-M", "512", "-s", "10", "-m", "2"]
    assert sat.argv(512, 10, 4, cpus=[3, 2], taskset="/usr/bin/taskset", pause_delay_s=900) == [
        "/usr/bin/taskset", "-c", "2,3", "stressapptest", "-M", "512", "-s", "10", "-m", "4", "--pause_delay", "900"]
    assert sat.argv(64, 5, 1, extra=["-W"])[-1] == "-W"
    # its main loop sleeps in 5 s steps: -s 3 would run 5 s
    assert [sat.whole_run_seconds(s) for s in (3, 5, 9.9, 27, -1)] == [0, 5, 5, 25, 0]


def test_pass_output_gives_status_and_verified_bytes():
    out = case("pass")
    assert (out.returncode, out.status, out.reported) == (0, "PASS", "pass")
    assert out.status_text == "PASS - please verify no corrected errors"
    assert (out.hardware_incidents, out.errors) == (0, 0)
    assert (out.nodes, out.cpus) == (1, 2)
    assert out.memory_copy_mb == 61738.0 and out.memory_copy_mbps == 12347.11
    assert out.seconds == 5.0  # asked for 3
    # copy threads count every page twice (read + write); half is what was verified
    assert out.verified_bytes == int(61738.0 / 2 * 1024 * 1024)
    assert out.miscompares == () and not out.interrupted


def test_forced_errors_are_hardware_miscompares_with_addresses_and_bits():
    out = case("fail")
    assert (out.returncode, out.status, out.reported, out.hardware_incidents) == (1, "FAIL", "hardware", 2)
    assert out.status_text == "FAIL - test discovered HW problems"
    first = out.miscompares[0]
    assert first.cpu == 1 and first.virtual_address == 0x7FDAB1589DE8
    assert first.physical_address == 0x533F39 and first.dimm is None  # "DIMM Unknown"
    assert (first.read, first.reread, first.expected) == (0xBA00, 0xBA00, 0)
    assert first.flipped_bits == (9, 11, 12, 13, 15) and first.persistent
    assert len(out.error_lines) == 4  # 2 "Report Error" + 2 "Hardware Error"
    assert first.to_record()["xor"] == "0x000000000000ba00"


def test_too_much_memory_is_a_procedural_failure_not_a_hardware_one():
    out = case("toobig")
    assert (out.status, out.reported) == ("FAIL", "procedural")
    assert out.process_errors[:2] == ("memalign returned 0", "failed to allocate memory")
    assert out.miscompares == () and out.hardware_incidents is None


def test_unknown_option_has_no_verdict():
    out = case("badopt")
    assert (out.returncode, out.status, out.reported) == (1, None, "none")
    assert out.usage_error == "Unknown argument --bogus_option"


def test_sigint_stops_early_and_still_passes():
    out = case("interrupted")
    assert out.interrupted and out.reported == "pass" and out.returncode == 0
    assert out.seconds == 3.0 and out.memory_copy_mb == 23144.0


@pytest.mark.parametrize("excerpt, kind, count, vaddr, paddr, read, expected", [
    ("issue71-hardware", "Hardware Error", 3, 0xFFFF83BF0860, 0x711F0863, 0, 0x2000000020000000),
    ("issue53-hardware", "Page Error", 2, 0x7F887275D000, 0x442715D000, 0xAAAAAAA8AAAAAAA8, 0xFFFFFFFFFFFFFFFF),
])
def test_real_hardware_failures_with_timestamps_parse(excerpt, kind, count, vaddr, paddr, read, expected):
    out = sat.parse_outcome(None, (DATA / f"{excerpt}.excerpt").read_text())
    assert len(out.miscompares) == count
    first = out.miscompares[0]
    assert (first.kind, first.virtual_address, first.physical_address) == (kind, vaddr, paddr)
    assert (first.read, first.expected) == (read, expected)
    if excerpt == "issue53-hardware":
        assert out.reported == "hardware"
        # 0xaaaaaaa8aaaaaaa8 read for all-ones: every other bit dropped, plus bit 1 and bit 33
        assert first.cpu == 21 and first.flipped == 0x5555555755555557 and len(first.flipped_bits) == 34


def test_program_merges_stderr_into_stdout_and_parses_the_end(tmp_path):
    from burnin.load import Ended

    argv = sat.argv(64, 5, 1)
    program = sat.program("stressapptest node0", argv, oom_score_adj=500)
    assert program.argv_for(str(tmp_path)) == argv and program.stderr == "stdout" and program.oom_score_adj == 500
    end = Ended(int((DATA / "fail.rc").read_text()), (DATA / "fail.stdout").read_text(), "", str(tmp_path), 5.0)
    assert program.parse(end) == case("fail") and program.parse(end).reported == "hardware"
