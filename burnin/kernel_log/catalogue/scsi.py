"""SCSI midlayer and sd: failed commands with their sense data, timeouts, offlined devices.

A failed command is one event keyed by the device ("sd H:C:T:L" and its "[sdX]"): "FAILED Result: hostbyte=...
driverbyte=...", "Sense Key : Medium Error [current]", "Add. Sense: Unrecovered read error", "CDB: Read(10) ...".
Severity rule: sense key Medium Error or Hardware Error (0x3/0x4), an unrecovered read/write ASC, a device
offlined or gone -> FAIL; a timeout, an aborted command, a task abort that worked -> WARN; Illegal Request, Unit
Attention, Not Ready alone -> detail. Sources: drivers/scsi/scsi_logging.c (scsi_print_sense_hdr,
scsi_print_result), scsi_error.c, scsi_lib.c, sd.c, constants.c.
"""

from burnin.kernel_log.entry import DETAIL, FAIL, WARN, row

# Kernels before 4.x put two spaces after "[sdX]" ("[sdb]  Sense Key : Medium Error [current]").
S = r"(?:sd|scsi|sr|st|ses|sg) (?P<hctl>\d+:\d+:\d+:\d+): (?:\[(?P<disk>\w+)\] )?(?:tag#\d+ )?\s*"
KEYS = ("scsi:{hctl}", "disk:{disk}")
PART = ("disk:/dev/{disk}", "scsi:{hctl}")
LABGRID = "https://github.com/labgrid-project/labgrid/issues/1539"

