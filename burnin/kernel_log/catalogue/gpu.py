"""GPU drivers: NVIDIA Xid events, AMD/Intel GPU hangs.

NVIDIA's driver logs "NVRM: Xid (PCI:0000:3b:00): <n>, ..."; each Xid NVIDIA documents has its own row, with its
meaning and severity, in the `xid` table (searched first). Severity rule here: an Xid that table does not know
(often an application fault) -> WARN. A GPU ring timeout or reset -> WARN.
Sources: NVIDIA "XID Errors" documentation; drivers/gpu/drm/amd/amdgpu/amdgpu_job.c, drm/i915/i915_gpu_error.c.
"""

from burnin.kernel_log.entry import DETAIL, FAIL, PCI, WARN, row

X = r"NVRM: Xid \(PCI:(?P<pci>[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2})(?:\.\d)?\): (?P<xid>\d+)"

TABLE = (
    row("gpu-xid", WARN, X, "gpu:{pci}.0", "GPU {pci} reported Xid {xid} (often an application fault).",
        (("NVRM: Xid (PCI:0000:01:00): 109, pid=4321, name=python3, Ctx switch timeout",
          "format: NVIDIA XID Errors"),), keys=("pci:{pci}.0",)),
    # Newer drivers split the message: "NVRM: The NVIDIA GPU 0000:b3:00.0" / "NVRM: (PCI ID: ...) installed in this
    # system has" / "NVRM: fallen off the bus and is not responding to commands."
    row("gpu-fell-off-bus", DETAIL, r"^NVRM: The NVIDIA GPU (?P<pci>[0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.\d)\s*$",
        "gpu:{pci}", examples=(("NVRM: The NVIDIA GPU 0000:b3:00.0", "https://github.com/NVIDIA/NVSentinel/issues/155"),),
        keys=("pci:{pci}",), opens=True),
    row("gpu-fell-off-bus", FAIL, r"^\s*NVRM: fallen off the bus", "gpu",
        "A GPU fell off the PCIe bus and does not respond.",
        (("               NVRM: fallen off the bus and is not responding to commands.",
          "https://github.com/NVIDIA/NVSentinel/issues/155"),), follows="pci"),
    row("gpu-fell-off-bus", DETAIL, r"^\s*NVRM: (?:\(PCI ID: [0-9a-f:]+\) installed in this system|The NVIDIA probe routine failed)",
        examples=(("               NVRM: (PCI ID: 10de:26b5) installed in this system has",
                   "https://github.com/NVIDIA/NVSentinel/issues/155"),), follows="pci"),
    row("gpu-fell-off-bus", FAIL, r"NVRM: GPU (?:at )?(?:PCI:)?(?P<pci>[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}(?:\.\d)?).*has fallen off the bus",
        "gpu:{pci}", "GPU {pci} fell off the PCIe bus.",
        (("NVRM: GPU at 0000:01:00.0 has fallen off the bus.", "https://github.com/Bumblebee-Project/Bumblebee/issues/554"),
         ("NVRM: GPU at PCI:0000:3b:00: GPU has fallen off the bus.", "format: NVIDIA driver"),)),
    # amdgpu since 6.x: "amdgpu 0000:28:00.0: ring gfx_0.0.0 timeout, signaled seq=..., emitted seq=..."
    row("gpu-hang", WARN, r"amdgpu (?P<pci>" + PCI + r"): (?:amdgpu: )?ring \S+ timeout", "gpu:{pci}",
        "GPU {pci} stopped responding (ring timeout) and was reset.",
        (("amdgpu 0000:28:00.0: ring gfx_0.0.0 timeout, signaled seq=57638, emitted seq=57641",
          "https://github.com/pop-os/cosmic-epoch/issues/3764"),), keys=("pci:{pci}", "amdgpu")),
    row("gpu-hang", DETAIL, r"amdgpu (?P<pci>" + PCI + r"): (?:amdgpu: )?(?:Dumping IP State|\[drm\] (?:AMDGPU device "
        r"coredump|Check your)|\s*Process |Starting \S+ ring reset|Ring \S+ reset|GPU reset|BACO reset|MODE\d reset|"
        r"VRAM is lost|MES failed|failed to unmap|reset compute queue|\[drm\] device wedged)", "gpu:{pci}",
        examples=(("amdgpu 0000:0c:00.0: amdgpu: GPU reset begin!", "https://github.com/yshui/picom/issues/1390"),),
        keys=("pci:{pci}", "amdgpu"), opens=True),
    row("gpu-hang", DETAIL, r"^\[drm:amdgpu_job_timedout \[amdgpu\]\] \*ERROR\* Process information",
        examples=(("[drm:amdgpu_job_timedout [amdgpu]] *ERROR* Process information: process picom pid 37593 thread "
                   "picom:cs0 pid 37625", "https://github.com/yshui/picom/issues/1390"),), keys=("amdgpu",)),
    row("gpu-hang", WARN, r"(?:\[drm(?::\w+)?(?: \[\w+\])?\] \*ERROR\* ring \S+ timeout|GPU HANG: ecode|"
        r"i915 (?P<pci2>\S+): \[drm\] GPU HANG)", ("gpu:{pci2}", "gpu"), "A GPU stopped responding and was reset.",
        (("[drm:amdgpu_job_timedout [amdgpu]] *ERROR* ring gfx timeout, signaled seq=1234, emitted seq=1236",
          "format: drivers/gpu/drm/amd/amdgpu/amdgpu_job.c"),), keys=("amdgpu",)),
)
