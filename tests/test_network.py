"""The network module: link judgement on real ethtool outputs, and on real kernel devices (veth pairs made by the
tests, the VM's own eth0): traffic between two ports, link flaps, restore after a kill."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from burnin.host import Host
from burnin.model import Severity
from burnin.modules.network import (
    Counters,
    Direction,
    NetworkModule,
    PortLink,
    driver_error_counters,
    growth,
    judge_direction,
    judge_link,
    make_direction,
    split_growth,
)
from burnin.testing import RecordingContext, run_phases
from burnin.tools import ethtool, netns

DATA = Path(__file__).parent / "data" / "network"
ETHTOOL = Path(__file__).parent / "data" / "ethtool"

live_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None or not Path("/sys/class/net").is_dir(),
    reason="needs root and iproute2 on a live Linux host")


def link_from(text: str, name: str = "eth0", carrier: bool = True, nominal: bool = False) -> PortLink:
    """A port as the module sees it, from a real `ethtool IFACE` output."""
    s = ethtool.parse_settings(text)
    return PortLink(
        name=name, driver="tg3", pci_address="0000:02:00.0", mac=None, physical=True, admin_up=True,
        carrier=carrier, operstate="up" if carrier else "down", speed_mbps=s.speed_mbps,
        duplex=(s.duplex or "").lower() or None, autoneg=s.autoneg, supports_autoneg=s.supports_autoneg,
        supported_modes=s.supported_link_modes, advertised_modes=s.advertised_link_modes,
        partner_modes=s.partner_link_modes, nominal_speed=nominal)


def codes(judgements) -> list[tuple[str, str]]:
    return [(j.severity.value, j.code) for j in judgements]


# -- ethtool parsing on real outputs ---------------------------------------------------------------
def test_link_partner_modes_and_autoneg_are_parsed():
    s = ethtool.parse_settings((DATA / "ethtool-tg3-1g-partner-settings.txt").read_text())
    assert s.partner_link_modes == ("1000baseT/Full",)
    assert s.partner_autoneg is True
    assert s.advertised_link_modes[-1] == "1000baseT/Full" and s.speed_mbps == 1000
    multi = ethtool.parse_settings((DATA / "ethtool-2500baseT-at-100-settings.txt").read_text())
    assert multi.partner_link_modes == ("10baseT/Half", "10baseT/Full", "100baseT/Half", "100baseT/Full",
                                        "1000baseT/Half", "1000baseT/Full")
    assert ethtool.parse_settings((ETHTOOL / "node_exporter-eth0-settings.txt").read_text()).partner_link_modes == ()


def test_statistics_parse_keeps_queue_prefixes_and_names_with_spaces():
    bnx2x = ethtool.parse_statistics((DATA / "ethtool-bnx2x-statistics.txt").read_text())
    assert bnx2x["[0]: rx_bytes"] == 209487403324 and bnx2x["[1]: tx_bcast_packets"] == 8249
    assert len(bnx2x) == 34
    node = ethtool.parse_statistics((DATA / "node_exporter-eth0-statistics.txt").read_text())
    assert node["duplicate metric"] == 1 and node["rx_missed"] == 401 and len(node) == 15
    veth = ethtool.parse_statistics((DATA / "veth-statistics.txt").read_text())
    assert "peer_ifindex" in veth and veth["rx_queue_0_drops"] == 0


def test_driver_error_counters_are_the_error_like_names():
    e1000e = driver_error_counters(ethtool.parse_statistics((DATA / "ethtool-e1000e-statistics.txt").read_text()))
    assert {"rx_crc_errors", "rx_missed_errors", "tx_timeout_count", "tx_fifo_errors", "tx_dropped",
            "rx_csum_offload_errors"} <= set(e1000e)
    assert not {"rx_packets", "rx_csum_offload_good", "tx_tcp_seg_good", "rx_bytes"} & set(e1000e)
    be2net = driver_error_counters(ethtool.parse_statistics((DATA / "ethtool-be2net-statistics.txt").read_text()))
    errors, drops = split_growth({f"ethtool:{k}": v for k, v in be2net.items() if v})
    assert drops == {"ethtool:rx_dropped_too_small": 10, "ethtool:rx_dropped_too_short": 5710,
                     "ethtool:rx_dropped_header_too_small": 1096, "ethtool:rx_dropped_tcp_length": 603}
    assert errors == {"ethtool:rx_ip_checksum_errs": 12655, "ethtool:rx_tcp_checksum_errs": 93915,
                      "ethtool:rx_udp_checksum_errs": 8890}


# -- link judgement ---------------------------------------------------------------------------------
def test_link_below_the_best_speed_both_ends_advertise_fails_underspeed():
    found = judge_link(link_from((DATA / "ethtool-2500baseT-at-100-settings.txt").read_text(), "eno1"), False)
    assert codes(found) == [("fail", "underspeed-link")]
    assert found[0].evidence["best_common_mbps"] == 1000 and found[0].evidence["speed_mbps"] == 100
    assert "eno1" in found[0].message and "1 Gb/s" in found[0].message


def test_link_at_the_partners_best_speed_passes_although_the_port_could_do_more():
    assert judge_link(link_from((DATA / "ethtool-1000baseT-partner-100-settings.txt").read_text()), False) == []
    assert judge_link(link_from((DATA / "ethtool-tg3-1g-partner-settings.txt").read_text()), False) == []


def test_link_below_port_max_without_partner_modes_is_only_info():
    text = (ETHTOOL / "node_exporter-eth0-settings.txt").read_text()
    assert judge_link(link_from(text), False) == []  # 1 Gb/s, advertises up to 1 Gb/s
    mellanox = link_from((ETHTOOL / "mellanox-spectrum-100g-settings.txt").read_text(), "swp3")
    assert judge_link(mellanox, False) == [j for j in judge_link(mellanox, False) if j.code == "autoneg-off"]
    slower = link_from(text.replace("Speed: 1000Mb/s", "Speed: 100Mb/s"))
    assert codes(judge_link(slower, False)) == [("info", "speed-below-port-max")]


def test_half_duplex_fails():
    found = judge_link(link_from((DATA / "ethtool-gnubee-half-duplex-fragment.txt").read_text()), False)
    assert codes(found) == [("fail", "half-duplex")]


def test_no_link_warns_with_the_cable_hint_and_fails_when_the_port_must_be_up():
    link = link_from((ETHTOOL / "broadcom-bcm57414-nolink-settings.txt").read_text(), "ens1f0", carrier=False)
    warn = judge_link(link, False)
    assert codes(warn) == [("warn", "no-link")] and "no cable? connect one to test this port" in warn[0].message
    fail = judge_link(link, True, "the profile says it must be up (must_be_up)")
    assert codes(fail) == [("fail", "no-link")] and "must_be_up" in fail[0].message


def test_virtio_speed_unknown_is_said_not_judged():
    found = judge_link(link_from((ETHTOOL / "vm-virtio-eth0-settings.txt").read_text(), nominal=True), False)
    assert codes(found) == [("info", "speed-unknown")]
    veth = judge_link(link_from((DATA / "veth-settings.txt").read_text(), "veth0", nominal=True), False)
    assert codes(veth) == [("info", "speed-unknown")] and "nominal 10 Gb/s" in veth[0].message


# -- counters and throughput ------------------------------------------------------------------------
def test_counter_growth_ignores_bytes_and_treats_a_decrease_as_a_reset():
    before = Counters(0.0, True, 1, {"rx_bytes": 10, "rx_crc_errors": 5, "rx_dropped": 7}, {"tx_timeout": 3})
    after = Counters(1.0, True, 1, {"rx_bytes": 99, "rx_crc_errors": 8, "rx_dropped": 2}, {"tx_timeout": 3})
    assert growth(before, after) == {"rx_crc_errors": 3, "rx_dropped": 2}
    assert split_growth(growth(before, after)) == ({"rx_crc_errors": 3}, {"rx_dropped": 2})


def test_throughput_judged_against_the_slower_link_speed():
    slow = Direction("eth1", "eth2", 700.0, 875_000_000, 10.0, 0.3, 0.4)
    assert judge_direction(slow, 1000, 0.8, 0.0, "eth1 and eth2").code == "low-throughput"
    busy = Direction("eth1", "eth2", 700.0, 875_000_000, 10.0, 0.98, 0.4)
    assert judge_direction(busy, 1000, 0.8, 0.0, "eth1 and eth2").severity is Severity.WARN
    fine = Direction("eth1", "eth2", 941.0, 1_176_250_000, 10.0, 0.3, 0.4)
    assert judge_direction(fine, 1000, 0.8, 0.0, "eth1 and eth2").code == "throughput"
    unknown = judge_direction(fine, None, 0.8, 0.0, "eth1 and eth2")
    assert (unknown.severity, unknown.code) == (Severity.INFO, "throughput-unjudged")
    assert judge_direction(fine, None, 0.8, 2000.0, "eth1 and eth2").code == "low-throughput"
    broken = Direction("eth1", "eth2", None, 0, 0.0, None, None, "ConnectionRefusedError")
    assert judge_direction(broken, 1000, 0.8, 0.0, "eth1 and eth2").code == "traffic-failed"


def test_ip_json_counters_map_to_sysfs_names():
    reading = netns.parse_link_reading(json.loads((DATA / "ip-link-stats-veth.json").read_text())[0])
    assert reading.carrier and reading.up and reading.operstate == "up"
    assert reading.counters["carrier_changes"] == 2 and reading.counters["rx_crc_errors"] == 0
    assert {"rx_missed_errors", "tx_heartbeat_errors", "rx_dropped", "tx_bytes"} <= set(reading.counters)


def test_port_state_keeps_addresses_with_their_prefixes():
    state = netns.parse_port_state(json.loads((DATA / "ip-addr-eth0.json").read_text())[0])
    assert (state.name, state.mtu, state.up) == ("eth0", 1400, True)
    assert [a.cidr for a in state.addresses] == ["192.0.2.2/24", "fd00::2/64", "fe80::fc:ff:fe00:1/64"]
    assert netns.PortState.from_dict(json.loads(json.dumps(state.to_dict()))) == state


def test_socket_addresses_in_use_skip_time_wait():
    assert netns._proc_net_addresses((DATA / "proc-net-tcp.txt").read_text(), ipv6=False) == {"0.0.0.0"}


def test_pair_addresses_are_private_slash30s_of_the_benchmark_range():
    assert netns.pair_addresses(0) == ("198.18.0.1/30", "198.18.0.2/30")
    assert netns.pair_addresses(3) == ("198.18.0.13/30", "198.18.0.14/30")


def test_captured_tree_judges_the_links_without_running_programs():
    host = Host(Path(__file__).parent / "data" / "sysfs" / "vm-virtio")
    module = NetworkModule(host, {"must_be_up": ["eth1"]})
    ctx = run_phases(module, phases=("check", "finish"), seconds=1.0)
    assert [(f.component, f.code) for f in ctx.findings] == [("nic:eth1", "port-missing"),
                                                             ("nic:eth0", "speed-unknown")]
    assert ctx.commands == []


# -- real kernel devices -----------------------------------------------------------------------------
def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def burnin_namespaces() -> set[str]:
    return {n for n in netns.list_netns(Host("/")) if n.startswith(netns.NETNS_PREFIX)}


def own_namespaces(*pids: int) -> set[str]:
    """The burnin namespaces of these module processes (default: this one, where the module runs in-process). The
    host may run another checkout's test suite at the same time, with namespaces of its own."""
    pids = pids or (os.getpid(),)
    return {n for n in burnin_namespaces() if any(n.startswith(f"{netns.NETNS_PREFIX}{pid}-") for pid in pids)}


