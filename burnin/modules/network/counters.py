"""Counters and flaps: each port's kernel and driver error counters, drops and carrier changes, read every
`interval_s` from the baseline of check() to the end of the run; growth that our own moves of the ports caused
(or that the traffic test already judged) is set aside."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

from burnin.host import Host
from burnin.judge import counter_growth
from burnin.model import Judgement, Severity
from burnin.module import ModuleContext
from burnin.modules.network.links import NET, describe_port
from burnin.tools import ethtool, netns

ERROR_COUNTERS = (
    "rx_errors", "tx_errors", "rx_crc_errors", "rx_frame_errors", "rx_length_errors", "rx_over_errors",
    "rx_fifo_errors", "tx_aborted_errors", "tx_carrier_errors", "tx_fifo_errors", "tx_heartbeat_errors",
    "tx_window_errors",
)
# rx_missed_errors despite its name: frames the NIC had no host buffer for, because the host did not empty the
# receive ring in time (the kernel folds it into "drop" in /proc/net/dev; include/uapi/linux/if_link.h).
DROP_COUNTERS = ("rx_dropped", "tx_dropped", "rx_missed_errors")
KERNEL_COUNTERS = ("rx_bytes", "tx_bytes", *ERROR_COUNTERS, *DROP_COUNTERS)
DRIVER_COUNTER_WORDS = ("err", "crc", "drop", "discard", "miss", "timeout", "fifo", "overrun")
DRIVER_DROP_WORDS = ("drop", "discard", "miss")


@dataclass(frozen=True)
class Counters:
    """Counters of one port at one moment. `kernel` uses the sysfs statistics names; `driver` holds the error-like
    counters of `ethtool -S`."""

    time: float
    carrier: bool | None
    carrier_changes: int | None
    kernel: Mapping[str, int] = field(default_factory=dict)
    driver: Mapping[str, int] = field(default_factory=dict)


def driver_error_counters(stats: Mapping[str, int]) -> dict[str, int]:
    """The error-like counters of `ethtool -S` (by name: err, crc, drop, discard, miss, timeout, fifo, overrun)."""
    return {k: v for k, v in stats.items() if any(w in k.lower() for w in DRIVER_COUNTER_WORDS)}


def is_drop_counter(name: str) -> bool:
    return name in DROP_COUNTERS or any(w in name.lower() for w in DRIVER_DROP_WORDS)


def read_sysfs_counters(host: Host, name: str) -> Counters | None:
    base = f"{NET}/{name}"
    if not host.exists(base):
        return None
    kernel = {}
    for counter in KERNEL_COUNTERS:
        value = host.read_int(f"{base}/statistics/{counter}")
        if value is not None:
            kernel[counter] = value
    carrier = host.read_int(f"{base}/carrier")
    return Counters(time.monotonic(), None if carrier is None else carrier == 1,
                    host.read_int(f"{base}/carrier_changes"), kernel)


def growth(before: Counters, after: Counters) -> dict[str, int]:
    """Error and drop counters (kernel and driver) that grew, by how much. A counter that went down was reset
    (a driver reset clears them): it is counted from zero."""
    grown: dict[str, int] = {}
    for old, new, prefix in ((before.kernel, after.kernel, ""), (before.driver, after.driver, "ethtool:")):
        keys = [name for name in new if name not in ("rx_bytes", "tx_bytes")]
        grown.update({prefix + name: delta for name, delta in counter_growth(old, new, keys=keys).items()})
    return grown


def split_growth(grown: Mapping[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """(errors, drops)."""
    errors = {k: v for k, v in grown.items() if not is_drop_counter(k.removeprefix("ethtool:"))}
    drops = {k: v for k, v in grown.items() if is_drop_counter(k.removeprefix("ethtool:"))}
    return errors, drops


def _describe(grown: Mapping[str, int]) -> str:
    return ", ".join(f"{k} +{v}" for k, v in sorted(grown.items()))


# -- the module's counters ---------------------------------------------------------------------------
class CounterWatch:
    """The NetworkModule's counters (state: `_baseline`, `_last`, `_excluded`, `_carrier_base`, `_watch_flaps`,
    `_settling`, `_where`).
    A part of `NetworkModule`, not usable alone: the state lives in the module (made in its __init__), shared by
    its parts (ports moved into namespaces change where counters are read, for instance)."""

    def _forgive_gap_drops(self) -> None:
        """Drops between check() and the next phase, when check() put ports down again: frames a port sends to
        a peer we just put down are dropped (a veth counts them), an artefact of the test, not of the port. Errors
        in that gap still count."""
        if not self._to_raise or self._gap_forgiven:
            return
        self._gap_forgiven = True
        now = self._snapshot(list(self._baseline))
        for port, counters in now.items():
            drops = split_growth(growth(self._baseline[port], counters))[1]
            excluded = self._excluded.setdefault(port, {})
            for key, delta in drops.items():
                excluded[key] = excluded.get(key, 0) + delta

    def _settle(self, ctx: ModuleContext, ports: Sequence[str]) -> None:
        """Our own moves take links down and up, which is no flap: give the ports `link_wait_s` to find their link
        again, and take carrier_changes as the new base once they have. Waits here unless the module is stopping;
        then `_check_flap` finishes the job."""
        deadline = time.monotonic() + self.settings.link_wait_s
        for port in ports:
            self._settling[port] = deadline
        while any(p in self._settling for p in ports) and not ctx.stopping():
            for port in ports:
                counters = self._read_counters(port, with_driver=False)
                if counters is not None:
                    self._settled(port, counters)
            if time.monotonic() > deadline:
                break
            ctx.wait(0.1)

    def _settled(self, port: str, now: Counters) -> bool:
        """False while the port is still finding its link after one of our moves."""
        deadline = self._settling.get(port)
        if deadline is None:
            return True
        if now.carrier:
            self._carrier_base[port] = now.carrier_changes
            del self._settling[port]
            return True
        if time.monotonic() > deadline:
            del self._settling[port]  # it should be back by now: judge it
            return True
        return False

    # -- counters -----------------------------------------------------------------------------------
    def _read_counters(self, port: str, with_driver: bool = True) -> Counters | None:
        ns = self._where.get(port)
        if ns is None:
            counters = read_sysfs_counters(self.host, port)
        else:
            reading = netns.read_link(self.host, port, ns)
            counters = None if reading is None else Counters(
                time.monotonic(), reading.carrier, reading.counters.get("carrier_changes"),
                {k: v for k, v in reading.counters.items() if k in KERNEL_COUNTERS})
        if counters is None or not with_driver or not (self.host.live and self.host.which("ethtool")):
            return counters
        argv = ethtool.statistics_argv(port)
        result = self.host.run(netns.exec_argv(ns, argv) if ns else argv, timeout=10)
        if result.ok:
            counters = replace(counters, driver=driver_error_counters(ethtool.parse_statistics(result.stdout)))
        return counters

    def _snapshot(self, ports: Sequence[str]) -> dict[str, Counters]:
        return {p: c for p in ports if (c := self._read_counters(p)) is not None}

    def _exclude_growth(self, before: Mapping[str, Counters], after: Mapping[str, Counters]) -> None:
        for port, old in before.items():
            if port in after:
                excluded = self._excluded.setdefault(port, {})
                for key, delta in growth(old, after[port]).items():
                    excluded[key] = excluded.get(key, 0) + delta

    def _net_growth(self, port: str, now: Counters) -> dict[str, int]:
        """Growth since the baseline, less what the traffic test judged and what our own moves caused."""
        grown = growth(self._baseline[port], now)
        for key, delta in self._excluded.get(port, {}).items():
            if key in grown:
                grown[key] -= delta
        return {k: v for k, v in grown.items() if v > 0}

    def _observe(self, ctx: ModuleContext, fresh_driver: bool = False) -> None:
        """One look at every port. The driver's counters (`ethtool -S`, a program per port) are read every
        `driver_counters_interval_s`, and always when `fresh_driver` (the final look); in between, the last ones
        stand, so that a monitor-only run costs little."""
        metrics: dict[str, float] = {}
        driver_due = fresh_driver or time.monotonic() >= self._driver_due
        if driver_due:
            self._driver_due = time.monotonic() + self.settings.driver_counters_interval_s
        for port in list(self._baseline):
            now = self._read_counters(port, with_driver=driver_due)
            last = self._last.get(port)
            if now is not None and not driver_due and last is not None:
                now = replace(now, driver=last.driver)
            if now is None:
                if port in self._where:
                    continue
                self._emit(ctx, Judgement(Severity.FAIL, f"nic:{port}", "port-vanished",
                                          f"Network port {port} disappeared during the run.", {"port": port}))
                continue
            if last is not None and now.time > last.time:
                dt = now.time - last.time
                for direction in ("rx", "tx"):
                    new, old = now.kernel.get(f"{direction}_bytes"), last.kernel.get(f"{direction}_bytes")
                    if new is not None and old is not None and new >= old:
                        metrics[f"{direction}_mbps:{port}"] = round((new - old) * 8 / dt / 1e6, 3)
            errors, drops = split_growth(self._net_growth(port, now))
            metrics[f"errors:{port}"] = float(sum(errors.values()))
            metrics[f"drops:{port}"] = float(sum(drops.values()))
            self._last[port] = now
            self._check_flap(ctx, port, now)
        ctx.sample(metrics)

    def _check_flap(self, ctx: ModuleContext, port: str, now: Counters) -> None:
        if port not in self._watch_flaps or not self._settled(port, now):
            return
        base = self._carrier_base.get(port)
        changed = base is not None and now.carrier_changes is not None and now.carrier_changes > base
        if not changed and now.carrier:
            return
        # carrier None: unreadable because the port was taken down administratively; the link is gone all the same
        what = "went down" if not now.carrier else "dropped and came back"
        self._emit(ctx, Judgement(
            Severity.FAIL, f"nic:{port}", "link-flap",
            f"The link of {describe_port(self._links[port])} {what} during the run: a loose or damaged cable, "
            f"connector or port, or someone took it down.",
            {"port": port, "carrier_now": now.carrier, "carrier_changes_before": base,
             "carrier_changes_now": now.carrier_changes, "in_namespace": self._where.get(port),
             "operstate": None if port in self._where else self.host.read_text(f"{NET}/{port}/operstate")}))

    def _judge_growth(self, ctx: ModuleContext, port: str, grown: Mapping[str, int]) -> None:
        errors, drops = split_growth(grown)
        link = self._links[port]
        if errors:
            self._emit(ctx, Judgement(
                Severity(self.settings.error_growth), f"nic:{port}", "error-growth",
                f"{describe_port(link)} counted errors during the run ({_describe(errors)}).",
                {"port": port, "grown": errors}))
        if drops:
            self._emit(ctx, Judgement(
                Severity(self.settings.drop_growth), f"nic:{port}", "drop-growth",
                f"{describe_port(link)} dropped frames during the run ({_describe(drops)}).",
                {"port": port, "grown": drops}))
