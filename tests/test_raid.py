"""The raid module on captured outputs (tests/data/raid/SOURCE.md): /proc/mdstat of healthy, degraded, failed and
recovering arrays; storcli/perccli JSON, ssacli, arcconf and sas3ircu outputs of real controllers and variants
of them; and the whole module on a captured-style tree and with stand-in vendor tools on PATH."""

import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from burnin.host import Host
from burnin.inventory.claims import parse_claims
from burnin.model import Severity
from burnin.modules.raid import RaidModule, judge_claims, judge_controller, judge_growth, judge_md
from burnin.modules.raid.sources import find_tool, kernel_controllers
from burnin.testing import RecordingContext, run_phases
from burnin.tools import arcconf, mdstat, sasircu, ssacli, storcli
from burnin.tools.raid_records import Controller, PhysicalDrive

DATA = Path(__file__).parent / "data" / "raid"
FAIL, WARN = Severity.FAIL, Severity.WARN


def md(name):
    return mdstat.parse_mdstat((DATA / "mdstat" / name).read_text())


def judged_md(name):
    return [j for a in md(name) for j in judge_md(a, None)]


def codes(judgements, severity=None):
    return sorted(j.code for j in judgements if severity is None or j.severity is severity)


# -- software RAID on real /proc/mdstat -----------------------------------------------------------
def test_a_healthy_raid6_passes_and_its_eight_members_are_read():
    (array,) = md("healthy-raid6")
    assert (array.level, array.raid_disks, array.active_disks, len(array.members)) == ("raid6", 8, 8, 8)
    assert judge_md(array, None) == []


def test_a_failed_member_fails_naming_the_array_and_the_member():
    found = judged_md("failed-member-raid5")
    assert codes(found) == ["md-array-degraded", "md-member-failed"]
    member = next(j for j in found if j.code == "md-member-failed")
    assert member.component == "md:/dev/md0/sdc1" and "/dev/sdc1" in member.message
    assert next(j for j in found if j.code == "md-array-degraded").evidence["missing"] == 1


def test_a_degraded_array_with_a_missing_member_fails_naming_the_empty_slot():
    (finding,) = judged_md("degraded-missing-member")
    assert (finding.code, finding.severity, finding.component) == ("md-array-degraded", FAIL, "md:/dev/md2")
    assert "slot 0 empty" in finding.message


def test_recovery_warns_with_its_progress_and_the_faulty_member_still_fails():
    found = judged_md("failed-onto-spare")
    assert codes(found, FAIL) == ["md-member-failed"] and codes(found, WARN) == ["md-array-recovering"]
    recovering = next(j for j in found if j.code == "md-array-recovering")
    assert recovering.evidence["progress_pct"] == 0.1 and "122.9min" in recovering.message
    (raid6,) = judged_md("recovery-raid6")
    assert raid6.code == "md-array-recovering" and raid6.evidence["progress_pct"] == 19.6


def test_a_check_in_progress_a_delayed_resync_and_an_imsm_container_are_not_faults():
    assert judged_md("check-and-delayed-resync") == []
    assert judged_md("imsm-container") == []


def test_mismatches_after_a_check_warn():
    (array,) = md("healthy-raid6")
    sysfs = mdstat.MdSysfs("md0", "clean", "raid6", 8, 0, "idle", "none", 128, "check", {})
    (finding,) = judge_md(array, sysfs)
    assert (finding.code, finding.evidence["mismatch_cnt"]) == ("md-mismatch", 128)


