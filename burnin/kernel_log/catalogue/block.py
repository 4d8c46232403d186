"""The block layer, buffer heads and software RAID: the I/O that finally failed.

Severity rule: an I/O error on a real disk -> FAIL (the data did not come back, after the driver's retries); md
taking a disk out of an array -> FAIL; md correcting a read from the other mirror -> WARN. Errors on virtual
devices (loop, dm, md, nbd, zram) repeat what the disk below reported and are detail. Optical and floppy drives
are often a BMC's empty virtual media: WARN. Sources: block/blk-core.c (blk_print_req_error, before 5.x
print_req_error / blk_update_request), fs/buffer.c, drivers/md/raid1.c, raid10.c, raid5.c, fs/btrfs/volumes.c.
"""

from burnin.kernel_log.entry import DETAIL, FAIL, WARN, row

D = r"(?P<disk>(?!loop|ram|zram|nbd|dm-|md)[a-z]+[a-z0-9]*?)(?P<partno>p?\d+)?"
UTIL = "https://github.com/util-linux/util-linux/issues/3012"

TABLE = (
    row("disk-io-error", DETAIL, r"(?:error|I/O error), dev (?:loop|ram|zram|nbd|dm-|md)\d*, sector",
        examples=(("blk_update_request: I/O error, dev loop0, sector 0 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0",
                   "format: block/blk-core.c"),)),
    row("disk-io-error", DETAIL, r"Buffer I/O error on dev(?:ice)? (?:loop|ram|zram|nbd|dm-|md)",
        examples=(("Buffer I/O error on dev dm-0, logical block 0, async page read", "format: fs/buffer.c"),)),
    row("removable-io-error", WARN,
        r"(?P<kind>critical [\w ]+ error|I/O error|timeout error), dev (?P<disk>(?:sr|fd)\d+), sector (?P<sector>\d+)",
        "disk:/dev/{disk}", "Reading the removable drive /dev/{disk} failed (often an empty virtual drive).",
        (("blk_update_request: I/O error, dev sr0, sector 0", "format: block/blk-core.c"),), keys=("disk:{disk}",)),
    row("removable-io-error", WARN, r"Buffer I/O error on dev(?:ice)? (?P<disk>(?:sr|fd)\d+), logical block",
        "disk:/dev/{disk}", "Reading the removable drive /dev/{disk} failed (often an empty virtual drive).",
        (("Buffer I/O error on dev sr0, logical block 0, async page read", UTIL),), keys=("disk:{disk}",)),
    row("disk-io-error", FAIL,
        r"(?P<kind>critical [\w ]+ error|I/O error|timeout error|critical nexus error|critical space allocation "
        r"error|critical target error|critical medium error), dev (?P<disk>nvme\d+n\d+|[^\s,]+?)(?:p?\d+)?, "
        r"sector (?P<sector>\d+)",
        "disk:/dev/{disk}", "Disk /dev/{disk} failed an I/O at sector {sector} ({kind}).",
        (("blk_update_request: I/O error, dev sda, sector 8 op 0x0:(READ) flags 0x0 phys_seg 1 prio class 0", UTIL),
         ("critical medium error, dev sdb, sector 3821 op 0x0:(READ) flags 0x80700 phys_seg 1 prio class 0",
          "format: block/blk-core.c")),
        keys=("disk:{disk}",)),
    row("disk-io-error", FAIL, r"Buffer I/O error on dev(?:ice)? (?P<disk>nvme\d+n\d+|[a-z]+?)(?:p?\d+)?, "
        r"logical block (?P<block>\d+)", "disk:/dev/{disk}",
        "Disk /dev/{disk} failed to read or write logical block {block}.",
        (("Buffer I/O error on dev sdb, logical block 640, lost async page write", "https://github.com/openebs/openebs/issues/1433"),
         ("Buffer I/O error on dev sdb1, logical block 0, async page read", "format: fs/buffer.c"),),
        keys=("disk:{disk}",)),
    row("md-disk-failed", FAIL, r"md/raid\w*:(?P<md>md\w+): (?:Disk failure on|Operation continuing on \d+ devices"
        r".*?failure on) (?P<disk>nvme\d+n\d+|[a-z]+)\w*", "disk:/dev/{disk}",
        "Software RAID {md} took disk {disk} out of the array after errors.",
        (("md/raid:md2: Disk failure on sdb6, disabling device.", "https://github.com/1000001101000/Debian_on_Buffalo/issues/161"),
         ("md/raid1:md0: Disk failure on sdb1, disabling device.", "format: drivers/md/raid1.c"),),
        keys=("disk:{disk}",)),
    row("md-disk-failed", FAIL, r"md/raid\w*:(?P<md>md\w+): (?:Cannot continue operation|not enough operational devices)",
        "disk:/dev/{md}", "Software RAID {md} has too few working disks left.",
        (("md/raid:md2: Cannot continue operation (2/4 failed).", "https://github.com/1000001101000/Debian_on_Buffalo/issues/161"),
         ("md/raid:md0: Cannot continue operation (2/4 failed).", "format: drivers/md/raid5.c"),)),
    row("md-read-error", FAIL, r"md/raid\w*:(?P<md>md\w+): (?:read error not correctable|unrecoverable I/O read error)"
        r".*? on (?P<disk>nvme\d+n\d+|[a-z]+)\w*\)?", "disk:/dev/{disk}",
        "Software RAID {md} could not recover a read from {disk} from the other disks.",
        (("md/raid:md2: read error not correctable (sector 2208 on sdb6).",
          "https://github.com/1000001101000/Debian_on_Buffalo/issues/161"),), keys=("disk:{disk}",)),
    row("md-error", DETAIL, r"^md: super_written gets error",
        examples=(("md: super_written gets error=-5", "https://github.com/1000001101000/Debian_on_Buffalo/issues/161"),),
        follows="disk"),
    row("md-read-error-corrected", WARN, r"md/raid\w*:(?P<md>md\w+): (?:read error corrected|redirecting sector|"
        r"(?P<disk>[a-z]+)\w*: rescheduling sector)", ("disk:/dev/{disk}", "disk:/dev/{md}"),
        "Software RAID {md} worked around a read error.",
        (("md/raid1:md127: read error corrected (8 sectors at 262144 on sda1)", "format: drivers/md/raid1.c"),)),
    row("fs-device-errors", WARN, r"BTRFS (?:error|warning) \(device [^)]*\): bdev /dev/(?P<disk>[a-z]+)\w* errs: "
        r"wr (?P<wr>\d+), rd (?P<rd>\d+), flush (?P<flush>\d+), corrupt (?P<corrupt>\d+)", "disk:/dev/{disk}",
        "Btrfs counted errors on /dev/{disk} (write {wr}, read {rd}, flush {flush}, corrupt {corrupt}).",
        (("BTRFS error (device sda1): bdev /dev/sda1 errs: wr 0, rd 1, flush 0, corrupt 0, gen 0",
          "format: fs/btrfs/volumes.c"),)),
    # A filesystem's own report of a failed read or write: the block layer's line (FAIL) usually comes with it;
    # alone, it may also be corruption the disk did not cause, so it warns.
    row("fs-io-error", WARN, r"XFS \((?P<dev>(?P<disk>nvme\d+n\d+|[a-z]+)(?:p?\d+)?|[^)]+)\): (?:metadata I/O error|"
        r"writeback error|log I/O error|metadata I/O error in)", ("disk:/dev/{disk}", "filesystem:{dev}"),
        "The XFS filesystem on {dev} could not read or write its data (I/O error).",
        (("XFS (sdb1): metadata I/O error in \"xfs_trans_read_buf_map\" at daddr 0x2 len 1 error 5",
          "format: fs/xfs/xfs_buf.c (xfs_buf_ioerror_alert)"),)),
    row("fs-error", WARN, r"EXT4-fs error \(device (?P<dev>(?P<disk>nvme\d+n\d+|[a-z]+)(?:p?\d+)?|[^)]+)\)",
        ("disk:/dev/{disk}", "filesystem:{dev}"),
        "The ext4 filesystem on {dev} found an error (a disk returning bad data, or corruption).",
        (("EXT4-fs error (device sda1): ext4_find_entry:1455: inode #2: comm ls: reading directory lblock 0",
          "format: fs/ext4/super.c (__ext4_error)"),)),
    row("disk-vanished", FAIL, r"(?P<disk>nvme\d+n\d+|sd[a-z]+): detected capacity change from \d+ to 0\b",
        "disk:/dev/{disk}", "Disk /dev/{disk} shrank to nothing (the device went away).",
        (("nvme2n1: detected capacity change from 800166076416 to 0", "https://github.com/linux-nvme/nvme-cli/issues/151"),
         ("nvme0n1: detected capacity change from 1000215216 to 0", "format: block/genhd.c"),)),
)
