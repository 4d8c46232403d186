"""Profiles: built-ins load, `extends` merges, and bad input is one line naming file, line and key."""

import pytest
from click.testing import CliRunner

from burnin import profile as profiles
from burnin.cli import main
from burnin.errors import UsageError
from burnin.registry import module_classes
from fake_modules import Healthy

SPECS = {"healthy": Healthy.setting_specs(), "other": ()}


def load(path):
    return profiles.load(str(path), SPECS)


@pytest.mark.parametrize("text,seconds", [
    ("90s", 90), ("30m", 1800), ("1h30m", 5400), ("24h", 86400), ("1.5h", 5400), ("2d", 172800),
    ("500ms", 0.5), (45, 45), (2.5, 2.5), ("1h 30m", 5400),
])
def test_durations_parse(text, seconds):
    assert profiles.parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["3 parsecs", "", "m", "-5m", "1x", True, -1])
def test_bad_durations_are_refused(bad):
    with pytest.raises(ValueError):
        profiles.parse_duration(bad)


def test_every_builtin_profile_loads_against_the_registered_modules():
    classes = module_classes()
    specs = {n: c.setting_specs() for n, c in classes.items()}
    names = profiles.builtin_names()
    assert {"quick", "seller", "soak", "ci"} <= set(names)
    loaded = {n: profiles.load(n, specs) for n in names}
    assert loaded["seller"].duration_s == 1800 and not loaded["seller"].disk_writes
    assert loaded["soak"].duration_s == 86400
    assert loaded["ci"].duration_s <= 120 and loaded["ci"].plain
    assert loaded["quick"].duration_s == 180


def test_extends_merges_tables_and_overrides_keys(tmp_path):
    (tmp_path / "base.toml").write_text(
        'duration = "30m"\nrequired = ["healthy"]\n[settings.healthy]\ninterval_s = 2.0\nlevel = "warn"\n')
    (tmp_path / "mine.toml").write_text('extends = "base.toml"\nduration = "2h"\n[settings.healthy]\nlevel = "fail"\n')
    loaded = load(tmp_path / "mine.toml")
    assert loaded.duration_s == 7200
    assert loaded.required == ("healthy",)
    assert loaded.module_settings["healthy"] == {"interval_s": 2.0, "level": "fail"}


def test_extends_a_builtin_profile_by_name(tmp_path):
    classes = module_classes()
    path = tmp_path / "mine.toml"
    path.write_text('extends = "seller"\nduration = "45m"\n')
    loaded = profiles.load(str(path), {n: c.setting_specs() for n, c in classes.items()})
    assert loaded.duration_s == 2700 and loaded.disk_writes is False


@pytest.mark.parametrize("text,line,key,words", [
    ('duration = "3 parsecs"\n', 1, "duration", "bad duration"),
    ('name = "x"\n\nbogus = 1\n', 3, "bogus", "unknown key"),
    ('duration = true\n', 1, "duration", "wrong type"),
    ('name = "x"\n[settings.healthy]\ninterval_s = "fast"\n', 3, "settings.healthy.interval_s", "wrong type"),
    ('[settings.healthy]\nlevel = "loud"\n', 2, "settings.healthy.level", "must be one of"),
    ('[settings.healthy]\nnope = 1\n', 2, "settings.healthy.nope", "unknown setting"),
    ('[settings.nosuch]\nx = 1\n', 1, "settings.nosuch", "unknown module"),
    ('modules = ["healthy", "ghost"]\n', 1, "modules", "unknown module 'ghost'"),
    ('duration = "30m"\nname = [\n', 2, None, "not valid TOML"),
    ('duration = "30m"\nname = = 3\nx = 1\n', 2, None, "not valid TOML"),
    # found by the fuzz suite: a name longer than any file system takes raised ENAMETOOLONG
    ('extends = "' + "9" * 400 + '"\n', 1, "extends", "no such built-in profile or file"),
])
def test_malformed_profile_names_file_line_and_key(tmp_path, text, line, key, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError) as info:
        load(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}: ")
    if key:
        assert f": {key}: " in message
    assert words in message


def test_extends_loop_is_refused(tmp_path):
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(UsageError, match="loop"):
        load(tmp_path / "a.toml")


def test_cli_malformed_profile_exits_2_with_one_line_and_no_traceback(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "mine"\nduration = "3 parsecs"\n')
    result = CliRunner().invoke(main, ["run", "--profile", str(path), "--journal", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert f"{path}:2: duration: bad duration '3 parsecs'" in result.stderr
    assert "Traceback" not in result.output
    assert not list(tmp_path.glob("*.jsonl"))  # nothing started


def test_cli_unknown_profile_name_is_a_usage_error():
    result = CliRunner().invoke(main, ["check", "--profile", "sellr"])
    assert result.exit_code == 2
    assert "unknown profile 'sellr'" in result.stderr
