"""A run log read as a timeline (fleet/runlog/timeline.py): spans, batches, halt, rollback,
and older or damaged logs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fleet.runlog.timeline import Span, read_timeline

T = 1_800_000_000.0


def log(*events: dict[str, Any]) -> list[str]:
    return [json.dumps(e) for e in events]


def started(ts: float, host: str, step: str) -> dict[str, Any]:
    return {"ts": T + ts, "event": "StepStarted", "host": host, "step": step}


def finished(ts: float, host: str, step: str, duration: float, ok: bool = True,
             error: str | None = None) -> dict[str, Any]:
    return {"ts": T + ts, "event": "StepFinished", "host": host, "step": step, "ok": ok,
            "duration": duration, "detail": None, "error": error}


RUN = log(
    {"ts": T, "event": "RunStarted", "run_id": "r", "command": "rollout", "playbook": "p",
     "release": "x", "hosts": ["a", "b", "c", "d"], "batches": [["a"], ["b", "c"], ["d"]]},
    {"ts": T, "event": "BatchStarted", "index": 0, "hosts": ["a"], "canary": True},
    started(0.0, "a", "connect"), finished(0.5, "a", "connect", 0.5),
    started(0.5, "a", "bake"), finished(2.5, "a", "bake", 2.0),
    {"ts": T + 2.5, "event": "BatchStarted", "index": 1, "hosts": ["b", "c"], "canary": False},
    started(2.5, "b", "connect"), started(2.5, "c", "connect"),
    finished(3.0, "b", "connect", 0.5, ok=False, error="no route"),
    {"ts": T + 3.1, "event": "Halted", "reason": "b failed: no route"},
    {"ts": T + 3.2, "event": "RollbackStarted", "hosts": ["a"]},
    started(3.2, "a", "rollback"), finished(3.6, "a", "rollback", 0.4),
    finished(3.7, "c", "connect", 1.2),
    {"ts": T + 3.8, "event": "RunFinished", "run_id": "r", "outcome": "rolled_back",
     "duration": 3.8, "rollback_duration": 0.4},
)


def test_every_step_is_a_span_from_its_start_to_its_end() -> None:
    tl = read_timeline(RUN)
    spans = tl.spans_of()
    assert [(s.step, round(s.start - T, 3), round(s.end - T, 3), s.ok) for s in spans["a"]] == [
        ("connect", 0.0, 0.5, True), ("bake", 0.5, 2.5, True), ("rollback", 3.2, 3.6, True)]
    assert spans["b"] == (Span("b", "connect", T + 2.5, T + 3.0, False, "no route"),)
    assert spans["d"] == ()
    assert (tl.start, tl.end, tl.finished) == (T, T + 3.8, True)


def test_batches_bake_halt_and_rollback_are_where_they_happened() -> None:
    tl = read_timeline(RUN)
    assert tl.groups == (("a",), ("b", "c"), ("d",))
    assert (tl.batched, tl.canary) == (3, True)
    assert [(b.index, b.canary, b.ts - T) for b in tl.batches] == [(0, True, 0.0),
                                                                  (1, False, 2.5)]
    assert tl.bake == (T + 0.5, T + 2.5)
    assert tl.halt is not None
    assert (round(tl.halt.ts - T, 3), tl.halt.reason) == (3.1, "b failed: no route")
    assert tl.rollback is not None
    assert (round(tl.rollback.ts - T, 3), tl.rollback.hosts) == (3.2, ("a",))


def test_a_step_without_its_start_event_starts_at_its_end_minus_its_duration() -> None:
    older = [line for line in RUN if '"StepStarted"' not in line]
    spans = read_timeline(older).spans_of()
    assert [(s.step, round(s.start - T, 3)) for s in spans["c"]] == [("connect", 2.5)]
    assert [(s.step, round(s.start - T, 3)) for s in spans["a"]] == [
        ("connect", 0.0), ("bake", 0.5), ("rollback", 3.2)]


def test_a_log_cut_short_leaves_open_steps_open_to_its_end() -> None:
    cut = RUN[:9]  # up to c's connect start, nothing finished after
    tl = read_timeline(cut)
    assert not tl.finished
    assert tl.end == T + 2.5
    open_spans = [s for s in tl.spans if s.ok is None]
    assert sorted((s.host, s.step) for s in open_spans) == [("b", "connect"), ("c", "connect")]


def test_hosts_in_no_batch_make_one_last_group() -> None:
    rollback = log({"ts": T, "event": "RunStarted", "run_id": "r", "command": "rollback",
                    "playbook": "p", "release": None, "hosts": ["x", "y"], "batches": []},
                   started(0.1, "y", "probe"), finished(0.2, "y", "probe", 0.1),
                   finished(0.3, "z", "rollback", 0.1))
    tl = read_timeline(rollback)
    assert tl.groups == (("x", "y", "z"),)
    assert (tl.batched, tl.canary, tl.batches, tl.halt) == (0, False, (), None)


@pytest.mark.parametrize("line", [
    "not json", "[1]", '{"event": "Halted", "reason": "no ts"}',
    '{"ts": "soon", "event": "Halted", "reason": "x"}',
    '{"ts": 1, "event": "StepFinished", "host": "a", "step": "s", "ok": "yes", "duration": 1}',
    '{"ts": 1, "event": "BatchStarted", "index": true, "hosts": [], "canary": false}',
    '{"ts": 1, "event": "RunStarted", "hosts": "a", "batches": []}',
])
def test_a_damaged_line_is_passed_over(line: str) -> None:
    tl = read_timeline([*RUN[:3], line, *RUN[3:]])
    assert tl == read_timeline(RUN)
