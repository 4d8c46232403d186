"""Network ports: transmit timeouts, hardware hangs, lost links, firmware faults, NICs that fell off the bus.

Most drivers prefix their lines with "<driver> <pci> <iface>: " (netdev_err); some older ones with
"<driver>: <iface> ". Severity rule: the port stopped transmitting (NETDEV WATCHDOG, a Tx unit hang), its
firmware faulted or asserted, it fell off the PCIe bus, it overheated, its NVM is corrupt -> FAIL; a link that
went down, an adapter reset that recovered -> WARN. The part: the interface (the inventory maps a PCI address
to it and back). Sources: net/sched/sch_generic.c (dev_watchdog), drivers/net/ethernet/intel/{e1000e,igb,
ixgbe,i40e,ice}, broadcom/{tg3,bnx2x,bnxt}, mellanox/mlx5/core/health.c, realtek/r8169_main.c.
"""

from burnin.kernel_log.entry import DETAIL, FAIL, PCI, WARN, row

DRV = r"(?P<driver>[\w-]+) (?P<pci>" + PCI + r") (?P<iface>[^\s:]+): "
# Network drivers only: a storage or GPU driver's "firmware" or "Hardware Error" line is not a NIC's.
NICDRV = (r"(?P<driver>e1000e?|e100|igb|igbvf|igc|ixgbe|ixgbevf|ixgb|i40e|iavf|ice|mlx4_core|mlx4_en|mlx5_core|"
          r"mlxsw_\w+|bnx2x?|bnxt_en|tg3|r8169|r8125|qede|qed|be2net|cxgb4|enic|sfc|nfp|ionic|atlantic|vmxnet3|"
          r"netxen_nic|qlcnic|myri10ge|sky2|forcedeth|hinic|bcmgenet|stmmac\S*|r8152|tn40xx|ngbe|txgbe|fm10k|"
          r"liquidio|octeon_ep|idpf|gve|ena|virtio_net)")
DRVP = NICDRV + r" (?P<pci>" + PCI + r"):? (?:(?P<iface>[a-z][\w.-]*): )?"
OLD = r"(?P<driver>e1000e?|e100|igb|ixgbe?|ixgb|tg3|bnx2x?|r8169|atl1c?|i40e|ice|igc|forcedeth|sky2|bnxt_en): (?P<iface>[^\s:]+):? "
PART = ("nic:{iface}", "nic:{pci}", "nic")
KEYS = ("nic:{iface}", "pci:{pci}")
PFRING = "https://github.com/ntop/PF_RING/issues/293"
E1000E_DKMS = "https://github.com/koljah-de/e1000e-dkms-debian/issues/9"

