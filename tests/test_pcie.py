"""The pcie module against a real captured sysfs tree (prometheus/procfs) and fault variants of it.

Variants in tests/data/pcie/variants/ are overlays: files that replace values of the real tree (see SOURCE.md).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from burnin.host import Host
from burnin.model import Severity
from burnin.modules.pcie import PcieModule
from burnin.testing import RecordingContext, run_phases

DATA = Path(__file__).parent / "data" / "pcie"
REAL = DATA / "procfs-fixture"


def tree(tmp_path: Path, *variants: str) -> Path:
    """A copy of the real captured tree with the named overlays applied, in order."""
    root = tmp_path / "root"
    shutil.copytree(REAL, root, symlinks=True)
    for variant in variants:
        apply(root, variant)
    return root


def apply(root: Path, variant: str) -> None:
    overlay = DATA / "variants" / variant
    assert overlay.is_dir(), variant
    for src in overlay.rglob("*"):
        if src.is_file():
            dst = root / src.relative_to(overlay)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)


def check(root: Path, **settings) -> tuple[PcieModule, RecordingContext]:
    module = PcieModule(Host(root), settings)
    ctx = RecordingContext(module.name, module.host, phase="check")
    module.check(ctx)
    return module, ctx


def by_code(ctx: RecordingContext, code: str):
    return [f for f in ctx.findings if f.code == code]


# -- the real tree -----------------------------------------------------------------------------------
def test_real_tree_with_narrow_root_port_and_matching_devices_has_no_link_finding(tmp_path):
    # 00:02.1 is a root port at x4 of x8 because its NVMe drive is an x4 device; 00:03.0 is at x8 of x16
    # because the SAS HBA below it is x8. Neither is a fault.
    module, ctx = check(tree(tmp_path))
    assert by_code(ctx, "pcie-link-degraded") == []
    note = next(n for n in ctx.notes if n["message"] == "PCIe preflight")
    assert note["data"]["links_judged"] == 3  # 01:00.0 NVMe, 03:00.0 SAS, a2:00.0 NIC
    skipped = next(n for n in ctx.notes if n["message"] == "PCIe links not judged")["data"]["skipped"]
    assert skipped == {"0000:00:02.1": "bridge or port", "0000:00:03.0": "bridge or port"}


def test_aer_counts_already_nonzero_at_preflight_are_info_naming_the_counters(tmp_path):
    _, ctx = check(tree(tmp_path))
    (finding,) = by_code(ctx, "pcie-aer-errors-since-boot")
    assert finding.severity is Severity.INFO
    assert finding.component == "pcie:0000:00:1f.6"
    assert finding.evidence["totals"]["correctable"] == 9
    assert finding.evidence["counters"]["correctable"]["RxErr"] == 1
    assert "since boot" in finding.message


def test_aer_counts_at_preflight_warn_when_the_profile_says_so(tmp_path):
    _, ctx = check(tree(tmp_path), aer_since_boot="warn")
    (finding,) = by_code(ctx, "pcie-aer-errors-since-boot")
    assert finding.severity is Severity.WARN


def test_real_tree_passes_all_phases_with_only_the_since_boot_info(tmp_path):
    ctx = run_phases(PcieModule(Host(tree(tmp_path))))
    assert ctx.codes(Severity.FAIL) == [] and ctx.codes(Severity.WARN) == []
    assert ctx.codes(Severity.INFO) == ["pcie-aer-errors-since-boot"]


# -- degraded links ----------------------------------------------------------------------------------
def test_storage_controller_at_x4_of_x16_under_x16_port_fails_with_the_numbers(tmp_path):
    _, ctx = check(tree(tmp_path, "degraded-x4"))
    (finding,) = by_code(ctx, "pcie-link-degraded")
    assert finding.severity is Severity.FAIL
    assert finding.component == "pcie:0000:03:00.0"
    ev = finding.evidence
    assert ev["vendor_device"] == "1000:00ab" and ev["class"] == "0x010700"
    widths = (ev["current_width"], ev["device_max_width"], ev["port_max_width"], ev["achievable_width"])
    assert widths == (4, 16, 16, 16)
    assert ev["upstream_port"] == "0000:00:03.0"
    assert ev["slot"] is None
    assert "x4" in finding.message and "x16" in finding.message and "slot unknown" in finding.message


def test_degraded_pcie_link_fails_with_slot_name(tmp_path):
    _, ctx = check(tree(tmp_path, "degraded-x4", "slot"))
    (finding,) = by_code(ctx, "pcie-link-degraded")
    assert finding.evidence["slot"] == "3"
    assert "in slot 3" in finding.message


def test_degraded_link_on_other_class_only_warns(tmp_path):
    _, ctx = check(tree(tmp_path, "degraded-x4", "class-usb"))
    (finding,) = by_code(ctx, "pcie-link-degraded")
    assert finding.severity is Severity.WARN
    assert finding.evidence["class"] == "0x0c0330"


def test_degraded_other_class_severity_comes_from_settings(tmp_path):
    _, ctx = check(tree(tmp_path, "degraded-x4", "class-usb"), degraded_other="fail")
    assert by_code(ctx, "pcie-link-degraded")[0].severity is Severity.FAIL


def test_achievable_link_is_capped_by_the_upstream_port(tmp_path):
    # Device says x16 but its port can only do x8: running at x8 is the best the link can do.
    root = tree(tmp_path, "degraded-x4")
    port = root / "sys/devices/pci0000:00/0000:00:03.0"
    (port / "max_link_width").write_text("8\n")
    (port / "current_link_width").write_text("8\n")
    (port / "0000:03:00.0/current_link_width").write_text("8\n")
    _, ctx = check(root)
    assert by_code(ctx, "pcie-link-degraded") == []


def test_nic_under_a_host_bridge_is_judged_against_its_own_maximum(tmp_path):
    _, ctx = check(tree(tmp_path, "nic-gen3"))
    (finding,) = by_code(ctx, "pcie-link-degraded")
    assert finding.severity is Severity.FAIL
    assert finding.component == "pcie:0000:a2:00.0"
    assert finding.evidence["upstream_port"] is None
    assert (finding.evidence["current_speed_gts"], finding.evidence["achievable_speed_gts"]) == (8.0, 16.0)


def test_gpu_at_full_width_but_idle_speed_only_warns_and_says_why(tmp_path):
    _, ctx = check(tree(tmp_path, "gpu-idle"))
    (finding,) = by_code(ctx, "pcie-link-degraded")
    assert finding.severity is Severity.WARN
    assert "idle" in finding.message
    assert finding.evidence["current_speed_gts"] == 2.5


def test_gpu_with_missing_lanes_still_fails(tmp_path):
    _, ctx = check(tree(tmp_path, "degraded-x4", "gpu-idle"))
    assert by_code(ctx, "pcie-link-degraded")[0].severity is Severity.FAIL


def test_device_in_d3cold_is_skipped_with_the_reason(tmp_path):
    _, ctx = check(tree(tmp_path, "d3cold"))
    assert by_code(ctx, "pcie-link-degraded") == []
    skipped = next(n for n in ctx.notes if n["message"] == "PCIe links not judged")["data"]["skipped"]
    assert skipped["0000:01:00.0"] == "in power state D3cold"


def test_link_that_degrades_during_the_run_fails_in_finish(tmp_path):
    root = tree(tmp_path)
    module, ctx = check(root)
    apply(root, "degraded-x4")
    ctx.phase = "finish"
    module.finish(ctx)
    (finding,) = by_code(ctx, "pcie-link-degraded")
    assert finding.severity is Severity.FAIL and finding.evidence["during_run"] is True


def test_link_degraded_at_preflight_is_not_reported_twice(tmp_path):
    root = tree(tmp_path, "degraded-x4")
    module, ctx = check(root)
    module.finish(ctx)
    assert len(by_code(ctx, "pcie-link-degraded")) == 1


# -- AER during the run ------------------------------------------------------------------------------
def test_aer_growth_during_run_fails_uncorrectable_and_warns_correctable(tmp_path):
    root = tree(tmp_path)
    module, ctx = check(root)
    apply(root, "aer-grown")
    module.finish(ctx)
    (fail,) = by_code(ctx, "pcie-aer-uncorrectable")
    assert fail.severity is Severity.FAIL and fail.component == "pcie:0000:01:00.0"
    assert fail.evidence["grown"] == {"nonfatal": {"CmpltTO": 1}}
    (warn,) = by_code(ctx, "pcie-aer-correctable")
    assert warn.severity is Severity.WARN and warn.component == "pcie:0000:03:00.0"
    assert warn.evidence["grown"] == {"correctable": {"RxErr": 3, "BadTLP": 1}}
    assert warn.evidence["totals_before"] == {"correctable": 0}
    assert warn.evidence["totals_after"] == {"correctable": 4}


def test_unchanged_aer_counters_give_no_finding_in_finish(tmp_path):
    module, ctx = check(tree(tmp_path))
    before = len(ctx.findings)
    module.finish(ctx)
    assert len(ctx.findings) == before


def test_device_gone_at_finish_fails(tmp_path):
    root = tree(tmp_path)
    module, ctx = check(root)
    (root / "sys/bus/pci/devices/0000:a2:00.0").unlink()
    module.finish(ctx)
    (finding,) = by_code(ctx, "pcie-device-missing")
    assert finding.component == "pcie:0000:a2:00.0" and finding.severity is Severity.FAIL


# -- nothing to judge --------------------------------------------------------------------------------
def test_vm_with_only_legacy_pci_is_unavailable_and_skips_not_passes():
    # Captured from the Firecracker VM this project is developed on: virtio devices, no link attributes.
    module = PcieModule(Host(DATA / "legacy-vm"))
    probe = module.probe()
    assert not probe.available and "link attributes" in probe.reason
    from burnin.module import Skip

    with pytest.raises(Skip, match="link attributes"):
        module.check(RecordingContext(module.name, module.host))


def test_no_pci_bus_at_all_is_unavailable(tmp_path):
    probe = PcieModule(Host(tmp_path)).probe()
    assert not probe.available and "no PCI devices" in probe.reason


def test_finish_without_a_baseline_skips(tmp_path):
    from burnin.module import Skip

    module = PcieModule(Host(tree(tmp_path)))
    with pytest.raises(Skip):
        module.finish(RecordingContext(module.name, module.host, phase="finish"))


def test_this_machine_is_judged_honestly():
    """On the live host: either there are PCIe links to judge, or the module says it cannot test."""
    module = PcieModule(Host("/"))
    probe = module.probe()
    has_links = any(p.name == "current_link_speed" for p in Path("/sys/bus/pci/devices").glob("*/*"))
    assert probe.available == has_links
