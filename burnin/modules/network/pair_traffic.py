"""Port-pair traffic: two ports cabled to each other (named in `pairs`, or found with a probe frame) each move
into a network namespace of their own and carry TCP traffic both ways at once (`burnin.tools.traffic`, run as a
load through `burnin.load`); the throughput is judged against the slower port's link speed. Afterwards the ports
go back exactly as they were, on a crash too (the ledger of `burnin.tools.netns`)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from burnin.load import drive, stop_loads
from burnin.model import Judgement, Severity
from burnin.module import ModuleContext
from burnin.modules.network.counters import Counters, _describe, growth, split_growth
from burnin.modules.network.links import _mbps, describe_port
from burnin.modules.network.settings import NetworkSettings
from burnin.tools import netns, traffic

TRAFFIC_PORT = 47001
ACCEPT_MARGIN_S = 10.0  # a traffic receiver's wait for its sender, beyond the workers' start-up time
SETUP_MARGIN_S = 3.0  # run-phase time kept free for setting up and restoring the ports around the traffic
END_MARGIN_S = 15.0  # past its `seconds`, how long a pair's traffic may take to end (receivers wait for the senders)


@dataclass(frozen=True)
class Direction:
    """One direction of a traffic test, as its receiver and sender reported it."""

    sender: str
    receiver: str
    mbps: float | None
    received_bytes: int
    seconds: float
    sender_cpu_share: float | None  # CPU seconds / wall seconds of the sending process
    receiver_cpu_share: float | None
    error: str | None = None

    def cpu_bound(self, share: float) -> bool:
        """Whether the sending or the receiving process used at least `share` of a CPU core."""
        return any(s is not None and s >= share for s in (self.sender_cpu_share, self.receiver_cpu_share))


def make_direction(sender: str, receiver: str, sent: Mapping[str, Any], received: Mapping[str, Any]) -> Direction:
    error = sent.get("error") or received.get("error")
    if not error and (not received or not sent):
        error = "a traffic process ended without a result"
    seconds = float(received.get("seconds") or 0.0)
    nbytes = int(received.get("bytes") or 0)
    mbps = nbytes * 8 / seconds / 1e6 if seconds > 0 else None
    if not error and not nbytes:
        error = "no data arrived"

    def share(record: Mapping[str, Any]) -> float | None:
        wall = float(record.get("seconds") or 0.0)
        return round(float(record["cpu_s"]) / wall, 3) if wall > 0 and "cpu_s" in record else None

    return Direction(sender, receiver, mbps, nbytes, seconds, share(sent), share(received), error)


def judge_direction(d: Direction, line_mbps: int | None, fraction: float, min_mbps: float,
                    component_ports: str, cpu_bound_share: float = NetworkSettings.cpu_bound_share) -> Judgement:
    """One direction of a pair's traffic against the slower port's link speed (or `min_mbps` when the speed is
    unknown): below `fraction` of it FAILs, unless a test process used `cpu_bound_share` of a core (WARN)."""
    component = f"nic:{d.sender}"
    evidence = {"from": d.sender, "to": d.receiver, "mbps": round(d.mbps or 0.0, 1), "bytes": d.received_bytes,
                "seconds": round(d.seconds, 2), "sender_cpu_share": d.sender_cpu_share,
                "receiver_cpu_share": d.receiver_cpu_share, "link_mbps": line_mbps,
                "min_throughput_fraction": fraction, "min_mbps": min_mbps or None, "cpu_bound_share": cpu_bound_share}
    if d.error or d.mbps is None:
        return Judgement(Severity.FAIL, component, "traffic-failed",
                         f"TCP traffic from {d.sender} to {d.receiver} did not flow: {d.error}.",
                         {**evidence, "error": d.error})
    got = _mbps(round(d.mbps))
    if line_mbps:
        needed = fraction * line_mbps
        evidence["needed_mbps"] = round(needed, 1)
        if d.mbps < needed:
            if d.cpu_bound(cpu_bound_share):
                return Judgement(Severity.WARN, component, "throughput-cpu-bound",
                                 f"Traffic from {d.sender} to {d.receiver} reached only {got} of a "
                                 f"{_mbps(line_mbps)} link, but the test itself used a full CPU core: the CPU, "
                                 f"not necessarily the link, was the limit (try more `streams`).", evidence)
            return Judgement(Severity.FAIL, component, "low-throughput",
                             f"Traffic from {d.sender} to {d.receiver} reached only {got} on a {_mbps(line_mbps)} "
                             f"link (at least {_mbps(round(needed))} expected).", evidence)
        return Judgement(Severity.INFO, component, "throughput",
                         f"Traffic from {d.sender} to {d.receiver}: {got} on a {_mbps(line_mbps)} link.", evidence)
    if min_mbps > 0:
        evidence["needed_mbps"] = min_mbps
        if d.mbps < min_mbps:
            return Judgement(Severity.FAIL, component, "low-throughput",
                             f"Traffic from {d.sender} to {d.receiver} reached only {got} "
                             f"(at least {_mbps(min_mbps)} expected: setting min_mbps).", evidence)
        return Judgement(Severity.INFO, component, "throughput",
                         f"Traffic from {d.sender} to {d.receiver}: {got} (at least {_mbps(min_mbps)} expected).",
                         evidence)
    return Judgement(Severity.INFO, component, "throughput-unjudged",
                     f"Traffic from {d.sender} to {d.receiver}: {got}; the link speed of {component_ports} is "
                     f"unknown, so it is not judged (set min_mbps to judge it).", evidence)


# -- the traffic test --------------------------------------------------------------------------------
@dataclass
class PairRun:
    """One port pair's traffic test in progress."""

    a: str
    b: str
    ns_a: str
    ns_b: str
    addr_a: str
    addr_b: str
    load: traffic.PairLoad | None = None  # its four workers ("recv_b" receives what a sends)
    before: dict[str, Counters] = field(default_factory=dict)


