"""Proving ECC reporting: the decision on captured EDAC trees (tests/data/edac), EINJ debugfs files
(tests/data/einj) and real dmidecode dumps, the judgement of an injection's outcome on a real EDAC tree whose
counters the test raises, the physical address of a page of this process, and the verdict block's ECC line."""

from __future__ import annotations

import mmap
import os
import shutil
from pathlib import Path

import pytest

from burnin.coverage import ecc_reporting
from burnin.host import Host
from burnin.inventory.dmidecode import parse_dmidecode_text
from burnin.inventory.memory import array_ecc
from burnin.model import Finding, Severity, Verdict
from burnin.modules.memory import MemoryModule, eccproof
from burnin.testing import RecordingContext
from burnin.tools import edac

DATA = Path(__file__).parent / "data"
EDAC = DATA / "edac"
EINJ = DATA / "einj"
VM = DATA / "sysfs" / "vm-virtio"


def einj_text(tree: str) -> str:
    return (EINJ / tree / "sys/kernel/debug/apei/einj/available_error_type").read_text()


def decide(edac_tree: Path | None, einj: str | None, *, ecc=("Multi-bit ECC",), einj_table=True, hest=False,
           allowed=True, live=True, kernel=()):
    snapshot = edac.read_edac(Host(edac_tree)) if edac_tree else edac.EdacSnapshot(())
    return eccproof.decide(ecc_types=ecc, edac_snapshot=snapshot, einj_table=einj_table, einj_types=einj, hest=hest,
                           allowed=allowed, live=live, kernel_lines=kernel)


def smbios_ecc(name: str) -> tuple[str, ...]:
    text = next(DATA.joinpath("dmidecode").glob(f"Server__{name}*.txt")).read_text()
    kinds, _ = array_ecc(parse_dmidecode_text(text))
    return tuple(k.strip() for k in kinds.split(","))


def test_einj_types_parse_from_the_kernel_example_and_the_einjv2_listing():
    assert eccproof.parse_einj_types(einj_text("kernel-doc")) == {
        2: "Processor Uncorrectable non-fatal", 8: "Memory Correctable", 0x10: "Memory Uncorrectable non-fatal"}
    assert eccproof.parse_einj_types(einj_text("einjv2-review"))[8] == "Memory Correctable"


def test_edac_with_einj_memory_correctable_and_the_profile_allowing_it_injects():
    proof = decide(EDAC / "thunderx2-ghes", einj_text("kernel-doc"))
    assert proof.status == eccproof.INJECT
    refused = decide(EDAC / "thunderx2-ghes", einj_text("kernel-doc"), allowed=False)
    assert refused.status == eccproof.UNVERIFIED and "ecc_proof = true" in refused.why
    capture = decide(EDAC / "thunderx2-ghes", einj_text("kernel-doc"), live=False)
    assert capture.status == eccproof.UNVERIFIED and "captured tree" in capture.why


@pytest.mark.parametrize("edac_tree,einj,kw,words", [
    (None, None, {"hest": False}, "no EDAC driver is loaded"),  # the development VM
    (None, None, {"hest": True}, "firmware-first error handling (ACPI HEST) without the GHES EDAC driver"),
    (EDAC / "s2600kpr-sb_edac", None, {"einj_table": False}, "no ACPI EINJ table"),
    (EDAC / "s2600kpr-sb_edac", None, {"einj_table": True}, "modprobe einj"),
    (EDAC / "s2600kpr-sb_edac", "0x00000002\tProcessor Uncorrectable non-fatal\n", {},
     "does not offer a correctable memory error"),
    (EDAC / "s2600kpr-sb_edac", einj_text("kernel-doc"), {"kernel": ("EDAC amd64: Node 0: DRAM ECC disabled.",)},
     "ECC is not enabled in the firmware"),
])
def test_every_unverified_case_says_why(edac_tree, einj, kw, words):
    proof = decide(edac_tree, einj, **kw)
    assert proof.status == eccproof.UNVERIFIED and words in proof.why
    assert proof.line().startswith("ECC reporting unverified: ")


def test_memory_without_ecc_is_not_applicable_from_a_real_dump():
    fujitsu = smbios_ecc("Fujitsu__PRIMERGY__PRIMERGY_MX130_S2")
    assert fujitsu == ("None",)
    proof = decide(None, None, ecc=fujitsu)
    assert proof.status == eccproof.NOT_APPLICABLE and proof.line() == (
        "ECC reporting not applicable (the memory has no ECC: SMBIOS error correction None)")
    assert decide(None, None, ecc=smbios_ecc("Supermicro__X10__X10DRi")).status == eccproof.UNVERIFIED


def raised(root: Path, files: dict[str, int]) -> edac.EdacSnapshot:
    for path, value in files.items():
        (root / "sys/devices/system/edac/mc" / path).write_text(f"{value}\n")
    return edac.read_edac(Host(root))


