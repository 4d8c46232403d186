"""The live stick's program (scripts/live/overlay/usr/local/sbin/burnin-live), its pure parts, without booting.

The boot itself is tested by test_live_image.py (marker `live`); these run in the default suite in well under a
second: kernel parameters, folder names, runs that never finished, the serial console's lines.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import sys
import time
from pathlib import Path

import pytest

from burnin.journal import JournalWriter

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "scripts/live/overlay/usr/local/sbin/burnin-live"
SYSFS = ROOT / "tests/data/sysfs"


def load_program():
    loader = importlib.machinery.SourceFileLoader("burnin_live", str(PROGRAM))
    spec = importlib.util.spec_from_loader("burnin_live", loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["burnin_live"] = module
    loader.exec_module(module)
    return module


live = load_program()


def write_run(folder: Path, *, finished: bool, torn_tail: bool = False) -> Path:
    """A journal written by burnin's own writer; without run_end it is what a hang or power cut leaves."""
    path = folder / live.JOURNAL_NAME
    writer = JournalWriter(path)
    writer.write("run_start", schema=1, run_id="r1", t=1_700_000_000.0,
                 host={"hostname": "srv", "system_serial": "7N62AI2"},
                 profile={"name": "seller", "duration_s": 1800.0}, modules=["cpu", "thermal"])
    writer.write("module_start", module="cpu", t=1_700_000_001.0)
    writer.write("finding", module="thermal", severity="warn", component="sensor:coretemp/Package id 0",
                 code="temp-above-max", message="Package id 0 ran above its max", evidence={"temp_c": 91.0},
                 t=1_700_000_764.5)
    if finished:
        writer.write("run_end", verdict="WARN", reason="1 warning", modules={"cpu": "PASS"}, counts={},
                     duration_s=1800.0, interrupted=None, t=1_700_001_800.0)
    writer.close()
    if torn_tail:
        with open(path, "a") as stream:
            stream.write('{"type": "sample", "t": 1700000999.0, "module": "cpu", "metr')
    return path


def test_kernel_parameters_as_grub_quotes_them_keep_spaces_in_burnin_args():
    # GRUB wraps a word holding spaces in double quotes: "burnin.args=--duration 20s".
    cmdline = ('BOOT_IMAGE=/live/vmlinuz boot=live toram console=ttyS1,57600n8 console=tty0 '
               'burnin.profile=ci burnin.poweroff=1 "burnin.args=--duration 20s --skip pcie" burnin.expect=mine.toml')
    settings = live.settings_from(cmdline)
    assert settings.profile == "ci"
    assert settings.poweroff is True
    assert settings.args == ("--duration", "20s", "--skip", "pcie")
    assert settings.expect == "mine.toml"
    assert settings.serial_baud == {"ttyS1": 57600}


def test_no_burnin_parameters_mean_the_menu_with_its_countdown():
    settings = live.settings_from("BOOT_IMAGE=/live/vmlinuz boot=live quiet burnin.args= burnin.countdown=x")
    assert settings.profile is None and settings.expect is None and settings.poweroff is False
    assert settings.args == ()
    assert settings.countdown_s == live.DEFAULT_COUNTDOWN_S


def test_profile_names_choose_a_run_the_inventory_a_shell_or_the_menu(tmp_path):
    assert live.action_for("seller", tmp_path) == live.Action("run", "seller", "seller check")
    assert live.action_for("inventory", tmp_path).kind == "inventory"
    assert live.action_for("shell", tmp_path).kind == "shell"
    assert live.action_for("menu", tmp_path) is None
    assert live.action_for("", tmp_path) is None
    # A profile file on the stick is found there.
    assert live.action_for("mine.toml", tmp_path).profile == str(tmp_path / "mine.toml")


def test_folders_are_named_by_the_smbios_serial_and_utc_start_time():
    serial = live.system_serial(SYSFS / "procfs")
    assert serial == "7N62AI2"
    assert live.run_folder_name(serial, 1_700_000_000.0) == "7N62AI2_20231114T221320Z"


def test_a_machine_without_smbios_serials_is_named_by_its_nic_mac():
    # vm-virtio has no DMI tables; ifb0/ifb1 are virtual (no device link) and lo is all zeros.
    assert live.system_serial(SYSFS / "vm-virtio") == "mac-02fc00000001"


@pytest.mark.parametrize("value", ["To Be Filled By O.E.M.", "Default string", "0000000000", "   ", "N/A"])
def test_firmware_placeholder_serials_are_not_used(value):
    assert not live.usable_serial(value)


