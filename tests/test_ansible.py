"""The Ansible role (scripts/ansible) run by the REAL ansible-playbook against this machine with the local
connection (marker `ansible`: a venv with ansible-core, see .ci/run): one host installs burnin from a wheel and
passes, one judges a captured tree with a stopped fan and fails naming the part; both journals land in
results/HOST/, and `burnin fleet results/` lists the failing host first."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fleet_captures import failing_capture

from burnin.cli import main

pytestmark = pytest.mark.ansible

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK = ROOT / "scripts" / "ansible" / "playbook.yml"
ANSIBLE = shutil.which("ansible-playbook", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                                   os.environ.get("PATH", "")]))


@pytest.mark.skipif(ANSIBLE is None, reason="ansible-playbook is not installed (pip install ansible-core)")
def test_the_playbook_runs_burnin_on_every_host_fetches_results_and_fails_the_failing_one(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
                   check=True, timeout=300)
    wheel = next(wheels.glob("burnin-*.whl"))
    results = tmp_path / "results"
    inventory = tmp_path / "inventory.ini"
    common = (f"ansible_connection=local ansible_python_interpreter={sys.executable} burnin_profile=ci "
              f"burnin_duration=2s burnin_remote_dir={tmp_path / 'remote'}")
    inventory.write_text(
        "[machines]\n"
        # a fresh host: burnin installed from the wheel into a venv
        f"good burnin_install=pip burnin_package={wheel} burnin_venv={tmp_path / 'venv'} "
        f"burnin_only='[\"inventory\", \"cpu\"]' {common}\n"
        # an installed system (or the netboot image): burnin already there; a captured tree with a dead fan
        f"bad burnin_install=none burnin_bin={Path(sys.executable).parent / 'burnin'} "
        f"burnin_sysroot={failing_capture(tmp_path)} {common}\n")
    done = subprocess.run([ANSIBLE, "-i", str(inventory), str(PLAYBOOK), "-e", f"burnin_results_dir={results}"],
                          capture_output=True, text=True, timeout=900,
                          env={**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "False", "ANSIBLE_NOCOLOR": "1",
                               "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
                               "ANSIBLE_REMOTE_TEMP": str(tmp_path / "ansible-remote-tmp")})
    output = done.stdout + done.stderr
    assert done.returncode == 2, output  # ansible-playbook: 2 = some host failed
    recap = output[output.index("PLAY RECAP"):]
    assert "good" in recap and "failed=0" in recap.split("good")[1].splitlines()[0], recap
    assert "failed=1" in recap.split("bad")[1].splitlines()[0], recap
    assert "burnin FAIL: failed: memory, thermal; dimm:CPU_SrcID#0_Ha#0_Chan#0_DIMM#0: DIMM" in output

    for host, verdict in (("good", ("PASS", "WARN")), ("bad", ("FAIL",))):
        own = results / host
        journal = next(own.glob(f"burnin-{host}-*Z.jsonl"))
        assert json.loads(journal.read_text().splitlines()[0])["type"] == "run_start"
        assert next(own.glob("*.html")).stat().st_size > 0 and next(own.glob("*.ocp.jsonl")).stat().st_size > 0
        assert json.loads(next(own.glob("*.json")).read_text())["verdict"] in verdict
    assert (tmp_path / "venv" / "bin" / "burnin").exists()  # the good host got burnin from the wheel

    page = CliRunner().invoke(main, ["fleet", str(results), "--json"])
    machines = json.loads(page.stdout)["machines"]
    assert [m["verdict"] for m in machines][0] == "FAIL" and "bad/" in machines[0]["journal"]
    assert len(machines) == 2
