"""Claims files: strict loading with the line of a bad key, checking against an inventory, and the template."""

from __future__ import annotations

from pathlib import Path

import pytest

from burnin.errors import UsageError
from burnin.host import Host
from burnin.inventory import collect
from burnin.inventory.claims import check_claims, claims_template, load_claims, match_claims
from burnin.model import Severity

DATA = Path(__file__).parent / "data"


def _dump_inventory(file_id: str):
    (path,) = (DATA / "dmidecode").glob(f"*{file_id}*.dmidecode.txt")
    return collect(Host("/nonexistent"), path.read_text(errors="replace"))


@pytest.fixture(scope="module")
def r740():
    return _dump_inventory("PowerEdge_R740")


@pytest.fixture(scope="module")
def procfs():
    return collect(Host(DATA / "sysfs" / "procfs"))


def _claims(tmp_path, text: str):
    path = tmp_path / "claims.toml"
    path.write_text(text)
    return load_claims(path)


def _by_key(checks):
    return {c.key: c for c in checks}


# -- loading ---------------------------------------------------------------------------------------


def test_a_complete_claims_file_loads(tmp_path):
    claims = _claims(tmp_path, """
[system]
vendor = "Dell"
product = "/PowerEdge R7[34]0/"

[cpu]
model = "Gold 6154"
sockets = 2
cores = 36
threads = 72

[memory]
total_gib = 256
dimm_count = 16
dimm_size_gib = 16
speed_mts = 2666
ecc = true

[[disks]]
count = 2
min_size_gb = 960
transport = "sata"
max_power_on_hours = 30000

[nics]
count = 4
speed_mbps = 10000
links_up = 1

[gpus]
count = 0

[controllers]
model = "/PERC H7[34]0/"
""")
    assert claims.get("cpu.sockets") == 2
    assert claims.get("system.product").regex and claims.get("system.product").text == "PowerEdge R7[34]0"
    assert not claims.get("system.vendor").regex
    assert claims.disks[0].transport == "SATA" and claims.disks[0].max_power_on_hours == 30000


@pytest.mark.parametrize("text, line, key, detail", [
    ("[cpu]\nsockets = 2\ncorez = 8\n", 3, "cpu.corez", "unknown key"),
    ("[cpu]\nsockets = \"2\"\n", 2, "cpu.sockets", "must be a whole number"),
    ("[memory]\necc = \"yes\"\n", 2, "memory.ecc", "must be true or false"),
    ("[memory]\ntotal_gib = -4\n", 2, "memory.total_gib", "must be a number above 0"),
    ("[storage]\ncount = 2\n", 1, "storage", "unknown section"),
    ("[cpu]\nmodel = \"/Xeon(/\"\n", 2, "cpu.model", "not a valid regular expression"),
    ("[[disks]]\ncount = 2\n\n[[disks]]\ncount = 1\nsize_gb = 400\n", 6, "disks[2].size_gb", "unknown key"),
    ("[disks]\ntransport = \"fibre\"\n", 2, "disks.transport", "unknown transport"),
    ("gpus = 2\n", 1, "gpus", "must be a table"),
])
def test_bad_claims_name_the_file_line_and_key(tmp_path, text, line, key, detail):
    with pytest.raises(UsageError) as caught:
        _claims(tmp_path, text)
    error = caught.value
    assert (error.line, error.key) == (line, key)
    assert detail in error.detail
    assert str(error).startswith(f"{tmp_path / 'claims.toml'}:{line}: {key}: ")


def test_toml_syntax_errors_carry_the_line(tmp_path):
    with pytest.raises(UsageError) as caught:
        _claims(tmp_path, "[cpu]\nsockets = 2\ncores = \n")
    assert caught.value.line == 3
    assert "not valid TOML" in caught.value.detail


# -- checking against a seller's dmidecode dump ------------------------------------------------------


