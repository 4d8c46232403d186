"""JUnit XML: one case per module and per check (finding code + component), counts that match the cases,
and a file any CI's parser reads (checked against the common JUnit schema's rules)."""

import xml.etree.ElementTree as ET

from burnin import journal
from burnin.files import write_atomically
from burnin.report.junit import junit_xml
from burnin.verdict import summarize

SUITE_ATTRS = {"name", "tests", "failures", "errors", "skipped", "time", "timestamp", "hostname"}
CASE_CHILDREN = ("skipped", "error", "failure", "system-out", "system-err")  # junit-10.xsd, in this order


def finding(writer, module, severity, component, code, message, **evidence):
    writer.write("finding", module=module, severity=severity, component=component, code=code, message=message,
                 evidence=evidence)


def write_run(path, complete=True):
    writer = journal.JournalWriter(path)
    writer.write("run_start", schema=1, run_id="r1", mode="run", host={"hostname": "srv1", "system_serial": "S1"},
                 profile={"name": "seller", "settings": {"required": []}}, modules=["thermal", "disk", "gpu", "net"])
    for module in ("thermal", "disk", "gpu", "net"):
        writer.write("module_start", module=module)
    finding(writer, "thermal", "warn", "sensor:acpitz", "temp-above-max", "acpitz reached 91 °C.", temp_c=91)
    finding(writer, "thermal", "info", "thermal", "temp-peaks", "Hottest: acpitz.")
    finding(writer, "disk", "fail", "disk:/dev/sda S/N Z1", "smart-reallocated", "8 sectors reallocated.", count=8)
    finding(writer, "disk", "fail", "disk:/dev/sda S/N Z1", "smart-reallocated", "16 sectors reallocated.", count=16)
    finding(writer, "disk", "fail", "disk:/dev/sdb S/N Z2", "smart-reallocated", "Bad \x01 byte in a tool's output.")
    if complete:
        for module, verdict, reason in (("thermal", "WARN", "1 warning(s)"), ("disk", "FAIL", "3 failure(s)"),
                                        ("gpu", "SKIP", "no GPU on this host"),
                                        ("net", "ERROR", "run() raised OSError: gone")):
            writer.write("module_end", module=module, verdict=verdict, reason=reason)
        writer.write("run_end", verdict="FAIL", reason="failed: disk", modules={}, counts={}, duration_s=12.5,
                     interrupted=None)
    writer.close()
    return summarize(journal.read(path), journal=str(path))


def parse(summary):
    return ET.fromstring(junit_xml(summary).encode())


def assert_valid_junit(suite):
    """The rules of the common JUnit schema (Jenkins junit-10.xsd) that CI parsers rely on."""
    assert suite.tag == "testsuite"
    assert set(suite.attrib) <= SUITE_ATTRS and {"name", "tests"} <= set(suite.attrib)
    cases = suite.findall("testcase")
    children = [c.tag for c in suite]
    assert children[0] in ("properties", "testcase")
    assert set(children) <= {"properties", "testcase", "system-out", "system-err"}
    for case in cases:
        assert case.get("name") and case.get("classname")
        tags = [child.tag for child in case]
        assert tags == sorted(tags, key=CASE_CHILDREN.index), tags
        for child in case:
            if child.tag in ("failure", "error"):
                assert child.get("type") is not None
    count = lambda tag: sum(1 for case in cases if case.find(tag) is not None)  # noqa: E731
    assert int(suite.get("tests")) == len(cases)
    assert int(suite.get("failures")) == count("failure")
    assert int(suite.get("errors")) == count("error")
    assert int(suite.get("skipped")) == count("skipped")
    float(suite.get("time"))


def test_one_case_per_module_and_per_check(tmp_path):
    suite = parse(write_run(tmp_path / "j.jsonl"))
    assert_valid_junit(suite)
    names = [(c.get("classname"), c.get("name")) for c in suite.findall("testcase")]
    assert names == [
        ("burnin.thermal", "thermal"), ("burnin.thermal", "temp-above-max sensor:acpitz"),
        ("burnin.disk", "disk"), ("burnin.disk", "smart-reallocated disk:/dev/sda S/N Z1"),
        ("burnin.disk", "smart-reallocated disk:/dev/sdb S/N Z2"),
        ("burnin.gpu", "gpu"), ("burnin.net", "net"),
    ]
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("7", "3", "1", "1")


def test_failures_carry_the_findings_message_and_evidence(tmp_path):
    suite = parse(write_run(tmp_path / "j.jsonl"))
    case = suite.find("testcase[@name='smart-reallocated disk:/dev/sda S/N Z1']")
    failure = case.find("failure")
    assert failure.get("message") == "8 sectors reallocated." and failure.get("type") == "smart-reallocated"
    assert "16 sectors reallocated." in failure.text and '"count": 16' in failure.text
    warning = suite.find("testcase[@name='temp-above-max sensor:acpitz']")
    assert warning.find("failure") is None and "WARN: acpitz reached 91 °C." in warning.find("system-out").text


def test_skipped_module_gives_its_reason_and_an_error_is_an_error(tmp_path):
    suite = parse(write_run(tmp_path / "j.jsonl"))
    assert suite.find("testcase[@name='gpu']/skipped").get("message") == "no GPU on this host"
    error = suite.find("testcase[@name='net']/error")
    assert error.get("type") == "ERROR" and "OSError: gone" in error.get("message")


def test_control_characters_from_tools_do_not_break_the_xml(tmp_path):
    suite = parse(write_run(tmp_path / "j.jsonl"))
    failure = suite.find("testcase[@name='smart-reallocated disk:/dev/sdb S/N Z2']/failure")
    assert failure.get("message") == "Bad \ufffd byte in a tool's output."


def test_a_run_cut_short_is_an_error_case(tmp_path):
    suite = parse(write_run(tmp_path / "j.jsonl", complete=False))
    assert_valid_junit(suite)
    run = suite.find("testcase[@name='run completed']/error")
    assert run.get("type") == "INCOMPLETE" and "ended unexpectedly" in run.get("message")
    # modules the run stopped under: disk had failed already, the others are errors (did not finish)
    assert suite.find("testcase[@name='disk']/failure") is not None
    assert suite.find("testcase[@name='gpu']/error").get("type") == "INCOMPLETE"


def test_suite_names_the_run(tmp_path):
    suite = parse(write_run(tmp_path / "j.jsonl"))
    properties = {p.get("name"): p.get("value") for p in suite.find("properties")}
    assert properties["verdict"] == "FAIL" and properties["run_id"] == "r1" and properties["system_serial"] == "S1"
    assert suite.get("hostname") == "srv1" and suite.get("time") == "12.5"
    assert len(suite.get("timestamp")) == 19  # 2024-01-01T12:00:00, the schema's form


def test_write_atomically_replaces_the_whole_file(tmp_path):
    path = tmp_path / "out.xml"
    path.write_text("old")
    write_atomically(path, "new ✓")
    assert path.read_text(encoding="utf-8") == "new ✓"
    assert [p.name for p in tmp_path.iterdir()] == ["out.xml"]
