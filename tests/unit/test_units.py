"""fleet.config.units: one grammar of durations and percentages for playbook and CLI."""

from __future__ import annotations

import pytest

from fleet.config.playbook import Strategy
from fleet.config.units import parse_duration, parse_percent

SAME = ["90", "30s", "5m", "1.5h", "1h30m", "2m30s", "0.5s", "24h"]


@pytest.mark.parametrize("text", SAME)
def test_playbook_and_command_line_read_durations_alike(text: str) -> None:
    assert Strategy.model_validate({"bake": text}).bake == parse_duration(text)


@pytest.mark.parametrize(("text", "seconds"), [
    ("90", 90.0), ("1.5h", 5400.0), ("1h30m", 5400.0), ("2m30s", 150.0), ("0.5s", 0.5)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["0", "0s", "0m0s"])
def test_zero_is_refused_unless_it_means_something(text: str) -> None:
    with pytest.raises(ValueError, match="more than zero"):
        parse_duration(text)
    assert parse_duration(text, zero_ok=True) == 0.0


@pytest.mark.parametrize("text", ["0", "0s"])
def test_bake_zero_is_explicitly_no_bake(text: str) -> None:
    assert Strategy.model_validate({"bake": text}).bake == 0.0


@pytest.mark.parametrize("text", ["", "abc", "5x", "-1m", "5 minutes", "1m1h"])
def test_not_durations(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text, zero_ok=True)


@pytest.mark.parametrize(("text", "value"), [("0%", 0), ("25%", 25), ("100%", 100)])
def test_percentages(text: str, value: int) -> None:
    assert parse_percent(text) == value


@pytest.mark.parametrize("text", ["10", "10.5%", "101%", "%", "-1%"])
def test_not_percentages(text: str) -> None:
    with pytest.raises(ValueError, match="expected a percentage"):
        parse_percent(text)