def addresses(name: str) -> set[str]:
    entry = json.loads(ip("-j", "addr", "show", "dev", name).stdout)[0]
    return {f"{a['local']}/{a['prefixlen']}" for a in entry["addr_info"] if a.get("scope") != "link"}


@pytest.fixture
def state_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(NetworkModule, "state_dir", str(tmp_path / "state"))
    return tmp_path / "state"


@pytest.fixture
def veth_pair():
    """Factory: a veth pair `bt-<hex>a` / `bt-<hex>b` (up, unless asked not), deleted afterwards wherever it is."""
    made: list[str] = []
    before = burnin_namespaces()

    def make(up: bool = True) -> tuple[str, str]:
        tag = uuid.uuid4().hex[:6]
        a, b = f"bt-{tag}a", f"bt-{tag}b"
        ip("link", "add", a, "type", "veth", "peer", "name", b)
        made.append(a)
        if up:
            ip("link", "set", a, "up")
            ip("link", "set", b, "up")
        return a, b

    yield make
    ours = {p for a in made for p in (a, a[:-1] + "b")}
    for ns in burnin_namespaces() - before:  # a failed test may leave its ports in a namespace: only those
        if ns in own_namespaces() or ours & {str(link.get("ifname")) for link in netns.list_links(Host("/"), ns)}:
            ip("netns", "delete", ns, check=False)
    for a in made:
        ip("link", "del", a, check=False)


