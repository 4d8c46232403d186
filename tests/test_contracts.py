"""The contract every registered module meets, checked over all of them (psutil's test_contracts.py is the model),
a third-party module installed in the test included:

- it loads, and has a name (the one it is registered as) and a one-line summary;
- `probe()` never raises and answers fast, on this host, on every captured tree in tests/data and on an empty one;
- `run()` returns by its deadline, and soon after the run is cancelled (where it can run: here, or on a captured
  tree for modules that do not stress the machine);
- every finding code it can emit (found in its source: string literals passed as the code of `ctx.finding`,
  `ctx.fail/warn/info`, `Judgement(...)`, `Finding(...)`, a `code=` keyword or a `code = "..."` assignment) is
  named, in backticks, in its docstring;
- its settings round-trip through a profile: `[settings.NAME]` written from the defaults loads back equal.
"""

from __future__ import annotations

import ast
import atexit
import importlib
import inspect
import json
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from burnin import profile as profiles
from burnin import settings as settings_mod
from burnin.host import Host
from burnin.model import Probe
from burnin.module import Module, Skip
from burnin.registry import discover
from burnin.testing import RecordingContext
from plugin_site import install_plugin

DATA = Path(__file__).parent / "data"
PROBE_LIMIT_S = 3.0  # "fast": the runner probes every module before a run, and `burnin modules` does too
DEADLINE_S = 1.0
STOP_GRACE_S = 8.0  # a run() may take this long past its deadline or a cancel to stop its loads
CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)+$")

# A third-party module, shipped the way a plugin would be: its own distribution with a `burnin.modules` entry point.
THIRD_PARTY = "fanwall"
PLUGIN_SOURCE = '''
    """Fan wall: the chassis fans of a storage server, read from hwmon, against a minimum speed.

    | code | severity | when |
    |---|---|---|
    | `fanwall-slow` | FAIL (setting `slow`) | a fan below `min_rpm` |
    | `fanwall-none` | WARN | no fan to read |
    """

    from dataclasses import dataclass

    from burnin.model import Judgement, Probe, Severity
    from burnin.module import Module, Skip
    from burnin.settings import setting


    @dataclass(frozen=True)
    class FanWallSettings:
        min_rpm: int = setting(1500, "slowest acceptable fan", unit="RPM")
        slow: str = setting("fail", "severity of a slow fan", choices=("warn", "fail"))
        interval_s: float = setting(0.2, "how often fans are read", unit="s")
        fans: tuple[str, ...] = setting(("fan1", "fan2"), "fan inputs to read")


    def fan_inputs(host):
        return [f for chip in host.glob("/sys/class/hwmon", "hwmon*") for f in host.glob(chip, "fan*_input")]


    class FanWall(Module):
        name = "fanwall"
        summary = "chassis fans of a storage server against a minimum speed"
        Settings = FanWallSettings

        def probe(self):
            return Probe.ok() if fan_inputs(self.host) else Probe.unavailable("no fan inputs in /sys/class/hwmon")

        def check(self, ctx):
            if not fan_inputs(self.host):
                ctx.warn("fanwall", "fanwall-none", "No fan to read.")

        def run(self, ctx):
            while not ctx.wait(self.settings.interval_s):
                for path in fan_inputs(self.host):
                    rpm = self.host.read_int(path)
                    if rpm is not None and rpm < self.settings.min_rpm:
                        ctx.report(Judgement(Severity(self.settings.slow), f"fan:{path}", "fanwall-slow",
                                             f"{path} runs at {rpm} RPM.", {"rpm": rpm}))
'''


def _registered_names() -> list[str]:
    return [entry.name for entry in discover()] + [THIRD_PARTY]


@pytest.fixture(params=_registered_names())
def module_class(request, tmp_path, monkeypatch) -> type[Module]:
    """Each registered module's class, found through the registry as burnin finds it."""
    if request.param == THIRD_PARTY:
        site = install_plugin(tmp_path / "site", "burnin_fanwall", PLUGIN_SOURCE,
                              {THIRD_PARTY: "burnin_fanwall:FanWall"})
        monkeypatch.syspath_prepend(str(site))
        importlib.invalidate_caches()
        request.addfinalizer(lambda: sys.modules.pop("burnin_fanwall", None))
    entries = {entry.name: entry for entry in discover()}
    entry = entries[request.param]
    assert entry.cls is not None, entry.error
    return entry.cls


_REPLAY: list[Path] = []


def captured_trees() -> list[Path]:
    """Every captured machine tree under tests/data (a directory holding `sys/`), and a capture whose recorded
    ipmitool outputs (the QEMU rig's BMC, as test_bmc replays it) answer as `burnin capture` records them."""
    if not _REPLAY:
        from test_bmc import qemu_outputs, replayed

        root = Path(tempfile.mkdtemp(prefix="burnin-contract-bmc-"))
        atexit.register(shutil.rmtree, root, True)
        replayed(root, qemu_outputs())
        _REPLAY.append(root)
    return sorted(p.parent for p in DATA.glob("**/sys") if p.is_dir() and "variants" not in p.parts) + _REPLAY


