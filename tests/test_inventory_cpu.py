"""CPU identity, topology and caches from /proc/cpuinfo and sysfs (captured trees), and from SMBIOS dumps."""

from __future__ import annotations

from pathlib import Path

from burnin.host import Host
from burnin.inventory.cpu import collect_cpu, cpu_from_smbios, mhz_from_model, parse_cpuinfo
from burnin.inventory.dmidecode import parse_dmidecode_text

DATA = Path(__file__).parent / "data"
VM = Host(DATA / "sysfs" / "vm-virtio")


def _smbios(file_id: str):
    (path,) = (DATA / "dmidecode").glob(f"*{file_id}*.dmidecode.txt")
    return parse_dmidecode_text(path.read_text(errors="replace"))


def test_identity_and_topology_of_a_real_vm():
    cpu = collect_cpu(VM)
    assert (cpu.model, cpu.vendor, cpu.family, cpu.model_number, cpu.stepping) == (
        "AMD EPYC", "AuthenticAMD", 23, 1, 2)
    assert cpu.microcode == "0x1000065"
    assert (cpu.sockets, cpu.cores, cpu.threads, cpu.cores_per_socket, cpu.threads_per_core) == (1, 2, 2, 2, 1)
    assert [(c.cpu, c.package, c.die, c.core, c.node) for c in cpu.topology] == [(0, 0, 0, 0, 0), (1, 0, 0, 1, 0)]
    assert cpu.virtualized is True
    assert {"avx2", "aes", "sha_ni", "hypervisor"} <= set(cpu.flags)
    assert not any(f.startswith("avx512") for f in cpu.flags)
    assert cpu.flag_count == 85
    # no cpufreq in this VM, and an AMD model string states no clock: unknown, not guessed
    assert (cpu.base_mhz, cpu.max_mhz) == (None, None)
    assert cpu.source == "proc" and cpu.socket_records == ()


def test_caches_are_counted_per_instance_across_the_machine():
    caches = {(c.level, c.type): c for c in collect_cpu(VM).caches}
    l1d, l2, l3 = caches[(1, "Data")], caches[(2, "Unified")], caches[(3, "Unified")]
    assert (l1d.size_kib, l1d.instances, l1d.total_kib) == (32, 2, 64)  # one per core
    assert (l2.size_kib, l2.instances, l2.total_kib) == (512, 2, 1024)
    assert (l3.size_kib, l3.instances, l3.total_kib, l3.shared_cpu_list) == (8192, 1, 8192, "0-1")  # shared
    assert caches[(1, "Instruction")].ways == 4


def test_topology_without_proc_cpuinfo_still_counts_cores():
    cpu = collect_cpu(Host(DATA / "sysfs" / "procfs"))  # sys only, as procfs captured it
    assert (cpu.model, cpu.sockets, cpu.cores, cpu.threads) == (None, 1, 2, 2)
    assert cpu.flags == () and cpu.virtualized is None


def test_clock_speeds_come_from_cpufreq_when_present(tmp_path):
    freq = tmp_path / "sys/devices/system/cpu/cpu0/cpufreq"
    freq.mkdir(parents=True)
    (freq / "base_frequency").write_text("2100000\n")
    (freq / "cpuinfo_max_freq").write_text("3500000\n")
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text((DATA / "sysfs/vm-virtio/proc/cpuinfo").read_text())
    cpu = collect_cpu(Host(tmp_path))
    assert (cpu.base_mhz, cpu.max_mhz) == (2100.0, 3500.0)


def test_base_clock_from_an_intel_model_string():
    assert mhz_from_model("Intel(R) Xeon(R) CPU E5-2620 v2 @ 2.10GHz") == 2100.0
    assert mhz_from_model("AMD EPYC 7543P 32-Core Processor") is None


def test_cpuinfo_blocks_one_per_logical_cpu():
    blocks = parse_cpuinfo((DATA / "sysfs/vm-virtio/proc/cpuinfo").read_text())
    assert [b["processor"] for b in blocks] == ["0", "1"]
    assert blocks[1]["core id"] == "1"


def test_cpu_from_a_dmidecode_dump_counts_populated_sockets_only():
    cpu = cpu_from_smbios(_smbios("PowerEdge_R510"))
    assert (cpu.model, cpu.sockets, cpu.cores, cpu.threads) == (
        "Intel(R) Xeon(R) CPU           X5660  @ 2.80GHz", 1, 6, 12)
    assert [(s.name, s.populated) for s in cpu.socket_records] == [("CPU1", True), ("CPU2", False)]
    assert cpu.base_mhz == 2800.0 and cpu.source == "smbios"


def test_cpu_from_a_two_socket_dump():
    cpu = cpu_from_smbios(_smbios("PowerEdge_R740"))
    assert (cpu.sockets, cpu.cores, cpu.threads, cpu.cores_per_socket, cpu.threads_per_core) == (2, 36, 72, 18, 2)
    assert cpu.vendor == "Intel"


def test_ppin_is_read_once_per_socket_and_zero_means_none(tmp_path):
    """PPIN files added to a copy of the real procfs capture (its two CPUs share package 0). The values are
    synthesized in the kernel's format ("0x%llx", drivers/base/topology.c); "0x0" is what kernels before 5.18
    printed where PPIN is not supported (Tony Luck's patch "topology/sysfs: Hide PPIN on systems that do not
    support it")."""
    import shutil

    from burnin.inventory.cpu import SocketPpin, read_ppins, read_topology

    root = tmp_path / "sys-tree"
    shutil.copytree(Path(__file__).parent / "data" / "sysfs" / "procfs", root, symlinks=True)
    host = Host(root)
    topology = read_topology(host)
    assert read_ppins(host, topology) == ()  # no ppin file: the kernel or the firmware does not offer it
    for cpu in (0, 1):
        (root / f"sys/devices/system/cpu/cpu{cpu}/topology/ppin").write_text("0x2d5b4c8e11a3f0c1\n")
    assert read_ppins(host, topology) == (SocketPpin(0, "0x2d5b4c8e11a3f0c1"),)
    (root / "sys/devices/system/cpu/cpu0/topology/ppin").write_text("0x0\n")
    assert read_ppins(host, topology) == (SocketPpin(0, "0x2d5b4c8e11a3f0c1"),)  # cpu1 still names package 0
    (root / "sys/devices/system/cpu/cpu1/topology/ppin").write_text("0x0\n")
    assert read_ppins(host, topology) == ()