@live_root
def test_veth_pair_found_by_probe_frame_passes_traffic_and_comes_back_as_it_was(veth_pair, state_dir):
    a, b = veth_pair()
    ip("addr", "add", "198.19.254.1/30", "dev", a)
    ip("link", "set", b, "mtu", "1400")
    ip("link", "set", b, "down")  # brought up for the test, put down again afterwards
    module = NetworkModule(Host("/"), {"ports": [a, b], "traffic_s": 2.0, "min_mbps": 50.0, "link_wait_s": 3.0})
    ctx = run_phases(module, seconds=6)
    # A veth whose peer was down can drop the first IPv6 frames when the module brings the peer up: a WARN
    # `drop-growth` is possible here (seen about once in 60 runs on a loaded machine), never a FAIL.
    assert [c for c in ctx.codes() if c not in ("speed-unknown", "drop-growth")] == ["throughput", "throughput"], \
        [(f.code, f.message) for f in ctx.findings]
    assert not ctx.codes("fail")
    by_sender = {f.evidence["from"]: f.evidence for f in ctx.findings if f.code == "throughput"}
    assert set(by_sender) == {a, b} and all(e["mbps"] >= 50.0 for e in by_sender.values())
    assert any(s.get(f"rx_mbps:{b}", 0) > 50 for s in ctx.samples)  # sampled inside its namespace
    moved = [c["argv"] for c in ctx.commands if c["argv"][:3] == ["ip", "link", "set"] and "netns" in c["argv"]]
    assert [argv[4] for argv in moved] == [a, b]
    assert addresses(a) == {"198.19.254.1/30"} and addresses(b) == set()
    assert "UP" in ip("link", "show", a).stdout.split(">")[0] and "UP" not in ip("link", "show", b).stdout.split(">")[0]
    assert "mtu 1400" in ip("link", "show", b).stdout
    assert own_namespaces() == set() and list(state_dir.glob("*.json")) == []