# -- name and summary ---------------------------------------------------------------------------------------
def test_every_registered_module_loads():
    broken = {entry.name: entry.error for entry in discover() if entry.cls is None}
    assert broken == {}


def test_name_summary_and_docstring(module_class):
    assert re.match(r"^[a-z][a-z0-9-]*$", module_class.name)
    summary = module_class.summary
    assert summary and summary.strip() == summary and "\n" not in summary
    assert all(isinstance(n, str) and n for n in module_class.needs)
    assert isinstance(module_class.stress, bool)
    assert module_docstring(module_class).strip(), "the docstring says what the module checks and what FAILs"


# -- probe ----------------------------------------------------------------------------------------------
def test_probe_never_raises_and_answers_fast(module_class, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for root in (Path("/"), *captured_trees(), empty):
        start = time.monotonic()
        probe = module_class(Host(root)).probe()
        elapsed = time.monotonic() - start
        assert isinstance(probe, Probe), root
        assert probe.available or probe.reason, f"{root}: unavailable without a reason"
        assert elapsed < PROBE_LIMIT_S, f"{root}: probe() took {elapsed:.2f} s"


# -- run: deadline and cancellation -----------------------------------------------------------------------
def runnable_host(cls: type[Module]) -> Host | None:
    """This host when the module can run here (and changes nothing on it); else, for a module that does not stress
    the machine, the first captured tree it can run on; None when there is none."""
    # A module that changes the machine (it has a `recover()`: the network module moves cabled ports into
    # namespaces) runs here only in its own tests, which build what it changes (veth pairs in namespaces).
    changes_machine = cls.recover is not Module.recover
    if not changes_machine and cls(Host("/")).probe().available:
        return Host("/")
    if cls.stress:
        return None
    for root in captured_trees():
        if cls(Host(root)).probe().available:
            return Host(root)
    return None


def prepared(cls: type[Module]):
    """A module instance after its check phase, as the runner hands it to run(); pytest.skip when it cannot run."""
    if not cls.implements("run"):
        pytest.skip(f"{cls.name} has no run phase")
    host = runnable_host(cls)
    if host is None:
        pytest.skip(f"{cls.name} cannot run here or on a captured tree")
    module = cls(host)
    module.contract_inventory = inventory_of(host)
    if cls.implements("check"):
        try:
            module.check(RecordingContext(cls.name, host, phase="check", seconds=60.0,
                                          inventory=module.contract_inventory))
        except Skip:
            pass  # the runner goes on to run() after a check that could not test: so does the contract
    return module


_INVENTORIES: dict[str, object] = {}


def inventory_of(host: Host):
    """What the runner hands every module (collected once per tree)."""
    from burnin.inventory import collect

    key = str(host.root)
    if key not in _INVENTORIES:
        _INVENTORIES[key] = collect(host)
    return _INVENTORIES[key]


def run_in_thread(module: Module, ctx: RecordingContext) -> threading.Thread:
    def body():
        try:
            module.run(ctx)
        except Exception:  # noqa: BLE001 - Skip or ERROR: the runner reports it; here only the timing counts
            pass

    thread = threading.Thread(target=body, name=f"contract-{module.name}", daemon=True)
    thread.start()
    return thread


def test_run_returns_by_its_deadline(module_class):
    module = prepared(module_class)
    ctx = RecordingContext(module.name, module.host, phase="run", seconds=DEADLINE_S,
                           inventory=module.contract_inventory)
    start = time.monotonic()
    thread = run_in_thread(module, ctx)
    thread.join(DEADLINE_S + STOP_GRACE_S)
    elapsed = time.monotonic() - start
    try:
        # Returning, Skip or an exception (an ERROR: "nothing was verified in so short a run") all honour the
        # deadline; only still running does not.
        assert not thread.is_alive(), f"run() still running {elapsed:.1f} s after a {DEADLINE_S} s deadline"
    finally:
        module.recover()


def test_run_stops_soon_after_cancellation(module_class):
    module = prepared(module_class)
    cancel = threading.Event()
    ctx = RecordingContext(module.name, module.host, phase="run", seconds=120.0, cancel=cancel,
                           inventory=module.contract_inventory)
    thread = run_in_thread(module, ctx)
    thread.join(0.5)  # let it get going (a module that is done sooner is done)
    cancelled = time.monotonic()
    cancel.set()
    thread.join(STOP_GRACE_S)
    try:
        assert not thread.is_alive(), f"run() still running {time.monotonic() - cancelled:.1f} s after cancel"
    finally:
        module.recover()


# -- finding codes are documented --------------------------------------------------------------------------
def module_docstring(cls: type[Module]) -> str:
    return "\n".join(filter(None, (inspect.getmodule(cls).__doc__, cls.__doc__)))


def documented_codes(cls: type[Module]) -> set[str]:
    return {word for word in re.findall(r"`([^`\s]+)`", module_docstring(cls)) if CODE.match(word)}


def source_files(cls: type[Module]) -> list[Path]:
    """The module's own file, and the files of its package it imports; for a module that is a package (split by
    capability), every file in it. Another registered module's file is that module's: reusing its judges (the
    history module reads the BMC's SEL with the bmc module's) does not make its codes this one's."""
    own = Path(inspect.getsourcefile(cls))
    if own.name == "__init__.py":
        return sorted(own.parent.rglob("*.py"))
    package = inspect.getmodule(cls).__name__.rpartition(".")[0]
    others = {Path(inspect.getsourcefile(e.cls)) for e in discover() if e.cls is not None and e.cls is not cls}
    files = [own]
    for node in ast.walk(ast.parse(own.read_text())):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if package and name.startswith(package + ".") and name in sys.modules:
                path = getattr(sys.modules[name], "__file__", None)
                if path and Path(path) not in files and Path(path) not in others:
                    files.append(Path(path))
    return files


# Where the code is among a call's positional arguments, by the called name.
CODE_POSITION = {"finding": 2, "_finding": 2, "Judgement": 2, "fail": 1, "warn": 1, "info": 1, "Finding": 3}


def codes_in_source(text: str) -> set[str]:
    """Finding codes a source can emit: string literals in the code position of the calls that make findings."""
    found: set[str] = set()

    def literals(node) -> list[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.IfExp):
            return literals(node.body) + literals(node.orelse)
        return []

    tree = ast.parse(text)
    positions = dict(CODE_POSITION)
    # The module's own helpers that take a `code` argument (e.g. `_f(severity, component, code, ...)`).
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            params = [a.arg for a in node.args.posonlyargs + node.args.args]
            if "code" in params:
                positions.setdefault(node.name, params.index("code") - (params[:1] in (["self"], ["cls"])))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            position = positions.get(name)
            if position is not None and len(node.args) > position:
                found.update(literals(node.args[position]))
            for keyword in node.keywords:
                if keyword.arg == "code":
                    found.update(literals(keyword.value))
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "code" for t in node.targets):
            found.update(literals(node.value))
    return {code for code in found if CODE.match(code)}


