"""NVIDIA Xid events, one row per Xid whose meaning NVIDIA documents: "NVRM: Xid (PCI:0000:3b:00): 79, pid=..., ...".

Sources: NVIDIA's "XID Errors" documentation (docs.nvidia.com/deploy/xid-errors: the Xid catalogue, "Analyzing
Xid Errors") and "Dynamic Page Retirement" (Xid 48/63/64) for the meanings. Severity rule: an Xid that says the
hardware is at fault or gave up (uncorrectable memory error, a high single-bit error rate, row-remap or
page-retirement failure, NVLink error, fallen off the bus, micro-controller halt, GSP firmware failure, an unstable
memory interface) -> FAIL; one that records a repair waiting for a reset, or what is most often an application fault
(graphics exceptions, page faults, timeouts) -> WARN. Xids without a row here fall through to the `gpu` table's
generic rows. The component is the GPU's PCI address (function 0): the kernel-log module names its slot from the
inventory.
"""

from burnin.kernel_log.entry import FAIL, WARN, row

_PCI = r"NVRM: Xid \(PCI:(?P<pci>[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2})(?:\.\d)?\): "
_DOC = "format: NVIDIA XID Errors (docs.nvidia.com/deploy/xid-errors)"

# Xid -> (severity, meaning). The meaning is quoted into the finding's message.
XIDS = {
    8: (WARN, "GPU stopped processing (a timeout: driver or application)"),
    13: (WARN, "graphics engine exception (most often an application fault)"),
    31: (WARN, "GPU memory page fault (most often an application fault)"),
    32: (WARN, "invalid or corrupted push buffer stream"),
    38: (FAIL, "driver firmware error"),
    43: (WARN, "GPU stopped processing (an application fault)"),
    45: (WARN, "preemptive cleanup after earlier errors"),
    48: (FAIL, "double-bit ECC error: an uncorrectable memory error"),
    56: (WARN, "display engine error"),
    57: (FAIL, "error programming the video memory interface"),
    58: (FAIL, "unstable video memory interface detected"),
    61: (WARN, "internal micro-controller breakpoint or warning"),
    62: (FAIL, "internal micro-controller halt"),
    63: (WARN, "ECC page retirement or row remapping recorded: reset the GPU to activate it"),
    64: (FAIL, "ECC page retirement or row remapping failed"),
    68: (WARN, "video processor exception"),
    69: (WARN, "graphics engine class error"),
    74: (FAIL, "NVLink error"),
    79: (FAIL, "GPU has fallen off the bus"),
    92: (FAIL, "high single-bit ECC error rate"),
    94: (FAIL, "contained ECC error: an uncorrectable memory error the GPU contained"),
    95: (FAIL, "uncontained ECC error: an uncorrectable memory error"),
    119: (FAIL, "GSP firmware RPC timeout"),
    120: (FAIL, "GSP firmware error"),
    121: (WARN, "C2C link corrected error"),
    140: (FAIL, "unrecovered ECC error"),
    154: (WARN, "GPU recovery action changed (reset or reboot required)"),
}

# Lines as NVIDIA's documentation and public bug reports print them (the text after the number varies by driver).
_EXAMPLE_TEXT = {
    48: ("NVRM: Xid (PCI:0000:3b:00): 48, pid=2178, An uncorrectable double bit error (DBE) has been detected on GPU "
         "in the framebuffer at partition 6, subpartition 0.", _DOC),
    63: ("NVRM: Xid (PCI:0000:10:1c): 63, pid=1896, Row Remapper: New row marked for remapping, reset gpu to activate.",
         "https://github.com/stas00/ml-engineering/blob/master/compute/accelerator/nvidia/debug.md"),
    79: ("NVRM: Xid (PCI:0000:44:00): 79, GPU has fallen off the bus",
         "https://github.com/NVIDIA/NVSentinel/issues/155"),
}

TABLE = tuple(
    row("gpu-xid-fatal" if severity is FAIL else "gpu-xid", severity, _PCI + rf"(?P<xid>{xid})\b", "gpu:{pci}.0",
        f"GPU {{pci}} reported Xid {xid}: {meaning}.",
        (_EXAMPLE_TEXT.get(xid) or (f"NVRM: Xid (PCI:0000:3b:00): {xid}, pid=1234, name=python3", _DOC),),
        keys=("pci:{pci}.0",), rule=f"Xid {xid}: {meaning}")
    for xid, (severity, meaning) in XIDS.items()
)
