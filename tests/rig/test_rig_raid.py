"""Software RAID on the emulated server (marker `rig`): the guest builds an md RAID1 over two emulated SCSI disks
(scsi_debug with a store per host: two independent disks of the kernel's SCSI stack, in the guest's memory; with
one shared store both show the same superblock and md refuses the second), burnin checks it healthy, then a member
is failed with `mdadm --fail` during a `burnin run`: the raid module must FAIL naming the array and the
member within 10 s of the failure. The rig's emulated MegaRAID (megasas-gen2) has no vendor tool in the guest:
the module must say what it did not examine there, naming the controller's PCI address.
"""

from __future__ import annotations

import time

import pytest

from rigcases import RIG, boot, burnin, describe, findings, journal, kv, module_verdicts

pytestmark = pytest.mark.rig

MAX_LATENCY_S = 10.0
SETUP = r"""
modprobe raid1 2>&1 || echo "modprobe raid1 failed"
modprobe scsi_debug dev_size_mb=32 add_host=2 per_host_store=1 inq_vendor=RIGMD inq_product=MdMember \
    2>&1 || echo "modprobe scsi_debug failed"
for _ in $(seq 1 100); do
    set -- $(lsblk -dn -o NAME,MODEL | awk '$2 == "MdMember" {print $1}')
    [ $# -ge 2 ] && break
    sleep 0.1
done
udevadm settle -t 10 || true
echo a=$1 b=$2
mdadm --create /dev/md0 --run --level=1 --raid-devices=2 --metadata=1.2 --assume-clean /dev/$1 /dev/$2 2>&1
echo mdadm_rc=$?
cat /proc/mdstat
lsblk -dn -o NAME,MODEL,SIZE
dmesg | tail -n 15
"""


@pytest.fixture(scope="module")
def guest(rig_image, rig_report):
    g = boot("raid", rig_image, rig_report)
    try:
        yield g
    finally:
        g.stop()
        g.wait(120)


@pytest.fixture(scope="module")
def members(guest) -> dict[str, str]:
    result = guest.sh(SETUP, timeout_s=300)
    found = kv(result.out)
    if "a" not in found or "md0 : active raid1" not in result.out:
        pytest.fail(f"could not build the md RAID1 in the guest: {result.out}{result.err}")
    return found


def test_a_healthy_md_raid1_passes_and_the_megaraid_says_what_was_not_examined(guest, members, rig_report):
    rc, records, _, log = burnin(guest, f"check {RIG} --only raid", "raid-healthy", timeout_s=600)
    verdicts = module_verdicts(records)
    assert verdicts.get("raid") in ("PASS", "WARN"), (verdicts, log[-2000:])
    raid = [f for f in findings(records) if f["module"] == "raid"]
    assert not [f for f in raid if f["severity"] == "fail"], [describe(f) for f in raid]
    assert not [f for f in raid if f["code"].startswith("md-")], [describe(f) for f in raid]
    notes = [r for r in records if r["type"] == "note" and r.get("module") == "raid"
             and r.get("message") == "software RAID arrays"]
    assert notes and notes[0]["data"]["arrays"]["md0"]["status"] == "UU"
    unexamined = [f for f in raid if f["code"] == "raid-not-examined"]
    assert unexamined and "megaraid_sas" in unexamined[0]["message"], [describe(f) for f in raid]
    rig_report.notes.append("raid healthy: " + ", ".join(describe(f) for f in raid))


def test_an_md_member_failed_during_the_run_fails_within_10_s(guest, members, rig_report):
    row = rig_report.add_case("md-member-failed", f"mdadm --fail /dev/md0 /dev/{members['b']} during the run",
                              "fail raid md-member-failed")
    out = guest.share / "out"
    guest.sh(f"cd /mnt/rig && mkdir -p /var/tmp/rig out && (nohup burnin run {RIG} --only raid --duration 60s "
             f"--journal /var/tmp/rig/raid-fail.jsonl > out/raid-fail.json 2> out/raid-fail.log; "
             f"echo $? > out/raid-fail.rc; cp /var/tmp/rig/raid-fail.jsonl out/) >/dev/null 2>&1 &", timeout_s=60)
    deadline = time.monotonic() + 400
    while time.monotonic() < deadline:
        log = (out / "raid-fail.log").read_text() if (out / "raid-fail.log").exists() else ""
        if "== stress and monitor" in log:
            break
        time.sleep(1)
    else:
        pytest.fail("the burnin run did not reach its run phase")
    time.sleep(3)
    failed = kv(guest.sh(f"t=$(date +%s.%N); mdadm /dev/md0 --fail /dev/{members['b']} >/dev/null 2>&1; "
                         f"echo time=$t").out)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not (out / "raid-fail.rc").exists():
        time.sleep(2)
    records = journal(out / "raid-fail.jsonl")
    hits = [f for f in findings(records) if f["module"] == "raid" and f["code"] == "md-member-failed"
            and members["b"] in f["component"] and "md0" in f["component"]]
    if not hits:
        row.result = "FAIL: not detected"
        pytest.fail("no md-member-failed: " + "; ".join(describe(f) for f in findings(records)))
    first = min(hits, key=lambda f: f["t"])
    latency = first["t"] - float(failed["time"])
    row.detected, row.component, row.latency = describe(first), first["component"], f"{latency:.1f} s"
    row.result = "PASS" if latency <= MAX_LATENCY_S else f"FAIL: {latency:.1f} s"
    assert 0 <= latency <= MAX_LATENCY_S, latency
    assert (out / "raid-fail.rc").read_text().strip() == "1"  # the run's verdict is FAIL


def test_an_array_on_the_disks_that_is_not_running_is_said_not_examined(guest, members, rig_report):
    scan = guest.sh("mdadm --stop /dev/md0 >/dev/null 2>&1; mdadm --examine --scan --verbose; cat /proc/mdstat")
    assert "ARRAY" in scan.out, scan.out + scan.err
    rig_report.notes.append("mdadm --examine --scan --verbose in the guest: " + " | ".join(scan.out.splitlines()[:3]))
    rc, records, _, log = burnin(guest, f"check {RIG} --only raid", "raid-on-disk", timeout_s=600)
    hits = [f for f in findings(records) if f["code"] == "md-array-not-assembled"]
    assert hits and members["a"] in " ".join(hits[0]["evidence"]["devices"]), [describe(f) for f in findings(records)]
    assert hits[0]["severity"] == "info"
