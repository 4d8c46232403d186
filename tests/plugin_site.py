"""Install a module as a real third-party plugin: a distribution with an entry point, on a PYTHONPATH dir."""

import textwrap
from pathlib import Path


def install_plugin(site: Path, module_name: str, source: str, entry_points: dict[str, str]) -> Path:
    """Write `module_name.py` and a dist-info registering `entry_points` ({name: "mod:Class"}) in
    `burnin.modules`; return `site`, to be put on PYTHONPATH of a `burnin` subprocess."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module_name}.py").write_text(textwrap.dedent(source))
    info = site / f"{module_name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module_name.replace('_', '-')}\nVersion: 1.0\n")
    lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text("[burnin.modules]\n" + lines)
    return site
