"""EDAC sysfs reader on real layouts (tests/data/edac/SOURCE.md): labels, csrow/channel and DIMM layers, growth."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from burnin.host import Host
from burnin.tools import edac

DATA = Path(__file__).parent / "data" / "edac"
MC = "sys/devices/system/edac/mc"


def copy_tree(name: str, tmp_path: Path) -> Path:
    root = tmp_path / name
    shutil.copytree(DATA / name, root)
    return root


def bump(root: Path, relative: str, by: int) -> None:
    path = root / MC / relative
    path.write_text(f"{int(path.read_text()) + by}\n")


def test_no_edac_driver_is_an_empty_snapshot_not_an_error(tmp_path):
    assert not edac.read_edac(Host(tmp_path)).available
    (tmp_path / MC).mkdir(parents=True)  # edac_core loaded, no memory controller driver
    snapshot = edac.read_edac(Host(tmp_path))
    assert snapshot.present and not snapshot.available
    assert edac.counters(snapshot) == {} and edac.totals(snapshot) == {"ce": 0, "ue": 0}


def test_sb_edac_dimm_layer_gives_labels_locations_and_the_5539_corrected_errors():
    snapshot = edac.read_edac(Host(DATA / "s2600kpr-sb_edac"))
    assert [c.mc for c in snapshot.controllers] == [0, 1]
    mc1 = snapshot.controllers[1]
    assert [d.key for d in mc1.dimms] == ["mc1/dimm0", "mc1/dimm3", "mc1/dimm6", "mc1/dimm9"]
    first = mc1.dimms[0]
    assert first.label == "CPU_SrcID#1_Ha#0_Chan#0_DIMM#0"
    assert first.location == "channel 0 slot 0"
    assert (first.ce_count, first.ue_count) == (5539, 0)
    # the legacy csrow layer carries the same labels per channel
    assert [(ch.channel, ch.label, ch.ce_count) for ch in mc1.csrows[0].channels][0] == (
        0, "CPU_SrcID#1_Ha#0_Chan#0_DIMM#0", 5539)
    counters = edac.counters(snapshot)
    # the DIMM layer is the finest: counted there, not again per csrow channel
    assert counters[("mc1/dimm0", "ce")].count == 5539
    assert ("mc1/csrow0/ch0", "ce") not in counters
    assert counters[("mc1/noinfo", "ce")].count == 0
    assert edac.totals(snapshot) == {"ce": 5539, "ue": 0}


def test_ghes_labels_come_from_the_dmi_table_and_counts_match_the_post():
    snapshot = edac.read_edac(Host(DATA / "thunderx2-ghes"))
    labels = {d.key: d.label for ctl in snapshot.controllers for d in ctl.dimms}
    assert labels["mc0/dimm0"] == "N0 DIMM_A0" and labels["mc1/dimm7"] == "N1 DIMM_P0"
    counters = edac.counters(snapshot)
    nonzero = {k: c.count for k, c in counters.items() if c.count}
    assert nonzero == {("mc0/dimm0", "ce"): 1, ("mc0/dimm3", "ce"): 1, ("mc0/dimm4", "ce"): 1,
                       ("mc0/dimm6", "ce"): 2, ("mc1/dimm0", "ce"): 1, ("mc1/dimm3", "ce"): 1,
                       ("mc1/dimm6", "ce"): 2}
    assert edac.totals(snapshot)["ce"] == 9  # mc0 ce_count 5 + mc1 ce_count 4


def test_csrow_only_layout_counts_per_csrow_and_keeps_unplaced_errors_apart():
    snapshot = edac.read_edac(Host(DATA / "node-exporter"))
    ctl = snapshot.controllers[0]
    assert (ctl.ce_count, ctl.ue_count, ctl.ce_noinfo_count, ctl.ue_noinfo_count) == (1, 5, 2, 6)
    counters = edac.counters(snapshot)
    assert counters[("mc0/csrow0", "ce")].count == 3
    assert counters[("mc0/csrow0", "ue")].count == 4
    assert counters[("mc0/noinfo", "ce")].count == 2  # ce_noinfo_count
    assert counters[("mc0/noinfo", "ue")].count == 6  # ue_noinfo_count beats 5 - 4 = 1
    assert counters[("mc0/csrow0", "ce")].location == "csrow 0"


def test_csrow_channel_layout_is_used_when_no_dimm_directories_exist(tmp_path):
    root = copy_tree("s2600kpr-sb_edac", tmp_path)
    for d in (root / MC).glob("mc*/dimm*"):
        shutil.rmtree(d)
    counters = edac.counters(edac.read_edac(Host(root)))
    ch0 = counters[("mc1/csrow0/ch0", "ce")]
    assert (ch0.count, ch0.label, ch0.location) == (5539, "CPU_SrcID#1_Ha#0_Chan#0_DIMM#0", "csrow 0 channel 0")
    # uncorrected errors have no per-channel file: per csrow, with the channels' labels
    ue = counters[("mc1/csrow0", "ue")]
    assert ue.label.startswith("CPU_SrcID#1_Ha#0_Chan#0_DIMM#0, CPU_SrcID#1_Ha#0_Chan#1_DIMM#0")


def test_increases_between_two_readings_name_the_dimm(tmp_path):
    root = copy_tree("s2600kpr-sb_edac", tmp_path)
    before = edac.read_edac(Host(root))
    assert edac.increases(before, before) == []
    bump(root, "mc1/dimm0/dimm_ce_count", 12)
    bump(root, "mc1/ce_count", 12)
    bump(root, "mc0/dimm6/dimm_ue_count", 1)
    bump(root, "mc0/ue_count", 1)
    after = edac.read_edac(Host(root))
    grown = {(i.counter.key, i.counter.kind): (i.before, i.after, i.counter.label)
             for i in edac.increases(before, after)}
    assert grown == {
        ("mc1/dimm0", "ce"): (5539, 5551, "CPU_SrcID#1_Ha#0_Chan#0_DIMM#0"),
        ("mc0/dimm6", "ue"): (0, 1, "CPU_SrcID#0_Ha#0_Chan#2_DIMM#0"),
    }


def test_an_error_the_driver_cannot_place_shows_as_controller_growth(tmp_path):
    root = copy_tree("thunderx2-ghes", tmp_path)
    before = edac.read_edac(Host(root))
    bump(root, "mc1/ce_count", 3)
    bump(root, "mc1/ce_noinfo_count", 3)
    grown = edac.increases(before, edac.read_edac(Host(root)))
    assert [(i.counter.key, i.counter.kind, i.delta) for i in grown] == [("mc1/noinfo", "ce", 3)]


def test_reset_counters_are_not_negative_growth(tmp_path):
    root = copy_tree("s2600kpr-sb_edac", tmp_path)
    before = edac.read_edac(Host(root))
    (root / MC / "mc1/dimm0/dimm_ce_count").write_text("2\n")  # reset_counters, then 2 new errors
    (root / MC / "mc1/ce_count").write_text("2\n")
    grown = edac.increases(before, edac.read_edac(Host(root)))
    assert [(i.counter.key, i.before, i.after) for i in grown] == [("mc1/dimm0", 0, 2)]


@pytest.mark.parametrize("tree", ["thunderx2-ghes", "s2600kpr-sb_edac"])
def test_errors_are_counted_once_at_their_finest_place(tree):
    """Where the driver's totals are consistent, the per-place counters add up to each controller's total."""
    snapshot = edac.read_edac(Host(DATA / tree))
    for ctl in snapshot.controllers:
        for kind, total in (("ce", ctl.ce_count), ("ue", ctl.ue_count)):
            assert sum(c.count for c in edac.controller_counters(ctl) if c.kind == kind) == total
