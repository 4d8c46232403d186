"""The USB live image, built and booted for real (marker `live`: `.ci/run`'s last step, about 15 minutes).

scripts/build-live-image builds the image (the Debian base and its .debs are cached in /var/tmp/burnin-live
between runs); QEMU boots a copy of it as the only disk, in software emulation, unattended: the stick's own
BURNIN partition carries boot-args.cfg with `burnin.profile=ci burnin.poweroff=1` and `--duration 20s`, exactly
as a user would set it. After the guest powers off, the journal, the HTML report and the rest are read off the
BURNIN partition with mtools, as a laptop would. Three boots: BIOS (virtio disk), UEFI (as a USB stick, with an
unfinished journal of an "earlier boot" on it), UEFI with Secure Boot enforced (OVMF with Microsoft's keys);
and a fourth, netboot: QEMU's own iPXE runs netboot/boot.ipxe, which loads the kernel and initrd over HTTP, and
the initrd fetches the live system (burnin-live.iso), with no stick.

Time (2-core machine, software emulation): the build 0.5-1.5 min with its caches warm, each boot 2.5-5 min.
Each guest gets BOOT_TIMEOUT_S, and all of them together BOOTS_BUDGET_S (time spent waiting for another test
rig's guest does not count): a hanging image fails the suite in under half an hour, not in an hour.

Needs root, the build tools (see the script) and qemu-system-x86, ovmf, mtools. Timings go to
/var/tmp/burnin-live/test-timings.txt.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from screens import artefact_dir  # noqa: E402

pytestmark = pytest.mark.live

ROOT = Path(__file__).resolve().parents[2]
WORK = Path(os.environ.get("BURNIN_LIVE_WORK", "/var/tmp/burnin-live"))
OUT = WORK / "test-out"
RUNS = WORK / "test-runs"
TIMINGS = WORK / "test-timings.txt"
OVMF = Path("/usr/share/OVMF")
SERIAL = "BURNIN-CI-0001"
BOOT_TIMEOUT_S = int(os.environ.get("BURNIN_LIVE_BOOT_TIMEOUT_S", "600"))  # the slowest boot took 306 s
BOOTS_BUDGET_S = int(os.environ.get("BURNIN_LIVE_BOOTS_BUDGET_S", "1500"))  # four boots took 10-15 min
BUILD_TIMEOUT_S = 1800  # a cold build (every .deb downloaded, the base built) took 8-13 min
QEMU_WAIT_S = int(os.environ.get("BURNIN_LIVE_QEMU_WAIT_S", "1200"))
MTOOLS_ENV = dict(os.environ, MTOOLS_SKIP_CHECK="1")


def note_timing(line: str) -> None:
    with open(TIMINGS, "a") as stream:
        stream.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")
    print(line)


@pytest.fixture(scope="module")
def image() -> Path:
    for tool in ("mmdebstrap", "xorriso", "grub-mkrescue", "mcopy", "qemu-system-x86_64"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: .ci/run installs the live image's tools")
    if os.geteuid() != 0:
        pytest.fail("building the image needs root")
    started = time.monotonic()
    result = subprocess.run([str(ROOT / "scripts/build-live-image"), "--out", str(OUT)],
                            env=dict(os.environ, PYTHON=sys.executable), capture_output=True, text=True,
                            timeout=BUILD_TIMEOUT_S)
    (WORK / "test-build.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    img = OUT / "burnin-live.img"
    note_timing(f"build: {time.monotonic() - started:.0f} s; burnin-live.img {img.stat().st_size / 1e6:.0f} MB, "
                f"burnin-live.iso {(OUT / 'burnin-live.iso').stat().st_size / 1e6:.0f} MB")
    return img


def burnin_offset(img: Path) -> int:
    """Byte offset of the partition labelled BURNIN (GPT numbers it 4 or 5, the hybrid MBR 3: go by label)."""
    starts = subprocess.run(["partx", "-g", "-o", "START", str(img)], capture_output=True, text=True,
                            check=True).stdout.split()
    for start in starts:
        label = subprocess.run(["blkid", "-p", "-O", str(int(start) * 512), "-o", "value", "-s", "LABEL", str(img)],
                               capture_output=True, text=True).stdout.strip()
        if label == "BURNIN":
            return int(start) * 512
    raise AssertionError(f"no BURNIN partition in {img}")


class Fat:
    """The BURNIN partition inside an image file, through mtools (no mount, no root needed)."""

    def __init__(self, img: Path):
        self.spec = f"{img}@@{burnin_offset(img)}"

    def put(self, data: bytes, target: str) -> None:
        for parent in _parents(target):
            subprocess.run(["mmd", "-i", self.spec, f"::{parent}"], env=MTOOLS_ENV, capture_output=True)
        subprocess.run(["mcopy", "-o", "-i", self.spec, "-", f"::{target}"], input=data, env=MTOOLS_ENV, check=True)

    def get(self, source: str) -> bytes:
        return subprocess.run(["mcopy", "-n", "-i", self.spec, f"::{source}", "-"], env=MTOOLS_ENV,
                              capture_output=True, check=True).stdout

    def names(self, folder: str) -> list[str]:
        out = subprocess.run(["mdir", "-b", "-i", self.spec, f"::{folder}"], env=MTOOLS_ENV, capture_output=True,
                             text=True).stdout
        return sorted(line.rstrip("/").rsplit("/", 1)[-1] for line in out.splitlines() if line.strip())


def _parents(target: str) -> list[str]:
    parts = target.strip("/").split("/")[:-1]
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def wait_for_other_guests() -> None:
    """One guest at a time on this 2-core machine: wait while another QEMU (another test rig) runs."""
    deadline = time.monotonic() + QEMU_WAIT_S
    while time.monotonic() < deadline:
        if subprocess.run(["pgrep", "-f", "qemu-system"], capture_output=True).returncode != 0:
            return
        time.sleep(5)
    print(f"another qemu-system still runs after {QEMU_WAIT_S} s; booting anyway")


@dataclass
class Boot:
    name: str
    stick: Path | None
    serial_log: Path
    wall_s: float
    marks: dict[str, float] = field(default_factory=dict)
    exit_code: int | None = None
    screen: Path | None = None  # the screen while the verdict is held (QMP screendump, PNG)

    @property
    def log(self) -> str:
        return self.serial_log.read_text(errors="replace")


def screendump(run_dir: Path, name: str) -> Path | None:
    """The guest's screen as a PNG through QEMU's QMP socket, kept as a test artefact; None when QEMU cannot."""
    import socket

    target = artefact_dir() / f"live-{name}-final-screen.png"
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(str(run_dir / "qmp.sock"))
            stream = sock.makefile("rw")
            stream.readline()  # the greeting
            for command in ({"execute": "qmp_capabilities"},
                            {"execute": "screendump", "arguments": {"filename": str(target), "format": "png"}}):
                stream.write(json.dumps(command) + "\n")
                stream.flush()
                reply = json.loads(stream.readline())
                while "event" in reply:
                    reply = json.loads(stream.readline())
                if "error" in reply:
                    print(f"screendump: {reply['error']}")
                    return None
    except (OSError, ValueError) as exc:
        print(f"screendump failed: {exc}")
        return None
    return target if target.exists() else None


MARKS = {  # what the serial log says, and when it first said it
    "grub": "burnin: test this machine",
    "program": "burnin-live: started at uptime",
    "run": "burnin-live: starting",
    "verdict": "burnin-live: verdict",
}


def qemu_base(run_dir: Path) -> list[str]:
    return ["qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-m", "3072", "-smp", "2",
            "-display", "none", "-monitor", "none", "-qmp", f"unix:{run_dir / 'qmp.sock'},server=on,wait=off",
            "-no-reboot", "-serial", f"file:{run_dir / 'serial.log'}",
            "-smbios", f"type=1,manufacturer=burnin,product=live-test,serial={SERIAL}"]


def boot(name: str, img: Path, firmware: str, bus: str = "virtio", prepare=None) -> Boot:
    """Boot a fresh copy of the image until the guest powers off; times the marks from the serial log."""
    run_dir = RUNS / name
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    stick = run_dir / "stick.img"
    subprocess.run(["cp", "--sparse=always", str(img), str(stick)], check=True)
    fat = Fat(stick)
    fat.put(b'set timeout=1\nset extra_args="burnin.profile=ci burnin.poweroff=1 burnin.hold=8"\n'
            b'set burnin_args="--duration 20s"\n', "/boot-args.cfg")
    if prepare is not None:
        prepare(fat)
    args = qemu_base(run_dir)
    if bus == "usb":
        args += ["-device", "qemu-xhci,id=xhci", "-drive", f"if=none,id=stick,format=raw,file={stick}",
                 "-device", "usb-storage,bus=xhci.0,drive=stick,removable=on,bootindex=0"]
    else:
        args += ["-drive", f"if=none,id=stick,format=raw,file={stick}",
                 "-device", "virtio-blk-pci,drive=stick,bootindex=0"]
    if firmware == "uefi":
        shutil.copy(OVMF / "OVMF_VARS_4M.fd", run_dir / "vars.fd")
        args += ["-drive", f"if=pflash,format=raw,readonly=on,file={OVMF / 'OVMF_CODE_4M.fd'}",
                 "-drive", f"if=pflash,format=raw,file={run_dir / 'vars.fd'}"]
    elif firmware == "uefi-secure-boot":
        shutil.copy(OVMF / "OVMF_VARS_4M.ms.fd", run_dir / "vars.fd")  # Microsoft's keys enrolled, SB on
        args[args.index("q35")] = "q35,smm=on"
        args += ["-global", "driver=cfi.pflash01,property=secure,value=on",
                 "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF / 'OVMF_CODE_4M.secboot.fd'}",
                 "-drive", f"if=pflash,format=raw,file={run_dir / 'vars.fd'}"]
    return run_qemu(name, args, run_dir, stick)


_guest_seconds = [0.0]  # what the boots of this session have used of BOOTS_BUDGET_S


def run_qemu(name: str, args: list[str], run_dir: Path, stick: Path | None) -> Boot:
    """Run the guest until it powers off, timing the marks of its serial log."""
    log = run_dir / "serial.log"
    (run_dir / "qemu.cmdline").write_text(" ".join(args) + "\n")
    timeout_s = min(BOOT_TIMEOUT_S, BOOTS_BUDGET_S - _guest_seconds[0])
    if timeout_s < 60:
        pytest.fail(f"{name}: the boots before it used the live suite's {BOOTS_BUDGET_S} s "
                    f"(BURNIN_LIVE_BOOTS_BUDGET_S); see {TIMINGS}")
    wait_for_other_guests()
    started = time.monotonic()
    result = Boot(name, stick, log, 0.0)
    with open(run_dir / "qemu.stderr", "w") as stderr:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=stderr)
        try:
            while proc.poll() is None:
                elapsed = time.monotonic() - started
                if elapsed > timeout_s:
                    break
                text = log.read_text(errors="replace") if log.exists() else ""
                for mark, needle in MARKS.items():
                    if mark not in result.marks and needle in text:
                        result.marks[mark] = round(elapsed, 1)
                if result.screen is None and "verdict" in result.marks and "Powering off in" in text:
                    time.sleep(1)  # the screen is drawn before the serial console's countdown
                    result.screen = screendump(run_dir, name) or Path("/nonexistent")
                time.sleep(0.5)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    result.wall_s = round(time.monotonic() - started, 1)
    _guest_seconds[0] += result.wall_s
    result.exit_code = proc.returncode
    text = result.log
    for mark, needle in MARKS.items():
        if mark not in result.marks and needle in text:
            result.marks[mark] = result.wall_s
    verdict = re.search(r"burnin-live: verdict (\w+)", text)
    note_timing(f"boot {name}: " + " ".join(f"{k}={v}s" for k, v in result.marks.items())
                + f" poweroff={result.wall_s}s verdict={verdict.group(1) if verdict else 'none'}")
    assert result.wall_s < timeout_s, f"{name}: the guest did not power off within {timeout_s} s:\n" + text[-3000:]
    return result


def run_folder(fat: Fat) -> str:
    runs = [n for n in fat.names("/runs") if n.startswith(SERIAL + "_")]
    assert len(runs) == 1, f"expected one run folder named by the serial, found {fat.names('/runs')}"
    assert re.fullmatch(SERIAL + r"_\d{8}T\d{6}Z", runs[0])
    return runs[0]


def check_results(result: Boot) -> tuple[Fat, str, list[dict]]:
    """The run's results on the stick: a complete journal with inventory and a verdict, the reports."""
    fat = Fat(result.stick)
    folder = run_folder(fat)
    records = [json.loads(line) for line in fat.get(f"/runs/{folder}/burnin.jsonl").decode().splitlines()]
    types = [r["type"] for r in records]
    assert types[0] == "run_start" and records[0]["profile"]["name"] == "ci"
    assert records[0]["host"]["system_serial"] == SERIAL
    assert "inventory" in types
    assert types[-1] == "run_end"
    run_end = records[-1]
    fails = [r for r in records if r["type"] == "finding" and r["severity"] == "fail"]
    assert not fails, f"{result.name}: FAIL findings on the emulated machine: {fails}"
    assert run_end["verdict"] in ("PASS", "WARN"), f"{result.name}: {run_end}\n" + result.log[-3000:]
    html = fat.get(f"/runs/{folder}/report.html").decode()
    assert "<html" in html.lower() and run_end["verdict"] in html
    verdict_txt = fat.get(f"/runs/{folder}/verdict.txt").decode()
    assert run_end["verdict"] in verdict_txt
    capture = result.stick.parent / "capture.tar.gz"
    capture.write_bytes(fat.get(f"/runs/{folder}/capture.tar.gz"))
    with tarfile.open(capture) as tar:  # the SMBIOS tables, with the serial QEMU was given
        dmi = next(m for m in tar.getmembers() if m.name.endswith("sys/firmware/dmi/tables/DMI"))
        assert SERIAL.encode() in tar.extractfile(dmi).read()
    assert fat.get(f"/runs/{folder}/dmesg.txt")
    assert f"burnin-live: verdict {run_end['verdict']}" in result.log
    # The verdict screen, on the serial console as on the screen: the box, the verdict in words, the top finding.
    log = result.log
    marker = log.index(f"burnin-live: verdict {run_end['verdict']}")
    box = log[max(0, log.rindex("+=====", 0, marker) - 2600):marker]
    assert "| PASS" in box or "| FAIL" in box, box
    shown = [r for r in records if r["type"] == "finding" and r["severity"] in ("fail", "warn")]
    if shown:
        assert f"{shown[0]['severity'].upper()} {shown[0]['component']}" in box
    assert "Powering off in" in log, "the verdict is held before the unattended power-off"
    # Paths relative to the run folder, and the stick's index of runs.
    assert "Journal: burnin.jsonl" in verdict_txt
    index = fat.get("/index.html").decode()
    assert f"runs/{folder}/report.html" in index and SERIAL in index and run_end["verdict"] in index
    # The stick is the boot medium: never among the disks judged, scanned or charted.
    inventory = next(r for r in records if r["type"] == "inventory")["inventory"]
    media = [d["name"] for d in inventory.get("boot_media", [])]
    assert media, f"{result.name}: the stick was not recognised: {inventory['disks']}"
    assert not [d for d in inventory["disks"] if d["name"] in media]
    for record in records:
        if record["type"] == "finding" and record["module"] == "disk":
            assert not any(f"/dev/{m}" in record["component"] for m in media), record
        if record["type"] == "sample":
            assert not any(name.endswith(f":{m}") for name in record["metrics"] for m in media), record
    return fat, folder, records