@live_root
def test_traffic_receiver_that_does_not_start_leaves_the_pair_untested_error_not_fail(veth_pair, state_dir):
    a, b = veth_pair()
    # No time at all for the receivers to say they are ready: the test cannot start (as on a very slow machine).
    module = NetworkModule(Host("/"), {"ports": [a, b], "traffic_s": 2.0, "worker_start_s": 0.0, "link_wait_s": 3.0})
    with pytest.raises(RuntimeError, match=f"traffic receiver for {a} <-> {b} did not start: no answer in 0 s"):
        run_phases(module, seconds=6)
    # ERROR (the exception), never a FAIL about ports nothing was learnt about; and the ports came home.
    assert own_namespaces() == set() and list(state_dir.glob("*.json")) == []
    assert a in ip("link", "show").stdout and b in ip("link", "show").stdout


@live_root
def test_check_alone_sees_the_link_of_a_down_port_and_leaves_it_down(veth_pair, state_dir):
    a, b = veth_pair()
    ip("link", "set", b, "down")
    ctx = RecordingContext("network", Host("/"), seconds=5.0)
    NetworkModule(Host("/"), {"ports": [a, b], "detect_pairs": False}).check(ctx)  # all `burnin capture` runs
    assert "no-link" not in ctx.codes()
    assert [c["argv"][-1] for c in ctx.commands if c["argv"][:3] == ["ip", "link", "set"]] == ["up", "down"]
    assert "UP" not in ip("link", "show", b).stdout.split(">")[0] and list(state_dir.glob("*.json")) == []


@live_root
def test_detect_cabled_pairs_finds_exactly_the_cabled_ports(veth_pair):
    a1, b1 = veth_pair()
    a2, b2 = veth_pair()
    macs = {n: Path(f"/sys/class/net/{n}/address").read_text().strip() for n in (a1, b1, a2, b2)}
    pairs, heard = netns.detect_cabled_pairs(macs, wait_s=0.5)
    assert sorted(pairs) == sorted([tuple(sorted((a1, b1))), tuple(sorted((a2, b2)))])
    assert heard[a1] == [b1] and heard[b2] == [a2]


