"""Network ports: link speed and duplex, error counters, link flaps, and TCP traffic between two cabled ports.

What it checks, for every physical port (loopback and virtual interfaces only when the setting `ports` names
them; `ports` names exactly the ports to test):

- The link (check): carrier and operstate, the negotiated speed and duplex against the best speed both ends of
  the cable support (this port's advertised link modes and its link partner's, from `ethtool`), and
  autonegotiation. A port that is administratively down is brought up for the test (setting
  `bring_up_down_ports`) and put down again at the end, so "no link" means no link, not "nobody enabled it".
- Counters during the run: the kernel's (/sys/class/net/X/statistics: rx/tx errors, CRC, frame, FIFO, missed,
  dropped…, and carrier_changes) and the driver's own error-like counters (`ethtool -S`: names with err, crc,
  drop, discard, miss, timeout, fifo, overrun), sampled every `interval_s` with the throughput
  (`rx_mbps:eth0`, `tx_mbps:eth0`, `errors:eth0`, `drops:eth0`).
- Traffic between two ports cabled to each other (no second server needed): the pairs named in `pairs`, or
  found by sending a probe frame (ethertype 0x88B5, "local experimental") out of each port and seeing which one
  other port receives it (`detect_pairs`). Each port of a pair moves into a network namespace of its own,
  gets an address from 198.18.0.0/15 (the benchmarking range, RFC 2544), and TCP traffic runs both ways at
  once for `traffic_s` seconds (0: half of the run phase). Afterwards the ports go back exactly as they were:
  namespace, name, MTU, addresses, up/down — on Ctrl-C too, and after a crash: the original state is written
  to a ledger under /run/burnin before anything moves, and the next start restores what a dead run left
  behind. A port that carries the default route, other routes, DHCP/SLAAC addresses, addresses with open
  sockets, or belongs to a bridge or bond is never moved (the operator may be logged in through it).

What makes it FAIL:
- `no-link` when a port listed in `must_be_up` has no link, or fewer ports have a link than the claims'
  `nics.links_up` (otherwise a WARN: "no cable? connect one to test this port").
- `underspeed-link`: the link runs below the best speed this port and its partner both advertise (a damaged
  port or cable that fell back from 10 Gb/s to 1 Gb/s, or 1 Gb/s to 100 Mb/s). Without the partner's modes
  (many drivers do not report them) a link below the port's own best is only INFO `speed-below-port-max`.
- `half-duplex`: a full-duplex-capable port running half duplex.
- `link-flap`: a link that went down or changed carrier during the run (naming the port).
- `low-throughput`: traffic below `min_throughput_fraction` of the slower port's link speed, either way (a WARN
  `throughput-cpu-bound` instead when the test's own processes were CPU-bound: then the CPU, not the link, was
  the limit); `traffic-errors`: error counters grew on a pair's ports during the traffic test (`traffic-drops`:
  drop counters, rx_missed_errors among them, FAIL by the setting `traffic_drop_growth`);
  `traffic-failed`: the two ports could not carry TCP traffic at all.
  If the traffic test itself cannot start (a namespace that cannot be made, a receiver that does not answer
  within `worker_start_s`), the pair is untested and the module ends ERROR, not FAIL: nothing about the ports
  was learnt.
- `port-missing`: a port named in `ports`, `pairs` or `must_be_up` does not exist; `port-vanished`: one
  disappeared during the run.
- Error counters that grew during the run: WARN or FAIL by the setting `error_growth`; drop counters outside the
  traffic test by `drop_growth` (a port on a busy LAN can drop frames nobody asked for).

Also said: WARN `pair-not-tested` when a pair named in `pairs` could not be tested (in use, no link, not root,
run phase too short); INFO `restored-leftover` / WARN `restore-incomplete` about what an earlier, killed run
left behind or what could not be put back.

Virtual NICs (virtio_net, veth, vmxnet3…) report no speed, or a nominal one: INFO `speed-unknown`, and their
traffic throughput is reported, judged only against `min_mbps` when set. Measured throughput is always in an
INFO finding (`throughput`, or `throughput-unjudged` when there is nothing to judge it against).

The package, by capability: `links` (link audit), `counters` (counters and flaps), `pair_traffic` (the port-pair
traffic test and putting the ports back); this file holds the settings and the phases.

Findings (component `nic:PORT`, or `network` for the module as a whole; one row per code):

| code | severity | when |
|---|---|---|
| `no-link` | WARN / FAIL | a port without link (FAIL when `must_be_up` or the claims need it) |
| `underspeed-link` | FAIL | linked below the best speed both ends advertise |
| `half-duplex` | FAIL | a full-duplex-capable port running half duplex |
| `speed-below-port-max` | INFO | below the port's own best; the partner's modes are unknown |
| `speed-unknown` | INFO | a virtual NIC or a driver that reports no (or a nominal) speed |
| `autoneg-off` | INFO | autonegotiation off: the speed is forced |
| `port-missing` | FAIL | a port named in `ports`, `pairs` or `must_be_up` does not exist |
| `port-vanished` | FAIL | a port disappeared during the run |
| `link-flap` | FAIL | the link went down or changed carrier during the run |
| `error-growth` | WARN / FAIL | error counters grew during the run (setting `error_growth`) |
| `drop-growth` | INFO/WARN/FAIL | drop counters grew outside the traffic test (setting `drop_growth`) |
| `traffic-errors` | FAIL | error counters grew on a pair's ports during the traffic test |
| `traffic-drops` | WARN / FAIL | drop counters grew during the traffic test (`traffic_drop_growth`) |
| `traffic-failed` | FAIL | the two ports could not carry TCP traffic at all |
| `low-throughput` | FAIL | below `min_throughput_fraction` of the link speed (or `min_mbps`) |
| `throughput-cpu-bound` | WARN | low, but a test process used `cpu_bound_share` of a CPU core |
| `throughput` | INFO | the measured throughput, judged and fine |
| `throughput-unjudged` | INFO | the measured throughput, with no link speed to judge it against |
| `pair-not-tested` | WARN | a pair that could not be tested (in use, no link, not root, too short) |
| `restored-leftover` | INFO | what an earlier, killed run left behind, put back |
| `restore-incomplete` | WARN | what could not be put back |
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from burnin.host import Host
from burnin.inventory.nics import Nic
from burnin.judge import Reported
from burnin.model import Judgement, Probe
from burnin.module import Module, ModuleContext, Skip
from burnin.modules.network.counters import (
    Counters, CounterWatch, driver_error_counters, growth, is_drop_counter, read_sysfs_counters, split_growth,
)
from burnin.modules.network.links import (
    NET, LinkAudit, PortLink, best_common_mode, describe_port, judge_link, port_evidence, read_link,
)
from burnin.modules.network.pair_traffic import Direction, PairRun, PairTraffic, judge_direction, make_direction
from burnin.modules.network.settings import NetworkSettings
from burnin.tools import netns

__all__ = [
    "Counters", "Direction", "NetworkModule", "NetworkSettings", "PairRun", "PortLink", "best_common_mode",
    "describe_port", "driver_error_counters", "growth", "is_drop_counter", "judge_direction", "judge_link",
    "make_direction", "port_evidence", "read_link", "read_sysfs_counters", "split_growth",
]

class NetworkModule(LinkAudit, CounterWatch, PairTraffic, Module):
    name = "network"
    summary = "network ports: link speed/duplex, error counters and flaps; TCP traffic between two cabled ports"
    needs = ("/sys/class/net", "ethtool (link modes, driver counters)", "iproute2 `ip` and root (traffic test)")
    stress = False
    Settings = NetworkSettings
    # Where the restore ledger goes (None: /run/burnin, else $TMPDIR/burnin); tests point it elsewhere.
    state_dir: str | None = None

    def __init__(self, host: Host, settings: Mapping[str, Any] | None = None):
        super().__init__(host, settings)
        self._links: dict[str, PortLink] = {}
        self._nics: dict[str, Nic] = {}
        self._baseline: dict[str, Counters] = {}
        self._last: dict[str, Counters] = {}
        self._driver_due = 0.0  # monotonic time the driver's counters are next read (`ethtool -S`)
        self._carrier_base: dict[str, int | None] = {}
        self._watch_flaps: set[str] = set()
        self._reported = Reported()
        # Counter growth not to judge at the end: already judged by the traffic test, or caused by our own moves
        # (a veth whose peer is still down while we restore drops what it sends).
        self._excluded: dict[str, dict[str, int]] = {}
        self._pairs: list[tuple[str, str]] = []
        self._where: dict[str, str] = {}  # port -> namespace while it is moved
        self._settling: dict[str, float] = {}  # port -> until when it may find its link again after our move
        self._ledger: netns.Ledger | None = None
        self._raised: list[str] = []  # ports we brought up, now up
        self._to_raise: list[str] = []  # ports found down by check(), to bring up for the run
        self._gap_forgiven = False
        self._checked = False
        self._untested: list[str] = []  # pairs whose traffic test could not start, and why

    # -- phases ------------------------------------------------------------------------------------
    def probe(self) -> Probe:
        try:
            names = [n for n in self.host.listdir(NET) if n != "lo"]
        except Exception as exc:  # noqa: BLE001 - probe never raises
            return Probe.unavailable(f"cannot read {NET}: {exc}")
        if not names:
            return Probe.unavailable(f"no network interfaces under {NET}")
        return Probe.ok()

    def check(self, ctx: ModuleContext) -> None:
        recovered = self._recover(ctx) if self._can_change() else False
        nics = self._select_ports(ctx, use_inventory=not recovered)
        if not nics:
            raise Skip("no physical network ports (virtual interfaces are tested only when `ports` names them)")
        self._nics = {n.name: n for n in nics}
        try:
            self._check_ports(ctx)
        finally:
            # check() leaves the machine as it found it: it may be all that runs (`burnin capture`), and a broken
            # module gets no finish(). run() brings the ports up again.
            self._restore_all(ctx)
        self._checked = True

    def _check_ports(self, ctx: ModuleContext) -> None:
        if self.settings.bring_up_down_ports:
            down = [n for n in self._nics if not (self.host.read_int(f"{NET}/{n}/flags") or 0) & 1]
            if down and not self._can_change():
                ctx.note("ports that are down were not brought up (needs root and `ip` on a live host)", ports=down)
            elif down:
                self._raise(ctx, down)
                self._to_raise = list(self._raised)
                ctx.note("ports brought up to see their link (put down again after each phase)", ports=self._raised)
        self._links = {name: self._read_link(nic) for name, nic in self._nics.items()}
        self._judge_links(ctx)
        self._plan_pairs(ctx)
        self._lower_raised(ctx)
        for name in self._nics:
            counters = self._read_counters(name)
            if counters is not None:
                self._baseline[name] = self._last[name] = counters
                self._carrier_base[name] = counters.carrier_changes
                if counters.carrier:
                    self._watch_flaps.add(name)
        ctx.note("network ports", ports={name: port_evidence(link) for name, link in self._links.items()},
                 pairs=[list(p) for p in self._pairs])

    def run(self, ctx: ModuleContext) -> None:
        if not self._checked:
            self.check(ctx)
        interval = self.settings.interval_s
        try:
            self._forgive_gap_drops()
            if self._to_raise:
                undisturbed = self._snapshot(list(self._baseline))
                self._raise(ctx, self._to_raise)
                now = self._snapshot(list(self._baseline))
                self._exclude_growth(undisturbed, now)
                for port, counters in now.items():  # the raised ports, and peers that got their link back
                    if counters.carrier and port not in self._watch_flaps:
                        self._carrier_base[port] = counters.carrier_changes
                        self._watch_flaps.add(port)
            if self._pairs:
                self._traffic(ctx, interval)
            while not ctx.stopping():
                self._observe(ctx)
                if ctx.wait(interval):
                    break
        except BaseException:
            self._restore_all(ctx)  # a module that raised gets no finish()
            raise

    def finish(self, ctx: ModuleContext) -> None:
        try:
            if not self._checked:
                raise Skip("the check phase did not run: no baseline of the ports")
            self._forgive_gap_drops()
            self._restore_moved(ctx)
            self._observe(ctx, fresh_driver=True)
            for name in sorted(self._baseline):
                after = self._last.get(name)
                if after is None or name not in self._links:
                    continue
                self._judge_growth(ctx, name, self._net_growth(name, after))
            if self._untested:
                raise RuntimeError("; ".join(self._untested))
        finally:
            self._restore_all(ctx)

    # -- ports and links -------------------------------------------------------------------------------
    def _can_change(self) -> bool:
        return self.host.live and os.geteuid() == 0 and self.host.which("ip") is not None

    def _emit(self, ctx: ModuleContext, judgement: Judgement) -> None:
        """Report a (port, code) once (again only when it got worse)."""
        if self._reported.should_report(judgement):
            ctx.report(judgement)
