"""docs/writing-a-module.md is tested as written: its three files are extracted, the module's own tests run on
the captured data, and the module meets the contract's rules (codes in its docstring, settings that round-trip,
a probe that never raises), in at most 250 lines of code."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from burnin.host import Host
from burnin.model import Probe
from test_contracts import codes_in_source, toml_value

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "writing-a-module.md"
FILES = ("burnin/tools/gpu_burn.py", "burnin/modules/gpuburn.py", "tests/test_gpuburn.py")
# The doc's files live in burnin's package; extracted, they are top-level modules of a scratch directory.
IMPORTS = {"from burnin.tools import gpu_burn": "import gpu_burn",
           "from burnin.modules.gpuburn import": "from gpuburn import"}


def doc_files() -> dict[str, str]:
    blocks = re.findall(r"<!-- file: (\S+) -->\n```python\n(.*?)```", DOC.read_text(), re.S)
    return dict(blocks)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> Path:
    where = tmp_path_factory.mktemp("doc")
    for path, code in doc_files().items():
        for old, new in IMPORTS.items():
            code = code.replace(old, new)
        (where / Path(path).name).write_text(code)
    (where / "data").mkdir()
    (where / "data" / "gpuburn").symlink_to(ROOT / "tests" / "data" / "gpuburn")
    return where


def test_the_doc_holds_the_files_it_lists_and_the_code_fits_in_250_lines():
    files = doc_files()
    assert sorted(files) == sorted(FILES)
    lines = sum(len(files[f].splitlines()) for f in FILES[:2])
    assert lines <= 250
    assert f"It is {lines} lines" in DOC.read_text().replace("\n", " ")


def test_the_worked_modules_own_tests_pass_on_the_captured_data(extracted):
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                             str(extracted / "test_gpuburn.py")], cwd=extracted, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(extracted)}, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_the_worked_module_meets_the_contract(extracted, monkeypatch, tmp_path):
    from burnin import profile as profiles
    from test_contracts import CODE

    monkeypatch.syspath_prepend(str(extracted))
    import gpuburn

    cls = gpuburn.GpuBurnModule
    emitted = codes_in_source((extracted / "gpuburn.py").read_text())
    documented = {w for w in re.findall(r"`([^`\s]+)`", gpuburn.__doc__) if CODE.match(w)}
    assert emitted and emitted <= documented
    for root in (Path("/"), tmp_path):
        assert isinstance(cls(Host(root)).probe(), Probe)
    specs = cls.setting_specs()
    text = "[settings.gpuburn]\n" + "".join(f"{s.name} = {toml_value(s.default)}\n" for s in specs)
    (tmp_path / "p.toml").write_text(text)
    loaded = profiles.load(str(tmp_path / "p.toml"), {"gpuburn": specs})
    assert cls(Host("/"), loaded.settings_for("gpuburn")).settings == cls.Settings()
