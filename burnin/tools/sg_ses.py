"""SCSI Enclosure Services through `sg_ses` (sg3-utils): argv and parsing of the Enclosure Status page
(`sg_ses --page=es /dev/sgN`): the page's summary flags and each element (array device slots, power supplies,
cooling fans, temperature sensors, ...) with its status word, fail/predicted-failure bits, fan speed and
temperature. Format: sg3_utils' src/sg_ses.c (enc_status_dp, the element-type printers). Never judges.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from burnin.host import Host

SES_DEVICE_TYPE = "13"  # SCSI peripheral device type 0x0d: enclosure services
_SUMMARY = re.compile(r"INVOP=(\d+), INFO=(\d+), NON-CRIT=(\d+), CRIT=(\d+), UNRECOV=(\d+)")
_TYPE = re.compile(r"^\s*Element type: (?P<type>[^,]+), subenclosure id: (?P<sub>\d+)")
_ELEMENT = re.compile(r"^\s*(?:Element (?P<n>\d+) descriptor|Overall descriptor|Individual element (?P<m>\d+) "
                      r"descriptor)\s*:?\s*$")
_STATUS = re.compile(r"status: (?P<status>[A-Za-z][A-Za-z ]*?)\s*$")
_FLAG = re.compile(r"\b(?P<name>Predicted failure|Fail|OT failure|OT warning|UT failure|UT warning|"
                   r"AC fail|DC fail|Overtmp fail|Temperature warn)=(?P<value>[01])\b")
_RPM = re.compile(r"Actual speed=(\d+) rpm")
_TEMP = re.compile(r"Temperature=(-?\d+) C")


@dataclass(frozen=True)
class SesElement:
    type: str  # "Power supply", "Cooling", "Temperature sensor", "Array device slot"
    index: int  # element number within its type
    status: str  # "OK", "Critical", "Noncritical", "Unrecoverable", "Not installed", "Unsupported", ...
    flags: dict[str, int] = field(default_factory=dict)  # Fail, Predicted failure, OT warning, ... (only those set)
    rpm: int | None = None
    temperature_c: int | None = None


@dataclass(frozen=True)
class SesPage:
    summary: dict[str, int]  # INVOP, INFO, NON-CRIT, CRIT, UNRECOV
    elements: tuple[SesElement, ...]


def status_argv(device: str) -> list[str]:
    return ["sg_ses", "--page=es", device]


def parse_status(text: str) -> SesPage:
    summary_match = _SUMMARY.search(text)
    summary = dict(zip(("INVOP", "INFO", "NON-CRIT", "CRIT", "UNRECOV"),
                       (int(v) for v in summary_match.groups()))) if summary_match else {}
    elements: list[SesElement] = []
    kind = None
    current: dict | None = None

    def close() -> None:
        if current is not None and current["index"] is not None and current["status"]:
            elements.append(SesElement(current["type"], current["index"], current["status"], current["flags"],
                                       current["rpm"], current["temp"]))

    for line in text.splitlines():
        match = _TYPE.match(line)
        if match:
            close()
            kind, current = match.group("type").strip(), None
            continue
        match = _ELEMENT.match(line)
        if match and kind:
            close()
            number = match.group("n") or match.group("m")
            current = {"type": kind, "index": int(number) if number is not None else None, "status": None,
                       "flags": {}, "rpm": None, "temp": None}
            continue
        if current is None:
            continue
        status = _STATUS.search(line)
        if status:
            current["status"] = status.group("status")
        for flag in _FLAG.finditer(line):
            if flag.group("value") == "1":
                current["flags"][flag.group("name")] = 1
        rpm, temp = _RPM.search(line), _TEMP.search(line)
        if rpm:
            current["rpm"] = int(rpm.group(1))
        if temp:
            current["temp"] = int(temp.group(1))
    close()
    return SesPage(summary, tuple(elements))


def ses_devices(host: Host) -> dict[str, str]:
    """SCSI generic devices of enclosure services (/dev/sgN) -> "vendor model"."""
    found = {}
    for link in host.glob("/sys/class/scsi_generic", "sg*"):
        device = f"{link}/device"
        if (host.read_text(f"{device}/type") or "").strip() == SES_DEVICE_TYPE:
            name = " ".join(w for w in ((host.read_text(f"{device}/vendor") or "").strip(),
                                        (host.read_text(f"{device}/model") or "").strip()) if w)
            found[f"/dev/{link.rsplit('/', 1)[1]}"] = name or "enclosure"
    return found
