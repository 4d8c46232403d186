"""memory module: sizing, placement, DIMM naming, bandwidth and ECC judgements on real captured data.

Live runs of the pattern engine and stressapptest are in test_memory_engine.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from burnin.host import Host
from burnin.inventory import collect
from burnin.model import Severity
from burnin.modules.memory import patterns
from burnin.modules.memory.bandwidth import Bandwidth
from burnin.modules.memory import (
    MIB, CgroupMemory, MemoryModule, NodeInfo, expected_bandwidth, judge_bandwidth, judge_ecc, match_dimm,
    parse_meminfo, parse_node_meminfo, plan_memory, read_cgroup_memory, split_workers,
)
from burnin.testing import RecordingContext, run_phases
from burnin.tools import edac

DATA = Path(__file__).parent / "data"
EDAC = DATA / "edac"
VM = Host(DATA / "sysfs" / "vm-virtio")  # the development VM: one node, no EDAC, no SMBIOS
NUMA = Host(EDAC / "node-exporter")  # node_exporter's capture: nodes 0 and 1 with CPUs, node 2 memory-only
X10DRI = DATA / "dmidecode" / "Server__Supermicro__X10__X10DRi__DCD6BE1B26A8.dmidecode.txt"
GIB = 1 << 30


@pytest.fixture(scope="module")
def x10dri():
    """A Supermicro X10DRi: 4 DIMMs on socket 0 (channels A-D, 1600 MT/s configured), socket 1 empty."""
    return collect(Host("/"), dmidecode_text=X10DRI.read_text())


def numa_node(host: Host, n: int, cpus: tuple[int, ...], sockets: tuple[int, ...] = ()) -> NodeInfo:
    total, available = parse_node_meminfo(host.read_text(f"/sys/devices/system/node/node{n}/meminfo"))
    return NodeInfo(n, cpus, available, total, sockets)


# -- sizing -------------------------------------------------------------------------------------------------
def test_meminfo_and_node_meminfo_parse_in_bytes():
    info = parse_meminfo(VM.read_text("/proc/meminfo"))
    assert (info.total, info.available) == (24683656 * 1024, 23519688 * 1024)
    total, available = parse_node_meminfo(NUMA.read_text("/sys/devices/system/node/node0/meminfo"))
    assert total == 134182340 * 1024
    assert available == (53030372 + 58809728) * 1024  # MemFree + Inactive(file)


def test_asking_for_95_percent_leaves_the_reserve():
    info = parse_meminfo(VM.read_text("/proc/meminfo"))
    unknown_node = NodeInfo(0, (0, 1), None, None, ())
    plan = plan_memory(info, [unknown_node], share=0.95, max_mib=0, reserve_mib=1024, reserve_pct=5.0, cgroup=None)
    reserve = int(0.05 * info.total)  # 5 % of 23.5 GiB is more than 1 GiB
    assert plan.limited_by == "reserve"
    assert plan.total <= info.available - reserve
    assert plan.total > info.available - reserve - patterns.CHUNK  # whole chunks
    assert plan.limits["share"] == int(0.95 * info.available)
    # the VM's node 0 says it has less free than the whole system: the node's own free memory caps it too
    node = numa_node(VM, 0, (0, 1))
    capped = plan_memory(info, [node], 0.95, 0, 1024, 5.0, None)
    assert capped.limited_by == "node" and capped.total <= 0.95 * node.available_bytes


def test_a_memory_cgroup_limit_caps_the_plan_below_its_free_memory():
    info = parse_meminfo(VM.read_text("/proc/meminfo"))
    cgroup = CgroupMemory("/sys/fs/cgroup/memory/test", limit=1 * GIB, usage=100 * MIB)
    plan = plan_memory(info, [numa_node(VM, 0, (0, 1))], 0.95, 0, 1024, 5.0, cgroup)
    assert plan.limited_by == "cgroup"
    assert plan.total <= cgroup.free - int(0.1 * GIB)
    capped = plan_memory(info, [numa_node(VM, 0, (0, 1))], 0.95, 64, 1024, 5.0, cgroup)
    assert (capped.limited_by, capped.total) == ("max_mib", 64 * MIB)


def test_memory_is_split_by_what_each_node_has_free_and_memory_only_nodes_get_none():
    info = parse_meminfo("MemTotal: 268400068 kB\nMemAvailable: 200000000 kB\n")
    nodes = [numa_node(NUMA, 0, (0, 1), (0,)), numa_node(NUMA, 1, (2, 3), (1,)), numa_node(NUMA, 2, ())]
    plan = plan_memory(info, nodes, 0.5, 0, 1024, 5.0, None)
    assert sorted(plan.per_node) == [0, 1]
    ratio = plan.per_node[0] / plan.per_node[1]
    expected = (53030372 + 58809728) / (39634788 + 71165504)
    assert ratio == pytest.approx(expected, rel=1e-3)
    assert plan.total <= 0.5 * 200000000 * 1024


def test_workers_get_whole_chunks_and_at_least_16_mib():
    assert split_workers(1 * GIB, (0, 1, 2, 3), 0) == [((0,), 256 * MIB), ((1,), 256 * MIB), ((2,), 256 * MIB),
                                                       ((3,), 256 * MIB)]
    assert split_workers(20 * MIB, (0, 1, 2, 3), 0) == [((0, 1, 2, 3), 20 * MIB)]
    assert split_workers(1 * GIB, (4, 5, 6, 7), 2) == [((4, 6), 512 * MIB), ((5, 7), 512 * MIB)]
    assert split_workers(0, (0,), 0) == []


def test_cgroup_v2_limit_is_found_through_the_ancestors(tmp_path):
    root = tmp_path
    (root / "proc/self").mkdir(parents=True)
    (root / "proc/self/cgroup").write_text("0::/system.slice/burnin.service\n")
    cg = root / "sys/fs/cgroup"
    (cg / "system.slice/burnin.service").mkdir(parents=True)
    (cg / "cgroup.procs").write_text("")
    (cg / "system.slice/memory.max").write_text("2147483648\n")
    (cg / "system.slice/memory.current").write_text("1073741824\n")
    (cg / "system.slice/burnin.service/memory.max").write_text("max\n")
    (cg / "system.slice/burnin.service/memory.current").write_text("5000\n")
    found = read_cgroup_memory(Host(root))
    assert found is not None and found.path.endswith("/system.slice")
    assert (found.limit, found.free) == (2 * GIB, 1 * GIB)
    assert read_cgroup_memory(VM) is None


# -- naming DIMMs ------------------------------------------------------------------------------------------
def test_edac_labels_are_matched_to_inventory_slots(x10dri):
    dimms = [d for d in x10dri.memory.dimms if d.populated]
    dimm, how = match_dimm("P1-DIMMA1", dimms)  # Supermicro board labels (rasdaemon's labels database)
    assert dimm.locator == "P1_DIMMA1" and "locator" in how
    dimm, how = match_dimm("CPU_SrcID#0_Ha#0_Chan#1_DIMM#0", dimms)  # sb_edac firmware label
    assert dimm.locator == "P1_DIMMB1" and "socket 0, channel 1" in how
    assert match_dimm("CPU_SrcID#1_Ha#0_Chan#0_DIMM#0", dimms) == (None, None)  # socket 1 is empty there
    assert match_dimm("CPU_SrcID#0_MC#1_Chan#0_DIMM#0", dimms) == (None, None)  # 2nd controller: not guessed
    assert match_dimm(None, dimms) == (None, None)


def test_expected_bandwidth_is_channels_times_rate_times_eight(x10dri):
    node = NodeInfo(0, (0, 1), None, None, (0,))
    exp = expected_bandwidth(node, x10dri.memory.dimms, 2)
    assert (exp.channels, exp.mts, exp.gbps) == (4, 1600, 51.2)
    assert exp.slots == ("P1_DIMMA1", "P1_DIMMB1", "P1_DIMMC1", "P1_DIMMD1")
    empty = expected_bandwidth(NodeInfo(1, (2, 3), None, None, (1,)), x10dri.memory.dimms, 2)
    assert empty.gbps is None and "socket" in empty.unknown_reason
    vm = expected_bandwidth(NodeInfo(0, (0, 1), None, None, (0,)), (), 1)
    assert vm.gbps is None and "SMBIOS" in vm.unknown_reason


# -- bandwidth judgement -----------------------------------------------------------------------------------
def bw(node: int, read: float) -> Bandwidth:
    return Bandwidth(node, 2, read, read / 2, read * 0.7, 64)


def test_a_node_far_below_its_sibling_names_its_socket_and_slots(x10dri):
    nodes = {0: NodeInfo(0, (0, 1), None, None, (0,)), 1: NodeInfo(1, (2, 3), None, None, (1,))}
    expected = {n: expected_bandwidth(nodes[n], x10dri.memory.dimms, 2) for n in nodes}
    found = judge_bandwidth({0: bw(0, 8.0), 1: bw(1, 20.0)}, nodes, expected, 0.6, "warn", 0.1, "info")
    low = [j for j in found if j.code == "memory-bandwidth-low"]
    assert [(j.severity, j.component) for j in low] == [(Severity.WARN, "memory:node0")]
    assert "socket 0" in low[0].message and "P1_DIMMA1" in low[0].message
    assert "memory channel missing or degraded?" in low[0].message
    assert low[0].evidence["fraction"] == 0.4 and low[0].evidence["channels_populated"] == 4
    info = [j for j in found if j.code == "memory-bandwidth"][0]
    assert info.severity is Severity.INFO
    assert info.evidence["node0"]["expected_gbps"] == 51.2 and info.evidence["node1"]["expected_gbps"] is None
    as_fail = judge_bandwidth({0: bw(0, 8.0), 1: bw(1, 20.0)}, nodes, expected, 0.6, "fail", 0.1, "info")
    assert [j.severity for j in as_fail if j.code == "memory-bandwidth-low"] == [Severity.FAIL]


def test_balanced_nodes_and_a_single_node_only_report_the_figures():
    nodes = {0: NodeInfo(0, (0,), None, None, (0,)), 1: NodeInfo(1, (1,), None, None, (1,))}
    found = judge_bandwidth({0: bw(0, 19.0), 1: bw(1, 20.0)}, nodes, {}, 0.6, "warn", 0.1, "info")
    assert [(j.code, j.severity) for j in found] == [("memory-bandwidth", Severity.INFO)]
    single = judge_bandwidth({0: bw(0, 19.0)}, nodes, {}, 0.6, "warn", 0.1, "info")
    assert [j.code for j in single] == ["memory-bandwidth"]


def test_below_the_theoretical_figure_is_information_unless_the_profile_says_otherwise(x10dri):
    nodes = {0: NodeInfo(0, (0, 1), None, None, (0,))}
    expected = {0: expected_bandwidth(nodes[0], x10dri.memory.dimms, 2)}
    quiet = judge_bandwidth({0: bw(0, 3.0)}, nodes, expected, 0.6, "warn", 0.1, "info")
    assert [j.severity for j in quiet] == [Severity.INFO] and "less than 10%" in quiet[0].message
    strict = judge_bandwidth({0: bw(0, 3.0)}, nodes, expected, 0.6, "warn", 0.1, "warn")
    assert [(j.severity, j.code) for j in strict] == [
        (Severity.INFO, "memory-bandwidth"), (Severity.WARN, "memory-bandwidth-below-expected")]
    assert "4 populated channels at 1600 MT/s" in strict[1].message and "P1_DIMMD1" in strict[1].message
    assert judge_bandwidth({0: bw(0, 6.0)}, nodes, expected, 0.6, "warn", 0.1, "warn")[-1].code == "memory-bandwidth"


# -- ECC judgement -----------------------------------------------------------------------------------------
def counter(kind: str, count: int = 0) -> edac.EdacCounter:
    return edac.EdacCounter("mc1/dimm0", 1, kind, count, "CPU_SrcID#1_Ha#0_Chan#0_DIMM#0", "channel 0 slot 0")


def test_ecc_rates_are_judged_over_at_least_an_hour():
    names = {("mc1/dimm0", "ce"): ("dimm:P2-DIMME1", {"slot": "DIMM P2-DIMME1"}),
             ("mc1/dimm0", "ue"): ("dimm:P2-DIMME1", {"slot": "DIMM P2-DIMME1"})}
    one = [edac.EdacIncrease(counter("ce", 1), 0, 1)]
    assert [j.code for j in judge_ecc(one, 0.01, 10, names, "during the test")] == ["ecc-corrected"]
    many = [edac.EdacIncrease(counter("ce", 12), 0, 12)]
    assert [j.code for j in judge_ecc(many, 0.01, 10, names, "during the test")] == ["ecc-corrected-rate"]
    assert [j.code for j in judge_ecc(many, 2.0, 10, names, "during the test")] == ["ecc-corrected"]  # 6/h
    assert [j.code for j in judge_ecc(many, None, 10, names, "since boot")] == ["ecc-corrected"]  # no rate
    ue = judge_ecc([edac.EdacIncrease(counter("ue", 1), 0, 1)], 0.01, 10, names, "during the test")
    assert [(j.severity, j.component, j.code) for j in ue] == [(Severity.FAIL, "dimm:P2-DIMME1", "ecc-uncorrected")]
    assert ue[0].evidence["edac_label"] == "CPU_SrcID#1_Ha#0_Chan#0_DIMM#0"
    assert "P2-DIMME1" in ue[0].message


def test_no_edac_driver_is_said_out_loud():
    ctx = run_phases(MemoryModule(VM), phases=("check",))
    assert [(f.severity, f.code) for f in ctx.findings] == [(Severity.INFO, "ecc-counters-unavailable"),
                                                            (Severity.INFO, "ecc-reporting")]
    assert "unavailable" in ctx.findings[0].message
    assert ctx.findings[1].message.startswith("ECC reporting unverified: no EDAC driver is loaded")


def test_errors_since_boot_name_the_dimm_label_and_slot():
    ctx = run_phases(MemoryModule(Host(EDAC / "s2600kpr-sb_edac")), phases=("check",))
    assert [(f.severity, f.component, f.code) for f in ctx.findings] == [
        (Severity.WARN, "dimm:CPU_SrcID#1_Ha#0_Chan#0_DIMM#0", "ecc-corrected"),
        (Severity.INFO, "memory", "ecc-reporting")]
    finding = ctx.findings[0]
    assert "5539 corrected memory errors since the counters were last reset" in finding.message
    assert "channel 0 slot 0" in finding.message
    assert finding.evidence["edac_counter"] == "mc1/dimm0" and finding.evidence["increase"] == 5539


def test_errors_during_the_run_are_found_between_check_and_finish(tmp_path, x10dri):
    root = tmp_path / "edac"
    shutil.copytree(EDAC / "s2600kpr-sb_edac", root)
    module = MemoryModule(Host(root))
    ctx = RecordingContext("memory", module.host, inventory=x10dri)
    module.check(ctx)
    assert [f.code for f in ctx.findings] == ["ecc-corrected", "ecc-reporting"]  # the 5539 since boot
    mc = root / "sys/devices/system/edac/mc"

    def bump(path: str, by: int) -> None:
        (mc / path).write_text(f"{int((mc / path).read_text()) + by}\n")

    bump("mc0/dimm3/dimm_ce_count", 1)  # one corrected error on socket 0 channel 1: the X10DRi's P1_DIMMB1
    bump("mc0/ce_count", 1)
    bump("mc1/dimm0/dimm_ce_count", 40)  # 40 more within seconds on the bad one
    bump("mc1/ce_count", 40)
    bump("mc1/dimm9/dimm_ue_count", 1)
    bump("mc1/ue_count", 1)
    ctx.findings.clear()
    ctx.phase = "finish"
    module.finish(ctx)
    got = sorted((f.severity.value, f.component, f.code) for f in ctx.findings)
    assert got == [
        ("fail", "dimm:CPU_SrcID#1_Ha#0_Chan#0_DIMM#0", "ecc-corrected-rate"),
        ("fail", "dimm:CPU_SrcID#1_Ha#0_Chan#3_DIMM#0", "ecc-uncorrected"),
        ("warn", "dimm:P1_DIMMB1", "ecc-corrected"),
    ]
    matched = [f for f in ctx.findings if f.component == "dimm:P1_DIMMB1"][0]
    assert matched.evidence["edac_label"] == "CPU_SrcID#0_Ha#0_Chan#1_DIMM#0"
    assert matched.evidence["matched_by"].startswith("firmware label socket 0, channel 1")
    rate = [f for f in ctx.findings if f.code == "ecc-corrected-rate"][0]
    assert rate.evidence["increase"] == 40 and rate.evidence["window"] == "during the test"


def test_nodes_without_usable_cpus_are_noted_and_left_out(monkeypatch):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2, 3})
    module = MemoryModule(NUMA)
    ctx = RecordingContext("memory", NUMA)
    nodes = module.nodes(ctx)
    assert sorted(nodes) == [0, 1]
    assert (nodes[1].cpus, nodes[1].available_bytes) == ((2, 3), (39634788 + 71165504) * 1024)
    assert [n["data"]["node"] for n in ctx.notes if "memory-only" in n["message"]] == [2]
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1})  # a cpuset without node 1's CPUs
    ctx = RecordingContext("memory", NUMA)
    assert sorted(MemoryModule(NUMA).nodes(ctx)) == [0]
    assert sorted(n["data"]["node"] for n in ctx.notes) == [1, 2]


def test_run_phase_too_short_for_any_engine_is_an_error_not_a_pass():
    # A run phase that is over before an engine starts verified nothing: the module must not end PASS (or SKIP,
    # "nothing to test") on its preflight alone.
    module = MemoryModule(Host("/"), {"bandwidth": False, "engines": ["builtin"]})
    ctx = RecordingContext(module.name, module.host, phase="run", seconds=0.0)
    with pytest.raises(RuntimeError, match="no memory was verified: no engine had time to run"):
        module.run(ctx)
