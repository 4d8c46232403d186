"""`burnin capture`: a capture of this machine gives the same inventory and health verdicts elsewhere."""

import json
import tarfile

from click.testing import CliRunner

from burnin.cli import main
from burnin.host import CAPTURE_DIR, Host


def _json(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (0, 1, 3), result.output
    return json.loads(result.stdout)


def test_capture_then_inventory_from_it_equals_the_live_inventory(tmp_path):
    out = tmp_path / "capture"
    result = CliRunner().invoke(main, ["capture", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / CAPTURE_DIR / "manifest.json").read_text())
    assert manifest["files_copied"] > 10 and "(inventory)" in manifest["modules"]
    live = _json(["inventory", "--json"])["inventory"]
    captured = _json(["inventory", "--json", "--sysroot", str(out)])["inventory"]
    # Notes say *why* something is missing, and the reason differs ("firmware gave none" vs "not captured").
    live.pop("notes"), captured.pop("notes")
    assert captured == live


def test_check_on_a_capture_gives_the_verdicts_of_the_live_check(tmp_path):
    out = tmp_path / "capture"
    assert CliRunner().invoke(main, ["capture", str(out)]).exit_code == 0
    live = _json(["check", "--profile", "ci", "--json", "--journal", str(tmp_path / "a.jsonl")])
    captured = _json(["check", "--profile", "ci", "--json", "--journal", str(tmp_path / "b.jsonl"),
                      "--sysroot", str(out)])
    # Stress modules and live-only watchers (device events) have nothing to judge in a capture and say so; the
    # kernel log is judged from the copy the capture saved (none when it could not read /dev/kmsg); every other
    # verdict holds.
    live_only = {name for name, reason in captured["module_reasons"].items()
                 if captured["modules"][name] == "SKIP" and "captured tree" in reason}
    saved_log = (out / CAPTURE_DIR / "kmsg.txt").is_file()
    assert "cpu" in live_only and ("kernel-log" in live_only) is not saved_log
    # Lines the kernel logs between the capture and the live check may differ: the kernel log's verdict is not
    # compared.
    compared = set(live["modules"]) - live_only - {"kernel-log"}
    assert "inventory" in compared
    for name in compared:
        assert captured["modules"][name] == live["modules"][name], name


def test_capture_to_a_tarball_and_refuse_to_overwrite(tmp_path):
    out = tmp_path / "box.tar.gz"
    assert CliRunner().invoke(main, ["capture", str(out)]).exit_code == 0
    with tarfile.open(out) as tar:
        names = tar.getnames()
    assert f"box/{CAPTURE_DIR}/manifest.json" in names and any(n.startswith("box/sys/") for n in names)
    again = CliRunner().invoke(main, ["capture", str(out)])
    assert again.exit_code == 2 and "already exists" in again.stderr


def test_a_capture_replays_recorded_command_outputs(tmp_path):
    (tmp_path / CAPTURE_DIR).mkdir()
    (tmp_path / CAPTURE_DIR / "commands.json").write_text(json.dumps([
        {"argv": ["ethtool", "-i", "eth7"], "returncode": 0, "stdout": "driver: ixgbe\n", "stderr": "",
         "duration_s": 0.01, "timed_out": False, "error": ""}]))
    host = Host(tmp_path)
    assert host.can_run and host.which("ethtool") and host.which("smartctl") is None
    replayed = host.run(["ethtool", "-i", "eth7"])
    assert replayed.ok and replayed.stdout == "driver: ixgbe\n"
    missing = host.run(["ethtool", "eth7"])
    assert not missing.ok and "holds no output of this command" in missing.error
