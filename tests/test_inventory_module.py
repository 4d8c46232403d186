"""The inventory module and its CLI: claims (--expect), the journal's inventory records, vanished hardware."""

import json
import shutil

from click.testing import CliRunner

from burnin.cli import main
from burnin.host import Host
from burnin.inventory import collect
from burnin.journal import read
from burnin.model import Severity
from burnin.modules.inventory import InventoryModule, changes, identities
from burnin.testing import run_phases

PROCFS = "tests/data/sysfs/procfs"


def test_a_disk_that_vanishes_during_the_run_fails_naming_it(tmp_path, data_dir):
    root = tmp_path / "root"
    shutil.copytree(data_dir / "sysfs/procfs", root, symlinks=True)
    host = Host(root)
    start = collect(host)
    module = InventoryModule(host)
    ctx = run_phases(module, phases=("check",), inventory=start)
    (root / "sys/block/sdw").unlink()  # the disk drops off its controller mid-run
    ctx.phase = "finish"
    module.finish(ctx)
    vanished = [f for f in ctx.findings if f.code == "hardware-vanished"]
    assert len(vanished) == 1 and vanished[0].severity is Severity.FAIL
    sdw = next(d for d in start.disks if d.name == "sdw")
    assert vanished[0].component.startswith("disk:/dev/sdw")
    if sdw.serial:
        assert sdw.serial in vanished[0].component


def test_identities_match_by_serial_so_renamed_disks_are_not_changes(data_dir):
    inv = collect(Host(data_dir / "sysfs/procfs"))
    before = identities(inv)
    assert any(k.startswith("disk:") for k in before) and any(k.startswith("cpu:") for k in before)
    assert changes(before, dict(before)) == ([], [])


def test_claims_template_of_this_machine_holds_for_this_machine(tmp_path):
    template = CliRunner().invoke(main, ["inventory", "--sysroot", PROCFS, "--expect-template"])
    assert template.exit_code == 0 and "[cpu]" in template.output
    claims = tmp_path / "claims.toml"
    claims.write_text(template.output)
    checked = CliRunner().invoke(main, ["inventory", "--sysroot", PROCFS, "--expect", str(claims), "--json"])
    assert checked.exit_code == 0, checked.output
    result = json.loads(checked.stdout)
    assert result["claims"] and all(c["ok"] is not False for c in result["claims"])


def test_check_with_one_wrong_claim_exits_1_and_names_it(tmp_path):
    claims = tmp_path / "claims.toml"
    claims.write_text('[cpu]\nthreads = 64\n')
    journal = tmp_path / "j.jsonl"
    result = CliRunner().invoke(main, ["check", "--profile", "ci", "--sysroot", PROCFS, "--only", "inventory",
                                       "--expect", str(claims), "--journal", str(journal), "--json"])
    assert result.exit_code == 1, result.output
    out = json.loads(result.stdout)
    mismatch = [f for f in out["findings"] if f["code"] == "claim-mismatch"]
    assert [f["component"] for f in mismatch] == ["claim:cpu.threads"]
    assert mismatch[0]["evidence"]["expected"] == 64 and mismatch[0]["evidence"]["found"] == 2
    assert "claim:cpu.threads" in result.stderr  # the verdict block names it
    records = read(journal)
    inventories = records.of_type("inventory")
    assert [r["when"] for r in inventories] == ["start", "end"]
    assert records.records[1]["type"] == "inventory"  # right after run_start
    assert inventories[0]["claims"][0]["key"] == "cpu.threads" and inventories[0]["claims"][0]["ok"] is False


def test_malformed_claims_file_is_one_line_and_exit_2(tmp_path):
    claims = tmp_path / "claims.toml"
    claims.write_text('[cpu]\nthreads = "many"\n')
    result = CliRunner().invoke(main, ["check", "--expect", str(claims), "--journal", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0 and f"{claims}:2" in result.stderr
    assert not list(tmp_path.glob("*.jsonl"))


def test_inventory_of_this_machine_is_quick_and_matches_the_os():
    import os

    result = CliRunner().invoke(main, ["inventory", "--json"])
    assert result.exit_code == 0
    inv = json.loads(result.stdout)["inventory"]
    assert inv["cpu"]["threads"] == os.cpu_count()
    assert sorted(n["name"] for n in inv["nics"]) == sorted(
        n for n in os.listdir("/sys/class/net") if os.path.exists(f"/sys/class/net/{n}/device"))


def test_dmidecode_dump_that_is_not_one_is_a_usage_error(tmp_path):
    junk = tmp_path / "dump.txt"
    junk.write_text("hello\n")
    result = CliRunner().invoke(main, ["inventory", "--dmidecode", str(junk)])
    assert result.exit_code == 2 and "dump.txt" in result.stderr