# -- the whole module on a tree, a member failed during the run -----------------------------------
def md_tree(root: Path, mdstat_name: str, faulty: str | None = None) -> None:
    """/proc/mdstat from a capture, and the sysfs the kernel gives for it (attributes as drivers/md/md.c names
    them; SYNTHESIZED, see SOURCE.md): partitions under their disks, md/dev-X/state."""
    (root / "proc").mkdir(parents=True, exist_ok=True)
    (root / "proc" / "mdstat").write_text((DATA / "mdstat" / mdstat_name).read_text())
    for array in mdstat.parse_mdstat((DATA / "mdstat" / mdstat_name).read_text()):
        base = root / "sys" / "block" / array.name / "md"
        base.mkdir(parents=True, exist_ok=True)
        (base / "array_state").write_text("clean\n")
        (base / "sync_action").write_text("idle\n")
        (base / "mismatch_cnt").write_text("0\n")
        for m in array.members:
            disk = m.device.rstrip("0123456789")
            part = root / "sys" / "devices" / "pci0000:00" / "block" / disk / m.device
            part.mkdir(parents=True, exist_ok=True)
            (part / "partition").write_text("1\n")
            link = root / "sys" / "class" / "block" / m.device
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink():
                link.symlink_to(os.path.relpath(part, link.parent))
            dev = base / f"dev-{m.device}"
            dev.mkdir(exist_ok=True)
            (dev / "state").write_text("faulty\n" if m.device == faulty or m.faulty else "in_sync\n")
            (dev / "errors").write_text("0\n")


INVENTORY = SimpleNamespace(disks=[SimpleNamespace(name="sdc", serial="WD-WCC4N1234567"),
                                   SimpleNamespace(name="sdb", serial="WD-WCC4N7654321")])


def test_the_module_names_the_failed_members_disk_serial_on_a_tree(tmp_path):
    md_tree(tmp_path, "failed-member-raid5")
    module = RaidModule(Host(tmp_path))
    assert module.probe().available
    ctx = run_phases(module, phases=("check",), inventory=INVENTORY)
    failed = next(f for f in ctx.findings if f.code == "md-member-failed")
    assert "S/N WD-WCC4N1234567" in failed.message and failed.evidence["disk"] == "sdc"


def test_a_member_failed_during_the_run_fails_within_seconds(tmp_path):
    md_tree(tmp_path, "healthy-raid6")
    module = RaidModule(Host(tmp_path), {"md_interval_s": 0.2})
    ctx = RecordingContext("raid", module.host, "check", seconds=30, inventory=INVENTORY)
    module.check(ctx)
    assert ctx.findings == []
    ctx.phase = "run"
    runner = threading.Thread(target=module.run, args=(ctx,))
    runner.start()
    try:
        failed_at = time.monotonic()
        text = (tmp_path / "proc" / "mdstat").read_text().replace("sdc3[4]", "sdc3[4](F)").replace(
            "[8/8] [UUUUUUUU]", "[8/7] [UUUU_UUU]")
        (tmp_path / "proc" / "mdstat").write_text(text)
        deadline = failed_at + 10
        while time.monotonic() < deadline and "md-member-failed" not in ctx.codes():
            time.sleep(0.05)
        assert "md-member-failed" in ctx.codes() and time.monotonic() - failed_at < 10
    finally:
        ctx._cancel.set()
        runner.join(10)
    assert ctx.codes(FAIL).count("md-member-failed") == 1  # reported once, not every sample


# -- hardware RAID: storcli / perccli -------------------------------------------------------------
def storcli_controllers(name, tool="storcli"):
    controllers, problems = storcli.parse_show_all((DATA / name).read_text(), tool)
    assert problems == []
    return controllers


def test_a_healthy_megaraid_and_perc_pass_with_model_pci_firmware_and_cache():
    (mr,) = storcli_controllers("storcli/mr216i-call-show-all.json")
    assert (mr.model, mr.pci_address, mr.slot, mr.cache_mb) == ("HPE MR216i-a Gen10+", "0000:64:00.0", "12", 4096)
    assert mr.battery.present is False and mr.firmware.startswith("5.160.03-3444")
    assert judge_controller(mr) == []
    (perc,) = storcli_controllers("perccli/h345-call-show-all.json", "perccli")
    assert (perc.model, perc.pci_address, perc.cache_mb) == ("PERC H345 Front", "0000:65:00.0", 0)
    assert judge_controller(perc) == []


