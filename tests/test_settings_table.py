"""The README's settings table is made from the modules' Settings declarations, and is current."""

from pathlib import Path

from click.testing import CliRunner

from burnin.cli import main
from burnin.registry import module_classes
from burnin.report.settings_table import current_in, replace_in, settings_table
from fake_modules import Healthy

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_settings_table_is_current():
    assert current_in(README.read_text()) == settings_table(module_classes()), \
        "README.md's settings table is stale: run scripts/update-settings-table"


def test_a_row_per_setting_with_default_unit_choices_and_help():
    table = settings_table({"healthy": Healthy})
    assert table.splitlines()[2:] == [
        "| `healthy` | `interval_s` | `0.2 s` | how often run() samples |",
        '| `healthy` | `level` | `"warn"` | severity of nothing at all; one of "warn", "fail" |',
    ]


def test_every_setting_of_every_module_is_a_row_of_the_cli_table():
    output = CliRunner().invoke(main, ["modules", "--settings-table"]).output
    for name, cls in module_classes().items():
        for spec in cls.setting_specs():
            assert f"| `{name}` | `{spec.name}` |" in output


def test_replacing_keeps_the_text_around_the_markers():
    text = README.read_text()
    assert replace_in(text, "| new |\n") != text
    assert current_in(replace_in(text, "| new |\n")) == "| new |\n"
    assert replace_in(text, current_in(text)) == text