def test_claims_that_match_a_dump(tmp_path, r740):
    claims = _claims(tmp_path, """
[system]
vendor = "dell"
product = "/R740$/"
[cpu]
model = "Gold 6154"
sockets = 2
cores = 36
threads = 72
[memory]
total_gib = 256
dimm_count = 16
dimm_size_gib = 16
speed_mts = 2933
ecc = true
""")
    checks = check_claims(claims, r740)
    assert [c.key for c in checks if c.ok is not True] == []
    assert len(checks) == 11
    findings = match_claims(claims, r740)
    assert {f.code for f in findings} == {"claim-match"} and {f.severity for f in findings} == {Severity.INFO}


def test_claims_that_do_not_match_a_dump_fail_with_expected_and_found(tmp_path, r740):
    claims = _claims(tmp_path, """
[cpu]
model = "Gold 6148"
cores = 40
[memory]
total_gib = 384
dimm_count = 24
dimm_size_gib = 32
speed_mts = 3200
""")
    findings = {f.component: f for f in match_claims(claims, r740)}
    assert {f.code for f in findings.values()} == {"claim-mismatch"}
    assert {f.severity for f in findings.values()} == {Severity.FAIL}
    count = findings["claim:memory.dimm_count"]
    assert (count.evidence["expected"], count.evidence["found"], count.evidence["slots"]) == (24, 16, 24)
    assert count.message == "Installed DIMMs: 16, but 24 was claimed."
    assert findings["claim:memory.total_gib"].evidence["found"] == 256.0
    assert findings["claim:memory.speed_mts"].evidence["rated_mts"] == [2933]
    assert findings["claim:memory.speed_mts"].evidence["configured_mts"] == [2666]
    assert findings["claim:cpu.model"].evidence["found"] == "Intel(R) Xeon(R) Gold 6154 CPU @ 3.00GHz"
    assert findings["claim:memory.dimm_size_gib"].evidence["found"] == 16.0


def test_what_a_dump_cannot_show_is_unchecked_not_passed(tmp_path, r740):
    claims = _claims(tmp_path, "[[disks]]\ncount = 2\n[nics]\ncount = 4\n[gpus]\ncount = 1\n")
    findings = match_claims(claims, r740)
    assert [(f.component, f.code, f.severity) for f in findings] == [
        ("claim:disks", "claim-unchecked", Severity.WARN),
        ("claim:nics.count", "claim-unchecked", Severity.WARN),
        ("claim:gpus.count", "claim-unchecked", Severity.WARN),
    ]
    assert "a dmidecode dump does not list disks" in findings[0].message


def test_ecc_claim_on_a_machine_without_ecc(tmp_path):
    claims = _claims(tmp_path, "[memory]\necc = true\n")
    (check,) = check_claims(claims, _dump_inventory("PRIMERGY_MX130_S2"))
    assert (check.ok, check.found, check.evidence["array_ecc"]) == (False, False, "None")


# -- checking against a captured machine -----------------------------------------------------------


def test_disk_groups_are_matched_each_to_their_own_disks(tmp_path, procfs):
    claims = _claims(tmp_path, """
[[disks]]
count = 1
transport = "NVMe"
min_size_gb = 2000

[[disks]]
count = 2
transport = "SATA"
min_size_gb = 8000

[[disks]]
count = 2
transport = "SAS"
""")
    checks = _by_key(check_claims(claims, procfs))
    assert checks["disks[1].count"].ok and checks["disks[1].count"].evidence["disks"] == ["/dev/nvme0n1"]
    assert checks["disks[2].count"].ok and checks["disks[2].count"].evidence["disks"] == ["/dev/sdv", "/dev/sdx"]
    sas = checks["disks[3].count"]
    assert (sas.ok, sas.found, sas.expected) == (False, 1, 2)
    assert sas.message == "Found 1 SAS disks, but 2 were claimed."
    assert checks["disks[2].count"].message == "Found 2 SATA disks of at least 8000 GB, as claimed."


def test_more_disks_than_claimed_holds_and_says_both_numbers(tmp_path, procfs):
    check = _by_key(check_claims(_claims(tmp_path, "[disks]\ncount = 1\ntransport = \"SATA\"\n"), procfs))["disks.count"]
    assert (check.ok, check.found, check.expected) == (True, 2, 1)
    assert check.message == "Found 2 SATA disks; 1 was claimed, and more is no fault."


