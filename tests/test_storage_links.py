"""The storage-links module on a real SAS topology (prometheus/procfs capture), an AHCI tree in the kernel's
format, real smartctl outputs replayed as a capture would, and fault variants that change single values.

See tests/data/storage-links/SOURCE.md for what is real and what each variant changes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from burnin.host import CAPTURE_DIR, Host
from burnin.model import Severity
from burnin.modules.storage_links import (
    StorageLinksModule,
    ahci_max_gbps,
    parse_drive_speed,
    parse_gbps,
    read_sas_phys,
)
from burnin.testing import RecordingContext, run_phases

DATA = Path(__file__).parent / "data" / "storage-links"
SMARTCTL = DATA / "smartctl"
WD_6G_AT_3G = "sat-Western_Digital_Re-WDC_WD3000FYYZ-01UL1B1-sdc.json"
SEAGATE_3G = "ST3500418AS_11.json"
EXOS_6G = "sat-Seagate_Exos_7E8-ST8000NM000A-2KE101-sdi.json"


def tree(tmp_path: Path, base: str, *variants: str, smartctl: dict[str, str] | None = None) -> Path:
    """A copy of a test tree with overlays applied, and smartctl answers recorded as `burnin capture` would."""
    root = tmp_path / base
    if not root.exists():
        shutil.copytree(DATA / base, root, symlinks=True)
    for variant in variants:
        overlay = DATA / "variants" / variant
        for src in overlay.rglob("*"):
            if src.is_file():
                dst = root / src.relative_to(overlay)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, dst)
    if smartctl:
        (root / CAPTURE_DIR).mkdir(exist_ok=True)
        (root / CAPTURE_DIR / "commands.json").write_text(json.dumps([
            {"argv": ["smartctl", "-i", "-j", f"/dev/{disk}"], "returncode": 0, "stdout": (SMARTCTL / f).read_text(),
             "stderr": "", "duration_s": 0.1} for disk, f in smartctl.items()]))
    return root


def check(root: Path, **settings) -> RecordingContext:
    module = StorageLinksModule(Host(root), settings)
    ctx = RecordingContext(module.name, module.host)
    module.check(ctx)
    return ctx


def by_code(ctx, code):
    return [f for f in ctx.findings if f.code == code]


# -- parsers -----------------------------------------------------------------------------------------
def test_link_rates_parse_in_sas_sata_and_smartctl_spelling():
    assert parse_gbps("12.0 Gbit") == 12.0
    assert parse_gbps("3.0 Gbps") == 3.0
    assert parse_gbps("6.0 Gb/s") == 6.0
    assert parse_gbps("Unknown") is None and parse_gbps("<unknown>") is None and parse_gbps("Phy disabled") is None


def test_ahci_caps_give_the_controllers_maximum_speed():
    assert ahci_max_gbps("e730ff45") == 6.0  # an Intel 00:1f.2 controller (real value)
    assert ahci_max_gbps("40141f05") == 1.5
    assert ahci_max_gbps("garbage") is None


def test_smartctl_json_gives_drive_maximum_and_current_speed():
    speed = parse_drive_speed((SMARTCTL / WD_6G_AT_3G).read_text())
    assert (speed.max_gbps, speed.current_gbps, speed.sata_version) == (6.0, 3.0, "SATA 3.0")
    assert parse_drive_speed((SMARTCTL / SEAGATE_3G).read_text()).max_gbps == 3.0
    assert parse_drive_speed("not json") is None


# -- SAS ---------------------------------------------------------------------------------------------
def test_real_sas_tree_reads_topology_rates_and_counters():
    phys = read_sas_phys(Host(DATA / "procfs-fixture"))
    phy = phys["phy-11:0:2"]
    assert (phy.host, phy.parent, phy.phy_identifier, phy.negotiated_gbps, phy.max_gbps) == \
        ("host11", "expander-11:0", "2", 6.0, 12.0)
    assert phy.attached.disks == ("sdv",) and phy.attached.sata and phy.attached.bay == "58"
    assert phy.counters["invalid_dword_count"] == 18
    assert phys["phy-11:8"].attached.name == "expander-11:0" and phys["phy-11:8"].attached.max_gbps == 12.0


def test_sata_drives_at_6g_behind_a_12g_expander_are_not_slow_links(tmp_path):
    ctx = check(tree(tmp_path, "procfs-fixture"))
    slow = {f.component for f in by_code(ctx, "sas-link-slow")}
    assert "sas-phy:host11/phy-11:0:2" not in slow and "sas-phy:host11/phy-11:0:6" not in slow
    assert not any(f.severity is Severity.FAIL for f in ctx.findings)


def test_link_whose_other_end_is_not_visible_is_only_info_by_default(tmp_path):
    # Host PHYs 12-15 run at 6 of 12 Gbit to expander-11:1, whose PHYs the capture does not hold.
    ctx = check(tree(tmp_path, "procfs-fixture"))
    unverified = [f for f in by_code(ctx, "sas-link-slow") if f.evidence["attached"] == "expander-11:1"]
    assert len(unverified) == 4 and all(f.severity is Severity.INFO for f in unverified)
    assert not unverified[0].evidence["both_ends_known"]
    ctx = check(tree(tmp_path, "procfs-fixture"), slow_link_unverified="warn")
    assert {f.severity for f in by_code(ctx, "sas-link-slow")} == {Severity.WARN}


def test_errors_counted_since_boot_are_one_info_per_controller(tmp_path):
    ctx = check(tree(tmp_path, "procfs-fixture"))
    [f] = by_code(ctx, "sas-phy-errors-since-boot")
    assert f.severity is Severity.INFO and f.component == "sas-controller:host11"
    assert set(f.evidence["phys"]) == {"phy-11:0:2", "phy-11:0:4", "phy-11:0:6"}
    assert "HBA 9400-8i8e" in f.message


def test_host_phy_slower_than_it_and_the_expander_support_warns_cable_or_backplane(tmp_path):
    ctx = check(tree(tmp_path, "procfs-fixture", "host-phy-slow"))
    [f] = [f for f in by_code(ctx, "sas-link-slow") if f.component == "sas-phy:host11/phy-11:9"]
    assert f.severity is Severity.WARN and f.evidence["both_ends_known"]
    assert f.evidence["attached_max_gbps"] == 12.0 and f.evidence["negotiated_gbps"] == 6.0
    assert "cable or backplane" in f.message and "host11" in f.message


def test_sata_drive_behind_sas_slowed_warns_when_smartctl_knows_its_maximum(tmp_path):
    root = tree(tmp_path, "procfs-fixture", "sata-drive-slow", smartctl={"sdv": EXOS_6G})
    ctx = check(root)
    [f] = [f for f in by_code(ctx, "sas-link-slow") if f.component == "sas-phy:host11/phy-11:0:2"]
    assert f.severity is Severity.WARN and f.evidence["attached_max_source"] == "smartctl"
    assert "sdv" in f.message and f.evidence["achievable_gbps"] == 6.0
    # Without smartctl only the SATA ceiling is known: the drive could be an older 3 Gb/s one.
    ctx = check(tree(tmp_path / "b", "procfs-fixture", "sata-drive-slow"))
    [f] = [f for f in by_code(ctx, "sas-link-slow") if f.component == "sas-phy:host11/phy-11:0:2"]
    assert f.severity is Severity.INFO


def test_sas_error_counters_growing_during_the_run_fail_naming_controller_and_phy(tmp_path):
    root = tree(tmp_path, "procfs-fixture")
    module = StorageLinksModule(Host(root))
    ctx = RecordingContext(module.name, module.host)
    module.check(ctx)
    tree(tmp_path, "procfs-fixture", "errors-grown")  # the run: PHY 4's counters grow
    module.finish(ctx)
    [f] = by_code(ctx, "sas-phy-errors")
    assert f.severity is Severity.FAIL and f.component == "sas-phy:host11/phy-11:0:4"
    assert f.evidence["grown"] == {"invalid_dword_count": 12, "running_disparity_error_count": 8}
    assert "host11" in f.message and "phy-11:0:4" in f.message and "sdw" in f.message


def test_error_growth_below_the_setting_does_not_fail(tmp_path):
    root = tree(tmp_path, "procfs-fixture")
    module = StorageLinksModule(Host(root), {"error_growth_min": 50})
    ctx = RecordingContext(module.name, module.host)
    module.check(ctx)
    tree(tmp_path, "procfs-fixture", "errors-grown")
    module.finish(ctx)
    assert by_code(ctx, "sas-phy-errors") == []


# -- SATA --------------------------------------------------------------------------------------------
def test_sata_drive_at_3g_of_6g_on_a_6g_port_warns_naming_the_disk(tmp_path):
    ctx = check(tree(tmp_path, "ata-ahci", smartctl={"sda": WD_6G_AT_3G, "sdb": EXOS_6G}))
    [f] = by_code(ctx, "sata-link-slow")
    assert f.severity is Severity.WARN and f.component == "disk:/dev/sda"
    assert (f.evidence["current_gbps"], f.evidence["port_max_gbps"], f.evidence["drive_max_gbps"]) == (3.0, 6.0, 6.0)
    assert "/dev/sda" in f.message and "cable or backplane" in f.message


def test_sata_ii_drive_at_its_own_maximum_is_not_slow(tmp_path):
    ctx = check(tree(tmp_path, "ata-ahci", smartctl={"sda": SEAGATE_3G, "sdb": EXOS_6G}))
    assert by_code(ctx, "sata-link-slow") == []


def test_without_smartctl_a_slow_sata_link_is_only_info(tmp_path):
    ctx = check(tree(tmp_path, "ata-ahci"))
    [f] = by_code(ctx, "sata-link-slow")
    assert f.severity is Severity.INFO and f.evidence["drive_max_gbps"] is None
    assert any("smartctl is not available" in n["message"] for n in ctx.notes)


def test_empty_port_and_optical_drive_are_not_judged(tmp_path):
    ctx = check(tree(tmp_path, "ata-ahci", smartctl={"sda": SEAGATE_3G, "sdb": EXOS_6G}))
    assert not any(f.evidence.get("port") in ("ata3", "ata4") for f in ctx.findings)


def test_link_the_kernel_slowed_after_errors_says_so(tmp_path):
    ctx = check(tree(tmp_path, "ata-ahci", "kernel-limited", smartctl={"sda": WD_6G_AT_3G, "sdb": EXOS_6G}))
    [f] = by_code(ctx, "sata-link-slow")
    assert f.evidence["kernel_limited"] and "limited the link to 3 Gb/s" in f.message


# -- nothing to read ---------------------------------------------------------------------------------
def test_machine_without_sas_or_sata_links_is_unavailable_with_the_reason(tmp_path):
    probe = StorageLinksModule(Host(tmp_path)).probe()
    assert not probe.available and "no SAS PHYs" in probe.reason and "ata_link" in probe.reason


def test_whole_module_on_the_real_tree_runs_check_and_finish(tmp_path):
    ctx = run_phases(StorageLinksModule(Host(tree(tmp_path, "procfs-fixture"))))
    assert by_code(ctx, "sas-phy-errors") == []  # nothing changed between check and finish
    assert any("HBA 9400-8i8e" in n["message"] for n in ctx.notes)


@pytest.mark.parametrize("package", ["burnin.modules.disk", "burnin.modules.network", "burnin.modules.storage_links"])
def test_every_finding_code_in_the_source_is_in_the_docstring_table(package):
    """The module docstring is where a buyer reads what each code means: no code may be emitted unlisted."""
    import importlib
    import re

    module = importlib.import_module(package)
    files = [Path(module.__file__)]
    if files[0].name == "__init__.py":
        files = sorted(files[0].parent.glob("*.py"))
    call = re.compile(r'\b(?:fail|warn|info|finding|Judgement|_f)\((?:[^()"]|\([^()]*\)|f?"[^"]*")*?'
                      r'(?<!f)"([a-z0-9]+(?:-[a-z0-9]+)+)"')
    codes = {code for f in files for code in call.findall(f.read_text())}
    assert len(codes) >= 4
    table = module.__doc__.split("Findings", 1)[1]
    assert sorted(c for c in codes if not re.search(rf"^\|.*`{re.escape(c)}`.*\|", table, re.M)) == []
