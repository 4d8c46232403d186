"""Memory failure handling and page offlining, and OOM kills (memory, not hardware, but a soak must see them).

Severity rule: a page taken out of use after an uncorrected error (memory_failure) or a process killed for
touching poisoned memory -> FAIL; a page soft-offlined because corrected errors kept coming (the RAS CEC, mcelog
policy) -> WARN; an OOM kill (global or cgroup) -> WARN. Sources: mm/memory-failure.c, drivers/ras/cec.c,
mm/oom_kill.c.
"""

from burnin.kernel_log.entry import DETAIL, FAIL, WARN, row

LUCK = "https://lore.kernel.org/r/20210812152548.GA1579021@agluck-desk2.amr.corp.intel.com"

TABLE = (
    row("memory-failure", FAIL,
        r"Memory failure: (?P<pfn>0x[0-9a-f]+): (?:recovery action|Sending SIGBUS|Killing|unhandlable page|"
        r"already hardware poisoned|dirty|clean|.*(?:Failed|Ignored|Delayed|Recovered))",
        "memory:page {pfn}", "The kernel took memory page {pfn} out of use after an uncorrected memory error.",
        (("Memory failure: 0x1e8de2: recovery action for huge page: Recovered", LUCK),), keys=("memfail:{pfn}",)),
    row("memory-failure", FAIL, r"(?:MCE|Memory failure): Killing (?P<comm>.+?):(?P<pid>\d+) due to hardware memory "
        r"corruption", "memory", "Process {comm} was killed because it touched memory with an uncorrected error.",
        (("MCE: Killing qemu-kvm:2856 due to hardware memory corruption fault at 7f2b4c600000",
          "format: mm/memory-failure.c"),)),
    row("memory-page-offlined", WARN, r"(?:soft offline: (?P<pfn>0x[0-9a-f]+)|Soft offlining pfn (?P<pfn2>0x[0-9a-f]+)|"
        r"RAS: Soft-offlining pfn: (?P<pfn3>0x[0-9a-f]+))", ("memory:page {pfn}", "memory:page {pfn2}",
        "memory:page {pfn3}"), "The kernel retired a memory page that kept reporting corrected errors.",
        (("RAS: Soft-offlining pfn: 0x4c2b3e", "format: drivers/ras/cec.c"),)),
    row("oom-kill", WARN, r"^Out of memory: Kill(?:ed)? process (?P<pid>\d+) \((?P<comm>[^)]*)\)", "memory",
        "The kernel ran out of memory and killed {comm} (pid {pid}).",
        (("Out of memory: Killed process 3044 (stress-ng) total-vm:1234kB, anon-rss:1000kB, file-rss:0kB, "
          "shmem-rss:0kB, UID:0 pgtables:100kB oom_score_adj:1000", "https://github.com/docker/for-linux/issues/1001"),),
        keys=("oom",)),
    row("oom-kill-cgroup", WARN, r"^Memory cgroup out of memory: Kill(?:ed)? process (?P<pid>\d+) \((?P<comm>[^)]*)\)",
        "memory", "A memory cgroup ran out of memory and the kernel killed {comm} (pid {pid}).",
        (("Memory cgroup out of memory: Killed process 4971 (netdata) total-vm:47820kB, anon-rss:7560kB, file-rss:0kB, shmem-rss:0kB, UID:201 pgtables:100kB oom_score_adj:1000", "https://github.com/netdata/netdata/issues/10875"),
         ("Memory cgroup out of memory: Killed process 1234 (java) total-vm:8001208kB, anon-rss:2098176kB, "
          "file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:4544kB oom_score_adj:0", "format: mm/oom_kill.c"),),
        keys=("oom",)),
    row("oom-kill", DETAIL, r"invoked oom-killer: ",
        examples=(("uwsgi invoked oom-killer: gfp_mask=0xcc0(GFP_KERNEL), order=0, oom_score_adj=986",
                   "https://github.com/reportportal/kubernetes/issues/203"),), keys=("oom",), head=True),
    row("oom-kill", DETAIL, r"^oom-kill:constraint=|^oom_reaper: reaped process|^Killed process \d+ \(",
        examples=(("oom_reaper: reaped process 15784 (python3), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB", "https://github.com/docker/for-linux/issues/1001"),
         ("oom_reaper: reaped process 3044 (stress-ng), now anon-rss:0kB, file-rss:0kB, shmem-rss:0kB",
                   "format: mm/oom_kill.c"),), keys=("oom",)),
)
