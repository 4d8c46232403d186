"""The network module's profile settings: which ports, how to judge their counters, and the traffic test."""

from __future__ import annotations

from dataclasses import dataclass

from burnin.settings import setting


@dataclass(frozen=True)
class NetworkSettings:
    ports: tuple[str, ...] = setting((), "ports to test; empty: every physical port (naming them allows virtual ones)")
    must_be_up: tuple[str, ...] = setting((), "ports that must have a link: no link is a FAIL instead of a WARN")
    pairs: tuple[tuple[str, str], ...] = setting((), 'ports cabled to each other, for the traffic test: '
                                                     '[["eth1", "eth2"]]')
    detect_pairs: bool = setting(True, "find cabled pairs with a probe frame")
    bring_up_down_ports: bool = setting(True, "bring administratively-down ports up to see their link (restored)")
    link_wait_s: float = setting(5.0, "how long a port brought up (or moved) gets to find its link", unit="s")
    interval_s: float = setting(1.0, "sampling interval of counters and throughput", unit="s")
    driver_counters_interval_s: float = setting(10.0, "how often the driver's own counters (`ethtool -S`, one "
                                                      "program per port) are read during the run", unit="s")
    error_growth: str = setting("warn", "severity of error counters that grew during the run", choices=("warn", "fail"))
    drop_growth: str = setting("warn", "severity of drop counters that grew outside the traffic test",
                               choices=("warn", "fail", "info"))
    traffic_drop_growth: str = setting("fail", "severity of drop counters that grew during the traffic test",
                                       choices=("warn", "fail"))
    min_throughput_fraction: float = setting(0.8, "traffic below this fraction of the slower port's link speed, "
                                                  "either way, FAILs")
    cpu_bound_share: float = setting(0.9, "a test process using this share of a CPU core makes low throughput a "
                                          "WARN (the CPU was the limit), not a FAIL")
    min_mbps: float = setting(0.0, "throughput floor for links of unknown speed (virtual NICs); 0: report only",
                              unit="Mb/s")
    traffic_s: float = setting(0.0, "length of the traffic test; 0: half of the run phase", unit="s")
    streams: int = setting(1, "TCP connections each way")
    worker_start_s: float = setting(30.0, "how long a traffic receiver gets to start (slow machines)", unit="s")
