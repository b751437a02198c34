"""Health watches read back (fleet/runlog/healthlog.py): samples per host, alerts, the
checks' levels, the monitor's rollback; logs from before the watch record."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleet.runlog.healthlog import (
    CheckLimits,
    health_markdown,
    is_health_log,
    read_health,
)

T = 1_800_000_000.0
WATCH = {"kind": "watch", "ts": T, "purpose": "monitor", "playbook": "agents",
         "release": "abc123", "hosts": ["a", "b"],
         "checks": [{"label": "access_time", "unit": "ms", "warn": 5.0, "critical": 50.0},
                    {"label": "command 'x'", "unit": None, "warn": None, "critical": None}],
         "rollback_on": "critical", "grace": 2}


def sample(ts: float, host: str, ms: float | None, level: str = "ok",
           error: str | None = None) -> dict[str, Any]:
    readings = [] if ms is None else [
        {"label": "access_time", "level": level, "value": ms, "message": f"{ms} ms"},
        {"label": "command 'x'", "level": "ok", "value": 0.0, "message": ""}]
    return {"kind": "sample", "host": host, "ts": T + ts,
            "level": level if error is None else "unreachable", "error": error,
            "readings": readings}


LOG = [json.dumps(r) for r in (
    WATCH, sample(0.1, "a", 3.0), sample(0.1, "b", 4.0),
    sample(1.1, "a", 60.0, "critical"), sample(1.1, "b", None, error="no route"),
    {"kind": "alert", "host": "a", "before": "ok", "after": "critical", "ts": T + 1.1,
     "why": "access_time 60 ms > 50"},
    {"kind": "rollback", "reason": "a stayed critical", "run_id": "r2", "outcome": "success",
     "started": T + 1.2, "ts": T + 2.0},
)]


def test_a_watch_reads_back_with_its_levels_samples_alerts_and_rollback() -> None:
    record = read_health(LOG, "agents-20261201T000000Z")
    assert (record.purpose, record.playbook, record.release) == ("monitor", "agents", "abc123")
    assert record.described
    assert record.checks[0] == CheckLimits("access_time", "ms", 5.0, 50.0)
    assert record.hosts == ["a", "b"]
    assert [(round(p.ts - T, 3), p.values["access_time"], p.levels["access_time"])
            for p in record.points["a"]] == [(0.1, 3.0, "ok"), (1.1, 60.0, "critical")]
    assert record.points["b"][1].error == "no route"
    assert record.points["b"][1].values == {}
    assert record.rounds == 2
    assert record.last_levels() == {"a": "critical", "b": "unreachable"}
    assert [(a.host, a.before, a.after) for a in record.alerts] == [("a", "ok", "critical")]
    assert record.rollback is not None
    assert (record.rollback.run_id, record.rollback.started, record.rollback.ts) == (
        "r2", T + 1.2, T + 2.0)
    assert (record.started, record.ended, record.outcome()) == (T, T + 2.0, "rolled_back")
    assert record.to_json()["checks"] == [
        {"label": "access_time", "unit": "ms", "warn": 5.0, "critical": 50.0},
        {"label": "command 'x'", "unit": None, "warn": None, "critical": None}]
    text = health_markdown(record)
    assert "- check access_time: warn above 5 ms, critical above 50 ms" in text
    assert "| 1.10 | a | ok | critical | access_time 60 ms > 50 |" in text


def test_a_log_from_before_the_watch_record_names_its_checks_from_the_readings() -> None:
    older = [*LOG[1:-1], json.dumps({"kind": "rollback", "reason": "a stayed critical",
                                     "run_id": "r2", "outcome": "success"})]
    record = read_health(older, "agents-20261201T000000Z")
    assert not record.described
    assert record.playbook == "agents"
    assert record.checks == [CheckLimits("access_time"), CheckLimits("command 'x'")]
    assert record.rollback is not None
    assert record.rollback.ts is None
    bake = read_health(older, "agents-bake-20261201T000000Z-abcdef")
    assert (bake.purpose, bake.playbook, bake.run_id) == ("bake", "agents",
                                                          "20261201T000000Z-abcdef")


@pytest.mark.parametrize("line", [
    "not json", "7", '{"kind": "sample", "host": "a"}',
    '{"kind": "sample", "host": "a", "ts": 1, "level": "ok", "readings": "x"}',
    '{"kind": "alert", "host": "a", "before": "ok", "after": "warn", "ts": -1, "why": ""}',
    '{"kind": "watch", "ts": 1, "checks": [{"label": 3}], "hosts": []}',
])
def test_a_damaged_line_is_skipped_and_counted(line: str) -> None:
    record = read_health([LOG[0], line, *LOG[1:]], "agents-x")
    assert record.skipped_lines == [2]
    assert record.to_json() | {"skipped_lines": []} == \
        read_health(LOG, "agents-x").to_json()


def test_a_health_log_is_told_from_a_run_log() -> None:
    assert is_health_log(["", "garbage", *LOG])
    assert not is_health_log(['{"ts": 1, "event": "RunStarted"}'])
    assert not is_health_log([])
