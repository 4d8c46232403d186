"""`burnin compare A B`: swapped or missing hardware FAILs, drift WARNs, two machines are called out, and the
exit code is run's."""

import json
import sys
from pathlib import Path

from burnin import journal
from burnin.model import ExitCode, Verdict
from burnin.report.compare import compare

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "bench"))
from make_journal import inventory_record, write_journal  # noqa: E402

DIMMS = [("P1-DIMMA1", "D1A"), ("P1-DIMMB1", "D1B"), ("P2-DIMMA1", "D2A"), ("P2-DIMMB1", "D2B")]
MACS = ["0c:c4:7a:00:00:01", "0c:c4:7a:00:00:02"]


def run(tmp_path, name, hours=0.2, **kwargs):
    return journal.read(write_journal(tmp_path / f"{name}.jsonl", hours=hours, **kwargs))


def codes(result):
    return sorted((f.severity.value, f.code, f.component) for f in result.findings)


def test_the_same_machine_twice_is_a_pass(tmp_path):
    result = compare(run(tmp_path, "a"), run(tmp_path, "b", hours=0.3))
    assert result.findings == [] and result.verdict is Verdict.PASS and result.exit_code == ExitCode.OK
    assert any("2 disk(s) by serial" in same for same in result.unchanged)
    assert any("4 DIMM(s)" in same for same in result.unchanged)
    assert {m.statistic for m in result.metrics} == {"peak", "median"}
    assert "COMPARE: PASS" in result.text()


def test_a_swapped_disk_fails_and_names_both_serials(tmp_path):
    b = inventory_record(disks=[("S1", "ST4000NM0035"), ("S9", "WD40EFRX")])
    result = compare(run(tmp_path, "a"), run(tmp_path, "b", inventory=b))
    assert codes(result) == [("fail", "disk-missing", "disk:S/N S2"), ("warn", "disk-new", "disk:S/N S9")]
    assert result.verdict is Verdict.FAIL and result.exit_code == ExitCode.FAIL
    text = result.text()
    assert "Disk S/N S2 (ST4000NM0035, 4 TB, /dev/sdb)" in text and "WD40EFRX" in text


def test_dimms_are_compared_by_slot_and_serial(tmp_path):
    b = inventory_record(dimms=[("P1-DIMMA1", "D1A"), ("P1-DIMMB1", "OTHER"), ("P2-DIMMA1", "D2A"),
                                ("P2-DIMMA2", "NEW")])
    result = compare(run(tmp_path, "a"), run(tmp_path, "b", inventory=b))
    assert codes(result) == [("fail", "dimm-missing", "dimm:P2-DIMMB1"), ("fail", "dimm-swapped", "dimm:P1-DIMMB1"),
                             ("warn", "dimm-new", "dimm:P2-DIMMA2")]
    swapped = next(f for f in result.findings if f.code == "dimm-swapped")
    assert "S/N D1B" in swapped.message and "S/N OTHER" in swapped.message and swapped.evidence["differs"] == ["serial"]


def test_another_cpu_model_or_count_fails(tmp_path):
    b = inventory_record(cpu_model="Intel(R) Xeon(R) Silver 4110", sockets=1)
    result = compare(run(tmp_path, "a"), run(tmp_path, "b", inventory=b))
    assert ("fail", "cpu-changed", "cpu") in codes(result) and ("fail", "cpu-count-changed", "cpu") in codes(result)
    assert ("warn", "cpu-cores-changed", "cpu") in codes(result)


def test_a_missing_nic_fails_by_mac(tmp_path):
    b = inventory_record(macs=["0C:C4:7A:00:00:01"])  # MACs compare case-insensitively
    result = compare(run(tmp_path, "a"), run(tmp_path, "b", inventory=b))
    assert codes(result) == [("fail", "nic-missing", "nic:0c:c4:7a:00:00:02")]


def test_two_different_machines_are_called_out(tmp_path):
    result = compare(run(tmp_path, "a"), run(tmp_path, "b", system_serial="SN-0002"))
    assert ("fail", "different-machine", "system") in codes(result)
    assert "two different machines: system serial SN-0001 in the first run, SN-0002" in " ".join(result.text().split())


def test_placeholder_serials_identify_nothing(tmp_path):
    a = run(tmp_path, "a", system_serial="To Be Filled By O.E.M.", inventory=inventory_record(serial="Default string"))
    result = compare(a, run(tmp_path, "b", system_serial="SN-0002", inventory=inventory_record(serial="SN-0002")))
    assert ("info", "serial-unknown", "system") in codes(result)
    assert not any(f.code == "different-machine" for f in result.findings)


def test_new_failures_in_b_count_and_old_ones_are_listed_as_gone(tmp_path):
    old = {"module": "disk", "severity": "warn", "component": "disk:/dev/sda S/N S1", "code": "smart-old",
           "message": "Old warning.", "evidence": {}}
    result = compare(run(tmp_path, "a", findings=[old]), run(tmp_path, "b", fail=True))
    assert codes(result) == [("fail", "new-finding", "sensor:coretemp.0/Package id 0")]
    assert result.findings[0].evidence["finding_code"] == "temp-critical"
    assert [f.code for f in result.gone] == ["smart-old"]
    assert "Gone in B" in result.text()