@live_root
def test_one_end_taken_down_mid_run_fails_link_flap_naming_the_port(veth_pair, state_dir):
    a, b = veth_pair()
    ip("link", "set", b, "down")  # brought up by the module: its link and its peer's are watched all the same
    module = NetworkModule(Host("/"), {"ports": [a, b], "detect_pairs": False, "interval_s": 0.2})
    ctx = RecordingContext("network", Host("/"), seconds=5.0)
    module.check(ctx)
    ctx.phase, ctx.deadline = "run", time.monotonic() + 2.0
    timer = threading.Timer(1.0, lambda: ip("link", "set", a, "down"))
    timer.start()
    try:
        module.run(ctx)
    finally:
        timer.cancel()
    flaps = {f.component: f for f in ctx.findings if f.code == "link-flap"}
    assert flaps[f"nic:{a}"].severity is Severity.FAIL and a in flaps[f"nic:{a}"].message
    assert f"nic:{b}" in flaps  # its peer lost its carrier too
    assert [f.code for f in ctx.findings if f.code not in ("speed-unknown", "link-flap")] == []


@live_root
def test_frames_dropped_during_the_run_are_judged_by_the_drop_growth_setting(veth_pair, state_dir):
    a, b = veth_pair(up=False)
    ip("link", "set", a, "up")  # its peer stays down: what `a` sends is dropped and counted (tx_dropped)
    module = NetworkModule(Host("/"), {"ports": [a, b], "detect_pairs": False, "bring_up_down_ports": False,
                                       "drop_growth": "fail"})
    ctx = RecordingContext("network", Host("/"), seconds=2.0)
    module.check(ctx)
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as raw:
        raw.bind((a, 0))
        for _ in range(3):
            raw.send(b"\xff" * 6 + bytes(6) + b"\x88\xb5" + bytes(46))
    module.finish(ctx)
    drops = [f for f in ctx.findings if f.code == "drop-growth"]
    assert [(f.severity, f.component) for f in drops] == [(Severity.FAIL, f"nic:{a}")]
    assert drops[0].evidence["grown"] == {"tx_dropped": 3}
    assert ctx.codes(Severity.WARN) == ["no-link", "no-link"]


@live_root
def test_pair_with_an_address_in_use_is_never_moved(veth_pair, state_dir):
    a, b = veth_pair()
    ip("addr", "add", "198.19.253.1/30", "dev", a)
    server = socket.socket()
    try:
        server.bind(("198.19.253.1", 0))
        server.listen()
        module = NetworkModule(Host("/"), {"ports": [a, b], "pairs": [[a, b]], "detect_pairs": False})
        ctx = run_phases(module, phases=("check", "finish"), seconds=2.0)
    finally:
        server.close()
    refused = [f for f in ctx.findings if f.code == "pair-not-tested"]
    assert len(refused) == 1 and "open connections or services use its address 198.19.253.1" in refused[0].message
    assert not [c for c in ctx.commands if "netns" in c["argv"]]


@live_root
def test_live_vm_eth0_speed_unknown_is_said_and_the_port_with_the_default_route_never_moves(veth_pair, state_dir):
    default_dev = json.loads(ip("-j", "route", "show", "default").stdout or "[]")
    if not default_dev or not Path(f"/sys/class/net/{default_dev[0]['dev']}/device").exists():
        pytest.skip("no physical port with the default route here")
    eth0 = default_dev[0]["dev"]
    before = addresses(eth0)
    a, _ = veth_pair()
    ctx = run_phases(NetworkModule(Host("/"), {"pairs": [[eth0, a]], "detect_pairs": False}),
                     phases=("check", "finish"), seconds=2.0)
    assert "fail" not in [f.severity.value for f in ctx.findings]
    judged = {f.code for f in ctx.findings if f.component == f"nic:{eth0}"}
    driver = os.path.basename(os.readlink(f"/sys/class/net/{eth0}/device/driver"))
    if driver == "virtio_net":
        assert "speed-unknown" in judged
    refused = [f for f in ctx.findings if f.code == "pair-not-tested"]
    assert len(refused) == 1 and "default route" in refused[0].message
    assert not [c for c in ctx.commands if "netns" in c["argv"]]
    assert addresses(eth0) == before


