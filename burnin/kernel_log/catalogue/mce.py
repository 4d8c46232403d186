"""Machine checks: the x86 `mce` handler's records and AMD's decoder (edac_mce_amd).

Severity rule: the 16-hex-digit MCi_STATUS of "CPU n: Machine Check: ... Bank b: STATUS" carries bit 61 (UC) in
its first digit (set for 2,3,6,7,a,b,e,f): uncorrected -> FAIL, else corrected -> WARN. AMD's decoder spells it out:
MCx_STATUS[...|UE|...] or a Deferred (UECC) error -> FAIL, [...|CE|...] -> WARN. Sources: arch/x86/kernel/cpu/mce/
core.c (print_mce), drivers/edac/mce_amd.c (decode_smca_error, amd_decode_mce).
"""

from burnin.kernel_log.entry import DETAIL, FAIL, WARN, row

MCE_70 = "https://github.com/andikleen/mcelog/issues/70"
HA_2989 = "https://github.com/home-assistant/operating-system/issues/2989"
RG_2896 = "https://github.com/BurntSushi/ripgrep/issues/2896"

TABLE = (
    row("machine-check", FAIL,
        r"CPU (?P<cpu>\d+): Machine Check(?: Exception)?: (?P<mcg>\w+) Bank (?P<bank>\d+): "
        r"(?P<status>[2367abef][0-9a-f]{15})\b",
        "cpu:{cpu}", "CPU {cpu} reported an uncorrected machine-check error in bank {bank}.",
        ((("mce: [Hardware Error]: CPU 0: Machine Check: 0 Bank 4: a600000000020408"), MCE_70),),
        keys=("mce",), head=True, rule="MCi_STATUS bit 61 (UC) set"),
    row("machine-check-corrected", WARN,
        r"CPU (?P<cpu>\d+): Machine Check(?: Exception)?: (?P<mcg>\w+) Bank (?P<bank>\d+): (?P<status>[0-9a-f]{16})\b",
        "cpu:{cpu}", "CPU {cpu} reported a corrected machine-check error in bank {bank}.",
        (("mce: [Hardware Error]: CPU 2: Machine Check: 0 Bank 6: cc59dec000041152", HA_2989),),
        keys=("mce",), head=True, rule="MCi_STATUS bit 61 (UC) clear"),
    # The handler prints this when it logged events, corrected ones included; it carries no severity.
    row("machine-check-logged", WARN, r"Machine check events logged", "cpu",
        "The CPU logged machine-check events (hardware errors, perhaps corrected ones); run mcelog or rasdaemon "
        "for their severity and source.",
        (("mce: [Hardware Error]: Machine check events logged", MCE_70),), keys=("mce-logged",)),
    row("machine-check-storm", WARN, r"CMCI storm detected", "cpu",
        "The CPU reported corrected errors so often that the kernel switched to polling (CMCI storm).",
        (("mce: CMCI storm detected: switching to poll mode", "format: arch/x86/kernel/cpu/mce/intel.c"),)),
    row("machine-check", FAIL,
        r"Machine check: (?P<reason>.+)|Fatal [Mm]achine check|Uncorrected hardware memory error"
        r"|Timeout: Not all CPUs entered broadcast exception handler|Some CPUs didn't answer in synchronization",
        "cpu", "The CPU reported an uncorrected machine-check error.",
        (("mce: [Hardware Error]: Machine check: Processor context corrupt",
          "format: arch/x86/kernel/cpu/mce/severity.c"),
         ("mce: Uncorrected hardware memory error in user-access at 38e73d3400",
          "https://lore.kernel.org/r/20210812152548.GA1579021@agluck-desk2.amr.corp.intel.com"),),
        keys=("mce",)),
    # AMD decoder: "[Hardware Error]: CPU:0 (17:31:0) MC255_STATUS[-|CE|-|-|AddrV|-|-|-]".
    row("machine-check", FAIL,
        r"\[Hardware Error\]: CPU:? ?(?P<cpu>\d+)\s+\([0-9a-f:]+\) MC(?P<bank>\d+)_STATUS\[[^\]]*(?:\|UE\||UECC|Deferred)",
        "cpu:{cpu}", "CPU {cpu} reported an uncorrected machine-check error in bank {bank}.",
        (("[Hardware Error]: CPU:2 (19:21:0) MC5_STATUS[-|UE|MiscV|AddrV|PCC|TCC|SyndV|-|-|-]: 0xbea0000001000108", "https://github.com/BurntSushi/ripgrep/issues/2896"),
         ("[Hardware Error]: CPU:0 (17:71:0) MC27_STATUS[-|UE|MiscV|AddrV|PCC|-|-|-|-|-|-]: 0xbea0000000000108",
          "format: drivers/edac/mce_amd.c"),),
        keys=("mce",), head=True, rule="UE, or a Deferred (uncorrectable ECC) error"),
    row("machine-check-corrected", WARN,
        r"\[Hardware Error\]: CPU:? ?(?P<cpu>\d+)\s+\([0-9a-f:]+\) MC(?P<bank>\d+)_STATUS\[[^\]]*\|CE\|",
        "cpu:{cpu}", "CPU {cpu} reported a corrected machine-check error in bank {bank}.",
        (("[Hardware Error]: CPU:6 (19:21:0) MC18_STATUS[Over|CE|MiscV|AddrV|-|-|SyndV|CECC|-|-|-]: "
          "0xdc2041000000011b", RG_2896),),
        keys=("mce",), head=True),
    # Everything else the mce handler and the AMD decoder print belongs to the record above it.
    row("machine-check", DETAIL,
        r"^(?:mce: )?\[Hardware Error\]: (?!.*Machine check events logged)", "cpu",
        examples=(("mce: [Hardware Error]: TSC 0 ADDR fef4c9e0 ", MCE_70),), keys=("mce",)),
)
