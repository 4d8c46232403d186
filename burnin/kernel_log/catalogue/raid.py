"""RAID controllers and SAS HBAs: firmware faults, adapter resets, controller lockups, their event logs.

Severity rule: a controller in firmware fault, locked up, offline or dead, a failed reset, a critical/fatal
event from its own log -> FAIL; an adapter reset, a command timeout or abort, a SAS log_info -> WARN. The part:
the controller, by its PCI address (megaraid_sas, hpsa, smartpqi, aacraid) or its instance name (mptNsas_cmN,
mpt2sasN), which the inventory maps to the PCI device of that driver.
Sources: drivers/scsi/megaraid/megaraid_sas_base.c and _fusion.c (megasas_decode_evt, format_class),
drivers/scsi/mpt3sas/mpt3sas_base.c (mpt3sas_base_fault_info, _base_display_reply_info), mpt3sas_scsih.c,
drivers/scsi/hpsa.c, drivers/scsi/smartpqi/smartpqi_init.c, drivers/scsi/aacraid/commsup.c, linit.c,
drivers/scsi/qla2xxx/qla_isr.c, drivers/message/fusion/mptbase.c.
"""

from burnin.kernel_log.entry import DETAIL, FAIL, PCI, WARN, row

MR = r"megaraid_sas (?P<pci>" + PCI + r"): "
MPT = r"(?P<ctl>mpt\dsas_cm\d+|mpt\dsas\d+|mpt\wsas\d+): "
HP = r"(?:hpsa|smartpqi|aacraid) (?P<pci>" + PCI + r"): "
KP = ("pci:{pci}",)
KM = ("hba:{ctl}",)
ROMEOR = "https://github.com/eLvErDe/hwraid/issues/136"
HUATAI = "https://huataihuang.gitbook.io/cloud-atlas-draft/storage/das/mpt2sas/troubleshooting/mpt2sas_driver"
TIGR = "https://github.com/TIGRLab/admin/issues/311"
HETZ = "https://hetzbiz.cloud/2024/06/11/those-damn-mpt3sas_cm0-messages"