# -- the module's traffic test -----------------------------------------------------------------------
class PairTraffic:
    """The NetworkModule's port pairs, their traffic test, and putting the ports back (state: `_pairs`,
    `_where`, `_ledger`, `_untested`).
    A part of `NetworkModule`, not usable alone: the state lives in the module (made in its __init__), shared by
    its parts (ports moved into namespaces change where counters are read, for instance)."""

    def recover(self) -> list[str]:
        """After this module's process was killed mid-test: bring its ports home from their namespaces now, not
        at the next start (the runner calls this once the process is gone)."""
        if not self._can_change():
            return []
        done = netns.recover(self.host, self.host.run, self.state_dir)
        return [f"{record.get('namespace') or record.get('ledger')}: ports {', '.join(record.get('ports') or ()) or 'none'}"
                + (f" (problems: {'; '.join(record['problems'])})" if record.get("problems") else " restored")
                for record in done]

    def _recover(self, ctx: ModuleContext) -> bool:
        """Undo what an earlier run that died left behind; True when there was something."""
        try:
            done = netns.recover(self.host, ctx.run_tool, self.state_dir)
        except netns.NetnsError as exc:
            ctx.note(f"leftovers of earlier runs not checked: {exc}")
            return False
        for record in done:
            what = record.get("namespace") or record.get("ledger")
            ports = ", ".join(record.get("ports") or ()) or "no ports"
            if record.get("problems"):
                ctx.warn("network", "restore-incomplete",
                         f"An earlier run left network changes behind that could not all be undone ({what}: "
                         f"{'; '.join(record['problems'])}).", record)
            else:
                ctx.info("network", "restored-leftover",
                         f"Restored what an earlier, interrupted run left behind ({what}: {ports}).", record)
        return bool(done)

    # -- pairs -------------------------------------------------------------------------------------
    def _pair_settings(self) -> tuple[list[tuple[str, str]], list[Any]]:
        """The setting `pairs`: (well-formed pairs, entries that are not two different port names)."""
        good, bad = [], []
        for pair in self.settings.pairs:
            if isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(p, str) for p in pair) \
                    and pair[0] != pair[1]:
                good.append((pair[0], pair[1]))
            else:
                bad.append(pair)
        return good, bad

    def _plan_pairs(self, ctx: ModuleContext) -> None:
        named, bad = self._pair_settings()
        for pair in bad:
            ctx.warn("network", "pair-not-tested",
                     f"The entry {pair!r} of the setting `pairs` is not two different port names, e.g. "
                     f'["eth1", "eth2"].', {"pair": pair})
        detected: list[tuple[str, str]] = []
        if self.settings.detect_pairs:
            taken = {p for pair in named for p in pair}
            candidates = {n: l.mac for n, l in self._links.items() if l.has_link and n not in taken}
            if len(candidates) >= 2:
                if self._can_change():
                    try:
                        detected, heard = netns.detect_cabled_pairs(candidates)
                        ctx.note("probe frames sent to find cabled port pairs", heard=heard,
                                 pairs=[list(p) for p in detected])
                    except OSError as exc:
                        ctx.note(f"cabled port pairs not searched: {exc}")
                else:
                    ctx.note("cabled port pairs not searched (needs root on a live host)")
        for a, b in named + detected:
            busy = [p for p in (a, b) for pair in self._pairs if p in pair]
            reason = f"{busy[0]} is already in another pair" if busy else self._why_not_pair(a, b)
            if reason is None:
                self._pairs.append((a, b))
            elif (a, b) in named:
                ctx.warn(f"nic:{a}", "pair-not-tested",
                         f"The traffic test between {a} and {b} (named in the profile) was not run: {reason}.",
                         {"pair": [a, b], "reason": reason})
            else:
                ctx.note(f"cabled pair {a} <-> {b} found but not tested: {reason}", pair=[a, b])

    def _why_not_pair(self, a: str, b: str) -> str | None:
        if not self._can_change():
            return "it needs root, iproute2 `ip` and a live host"
        for port in (a, b):
            link = self._links.get(port)
            if link is None:
                return f"{port} is not a port under test"
            if not link.has_link:
                return f"{port} has no link"
            state = netns.read_port_state(self.host, port)
            if state is None:
                return f"{port}: its state cannot be read with `ip`"
            reasons = netns.in_use_reasons(self.host, state)
            if reasons:
                return f"{port} is in use and moving it would cut it off: {'; '.join(reasons)}"
        return None

    def _ensure_ledger(self) -> netns.Ledger:
        if self._ledger is None:
            self._ledger = netns.Ledger(self.host, self.state_dir)
        return self._ledger

    def _traffic(self, ctx: ModuleContext, interval: float) -> None:
        budget = ctx.remaining() - SETUP_MARGIN_S
        wanted = self.settings.traffic_s or ctx.remaining() / 2
        seconds = min(wanted, budget)
        if seconds < 1.0:
            ctx.note("traffic test not run: the run phase is too short", run_phase_left_s=round(ctx.remaining(), 1))
            for a, b in self._pairs:
                ctx.warn(f"nic:{a}", "pair-not-tested",
                         f"The traffic test between {a} and {b} was not run: the run phase is too short.",
                         {"pair": [a, b]})
            return
        prepared: list[PairRun] = []
        try:
            for index, (a, b) in enumerate(self._pairs):
                try:
                    prepared.append(self._setup_pair(ctx, index, a, b))
                except netns.NetnsError as exc:
                    self._untested.append(f"the traffic test between {a} and {b} could not be set up: {exc}")
                    ctx.note("traffic test not set up", pair=[a, b], error=str(exc))
            for r in prepared:
                r.load = self._pair_load(r, seconds)
            # Each receiver may take up to worker_start_s to start, the senders as long again, before their
            # `seconds` of traffic.
            until = time.monotonic() + seconds + END_MARGIN_S + 3 * self.settings.worker_start_s
            loads = [r.load for r in prepared if r.load is not None]
            outcome = drive(ctx, loads, until=until, interval_s=interval,
                            sample=lambda metrics, elapsed: self._observe(ctx)) if loads else None
            for r in prepared:
                assert r.load is not None
                if r.load.error is not None:
                    why = r.load.error
                    self._untested.append(f"the traffic receiver for {r.a} <-> {r.b} did not start: {why}")
                    ctx.note("traffic receiver did not start", pair=[r.a, r.b], role=r.load.failed_role, output=why)
                    continue
                cut_short = outcome is not None and outcome.reason == "stopping" and r.load.interrupted
                self._finish_pair(ctx, r, cut_short)
        finally:
            for r in prepared:
                if r.load is not None:
                    stop_loads([r.load])
                    r.load.close()
            self._restore_moved(ctx)

    def _setup_pair(self, ctx: ModuleContext, index: int, a: str, b: str) -> PairRun:
        ledger = self._ensure_ledger()
        addr_a, addr_b = netns.pair_addresses(index)
        run = PairRun(a, b, ledger.netns_name(f"{index}a"), ledger.netns_name(f"{index}b"), addr_a, addr_b)
        undisturbed = self._snapshot([a, b])
        for port, ns, cidr in ((a, run.ns_a, addr_a), (b, run.ns_b, addr_b)):
            state = netns.read_port_state(self.host, port, run=ctx.run_tool)
            if state is None:
                raise netns.NetnsError(f"cannot read the state of {port}")
            ledger.remember(state)
            ledger.add_namespace(ns)
            netns.create_netns(ctx.run_tool, ns)
            ledger.set_netns(port, ns)
            self._where[port] = ns
            ledger.announce(port, f"moved into {ns} for the traffic test")
            netns.move_into(ctx.run_tool, port, ns)
            netns.configure(ctx.run_tool, ns, port, cidr)
        self._settle(ctx, [a, b])
        run.before = self._snapshot([a, b])
        self._exclude_growth(undisturbed, run.before)
        ctx.note("ports moved into namespaces for the traffic test", pair=[a, b], namespaces=[run.ns_a, run.ns_b],
                 addresses=[addr_a, addr_b])
        return run

    def _pair_load(self, r: PairRun, seconds: float) -> traffic.PairLoad:
        """The pair's four traffic workers, each in its port's namespace, as one load."""
        streams = max(1, self.settings.streams)
        limit = self.settings.worker_start_s
        # A receiver waits for its sender while the other receiver and then both senders start.
        accept = ACCEPT_MARGIN_S + 3 * limit
        ip_a, ip_b = r.addr_a.split("/")[0], r.addr_b.split("/")[0]
        nice = os.geteuid() == 0

        def argv(ns: str, args: list[str]) -> list[str]:
            return netns.exec_argv(ns, traffic.worker_argv(*args, nice=nice))

        return traffic.PairLoad(self.host, f"traffic {r.a}<->{r.b}", {
            "recv_b": argv(r.ns_b, traffic.receive_args(ip_b, TRAFFIC_PORT, streams, seconds, accept)),
            "recv_a": argv(r.ns_a, traffic.receive_args(ip_a, TRAFFIC_PORT, streams, seconds, accept)),
            "send_a": argv(r.ns_a, traffic.send_args(ip_b, TRAFFIC_PORT, streams, seconds)),
            "send_b": argv(r.ns_b, traffic.send_args(ip_a, TRAFFIC_PORT, streams, seconds)),
        }, ready_s=limit)

    def _finish_pair(self, ctx: ModuleContext, r: PairRun, cut_short: bool) -> None:
        assert r.load is not None
        outputs = r.load.results()
        after = {port: c for port in (r.a, r.b) if (c := self._read_counters(port)) is not None}
        if cut_short:
            if time.monotonic() < ctx.deadline:  # cancelled: the runner says the run is incomplete
                ctx.note("traffic test cut short (the run was stopped): not judged", pair=[r.a, r.b])
            else:
                ctx.note("traffic test cut short (the run phase ended first): not judged", pair=[r.a, r.b])
                self._untested.append(f"the traffic test between {r.a} and {r.b} was cut short when the run "
                                      "phase ended (its workers were slow to start)")
            return
        line = None
        speeds = [self._links[p].real_speed_mbps for p in (r.a, r.b)]
        if all(speeds):
            line = min(speeds)
        directions = [make_direction(r.a, r.b, outputs.get("send_a", {}), outputs.get("recv_b", {})),
                      make_direction(r.b, r.a, outputs.get("send_b", {}), outputs.get("recv_a", {}))]
        for d in directions:
            ctx.report(judge_direction(d, line, self.settings.min_throughput_fraction, self.settings.min_mbps,
                                       f"{r.a} and {r.b}", self.settings.cpu_bound_share))
        ctx.note("traffic test", pair=[r.a, r.b],
                 mbps={f"{d.sender}->{d.receiver}": round(d.mbps or 0.0, 1) for d in directions})
        for port in (r.a, r.b):
            if port not in r.before or port not in after:
                continue
            grown = growth(r.before[port], after[port])
            if not grown:
                continue
            self._exclude_growth({port: r.before[port]}, {port: after[port]})
            errors, drops = split_growth(grown)
            if errors:
                self._emit(ctx, Judgement(
                    Severity.FAIL, f"nic:{port}", "traffic-errors",
                    f"{describe_port(self._links[port])} counted errors during the traffic test "
                    f"({_describe(errors)}).", {"port": port, "grown": errors}))
            if drops:
                self._emit(ctx, Judgement(
                    Severity(self.settings.traffic_drop_growth), f"nic:{port}", "traffic-drops",
                    f"{describe_port(self._links[port])} dropped frames during the traffic test "
                    f"({_describe(drops)}).", {"port": port, "grown": drops}))

    # -- moving back -----------------------------------------------------------------------------------
    def _restore_moved(self, ctx: ModuleContext) -> None:
        """Bring ports home from their namespaces, back to their state before the traffic test."""
        if self._ledger is None or not (self._where or self._ledger.namespaces):
            return
        moved = list(self._where)
        undisturbed = self._snapshot(moved)
        for port, ns in list(self._where.items()):
            original = self._ledger.original(port)
            if original is None:
                continue
            target = netns.with_up(original, True) if port in self._raised else original
            self._ledger.announce(port, "moved back after the traffic test")
            problems = netns.restore_port(self.host, ctx.run_tool, target, ns)
            if problems:
                ctx.warn(f"nic:{port}", "restore-incomplete",
                         f"{port} could not be fully restored after the traffic test: {'; '.join(problems)}.",
                         {"port": port, "problems": problems})
                continue
            self._ledger.set_netns(port, None)
            if port not in self._raised:
                self._ledger.forget(port)
            del self._where[port]
        existing = netns.list_netns(self.host)
        for ns in list(self._ledger.namespaces):
            if ns in self._where.values():
                continue  # a port that could not come home stays where the ledger says, for the next start
            if ns not in existing or netns.delete_netns(ctx.run_tool, ns).ok:
                self._ledger.drop_namespace(ns)
        if moved:
            self._settle(ctx, moved)
            self._exclude_growth(undisturbed, self._snapshot(moved))
            ctx.note("ports restored after the traffic test", ports=[p for p in moved if p not in self._where])

    def _restore_all(self, ctx: ModuleContext) -> None:
        """Everything back as it was: ports home from their namespaces, raised ports down, the ledger gone."""
        if self._ledger is None:
            return
        self._restore_moved(ctx)
        self._lower_raised(ctx)
        if not (self._where or self._raised or self._ledger.ports or self._ledger.namespaces):
            self._ledger.remove()
            self._ledger = None