def test_serials_become_safe_folder_names():
    assert live.safe_name("CZ 2/34:56\\78") == "CZ-2-34-56-78"


def test_a_journal_without_run_end_is_reported_with_the_time_it_stopped(tmp_path):
    folder = tmp_path / "runs" / "7N62AI2_20231114T221320Z"
    write_run(folder, finished=False, torn_tail=True)
    write_run(tmp_path / "runs" / "7N62AI2_20231115T080000Z", finished=True)
    [run] = live.find_unfinished(tmp_path)
    assert run.folder == folder
    assert run.stopped == 1_700_000_764.5  # the last complete record; the torn sample line is ignored
    assert run.started == 1_700_000_000.0
    assert run.profile == "seller" and run.host == "7N62AI2"
    assert live.unfinished_message(run, last=True) == (
        "the last run stopped at 22:26:04 UTC without finishing: the machine hung, rebooted or lost power")
    note = live.unfinished_note(run, found_at=1_700_086_400.0, next_run="7N62AI2_20231115T221320Z",
                                report_line="INCOMPLETE: the run ended unexpectedly")
    assert note.startswith("FAIL: this run stopped at 2023-11-14 22:26:04 UTC without finishing")
    assert "runs/7N62AI2_20231115T221320Z" in note and "12 min 44 s" in note


def test_an_unfinished_run_is_reported_only_until_its_note_is_written(tmp_path):
    folder = tmp_path / "runs" / "S_20231114T221320Z"
    write_run(folder, finished=False)
    assert len(live.find_unfinished(tmp_path)) == 1
    (folder / live.UNFINISHED_NAME).write_text("FAIL: ...\n")
    assert live.find_unfinished(tmp_path) == []


def test_an_empty_journal_counts_as_unfinished_at_its_file_time(tmp_path):
    folder = tmp_path / "runs" / "S_20231114T221320Z"
    folder.mkdir(parents=True)
    (folder / live.JOURNAL_NAME).write_bytes(b"")
    [run] = live.find_unfinished(tmp_path)
    assert run.started is None and abs(run.stopped - time.time()) < 60


def test_the_verdict_comes_from_run_end_else_from_the_exit_code(tmp_path):
    finished = write_run(tmp_path / "a", finished=True)
    unfinished = write_run(tmp_path / "b", finished=False)
    assert live.run_verdict(finished, 1) == "WARN"
    assert live.run_verdict(unfinished, 130) == "INCOMPLETE"
    assert live.run_verdict(tmp_path / "missing.jsonl", 1) == "FAIL"


def test_the_serial_console_follows_findings_and_verdicts_as_the_journal_grows(tmp_path):
    path = tmp_path / "j.jsonl"
    lines: list[str] = []
    follower = live.JournalFollower(path, lines.append)
    follower.poll()  # no file yet
    record = {"type": "finding", "t": 1_700_000_764.5, "severity": "fail", "component": "cpu:3 (core 1, socket 0)",
              "code": "wrong-result", "message": "CPU 3 computed a wrong hash"}
    text = json.dumps(record) + "\n"
    path.write_text(json.dumps({"type": "sample", "t": 1.0, "metrics": {}}) + "\n" + text[:30])
    follower.poll()
    assert lines == []  # half a line waits for the rest
    with open(path, "a") as stream:
        stream.write(text[30:] + json.dumps({"type": "run_end", "t": 1_700_000_800.0, "verdict": "FAIL",
                                             "reason": "cpu failed"}) + "\n")
    follower.poll()
    assert lines == ["22:26:04 FAIL cpu:3 (core 1, socket 0): CPU 3 computed a wrong hash [wrong-result]",
                     "22:26:40 run ended: FAIL (cpu failed)"]


def test_the_follower_thread_reads_to_the_end_when_stopped(tmp_path):
    path = tmp_path / "j.jsonl"
    lines: list[str] = []
    follower = live.JournalFollower(path, lines.append, interval_s=0.05)
    follower.start()
    path.write_text(json.dumps({"type": "run_end", "t": 1_700_000_800.0, "verdict": "PASS", "reason": ""}) + "\n")
    follower.stop()
    assert not follower.is_alive()
    assert lines == ["22:26:40 run ended: PASS"]


def test_the_burnin_partition_on_the_boot_stick_comes_before_any_other():
    disks = {"/dev/sda4": "sda", "/dev/nvme0n1p1": "nvme0n1", "/dev/sdb1": "sdb"}
    ordered = live.order_sticks(disks, boot_disks={"sdb"}, disk_of=disks.get)
    assert ordered == ["/dev/sdb1", "/dev/nvme0n1p1", "/dev/sda4"]
