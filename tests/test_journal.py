"""The journal: schema of every record, durability policy, and a reader that survives a torn tail."""

import json
import os
import time

import pytest

from burnin import journal
from burnin.errors import UsageError
from burnin.testing import wait_for


def test_records_carry_type_time_and_consecutive_seq(tmp_path):
    writer = journal.JournalWriter(tmp_path / "j.jsonl")
    writer.write("run_start", schema=1, run_id="r")
    writer.write("finding", module="m", severity="warn", component="c", code="x", message="m", evidence={})
    writer.write("sample", module="m", metrics={"a": 1.0})
    writer.close()
    records = journal.read(tmp_path / "j.jsonl").records
    assert [r["seq"] for r in records] == [1, 2, 3]
    assert [r["type"] for r in records] == ["run_start", "finding", "sample"]
    assert all(isinstance(r["t"], float) and abs(r["t"] - time.time()) < 60 for r in records)


def test_findings_reach_the_file_at_once_and_samples_within_the_flush_interval(tmp_path):
    path = tmp_path / "j.jsonl"
    writer = journal.JournalWriter(path, sample_flush_s=0.3)
    writer.write("run_start", schema=1)
    writer.write("sample", module="m", metrics={"a": 1.0})
    # The file is read independently of the writer, as after a crash: the finding is there immediately.
    writer.write("finding", module="m", severity="fail", component="c", code="x", message="m", evidence={})
    assert [json.loads(l)["type"] for l in path.read_text().splitlines()] == ["run_start", "sample", "finding"]
    buffered_at = time.monotonic()
    writer.write("sample", module="m", metrics={"a": 2.0})
    assert len(path.read_text().splitlines()) == 3  # buffered
    wait_for(lambda: writer.flush_if_due() or len(path.read_text().splitlines()) == 4, timeout=5,
             what="the buffered sample reaching the file once the flush interval passed")
    assert time.monotonic() - buffered_at >= 0.3  # not before


def test_reader_ignores_a_torn_last_line(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text('{"type": "run_start", "t": 1.0, "seq": 1, "schema": 1}\n'
                    '{"type": "finding", "t": 2.0, "seq": 2, "severity": "fail"}\n'
                    '{"type": "sample", "t": 3.0, "se')
    contents = journal.read(path)
    assert [r["seq"] for r in contents.records] == [1, 2]
    assert contents.torn_tail and not contents.bad_lines


def test_existing_journal_is_never_appended_to(tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text("precious\n")
    with pytest.raises(UsageError, match="already exists"):
        journal.JournalWriter(path)
    assert path.read_text() == "precious\n"


def test_a_directory_gets_the_default_name(tmp_path):
    resolved = journal.resolve_path(str(tmp_path), hostname="srv1")
    assert resolved.parent == tmp_path
    assert resolved.name.startswith("burnin-srv1-") and resolved.name.endswith("Z.jsonl")


@pytest.mark.parametrize("content,words", [
    ("", "no readable records"),
    ('{"type": "finding", "t": 1, "seq": 1}\n', "first record is not run_start"),
    ('{"type": "run_start", "t": 1, "seq": 1, "schema": 99}\n', "schema 99"),
])
def test_reading_something_that_is_not_a_journal_is_a_usage_error(tmp_path, content, words):
    path = tmp_path / "x.jsonl"
    path.write_text(content)
    with pytest.raises(UsageError, match=words):
        journal.read(path)