@pytest.fixture(scope="module")
def bios_boot(image) -> Boot:
    return boot("bios-virtio", image, "bios")


def test_bios_boot_runs_the_ci_profile_unattended_and_leaves_journal_and_report_on_the_stick(bios_boot):
    fat, folder, records = check_results(bios_boot)
    assert bios_boot.screen is not None and bios_boot.screen.exists(), "a screendump of the final screen"
    print(f"the stick's final screen: {bios_boot.screen}")
    # A quiet boot: the copy into RAM (the default menu entry, toram) says how far it is, then burnin starts.
    assert "copying the system into RAM... done" in bios_boot.log
    assert "firmware BIOS" in bios_boot.log
    # The live medium was found by its label: live-boot mounted nothing else.
    assert "Secure Boot on" not in bios_boot.log
    assert "earlier run" not in bios_boot.log.lower()
    assert set(fat.names(f"/runs/{folder}")) >= {"burnin.jsonl", "report.html", "verdict.txt", "capture.tar.gz",
                                                 "dmesg.txt", "live.log"}


def test_uefi_usb_boot_reports_the_unfinished_run_of_an_earlier_boot_as_fail(image, bios_boot):
    # The earlier boot's journal, cut off after its inventory as by a hang: no run_end.
    journal = Fat(bios_boot.stick).get(f"/runs/{run_folder(Fat(bios_boot.stick))}/burnin.jsonl").decode()
    lines = journal.splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if json.loads(line)["type"] == "module_start") + 1
    earlier = "".join(lines[:cut])
    stopped = time.strftime("%H:%M:%S UTC", time.gmtime(json.loads(lines[cut - 1])["t"]))
    old = "OLDBOX-7_20200102T030405Z"

    result = boot("uefi-usb", image, "uefi", bus="usb",
                  prepare=lambda fat: fat.put(earlier.encode(), f"/runs/{old}/burnin.jsonl"))
    fat, folder, _ = check_results(result)
    assert "firmware UEFI" in result.log
    assert f"the last run stopped at {stopped} without finishing: the machine hung, rebooted or lost power" \
        in result.log.replace("The last run", "the last run")
    note = fat.get(f"/runs/{old}/UNFINISHED.txt").decode()
    assert note.startswith("FAIL: this run stopped at") and f"runs/{folder}" in note
    assert f"runs/{old}" in fat.get(f"/runs/{folder}/previous-run-unfinished.txt").decode()
    assert "<html" in fat.get(f"/runs/{old}/report.html").decode().lower()


