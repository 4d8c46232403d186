"""The BMC over Redfish: sushy-tools' emulator (`sushy-static`, a real HTTP server on loopback) serves DMTF's
public-rackmount1 mockup (tests/data/redfish, see SOURCE.md), burnin reads it through sushy, and the bmc module
judges what it reads with the IPMI path's judges and codes.

The failing cases change a copy of the real mockup in a temporary folder (a sensor over its critical threshold,
a power supply whose health turns Critical, a log entry that appears during the run): the emulator reads its files
on every request, so a change between check() and finish() is what a BMC would show.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from burnin.host import Host
from burnin.inventory.smbios import parse_dump
from burnin.model import Severity
from burnin.modules.bmc import BmcModule, judge_reading, judge_state, sel_severity
from burnin.testing import RecordingContext
from burnin.tools import ipmitool, redfish

pytest.importorskip("sushy")
pytest.importorskip("sushy_tools")

MOCKUP = Path(__file__).parent / "data" / "redfish" / "public-rackmount1"
DMIDECODE = Path(__file__).parent / "data" / "dmidecode"
CREDENTIALS = redfish.Credentials("burnin", "not-a-real-password", "settings")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"sushy-static exited with {proc.returncode}: {proc.stderr.read()[-500:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"sushy-static did not listen on port {port} within {timeout} s")


class Emulator:
    def __init__(self, mockup: Path):
        self.mockup = mockup
        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "sushy_tools.static.main", "-i", "127.0.0.1", "-p", str(self.port),
             "-m", str(mockup)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wait_for_port(self.port, self.proc)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def edit(self, path: str, change) -> None:
        file = self.mockup / path / "index.json"
        doc = json.loads(file.read_text())
        change(doc)
        file.write_text(json.dumps(doc))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stderr.close()


@pytest.fixture(scope="module")
def emulator():
    """The real mockup, unchanged: shared by the tests that only read."""
    server = Emulator(MOCKUP)
    yield server
    server.stop()


@pytest.fixture
def changed_emulator(tmp_path):
    """An emulator over a copy of the mockup that the test may change."""
    copy = tmp_path / "mockup"
    shutil.copytree(MOCKUP, copy)
    server = Emulator(copy)
    yield server
    server.stop()


def module_for(url: str, **settings) -> BmcModule:
    return BmcModule(Host("/"), {"path": "redfish", "redfish_url": url, "redfish_username": CREDENTIALS.username,
                                 "redfish_password": CREDENTIALS.password, "interval_s": 0.05, **settings})


def run_phases(module: BmcModule, between=None) -> RecordingContext:
    ctx = RecordingContext(module.name, module.host, seconds=0.3)
    module.check(ctx)
    ctx.phase = "run"
    module.run(ctx)
    if between:
        between()
    ctx.phase = "finish"
    module.finish(ctx)
    return ctx


# -- the adapter on the emulator -------------------------------------------------------------------------
def test_sensors_power_supplies_and_fans_are_read_from_the_sensors_collection(emulator):
    client = redfish.Client(emulator.url, CREDENTIALS)
    try:
        sensors = redfish.read_sensors(client.get)
    finally:
        client.close()
    by_name = {r.name: r for r in sensors.readings}
    cpu = by_name["CPU #1 Temperature"]
    assert (cpu.value, cpu.unit, cpu.status, cpu.unc, cpu.ucr, cpu.unr) == (37, "degrees C", "ok", 42, 45, 50)
    volts = by_name["Power Supply #1 12V Output Voltage"]
    assert (volts.value, volts.unit, volts.lcr, volts.lnc, volts.unc, volts.ucr) == (12.08, "Volts", 11.5, 11.85,
                                                                                       12.35, 12.5)
    assert len(sensors.readings) == 30  # 41 sensors in the collection, 11 of them absent/disabled
    states = {r.name: r for r in sensors.states}
    assert states["Power Supply Bay 1"].states == ("Health Warning",)  # the mockup's PSU 1 is in Warning
    assert "Power Supply Bay 2" not in states  # absent bay
    assert [n for n in states if n.startswith("Fan")] == ["Fan Bay 1", "Fan Bay 2", "Fan for CPU 1", "Fan for CPU 2"]
    assert sensors.unreadable == ()


def test_a_bmc_without_the_sensors_collection_is_read_through_thermal_and_power(changed_emulator):
    # The same mockup as an older BMC serves it: only the Thermal and Power resources (the links removed).
    def older(doc):
        for key in ("Sensors", "PowerSubsystem", "ThermalSubsystem"):
            doc.pop(key, None)
    changed_emulator.edit("Chassis/1U", older)
    client = redfish.Client(changed_emulator.url, CREDENTIALS)
    try:
        sensors = redfish.read_sensors(client.get)
    finally:
        client.close()
    by_name = {r.name: r for r in sensors.readings}
    cpu = by_name["CPU1 Temp"]
    assert (cpu.value, cpu.unit, cpu.unc, cpu.ucr, cpu.unr) == (41, "degrees C", 42, 45, 48)
    assert "CPU2 Temp" not in by_name  # disabled
    fan = by_name["BaseBoard System Fan"]
    assert (fan.value, fan.unit, fan.lnr) == (2100, "RPM", 0)
    assert (by_name["VRM1 Voltage"].value, by_name["VRM1 Voltage"].unit) == (12, "Volts")
    states = {r.name: r.states for r in sensors.states}
    assert states["Power Supply Bay"] == ("Health Warning",)
    assert all(judge_reading(r) is None for r in sensors.readings)


def test_log_entries_become_dated_sel_entries_of_every_log_service(emulator):
    client = redfish.Client(emulator.url, CREDENTIALS)
    try:
        logs = redfish.read_log_entries(client.get)
    finally:
        client.close()
    assert logs.services == ("/redfish/v1/Systems/437XR1138R2/LogServices/Log1/Entries",
                             "/redfish/v1/Managers/BMC/LogServices/Log/Entries")
    sel, event, sel2 = logs.entries  # oldest first
    assert (sel.record_id, sel.date, sel.time, sel.sensor_type, sel.sensor) == (
        1, "03/07/2012", "14:44:00 UTC", "Temperature", "#0x01")
    assert sel.description == "Upper Critical - going high" and sel.asserted is True
    # A Redfish event without a sensor type: its topic comes from the MessageId, its severity stays in the words.
    assert (event.sensor_type, event.description) == ("Temperature", "System May be Melting (severity Critical)")
    assert sel2.time == "14:45:00 UTC"
    # The mockup's first log links a second page that the static emulator cannot serve: said, not dropped.
    assert len(logs.unreadable) == 1 and "skiptoken" in logs.unreadable[0]
    assert logs.info().entries == 3 and logs.info().percent_used == 0
    assert redfish.read_events(emulator.url, CREDENTIALS).entries == logs.entries  # the one-call form


def test_unreachable_service_is_one_line_error():
    with pytest.raises(redfish.RedfishError) as error:
        redfish.Client(f"http://127.0.0.1:{free_port()}", CREDENTIALS, timeout_s=2)
    assert "\n" not in str(error.value) and "127.0.0.1" in str(error.value)


# -- the module on the emulator: the IPMI path's codes ---------------------------------------------------------
def test_module_reads_the_mockup_and_judges_it_with_the_ipmi_codes(emulator):
    module = module_for(emulator.url)
    assert module.probe().available and "Redfish at" in module.probe().reason
    ctx = run_phases(module)
    found = {(f.code, f.component, f.severity) for f in ctx.findings}
    # Two critical temperature events (SEL) and the manager's event, logged before the run.
    [before] = [f for f in ctx.findings if f.code == "bmc-sel-before-run"]
    assert before.component == "bmc:redfish" and before.evidence["counts_by_type"] == {"temperature": 3}
    assert before.evidence["critical"] == 3
    assert ("bmc-sensor-state", "bmc-sensor:Power Supply Bay 1", Severity.WARN) in found
    assert len(ctx.findings) == 2  # nothing else: every reading is inside its thresholds
    assert len(ctx.samples) >= 2 and ctx.samples[0]["bmc_temp_c:CPU #1 Temperature"] == 37.0
    assert any("unchanged" in n["message"] for n in ctx.notes)


def test_hot_sensor_failed_psu_and_new_log_entry_fail_like_ipmi(changed_emulator):
    server = changed_emulator

    def hot(doc):
        doc["Reading"] = 46  # over UpperCritical 45, under UpperFatal 50
    server.edit("Chassis/1U/Sensors/CPU1Temp", hot)
    module = module_for(server.url)

    def during_the_run():
        server.edit("Chassis/1U/PowerSubsystem/PowerSupplies/Bay1",
                    lambda doc: doc["Status"].update(Health="Critical"))
        new = json.loads((server.mockup / "Systems/437XR1138R2/LogServices/Log1/Entries/1/index.json").read_text())
        new.update({"@odata.id": "/redfish/v1/Systems/437XR1138R2/LogServices/Log1/Entries/3", "Id": "3",
                    "Created": "2026-12-02T13:00:00Z", "SensorType": "Power Supply", "SensorNumber": 0x51,
                    "EntryCode": "Assert", "Message": "Power supply failure detected", "Severity": "Critical"})
        (server.mockup / "Systems/437XR1138R2/LogServices/Log1/Entries/3").mkdir()
        (server.mockup / "Systems/437XR1138R2/LogServices/Log1/Entries/3/index.json").write_text(json.dumps(new))

        def add(doc):
            doc["Members"].append(new)
            doc["Members@odata.count"] = 3
        server.edit("Systems/437XR1138R2/LogServices/Log1/Entries", add)

    ctx = run_phases(module, between=during_the_run)
    by_code = {}
    for f in ctx.findings:
        by_code.setdefault(f.code, []).append(f)
    [hot_cpu] = by_code["bmc-sensor-critical"]
    assert hot_cpu.component == "bmc-sensor:CPU #1 Temperature" and hot_cpu.severity is Severity.FAIL
    assert "upper critical threshold 45" in hot_cpu.message
    psu = [f for f in by_code["bmc-sensor-state"] if f.component == "bmc-sensor:Power Supply Bay 1"]
    assert [f.severity for f in psu] == [Severity.WARN, Severity.FAIL]  # Warning at preflight, Critical at the end
    [event] = by_code["bmc-sel-psu"]
    assert event.severity is Severity.FAIL and event.evidence["date"] == "12/02/2026"
    assert "Power supply failure detected" in event.message

    # The same facts through the IPMI path's records get the same codes and severities.
    line = "CPU1 Temp        | 46.000     | degrees C  | cr    | na        | na        | na        | 42.000    | 45.000    | 50.000"
    [ipmi_cpu] = ipmitool.parse_sensor(line).readings
    assert judge_reading(ipmi_cpu)[0] is Severity.FAIL is hot_cpu.severity
    [ipmi_psu] = ipmitool.parse_sdr("Power Supply 1   | 06h | ok  | 10.1 | Presence detected, Failure detected").records
    assert judge_state(ipmi_psu)[0] is Severity.FAIL
    [ipmi_event] = ipmitool.parse_sel_list(
        "  51 | 12/02/2026 | 13:00:00 UTC | Power Supply #0x51 | Failure detected | Asserted").entries
    assert sel_severity(ipmi_event) is Severity.FAIL
    assert f"bmc-sel-{'psu'}" == event.code


def test_no_credentials_skips_with_the_reason_and_never_guesses(emulator):
    module = BmcModule(Host("/"), {"path": "redfish", "redfish_url": emulator.url})
    probe = module.probe()
    assert not probe.available
    assert "no credentials" in probe.reason and "never guesses" in probe.reason


# -- finding the service: SMBIOS type 42 ------------------------------------------------------------------------
def test_host_interface_names_the_redfish_service_and_credential_bootstrapping():
    smbios = parse_dump((DMIDECODE / "type42-redfish-usbv2.bin").read_bytes())
    [hi] = smbios.host_interfaces
    assert (hi.interface_type, hi.device_type, hi.usb_id, hi.mac) == ("Network", "USB v2", "0d28:0204",
                                                                      "72:45:77:aa:f7:87")
    assert hi.credential_bootstrapping
    [rec] = hi.redfish
    assert (rec.service_uuid, rec.host_ip, rec.service_ip, rec.service_port, rec.service_hostname) == (
        "d53c5478-bbd5-8d40-94db-0836e2c0f01e", "192.168.122.9", "192.168.122.10", 443, "192.168.122.10")
    assert redfish.host_interface_urls(smbios.host_interfaces) == ["https://192.168.122.10"]
    # dmidecode itself decodes the same structure to the same values (its output is kept beside the dump).
    text = (DMIDECODE / "type42-redfish-usbv2.dmidecode-3.4.txt").read_text()
    for value in ("Service UUID: d53c5478-bbd5-8d40-94db-0836e2c0f01e", "IPv4 Redfish Service Address: "
                  "192.168.122.10", "Redfish Service Port: 443", "IPv4 Address: 192.168.122.9"):
        assert value in text


def test_dmidecode_text_of_a_host_interface_gives_the_same_service():
    from burnin.inventory.dmidecode import parse_dmidecode_text

    binary = parse_dump((DMIDECODE / "type42-redfish-usbv2.bin").read_bytes()).host_interfaces[0]
    # The real published output of dmidecode 3.6, and Debian's 3.4 on the same structure (USB v2 unknown to it).
    for name, device in (("type42-usbv2-dmidecode-3.6.txt", "USB v2"),
                         ("type42-redfish-usbv2.dmidecode-3.4.txt", None)):
        [hi] = parse_dmidecode_text((DMIDECODE / name).read_text()).host_interfaces
        assert (hi.interface_type, hi.device_type, hi.protocols) == ("Network", device, (4,))
        assert hi.redfish == binary.redfish
    assert hi.credential_bootstrapping is False  # 3.4 does not print the v2 descriptor's characteristics
    [v36] = parse_dmidecode_text((DMIDECODE / "type42-usbv2-dmidecode-3.6.txt").read_text()).host_interfaces
    assert (v36.usb_id, v36.mac, v36.credential_bootstrapping) == ("0d28:0204", "72:45:77:aa:f7:87", True)
    # A real board whose type 42 is a KCS interface: no Redfish service to find.
    text = (DMIDECODE / "Server__Supermicro__AS__AS_-1014S-WTRT__D80A1900B9F1.dmidecode.txt").read_text()
    [kcs] = parse_dmidecode_text(text).host_interfaces
    assert kcs.interface_type == "KCS: Keyboard Controller Style" and kcs.redfish == ()
    assert redfish.host_interface_urls([kcs]) == []


def test_bootstrap_credentials_are_parsed_from_the_raw_ipmi_answer():
    # Synthesized per DSP0270 9.1 (no public capture found): group extension 0x52, user, password, NUL padded.
    user, password = b"bootstrap01".ljust(16, b"\0"), b"S3cret!pass".ljust(16, b"\0")
    stdout = " ".join(f"{b:02x}" for b in b"\x52" + user + password)
    creds = redfish.parse_bootstrap(stdout)
    assert (creds.username, creds.password) == ("bootstrap01", "S3cret!pass")
    assert redfish.parse_bootstrap("c1") is None and redfish.parse_bootstrap("zz") is None
    assert redfish.bootstrap_argv() == ["ipmitool", "raw", "0x2c", "0x02", "0x52", "0xa5"]


# -- hostile documents -----------------------------------------------------------------------------------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                    max_leaves=12)
# Documents shaped like the real ones at the top, with any JSON where the values go.
SHAPED = st.fixed_dictionaries({
    "Chassis": st.just({"@odata.id": "/c"}), "Systems": st.just({"@odata.id": "/s"}),
    "Members": st.lists(st.just({"@odata.id": "/m"}) | JSON, max_size=2),
    "Sensors": st.just({"@odata.id": "/c"}) | JSON, "Thermal": st.just({"@odata.id": "/t"}) | JSON,
    "LogServices": st.just({"@odata.id": "/c"}), "Entries": st.just({"@odata.id": "/e"}),
    "Temperatures": JSON, "Fans": JSON, "Status": JSON, "Thresholds": JSON, "Reading": JSON, "Created": JSON,
    "SensorType": JSON, "Severity": JSON, "EntryCode": JSON, "Message": JSON, "Id": JSON,
    "Members@odata.nextLink": JSON})


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=st.dictionaries(st.sampled_from(["/redfish/v1", "/c", "/s", "/m", "/t", "/e"]), SHAPED))
def test_malformed_documents_never_crash_the_parsers(docs):
    def get(path):
        if path not in docs:
            raise redfish.RedfishError(f"{path}: not found")
        return docs[path]

    try:
        sensors = redfish.read_sensors(get)
        logs = redfish.read_log_entries(get)
    except redfish.RedfishError:
        return
    for reading in sensors.readings:
        judge_reading(reading)
    for record in sensors.states:
        judge_state(record)
    for entry in logs.entries:
        sel_severity(entry)
        assert isinstance(entry.sensor_type, str) and isinstance(entry.description, str)