def test_the_scanner_finds_codes_in_each_way_a_module_emits_them():
    source = '''
ctx.finding(Severity.FAIL, comp, "a-finding", "m")
ctx.fail(comp, "a-fail", "m")
ctx.warn(comp, code="a-keyword", message="m")
Judgement(sev, comp, "a-judgement" if x else "b-judgement", "m")
Finding("mod", sev, comp, "a-record", "m")
def _f(severity, component, code, message): ...
_f(sev, comp, "a-helper", "m")
code = "an-assigned-code"
ctx.note("not-a-code", x=1)
ctx.info(comp, "Not A Code", "m")
'''
    assert codes_in_source(source) == {"a-finding", "a-fail", "a-keyword", "a-judgement", "b-judgement", "a-record",
                                       "a-helper", "an-assigned-code"}


def test_every_finding_code_is_named_in_the_docstring(module_class):
    emitted = set().union(*(codes_in_source(path.read_text()) for path in source_files(module_class)))
    if module_class.name != THIRD_PARTY:
        assert emitted, "no finding code found in the source: the scanner no longer sees how it emits findings"
    missing = sorted(emitted - documented_codes(module_class))
    assert missing == [], f"codes emitted but not named in {module_class.name}'s docstring: {missing}"


# -- settings through a profile ------------------------------------------------------------------------------
def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return json.dumps(value)  # a JSON string or number is a TOML basic string or number
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def test_settings_round_trip_through_a_profile(module_class, tmp_path, monkeypatch):
    specs = module_class.setting_specs()
    written = {s.name: s.default for s in specs if s.default is not None and not isinstance(s.default, dict)}
    lines = ['name = "contract"', 'duration = "1m"', "", f"[settings.{module_class.name}]"]
    lines += [f"{name} = {toml_value(value)}" for name, value in written.items()]
    path = tmp_path / "contract.toml"
    path.write_text("\n".join(lines) + "\n")
    loaded = profiles.load(str(path), {module_class.name: specs})
    assert loaded.settings_for(module_class.name) == {k: v for k, v in written.items()}
    module = module_class(Host(tmp_path), loaded.settings_for(module_class.name))
    assert module.settings == module_class.Settings()
    assert settings_mod.as_dict(module.settings) == {s.name: s.default for s in specs}
    for spec in specs:
        if spec.choices:
            assert spec.default in spec.choices, spec.name
