"""The devices module: uevent judging on real uevent properties, and live removals of real kernel devices.

The live tests create a loop device and a veth pair on this machine (root, losetup and ip needed; skipped
otherwise), remove them while run() listens, and check the finding names them. The uevent properties in the
pure tests were captured from this kernel (6.18) with pyudev on the "kernel" netlink source.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid

import pytest

from burnin.host import Host
from burnin.model import Severity
from burnin.modules.devices import (
    DevicesModule,
    EventJudge,
    KnownDevice,
    event_from_properties,
    format_elapsed,
)
from burnin.testing import RecordingContext, wait_for

# Real uevents: `losetup -d /dev/loop0` (three "change" events, the last with DISK_MEDIA_CHANGE), then
# LOOP_CTL_REMOVE of loop0, and `ip link del bt-x` of a veth pair.
LOOP_CHANGE = {"ACTION": "change", "DEVNAME": "/dev/loop0", "DEVPATH": "/devices/virtual/block/loop0",
               "DEVTYPE": "disk", "DISKSEQ": "15", "MAJOR": "7", "MINOR": "0", "SEQNUM": "3567", "SUBSYSTEM": "block"}
LOOP_MEDIA = {**LOOP_CHANGE, "SEQNUM": "3569", "DISK_MEDIA_CHANGE": "1"}
LOOP_REMOVE = {"ACTION": "remove", "DEVNAME": "/dev/loop0", "DEVPATH": "/devices/virtual/block/loop0",
               "DEVTYPE": "disk", "DISKSEQ": "16", "MAJOR": "7", "MINOR": "0", "SEQNUM": "3571", "SUBSYSTEM": "block"}
VETH_REMOVE = {"ACTION": "remove", "DEVPATH": "/devices/virtual/net/bt-x", "INTERFACE": "bt-x", "IFINDEX": "7",
               "SEQNUM": "3563", "SUBSYSTEM": "net"}

# Device paths of a real SAS HBA and its disk (prometheus/procfs fixture, see tests/data/storage-links).
HBA = "/devices/pci0000:00/0000:00:03.0/0000:03:00.0"
DISK = f"{HBA}/host11/port-11:2/end_device-11:2/target11:0:0/11:0:0:0"


def uevent(action, subsystem, devpath, seq, **extra):
    props = {"ACTION": action, "SUBSYSTEM": subsystem, "DEVPATH": devpath, "SEQNUM": str(seq)}
    props.update(extra)
    return props


def known(subsystem, name, devpath, **extra):
    return KnownDevice(subsystem, name, devpath, devpath.startswith("/devices/virtual/"), **extra)


# -- pure judging ------------------------------------------------------------------------------------
def test_real_remove_uevent_parses_into_an_event():
    event = event_from_properties(VETH_REMOVE, 12.5)
    assert (event.action, event.subsystem, event.name, event.seqnum, event.virtual) == \
        ("remove", "net", "bt-x", 3563, True)
    assert event_from_properties({"ACTION": "remove"}, 0) is None


def test_elapsed_time_reads_as_hours_minutes_seconds():
    assert format_elapsed(1062.9) == "00:17:42"
    assert format_elapsed(90061) == "25:01:01"


def test_disk_removed_with_its_hba_is_one_fail_named_after_the_disk():
    baseline = {("block", "sdv"): known("block", "sdv", f"{DISK}/block/sdv", size_sectors=100, serial="SWX1KLA"),
                ("pci", "0000:03:00.0"): known("pci", "0000:03:00.0", HBA)}
    judge = EventJudge(baseline)
    # The kernel removes children first: the disk, its SCSI device, then the HBA's PCI function.
    events = [uevent("remove", "block", f"{DISK}/block/sdv", 1, DEVTYPE="disk"),
              uevent("remove", "scsi", DISK, 2, DEVTYPE="scsi_device"),
              uevent("remove", "pci", HBA, 3)]
    out = []
    for i, props in enumerate(events):
        out += judge.feed(event_from_properties(props, 1062.0 + i * 0.05))
    assert out == []  # the burst is still open
    out = judge.tick(1064.0)
    assert len(out) == 1
    finding = out[0]
    assert (finding.code, finding.severity, finding.evidence["virtual"]) == ("device-removed", Severity.FAIL, False)
    assert finding.component == "disk:/dev/sdv S/N SWX1KLA"
    assert "disk sdv" in finding.message and "00:17:42" in finding.message and "PCI device 0000:03:00.0" in finding.message
    assert {d["name"] for d in finding.evidence["removed_together"]} == {"11:0:0:0", "0000:03:00.0"}


def test_partition_and_scsi_host_events_are_not_judged():
    judge = EventJudge({})
    judge.feed(event_from_properties(uevent("remove", "block", f"{DISK}/block/sdv/sdv1", 1, DEVTYPE="partition"), 1))
    judge.feed(event_from_properties(uevent("remove", "scsi", f"{HBA}/host11", 2, DEVTYPE="scsi_host"), 1))
    assert judge.flush() == []


def test_disk_back_under_a_new_name_with_the_same_serial_warns_readded():
    baseline = {("block", "sdc"): known("block", "sdc", f"{DISK}/block/sdc", size_sectors=100, serial="Z1X2")}
    judge = EventJudge(baseline)
    judge.feed(event_from_properties(uevent("remove", "block", f"{DISK}/block/sdc", 1, DEVTYPE="disk"), 10))
    removed = judge.flush()
    assert [j.code for j in removed] == ["device-removed"]
    back = judge.feed(event_from_properties(uevent("add", "block", f"{DISK}/block/sdd", 2, DEVTYPE="disk"), 70),
                      size_sectors=100, serial="Z1X2")
    assert [(j.code, j.severity) for j in back] == [("device-readded", Severity.WARN)]
    assert "sdc" in back[0].message and "sdd" in back[0].message and back[0].evidence["removed_at"] == "00:00:10"


def test_detached_loop_device_counts_as_removed_once():
    baseline = {("block", "loop0"): known("block", "loop0", "/devices/virtual/block/loop0", size_sectors=16384)}
    judge = EventJudge(baseline)
    out = judge.feed(event_from_properties(LOOP_CHANGE, 5.0), size_sectors=0)
    out += judge.feed(event_from_properties(LOOP_MEDIA, 5.01), size_sectors=0)
    out += judge.feed(event_from_properties(LOOP_REMOVE, 5.2))
    out += judge.flush()
    assert [(j.code, j.evidence["virtual"]) for j in out] == [("device-removed", True)]
    assert "lost its medium" in out[0].message


def test_virtual_device_removal_is_info_by_default_and_never_fails():
    module = DevicesModule(Host("/"))
    ctx = RecordingContext(module.name, module.host)
    module._judge = EventJudge({("net", "bt-x"): known("net", "bt-x", "/devices/virtual/net/bt-x")})
    module._judge.feed(event_from_properties(VETH_REMOVE, 3.0))
    module._emit(ctx, module._judge.flush())
    assert [(f.severity, f.code, f.component) for f in ctx.findings] == [(Severity.INFO, "device-removed", "nic:bt-x")]


def test_virtual_device_that_came_and_went_during_the_run_is_only_noted():
    module = DevicesModule(Host("/"), {"virtual_devices": "fail"})
    ctx = RecordingContext(module.name, module.host)
    module._judge = EventJudge({})  # a container's veth: not there at the start
    module._judge.feed(event_from_properties(VETH_REMOVE, 3.0))
    module._emit(ctx, module._judge.flush())
    assert ctx.findings == [] and "bt-x" in ctx.notes[0]["message"]


def test_captured_tree_is_unavailable(tmp_path):
    probe = DevicesModule(Host(tmp_path)).probe()
    assert not probe.available and "captured tree" in probe.reason


# -- live: real kernel devices removed during run() -------------------------------------------------
def _need(*tools):
    if os.geteuid() != 0:
        pytest.skip("needs root to create loop and veth devices")
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    probe = DevicesModule(Host("/")).probe()
    if not probe.available:
        pytest.skip(probe.reason)


def run_while(module: DevicesModule, action, names, seconds: float = 10.0) -> RecordingContext:
    """check(), then run() while another thread performs `action(ctx)` once run() listens; stops once findings
    name all of `names`."""
    ctx = RecordingContext(module.name, module.host, phase="check", seconds=seconds)
    module.check(ctx)
    ctx.phase = "run"
    ctx.deadline = time.monotonic() + seconds
    cancel = ctx._cancel

    def act():
        try:
            wait_for(lambda: module._start is not None, timeout=seconds, what="run() listening")
            action(ctx)
            wait_for(lambda: all(any(n in f.component for f in list(ctx.findings)) for n in names), timeout=seconds,
                     what=f"findings naming {names}")
        except AssertionError:
            pass  # the test's own assertions say what is missing
        finally:
            cancel.set()

    worker = threading.Thread(target=act)
    worker.start()
    try:
        module.run(ctx)
    finally:
        worker.join()
    return ctx


@pytest.fixture
def loop_device(tmp_path):
    _need("losetup")
    backing = tmp_path / "disk.img"
    backing.write_bytes(b"\0" * (4 << 20))
    dev = subprocess.run(["losetup", "-f", "--show", str(backing)], capture_output=True, text=True, check=True)
    path = dev.stdout.strip()
    yield path
    subprocess.run(["losetup", "-d", path], capture_output=True)


@pytest.fixture
def veth_pair():
    _need("ip")
    tag = uuid.uuid4().hex[:4]
    name, peer = f"bt-x{tag}", f"bt-y{tag}"
    subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", peer], check=True, capture_output=True)
    yield name
    subprocess.run(["ip", "link", "del", name], capture_output=True)


def test_loop_device_detached_during_the_run_fails_naming_it(loop_device):
    name = loop_device.rsplit("/", 1)[1]
    module = DevicesModule(Host("/"), {"virtual_devices": "fail"})
    ctx = run_while(module, lambda ctx: subprocess.run(["losetup", "-d", loop_device], check=True),
                    [f"/dev/{name}"])
    removed = [f for f in ctx.findings if f.code == "device-removed" and f.component == f"disk:/dev/{name}"]
    assert [f.severity for f in removed] == [Severity.FAIL]
    assert f"disk {name}" in removed[0].message and removed[0].evidence["present_at_start"] is True


def test_veth_deleted_during_the_run_fails_naming_it(veth_pair):
    module = DevicesModule(Host("/"), {"virtual_devices": "fail"})
    peer = f"bt-y{veth_pair[4:]}"
    ctx = run_while(module, lambda ctx: subprocess.run(["ip", "link", "del", veth_pair], check=True),
                    [f"nic:{veth_pair}", f"nic:{peer}"])
    # Other processes on this machine may add and delete interfaces meanwhile: look at ours only.
    ours = {f.component: f for f in ctx.findings if f.code == "device-removed" and veth_pair[4:] in f.component}
    assert ours.get(f"nic:{veth_pair}") is not None and ours[f"nic:{veth_pair}"].severity is Severity.FAIL
    assert f"network interface {veth_pair}" in ours[f"nic:{veth_pair}"].message
    # Deleting one end of a veth pair deletes its peer too; that is reported as well.
    assert f"nic:{peer}" in ours


def test_run_returns_within_half_a_second_of_cancellation():
    _need()
    module = DevicesModule(Host("/"))
    ctx = RecordingContext(module.name, module.host, phase="run", seconds=30)
    module.check(ctx)
    threading.Timer(0.3, ctx._cancel.set).start()
    start = time.monotonic()
    module.run(ctx)
    assert time.monotonic() - start < 0.3 + 0.6


def test_network_interface_that_burnin_moved_is_noted_not_judged():
    baseline = {("net", "enp5s0"): known("net", "enp5s0", "/devices/pci0000:00/0000:00:07.0/0000:05:00.0/net/enp5s0")}
    judge = EventJudge(baseline)
    gone = uevent("remove", "net", "/devices/pci0000:00/0000:00:07.0/0000:05:00.0/net/enp5s0", 1, INTERFACE="enp5s0")
    back = dict(gone, ACTION="add", SEQNUM="2")
    own = "moved it 0 s earlier (the network module's traffic test)"
    out = judge.feed(event_from_properties(gone, 10.0), own_change=own)
    out += judge.feed(event_from_properties(back, 65.0), own_change=own)
    out += judge.flush()
    assert out == []
    assert [m for m, _ in judge.notes] == [f"network interface enp5s0 left this network namespace: burnin {own}",
                                          f"network interface enp5s0 came back to this network namespace: burnin {own}"]
    # The same removal without burnin's word for it is a FAIL.
    other = EventJudge(baseline)
    other.feed(event_from_properties(gone, 10.0))
    assert [(j.code, j.severity) for j in other.flush()] == [("device-removed", Severity.FAIL)]


def test_veth_moved_into_a_namespace_after_burnin_announced_it_is_not_a_finding(veth_pair, tmp_path, monkeypatch):
    from burnin.tools import netns

    monkeypatch.setattr(DevicesModule, "state_dir", str(tmp_path))
    ns = f"bt-ns-{veth_pair[4:]}"
    subprocess.run(["ip", "netns", "add", ns], check=True, capture_output=True)

    def noted(ctx, words):
        return any(words in n["message"] for n in list(ctx.notes) if n["data"].get("name") == veth_pair)

    def move_and_back(ctx):
        netns.announce_change(veth_pair, "moved into a test namespace", tmp_path)
        subprocess.run(["ip", "link", "set", veth_pair, "netns", ns], check=True, capture_output=True)
        wait_for(lambda: noted(ctx, "left this network namespace"), timeout=5, what="the move being noted")
        netns.announce_change(veth_pair, "moved back", tmp_path)
        subprocess.run(["ip", "-n", ns, "link", "set", veth_pair, "netns", "1"], check=True, capture_output=True)
        wait_for(lambda: noted(ctx, "came back"), timeout=5, what="the return being noted")

    try:
        module = DevicesModule(Host("/"), {"virtual_devices": "fail"})
        ctx = run_while(module, move_and_back, [], seconds=3)
    finally:
        subprocess.run(["ip", "netns", "delete", ns], capture_output=True)
    assert [f for f in ctx.findings if f.component == f"nic:{veth_pair}"] == []
    said = [n["message"] for n in ctx.notes if n["data"].get("name") == veth_pair]
    assert any("left this network namespace" in m for m in said), ctx.notes
    assert any("came back" in m for m in said), ctx.notes
