"""Health grading, schedules and the monitor's tracker: pure rules."""

from __future__ import annotations

import pytest

from fleet.config.playbook import AccessTimeHealth, CommandCheck, MemoryHealth
from fleet.config.units import parse_duration
from fleet.engine.watch import Tracker
from fleet.remote.health import Level, Reading, Sample, Schedule, grade

ACCESS = AccessTimeHealth(type="access_time", warn_ms=10, critical_ms=50)
MEMORY = MemoryHealth(type="memory", process="claude", warn_mb=15, critical_mb=50)


@pytest.mark.parametrize(("check", "words", "level", "value"), [
    (ACCESS, ["VALUE", "9000"], Level.OK, 9.0),
    (ACCESS, ["VALUE", "10000"], Level.OK, 10.0),
    (ACCESS, ["VALUE", "10001"], Level.WARN, 10.001),
    (ACCESS, ["VALUE", "50001"], Level.CRITICAL, 50.001),
    (ACCESS, ["UNSUPPORTED"], Level.CRITICAL, None),
    (MEMORY, ["VALUE", str(16 * 1024)], Level.WARN, 16.0),
    (MEMORY, ["VALUE", "0"], Level.OK, 0.0),
    (MEMORY, ["VALUE", str(51 * 1024)], Level.CRITICAL, 51.0),
    (CommandCheck(type="command", run="x"), ["EXIT", "0"], Level.OK, 0.0),
    (CommandCheck(type="command", run="x"), ["EXIT", "1"], Level.CRITICAL, 1.0),
])
def test_grade(check: object, words: list[str], level: Level, value: float | None) -> None:
    reading = grade(check, words)  # type: ignore[arg-type]
    assert reading.level is level
    assert reading.value == (pytest.approx(value) if value is not None else None)


@pytest.mark.parametrize(("text", "seconds"), [
    ("90", 90), ("30s", 30), ("5m", 300), ("1h30m", 5400), ("24h", 86400), ("0.5s", 0.5)])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "abc", "5x", "0s", "-1m"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|more than zero"):
        parse_duration(text)


def test_schedule_every_5_minutes_for_an_hour_then_hourly() -> None:
    schedule = Schedule.parse("5m for 1h, then 1h")
    assert schedule.interval_at(0) == 300
    assert schedule.interval_at(3599) == 300
    assert schedule.interval_at(3600) == 3600
    assert schedule.interval_at(10 * 86400) == 3600
    assert Schedule.parse("5s").interval_at(123) == 5


@pytest.mark.parametrize("text", ["5m for", "5m, 1h for 2h", "for 1h"])
def test_schedule_refuses(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the messages differ per mistake
        Schedule.parse(text)


def sample(host: str, level: Level, ts: float = 0.0) -> Sample:
    if level is Level.UNREACHABLE:
        return Sample(host, ts, (), error="no route")
    return Sample(host, ts, (Reading("access_time", level, 1.0, "1.0 ms"),))


def test_tracker_alerts_on_every_change_and_only_then() -> None:
    tracker = Tracker()
    assert tracker.update([sample("a", Level.OK), sample("b", Level.OK)]) == []
    alerts = tracker.update([sample("a", Level.WARN), sample("b", Level.OK)])
    assert [(x.host, x.before, x.after) for x in alerts] == [("a", Level.OK, Level.WARN)]
    assert tracker.update([sample("a", Level.WARN), sample("b", Level.OK)]) == []
    alerts = tracker.update([sample("a", Level.OK), sample("b", Level.UNREACHABLE)])
    assert [(x.host, x.after) for x in alerts] == [("a", Level.OK), ("b", Level.UNREACHABLE)]
    assert "no route" in alerts[1].why
    assert tracker.triggered is None


def test_tracker_triggers_after_grace_consecutive_samples() -> None:
    tracker = Tracker(rollback_on=Level.CRITICAL, grace=3)
    for level in (Level.CRITICAL, Level.CRITICAL, Level.WARN, Level.CRITICAL, Level.CRITICAL):
        tracker.update([sample("a", level)])
        assert tracker.triggered is None
    tracker.update([sample("a", Level.CRITICAL)])
    assert tracker.triggered == "a stayed critical for 3 samples"


def test_tracker_never_rolls_back_for_an_unreachable_host() -> None:
    tracker = Tracker(rollback_on=Level.WARN, grace=1)
    tracker.update([sample("a", Level.UNREACHABLE)])
    assert tracker.triggered is None
    tracker.update([sample("a", Level.WARN)])
    assert tracker.triggered == "a stayed warn for 1 samples"


def test_tracker_for_the_bake_triggers_on_an_unreachable_host_and_says_why() -> None:
    tracker = Tracker(rollback_on=Level.CRITICAL, grace=1, unreachable_triggers=True)
    tracker.update([sample("a", Level.WARN)])
    assert tracker.triggered is None
    tracker.update([sample("a", Level.UNREACHABLE)])
    assert tracker.triggered == "a stayed unreachable for 1 samples: no route"
