"""Typed module settings and the shared judge helpers."""

from dataclasses import dataclass

import pytest

from burnin import settings
from burnin.judge import Reported, counter_growth
from burnin.model import Judgement, Severity
from burnin.settings import setting


@dataclass(frozen=True)
class Example:
    interval_s: float = setting(1.0, "how often", unit="s")
    level: str = setting("warn", "severity", choices=("warn", "fail"))
    ports: tuple[str, ...] = setting((), "ports to test")
    pairs: tuple[tuple[str, str], ...] = setting((), "port pairs")
    count: int = setting(3, "retries")
    on: bool = setting(True, "enabled")


def test_a_profile_table_becomes_typed_settings():
    built = settings.build(Example, {"interval_s": 2, "ports": ["eth0"], "pairs": [["eth0", "eth1"]]})
    assert built == Example(interval_s=2.0, ports=("eth0",), pairs=(("eth0", "eth1"),))
    assert isinstance(built.interval_s, float)


@pytest.mark.parametrize("key,value,words", [
    ("interval_s", "fast", "wrong type"), ("interval_s", float("nan"), "wrong type"), ("count", 1.5, "wrong type"),
    ("count", True, "wrong type"), ("on", 1, "wrong type"), ("level", "loud", "must be one of"),
    ("ports", [1], "wrong type"), ("pairs", [["a"]], "wrong type"), ("nope", 1, "unknown setting"),
])
def test_values_that_do_not_fit_are_refused_with_the_key(key, value, words):
    with pytest.raises(settings.SettingError, match=words) as err:
        settings.build(Example, {key: value})
    assert err.value.key == key


def test_specs_describe_each_setting():
    spec = {s.name: s for s in settings.specs(Example)}
    assert spec["interval_s"].to_record() == {"name": "interval_s", "type": "number", "default": 1.0, "unit": "s",
                                              "choices": [], "help": "how often"}
    assert spec["level"].choices == ("warn", "fail")
    assert spec["pairs"].type_name == "list of list of string, string"


def test_counter_growth_handles_reset_wrap_and_missing_counters():
    assert counter_growth({"a": 1, "b": 5, "c": None}, {"a": 3, "b": 2, "c": 4, "d": 9}) == {"a": 2, "b": 2}
    assert counter_growth({"a": 250}, {"a": 4}, width_bits=8) == {"a": 10}
    assert counter_growth({"a": 1, "b": 1}, {"a": 2, "b": 2}, keys=["b"]) == {"b": 1}


def test_reported_once_unless_it_got_worse():
    reported = Reported()
    warn = Judgement(Severity.WARN, "disk:sda", "smart-pending", "m")
    assert reported.should_report(warn)
    assert not reported.should_report(warn)
    assert reported.should_report(warn.with_severity("fail"))
    assert not reported.should_report(warn)
    assert ("disk:sda", "smart-pending") in reported