def test_a_degraded_virtual_drive_fails_naming_the_controller_and_the_drive_being_rebuilt():
    (c,) = storcli_controllers("storcli/mr216i-degraded.SYNTHESIZED.json")
    found = judge_controller(c)
    assert codes(found, FAIL) == ["raid-vd-degraded"]
    assert codes(found, WARN) == ["raid-controller-status", "raid-pd-rebuilding"]
    vd = next(j for j in found if j.code == "raid-vd-degraded")
    assert vd.component == "raid:0000:64:00.0/vd0/239" and "HPE MR216i-a Gen10+" in vd.message
    assert next(j for j in found if j.code == "raid-pd-rebuilding").evidence["drive"] == "251:2"


def test_a_failed_cachevault_fails_and_cache_memory_errors_warn():
    (c,) = storcli_controllers("storcli/mr216i-cachevault-failed.SYNTHESIZED.json")
    found = judge_controller(c)
    assert codes(found) == ["raid-battery-failed", "raid-controller-memory-errors"]
    battery = next(j for j in found if j.code == "raid-battery-failed")
    assert battery.severity is FAIL and battery.evidence["state"] == "Failed" and "CVPM05" in battery.message


def test_a_foreign_configuration_warns_with_its_drives():
    (c,) = storcli_controllers("storcli/mr216i-foreign.SYNTHESIZED.json")
    (finding,) = judge_controller(c)
    assert (finding.code, finding.severity, finding.evidence["drives"]) == ("raid-foreign-config", WARN,
                                                                          ["251:3", "251:4"])


def test_vd_properties_and_drive_counters_merge_and_growth_fails_with_the_serial():
    (c,) = storcli_controllers("storcli/mr216i-call-show-all.json")
    vds = storcli.parse_vds((DATA / "storcli/mr216i-c0-vall-show-all.json").read_text())
    (merged,) = storcli.merge([c], vds, {})
    assert merged.virtual_drives[0].os_device == "/dev/sda"
    assert merged.virtual_drives[0].write_back_configured is False  # asked write-through: not "forced"
    before = storcli.parse_drives((DATA / "storcli/c0-e12-s0-show-all.json").read_text())["0"]["12:0"]
    after = storcli.parse_drives((DATA / "storcli/c0-e12-s0-errors.SYNTHESIZED.json").read_text())["0"]["12:0"]
    assert before["serial"] == "S42VNF0K516979R" and before["media_errors"] == 0

    def ctl(info):
        pd = PhysicalDrive("12:0", "Onln", "ok", serial=info["serial"], media_errors=info["media_errors"],
                           other_errors=info["other_errors"], predictive_failures=info["predictive_failures"])
        return Controller("storcli", "0", "X", pci_address="0000:01:00.0", physical_drives=(pd,))

    (grew,) = judge_growth([ctl(before)], [ctl(after)])
    assert grew.code == "raid-counter-grew" and grew.evidence["grown"] == {"pd 12:0 media_errors": 4,
                                                                          "pd 12:0 predictive_failures": 1}
    assert grew.evidence["serials"] == {"12:0": "S42VNF0K516979R"}
    assert "raid-pd-predictive-failure" in codes(judge_controller(ctl(after)))


def test_write_back_asked_but_write_through_in_force_warns():
    (c,) = storcli_controllers("storcli/mr216i-call-show-all.json")
    vds = storcli.parse_vds((DATA / "storcli/mr216i-c0-vall-show-all.json").read_text())
    vds["0"]["239"]["properties"]["Write Cache(initial setting)"] = "WriteBack"
    (merged,) = storcli.merge([c], vds, {})
    assert codes(judge_controller(merged)) == ["raid-cache-write-through"]