def test_one_dimm_counting_the_injected_error_proves_it_and_names_the_dimm(tmp_path):
    root = tmp_path / "edac"
    shutil.copytree(EDAC / "s2600kpr-sb_edac", root)
    before = edac.read_edac(Host(root))
    after = raised(root, {"mc0/dimm3/dimm_ce_count": 1, "mc0/csrow0/ch1_ce_count": 1, "mc0/csrow0/ce_count": 1,
                          "mc0/ce_count": 1})
    grown = [g for g in edac.increases(before, after) if g.counter.kind == "ce"]
    module = MemoryModule(Host(root))
    names = module.ecc.names(RecordingContext("memory", module.host), after)
    proof = eccproof.judge_proof(grown, 0x12345678, 10, names)
    assert proof.status == eccproof.PROVEN
    assert proof.line() == "ECC reporting proven (DIMM CPU_SrcID#0_Ha#0_Chan#1_DIMM#0 (channel 1 slot 0))"
    assert proof.evidence["physical_address"] == "0x12345678"
    # Two DIMMs at once, or nothing within the time: not a proof, and said so.
    two = raised(root, {"mc0/dimm0/dimm_ce_count": 1})
    both = [g for g in edac.increases(before, two) if g.counter.kind == "ce"]
    assert eccproof.judge_proof(both, 0x1000, 10, names).status == eccproof.UNVERIFIED
    nothing = eccproof.judge_proof([], 0x1000, 10, names)
    assert nothing.status == eccproof.UNVERIFIED and "not counted within 10 s" in nothing.why


def test_pagemap_gives_the_physical_address_of_the_page_to_inject_into():
    buf = mmap.mmap(-1, mmap.PAGESIZE)
    buf[:] = b"\x5a" * mmap.PAGESIZE
    virtual = eccproof._address(buf)
    phys, _ = eccproof.physical_address("/proc/self/pagemap", virtual)
    if os.geteuid() == 0:
        assert phys is not None and phys % mmap.PAGESIZE == virtual % mmap.PAGESIZE
    else:
        assert phys is None
    buf.close()


def test_memory_check_reports_the_ecc_line_on_a_captured_tree():
    module = MemoryModule(Host(EDAC / "thunderx2-ghes"))
    ctx = RecordingContext("memory", module.host)
    module.prove_ecc(ctx)
    [finding] = ctx.findings
    assert (finding.severity, finding.code) == (Severity.INFO, "ecc-reporting")
    assert finding.message == "ECC reporting unverified: injection needs the live machine (this is a captured tree)."


def test_verdict_block_line_is_never_silent():
    found = Finding("memory", Severity.INFO, "memory", "ecc-reporting",
                    "ECC reporting proven (DIMM P1-DIMMA1).", {})
    assert ecc_reporting([found], {"memory": Verdict.PASS}) == "ECC reporting proven (DIMM P1-DIMMA1)"
    assert ecc_reporting([], {"cpu": Verdict.PASS}) == "ECC reporting unverified: the memory module did not run"
    assert "did not get to it (SKIP)" in ecc_reporting([], {"memory": Verdict.SKIP})


class LiveTree(Host):
    """A copied tree standing in for the live machine: EINJ's files are plain files, /proc is the real one."""

    def __init__(self, root):
        super().__init__(root)
        self.live = True


def test_prove_writes_the_einj_protocol_and_names_the_dimm_that_counted(tmp_path):
    import threading
    import time

    root = tmp_path / "tree"
    shutil.copytree(EDAC / "s2600kpr-sb_edac", root)
    einj = root / "sys/kernel/debug/apei/einj"
    shutil.copytree(EINJ / "kernel-doc/sys/kernel/debug/apei/einj", einj)
    for name in ("error_type", "param1", "param2", "error_inject"):
        (einj / name).write_text("")
    (root / "proc").symlink_to("/proc")
    counter = root / "sys/devices/system/edac/mc/mc0/dimm6/dimm_ce_count"

    def firmware():  # a stand-in for the platform: the injected error is corrected and counted on one DIMM
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not (einj / "error_inject").read_text():
            time.sleep(0.01)
        counter.write_text(str(int(counter.read_text()) + 1) + "\n")

    thread = threading.Thread(target=firmware)
    thread.start()
    host = LiveTree(root)
    module = MemoryModule(host)
    ctx = RecordingContext("memory", host)
    proof = eccproof.prove(host, timeout_s=5, names=lambda s: module.ecc.names(ctx, s), poll_s=0.02)
    thread.join()
    if os.geteuid() == 0:
        assert (einj / "error_type").read_text() == "0x8"
        assert (einj / "param2").read_text() == "0xfffffffffffff000" and (einj / "error_inject").read_text() == "1"
        assert int((einj / "param1").read_text(), 16) % mmap.PAGESIZE == 0  # the page burnin owns
        assert proof.status == eccproof.PROVEN
        assert proof.line() == "ECC reporting proven (DIMM CPU_SrcID#0_Ha#0_Chan#2_DIMM#0 (channel 2 slot 0))"
    else:
        assert proof.status == eccproof.UNVERIFIED and "physical address" in proof.why
