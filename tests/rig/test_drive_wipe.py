"""The drive's own erase, end to end on the rig (issue 17, item 4): `burnin run --destructive` on one emulated NVMe
drive, with consent naming it and its serial. QEMU 7.2's NVMe controller has Format NVM (OACS bit 1) but no
Sanitize (SANICAP 0; the command is an invalid opcode there, tests/data/disk-erase), so burnin must choose Format
NVM with a user-data erase, and the certificate must carry the drive's own answer to it. The neighbours must be
untouched, and a marker written far outside the read-back sample must be gone (the format erased the namespace,
not just the sample)."""

from __future__ import annotations

import json
import time

import pytest

from rigcases import boot, burnin, findings

pytestmark = pytest.mark.rig

TARGET, SERIAL, NEIGHBOUR = "/dev/nvme2n1", "NVME-SN-0003", "/dev/nvme1n1"
PROFILE = """extends = "soak"
name = "rig-wipe"
duration = "3m"
required = []
disk_writes = true
[settings.disk]
scan = "none"
self_test = "none"
write_verify = "none"
erase_verify_pct = 2.0
sample_regions = 8
erase_poll_s = 2.0
"""


def _by_serial(guest, serial: str) -> str:
    """The /dev name of the disk with this serial (names may change between boots)."""
    listing = guest.sh("lsblk -dn -o NAME,SERIAL", check=True).out
    return next(f"/dev/{name}" for name, s in (line.split() for line in listing.splitlines() if len(line.split()) == 2)
                if s == serial)


def test_a_consented_nvme_wipe_uses_format_nvm_and_the_certificate_carries_the_drives_result(rig_image, rig_report):
    with boot("wipe", rig_image, rig_report) as guest:
        target = _by_serial(guest, SERIAL)
        neighbour = _by_serial(guest, "NVME-SN-0002")
        # the drive's identify, read-only, as burnin will read it
        ctrl = json.loads(guest.sh(f"nvme id-ctrl {target[:-2]} -o json", check=True).out)
        assert ctrl["oacs"] & 0x2 and not ctrl["sanicap"]
        # a marker at 1 GiB + 3 MiB, and the neighbour's hash
        marker = guest.sh(f"dd if=/dev/urandom of={target} bs=1M count=1 seek=1027 oflag=direct status=none && "
                          f"dd if={target} bs=1M count=1 skip=1027 iflag=direct status=none | sha256sum; "
                          f"sha256sum < {neighbour}", check=True).out.split()
        assert marker[0] != "30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58"  # not zeros already
        (guest.share / "out" / "wipe.toml").write_text(PROFILE)
        started = time.monotonic()
        rc, records, summary, log = burnin(
            guest, f"run --only disk --profile out/wipe.toml --destructive {target} --yes-destroy-data {SERIAL} "
                   "--wipe-certificate out/wipe-certificate.html", "wipe", timeout_s=1200)
        rig_report.timing("wipe: burnin run --destructive (Format NVM + 2 % read-back)", time.monotonic() - started)
        certs = [r["data"] for r in records if r["type"] == "note" and r.get("message") == "wipe-certificate"]
        assert len(certs) == 1, (rc, log[-3000:])
        cert = certs[0]
        rig_report.notes.append(f"rig wipe certificate: {cert['method']} / {cert['drive_status']} / "
                                f"{cert['verified']}")
        assert cert["result"] == "wiped" and cert["serial"] == SERIAL and cert["device"] == target
        assert cert["method"] == "NVMe Format NVM with user data erase (nvme format --ses=1)"
        assert cert["drive_status"] == ("Format NVM (SES 1) completed without error: "
                                        "'Success formatting namespace:1'")
        assert cert["hpa"] == "not applicable: an NVMe drive has no HPA or DCO"
        assert "none of it still holds the random pattern" in cert["verified"], cert["verified"]
        assert "all of it reads as zeros" in cert["verified"]  # QEMU's format zeroes the namespace (DLFEAT 1)
        # 2 % of 2 GiB in 8 regions: 8 x 5 MiB (regions are whole MiB), read back and hashed
        assert len(cert["sample_sha256"]) == 64 and cert["readback_bytes"] == 8 * 5 * (1 << 20)
        assert any(c["argv"][:2] == ["nvme", "format"] and c["returncode"] == 0 for c in cert["commands"])
        codes = {(f["code"], f["severity"]) for f in findings(records)}
        assert ("disk-wiped", "info") in codes and not {c for c, s in codes if s == "fail"}, codes
        html = (guest.share / "out" / "wipe-certificate.html").read_text()
        assert SERIAL in html and "Success formatting namespace:1" in html
        after = guest.sh(f"dd if={target} bs=1M count=1 skip=1027 iflag=direct status=none | sha256sum; "
                         f"sha256sum < {neighbour}", check=True).out.split()
        assert after[0] == "30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58"  # 1 MiB of zeros
        assert after[2] == marker[2]  # the neighbour is untouched