# -- ssacli, arcconf, sas3ircu ---------------------------------------------------------------------
def test_ssacli_media_error_warning_interim_recovery_and_a_failed_array():
    (p816,) = ssacli.parse_config((DATA / "ssacli/p816i-config.txt").read_text())
    assert len(p816.virtual_drives) == 4 and codes(judge_controller(p816)) == ["raid-controller-warning"]
    (e200,) = ssacli.parse_config((DATA / "ssacli/e200i-interim-recovery.txt").read_text())
    assert codes(judge_controller(e200), FAIL) == ["raid-vd-degraded"]
    (p410,) = ssacli.merge_status(ssacli.parse_config((DATA / "ssacli/p410-ld-array-failed.txt").read_text()),
                                  ssacli.parse_status((DATA / "ssacli/p410-status.txt").read_text()))
    assert p410.status_ok and p410.battery.state == "OK"
    (finding,) = judge_controller(p410)
    assert finding.code == "raid-vd-degraded" and finding.evidence["virtual_drive"] == "logicaldrive 2"


def test_arcconf_healthy_passes_and_a_failed_battery_degraded_array_and_failed_drive_fail():
    healthy = arcconf.parse_getconfig((DATA / "arcconf/servraid8k-getconfig.txt").read_text())
    assert (healthy.model, healthy.cache_mb, healthy.battery.state) == ("IBM ServeRAID 8k", 256, "Optimal")
    assert judge_controller(healthy) == []
    bad = arcconf.parse_getconfig((DATA / "arcconf/servraid8k-degraded-battery-failed.SYNTHESIZED.txt").read_text())
    assert codes(judge_controller(bad)) == ["raid-battery-failed", "raid-pd-failed", "raid-vd-degraded"]


def test_sas3ircu_volume_degraded_and_the_failed_drive_named_by_serial():
    assert sasircu.parse_list((DATA / "sas3ircu/list.txt").read_text()) == {"0": "0000:01:00.0",
                                                                            "1": "0000:05:00.0"}
    healthy = sasircu.parse_display((DATA / "sas3ircu/sas3008-display.txt").read_text())
    assert judge_controller(healthy) == [] and healthy.firmware == "16.00.11.00"
    bad = sasircu.parse_display((DATA / "sas3ircu/sas3008-degraded.SYNTHESIZED.txt").read_text())
    found = judge_controller(bad)
    assert codes(found) == ["raid-pd-failed", "raid-vd-degraded"]
    assert "S/N BNA7N5994ICB47T3S" in next(j for j in found if j.code == "raid-pd-failed").component


