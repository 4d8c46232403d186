"""NVMe: timeouts, controller resets, failed I/O with its status, a controller that is gone.

Severity rule: an I/O timeout that needed an abort or a reset, a controller reset or disabled, a failed I/O, a
controller removed -> FAIL; an I/O completed only when polled (a lost interrupt) -> WARN. The part: the
controller (nvmeN) or namespace (nvmeNnM); the inventory gives its serial. Sources: drivers/nvme/host/pci.c
(nvme_timeout, nvme_reset_work, nvme_remove_dead_ctrl), core.c and constants.c (nvme_log_error).
"""

from burnin.kernel_log.entry import DETAIL, FAIL, PCI, WARN, row

C = r"nvme (?P<ctrl>nvme\d+): "
KEYS = ("nvme:{ctrl}",)
NVME151 = "https://github.com/linux-nvme/nvme-cli/issues/151"

TABLE = (
    row("nvme-timeout", WARN, C + r"I/O (?:tag )?(?P<tag>\d+) (?:\([^)]*\) )?(?:opcode \S+ (?:\([^)]*\) )?)?"
        r"QID (?P<qid>\d+) timeout, completion polled", "nvme:{ctrl}",
        "NVMe controller {ctrl} missed an interrupt (I/O completed only when polled).",
        (("nvme nvme0: I/O 897 QID 2 timeout, completion polled", "https://github.com/starfive-tech/linux/issues/98"),
         ("nvme nvme0: I/O 5 QID 2 timeout, completion polled", "format: drivers/nvme/host/pci.c"),), keys=KEYS),
    row("nvme-timeout", FAIL, C + r"I/O (?:tag )?(?P<tag>\d+) (?:\([^)]*\) )?(?:opcode \S+ (?:\([^)]*\) )?)?"
        r"QID (?P<qid>\d+) timeout", "nvme:{ctrl}",
        "NVMe controller {ctrl} timed out on an I/O (queue {qid}).",
        (("nvme nvme0: I/O 12 QID 5 timeout, aborting", NVME151),
         ("nvme nvme1: I/O tag 28 (401c) opcode 0x2 (I/O Cmd) QID 3 timeout, aborting req_op:READ(0) size:4096",
          "format: drivers/nvme/host/pci.c (6.x)")),
        keys=KEYS),
    row("nvme-controller-lost", FAIL, C + r"(?:Removing after probe failure|Disabling device after reset failure|"
        r"Device not ready; aborting (?:initialisation|reset)|failed to mark controller live|"
        r"Identify Controller failed|Device shutdown incomplete)", "nvme:{ctrl}",
        "NVMe controller {ctrl} failed and was given up on.",
        (("nvme nvme0: Removing after probe failure status: -19", "https://github.com/linux-nvme/nvme-cli/issues/2846"),),
        keys=KEYS),
    row("nvme-controller-reset", FAIL, C + r"(?:resetting controller|controller is down; will reset|"
        r"frozen state error detected, reset controller|Failed status: .*reset controller|"
        r"I/O \d+ QID \d+ timeout, (?:reset|disable) controller)",
        "nvme:{ctrl}", "NVMe controller {ctrl} stopped responding and was reset.",
        (("nvme nvme0: controller is down; will reset: CSTS=0xffffffff, PCI_STATUS=0xffff", NVME151),),
        keys=KEYS),
    row("nvme-controller-lost", FAIL, r"nvme (?P<pci>" + PCI + r"): (?:Unable to change power state from \w+ to D0, "
        r"device inaccessible|can't change power state|enabling device .* failed|Failed to)",
        "pcie:{pci}", "NVMe device {pci} became inaccessible.",
        (("nvme 0000:01:00.0: Unable to change power state from D3cold to D0, device inaccessible",
          "format: drivers/pci/pci.c"),), keys=("pci:{pci}",)),
    row("nvme-io-error", FAIL,
        r"(?P<ns>(?P<ctrl>nvme\d+)n\d+): (?:I/O Cmd|Read|Write|Flush|Write Zeroes|Dataset Management|Compare|Verify|Zone \w+)"
        r"\((?P<op>0x[0-9a-f]+)\) @ LBA (?P<lba>\d+), (?P<blocks>\d+) blocks, (?P<status>.+)",
        "disk:/dev/{ns}", "NVMe namespace /dev/{ns} failed an I/O at LBA {lba} ({status}).",
        (("nvme0n1: I/O Cmd(0x2) @ LBA 1336320, 32 blocks, I/O Error (sct 0x3 / sc 0x71)", "https://github.com/oxidecomputer/propolis/pull/1156"),
         ("nvme0n1: Read(0x2) @ LBA 2048, 8 blocks, Unrecovered Read Error (sct 0x2 / sc 0x81) DNR",
          "format: drivers/nvme/host/constants.c"),), keys=KEYS),
    row("nvme-error", DETAIL, C + r"(?:Abort status|I/O (?:tag )?\d+|Cancell?ing I/O|failed to set APST|controller is down|"
        r"Identify|frozen state)", "nvme:{ctrl}",
        examples=(("nvme nvme0: Abort status: 0x0", "https://github.com/linux-surface/linux-surface/issues/733"),
         ("nvme nvme0: Abort status: 0x0", "format: drivers/nvme/host/pci.c"),), keys=KEYS),
)