def test_secure_boot_enforced_boots_through_signed_shim_and_grub_and_checks_claims_from_the_stick(image):
    # The buyer's claims file, saved on the stick before the trip: every run checks against it on its own.
    claims = b"[cpu]\nsockets = 1\nthreads = 2\n"
    result = boot("uefi-secure-boot", image, "uefi-secure-boot", prepare=lambda fat: fat.put(claims, "/claims.toml"))
    assert "Secure Boot on" in result.log, result.log[-3000:]
    _, _, records = check_results(result)
    argv = records[0]["argv"]
    assert argv[argv.index("--expect") + 1] == "/run/burnin/stick/claims.toml"


def test_netboot_through_ipxe_fetches_the_system_over_http_and_keeps_results_in_ram_without_a_stick(image):
    # What a PXE fleet does: the NIC's iPXE (QEMU's own ROM, BIOS) gets its script's URL by DHCP and runs
    # netboot/boot.ipxe as shipped, except for the HTTP port (QEMU's user network takes the guest's
    # ${next-server}, 10.0.2.2, to this host's loopback) and an inventory instead of the seller check. iPXE
    # loads the kernel and initrd; live-boot's fetch= in the initrd brings up the virtio NIC by DHCP and
    # downloads burnin-live.iso into RAM. No stick: the results stay in RAM, with a warning.
    netboot = image.parent / "netboot"
    run_dir = RUNS / "netboot"
    shutil.rmtree(run_dir, ignore_errors=True)
    served = run_dir / "http" / "burnin"  # boot.ipxe's base: http://${next-server}/burnin
    served.mkdir(parents=True)
    for name in ("vmlinuz", "initrd.img", "burnin-live.iso"):
        (served / name).symlink_to(netboot / name)
    fetched: list[tuple[str, str]] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            headers = getattr(self, "headers", None)
            fetched.append((getattr(self, "path", "?"), headers.get("User-Agent", "") if headers else ""))

    handler = functools.partial(Handler, directory=str(run_dir / "http"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    script = (netboot / "boot.ipxe").read_text()
    assert "http://${next-server}/burnin" in script and "fetch=${base}/burnin-live.iso" in script
    script = script.replace("http://${next-server}/", f"http://${{next-server}}:{server.server_port}/")
    script, profiles = re.subn(r"burnin\.profile=\S+", "burnin.profile=inventory", script)
    assert profiles == 1
    script = script.replace("burnin.poweroff=1", "burnin.poweroff=1 burnin.hold=8")
    (served / "boot.ipxe").write_text(script)
    url = f"http://10.0.2.2:{server.server_port}/burnin/boot.ipxe"
    args = qemu_base(run_dir) + ["-nic", f"user,model=virtio-net-pci,bootfile={url}", "-boot", "n"]
    try:
        result = run_qemu("netboot", args, run_dir, None)
    finally:
        server.shutdown()
        server.server_close()
    # Each file once at least, in this order (a client may retry one), by the firmware's iPXE for the first three
    # and by the initrd's wget (live-boot's fetch=) for the system image.
    firsts = {}
    for path, agent in fetched:
        firsts.setdefault(path, agent)
    assert list(firsts) == ["/burnin/boot.ipxe", "/burnin/vmlinuz", "/burnin/initrd.img", "/burnin/burnin-live.iso"], \
        fetched
    assert [firsts[p].startswith("iPXE") for p in firsts] == [True, True, True, False], fetched
    assert "WARNING: NO WRITABLE BURNIN STICK" in result.log, result.log[-3000:]
    assert "inventory only chosen on the kernel command line (burnin.profile=inventory)" in result.log
    assert f"System   burnin live-test  S/N {SERIAL}" in result.log
    assert "virtio_net link up" in result.log  # the NIC the system came over, in the inventory
    assert "Results IN RAM ONLY (lost at power-off)" in result.log
    assert "burnin-live: verdict PASS" in result.log