@live_root
def test_cancel_mid_traffic_restores_the_ports_within_the_grace_period(veth_pair, state_dir):
    a, b = veth_pair()
    ip("addr", "add", "198.19.251.1/30", "dev", a)
    module = NetworkModule(Host("/"), {"ports": [a, b], "pairs": [[a, b]], "detect_pairs": False, "traffic_s": 20.0})
    cancel = threading.Event()
    ctx = RecordingContext("network", Host("/"), seconds=30.0, cancel=cancel)
    module.check(ctx)
    ctx.phase = "run"
    worker = threading.Thread(target=module.run, args=(ctx,))
    worker.start()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any(s.get(f"rx_mbps:{b}", 0) > 10 for s in ctx.samples):
        time.sleep(0.1)
    cancelled = time.monotonic()
    cancel.set()  # what the runner does on Ctrl-C
    worker.join(10)
    assert not worker.is_alive() and time.monotonic() - cancelled < 3.0  # the runner's default stop_grace
    assert "traffic test cut short (the run was stopped): not judged" in [n["message"] for n in ctx.notes]
    assert addresses(a) == {"198.19.251.1/30"} and Path(f"/sys/class/net/{b}").exists()
    assert own_namespaces() == set()
    ctx.phase = "finish"
    module.finish(ctx)
    assert ctx.codes(Severity.FAIL) == [] and list(state_dir.glob("*.json")) == []


@live_root
def test_recovery_empties_dead_runs_namespaces_and_leaves_live_runs_alone(veth_pair, state_dir):
    a, _ = veth_pair()
    host = Host("/")
    live = subprocess.Popen(["sleep", "30"])
    dead = subprocess.Popen(["true"])
    dead.wait()
    live_ns = f"burnin-{live.pid}-{netns._process_start(host, live.pid)}-t000-0a"
    dead_ns = f"burnin-{dead.pid}-1-t000-0a"
    try:
        for ns in (live_ns, dead_ns):
            ip("netns", "add", ns)
        ip("link", "set", a, "netns", dead_ns)
        done = netns.recover(host, host.run, state_dir)
        mine = [(d["namespace"], d["ports"], d["problems"]) for d in done if d.get("namespace") in (live_ns, dead_ns)]
        assert mine == [(dead_ns, [a], [])]
        assert Path(f"/sys/class/net/{a}").exists() and live_ns in burnin_namespaces()
        assert dead_ns not in burnin_namespaces()
    finally:
        live.kill()
        live.wait()
        for ns in (live_ns, dead_ns):
            ip("netns", "delete", ns, check=False)


def _child(a: str, b: str) -> None:
    """Body of a forked module process: runs the traffic test for a long time, to be killed in the middle."""
    try:
        module = NetworkModule(Host("/"), {"ports": [a, b], "pairs": [[a, b]], "detect_pairs": False,
                                           "traffic_s": 30.0})
        run_phases(module, seconds=40)
    finally:
        os._exit(0)


@live_root
def test_killed_mid_traffic_ports_come_back_at_the_next_start(veth_pair, state_dir):
    a, b = veth_pair()
    ip("addr", "add", "198.19.252.1/30", "dev", a)
    ip("addr", "add", "198.19.252.2/30", "dev", b)
    pid = os.fork()
    if pid == 0:
        _child(a, b)
    try:
        deadline = time.monotonic() + 20
        busy = False
        while time.monotonic() < deadline and not busy:  # a receiver and a sender in each namespace: traffic
            time.sleep(0.2)
            spaces = own_namespaces(pid)
            busy = len(spaces) == 2 and all(len(ip("netns", "pids", ns, check=False).stdout.split()) >= 2
                                            for ns in spaces)
        assert busy, "the traffic test did not start"
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert not Path(f"/sys/class/net/{a}").exists()  # left in its namespace by the killed run
    ctx = RecordingContext("network", Host("/"), phase="check", seconds=10)
    NetworkModule(Host("/"), {"ports": [a, b], "detect_pairs": False}).check(ctx)
    assert "restored-leftover" in ctx.codes() and "restore-incomplete" not in ctx.codes()
    assert addresses(a) == {"198.19.252.1/30"} and addresses(b) == {"198.19.252.2/30"}
    assert own_namespaces(pid) == set() and list(state_dir.glob("*.json")) == []


