"""The hardware watchdog in `run` (profile `watchdog = true`): armed after the modules start, petted by the
runner's loop, closed with the magic 'V' at a normal end. Here /dev/watchdog is a plain file standing in for the
device (no ioctl answers, every write recorded): arming a real watchdog on a shared test machine would reset it.
The rig test (tests/rig/test_previous_life.py) arms QEMU's i6300esb for real."""

import json

from click.testing import CliRunner

from burnin import profile as profiles
from burnin.cli import main
from burnin.journal import read
from burnin.runner import Runner
from burnin.tools.watchdog import HardwareWatchdog, WatchdogError
from fake_modules import Healthy


def test_a_run_arms_pets_and_magic_closes_the_watchdog(tmp_path, fake_registry, monkeypatch):
    fake_registry(Healthy)
    device = tmp_path / "watchdog"
    device.write_bytes(b"")
    monkeypatch.setattr(Runner, "watchdog_device", str(device))
    (tmp_path / "p.toml").write_text('duration = "3s"\nstop_grace = "1s"\nwatchdog = true\n')
    journal = tmp_path / "run.jsonl"
    result = CliRunner().invoke(main, ["run", "--profile", str(tmp_path / "p.toml"), "--journal", str(journal),
                                       "--json"])
    assert result.exit_code == 0, result.output
    written = device.read_bytes()
    assert written.endswith(b"V") and written.count(b"\0") >= 3  # armed, petted about once a second, closed
    notes = [n["message"] for n in read(journal).of_type("note")]
    assert "hardware watchdog armed: a hang reboots the machine" in notes
    assert "hardware watchdog disarmed (magic close)" in notes
    assert json.loads(result.stdout)["verdict"] == "PASS"


def test_check_and_profiles_without_it_leave_the_watchdog_alone(tmp_path, fake_registry, monkeypatch):
    fake_registry(Healthy)
    device = tmp_path / "watchdog"
    device.write_bytes(b"")
    monkeypatch.setattr(Runner, "watchdog_device", str(device))
    (tmp_path / "on.toml").write_text('duration = "1s"\nwatchdog = true\n')
    (tmp_path / "off.toml").write_text('duration = "1s"\n')
    for i, args in enumerate((["check", "--profile", str(tmp_path / "on.toml")],
                              ["run", "--profile", str(tmp_path / "off.toml")])):
        result = CliRunner().invoke(main, [*args, "--journal", str(tmp_path / f"j{i}.jsonl")])
        assert result.exit_code == 0, result.output
    assert device.read_bytes() == b""


def test_a_missing_device_is_a_note_not_a_failure(tmp_path, fake_registry, monkeypatch):
    fake_registry(Healthy)
    monkeypatch.setattr(Runner, "watchdog_device", str(tmp_path / "no-such-watchdog"))
    (tmp_path / "p.toml").write_text('duration = "1s"\nwatchdog = true\n')
    journal = tmp_path / "run.jsonl"
    result = CliRunner().invoke(main, ["run", "--profile", str(tmp_path / "p.toml"), "--journal", str(journal)])
    assert result.exit_code == 0, result.output
    assert any(n["message"].startswith("hardware watchdog not armed: cannot open")
               for n in read(journal).of_type("note"))
    try:
        HardwareWatchdog(str(tmp_path / "no-such-watchdog"), 60)
    except WatchdogError as exc:
        assert "cannot open" in str(exc)


def test_soak_arms_the_watchdog_and_seller_does_not():
    from burnin.registry import module_classes

    specs = {name: cls.setting_specs() for name, cls in module_classes().items()}
    assert profiles.load("soak", specs).watchdog is True
    assert profiles.load("seller", specs).watchdog is False
