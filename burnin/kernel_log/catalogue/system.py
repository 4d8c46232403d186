"""The whole machine: lockups, stalls, hung tasks, panics, NMIs, thermal trips, oopses, dead USB controllers.

Severity rule: a CPU stuck (soft or hard lockup), a panic, an NMI for a PCI SERR or an I/O check, a critical
temperature shutdown, a USB host controller given up for dead -> FAIL; an RCU stall, a hung task, an NMI of
unknown reason, throttling, a kernel oops -> WARN (they may be software; under a burn-in load they are worth a
look). Sources: kernel/watchdog.c, watchdog_perf.c, kernel/rcu/tree_stall.h, kernel/hung_task.c, kernel/panic.c,
arch/x86/kernel/nmi.c, drivers/thermal/thermal_core.c, drivers/usb/core/hcd.c, kernel/reboot.c
(hw_protection_shutdown), arch/x86/kernel/cpu/mce/therm_throt.c.
"""

from burnin.kernel_log.entry import DETAIL, FAIL, PCI, WARN, row

TABLE = (
    # A USB host controller that stopped answering takes every port on it (the live stick's too) with it.
    row("usb-controller-died", FAIL, r"(?P<driver>xhci[_-]hcd|ehci[_-]pci|ohci[_-]pci|uhci_hcd) (?P<pci>" + PCI +
        r"): (?:xHCI host controller not responding, assume dead|HC died; cleaning up)", "pcie:{pci}",
        "USB host controller {pci} stopped responding and was given up for dead.",
        (("xhci_hcd 0000:09:00.0: xHCI host controller not responding, assume dead", "format: drivers/usb/host/xhci-ring.c"),
         ("xhci_hcd 0000:00:14.0: HC died; cleaning up", "format: drivers/usb/core/hcd.c (usb_hc_died)")),
        keys=("pci:{pci}",)),
    row("soft-lockup", FAIL, r"soft lockup - CPU#(?P<cpu>\d+) stuck for (?P<secs>\d+)s", "cpu:{cpu}",
        "CPU {cpu} was stuck for {secs} s (soft lockup).",
        (("watchdog: BUG: soft lockup - CPU#3 stuck for 23s! [kworker/3:1:150]",
          "https://github.com/openzfs/zfs/issues/4536"),)),
    row("hard-lockup", FAIL, r"Watchdog detected hard LOCKUP on cpu (?P<cpu>\d+)|Watchdog CPU:(?P<cpu2>\d+) (?:detected )?Hard LOCKUP",
        ("cpu:{cpu}", "cpu:{cpu2}"), "A CPU stopped responding to interrupts (hard lockup).",
        (("NMI watchdog: Watchdog detected hard LOCKUP on cpu 1", "https://github.com/TobleMiner/wintron7.0/issues/2"),)),
    row("kernel-panic", FAIL, r"Kernel panic - not syncing: (?P<why>.+)", "kernel", "The kernel panicked: {why}",
        (("Kernel panic - not syncing: Fatal exception", "format: kernel/panic.c"),)),
    row("nmi-error", FAIL, r"NMI: (?P<what>PCI system error \(SERR\)|IOCK error)", "platform",
        "The platform raised an NMI for a {what}.",
        (("NMI: PCI system error (SERR) for reason a1 on CPU 0.", "format: arch/x86/kernel/nmi.c"),)),
    row("nmi-unknown", WARN, r"NMI received for unknown reason (?P<reason>\w+) on CPU (?P<cpu>\d+)", "cpu:{cpu}",
        "CPU {cpu} received an NMI for an unknown reason ({reason}); firmware often reports hardware errors this way.",
        (("Uhhuh. NMI received for unknown reason 2d on CPU 42.", "https://github.com/openfoodfacts/openfoodfacts-infrastructure/issues/430"),
         ("Uhhuh. NMI received for unknown reason 3d on CPU 0.", "format: arch/x86/kernel/nmi.c"),), keys=("nmi",)),
    row("nmi-unknown", DETAIL, r"Dazed and confused, but trying to continue|Do you have a strange power saving mode",
        examples=(("Do you have a strange power saving mode enabled?", "https://github.com/openfoodfacts/openfoodfacts-infrastructure/issues/430"),
         ("Dazed and confused, but trying to continue", "format: arch/x86/kernel/nmi.c"),), keys=("nmi",)),
    row("rcu-stall", WARN, r"(?:rcu: )?INFO: (?P<flavor>rcu_\w+) (?:self-)?detected (?:expedited )?stalls? on CPU",
        "kernel", "The kernel detected a CPU stall ({flavor}).",
        (("INFO: rcu_sched self-detected stall on CPU", "https://github.com/openzfs/zfs/issues/557"),)),
    row("hung-task", WARN, r"INFO: task (?P<task>.+):(?P<pid>\d+) blocked for more than (?P<secs>\d+) seconds",
        "task:{task}", "Task {task} was blocked for more than {secs} s.",
        (("INFO: task txg_sync:1234 blocked for more than 120 seconds.", "https://github.com/openzfs/zfs/issues/2275"),)),
    row("kernel-oops", WARN, r"^(?:BUG: unable to handle (?:kernel )?(?:page fault|paging request|NULL pointer)|"
        r"general protection fault|Oops: |BUG: Bad page state|BUG: Bad rss-counter|kernel BUG at )", "kernel",
        "The kernel crashed in a task (an oops); on a tested machine a memory or CPU fault is one cause.",
        (("BUG: Bad page state in process swapper/0  pfn:1a2b3c", "format: mm/page_alloc.c"),)),
    # -- thermal ---------------------------------------------------------------------------------------
    row("cpu-thermal-throttle", WARN,
        r"CPU(?P<cpu>\d+): (?P<scope>Core|Package) temperature above threshold, (?:cpu|CPU) clock throttled",
        "cpu:{cpu}", "CPU {cpu} was throttled because its {scope} temperature crossed the limit.",
        (("CPU0: Core temperature above threshold, cpu clock throttled (total events = 1)",
          "https://github.com/erpalma/throttled/issues/239"),)),
    row("thermal-critical", FAIL, r"(?:thermal (?P<zone>thermal_zone\d+): .*)?[Cc]ritical temperature reached|"
        r"HARDWARE PROTECTION shutdown \(Temperature",
        ("thermal:{zone}", "platform"), "A thermal zone reached its critical temperature; the machine shuts down.",
        (("thermal thermal_zone0: critical temperature reached (105 C), shutting down", "format: drivers/thermal/thermal_core.c"),)),
)
