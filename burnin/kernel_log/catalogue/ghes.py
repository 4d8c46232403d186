"""Firmware-first errors: APEI GHES records printed as CPER ("{3}[Hardware Error]: ..."), and BERT records of
the previous boot.

A record is one event keyed by its number {N}. Severity rule: "event severity: corrected" -> WARN; recoverable
or fatal -> FAIL (the firmware could not correct it); "info" -> WARN. The part: the memory section's "DIMM
location:" (or the record's "fru_text:") names the DIMM; a PCIe section's "device_id:" names the device.
Sources: drivers/acpi/apei/ghes.c, drivers/firmware/efi/cper.c (cper_print_mem, cper_print_pcie), bert.c.
"""

from burnin.kernel_log.entry import DETAIL, FAIL, PCI, WARN, row

R = r"(?:\{(?P<rec>\d+)\})?\[Hardware Error\]:"

TABLE = (
    row("hardware-error", DETAIL, r"^\{(?P<rec>\d+)\}\[Hardware Error\]: Hardware error from APEI", "platform",
        examples=(("{1}[Hardware Error]: Hardware error from APEI Generic Hardware Error Source: 0", "https://lore.kernel.org/r/20210812152548.GA1579021@agluck-desk2.amr.corp.intel.com"),
         ("{1}[Hardware Error]: Hardware error from APEI Generic Hardware Error Source: 1",
                   "format: drivers/acpi/apei/ghes.c"),), keys=("ghes:{rec}",), head=True),
    row("hardware-error-corrected", WARN, R + r" event severity: (?P<sev>corrected|info)", "platform",
        "The firmware reported a {sev} hardware error.",
        (("{1}[Hardware Error]: event severity: corrected", "https://github.com/pop-os/pop/issues/751"),),
        keys=("ghes:{rec}",)),
    row("hardware-error-uncorrected", FAIL, R + r" event severity: (?P<sev>recoverable|fatal)", "platform",
        "The firmware reported an uncorrected ({sev}) hardware error.",
        (("{1}[Hardware Error]: event severity: recoverable", "https://lore.kernel.org/r/20210812152548.GA1579021@agluck-desk2.amr.corp.intel.com"),
         ("{2}[Hardware Error]: event severity: fatal", "format: drivers/firmware/efi/cper.c"),),
        keys=("ghes:{rec}",)),
    row("hardware-error", DETAIL, R + r"\s+DIMM location: (?!not present)(?P<dimm>.*\S)", "dimm:{dimm}",
        examples=(("{1}[Hardware Error]:   DIMM location: NODE 3 CPU0_DIMM_G1",
                   "https://lore.kernel.org/r/20210812152548.GA1579021@agluck-desk2.amr.corp.intel.com"),),
        keys=("ghes:{rec}",), part_rank=2),
    row("hardware-error", DETAIL, R + r"\s+fru_text: (?P<dimm>.*\S)", "dimm:{dimm}",
        examples=(("{35}[Hardware Error]:  fru_text: D2", "https://github.com/prometheus/node_exporter/issues/3511"),),
        keys=("ghes:{rec}",), part_rank=1),
    row("hardware-error", DETAIL, R + r"\s+device_id: (?P<pci>" + PCI + ")", "pcie:{pci}",
        examples=(("{4}[Hardware Error]:   device_id: 0000:3b:00.0", "format: drivers/firmware/efi/cper.c"),),
        keys=("ghes:{rec}",)),
    row("hardware-error", DETAIL, r"^\{(?P<rec>\d+)\}\[Hardware Error\]:",
        examples=(("{1}[Hardware Error]:  Error 0, type: recoverable", "https://lore.kernel.org/r/20210812152548.GA1579021@agluck-desk2.amr.corp.intel.com"),
         ("{1}[Hardware Error]:   section_type: memory error", "format: drivers/firmware/efi/cper.c"),),
        keys=("ghes:{rec}",)),
    row("hardware-error", DETAIL, r"^(?:\[Firmware Warn\]: )?GHES: (?:Invalid address|Poison|Failed to)",
        examples=(("[Firmware Warn]: GHES: Invalid address in generic error data: 0x1234",
                   "format: drivers/acpi/apei/ghes.c"),), follows="ghes"),
    row("hardware-error-uncorrected", FAIL, r"(?:GHES|APEI): Fatal hardware error|Fatal hardware error!",
        "platform", "The firmware reported a fatal hardware error.",
        (("Kernel panic - not syncing: Fatal hardware error!", "format: drivers/acpi/apei/ghes.c"),)),
    row("hardware-error", DETAIL, r"^BERT: Error records from previous boot", "platform",
        examples=(("BERT: Error records from previous boot:", "format: drivers/acpi/apei/bert.c"),),
        keys=("ghes:bert",), opens=True),
)
