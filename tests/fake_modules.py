"""Module classes with known behaviour, to test the runner and the CLI (not shipped)."""

import os
import signal
import subprocess
import time

from dataclasses import dataclass

from burnin.model import Probe
from burnin.module import Module, Skip
from burnin.settings import setting


@dataclass(frozen=True)
class HealthySettings:
    interval_s: float = setting(0.2, "how often run() samples", unit="s")
    level: str = setting("warn", "severity of nothing at all", choices=("warn", "fail"))


@dataclass(frozen=True)
class PidfileSettings:
    pidfile: str = setting("", "where the module writes its pid and its child's")


class Healthy(Module):
    name = "healthy"
    summary = "always fine"
    Settings = HealthySettings

    def check(self, ctx):
        ctx.info("fake:1", "seen", "the fake device is present")

    def run(self, ctx):
        while not ctx.wait(self.settings.interval_s):
            ctx.sample({"value": 1.0})


class Raises(Module):
    name = "raises"
    summary = "raises in run()"

    def run(self, ctx):
        raise RuntimeError("sensor bus exploded")


class Hangs(Module):
    name = "hangs"
    summary = "ignores its deadline"

    def run(self, ctx):
        time.sleep(3600)


class Dies(Module):
    name = "dies"
    summary = "its process is killed by a signal"

    def run(self, ctx):
        os.kill(os.getpid(), signal.SIGKILL)


class Fails(Module):
    name = "fails"
    summary = "finds a fault in preflight"

    def check(self, ctx):
        ctx.fail("dimm:P1-DIMMA1", "dimm-missing", "DIMM P1-DIMMA1 is not detected", {"slot": "P1-DIMMA1"})


class Unavailable(Module):
    name = "unavailable"
    summary = "cannot run here"

    def probe(self):
        return Probe.unavailable("no such hardware on this host")

    def check(self, ctx):  # never called
        raise AssertionError("check() of an unavailable module was called")


class Skips(Module):
    name = "skips"
    summary = "finds nothing to test"

    def check(self, ctx):
        raise Skip("no sensors")


class StressWithChild(Module):
    """A stress module that starts an external tool and a worker, to prove neither outlives the run."""

    name = "stresschild"
    summary = "starts `sleep` and loops"
    stress = True
    Settings = PidfileSettings

    def run(self, ctx):
        child = ctx.host.spawn(["sleep", "600"])
        if self.settings.pidfile:
            with open(self.settings.pidfile, "w") as f:
                f.write(f"{os.getpid()} {child.pid}\n")
        ctx.warn("fake:stress", "started", "stress tool started", {"pid": child.pid})
        while not ctx.wait(0.2):
            ctx.sample({"busy": 1.0})
        child.terminate()
        child.wait()
