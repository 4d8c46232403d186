"""EDAC: each memory controller generation's driver reports through edac_mc_handle_error().

"EDAC MC0: 1 CE memory read error on CPU_SrcID#0_MC#0_Chan#1_DIMM#0 (channel:1 slot:0 page:0x... )". Older
drivers (e752x, i3200, i5000...) printed "EDAC MC0: CE page 0x.., ... label "..": i3200 CE".
Severity rule: CE -> WARN (corrected), UE / Fatal -> FAIL. The label names the DIMM; the inventory maps it to the board's slot name.
Sources: drivers/edac/edac_mc.c (edac_ce_error, edac_ue_error), drivers/edac/sb_edac.c, skx_common.c,
amd64_edac.c, ghes_edac.c.
"""

from burnin.kernel_log.entry import DETAIL, FAIL, WARN, row

OSM = "https://github.com/openstreetmap/operations/issues/300"
RADIA = "https://github.com/radiasoft/devops/issues/134"

# ghes_edac says "on unknown memory" when the firmware gave no DIMM: no label then.
_LABEL = r"(?:(?P<what>.*?) )?on (?:unknown memory|(?P<label>[^\s(]+))(?: \(|$)"

TABLE = (
    row("edac-uncorrected", FAIL, r"EDAC MC(?P<mc>\d+): (?P<count>\d+) (?:UE|Fatal|Uncorrected) " + _LABEL,
        ("dimm:{label}", "memory:mc{mc}"), "The memory controller reported {count} uncorrected memory error(s).",
        (("EDAC MC3: 1 UE memory read error on CPU_SrcID#0_MC#3_Chan#0_DIMM#0 (channel:0 slot:0 page:0x7e025e offset:0x400 grain:32 -  err_code:0x00a0:0x0090  SystemAddress:0x7e025e400 ProcessorSocketId:0x0 MemoryControllerId:0x3 ChannelAddress:0xec04bc00 ChannelId:0x0 RankAddress:0x76025c00 PhysicalRankId:0x1 DimmSlotId:0x0 Row:0x3b01 Column:0x380 Bank:0x0 BankGroup:0x2 ChipSelect:0x1 ChipId:0x0)", "https://lore.kernel.org/r/20210812152548.GA1579021@agluck-desk2.amr.corp.intel.com"),
         ("EDAC MC0: 1 UE memory read error on CPU1_DIMM_A1 (channel:0 slot:0 page:0x1234 offset:0x0 grain:8 "
          "syndrome:0x0)", "format: drivers/edac/edac_mc.c (edac_ue_error)"),),
        keys=("edac:mc{mc}",), head=True),
    row("edac-corrected", WARN, r"EDAC MC(?P<mc>\d+): (?P<count>\d+) (?:CE|Corrected|Deferred) " + _LABEL,
        ("dimm:{label}", "memory:mc{mc}"), "The memory controller corrected {count} memory error(s).",
        (("EDAC MC0: 4 CE error on CPU#0Channel#2_DIMM#0 (channel:2 slot:0 page:0x0 offset:0x0 grain:8 syndrome:0x0)",
          OSM),), keys=("edac:mc{mc}",), head=True),
    row("edac-uncorrected", FAIL, r"EDAC MC(?P<mc>\d+): (?:\d+ )?UE\b(?:.*?\"(?P<label>[^\"-][^\"]*)\")?",
        ("dimm:{label}", "memory:mc{mc}"), "The memory controller reported an uncorrected memory error.",
        (("EDAC MC0: UE page 0x0, offset 0x0, grain 0, row 7, labels \":\": i3200 UE",
          "Linux kernel Documentation/admin-guide/ras.rst"),), keys=("edac:mc{mc}",), head=True),
    row("edac-corrected", WARN, r"EDAC MC(?P<mc>\d+): (?:\d+ )?CE\b(?:.*?\"(?P<label>[^\"-][^\"]*)\")?",
        ("dimm:{label}", "memory:mc{mc}"), "The memory controller corrected a memory error.",
        (("EDAC MC0: CE page 0x3c7d2d, offset 0xc00, grain 0, syndrome 0xa4f4, row 3, channel 0, label \"\": amd64_edac", "Ubuntu Forums, Server Platforms, \"Repeating error message MySQL Server - broken memory module?\", post by scout76, 2010-08-04"),
         ("EDAC MC0: CE page 0x283, offset 0xce0, grain 8, syndrome 0x6ec3, row 0, channel 1 \"DIMM_B1\": "
          "amd64_edac", "format: drivers/edac/edac_mc.c (pre-3.x wording)"),), keys=("edac:mc{mc}",), head=True),
    row("edac-pci-parity", WARN, r"EDAC PCI: (?:Master |Signaled |Detected )?(?:Data )?Parity Error on (?P<pci>\S+)",
        "pcie:{pci}", "A PCI device signalled a parity error.",
        (("EDAC PCI: Detected Parity Error on 0000:00:1e.0", "format: drivers/edac/edac_pci_sysfs.c"),)),
    row("edac-uncorrected", FAIL, r"EDAC (?:amd64|MC\d*): .*(?:uncorrected|Uncorrectable) (?:DRAM )?(?:ECC )?error",
        "memory", "The memory controller reported an uncorrectable ECC error.",
        (("EDAC amd64: MC0: uncorrected DRAM ECC error", "format: drivers/edac/amd64_edac.c"),)),
    # Per-driver detail before the summary line ("EDAC sbridge MC1: HANDLING MCE MEMORY ERROR", "CPU 1: Machine
    # Check Event: ...", "TSC 0", "ADDR ...") belongs to that controller's event.
    row("edac", DETAIL, r"^EDAC (?:sbridge|skx|i10nm|i7core|pnd2|igen6|ie31200) MC(?P<mc>\d+): ",
        examples=(("EDAC sbridge MC1: HANDLING MCE MEMORY ERROR", RADIA),), keys=("edac:mc{mc}",), opens=True),
)
