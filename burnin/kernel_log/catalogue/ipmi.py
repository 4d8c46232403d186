"""The IPMI driver's complaints about the BMC.

Severity rule: a BMC that answers wrongly, hangs its interface or drops events -> WARN (the server's management
controller misbehaves; sensors and the SEL may be unreliable). "No BMC at this location" on a machine without one
is not a fault. Sources: drivers/char/ipmi/ipmi_msghandler.c, ipmi_si_intf.c, ipmi_kcs_sm.c, ipmi_ssif.c.
"""

from burnin.kernel_log.entry import WARN, row

TABLE = (
    row("ipmi-bmc-error", WARN, r"ipmi_si (?P<dev>\S+): (?:BMC returned incorrect response|"
        r"Error clearing flags|Error getting response|Error \w+ from BMC|.*timed out)|"
        r"ipmi_kcs_sm: kcs hosed|IPMI message handler: (?:Event queue full|BMC returned)|"
        r"ipmi_ssif: .*(?:Error|error)", "bmc", "The IPMI driver reported a misbehaving BMC interface.",
        (("IPMI message handler: BMC returned incorrect response, expected netfn 7 cmd 8, got netfn 6 cmd 8", "https://github.com/open-power/skiboot/issues/6"),
         ("ipmi_si IPI0001:00: BMC returned incorrect response, expected netfn 7 cmd 2, got netfn 7 cmd 1",
          "format: drivers/char/ipmi/ipmi_si_intf.c"),), keys=("ipmi",)),
)
