"""libata: SATA/PATA error handling.

An error-handling round is one event keyed by the port (ataN): "ataN.MM: exception Emask ... SAct ... SErr ...
action ...", "failed command: READ FPDMA QUEUED", "cmd .../res ...", "status: { DRDY ERR }", "error: { UNC }",
link resets, "configured for UDMA/133", "ataN: EH complete". Severity rule: an uncorrectable media error
(UNC, IDNF), a device disabled or a link given up on -> FAIL; a timeout, a CRC error, a reset that recovered ->
WARN. The port names the disk through the inventory (the disk's sysfs path runs through ataN).
Sources: drivers/ata/libata-eh.c (ata_eh_link_report, ata_eh_recover), libata-core.c, libata-sata.c.
"""

from burnin.kernel_log.entry import DETAIL, FAIL, WARN, row

A = r"(?P<port>ata\d+)(?:\.(?P<dev>\d+))?: "
OSM_SMART = "https://github.com/FastVPSEestiOu/storage-system-monitoring/issues/4"

TABLE = (
    row("ata-error", DETAIL, A + r"exception Emask", "ata:{port}",
        examples=(("ata2.00: exception Emask 0x0 SAct 0x5c50001f SErr 0x0 action 0x0", "https://github.com/ocaml/infrastructure/issues/58"),
         ("ata1.00: exception Emask 0x0 SAct 0x0 SErr 0x0 action 0x0", "format: drivers/ata/libata-eh.c"),),
        keys=("ata:{port}",), head=True),
    row("ata-media-error", FAIL, A + r"error: \{[^}]*\b(?P<err>UNC|IDNF|AMNF|MC)\b", "ata:{port}",
        "The drive on {port} reported an uncorrectable media error ({err}).",
        (("ata2.00: error: { UNC }", "https://github.com/ocaml/infrastructure/issues/58"),
         ("ata1.00: error: { UNC }", "format: drivers/ata/libata-eh.c"),), keys=("ata:{port}",),
        rule="UNC: uncorrectable data; IDNF: sector not found"),
    row("ata-crc-error", WARN, A + r"error: \{[^}]*\bICRC\b", "ata:{port}",
        "The SATA link on {port} corrupted a transfer (interface CRC error; often the cable).",
        (("ata3.00: error: { ICRC ABRT }", "format: drivers/ata/libata-eh.c"),), keys=("ata:{port}",)),
    row("ata-command-failed", WARN, A + r"failed command: (?P<cmd>.+)", "ata:{port}",
        "A command to the drive on {port} failed ({cmd}); the kernel retried it.",
        (("ata2.00: failed command: READ FPDMA QUEUED", "https://github.com/openebs/openebs/issues/1433"),),
        keys=("ata:{port}",), rule="retried by error handling; the media error or the give-up decides FAIL"),
    row("ata-device-disabled", FAIL, A + r"(?:disabled|disable device)\s*$", "ata:{port}",
        "The kernel gave up on the drive on {port} and disabled it.",
        (("ata3.00: disabled", "format: drivers/ata/libata-eh.c"),), keys=("ata:{port}",)),
    row("ata-link-failed", FAIL, A + r"(?:reset failed, giving up|failed to recover some devices|"
        r"limiting SATA link speed to .* failed|link is not online after reset)", "ata:{port}",
        "The SATA link on {port} could not be brought back.",
        (("ata1: reset failed, giving up", "format: drivers/ata/libata-eh.c"),), keys=("ata:{port}",)),
    row("ata-device-detached", FAIL, A + r"detaching \(SCSI (?P<hctl>[\d:]+)\)", "ata:{port}",
        "The drive on {port} was detached (SCSI {hctl}).",
        (("ata2.00: detaching (SCSI 1:0:0:0)", "format: drivers/ata/libata-core.c"),), keys=("ata:{port}",)),
    row("ata-link-reset", WARN, A + r"(?:hard resetting link|COMRESET failed|softreset failed|"
        r"link is slow to respond|SRST failed|reset failed \(errno|revalidation failed|failed to IDENTIFY|"
        r"qc timeout|failed to read log page|found unknown device|device reported invalid CHS|failed to set xfermode)",
        "ata:{port}", "The SATA link on {port} had to be reset.",
        (("ata1: hard resetting link", "https://github.com/openebs/openebs/issues/1433"),
         ("ata1: COMRESET failed (errno=-16)", OSM_SMART)),
        keys=("ata:{port}",)),
    row("ata-link-slowed", WARN, A + r"limiting (?:SATA link )?speed to (?P<speed>\S+(?: Gbps)?)", "ata:{port}",
        "The link on {port} was slowed to {speed} after errors.",
        (("ata1: limiting SATA link speed to 1.5 Gbps", OSM_SMART),), keys=("ata:{port}",)),
    row("ata-ncq-disabled", WARN, A + r"NCQ disabled due to excessive errors", "ata:{port}",
        "The kernel turned NCQ off for the drive on {port} after repeated errors.",
        (("ata1.00: NCQ disabled due to excessive errors", "format: drivers/ata/libata-eh.c"),), keys=("ata:{port}",)),
    # Lines that complete a report, or recovery that worked: evidence, never a finding alone.
    row("ata-error", DETAIL, A + r"EH complete", "ata:{port}",
        examples=(("ata1: EH complete", "https://github.com/openebs/openebs/issues/1433"),),
        keys=("ata:{port}",), ends=True),
    row("ata-error", DETAIL, A + r"(?:SError:|irq_stat|cmd [0-9a-f]{2}/|status: \{|error: \{|SATA link (?:up|down)|"
        r"configured for|hard resetting|softreset|link online|failed command|both IDENTIFYs|supports DRM|"
        r"Read log|READ LOG|ATA-\d+: |\d+ sectors|NCQ|FPDMA|spurious|\s*res [0-9a-f]{2}/|EH in|limiting|"
        r"Features:|Security Log|DMA mask|link)", "ata:{port}",
        examples=(("ata2.00: irq_stat 0x40000008", "https://github.com/ocaml/infrastructure/issues/58"),
         ("ata1.00: cmd 60/08:00:00:10:1c/00:00:00:00:00/40 tag 0 ncq dma 4096 in",
                   "format: drivers/ata/libata-eh.c"),), keys=("ata:{port}",)),
    row("ata-media-error", FAIL, r"^\s*res [0-9a-f]{2}/[0-9a-f]{2}:.*\(media error\)",
        examples=(("         res 41/40:00:e0:79:2d/00:00:14:00:00/40 Emask 0x409 (media error) <F>",
                   "https://github.com/openzfs/zfs/issues/1814"),), follows="ata",
        message="The drive reported an uncorrectable media error."),
    row("ata-error", DETAIL, r"^\s*res [0-9a-f]{2}/[0-9a-f]{2}:",
        examples=(("res 40/00:08:d8:74:d8/00:00:af:00:00/40 Emask 0x4 (timeout)",
                   "https://github.com/FastVPSEestiOu/storage-system-monitoring/issues/4"),), follows="ata"),
)
