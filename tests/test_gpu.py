"""The gpu module on captured outputs (tests/data/gpu/SOURCE.md): telegraf's real `nvidia-smi -q -x` of an A100 and
its fault variants, VirtualClient's real `dcgmi diag -r 3 -j`, superbenchmark's real gpu-burn log and its FAULTY
variant, a synthesized amdgpu sysfs tree; the whole module with stand-ins for nvidia-smi, gpu_burn and dcgmi on PATH.
Tests that need a real NVIDIA GPU carry the marker `gpu` and skip, saying why, where there is none."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from burnin.cli import main
from burnin.host import Host
from burnin.inventory.claims import check_gpu_claims, parse_claims
from burnin.kernel_log.judge import classify
from burnin.load import Ended
from burnin.model import Severity
from burnin.modules.gpu import GpuModule, GpuSettings, judge_amd, judge_engine, judge_growth, judge_health, \
    judge_sample
from burnin.testing import RecordingContext, run_phases, wait_for
from burnin.tools import amdgpu, cupy_matmul, dcgm, gpu_burn, nvidia_nvml, nvidia_smi

DATA = Path(__file__).parent / "data" / "gpu"
BURN = Path(__file__).parent / "data" / "gpuburn"
S = GpuSettings()
SLOT = "PCIe Slot 3"
INVENTORY = SimpleNamespace(pcie=SimpleNamespace(devices=[SimpleNamespace(address="0000:01:00.0", slot=SLOT)]))


def gpu(name: str) -> nvidia_smi.NvidiaGpu:
    (only,) = nvidia_smi.parse_xml((DATA / name).read_text())
    return only


def eight_gpus() -> str:
    """The real A100 as 8 GPUs at 0000:01..08:00.0 with serials ...0..7 (for gpu-burn's 8-GPU log)."""
    text = (DATA / "a100-sxm4-no-mig.xml").read_text()
    block = text[text.index("    <gpu id="):text.index("</nvidia_smi_log>")]
    gpus = [block.replace("00000000:01:00.0", f"00000000:0{i + 1}:00.0").replace("1650522003820", f"165052200382{i}")
            for i in range(8)]
    return text[:text.index("    <gpu id=")] + "".join(gpus) + "</nvidia_smi_log>\n"


def fails(judgements):
    return [(j.code, j.component) for j in judgements if j.severity is Severity.FAIL]


# -- parsing -------------------------------------------------------------------------------------------------------
def test_a_real_a100_is_read_with_its_identity_memory_and_link():
    a100 = gpu("a100-sxm4.xml")
    assert (a100.pci, a100.name, a100.serial, a100.vbios, a100.driver) == (
        "0000:01:00.0", "NVIDIA A100-SXM4-80GB", "1650522003820", "92.00.36.00.02", "535.54.03")
    assert (a100.memory_total_mib, a100.ecc_mode, a100.ecc_volatile_uncorrectable) == (81920, "Enabled", 0)
    assert (a100.link_gen, a100.link_gen_max, a100.link_width, a100.link_width_max) == (4, 4, 16, 16)
    # MIG mode hides the row remapper: unknown, never 0
    assert a100.remapped_rows_uncorrectable is None and a100.remap_failure is None and a100.retired_pages_dbe is None


def test_bad_or_hostile_xml_is_one_clear_error():
    for text in ("", "<html/>", "<nvidia_smi_log><gpu>", '<!DOCTYPE x [<!ENTITY a "b">]><nvidia_smi_log/>'):
        with pytest.raises(nvidia_smi.NvidiaSmiError):
            nvidia_smi.parse_xml(text)


# -- acceptance: captures FAIL naming the GPU by slot and serial; a healthy card PASSes --------------------------------
@pytest.mark.parametrize("capture,code", [
    ("a100-sxm4-row-remap-failure.xml", "gpu-row-remap-failure"),
    ("a100-sxm4-retired-pages-pending.xml", "gpu-retired-pages-pending"),
    ("a100-sxm4-uncorrectable-ecc.xml", "gpu-ecc-uncorrectable"),
    ("a100-sxm4-link-gen3-under-load.xml", "gpu-link-degraded"),
    ("a100-sxm4-link-x8-under-load.xml", "gpu-link-degraded"),
])
def test_a_faulty_card_fails_naming_its_slot_and_serial(capture, code):
    card = gpu(capture)
    found = [j for j in judge_health(card, S, SLOT) + judge_sample(card, S, SLOT) if j.severity is Severity.FAIL]
    assert code in [j.code for j in found]
    for j in found:
        assert j.component == "gpu:0000:01:00.0"
        assert SLOT in j.message and "S/N 1650522003820" in j.message
        assert (j.evidence["slot"], j.evidence["serial"]) == (SLOT, "1650522003820")


@pytest.mark.parametrize("capture", ["a100-sxm4.xml", "a100-sxm4-no-mig.xml", "a100-sxm4-under-load.xml",
                                     "a100-sxm4-link-gen1-idle.xml"])
def test_a_healthy_card_passes_and_an_idle_slow_link_is_not_judged(capture):
    card = gpu(capture)
    assert judge_health(card, S, SLOT) + judge_sample(card, S, SLOT) == []


def test_nvidia_rma_rules_and_the_profile_thresholds():
    failing = gpu("a100-sxm4-row-remap-failure.xml")
    codes = {j.code: j.severity for j in judge_health(failing, S)}
    assert codes["gpu-remapped-rows"] is Severity.WARN  # 9 rows: below NVIDIA's 512
    assert codes["gpu-remap-banks-exhausted"] is Severity.WARN
    strict = GpuSettings(remap_uncorrectable_fail=8, banks_exhausted="fail")
    assert {j.code for j in judge_health(failing, strict) if j.severity is Severity.FAIL} == {
        "gpu-row-remap-failure", "gpu-remapped-rows", "gpu-remap-banks-exhausted"}
    pending = judge_health(gpu("a100-sxm4-remap-pending.xml"), S)
    assert [(j.code, j.severity) for j in pending] == [("gpu-remapped-rows", Severity.WARN),
                                                       ("gpu-remap-pending", Severity.WARN)]


def test_counter_growth_fails_and_a_vanished_gpu_fails():
    before = {"0000:01:00.0": gpu("a100-sxm4-no-mig.xml")}
    (grew,) = judge_growth(before, {"0000:01:00.0": gpu("a100-sxm4-uncorrectable-ecc.xml")}, S, {})
    assert (grew.code, grew.severity, grew.evidence["grown"]) == (
        "gpu-errors-grew", Severity.FAIL, {"ecc_volatile_uncorrectable": 2})
    assert fails(judge_growth(before, {}, S, {})) == [("gpu-missing", "gpu:0000:01:00.0")]
    assert judge_growth(before, before, S, {}) == []


# -- load engines ----------------------------------------------------------------------------------------------------
def test_a_faulty_gpu_in_gpu_burn_fails_that_gpu_though_gpu_burn_exited_0():
    gpus = nvidia_smi.parse_xml(eight_gpus())
    outcome = gpu_burn.parse_end(Ended(0, (BURN / "a100x8-gpu3-faulty.log").read_text(), "", "", 60.0))
    assert outcome.returncode == 0
    (faulty,) = judge_engine("gpu-burn", outcome, gpus, {"0000:04:00.0": "SXM 4"})
    assert (faulty.severity, faulty.code, faulty.component) == (Severity.FAIL, "gpu-burn-faulty", "gpu:0000:04:00.0")
    assert "slot SXM 4" in faulty.message and "S/N 1650522003823" in faulty.message
    healthy = gpu_burn.parse_end(Ended(0, (BURN / "a100x8-ok.log").read_text(), "", "", 60.0))
    assert judge_engine("gpu-burn", healthy, gpus, {}) == []


def test_dcgm_json_is_judged_per_test_and_per_gpu():
    a100 = [gpu("a100-sxm4.xml")]
    passed = dcgm.parse_json((DATA / "dcgm-diag-r3-pass.json").read_text(), 3)
    assert passed.error is None and {r.test for r in passed.results} >= {"Memory Bandwidth", "Targeted Power"}
    assert judge_engine("dcgm", passed, a100, {}) == []
    failed = dcgm.parse_json("Running diagnostic...\n" + (DATA / "dcgm-diag-r3-gpu0-memory-fail.json").read_text(), 3)
    (finding,) = judge_engine("dcgm", failed, a100, {"0000:01:00.0": SLOT})
    assert (finding.code, finding.component) == ("gpu-dcgm-fail", "gpu:0000:01:00.0")
    assert "GPU Memory" in finding.message and "cudaMemcpy" in finding.evidence["detail"]
    assert dcgm.parse_json("Error: unable to connect to host engine").error


class PythonBackend:
    """Two 'devices' that multiply in pure Python; device 1 flips one result (a bad GPU)."""

    def devices(self):
        return [(0, "0000:01:00.0"), (1, "0000:02:00.0"), (2, "0000:03:00.0")]

    def matmul(self, device, a, b, n, rows, cols):
        c = [cupy_matmul.reference(a, b, n, r, range(n)) for r in range(n)]
        if device == 1:
            c[rows[0]][cols[0]] += 1
        return str(hash(tuple(map(tuple, c)))), [[float(c[r][k]) for k in cols] for r in rows]


def test_the_builtin_kernel_catches_a_gpu_that_computes_wrong():
    result = cupy_matmul.check_round(PythonBackend(), [0, 1, 2], seed=7, n=12)
    assert sorted(result.wrong) == [1] and "the CPU says" in result.wrong[1][0]
    assert "differs from 2 other GPUs" in result.wrong[1][-1]
    (finding,) = judge_engine("builtin", cupy_matmul.Outcome([("0000:02:00.0", result.wrong[1])], 1),
                              [gpu("a100-sxm4.xml")], {})
    assert (finding.code, finding.component) == ("gpu-compute-mismatch", "gpu")  # a GPU nvidia-smi did not list


def test_the_builtin_load_counts_its_rounds_and_says_why_it_stopped():
    load, outcome = cupy_matmul.load(8, PythonBackend())
    load.start()
    wait_for(lambda: outcome.rounds >= 2, what="two rounds of the built-in kernel")
    load.stop()
    assert not load.poll(5.0) and outcome.error is None
    assert {pci for pci, _ in outcome.wrong} == {"0000:02:00.0"}

    class Broken(PythonBackend):
        def matmul(self, *args):
            raise RuntimeError("cudaErrorMemoryAllocation: out of memory")

    load, outcome = cupy_matmul.load(8, Broken())
    load.start()
    assert not load.poll(5.0) and outcome.rounds == 0 and "out of memory" in outcome.error


# -- the whole module, with stand-ins on PATH --------------------------------------------------------------------------
@pytest.fixture
def fake_tools(tmp_path, monkeypatch):
    """nvidia-smi, gpu_burn and dcgmi that print captured files (chosen by environment variables), exit 0."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool, variable in (("nvidia-smi", "SMI_XML"), ("gpu_burn", "BURN_LOG"), ("dcgmi", "DCGM_JSON")):
        script = bin_dir / tool
        script.write_text(f'#!/bin/sh\n[ -n "${variable}" ] || exit 127\ncat "${variable}"\n')
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    smi = tmp_path / "smi.xml"
    smi.write_text(eight_gpus())
    monkeypatch.setenv("SMI_XML", str(smi))
    return bin_dir


def module(bin_dir, keep=("nvidia-smi", "gpu_burn", "dcgmi"), **settings):
    for tool in {"nvidia-smi", "gpu_burn", "dcgmi"} - set(keep):
        (bin_dir / tool).unlink()
    return GpuModule(Host("/"), {"interval_s": 0.2, **settings})


def test_the_whole_module_fails_the_faulty_gpu_and_samples_every_gpu(fake_tools, monkeypatch):
    monkeypatch.setenv("BURN_LOG", str(BURN / "a100x8-gpu3-faulty.log"))
    gpus = module(fake_tools, keep=("nvidia-smi", "gpu_burn"), engines=["gpu-burn"])
    assert gpus.probe().available
    ctx = run_phases(gpus, phases=("check", "run", "finish"), seconds=1.2)
    assert ctx.codes(Severity.FAIL) == ["gpu-burn-faulty"]
    assert [f.component for f in ctx.findings if f.code == "gpu-burn-faulty"] == ["gpu:0000:04:00.0"]
    assert [n["data"]["reason"] for n in ctx.notes if n["message"] == "load stopped"] == ["ended"]
    temps = [s for s in ctx.samples if "gpu_temp_c:gpu 0000:08:00.0" in s]
    assert len(temps) >= 3 and all(len([k for k in s if k.startswith("gpu_temp_c:")]) == 8 for s in temps)


def test_dcgm_then_gpu_burn_run_in_order_and_dcgm_failure_names_the_gpu(fake_tools, monkeypatch):
    monkeypatch.setenv("BURN_LOG", str(BURN / "a100x8-ok.log"))
    monkeypatch.setenv("DCGM_JSON", str(DATA / "dcgm-diag-r3-gpu0-memory-fail.json"))
    ctx = run_phases(module(fake_tools, engines=["dcgm", "gpu-burn"]), phases=("check", "run"), seconds=1.0)
    started = [n["data"]["engine"] for n in ctx.notes if n["message"] == "load started"]
    assert started == ["dcgm", "gpu-burn"]
    assert [(f.code, f.component) for f in ctx.findings if f.severity is Severity.FAIL] == [
        ("gpu-dcgm-fail", "gpu:0000:01:00.0")]


def test_without_an_engine_the_module_watches_and_says_no_gpu_load_ran(fake_tools):
    ctx = run_phases(module(fake_tools, keep=("nvidia-smi",)), phases=("check", "run"), seconds=0.8)
    (no_load,) = [f for f in ctx.findings if f.code == "gpu-no-load"]
    assert no_load.severity is Severity.WARN and "only watched" in no_load.message
    assert ctx.samples and {n["data"]["engine"] for n in ctx.notes if "not available" in n["message"]} == {
        "dcgm", "gpu-burn", "builtin"}


def test_an_engine_that_gives_no_result_is_an_error_not_a_pass(fake_tools, monkeypatch):
    monkeypatch.setenv("DCGM_JSON", "/dev/null")
    gpus = module(fake_tools, keep=("nvidia-smi", "dcgmi"), engines=["dcgm"])
    with pytest.raises(RuntimeError, match="no GPU engine gave a result"):
        run_phases(gpus, phases=("check", "run"), seconds=2.0)


def test_a_captured_tree_is_judged_from_its_nvidia_smi_xml(tmp_path):
    """`burnin check --sysroot CAPTURE` judges the XML a capture recorded, naming the card."""
    meta = tmp_path / ".burnin-capture"
    meta.mkdir()
    xml = (DATA / "a100-sxm4-row-remap-failure.xml").read_text()
    meta.joinpath("commands.json").write_text(json.dumps([{
        "argv": list(nvidia_smi.XML_ARGV), "returncode": 0, "stdout": xml, "stderr": "", "duration_s": 0.4}]))
    result = CliRunner().invoke(main, ["check", "--sysroot", str(tmp_path), "--only", "gpu", "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["modules"]["gpu"] == "FAIL"
    codes = {f["code"]: f for f in report["findings"] if f["severity"] == "fail"}
    assert "S/N 1650522003820" in codes["gpu-row-remap-failure"]["message"]


def test_the_gpu_claims_are_checked_against_the_gpus_own_answers():
    claims = parse_claims({"gpus": {"count": 1, "model": "A100", "memory_gib": 80}})
    assert [c.ok for c in check_gpu_claims(claims, [gpu("a100-sxm4.xml")])] == [True, True]
    wrong = parse_claims({"gpus": {"model": "H100", "memory_gib": 94}})
    assert [c.finding().code for c in check_gpu_claims(wrong, [gpu("a100-sxm4.xml")])] == ["claim-mismatch"] * 2
    ctx = RecordingContext("gpu", Host("/"), claims=wrong, inventory=INVENTORY)
    assert check_gpu_claims(None, []) == [] and ctx.claims is wrong


# -- AMD ---------------------------------------------------------------------------------------------------------------
def amd_tree(root: Path, bad_pages: str, umc: str = "ue: 0\nce: 3\n", param: str = "-1") -> Host:
    """A synthesized amdgpu sysfs tree in the driver's formats (amdgpu_ras.c): one MI210 at 0000:03:00.0."""
    dev = root / "sys/devices/pci0000:00/0000:03:00.0"
    (dev / "drm/card0").mkdir(parents=True)
    (dev / "ras").mkdir()
    (dev / "drm/card0/device").symlink_to("../..")
    (root / "sys/class/drm").mkdir(parents=True)
    (root / "sys/class/drm/card0").symlink_to("../../devices/pci0000:00/0000:03:00.0/drm/card0")
    for name, text in {"vendor": "0x1002", "mem_info_vram_total": str(64 * 2**30), "unique_id": "2f3a1c5d7e9b0a11",
                       "product_name": "Instinct MI210", "ras/umc_err_count": umc, "ras/gfx_err_count": "ue: 0\nce: 0",
                       "ras/gpu_vram_bad_pages": bad_pages, "current_link_speed": "16.0 GT/s PCIe",
                       "max_link_speed": "16.0 GT/s PCIe", "current_link_width": "16", "max_link_width": "16"}.items():
        (dev / name).write_text(text + "\n")
    (root / "sys/module/amdgpu/parameters").mkdir(parents=True)
    (root / "sys/module/amdgpu/parameters/bad_page_threshold").write_text(param + "\n")
    return Host(root)


def test_amd_bad_pages_against_the_drivers_threshold(tmp_path):
    pages = "".join(f"0x{0x1000 + i:08x} : 0x00001000 : {'P' if i == 0 else 'R'}\n" for i in range(3))
    (card,) = amdgpu.read_gpus(amd_tree(tmp_path / "a", pages))
    assert (card.pci, card.bad_pages, card.bad_pages_pending, card.bad_page_threshold) == ("0000:03:00.0", 3, 1, 655)
    assert card.ras == {"umc": {"ue": 0, "ce": 3}, "gfx": {"ue": 0, "ce": 0}}
    assert [(j.code, j.severity) for j in judge_amd(card, SLOT)] == [("gpu-bad-pages", Severity.WARN)]
    (full,) = amdgpu.read_gpus(amd_tree(tmp_path / "b", pages, umc="ue: 2\nce: 0", param="3"))
    assert fails(judge_amd(full)) == [("gpu-bad-pages", "gpu:0000:03:00.0"), ("gpu-ras-uncorrectable",
                                                                             "gpu:0000:03:00.0")]


# -- the kernel log: Xid lines with their meaning, named by slot ------------------------------------------------------
def test_an_xid_line_is_judged_with_its_meaning():
    match = classify("NVRM: Xid (PCI:0000:01:00): 48, pid=2178, An uncorrectable double bit error (DBE) has been "
                     "detected on GPU in the framebuffer at partition 6, subpartition 0.")
    assert (match.entry.code, match.entry.severity, match.component) == ("gpu-xid-fatal", Severity.FAIL,
                                                                         "gpu:0000:01:00.0")
    assert "double-bit ECC error" in match.message
    pending = classify("NVRM: Xid (PCI:0000:10:1c): 63, pid=1896, Row Remapper: New row marked for remapping")
    assert pending.entry.severity is Severity.WARN and "reset the GPU" in pending.message
    assert classify("NVRM: Xid (PCI:0000:01:00): 109, pid=1, Ctx switch timeout").entry.code == "gpu-xid"


# -- a real GPU --------------------------------------------------------------------------------------------------------
def _no_nvml() -> str | None:
    return nvidia_nvml.available()


@pytest.mark.gpu
@pytest.mark.skipif(_no_nvml() is not None, reason=f"no NVIDIA GPU here: {_no_nvml()}")
def test_nvml_and_nvidia_smi_agree_on_a_real_gpu():
    from burnin.host import Host as LiveHost

    nvml = {g.pci: g for g in nvidia_nvml.read_gpus()}
    smi = {g.pci: g for g in nvidia_smi.parse_xml(LiveHost("/").run(list(nvidia_smi.XML_ARGV), timeout=60).stdout)}
    assert nvml and set(nvml) == set(smi)
    for pci, g in nvml.items():
        assert (g.serial, g.uuid, g.link_width_max) == (smi[pci].serial, smi[pci].uuid, smi[pci].link_width_max)
        assert re.match(r"\d+\.\d+", g.driver or "") and g.memory_total_mib and g.temp_c is not None


def test_burnin_capture_keeps_nvidia_smi_xml_and_check_judges_it_elsewhere(fake_tools, monkeypatch, tmp_path):
    monkeypatch.setenv("SMI_XML", str(DATA / "a100-sxm4-uncorrectable-ecc.xml"))
    out = tmp_path / "capture"
    assert CliRunner().invoke(main, ["capture", str(out)]).exit_code == 0
    recorded = json.loads((out / ".burnin-capture" / "commands.json").read_text())
    assert [c["argv"] for c in recorded if c["argv"][0] == "nvidia-smi"] == [list(nvidia_smi.XML_ARGV)]
    monkeypatch.setenv("PATH", os.defpath)  # judged elsewhere: no nvidia-smi there
    result = CliRunner().invoke(main, ["check", "--sysroot", str(out), "--only", "gpu", "--json"])
    assert result.exit_code == 1 and "gpu-ecc-uncorrectable" in result.stdout, result.output


def test_nvidia_smi_failing_is_an_error_only_when_an_nvidia_gpu_is_on_the_bus(tmp_path):
    from burnin.module import Skip

    def tree(root: Path, with_gpu: bool) -> GpuModule:
        meta = root / ".burnin-capture"
        meta.mkdir(parents=True)
        meta.joinpath("commands.json").write_text(json.dumps([{
            "argv": list(nvidia_smi.XML_ARGV), "returncode": 9, "stderr": "", "duration_s": 0.1,
            "stdout": "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."}]))
        if with_gpu:
            dev = root / "sys/bus/pci/devices/0000:01:00.0"
            dev.mkdir(parents=True)
            (dev / "vendor").write_text("0x10de\n")
            (dev / "class").write_text("0x030200\n")
        return GpuModule(Host(root))

    with pytest.raises(Skip):
        run_phases(tree(tmp_path / "none", False), phases=("check",))
    with pytest.raises(RuntimeError, match="couldn't communicate"):
        run_phases(tree(tmp_path / "gpu", True), phases=("check",))


def test_the_gpu_burn_adapter_is_the_one_docs_writing_a_module_builds():
    """burnin/tools/gpu_burn.py is promoted from docs/writing-a-module.md as written: the two never drift apart."""
    doc = (Path(__file__).parent.parent / "docs" / "writing-a-module.md").read_text()
    block = re.search(r"<!-- file: burnin/tools/gpu_burn.py -->\n```python\n(.*?)```", doc, re.S)[1]
    assert (Path(gpu_burn.__file__)).read_text() == block


def test_the_nvml_adapter_on_the_real_pynvml_api_with_answers_of_an_a100(monkeypatch):
    """The real nvidia-ml-py module (its constants and error classes) with its device calls answering as a faulty
    A100 would: every call the adapter makes must exist in pynvml, and unsupported ones become None, never 0."""
    import pynvml as n

    def unsupported(*_):
        raise n.NVMLError(n.NVML_ERROR_NOT_SUPPORTED)

    def link_state(_, link):
        if link >= 12:
            raise n.NVMLError(n.NVML_ERROR_INVALID_ARGUMENT)
        return n.NVML_FEATURE_DISABLED if link == 3 else n.NVML_FEATURE_ENABLED

    answers = {
        "nvmlDeviceGetPciInfo": SimpleNamespace(busId=b"00000000:01:00.0"),
        "nvmlDeviceGetName": "NVIDIA A100-SXM4-80GB", "nvmlDeviceGetSerial": "1650522003820",
        "nvmlDeviceGetUUID": "GPU-513536b6", "nvmlDeviceGetVbiosVersion": "92.00.36.00.02",
        "nvmlDeviceGetMemoryInfo": SimpleNamespace(total=81920 * 2**20, used=50 * 2**20),
        "nvmlDeviceGetEccMode": (1, 1), "nvmlDeviceGetRemappedRows": (0, 9, 0, 1),
        "nvmlDeviceGetRowRemapperHistogram": SimpleNamespace(max=638, high=0, partial=0, low=1, none=1),
        "nvmlDeviceGetUtilizationRates": SimpleNamespace(gpu=100, memory=80),
        "nvmlDeviceGetPowerUsage": 398210, "nvmlDeviceGetEnforcedPowerLimit": 500000,
        "nvmlDeviceGetCurrentClocksEventReasons": 0x40, "nvmlDeviceGetGpuMaxPcieLinkGeneration": 4,
        "nvmlDeviceGetMaxPcieLinkGeneration": 4, "nvmlDeviceGetCurrPcieLinkGeneration": 3,
        "nvmlDeviceGetCurrPcieLinkWidth": 16, "nvmlDeviceGetMaxPcieLinkWidth": 16, "nvmlDeviceGetPcieReplayCounter": 0,
        "nvmlDeviceGetTemperature": 83, "nvmlDeviceGetTemperatureThreshold": 89, "nvmlDeviceGetClockInfo": 1410,
        "nvmlDeviceGetNvLinkErrorCounter": 1,
    }
    for name, value in answers.items():
        assert hasattr(n, name), name
        monkeypatch.setattr(n, name, lambda *_, value=value: value)
    monkeypatch.setattr(n, "nvmlDeviceGetTotalEccErrors", lambda _, kind, scope: 2 if (
        kind, scope) == (n.NVML_MEMORY_ERROR_TYPE_UNCORRECTED, n.NVML_VOLATILE_ECC) else 0)
    for name in ("nvmlDeviceGetRetiredPages", "nvmlDeviceGetRetiredPagesPendingStatus", "nvmlDeviceGetFanSpeed"):
        monkeypatch.setattr(n, name, unsupported)
    monkeypatch.setattr(n, "nvmlDeviceGetNvLinkState", link_state)
    a100 = nvidia_nvml.read_gpu(n, object(), "535.54.03")
    assert (a100.pci, a100.memory_total_mib, a100.power_w, a100.power_limit_w) == ("0000:01:00.0", 81920, 398.21, 500)
    assert (a100.retired_pages_dbe, a100.retirement_pending, a100.fan_pct) == (None, None, None)
    assert (a100.nvlink_errors, a100.nvlinks_down, a100.throttle) == (44, (3,), ("hw_thermal_slowdown",))
    judged = {j.code: j.severity for j in judge_health(a100, S, SLOT) + judge_sample(a100, S, SLOT)}
    assert judged == {"gpu-row-remap-failure": Severity.FAIL, "gpu-remapped-rows": Severity.WARN,
                      "gpu-remap-banks-exhausted": Severity.WARN, "gpu-ecc-uncorrectable": Severity.FAIL,
                      "gpu-nvlink-down": Severity.WARN, "gpu-link-degraded": Severity.FAIL,
                      "gpu-throttled": Severity.WARN}


def test_the_module_is_at_most_300_lines_plus_its_tool_adapters():
    from burnin.modules import gpu as module

    assert len(Path(module.__file__).read_text().splitlines()) <= 300
