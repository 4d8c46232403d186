"""Destructive write-verify and wipe (`burnin run --destructive DEVICE --yes-destroy-data SERIAL`), on loop devices.

Loop devices have no serial in sysfs, so in production they are refused ("no known serial"). These tests stand in
for `burnin.modules.disk.lookup_disk` (the one place the CLI and the module read a device's identity) to give
loop devices a serial; the runner forks its module processes, so the stand-in carries into the disk module.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
import threading
import time

import pytest
from click.testing import CliRunner

from burnin.cli import main
from burnin.modules import disk as disk_module
from burnin.modules.disk import destructive as destructive_module

SIZE = 8 * 1024 * 1024

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root for loop devices"),
    pytest.mark.skipif(shutil.which("losetup") is None, reason="losetup (util-linux) is not installed"),
]


def _fill(path, seed: int) -> None:
    path.write_bytes(hashlib.shake_256(str(seed).encode()).digest(SIZE))


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def loop(tmp_path, request):
    """A function making a loop device on a new 8 MiB file of non-zero bytes; detached (and unmounted) after."""
    made = []

    def make(label: str):
        backing = tmp_path / f"{label}.img"
        _fill(backing, hash(label))
        result = subprocess.run(["losetup", "--find", "--show", str(backing)], capture_output=True, text=True)
        if result.returncode != 0:
            pytest.skip(f"cannot attach a loop device here: {result.stderr.strip()}")
        device = result.stdout.strip()
        made.append(device)
        return device, backing

    def detach():
        for device in made:
            subprocess.run(["umount", device], capture_output=True)
            subprocess.run(["losetup", "-d", device], capture_output=True)

    request.addfinalizer(detach)
    return make


@pytest.fixture
def loop_serials(monkeypatch):
    """Loop devices read as disks with the serial LOOPSERIAL-<name>."""
    real = destructive_module.lookup_disk

    def lookup(host, device):
        found = real(host, device)
        if found is not None and found.name.startswith("loop"):
            return dataclasses.replace(found, serial=f"LOOPSERIAL-{found.name}")
        return found

    monkeypatch.setattr(destructive_module, "lookup_disk", lookup)


def _profile(tmp_path, disk_writes: bool = True, extra: str = ""):
    path = tmp_path / "wipe.toml"
    path.write_text(f'extends = "soak"\nname = "wipe"\nduration = "2m"\nrequired = []\n'
                    f"disk_writes = {'true' if disk_writes else 'false'}\n"
                    '[settings.disk]\nscan = "none"\nself_test = "none"\nsample_interval_s = 0.2\n' + extra)
    return path


def _run(tmp_path, *args):
    journal = tmp_path / "j.jsonl"
    result = CliRunner().invoke(main, ["run", "--only", "disk", "--plain", "--journal", str(journal), *args])
    return result, journal


def _refused(result, journal, *words):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("burnin: error: ")
    for word in words:
        assert word in lines[0]
    assert not journal.exists()  # refused before the run began


def serial(device: str) -> str:
    return f"LOOPSERIAL-{os.path.basename(device)}"


def test_a_loop_device_without_a_serial_is_refused_as_unnameable(tmp_path, loop):
    device, backing = loop("a")
    before = _digest(backing)
    result, journal = _run(tmp_path, "--profile", str(_profile(tmp_path)), "--destructive", device,
                           "--yes-destroy-data", "anything")
    _refused(result, journal, device, "no known serial")
    assert _digest(backing) == before


def test_a_mounted_device_is_refused_and_unchanged(tmp_path, loop, loop_serials):
    if shutil.which("mkfs.ext4") is None:
        pytest.skip("mkfs.ext4 (e2fsprogs) is not installed")
    device, backing = loop("mounted")
    assert subprocess.run(["mkfs.ext4", "-q", device], capture_output=True).returncode == 0
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    mounted = subprocess.run(["mount", device, str(mnt)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount here: {mounted.stderr.strip()}")
    try:
        before = hashlib.sha256(open(device, "rb").read()).hexdigest()
        result, journal = _run(tmp_path, "--profile", str(_profile(tmp_path)), "--destructive", device,
                               "--yes-destroy-data", serial(device))
        _refused(result, journal, device, "is mounted", str(mnt))
        assert hashlib.sha256(open(device, "rb").read()).hexdigest() == before
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_the_system_disk_is_refused(tmp_path):
    from burnin.host import Host
    from burnin.inventory.disks import collect_disks

    system = [d for d in collect_disks(Host("/"))[0] if d.system]
    if not system:
        pytest.skip("no disk here holds the running system (a container without a root disk?)")
    result, journal = _run(tmp_path, "--profile", str(_profile(tmp_path)), "--destructive", system[0].dev_path,
                           "--yes-destroy-data", system[0].serial or "X")
    _refused(result, journal, system[0].dev_path, "holds the running system")


def test_a_serial_that_does_not_match_is_refused(tmp_path, loop, loop_serials):
    device, backing = loop("mismatch")
    before = _digest(backing)
    result, journal = _run(tmp_path, "--profile", str(_profile(tmp_path)), "--destructive", device,
                           "--yes-destroy-data", "WRONG-SERIAL")
    _refused(result, journal, "'WRONG-SERIAL' does not match", serial(device))
    assert _digest(backing) == before


def test_destructive_without_consent_is_refused(tmp_path, loop, loop_serials):
    device, backing = loop("noconsent")
    before = _digest(backing)
    result, journal = _run(tmp_path, "--profile", str(_profile(tmp_path)), "--destructive", device)
    _refused(result, journal, "--yes-destroy-data")
    assert _digest(backing) == before


def test_a_profile_that_never_writes_refuses_even_with_consent(tmp_path, loop, loop_serials):
    device, backing = loop("seller")
    before = _digest(backing)
    for profile in ("seller", str(_profile(tmp_path, disk_writes=False))):
        result, journal = _run(tmp_path, "--profile", profile, "--destructive", device,
                               "--yes-destroy-data", serial(device))
        _refused(result, journal, "disk_writes = false")
    assert _digest(backing) == before


def test_a_profile_may_not_name_destructive_devices_itself(tmp_path, loop, loop_serials):
    device, backing = loop("sneaky")
    before = _digest(backing)
    profile = _profile(tmp_path, extra=f'destructive_devices = ["{device}={serial(device)}"]\n')
    result, journal = _run(tmp_path, "--profile", str(profile))
    _refused(result, journal, "destructive_devices")
    assert _digest(backing) == before


def test_consented_device_is_write_verified_and_wiped_and_its_neighbour_untouched(tmp_path, loop, loop_serials):
    target, target_file = loop("target")
    neighbour, neighbour_file = loop("neighbour")
    neighbour_before = _digest(neighbour_file)
    result, journal = _run(tmp_path, "--profile", str(_profile(tmp_path)), "--destructive", target,
                           "--yes-destroy-data", serial(target), "--json")
    assert result.exit_code == 0, result.output
    codes = {(f["component"], f["code"]) for f in json.loads(result.stdout)["findings"]}
    component = f"disk:{target} S/N {serial(target)}"
    assert {(component, "write-verify-passed"), (component, "disk-wiped")} <= codes
    assert not {c for _, c in codes} & {"write-error", "write-verify-mismatch", "wipe-incomplete"}
    assert target_file.read_bytes() == bytes(SIZE)  # every byte is zero now
    assert _digest(neighbour_file) == neighbour_before
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    certificates = [r["data"] for r in records if r["type"] == "note" and r["message"] == "wipe-certificate"]
    assert len(certificates) == 1
    cert = certificates[0]
    assert (cert["serial"], cert["device"], cert["bytes"], cert["verified"]) == (serial(target), target, SIZE, "full")
    assert cert["method"].startswith("overwrite with zeros") and cert["started"] <= cert["finished"]
    # issue 17: the read-back's hash (offset, bytes of every chunk read) and the HPA state are on the certificate
    import hashlib
    chunk = 1024 * 1024
    expect = hashlib.sha256()
    for offset in range(0, SIZE, chunk):
        expect.update(offset.to_bytes(8, "little") + bytes(min(chunk, SIZE - offset)))
    assert (cert["sample_sha256"], cert["readback_bytes"]) == (expect.hexdigest(), SIZE)
    assert cert["result"] == "wiped" and cert["hpa"]  # a loop device: hdparm -N has no answer, said so


def test_a_stopped_wipe_ends_within_a_second_and_is_reported_incomplete(tmp_path, loop, loop_serials):
    from types import SimpleNamespace

    from burnin.host import Host
    from burnin.testing import RecordingContext

    device, backing = loop("big")
    os.truncate(backing, 512 * 1024 * 1024)  # sparse: more than a fraction of a second of work
    subprocess.run(["losetup", "-c", device], check=True)
    settings = {"destructive_devices": [f"{device}={serial(device)}"], "scan": "none", "self_test": "none",
                "sample_interval_s": 0.1, "write_block_kib": 256}
    module = disk_module.DiskModule(Host("/"), settings)
    ctx = RecordingContext("disk", module.host, phase="run", seconds=0.5,
                           inventory=SimpleNamespace(disks=[]))
    module.run(ctx)
    late = time.monotonic() - ctx.deadline
    assert late < 1.5
    incomplete = [f for f in ctx.findings if f.code == "wipe-incomplete"]
    assert len(incomplete) == 1 and incomplete[0].severity.value == "warn"
    assert device in incomplete[0].message and "did not finish" in incomplete[0].message
    assert "disk-wiped" not in ctx.codes() and not [n for n in ctx.notes if n["message"] == "wipe-certificate"]


def test_only_a_consented_device_can_be_opened_for_writing(tmp_path, loop):
    from burnin.tools import writeverify

    device, backing = loop("unconsented")
    before = _digest(backing)
    with pytest.raises(AssertionError, match="no consent"):
        writeverify.open_for_writing(device)
    assert _digest(backing) == before


def test_first_difference_names_the_first_differing_byte():
    from burnin.tools.writeverify import first_difference, pattern

    data = pattern(7, 4096, 1 << 20)
    assert data == pattern(7, 4096, 1 << 20) and data != pattern(7, 8192, 1 << 20)
    for at in (0, 63, 64, 777_777, (1 << 20) - 1):
        changed = bytearray(data)
        changed[at] ^= 0xFF
        assert first_difference(data, bytes(changed)) == at
    assert first_difference(data, data[:1000]) == 1000


def test_a_byte_that_reads_back_wrong_fails_naming_its_offset_and_lba(tmp_path, loop, loop_serials, monkeypatch):
    from types import SimpleNamespace

    from burnin.host import Host
    from burnin.testing import RecordingContext
    from burnin.tools import writeverify

    device, backing = loop("flaky")
    real_pattern = writeverify.pattern
    calls: dict[int, int] = {}

    def pattern(seed, offset, length):  # the second time (verify) the chunk at 2 MiB is expected one byte different
        data = real_pattern(seed, offset, length)
        calls[offset] = calls.get(offset, 0) + 1
        if offset == 2 * 1024 * 1024 and calls[offset] == 2:
            return data[:4100] + bytes([data[4100] ^ 1]) + data[4101:]
        return data

    monkeypatch.setattr(writeverify, "pattern", pattern)
    settings = {"destructive_devices": [f"{device}={serial(device)}"], "scan": "none", "self_test": "none",
                "sample_interval_s": 0.1}
    module = disk_module.DiskModule(Host("/"), settings)
    ctx = RecordingContext("disk", module.host, phase="run", seconds=30,
                           inventory=SimpleNamespace(disks=[]))
    module.run(ctx)
    failed = [f for f in ctx.findings if f.code == "write-verify-mismatch"]
    offset = 2 * 1024 * 1024 + 4100
    assert len(failed) == 1 and failed[0].severity.value == "fail"
    assert failed[0].evidence["offset_bytes"] == offset and failed[0].evidence["lba"] == offset // 512
    assert f"byte {offset} (LBA {offset // 512}" in failed[0].message
    assert "write-verify-passed" not in ctx.codes() and "disk-wiped" in ctx.codes()  # the wipe itself went fine


# -- the drive's own erase (issue 17, item 4): the drive is played by the test, the rest is real ------------------
def _drive_erase_run(monkeypatch, device, backing, erase_effect, crypto=False, hpa=None):
    """Run the disk module on a consented loop device whose 'drive' answers the erase with `erase_effect(backing)`
    and reports success; the pattern, read-back, hash and certificate are the real ones."""
    from types import SimpleNamespace

    from burnin.host import Host
    from burnin.modules.disk import erase
    from burnin.testing import RecordingContext

    plan = erase.ErasePlan("nvme-format", "crypto" if crypto else "user-data", "NVMe Format NVM (test drive)",
                           device, device, crypto, "Format NVM")

    class TestDrive:
        def __init__(self, host, chosen, poll_s):
            assert chosen is plan

        def __call__(self, stop):
            erase_effect(backing)
            return erase.EraseOutcome(True, True, "Format NVM (SES 1) completed without error",
                                      commands=[{"argv": ["nvme", "format", device]}])

    monkeypatch.setattr(erase, "choose", lambda ctx, host, disk: (plan, ""))
    monkeypatch.setattr(erase, "EraseJob", TestDrive)
    if hpa is not None:
        monkeypatch.setattr(destructive_module, "hidden_area_of", lambda ctx, host, disk: (hpa, ""))
    settings = {"destructive_devices": [f"{device}={serial(device)}"], "scan": "none", "self_test": "none",
                "sample_interval_s": 0.1, "write_verify": "none", "erase_verify_pct": 50.0, "sample_regions": 4}
    module = disk_module.DiskModule(Host("/"), settings)
    ctx = RecordingContext("disk", module.host, phase="run", seconds=60, inventory=SimpleNamespace(disks=[]))
    module.run(ctx)
    certs = [n for n in ctx.notes if n["message"] == "wipe-certificate"]
    assert len(certs) == 1
    return ctx, certs[0]["data"] if "data" in certs[0] else certs[0]


def test_a_drive_erase_that_zeroes_is_certified_with_the_drives_status_and_the_sample_hash(tmp_path, loop,
                                                                                          loop_serials, monkeypatch):
    device, backing = loop("zeroing-drive")
    ctx, cert = _drive_erase_run(monkeypatch, device, backing, lambda f: f.write_bytes(bytes(SIZE)))
    assert cert["result"] == "wiped" and cert["method"] == "NVMe Format NVM (test drive)"
    assert cert["drive_status"] == "Format NVM (SES 1) completed without error"
    assert cert["readback_bytes"] == SIZE // 2 and len(cert["sample_sha256"]) == 64  # 50 % in 4 random regions
    assert "none of it still holds the random pattern" in cert["verified"] and "all of it reads as zeros" in cert[
        "verified"]
    assert "disk-wiped" in ctx.codes() and "wipe-not-erased" not in ctx.codes()
    assert cert["commands"] == [{"argv": ["nvme", "format", device]}]
    from burnin.report.wipe_certificate import certificate_html
    page = certificate_html([cert], "host")
    assert "<h2>Wiped</h2>" in page and "<th>Drive-reported status</th><td>Format NVM (SES 1) completed" in page
    assert cert["sample_sha256"] in page and "not applicable" not in page  # a loop device: hdparm -N not answered


def test_a_drive_that_reports_success_but_kept_the_data_gets_a_fail_and_no_wiped_certificate(tmp_path, loop,
                                                                                            loop_serials,
                                                                                            monkeypatch):
    device, backing = loop("lying-drive")
    ctx, cert = _drive_erase_run(monkeypatch, device, backing, lambda f: None)
    assert cert["result"] == "NOT WIPED: data survived the drive's erase"
    failed = [f for f in ctx.findings if f.code == "wipe-not-erased"]
    assert failed and failed[0].severity.value == "fail" and "disk-wiped" not in ctx.codes()
    assert failed[0].evidence["offset_bytes"] % (1024 * 1024) == 0  # the first byte of a sampled region


def test_a_crypto_erase_reads_back_as_noise_and_the_certificate_says_so(tmp_path, loop, loop_serials, monkeypatch):
    device, backing = loop("crypto-drive")
    ctx, cert = _drive_erase_run(monkeypatch, device, backing,
                                 lambda f: f.write_bytes(hashlib.shake_256(b"new key").digest(SIZE)), crypto=True)
    assert cert["result"] == "wiped" and "reads back as noise, not zeros" in cert["verified"]
    import re
    zeros = re.search(r"; ([\d.]+) % of it reads as zeros", cert["verified"])
    assert zeros and float(zeros[1]) < 1.0  # random bytes: about 1 in 256 is zero


def test_a_drive_erase_with_a_hidden_area_gets_no_wiped_certificate(tmp_path, loop, loop_serials, monkeypatch):
    from pathlib import Path

    from burnin.tools.hdparm import parse_hpa

    hpa = parse_hpa((Path(__file__).parent / "data" / "smart" / "synthesized" / "hdparm-N-hpa-enabled.txt")
                    .read_text())
    device, backing = loop("hpa-drive")
    ctx, cert = _drive_erase_run(monkeypatch, device, backing, lambda f: f.write_bytes(bytes(SIZE)), hpa=hpa)
    assert cert["result"] == "NOT WIPED: hidden area" and "2113 sectors hidden" in cert["hpa"]
    assert "wipe-hidden-area" in ctx.codes() and "disk-wiped" not in ctx.codes()


def test_a_drive_erase_still_running_when_the_run_ends_is_incomplete_not_wiped(tmp_path, loop, loop_serials,
                                                                              monkeypatch):
    """A Format NVM or security erase is one long command: the run may end while it runs."""
    from types import SimpleNamespace

    from burnin.host import Host
    from burnin.modules.disk import erase
    from burnin.testing import RecordingContext

    device, backing = loop("slow-drive")
    plan = erase.ErasePlan("nvme-format", "user-data", "NVMe Format NVM (test drive)", device, device, False, "")
    release = threading.Event()

    class SlowDrive:
        def __init__(self, host, chosen, poll_s):
            pass

        def __call__(self, stop):
            release.wait(30)  # the drive's command outlives the run
            return erase.EraseOutcome(True, True, "Format NVM completed")

    monkeypatch.setattr(erase, "choose", lambda ctx, host, disk: (plan, ""))
    monkeypatch.setattr(erase, "EraseJob", SlowDrive)
    settings = {"destructive_devices": [f"{device}={serial(device)}"], "scan": "none", "self_test": "none",
                "sample_interval_s": 0.1, "write_verify": "none", "sample_regions": 2}
    module = disk_module.DiskModule(Host("/"), settings)
    ctx = RecordingContext("disk", module.host, phase="run", seconds=1.0, inventory=SimpleNamespace(disks=[]))
    try:
        module.run(ctx)
    finally:
        release.set()
    incomplete = [f for f in ctx.findings if f.code == "wipe-incomplete"]
    assert len(incomplete) == 1 and "the drive's own erase was still running" in incomplete[0].message
    assert "disk-wiped" not in ctx.codes() and not [n for n in ctx.notes if n["message"] == "wipe-certificate"]