def test_power_on_hours_are_checked_when_smart_data_is_given(tmp_path, procfs):
    claims = _claims(tmp_path, "[disks]\ncount = 2\ntransport = \"SATA\"\nmax_power_on_hours = 20000\n")
    (unchecked, _) = sorted(check_claims(claims, procfs), key=lambda c: c.ok is None, reverse=True)
    assert (unchecked.key, unchecked.ok) == ("disks.max_power_on_hours", None)
    hours = {"sdv": 1200, "/dev/sdx": 25000}
    checks = _by_key(check_claims(claims, procfs, power_on_hours=hours))
    worn = checks["disks.max_power_on_hours"]
    assert (worn.ok, worn.found) == (False, 25000)
    assert worn.evidence["power_on_hours"] == {"/dev/sdv": 1200, "/dev/sdx": 25000}


def test_nic_gpu_and_controller_claims(tmp_path, procfs):
    claims = _claims(tmp_path, """
[nics]
count = 1
speed_mbps = 10000
links_up = 1
[gpus]
count = 1
[controllers]
model = "/P2 NVMe/"
""")
    checks = _by_key(check_claims(claims, procfs))
    assert (checks["nics.count"].ok, checks["nics.links_up"].ok) == (True, True)
    speed = checks["nics.speed_mbps"]
    assert (speed.ok, speed.found, speed.evidence["max_speed_mbps"]) == (False, 1000, {"eth0": 1000})
    assert (checks["gpus.count"].ok, checks["gpus.count"].found) == (False, 0)
    assert checks["controllers.model"].ok
    assert checks["controllers.model"].found == ["Micron/Crucial Technology P2 NVMe PCIe SSD [c0a9:540a] nvme"]


def test_memory_claims_without_smbios_fall_back_on_the_os_total(tmp_path):
    vm = collect(Host(DATA / "sysfs" / "vm-virtio"))  # 23.5 GiB visible, no DIMM list
    claims = _claims(tmp_path, "[memory]\ntotal_gib = 24\ndimm_count = 2\n")
    checks = _by_key(check_claims(claims, vm))
    assert checks["memory.total_gib"].ok is True
    assert checks["memory.total_gib"].evidence["source"] == "/proc/meminfo MemTotal"
    assert checks["memory.dimm_count"].ok is None
    bigger = _by_key(check_claims(_claims(tmp_path, "[memory]\ntotal_gib = 32\n"), vm))
    assert bigger["memory.total_gib"].ok is False


# -- the template ----------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda: _dump_inventory("PowerEdge_R740"),
    lambda: _dump_inventory("Superdome2"),
    lambda: collect(Host(DATA / "sysfs" / "procfs")),
    lambda: collect(Host(DATA / "sysfs" / "vm-virtio")),
], ids=["dump-r740", "dump-superdome", "procfs-tree", "vm-tree"])
def test_the_template_of_a_machine_loads_and_matches_that_machine(tmp_path, make):
    inventory = make()
    text = claims_template(inventory)
    claims = _claims(tmp_path, text)
    checks = check_claims(claims, inventory)
    assert checks and [c.key for c in checks if c.ok is not True] == []


def test_template_of_a_dump_states_what_the_listing_would(r740):
    text = claims_template(r740)
    assert 'product = "PowerEdge R740"' in text
    assert "dimm_count = 16" in text and "dimm_size_gib = 16" in text and "ecc = true" in text
    assert "[[disks]]" not in text and "[nics]" not in text


def test_port_speed_claim_is_unchecked_when_ports_state_no_speed(tmp_path):
    vm = collect(Host(DATA / "sysfs" / "vm-virtio"))  # virtio_net states no speed; a tree runs no ethtool
    (check,) = check_claims(_claims(tmp_path, "[nics]\nspeed_mbps = 1000\n"), vm)
    assert (check.ok, check.evidence["max_speed_mbps"]) == (None, {"eth0": None})
    assert check.finding().code == "claim-unchecked"