# -- the whole module with stand-in vendor tools, claims, the kernel's view ------------------------
@pytest.fixture
def fake_storcli(tmp_path, monkeypatch):
    """storcli64 on PATH that prints a captured file per command (chosen through environment variables)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "storcli64"
    script.write_text('#!/bin/sh\ncase "$1" in\n /call) cat "$SHOW_ALL";;\n /call/vall) cat "$VALL";;\n'
                      ' *) echo "{\\"Controllers\\": []}";;\nesac\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("SHOW_ALL", str(DATA / "storcli/mr216i-call-show-all.json"))
    monkeypatch.setenv("VALL", str(DATA / "storcli/mr216i-c0-vall-show-all.json"))
    return monkeypatch


def claims(text):
    import tomllib

    return parse_claims(tomllib.loads(text), text)


def test_the_module_reads_storcli_judges_claims_and_counter_growth(fake_storcli, tmp_path):
    module = RaidModule(Host("/"), {"tool_dirs": [str(tmp_path / "none")]})
    assert module.probe().available
    promised = claims('[raid]\ncontroller = "PERC H730P"\ncache_mb = 2048\nbattery = true\n')
    ctx = run_phases(module, phases=("check",), claims=promised)
    by_key = {f.component: f.code for f in ctx.findings if f.component.startswith("claim:")}
    assert by_key == {"claim:raid.controller": "claim-mismatch", "claim:raid.cache_mb": "claim-match",
                      "claim:raid.battery": "claim-mismatch"}
    assert [n["data"]["model"] for n in ctx.notes if n["data"].get("tool") == "storcli"] == ["HPE MR216i-a Gen10+"]
    fake_storcli.setenv("SHOW_ALL", str(DATA / "storcli/mr216i-degraded.SYNTHESIZED.json"))
    ctx.phase = "finish"
    module.finish(ctx)
    assert "raid-vd-degraded" in ctx.codes(FAIL)


def test_unreadable_tool_output_is_one_warning_not_a_traceback(fake_storcli, tmp_path):
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{\"Controllers\": [\x00")
    fake_storcli.setenv("SHOW_ALL", str(garbage))
    ctx = run_phases(RaidModule(Host("/"), {"tool_dirs": []}), phases=("check",))
    assert "raid-tool-failed" in ctx.codes(WARN)


def megaraid_tree(root: Path) -> None:
    """A MegaRAID controller as the kernel shows it (scsi_host with proc_name, one volume): SYNTHESIZED."""
    device = root / "sys/devices/pci0000:00/0000:00:03.0/0000:18:00.0/host0"
    (device / "scsi_host/host0").mkdir(parents=True)
    (device / "scsi_host/host0/proc_name").write_text("megaraid_sas\n")
    (root / "sys/class/scsi_host").mkdir(parents=True)
    (root / "sys/class/scsi_host/host0").symlink_to("../../devices/pci0000:00/0000:00:03.0/0000:18:00.0/host0/"
                                                    "scsi_host/host0")
    sdev = device / "target0:2:0/0:2:0:0"
    (sdev / "block/sda").mkdir(parents=True)
    for name, value in (("vendor", "DELL"), ("model", "PERC H730P Mini"), ("state", "offline")):
        (sdev / name).write_text(value + "\n")
    (sdev / "scsi_device/0:2:0:0").mkdir(parents=True)
    (sdev / "scsi_device/0:2:0:0/device").symlink_to("../../../0:2:0:0")
    (root / "sys/class/scsi_device").mkdir(parents=True)
    (root / "sys/class/scsi_device/0:2:0:0").symlink_to(
        "../../devices/pci0000:00/0000:00:03.0/0000:18:00.0/host0/target0:2:0/0:2:0:0/scsi_device/0:2:0:0")


def test_without_the_vendor_tool_the_module_says_what_it_did_not_examine(tmp_path):
    megaraid_tree(tmp_path)
    (kc,) = kernel_controllers(Host(tmp_path))
    assert (kc.driver, kc.pci_address, kc.devices[0].block) == ("megaraid_sas", "0000:18:00.0", "sda")
    module = RaidModule(Host(tmp_path), {"tool_dirs": []})
    assert module.probe().available
    ctx = run_phases(module, phases=("check",), claims=claims("[raid]\ncache_mb = 2048\n"))
    assert ctx.codes(FAIL) == ["raid-volume-offline"]
    unexamined = next(f for f in ctx.findings if f.code == "raid-not-examined")
    assert unexamined.component == "raid:0000:18:00.0" and "cache battery" in unexamined.message
    assert "storcli64" in unexamined.message
    assert "claim-unchecked" in ctx.codes(WARN)


def test_a_tool_on_the_sticks_noexec_folder_is_run_from_a_copy(tmp_path):
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "sas3ircu").write_text("#!/bin/sh\ncat \"$LIST\"\n")  # no execute bit, as on FAT
    found = find_tool(Host("/"), ("sas3ircu",), [str(tools)], copies=str(tmp_path / "run"))
    assert found == str(tmp_path / "run" / "sas3ircu") and os.access(found, os.X_OK)
    assert find_tool(Host("/"), ("sas3ircu",), [str(tmp_path / "missing")], copies=str(tmp_path / "run")) is None


def test_raid_claims_without_any_controller_fail_in_the_inventory():
    promised = claims('[raid]\ncontroller = "PERC H730P"\nbattery = true\n')
    assert judge_claims(promised, [], []) == []  # the raid module leaves it to the inventory, which always runs
    no_pcie = SimpleNamespace(source="sysfs", pcie=SimpleNamespace(devices=[]))
    from burnin.inventory import claims as claims_mod

    checks = claims_mod._raid_checks(promised, no_pcie)
    assert [(c.key, c.ok) for c in checks] == [("raid.controller", False), ("raid.battery", False)]
    megaraid = SimpleNamespace(source="sysfs", pcie=SimpleNamespace(devices=[SimpleNamespace(kind="raid",
                                                                                            driver="megaraid_sas")]))
    assert claims_mod._raid_checks(promised, megaraid) == []  # the raid module checks it


def test_a_capture_records_the_vendor_tools_and_the_module_judges_it_elsewhere(fake_storcli, tmp_path):
    from burnin.capture import capture

    fake_storcli.setenv("SHOW_ALL", str(DATA / "storcli/mr216i-foreign.SYNTHESIZED.json"))
    manifest = capture(tmp_path / "cap", {"raid": RaidModule})
    assert manifest["modules"]["raid"] == "check ran"
    assert ["storcli64", "/call", "show", "all", "J"] in manifest["commands"]
    fake_storcli.setenv("PATH", "/usr/bin:/bin")  # the judging machine has no storcli
    module = RaidModule(Host(tmp_path / "cap"))
    assert module.probe().available
    ctx = run_phases(module, phases=("check",))
    assert "raid-foreign-config" in ctx.codes(WARN)


def test_an_enclosure_psu_that_failed_fails_and_a_warm_sensor_warns():
    from burnin.modules.raid.judge import judge_ses
    from burnin.tools import sg_ses

    page = sg_ses.parse_status((DATA / "sg_ses/enclosure-status.SYNTHESIZED.txt").read_text())
    assert page.summary["CRIT"] == 1 and len(page.elements) == 6
    assert next(e for e in page.elements if e.type == "Cooling").rpm == 5420
    found = judge_ses("/dev/sg3", "DELL MD1200", page)
    assert [(j.code, j.component) for j in found] == [
        ("ses-element-failed", "enclosure:/dev/sg3/Power supply 1"),
        ("ses-element-warning", "enclosure:/dev/sg3/Temperature sensor 0")]
    assert found[0].evidence["flags"] == {"Fail": 1, "AC fail": 1} and found[1].evidence["temperature_c"] == 47


def test_arrays_on_the_disks_that_are_not_running_are_listed_from_a_read_only_examine():
    (array,) = mdstat.parse_examine_scan((DATA / "mdadm/examine-scan-verbose.txt").read_text())
    assert (array.level, array.members, array.label, array.devices) == ("raid1", 2, "burnin-rig:0",
                                                                        ("/dev/sde", "/dev/sdd"))
    assert mdstat.examine_scan_argv() == ["mdadm", "--examine", "--scan", "--verbose"]


def test_the_rigs_real_failed_member_with_the_kernels_sysfs_values():
    (array,) = md("rig-raid1-member-failed")
    sysfs = mdstat.MdSysfs("md0", "clean", "raid1", 2, 1, "idle", "none", 0, None, {
        "sdd": mdstat.MdMemberState("sdd", ("in_sync",), 0, "0"),
        "sde": mdstat.MdMemberState("sde", ("faulty",), 0, "none")})
    found = judge_md(array, sysfs, {"sde": "20000"})
    assert [(j.code, j.component) for j in found] == [("md-member-failed", "md:/dev/md0/sde"),
                                                      ("md-array-degraded", "md:/dev/md0")]
    assert "S/N 20000" in found[0].message and found[1].evidence["missing"] == 1