class NetworkThatHangsInTraffic(NetworkModule):
    """The real module, stuck with its ports in namespaces: it ignores the stop, so the runner must kill it."""

    def run(self, ctx):
        self._setup_pair(ctx, 0, *self._pairs[0])
        time.sleep(3600)


@live_root
def test_module_killed_with_its_ports_in_namespaces_gets_them_back_before_the_run_ends(veth_pair, state_dir,
                                                                                       fake_registry, tmp_path):
    from click.testing import CliRunner

    from burnin.cli import main
    from burnin.journal import read

    a, b = veth_pair()
    before = burnin_namespaces()
    fake_registry(NetworkThatHangsInTraffic)
    profile = tmp_path / "p.toml"
    profile.write_text(f'duration = "3s"\nstop_grace = "1s"\n[settings.network]\nports = ["{a}", "{b}"]\n'
                       f'pairs = [["{a}", "{b}"]]\n')
    journal = tmp_path / "j.jsonl"
    result = CliRunner().invoke(main, ["run", "--profile", str(profile), "--journal", str(journal), "--json"])
    assert json.loads(result.stdout)["modules"] == {"network": "ERROR"}, result.output
    # Back home as soon as the module was killed, not at the next start.
    assert burnin_namespaces() - before == set() and list(state_dir.glob("*.json")) == []
    assert a in ip("link", "show").stdout and b in ip("link", "show").stdout
    notes = [r["message"] for r in read(journal).of_type("note") if r.get("module") == "network"]
    assert any(m.startswith("undone after the module's process ended") and a in m and b in m for m in notes), notes


def test_traffic_receiver_waits_accept_s_for_a_sender_that_starts_late(monkeypatch):
    """On a slow machine the senders start long after the receivers said ready: the receiver's wait is a
    parameter (the module derives it from worker_start_s), not a fixed 10 s."""
    import sys

    from burnin.tools import traffic

    def late_sender(port: int, delay: float) -> dict:
        time.sleep(delay)
        try:
            return traffic.send("127.0.0.1", port, 1, 0.3)
        except OSError as exc:
            return {"error": type(exc).__name__}

    results = {}
    for accept_s in (0.3, 5.0):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        receiver = subprocess.Popen([sys.executable, "-m", "burnin.tools.traffic", "receive", "--bind", "127.0.0.1",
                                     "--port", str(port), "--seconds", "0.3", "--accept-s", str(accept_s)],
                                    stdout=subprocess.PIPE, text=True)
        assert '"ready"' in receiver.stdout.readline()
        monkeypatch.setattr(traffic, "ACCEPT_GRACE_S", 0.5)  # the sender gives up soon when nobody listens
        sent = late_sender(port, 1.5)
        out, _ = receiver.communicate(timeout=30)
        results[accept_s] = (sent, json.loads(out.strip().splitlines()[-1]))
    refused, _ = results[0.3]
    assert refused == {"error": "ConnectionRefusedError"}
    sent, received = results[5.0]
    assert sent["bytes"] > 0 and received["bytes"] == sent["bytes"]


def test_missed_frames_count_as_drops_not_errors():
    # rx_missed_errors: frames the host had no buffer for (the kernel folds it into "drop"); CRC errors are errors.
    errors, drops = split_growth({"rx_missed_errors": 5, "rx_crc_errors": 1, "ethtool:rx_missed_errors": 3,
                                  "ethtool:rx_align_errors": 1})
    assert errors == {"rx_crc_errors": 1, "ethtool:rx_align_errors": 1}
    assert drops == {"rx_missed_errors": 5, "ethtool:rx_missed_errors": 3}