def test_hotter_peaks_and_lower_throughput_warn_beyond_their_thresholds(tmp_path):
    a = run(tmp_path, "a")
    result = compare(a, run(tmp_path, "b", temp_offset_c=6.0, throughput_factor=0.85))
    flagged = {(m.metric, m.statistic) for m in result.metrics if m.flagged}
    assert ("temp_c:coretemp.1/Core 4", "peak") in flagged and ("mb_per_s:sda read", "median") in flagged
    assert ("iops:sdb", "median") in flagged
    assert ("temp_c:disk sda", "peak") not in flagged  # the disks ran as warm as before
    assert {f.code for f in result.findings} == {"temp-higher", "throughput-lower"}
    assert result.verdict is Verdict.WARN and result.exit_code == ExitCode.OK
    mild = compare(a, run(tmp_path, "c", temp_offset_c=4.0, throughput_factor=0.95))
    assert mild.findings == [] and mild.verdict is Verdict.PASS
    strict = compare(a, run(tmp_path, "d", temp_offset_c=4.0, throughput_factor=0.95), temp_rise_c=3.0,
                     throughput_drop_pct=4.0)
    assert {f.code for f in strict.findings} == {"temp-higher", "throughput-lower"}


def test_without_inventory_the_hardware_is_not_silently_equal(tmp_path):
    result = compare(run(tmp_path, "a", inventory=None), run(tmp_path, "b"))
    assert codes(result) == [("warn", "no-inventory", "inventory")]
    assert "first run has no inventory record" in result.findings[0].message


def test_json_has_the_verdict_findings_and_metrics(tmp_path):
    b = inventory_record(disks=[("S1", "ST4000NM0035")])
    out = compare(run(tmp_path, "a"), run(tmp_path, "b", inventory=b)).to_json()
    json.dumps(out)
    assert out["verdict"] == "FAIL" and out["counts"] == {"fail": 1, "warn": 0, "info": 0}
    assert out["findings"][0]["module"] == "compare" and out["a"]["system_serial"] == "SN-0001"
    assert out["metrics"] and {"metric", "a", "b", "change", "flagged"} <= set(out["metrics"][0])


def test_real_inventory_records_compare_and_a_new_nic_mac_is_noticed(tmp_path, data_dir):
    record = json.loads((data_dir / "report" / "inventory-debian12-vm.json").read_text())
    a = run(tmp_path, "a", inventory=record, system_serial=None)
    assert codes(compare(a, run(tmp_path, "b", inventory=record, system_serial=None))) == [
        ("info", "serial-unknown", "system")]  # no SMBIOS in a VM: said, not guessed
    changed = json.loads(json.dumps(record))
    changed["inventory"]["nics"][0]["mac"] = "02:fc:00:00:00:99"
    changed["inventory"]["nics"].append({"name": "veth0", "physical": False, "mac": "aa:aa:aa:aa:aa:aa"})
    result = compare(a, run(tmp_path, "c", inventory=changed, system_serial=None))
    assert ("fail", "nic-missing", "nic:02:fc:00:00:00:01") in codes(result)
    assert ("warn", "nic-new", "nic:02:fc:00:00:00:99") in codes(result)
    assert not any("aa:aa" in f.component for f in result.findings)  # virtual interfaces are not hardware
    assert any("1 disk(s) by serial" in same for same in result.unchanged)


def with_ppins(record: dict, ppins: list[str]) -> dict:
    changed = json.loads(json.dumps(record))
    changed["inventory"]["cpu"]["ppins"] = [{"package": i, "ppin": p} for i, p in enumerate(ppins)]
    return changed


def test_cpus_are_compared_by_ppin_and_a_swapped_one_fails(tmp_path):
    seller = with_ppins(inventory_record(), ["0x2d5b4c8e11a3f0c1", "0x2d5b4c8e11a3f0c2"])
    same = compare(run(tmp_path, "a", inventory=seller), run(tmp_path, "b", inventory=seller))
    assert same.findings == [] and any("2 CPU(s) by PPIN" in line for line in same.unchanged)
    home = with_ppins(inventory_record(), ["0x2d5b4c8e11a3f0c1", "0x7777000011112222"])
    result = compare(run(tmp_path, "c", inventory=seller), run(tmp_path, "d", inventory=home))
    assert codes(result) == [("fail", "cpu-swapped", "cpu:socket1"), ("warn", "cpu-new", "cpu:socket1")]
    assert "PPIN 0x2d5b4c8e11a3f0c2" in result.text() and result.verdict is Verdict.FAIL
    # One run without PPINs (an older kernel, or PPIN off in the firmware): said, not assumed equal.
    older = compare(run(tmp_path, "e", inventory=seller), run(tmp_path, "f"))
    assert codes(older) == [("info", "cpu-ppin-unknown", "cpu")]