TABLE = (
    row("scsi-sense-error", FAIL,
        r"(?:" + S + r"|\[(?P<disk2>sd[a-z]+)\] (?:tag#\d+ )?)Sense Key ?: (?P<key>Medium Error|Hardware Error|0x3|0x4)\b",
        ("disk:/dev/{disk}", "disk:/dev/{disk2}", "scsi:{hctl}"),
        "The disk reported a media or hardware error (sense key: {key}).",
        (("sd 0:0:0:0: [sda] tag#0 Sense Key : Medium Error [current] ", "format: drivers/scsi/scsi_logging.c"),
         ("sd 0:0:0:0: [sda] tag#0 Sense Key : 0x3 [current] ", LABGRID)),
        keys=KEYS + ("disk:{disk2}",)),
    row("scsi-sense-error", FAIL, S + r"Add\. Sense: (?P<asc>Unrecovered (?:read|write) error.*|"
        r"Id CRC or ECC error|L-EC uncorrectable error|Logical unit failure.*|Internal target failure|"
        r"Record not found|Recorded entity not found|Data synchronization mark error|Write error.*)",
        PART, "The disk could not recover the data ({asc}).",
        (("sd 3:0:0:0: [sdb] tag#3 Add. Sense: Unrecovered read error", "https://github.com/openebs/openebs/issues/1433"),
         ("sd 2:0:0:0: [sdb] tag#9 Add. Sense: Unrecovered read error - auto reallocate failed",
          "format: drivers/scsi/constants.c (additional sense table)"),), keys=KEYS),
    row("scsi-device-offlined", FAIL, S + r"(?:Device offlined|rejecting I/O to (?:offline|dead) device|"
        r"Medium access timeout failure\. Offlining disk|device offline or changed)", PART,
        "A disk stopped responding and was taken offline.",
        (("sd 1:0:0:0: Device offlined - not ready after error recovery", "https://github.com/MichaIng/DietPi/issues/4499"),
         ("sd 6:0:0:0: Device offlined - not ready after error recovery", "format: drivers/scsi/scsi_error.c"),),
        keys=KEYS),
    row("scsi-device-lost", FAIL, S + r"FAILED Result: hostbyte=(?P<host>DID_NO_CONNECT|DID_BAD_TARGET)", PART,
        "The disk could no longer be reached ({host}).",
        (("sd 6:0:0:0: [sdc] tag#12 FAILED Result: hostbyte=DID_NO_CONNECT driverbyte=DRIVER_OK cmd_age=0s",
          "format: drivers/scsi/scsi_logging.c"),), keys=KEYS, head=True),
    # sd's own commands (sd_print_result): a disk that cannot even say its size is gone. "Synchronize Cache" after
    # a USB disconnect is the normal unplug path, so only the capacity and unit-ready probes count.
    row("scsi-device-lost", FAIL, S + r"(?P<cmd>Read Capacity(?:\(1[06]\))?|Test Unit Ready) failed: Result: "
        r"hostbyte=(?P<host>DID_NO_CONNECT|DID_BAD_TARGET)", PART,
        "The disk could no longer be reached ({cmd} failed, {host}).",
        (("sd 2:0:0:0: [sdb] Read Capacity(16) failed: Result: hostbyte=DID_NO_CONNECT driverbyte=DRIVER_OK",
          "format: drivers/scsi/sd.c (read_capacity_error, sd_print_result); seen in an ubuntuforums.org dmesg"),
         ("sd 10:0:0:0: [sdf] Test Unit Ready failed: Result: hostbyte=DID_NO_CONNECT driverbyte=DRIVER_OK",
          "format: drivers/scsi/sd.c (sd_spinup_disk)")), keys=KEYS),
    row("scsi-timeout", WARN, S + r"(?:timing out command, waited|FAILED Result: hostbyte=DID_TIME_OUT|"
        r"Unhandled error code|attempting task abort|task abort: FAILED|"
        r"Result: hostbyte=DID_TIME_OUT)", PART,
        "A SCSI/SAS command to the disk timed out or was aborted.",
        (("sd 4:0:1:0: attempting task abort! scmd(ffff880204baee80)", "https://github.com/openzfs/zfs/issues/574"),
         ("sd 0:0:0:0: [sda] tag#7 timing out command, waited 180s", "format: drivers/scsi/scsi_lib.c"),
         ("sd 0:0:1:0: attempting task abort!scmd(0x00000000c7b3c7b0), outstanding for 30348 ms & timeout 30000 ms",
          "format: drivers/scsi/mpt3sas/mpt3sas_scsih.c")),
        keys=KEYS),
    row("scsi-task-abort", WARN, r"mptscsih: (?P<ioc>ioc\d+): attempting task abort", "scsi:{ioc}",
        "A SCSI/SAS command hung and was aborted.",
        (("mptscsih: ioc0: attempting task abort! (sc=ffff88011ac7c880)",
          "https://github.com/openzfs/zfs/issues/2275"),), keys=("scsi:{ioc}",)),
    row("scsi-aborted-command", WARN, S + r"Sense Key ?: (?:Aborted Command|0xb)\b", PART,
        "The disk aborted a command (sense key Aborted Command).",
        (("sd 0:0:0:0: [sda] tag#0 Sense Key : Aborted Command [current] ", "https://github.com/Dasharo/dasharo-issues/issues/1100"),
         ("sd 0:0:0:0: [sda] tag#3 Sense Key : Aborted Command [current] ", "format: drivers/scsi/scsi_logging.c"),),
        keys=KEYS),
    # A failed command's report; it is judged by its sense data (above) or the block layer's line.
    row("scsi-error", DETAIL, S + r"(?:FAILED Result|Result: hostbyte)", PART,
        examples=(("sd 1:0:0:0: [sdb] tag#22 FAILED Result: hostbyte=DID_OK driverbyte=DRIVER_OK cmd_age=0s",
                   "https://github.com/ocaml/infrastructure/issues/58"),), keys=KEYS, head=True),
    row("scsi-error", DETAIL, S + r"(?:Sense Key|Add\. Sense|ASC=|CDB:|"
        r"Unhandled sense code|Sense not available|\s*<<vendor>>|Sense Key : (?:Illegal Request|Unit Attention|"
        r"Not Ready|Recovered Error|No Sense)|Power-on or device reset occurred|task abort: SUCCESS|"
        r"Done: |timing out|device_unblock)", PART,
        examples=(("sd 3:0:0:0: [sdb] tag#3 CDB: Write(10) 2a 00 00 00 14 88 00 00 08 00", "https://github.com/openebs/openebs/issues/1433"),
         ("sd 0:0:0:0: [sda] tag#0 CDB: Read(10) 28 00 00 00 12 34 00 00 08 00",
                   "format: drivers/scsi/scsi_logging.c"),), keys=KEYS),
    row("scsi-error", DETAIL, r"^\[(?P<disk>sd[a-z]+)\] (?:tag#\d+ )?(?:Sense Key|Add\. Sense|CDB|Result|"
        r"Unhandled|ASC)", ("disk:/dev/{disk}",),
        examples=(("[sdb] Add. Sense: Unrecovered read error - auto reallocate failed",
                   "format: drivers/scsi/scsi_logging.c (kernels before 4.x)"),), keys=("disk:{disk}",)),
)