TABLE = (
    # -- megaraid_sas ---------------------------------------------------------------------------------
    row("raid-firmware-fault", FAIL, MR + r"(?:Found )?FW in FAULT state", "controller:{pci}",
        "RAID controller {pci} is in firmware fault.",
        (("megaraid_sas 0000:18:00.0: FW in FAULT state Fault code:0x10000 subcode:0x0 "
          "func:megasas_wait_for_outstanding_fusion", ROMEOR),), keys=KP),
    row("raid-controller-failed", FAIL, MR + r"(?:Failed from megasas_init_fw|Reset failed, killing adapter|"
        r"Controller in crit error|adapter reset failed|FW is in FAULT|IOC is in FAULT|Init cmd return status FAILED"
        r"|killing adapter|Failed to (?:reset|init))", "controller:{pci}",
        "RAID controller {pci} failed and could not be brought back.",
        (("megaraid_sas 0000:03:00.0: Failed to init firmware", "https://wiki.keldo.uk/content/askubuntu.com_en_all_2024-10/questions/804133/lsi-megaraid-sas-hwraid-on-16-04"),
         ("megaraid_sas 0000:02:00.0: Reset failed, killing adapter scsi0.",
          "format: drivers/scsi/megaraid/megaraid_sas_fusion.c"),), keys=KP),
    # The controller's own event log: "<seq> (<time>s/0x<locale>/<class>) - <description>"; only CRIT and above
    # are printed by default (event_log_level).
    row("raid-event-critical", FAIL, MR + r"\d+ \([^/]*/0x[0-9a-f]+/(?P<cls>CRIT|FATAL|DEAD)\) - (?P<what>.+)",
        "controller:{pci}", "RAID controller {pci} logged a {cls} event: {what}",
        (("megaraid_sas 0000:02:00.0: 6279 (591292035s/0x0002/FATAL) - Unrecoverable medium error during recovery "
          "on PD 02(e0x20/s2) at 46c21a0", "format: drivers/scsi/megaraid/megaraid_sas_base.c (megasas_decode_evt)"),),
        keys=KP),
    row("raid-event-warning", WARN, MR + r"\d+ \([^/]*/0x[0-9a-f]+/WARN\) - (?P<what>.+)", "controller:{pci}",
        "RAID controller {pci} logged a warning: {what}",
        (("megaraid_sas 0000:02:00.0: 6213 (591290720s/0x0002/WARN) - Predictive failure: PD 03(e0x20/s3)",
          "format: drivers/scsi/megaraid/megaraid_sas_base.c (megasas_decode_evt)"),), keys=KP),
    row("raid-adapter-reset", WARN, MR + r"(?:resetting fusion adapter|pending commands remain after waiting, will reset|"
        r"Prepare to reset|IO timeout|TM command timed out|target reset|Command pool empty|"
        r"waiting for \d+ commands|[Aa]dapter reset)", "controller:{pci}",
        "RAID controller {pci} was reset after commands hung.",
        (("megaraid_sas 0000:18:00.0: resetting fusion adapter scsi0.", ROMEOR),), keys=KP),
    row("raid-firmware-fault", FAIL, r"^megasas: (?:Found )?FW in FAULT state", "controller",
        "The MegaRAID controller is in firmware fault.",
        (("megasas: FW in FAULT state!!", "https://lists.debian.org/debian-doc/2013/04/msg00133.html"),),
        keys=("megasas",)),
    row("raid-adapter-reset", WARN, r"(?:sd \S+: \[\w+\] )?megasas: (?:RESET|\[ ?\d+\]waiting|reset successful)|"
        r"megaraid_sas: (?:no pending cmds after reset|resetting)|megasas: (?:Reset|Found FW|target reset)", "controller",
        "The MegaRAID controller was reset after commands hung.",
        (("sd 2:2:3:0: [sdd] megasas: RESET cmd=28 retries=0", TIGR),), keys=("megasas",)),
    row("raid-error", DETAIL, MR + r"(?:Reset successful|megasas_disable_intr|FW now in Ready|Waiting for FW|"
        r"Snap dump|reset|[Ff]ault|scsi\d|\d+ \()", "controller:{pci}",
        examples=(("megaraid_sas 0000:18:00.0: megasas_disable_intr_fusion is called outbound_intr_mask:0x40000009",
                   ROMEOR),), keys=KP),
    # -- mpt2sas / mpt3sas (LSI/Broadcom SAS HBAs) ------------------------------------------------------
    row("hba-firmware-fault", FAIL, MPT + r"(?:fault_state\((?P<code>0x[0-9a-f]+)\)|FAULT code|"
        r"SAS host is non-operational|mpt3sas_dead_ioc|_base_fault_reset_work: Running mpt\w+_dead_ioc|"
        r"diag reset: FAILED|Unable to reset|hard reset: FAILED|IOC is in FAULT|Coredump)", "controller:{ctl}",
        "SAS controller {ctl} is in firmware fault.",
        (("mpt2sas0: fault_state(0x5841)!", HUATAI),), keys=KM),
    row("hba-device-removed", FAIL, MPT + r"removing handle\((?P<handle>0x[0-9a-f]+)\), sas_addr\((?P<sas>0x[0-9a-f]+)\)",
        "controller:{ctl}", "A disk behind SAS controller {ctl} went away (handle {handle}, SAS address {sas}).",
        (("mpt2sas0: removing handle(0x000a), sas_addr(0x4433221100000000)", "format: drivers/scsi/mpt3sas/mpt3sas_scsih.c"),),
        keys=KM),
    row("hba-over-temperature", WARN, MPT + r"Temperature Threshold flags", "controller:{ctl}",
        "SAS controller {ctl} crossed a temperature threshold.",
        (("mpt3sas_cm0: Temperature Threshold flags a  exceeded for Sensor: 0 !!!",
          "format: drivers/scsi/mpt3sas/mpt3sas_base.c"),), keys=KM),
    row("hba-adapter-reset", WARN, MPT + r"(?:sending diag reset|sending message unit reset|Command Timeout|"
        r"attempting task abort|attempting target reset|timeout|hard reset|_base_wait_for_doorbell|issue_reset|"
        r"host reset|Sending host reset)", "controller:{ctl}",
        "SAS controller {ctl} was reset or had to abort commands.",
        (("mpt2sas0: sending diag reset !!", HUATAI),), keys=KM),
    row("hba-log-info", WARN, MPT + r"log_info\((?P<info>0x[0-9a-f]+)\): originator\((?P<orig>\w+)\)",
        "controller:{ctl}", "SAS controller {ctl} logged a transport error (log_info {info}, from {orig}).",
        (("mpt3sas_cm0: log_info(0x30030109): originator(IOP), code(0x03), sub_code(0x0109)", HETZ),
         ("mpt2sas0: log_info(0x31120303): originator(PL), code(0x12), sub_code(0x0303)",
          "https://errnote.blogspot.com/2015/06/linux-deciphering-continuing-mpt2sas.html")),
        keys=KM, rule="SAS protocol/link errors the firmware retried"),
    row("hba-error", DETAIL, MPT + r"(?:diag reset: SUCCESS|Current Temp|handle\(|sas_address|enclosure|"
        r"_scsih|log_info|task abort|target reset|Command|\s+)", "controller:{ctl}",
        examples=(("mpt2sas0: diag reset: SUCCESS", HUATAI),), keys=KM),
    row("hba-log-info", WARN, r"mptbase: (?P<ctl>ioc\d+): LogInfo\((?P<info>0x[0-9a-f]+)\): Originator=\{(?P<orig>\w+)\}",
        "controller:{ctl}", "SAS controller {ctl} logged a transport error (LogInfo {info}, from {orig}).",
        (("mptbase: ioc1: LogInfo(0x31140000): Originator={PL}, Code={IO Executed}, SubCode(0x0000) cb_idx mptscsih_io_done", "https://github.com/openzfs/zfs/issues/2275"),
         ("mptbase: ioc0: LogInfo(0x31140000): Originator={PL}, Code={IO Executed}, SubCode(0x0000) cb_idx mptscsih_io_done",
          "format: drivers/message/fusion/mptbase.c"),), keys=KM),
    # -- hpsa / smartpqi / aacraid (HPE Smart Array, Microchip Smart) ----------------------------------
    row("raid-controller-failed", FAIL, HP + r"(?:[Cc]ontroller lockup detected|controller (?:is )?offline|"
        r"adapter kernel panic'd|kernel panic|lockup code|Controller reports firmware lockup|failed to enter simple mode|"
        r"controller not ready|Board not ready)", "controller:{pci}",
        "Storage controller {pci} locked up or went offline.",
        (("hpsa 0000:03:00.0: Controller lockup detected: 0xffff0000 after 30", "format: drivers/scsi/hpsa.c"),
         ("smartpqi 0000:3b:00.0: controller offline: reason code 0x6100c (Firmware Lockup)",
          "format: drivers/scsi/smartpqi/smartpqi_init.c")), keys=KP),
    row("raid-error", DETAIL, HP + r"(?:scsi \S+: )?(?:reset \w+\s+completed successfully|reset of .*SUCCESS|"
        r"Acknowledging event|cp \S+ has check condition|LUN|added|updated)", "controller:{pci}",
        examples=(("hpsa 0000:05:00.0: scsi 0:1:0:0: reset logical  completed successfully Direct-Access     HP       "
                   "LOGICAL VOLUME   RAID-1(+0) SSDSmartPathCap- En- Exp=1", "format: drivers/scsi/hpsa.c"),),
        keys=KP),
    row("raid-adapter-reset", WARN, HP + r"(?:scsi \S+: )?(?:resetting|reset (?:logical|physical|device)|"
        r"aborted:|Abort request|Host adapter reset|resetting scsi|attempting|TMF|timed out)", "controller:{pci}",
        "Storage controller {pci} reset a device or aborted commands.",
        (("hpsa 0000:05:00.0: scsi 0:1:0:0: resetting logical  Direct-Access     HP       LOGICAL VOLUME   "
          "RAID-1(+0) SSDSmartPathCap- En- Exp=1", "format: drivers/scsi/hpsa.c"),), keys=KP),
    row("raid-controller-failed", FAIL, r"aacraid: (?:SCSI bus appears hung|Adapter health|.*kernel panic|"
        r".*adapter kernel failed)|AAC\d+: adapter kernel panic", "controller",
        "The Adaptec (aacraid) controller stopped working.",
        (("aacraid: SCSI bus appears hung", "format: drivers/scsi/aacraid/linit.c"),), keys=("aacraid",)),
    row("raid-adapter-reset", WARN, r"aacraid: Host (?:adapter|bus) (?:abort|reset) request", "controller",
        "The Adaptec (aacraid) controller was asked to abort or reset after a hang.",
        (("aacraid: Host adapter abort request.", "format: drivers/scsi/aacraid/linit.c"),), keys=("aacraid",)),
    row("raid-error", DETAIL, r"aacraid: (?:Outstanding commands|.*reset)", "controller",
        examples=(("aacraid: Outstanding commands on (0,0,1,0):", "format: drivers/scsi/aacraid/linit.c"),),
        keys=("aacraid",)),
    # -- Fibre Channel HBAs (qla2xxx) --------------------------------------------------------------------
    row("hba-firmware-fault", FAIL, r"qla2xxx \[(?P<pci>" + PCI + r")\]-\w+:\d+: (?:ISP System Error|"
        r"Firmware has been previously dumped|RISC paused|ISP abort failed|Failed to initialize adapter)",
        "controller:{pci}", "Fibre Channel adapter {pci} hit a firmware error.",
        (("qla2xxx [0000:81:00.0]-5003:1: ISP System Error - mbx1=4b1fh mbx2=10h mbx3=2ah mbx7=0h.",
          "format: drivers/scsi/qla2xxx/qla_isr.c"),), keys=KP),
    row("hba-adapter-reset", WARN, r"qla2xxx \[(?P<pci>" + PCI + r")\]-\w+:\d+: (?:Performing ISP error recovery|"
        r"Mailbox cmd timeout|Abort command issued)", "controller:{pci}",
        "Fibre Channel adapter {pci} had to recover from an error.",
        (("qla2xxx [0000:05:00.1]-00af:7: Performing ISP error recovery - ha=00000000a2d7e1b4.",
          "format: drivers/scsi/qla2xxx/qla_os.c"),), keys=KP),
)
