"""The machine's previous life on the QEMU rig: a hardware watchdog that fires on a hang, a kernel crash kept by
ramoops, and what burnin says about both on the next boot. One QEMU process, three boots (no -no-reboot: a reset
boots again with RAM kept), driven by scripts/rig/jobs/previous-life.sh:

  boot 1: `burnin run` with `watchdog = true` (QEMU's i6300esb); burnin is then stopped (SIGSTOP), nothing pets the
          watchdog, and it resets the machine
  boot 2: `burnin report` of that journal: the run never finished; then `echo c > /proc/sysrq-trigger`
  boot 3: `burnin check --only history`: the panic of boot 2, read back from pstore (ramoops)
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
           "ramoops.record_size=0x40000")
WATCHDOG = ("-device", "i6300esb,bus=pcie.0", "-watchdog-action", "reset")


@pytest.fixture(scope="module")
def previous_life(rig_image, rig_report):
    guest = Guest(new_run_dir("previous-life"), rig_image, append=RAMOOPS, reboot=True, extra=WATCHDOG)
    started = time.monotonic()
    guest.start(JOB.read_text())
    try:
        rc = guest.wait(timeout_s=1500)
    finally:
        guest.kill()
    rig_report.timing("previous life: 3 boots (watchdog reset, sysrq crash)", time.monotonic() - started)
    out = guest.share / "out"
    if not (out / "history.json").exists():
        pytest.fail(f"the third boot did not happen (job rc {rc}); boots: "
                    f"{_read(out / 'boots.txt')}\n{guest.console_tail(60)}")
    return out


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else f"({path.name} missing)"


def test_the_watchdog_was_armed_and_a_hang_rebooted_the_machine(previous_life):
    out = previous_life
    assert not (out / "watchdog-did-not-fire").exists()
    boots = _read(out / "boots.txt").splitlines()
    assert [line.split()[1] for line in boots] == ["1", "2", "3"], boots
    armed = [json.loads(line) for line in _read(out / "armed.txt").splitlines() if line.startswith("{")]
    assert armed and armed[0]["message"] == "hardware watchdog armed: a hang reboots the machine"
    assert armed[0]["data"]["timeout_s"] == 60 and "i6300ESB" in armed[0]["data"]["identity"]


def test_the_next_boot_reports_the_unfinished_run(previous_life):
    report = _read(previous_life / "unfinished-report.txt")
    assert "The run ended unexpectedly" in report and "rc=3" in report, report
    assert "INCOMPLETE" in report


def test_the_crash_of_the_boot_before_is_reported_from_pstore(previous_life):
    summary = json.loads(_read(previous_life / "history.json"))
    panics = [f for f in summary["findings"] if f["code"] == "history-pstore-panic"]
    assert panics, (_read(previous_life / "history.log"), _read(previous_life / "pstore-boot3.txt"))
    assert "sysrq triggered crash" in panics[0]["message"]
    assert any("ramoops" in name for name in panics[0]["evidence"]["files"])
    (clean,) = [f for f in summary["findings"] if f["code"] == "history-summary"]
    assert clean["evidence"]["sources"]["pstore"].startswith("1 record(s)")