TABLE = (
    row("nic-tx-timeout", FAIL,
        r"(?:(?P<pci>" + PCI + r") (?P<ndev>[^\s:]+): )?NETDEV WATCHDOG: (?:CPU: \d+: )?"
        r"(?:(?P<iface>[^\s:]+) \((?P<driver>[^)]*)\): )?transmit queue (?P<queue>\d+) timed out",
        ("nic:{iface}", "nic:{ndev}", "nic"), "A network port stopped transmitting (queue {queue} timed out).",
        (("NETDEV WATCHDOG: eth0 (e1000e): transmit queue 0 timed out", E1000E_DKMS),),
        keys=("nic:{iface}", "nic:{ndev}", "pci:{pci}", "netdev-watchdog")),
    # The watchdog's WARNING (before or after its line, by kernel version) and its stack belong to it.
    row("nic-tx-timeout", DETAIL, r"^WARNING: CPU: \d+ PID: \d+ at (?:\S*sch_generic\.c:\d+ )?dev_watchdog",
        examples=(("WARNING: CPU: 0 PID: 0 at net/sched/sch_generic.c:478 dev_watchdog+0x398/0x3a0",
                   "https://github.com/raspberrypi/linux/issues/5239"),), keys=("netdev-watchdog",), opens=True),
    row("nic-hardware-hang", FAIL, DRVP + r"Detected (?:Hardware Unit Hang|Tx Unit Hang)", PART,
        "Network adapter {pci} hung (the driver detected a hardware unit hang).",
        (("e1000e 0000:00:19.0 eth0: Detected Hardware Unit Hang:", E1000E_DKMS),
         ("igb 0000:09:00.0: Detected Tx Unit Hang", "https://github.com/Avnu/OpenAvnu/issues/210")),
        keys=KEYS, head=True),
    row("nic-hardware-hang", FAIL, OLD + r"Detected (?:Hardware Unit Hang|Tx Unit Hang)", "nic:{iface}",
        "Network port {iface} hung (the driver detected a hardware unit hang).",
        (("e1000e: eth0: Detected Hardware Unit Hang:", "format: drivers/net/ethernet/intel/e1000e/netdev.c (old prefix)"),),
        keys=("nic:{iface}",), head=True),
    row("nic-tx-timeout", FAIL, DRVP + r"(?:transmit timed out|tx hang \d+ detected on queue|TX timeout on queue|"
        r"TX timeout detected|tx_timeout: VSI|initiating reset due to tx timeout|Tx timeout|"
        r"tx_timeout recovery|TX driver issue detected)", PART,
        "Network port {iface} stopped transmitting and was reset.",
        (("i40e 0000:08:00.1: eth9: tx_timeout recovery level 1", "https://github.com/appneta/tcpreplay/issues/183"),
         ("tg3 0000:02:00.0 eth0: transmit timed out, resetting", "format: drivers/net/ethernet/broadcom/tg3.c"),
         ("ixgbe 0000:01:00.0 eth0: tx hang 1 detected on queue 11, resetting adapter",
          "format: drivers/net/ethernet/intel/ixgbe/ixgbe_main.c")), keys=KEYS),
    # mlx5_core_err() prints the function, line and pid first: "poll_health:739:(pid 0): Fatal error 1 detected".
    row("nic-firmware-fault", FAIL, DRVP + r"(?:\w+:\d+:\(pid \d+\): )?(?:.*MC assert|begin crash dump|Firmware fatal reset|firmware fatal|"
        r"device's health compromised|Internal error detected|health poll failed|FW Fatal|firmware error detected|"
        r"Hardware Error|Fatal error|MFW seems hanged|PF reset failed|Reset adapter failed|"
        r"fatal error detected|firmware (?:crash|hang)|EMP reset|Firmware recovery mode detected)", PART,
        "Network adapter {pci} reported a firmware or hardware fault.",
        (("mlx5_core 0000:3b:00.0: device's health compromised - reached miss count",
          "format: drivers/net/ethernet/mellanox/mlx5/core/health.c"),
         ("bnxt_en 0000:3b:00.0 eth2: Firmware fatal reset event received",
          "format: drivers/net/ethernet/broadcom/bnxt/bnxt.c"),
         ("mlx5_core 0000:5e:00.0: poll_health:739:(pid 0): Fatal error 1 detected",
          "format: drivers/net/ethernet/mellanox/mlx5/core/health.c (mlx5_core_err)")), keys=KEYS),
    row("nic-firmware-fault", FAIL, r"bnx2x: \[(?:bnx2x_attn_int_deasserted\d|bnx2x_panic_dump|bnx2x_mc_assert|"
        r"bnx2x_timer)[^\]]*\((?P<iface>[^)]+)\)\](?:MC assert|begin crash dump|MFW seems hanged|.*assert)",
        "nic:{iface}", "Network port {iface} (bnx2x) reported a firmware assert or crash.",
        (("bnx2x: [bnx2x_attn_int_deasserted3:4323(eth4)]MC assert!", "format: drivers/net/ethernet/broadcom/bnx2x/bnx2x_main.c"),),
        keys=("nic:{iface}",)),
    row("nic-fell-off-bus", FAIL, DRVP + r"(?:PCIe link lost|Adapter removed|removed from the bus|"
        r"device now detached|PCI link lost|Cannot (?:read|access) device registers|surprise removal)", PART,
        "Network adapter {pci} fell off the PCIe bus.",
        (("igb 0000:01:00.0 enp1s0: PCIe link lost", "format: drivers/net/ethernet/intel/igb/igb_main.c"),), keys=KEYS),
    row("nic-over-temperature", FAIL, DRVP + r".*?(?:over ?heated|overheat|Thermal Sensor|temperature (?:is )?(?:too high|critical))",
        PART, "Network adapter {pci} overheated.",
        (("ixgbe 0000:03:00.0 eth2: Network adapter has been stopped because it has over heated. Restart the "
          "computer. If the problem persists, power off the system and replace the adapter",
          "format: drivers/net/ethernet/intel/ixgbe/ixgbe_main.c"),), keys=KEYS),
    row("nic-nvm-invalid", FAIL, DRVP + r"(?:The NVM Checksum Is Not Valid|NVM checksum invalid|"
        r"Invalid MAC Address|EEPROM (?:checksum|read) (?:is invalid|failed))", PART,
        "Network adapter {pci} has a corrupt NVM/EEPROM.",
        (("e1000e 0000:00:1f.6: The NVM Checksum Is Not Valid", "format: drivers/net/ethernet/intel/e1000e/netdev.c"),),
        keys=KEYS),
    row("nic-reset", WARN, DRVP + r"(?:Reset adapter(?: unexpectedly)?|Resetting adapter|Reset adapter|"
        r"resetting|Global reset|CORER|rtl_\w+_cond == \d|Tx queue stuck|Recovering from)", PART,
        "Network port {iface} was reset by its driver.",
        (("e1000e 0000:00:19.0 eth0: Reset adapter unexpectedly", E1000E_DKMS),), keys=KEYS),
    row("nic-link-down", WARN, r"(?P<driver>[\w-]+) (?P<pci>" + PCI + r"):? (?P<iface>[^\s:]+): (?:.*\s)?(?:NIC )?"
        r"[Ll]ink (?:is )?[Dd]own", ("nic:{iface}",),
        "Network port {iface} lost its link.",
        (("igb 0000:05:00.0 eno1: igb: eno1 NIC Link is Down", PFRING),), keys=("nic:{iface}",)),
    # Older prefixes name only the interface: "e1000: eth1 NIC Link is Down".
    row("nic-link-down", WARN, OLD + r"NIC Link is Down|(?P<driver2>tg3|bnx2|r8169|sky2|forcedeth)\S*: "
        r"(?P<iface2>[^\s:]+):? [Ll]ink is [Dd]own", ("nic:{iface}", "nic:{iface2}"),
        "Network port {iface}{iface2} lost its link.",
        (("e1000e: eth0 NIC Link is Down", E1000E_DKMS),), keys=("nic:{iface}", "nic:{iface2}")),
    row("nic-link-down", WARN, r"^(?P<driver>[\w-]+): (?P<iface>[^\s:]+): [Ll]ink (?:is )?[Dd]own", ("nic:{iface}",),
        "Network port {iface} lost its link.",
        (("e1000: enp0s11: link down", "format: drivers/net/ethernet (generic netif_carrier prefix)"),),
        keys=("nic:{iface}",)),
    # Register dumps and the lines of a hang report.
    row("nic-error", DETAIL, r"^\s*(?:TDH|TDT|next_to_use|next_to_clean|(?:tx_)?buffer_info\[next_to_clean\]|time_stamp|"
        r"next_to_watch|jiffies|next_to_watch\.status|MAC Status|PHY Status|PHY 1000BASE-T Status|"
        r"PHY Extended Status|PCI Status|Tx Queue|desc\.status)(?=[\s,:]|$)",
        examples=(("  TDH                  <5b>", "format: drivers/net/ethernet/intel/e1000e/netdev.c"),
                  ("buffer_info[next_to_clean]", "https://github.com/Avnu/OpenAvnu/issues/210")),
        follows="nic|pci"),
    row("nic-error", DETAIL, DRVP + r"(?:\s+(?:TDH|TDT|next_to_|time_stamp|jiffies|MAC Status|PHY|PCI Status|Tx Queue)|"
        r"0x[0-9a-f]{8}: 0x|DEBUG:|tx_timeout|print_health_info|assert_var|Health|\w+ reset|RXDCTL\.ENABLE|"
        r"TXDCTL\.ENABLE)",
        PART, examples=(("ixgbe 0000:08:00.1: eth3: RXDCTL.ENABLE on Rx queue 0 not cleared within the polling period", "https://community.intel.com/t5/Ethernet-Products/Issue-with-quot-Detected-Tx-Unit-Hang-quot-dropping-network/m-p/383247"),
         ("tg3 0000:02:00.0 eth0: 0x00000000: 0x165f14e4, 0x00100406, 0x02000000, 0x00800010",
                         "format: drivers/net/ethernet/broadcom/tg3.c (tg3_dump_state)"),), keys=KEYS),
)
