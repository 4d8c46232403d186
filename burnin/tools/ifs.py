"""Intel In-Field Scan (the `intel_ifs` driver, Linux 5.19+): per-core self-tests through sysfs.

/sys/devices/virtual/misc/intel_ifs_0 is the scan test (SAF: needs Intel's test image, loaded by writing a batch
number to `current_batch`), intel_ifs_1 the Array BIST (no image). Writing a CPU number to `run_test` tests that
CPU's core; `status` then reads "pass", "fail" or "untested" (the test could not complete: interrupted, timed
out, or only partly run) and `details` the raw status word (`%#llx`), per the kernel's
Documentation/ABI/testing/sysfs-platform-intel-ifs and Documentation/arch/x86/ifs.rst. AMD has no equivalent
interface: there is nothing to run there. The adapter runs and reads; the cpu module judges.
"""

from __future__ import annotations

from dataclasses import dataclass

from burnin.host import Host

ROOT = "/sys/devices/virtual/misc"
TESTS = {"intel_ifs_0": "scan (SAF)", "intel_ifs_1": "array BIST"}


@dataclass(frozen=True)
class IfsResult:
    device: str  # intel_ifs_0 ...
    test: str
    cpu: int
    status: str  # pass, fail, untested, or what the driver wrote
    details: str | None
    image_version: str | None
    error: str | None = None  # the write to run_test failed (errno text)


def devices(host: Host) -> list[str]:
    return [p.rsplit("/", 1)[-1] for p in host.glob(ROOT, "intel_ifs_*") if host.exists(f"{p}/run_test")]


def run_core(host: Host, device: str, cpu: int) -> IfsResult:
    base = f"{ROOT}/{device}"
    error = None
    try:
        with open(host.path(f"{base}/run_test"), "w") as f:
            f.write(f"{cpu}\n")
    except OSError as exc:
        error = exc.strerror or str(exc)
    return IfsResult(device, TESTS.get(device, device), cpu, (host.read_text(f"{base}/status") or "").strip(),
                     (host.read_text(f"{base}/details") or "").strip() or None,
                     (host.read_text(f"{base}/image_version") or "").strip() or None, error)
