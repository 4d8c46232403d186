"""A real `burnin run` in a subprocess, killed with SIGKILL mid-run: the journal keeps what was found,
`burnin report` says the run ended unexpectedly (exit 3), and no stress load is left running.

The module under test is a third-party plugin installed the way any plugin is: a distribution on
sys.path with an entry point in the `burnin.modules` group.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from burnin.testing import wait_for
from plugin_site import install_plugin

PLUGIN = '''
    import os
    from dataclasses import dataclass
    from burnin.module import Module
    from burnin.settings import setting

    @dataclass(frozen=True)
    class LoaderSettings:
        pidfile: str = setting("", "where the pids go")

    class Loader(Module):
        name = "loader"
        summary = "starts a tool and a worker process, then loads"
        stress = True
        Settings = LoaderSettings

        def run(self, ctx):
            import multiprocessing
            from burnin.host import die_with_parent

            tool = ctx.host.spawn(["sleep", "600"])
            worker = multiprocessing.get_context("fork").Process(target=_spin)
            worker.start()
            ctx.warn("fan:ipmi/FAN3", "fan-slow", "FAN3 spins slower than its neighbours", {"rpm": 2400})
            with open(self.settings.pidfile, "w") as f:
                f.write(f"{os.getpid()} {tool.pid} {worker.pid}")
            while not ctx.wait(0.2):
                ctx.sample({"busy": 1.0})

    def _spin():
        from burnin.host import die_with_parent
        die_with_parent()
        while True:
            pass
'''


def test_sigkilled_run_leaves_a_readable_journal_and_no_load_behind(tmp_path):
    plugin_dir = install_plugin(tmp_path / "site", "loader_plugin", PLUGIN, {"loader": "loader_plugin:Loader"})
    pidfile = tmp_path / "pids"
    profile = tmp_path / "p.toml"
    profile.write_text(f'duration = "10m"\nmodules = ["loader"]\n[settings.loader]\npidfile = "{pidfile}"\n')
    journal = tmp_path / "run.jsonl"
    env = dict(os.environ, PYTHONPATH=str(plugin_dir))
    agent = subprocess.Popen([sys.executable, "-m", "burnin", "run", "--profile", str(profile),
                              "--journal", str(journal), "--plain"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: pidfile.exists() and pidfile.read_text().count(" ") == 2 or agent.poll() is not None,
                 timeout=30, what="the run starting its load")
        assert agent.poll() is None, "the run ended before its load started: " + agent.stderr.read().decode()
        # The finding the module made before it wrote its pids must be in the journal before the kill.
        wait_for(lambda: journal.exists() and '"fan-slow"' in journal.read_text(), timeout=10,
                 what="the module's finding reaching the journal")
        pids = [int(p) for p in pidfile.read_text().split()]
        assert all(psutil.pid_exists(p) for p in pids)
        agent.send_signal(signal.SIGKILL)
        agent.wait(timeout=5)
    finally:
        if agent.poll() is None:
            agent.kill()

    def alive():
        return [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]

    wait_for(lambda: not alive(), timeout=5, what="every process of the killed agent ending")

    report = subprocess.run([sys.executable, "-m", "burnin", "report", str(journal), "--json"],
                            env=env, capture_output=True, text=True)
    assert report.returncode == 3, report.stderr
    summary = json.loads(report.stdout)
    assert summary["verdict"] == "INCOMPLETE"
    assert summary["ended_unexpectedly"] is True
    assert summary["modules"] == {"loader": "INCOMPLETE"}
    assert [f["component"] for f in summary["findings"]] == ["fan:ipmi/FAN3"]

    human = subprocess.run([sys.executable, "-m", "burnin", "report", str(journal)],
                           env=env, capture_output=True, text=True)
    assert human.returncode == 3
    assert "INCOMPLETE" in human.stdout and "ended unexpectedly" in human.stdout
    assert "FAN3 spins slower" in human.stdout
