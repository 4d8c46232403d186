"""A captured tree that FAILs on two parts, for the fleet integrations' tests (OCP, Ironic, Ansible)."""

import shutil
from pathlib import Path

DATA = Path(__file__).parent / "data"
FAN = "fan:nct6779/fan2"
DIMM = "dimm:CPU_SrcID#0_Ha#0_Chan#0_DIMM#0"


def failing_capture(tmp_path: Path) -> Path:
    """The real captures of tests/test_coverage.py put together: a stopped fan (thermal) and a DIMM whose
    uncorrected-error counter is raised to 2 (the EDAC tree is real; its UE count was 0, see tests/data/edac)."""
    tree = tmp_path / "capture"
    for part in (DATA / "sysfs" / "procfs", DATA / "thermal" / "dual-socket-fan-stopped",
                 DATA / "edac" / "s2600kpr-sb_edac"):
        shutil.copytree(part, tree, symlinks=True, dirs_exist_ok=True)
    (tree / "sys/devices/system/edac/mc/mc0/dimm0/dimm_ue_count").write_text("2\n")
    return tree
