"""A miscompare names its DIMM: SMBIOS type 20 maps of real dmidecode dumps, the EDAC debug decoder's
counter-diff answer (on a copy of a real EDAC tree, with a stand-in for the driver that raises the decoded DIMM's
counter, as skx_edac's debugfs `addr` does), and the fallback."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

from burnin.host import Host
from burnin.inventory.dmidecode import parse_dmidecode_text
from burnin.modules.memory import MemoryModule, locate
from burnin.testing import RecordingContext
from burnin.tools import edac

DATA = Path(__file__).parent / "data"


def dump(name: str):
    return parse_dmidecode_text(next((DATA / "dmidecode").glob(f"Server__{name}*.txt")).read_text())


def test_type20_range_names_the_dimm_as_the_firmware_maps_it():
    x10 = dump("Supermicro__X10__X10DRi")
    found = locate.by_smbios(0x5_0000_1234, x10.memory_mapped, x10.memory_devices)
    assert (found.method, found.dimms) == (locate.SMBIOS_MAP, ("P1_DIMMB1",))
    assert found.text == "DIMM P1_DIMMB1 by the firmware's memory map (SMBIOS type 20)"
    assert found.evidence["smbios_ranges"][0] == {"start": "0x400000000", "end": "0x7ffffffff", "device_handle": 0x63,
                                                  "interleave_position": None, "interleaved_depth": None}
    assert locate.by_smbios(0x10_0000_0000, x10.memory_mapped, x10.memory_devices) is None  # beyond 64 GiB


def test_interleaved_ranges_name_the_dimms_of_the_set():
    precision = dump("Dell__Precision__Precision_7920")
    found = locate.by_smbios(0x10, precision.memory_mapped, precision.memory_devices)
    assert found.dimms[0] == "DIMM5_CPU0" and len(found.dimms) > 1
    assert "interleaved 3-way" in found.text


def test_no_map_and_no_decoder_says_address_only():
    r740 = dump("Dell__PowerEdge__PowerEdge_R740")
    assert r740.memory_mapped == ()
    where = locate.locate(0x1000, host=Host(DATA / "sysfs" / "vm-virtio"), mapped=r740.memory_mapped,
                          devices=r740.memory_devices, names=lambda s: {}, discount=lambda caused: None)
    assert where == locate.NO_DECODER and where.text == "address only, no decoder on this platform"
    assert "needs root" in locate.locate(None, host=Host("/"), mapped=(), devices=(), names=lambda s: {},
                                         discount=lambda c: None).text


class LiveTree(Host):
    """A copied tree standing in for the live machine (only the EDAC decoder path is exercised)."""

    def __init__(self, root):
        super().__init__(root)
        self.live = True


def test_edac_decoder_answer_is_the_counter_that_rose_and_is_discounted(tmp_path):
    root = tmp_path / "tree"
    shutil.copytree(DATA / "edac" / "s2600kpr-sb_edac", root)
    addr = root / "sys/kernel/debug/edac/skx_test/addr"
    addr.parent.mkdir(parents=True)
    addr.write_text("")
    counter = root / "sys/devices/system/edac/mc/mc1/dimm3/dimm_ce_count"
    written = threading.Event()

    def driver():  # what skx_edac does with a written address: decode it, count one corrected error there
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not addr.read_text():
            time.sleep(0.01)
        counter.write_text(str(int(counter.read_text()) + 1) + "\n")
        written.set()

    thread = threading.Thread(target=driver)
    thread.start()
    host = LiveTree(root)
    module = MemoryModule(host)
    ctx = RecordingContext("memory", host)
    module.ecc.start = edac.read_edac(host)
    where = locate.locate(0x1_2345_6000, host=host, mapped=(), devices=(),
                          names=lambda s: module.ecc.names(ctx, s), discount=module.ecc.discount)
    thread.join()
    assert written.is_set() and addr.read_text() == str(0x1_2345_6000)
    assert where.method == locate.EDAC_DECODER
    assert where.text == "DIMM CPU_SrcID#1_Ha#0_Chan#1_DIMM#0 (channel 1 slot 0) by the EDAC driver's address decoder"
    # The decoder's one count is not an error of the machine.
    assert module.ecc.grown(module.ecc.start, edac.read_edac(host)) == []
