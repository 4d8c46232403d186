"""PCIe Advanced Error Reporting, Downstream Port Containment and hotplug link events.

One AER report is an event keyed by the device address: "AER: Corrected error received: <dev>" (or "...message
received from <dev>" since 6.x), then "<dev>: PCIe Bus Error: severity=..., type=..., (...)", "device [v:d] error
status/mask=...", "[ n] Name (First)", "TLP Header: ...". Severity rule: Corrected/Correctable -> WARN;
Uncorrected/Uncorrectable (Fatal or Non-Fatal) -> FAIL; a failed recovery or a DPC containment -> FAIL.
Sources: drivers/pci/pcie/aer.c (aer_print_error, __aer_print_error), err.c (pcie_do_recovery), dpc.c,
drivers/pci/hotplug/pciehp_ctrl.c.
"""

from burnin.kernel_log.entry import DETAIL, FAIL, PCI, WARN, row

P = r"(?:(?P<pci>" + PCI + r"): )?(?:AER: )?"
QCOM = "https://github.com/qualcomm-linux/kernel/issues/323"

TABLE = (
    # The report's first line already says its severity: judged by it, so that a report whose detail lines the
    # kernel could not read (or a log that kept only the first line) is still a finding.
    row("pcie-aer-correctable", WARN,
        r"AER: (?:Multiple )?Correct(?:ed|able) error(?: message)? received(?: from)?:? ?(?:id=)?(?P<src>" + PCI + ")",
        "pcie:{src}", "A PCIe link reported a corrected error.",
        examples=(("pcieport 0000:00:1c.5: AER: Corrected error received: 0000:00:1c.5",
                   "https://github.com/pop-os/pop/issues/751"),), keys=("pci:{src}",), opens=True),
    row("pcie-aer-uncorrectable", FAIL,
        r"AER: (?:Multiple )?Uncorrect(?:ed|able) \(?(?P<sev>Non-Fatal|Fatal)?\)? ?error(?: message)? received"
        r"(?: from)?:? ?(?:id=)?(?P<src>" + PCI + ")",
        "pcie:{src}", "A PCIe link reported an uncorrectable error ({sev}).",
        examples=(("pcieport 0000:00:01.0: AER: Uncorrected (Non-Fatal) error message received from 0000:01:00.0",
                   "format: drivers/pci/pcie/aer.c (aer_isr_one_error, 6.x)"),
                  ("pcieport 0000:00:03.0: AER: Multiple Uncorrected (Fatal) error received: 0000:04:00.0",
                   "format: drivers/pci/pcie/aer.c (aer_isr_one_error, 4.x-5.x)")),
        keys=("pci:{src}",), opens=True),
    row("pcie-aer-correctable", WARN, P + r"PCIe Bus Error: severity=Correct(?:ed|able)",
        ("pcie:{pci}", "pcie"), "A PCIe link reported a corrected error.",
        (("pcieport 0000:00:1c.5: AER: PCIe Bus Error: severity=Corrected, type=Physical Layer, (Receiver ID)",
          "https://github.com/pop-os/pop/issues/751"),), keys=("pci:{pci}",), head=True),
    row("pcie-aer-uncorrectable", FAIL, P + r"PCIe Bus Error: severity=(?P<sev>Uncorrect\w+ \(\S+\)|Uncorrect\w+)",
        ("pcie:{pci}", "pcie"), "A PCIe link reported an uncorrectable error ({sev}).",
        (("pcieport 0000:00:01.0: AER: PCIe Bus Error: severity=Uncorrectable (Fatal), type=Transaction Layer, "
          "(Receiver ID)", "https://github.com/minisforum-docs/MS-02-Ultra/issues/10"),),
        keys=("pci:{pci}",), head=True),
    row("pcie-aer-recovery-failed", FAIL, r"(?P<pci>" + PCI + r"): (?:AER: )?(?:device recovery failed|"
        r"subordinate device reset failed|Root Port link reset failed|Downstream Port link reset failed)",
        "pcie:{pci}", "The kernel could not recover the PCIe device after an uncorrectable error.",
        (("pcieport 0000:80:1b.4: AER: device recovery failed", "https://github.com/minisforum-docs/MS-02-Ultra/issues/10"),
         ("pcieport 0000:00:03.1: AER: device recovery failed", "format: drivers/pci/pcie/err.c"),),
        keys=("pci:{pci}",), ends=True),
    row("pcie-dpc", FAIL, r"(?P<pci>" + PCI + r"): DPC: containment event", "pcie:{pci}",
        "The PCIe port cut off its link after an uncorrectable error (Downstream Port Containment).",
        (("pcieport 0000:00:1d.0: DPC: containment event, status:0x1f01 source:0x0000",
          "format: drivers/pci/pcie/dpc.c"),), keys=("pci:{pci}",)),
    row("pcie-link-down", WARN, r"(?P<pci>" + PCI + r")(?::pcie\d+)?: (?:pciehp: )?Slot\((?P<slot>[^)]+)\): Link Down",
        "pcie:{pci}",
        "The PCIe link of slot {slot} went down.",
        (("pcieport 0000:00:1c.0: pciehp: Slot(8): Link Down", "format: drivers/pci/hotplug/pciehp_ctrl.c"),),
        keys=("pci:{pci}",)),
    row("pcie-device-gone", FAIL, r"(?P<pci>" + PCI + r")(?::pcie\d+)?: (?:pciehp: )?Slot\((?P<slot>[^)]+)\): Card not present",
        "pcie:{pci}", "The card in PCIe slot {slot} is no longer present.",
        (("pcieport 0000:00:1c.0: pciehp: Slot(8): Card not present", "format: drivers/pci/hotplug/pciehp_ctrl.c"),),
        keys=("pci:{pci}",)),
    row("pcie-link-retrain", WARN, r"(?P<pci>" + PCI + r"): broken device, retraining non-functional downstream link",
        "pcie:{pci}", "A PCIe link did not come up and had to be retrained at a lower speed.",
        (("pci 0000:00:1c.0: broken device, retraining non-functional downstream link at 2.5GT/s",
          "format: drivers/pci/quirks.c"),)),
    # A driver below the reporting port that cannot take part in recovery: part of the port's report.
    row("pcie-aer", DETAIL, r"(?P<dev>" + PCI + r"): AER: can't recover \(no error_detected callback\)",
        examples=(("xhci_hcd 0000:97:00.0: AER: can't recover (no error_detected callback)",
                   "https://github.com/minisforum-docs/MS-02-Ultra/issues/10"),), follows="pci"),
    # Recovery that worked, and the detail lines of a report, belong to the report's event.
    row("pcie-aer", DETAIL, r"(?P<pci>" + PCI + r"): (?:AER: )?device recovery successful", "pcie:{pci}",
        examples=(("pcieport 0000:00:01.0: AER: device recovery successful", "format: drivers/pci/pcie/err.c"),),
        keys=("pci:{pci}",), ends=True),
    row("pcie-aer", DETAIL, r"(?P<pci>" + PCI + r"): (?:AER: )?(?:\s+device \[[0-9a-f]{4}:[0-9a-f]{4}\] error |"
        r"\s+\[\s*\d+\] |\s*TLP Header|\s+Error of this Agent|AER: |DPC: |\s+\[\d+\]|"
        r"(?:Root Port|Downstream Port) link has been reset|broadcast \w+ message|"
        r"PCIe Bus Error: severity=)",
        "pcie:{pci}",
        examples=(("pcieport 0000:00:1c.5:   device [8086:a114] error status/mask=00000001/00002000",
                   "https://github.com/pop-os/pop/issues/751"),
                  ("pcieport 0000:00:1c.5:    [ 0] RxErr                  (First)", QCOM)),
        keys=("pci:{pci}",)),
    row("pcie-aer", DETAIL, r"^\s*(?:AER: )?(?:TLP Header: |\[\s*\d+\] [A-Za-z]|device \[[0-9a-f]{4}:[0-9a-f]{4}\] error)",
        examples=(("  TLP Header: 34000000 00000010 00000000 00000000", "format: drivers/pci/pcie/aer.c"),),
        follows="pci"),
)
