"""The machine's previous life on the QEMU rig: a kernel crash kept by ramoops, a hardware watchdog that brings the
hung machine back, and what burnin says about both on the next boot. One QEMU process, two boots (no -no-reboot: a
reset boots again with RAM kept; panic=0: a panicked kernel hangs, as on a real server), driven by
scripts/rig/jobs/previous-life.sh:

  boot 1: `burnin run` with `watchdog = true` (QEMU's i6300esb); once armed, `echo c > /proc/sysrq-trigger`: the
          kernel panics (ramoops keeps it) and hangs, nothing pets the watchdog, and it resets the machine
  boot 2: `burnin report` of that journal (the run never finished) and `burnin check --only history` (the panic of
          boot 1, read back from pstore)
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from rigvm.guest import Guest, new_run_dir

pytestmark = pytest.mark.rig

JOB = Path(__file__).resolve().parents[2] / "scripts" / "rig" / "jobs" / "previous-life.sh"
# 1 MiB of RAM at 1.75 GiB kept out of the kernel's hands (memmap=...$...) for ramoops; the rig guest has 2 GiB.
RAMOOPS = ("memmap=1M$0x70000000 ramoops.mem_address=0x70000000 ramoops.mem_size=0x100000 "
           "ramoops.record_size=0x40000 panic=0")  # panic=0 after the rig's panic=-1: the last one counts
WATCHDOG = ("-device", "i6300esb,bus=pcie.0", "-watchdog-action", "reset")


@pytest.fixture(scope="module")
def previous_life(rig_image, rig_report):
    guest = Guest(new_run_dir("previous-life"), rig_image, append=RAMOOPS, reboot=True, extra=WATCHDOG)
    started = time.monotonic()
    guest.start(JOB.read_text())
    try:
        rc = guest.wait(timeout_s=2400)  # two boots: 3-4 min on an idle host, much longer on a loaded one
    finally:
        guest.kill()
    rig_report.timing("previous life: 2 boots (sysrq crash, watchdog reset)", time.monotonic() - started)
    out = guest.share / "out"
    if not (out / "history.json").exists():
        pytest.fail(f"the second boot did not finish (job rc {rc}); boots: "
                    f"{_read(out / 'boots.txt')}\n{guest.console_tail(60)}")
    return out


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else f"({path.name} missing)"


def test_the_watchdog_was_armed_and_a_hang_rebooted_the_machine(previous_life):
    out = previous_life
    assert not (out / "watchdog-did-not-fire").exists()
    boots = _read(out / "boots.txt").splitlines()
    assert [line.split()[1] for line in boots] == ["1", "2"], boots
    armed = [json.loads(line) for line in _read(out / "armed.txt").splitlines() if line.startswith("{")]
    assert armed and armed[0]["message"] == "hardware watchdog armed: a hang reboots the machine"
    assert armed[0]["data"]["timeout_s"] == 60 and "i6300ESB" in armed[0]["data"]["identity"]


def test_the_next_boot_reports_the_unfinished_run(previous_life):
    report = _read(previous_life / "unfinished-report.txt")
    assert "The run ended unexpectedly" in report and "rc=3" in report, report
    assert "INCOMPLETE" in report


def test_the_crash_before_the_reset_is_reported_from_pstore(previous_life):
    summary = json.loads(_read(previous_life / "history.json"))
    panics = [f for f in summary["findings"] if f["code"] == "history-pstore-panic"]
    assert panics, (_read(previous_life / "history.log"), _read(previous_life / "pstore-boot2.txt"))
    assert "sysrq triggered crash" in panics[0]["message"]
    assert any("ramoops" in name for name in panics[0]["evidence"]["files"])
    (clean,) = [f for f in summary["findings"] if f["code"] == "history-summary"]
    assert clean["evidence"]["sources"]["pstore"].startswith("1 record(s)")
