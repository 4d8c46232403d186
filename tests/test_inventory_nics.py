"""Network ports from /sys/class/net, and the ethtool parsers on real outputs."""

from __future__ import annotations

from pathlib import Path

from burnin.host import CommandResult, Host
from burnin.inventory.nics import collect_nics
from burnin.tools import ethtool

DATA = Path(__file__).parent / "data"
ETHTOOL = DATA / "ethtool"


def test_physical_port_of_a_real_tree():
    nics, notes = collect_nics(Host(DATA / "sysfs" / "procfs"))
    (eth0,) = nics
    assert (eth0.name, eth0.pci_address, eth0.mac) == ("eth0", "0000:00:1f.6", "01:01:01:01:01:01")
    assert (eth0.operstate, eth0.carrier, eth0.speed_mbps, eth0.duplex, eth0.mtu) == ("up", True, 1000, "full", 1500)
    assert eth0.driver is None  # the capture has no driver link for this device
    assert (eth0.firmware, eth0.supported_speeds_mbps) == (None, ())  # a captured tree runs no ethtool
    assert notes == []


def test_software_interfaces_are_left_out_unless_asked():
    nics, _ = collect_nics(Host(DATA / "sysfs" / "vm-virtio"))
    assert [(n.name, n.driver, n.pci_address) for n in nics] == [("eth0", "virtio_net", "0000:00:03.0")]
    assert nics[0].speed_mbps is None  # virtio reports -1: no speed
    everything, _ = collect_nics(Host(DATA / "sysfs" / "vm-virtio"), include_virtual=True)
    assert sorted((n.name, n.physical) for n in everything) == [
        ("eth0", True), ("ifb0", False), ("ifb1", False), ("lo", False)]


class ReplayHost(Host):
    """A live-looking host over a captured tree whose ethtool answers come from captured outputs."""

    def __init__(self, root, outputs):
        super().__init__(root)
        self.live = True
        self.outputs = outputs
        self.calls = []

    def which(self, tool):
        return f"/usr/sbin/{tool}"

    def run(self, argv, timeout=30.0, input=None):
        self.calls.append(list(argv))
        text = self.outputs[tuple(argv)]
        return CommandResult(tuple(argv), 0, text, "", 0.01)


def test_firmware_and_supported_speeds_come_from_ethtool_on_a_live_host():
    outputs = {
        ("ethtool", "-i", "eth0"): (ETHTOOL / "node_exporter-eth0-driver.txt").read_text(),
        ("ethtool", "eth0"): (ETHTOOL / "node_exporter-eth0-settings.txt").read_text(),
    }
    host = ReplayHost(DATA / "sysfs" / "procfs", outputs)
    (eth0,), notes = collect_nics(host)
    assert host.calls == [["ethtool", "-i", "eth0"], ["ethtool", "eth0"]]
    assert eth0.firmware == "0.5-4"
    assert eth0.supported_speeds_mbps == (10, 100, 1000, 10000)
    assert (eth0.max_speed_mbps, eth0.port) == (10000, "Twisted Pair")
    assert notes == []


def test_missing_ethtool_is_stated():
    class NoEthtool(ReplayHost):
        def which(self, tool):
            return None

    nics, notes = collect_nics(NoEthtool(DATA / "sysfs" / "procfs", {}))
    assert notes == ["NIC firmware and supported speeds not read: ethtool is not installed"]


def test_ethtool_driver_info():
    info = ethtool.parse_driver_info((ETHTOOL / "node_exporter-eth0-driver.txt").read_text())
    assert (info.driver, info.version, info.firmware_version, info.bus_info) == (
        "e1000e", "5.11.0-22-generic", "0.5-4", "0000:00:1f.6")
    assert info.expansion_rom_version is None
    vm = ethtool.parse_driver_info((ETHTOOL / "vm-virtio-eth0-driver.txt").read_text())
    assert (vm.driver, vm.firmware_version, vm.bus_info) == ("virtio_net", None, "0000:00:03.0")


def test_ethtool_settings_of_a_1g_copper_port():
    s = ethtool.parse_settings((ETHTOOL / "node_exporter-eth0-settings.txt").read_text())
    assert s.supported_ports == ("TP", "MII")
    assert s.supported_link_modes == ("10baseT/Half", "10baseT/Full", "100baseT/Half", "100baseT/Full",
                                      "1000baseT/Full", "10000baseT/Full")
    assert s.advertised_link_modes[-1] == "1000baseT/Full"
    assert (s.speed_mbps, s.duplex, s.autoneg, s.supports_autoneg, s.link_detected) == (1000, "Full", True, True, True)


def test_ethtool_settings_of_25g_ports_without_link():
    e810 = ethtool.parse_settings((ETHTOOL / "intel-e810-xxv-nolink-settings.txt").read_text())
    assert e810.supported_speeds_mbps == (1000, 10000, 25000)
    assert (e810.speed_mbps, e810.duplex, e810.link_detected, e810.port) == (None, None, False, "FIBRE")
    assert e810.advertised_link_modes == ("25000baseSR/Full",)
    bcm = ethtool.parse_settings((ETHTOOL / "broadcom-bcm57414-nolink-settings.txt").read_text())
    assert bcm.supported_link_modes == ("25000baseSR/Full", "10000baseSR/Full")
    assert (bcm.autoneg, bcm.supports_autoneg) == (True, True)


def test_ethtool_settings_of_a_100g_port_with_nothing_advertised():
    s = ethtool.parse_settings((ETHTOOL / "mellanox-spectrum-100g-settings.txt").read_text())
    assert s.supported_speeds_mbps == (1000, 10000, 25000, 40000, 50000, 100000)
    assert s.advertised_link_modes == ()  # "Not reported"
    assert (s.speed_mbps, s.port, s.autoneg) == (100000, "Direct Attach Copper", False)


def test_ethtool_settings_of_virtio():
    s = ethtool.parse_settings((ETHTOOL / "vm-virtio-eth0-settings.txt").read_text())
    assert (s.supported_link_modes, s.speed_mbps, s.duplex, s.link_detected) == ((), None, None, True)
    assert s.port == "Other"


def test_ethtool_argv():
    assert ethtool.driver_argv("eno1") == ["ethtool", "-i", "eno1"]
    assert ethtool.settings_argv("eno1") == ["ethtool", "eno1"]