def test_the_cpu_bound_cut_off_is_a_setting():
    busy = Direction("eth1", "eth2", 700.0, 875_000_000, 10.0, 0.93, 0.4)
    assert judge_direction(busy, 1000, 0.8, 0.0, "eth1 and eth2").code == "throughput-cpu-bound"  # default 0.9
    strict = judge_direction(busy, 1000, 0.8, 0.0, "eth1 and eth2", cpu_bound_share=0.95)
    assert (strict.severity, strict.code, strict.component) == (Severity.FAIL, "low-throughput", "nic:eth1")
    assert strict.evidence["cpu_bound_share"] == 0.95
    module = NetworkModule(Host("/"), {"cpu_bound_share": 0.95, "pairs": [["eth1", "eth2"]]})
    assert module.settings.cpu_bound_share == 0.95 and module.settings.pairs == (("eth1", "eth2"),)


def test_a_malformed_pair_is_refused_when_the_settings_are_read():
    from burnin.settings import SettingError

    with pytest.raises(SettingError, match="wrong type") as err:
        NetworkModule(Host("/"), {"pairs": [["eth1"]]})
    assert err.value.key == "pairs"


def test_pair_load_runs_both_directions_on_loopback_and_stops_the_one_way():
    """The pair's four workers as one load, driven by the harness: on loopback (127.0.0.1 and 127.0.0.2 stand
    for the two ports), no namespaces needed."""
    from burnin.load import drive
    from burnin.tools import traffic

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    argv = {"recv_b": traffic.worker_argv(*traffic.receive_args("127.0.0.2", port, 1, 0.5, 10.0)),
            "recv_a": traffic.worker_argv(*traffic.receive_args("127.0.0.1", port, 1, 0.5, 10.0)),
            "send_a": traffic.worker_argv(*traffic.send_args("127.0.0.2", port, 1, 0.5)),
            "send_b": traffic.worker_argv(*traffic.send_args("127.0.0.1", port, 1, 0.5))}
    load = traffic.PairLoad(Host("/"), "traffic lo", argv, ready_s=20.0)
    ctx = RecordingContext("network", Host("/"), phase="run", seconds=60.0)
    outcome = drive(ctx, [load], until=time.monotonic() + 40.0, interval_s=0.2)
    assert outcome.reason == "ended" and load.error is None and not load.interrupted
    results = load.results()
    assert results["recv_b"]["bytes"] == results["send_a"]["bytes"] > 0
    assert results["recv_a"]["bytes"] == results["send_b"]["bytes"] > 0
    direction = make_direction("a", "b", results["send_a"], results["recv_b"])
    assert direction.error is None and direction.mbps > 0
    assert [n["message"] for n in ctx.notes] == ["load started", "load stopped"]


def test_pair_load_whose_receiver_cannot_listen_says_why_and_never_starts_the_senders():
    from burnin.load import drive
    from burnin.tools import traffic

    argv = {"recv_b": traffic.worker_argv(*traffic.receive_args("192.0.2.1", 47001, 1, 0.5, 1.0)),  # not ours
            "recv_a": traffic.worker_argv(*traffic.receive_args("127.0.0.1", 0, 1, 0.5, 1.0)),
            "send_a": ["false"], "send_b": ["false"]}
    load = traffic.PairLoad(Host("/"), "traffic bad", argv, ready_s=20.0)
    ctx = RecordingContext("network", Host("/"), phase="run", seconds=60.0)
    drive(ctx, [load], until=time.monotonic() + 30.0, interval_s=0.2)
    assert load.failed_role == "recv_b" and "OSError" in load.error
    assert load.loads["send_a"].proc is None and load.loads["send_b"].proc is None
    assert load.results()["send_a"] == {} and "error" in load.results()["recv_b"]


def test_pair_load_whose_receiver_stays_silent_gives_up_after_ready_s():
    from burnin.load import drive
    from burnin.tools import traffic

    silent = [sys.executable, "-c", "import time; time.sleep(60)"]
    load = traffic.PairLoad(Host("/"), "traffic silent", {"recv_b": silent, "recv_a": silent, "send_a": ["false"],
                                                          "send_b": ["false"]}, ready_s=0.5)
    ctx = RecordingContext("network", Host("/"), phase="run", seconds=60.0)
    started = time.monotonic()
    outcome = drive(ctx, [load], until=time.monotonic() + 30.0, interval_s=0.2)
    assert outcome.reason == "ended" and time.monotonic() - started < 10.0
    assert (load.failed_role, load.error) == ("recv_b", "no answer in 0.5 s")
    assert all(not receiver.running() for receiver in (load.loads["recv_a"], load.loads["recv_b"]))
