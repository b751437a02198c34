"""The canary bake (``strategy.bake``) on the container fleet: after the canary
passes its checks, ``fleet rollout`` watches its health for the bake time; a
canary that turns critical halts the run and is rolled back before any later
batch is contacted. The canary is made memory-heavy on purpose
(``health_support``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from faults import FAST_TIMEOUTS, Controller, disconnect, log_records, restored
from health_support import CRITICAL_EXTRA_MB, HEALTH, WARN_MB, levels_of, memory_hog
from invariant import assert_invariant, release_of, take_snapshot
from rollout_support import (
    EXAMPLE_PLAYBOOK,
    INV,
    connection_counts,
    connection_deltas,
    statuses,
    write_playbook,
)
from testfleet_helpers import HOSTS, run_fleet_json

CANARY = HOSTS[0]


def _bake_playbook(tmp_path: Path, bake: str, **overrides: Any) -> Path:
    """The example playbook with HEALTH and ``strategy.bake`` (and ``overrides``)."""
    strategy = {**yaml.safe_load(EXAMPLE_PLAYBOOK.read_text())["strategy"], "bake": bake}
    return write_playbook(tmp_path, health=HEALTH, strategy=strategy, **overrides)


def _bake_log(cwd: Path) -> list[dict[str, Any]]:
    """The records of the one bake sample log a controller in ``cwd`` wrote."""
    logs = sorted((cwd / ".fleet" / "monitor").glob("*-bake-*.jsonl"))
    assert len(logs) == 1, logs
    return log_records(logs[0])


def test_a_canary_turning_critical_during_the_bake_halts_and_is_rolled_back(
        tmp_path: Path) -> None:
    # long enough for the hog to start inside it on a loaded machine; the run
    # ends at the first critical sample, not at the end of the bake
    playbook = _bake_playbook(tmp_path, "30s")
    seeded = take_snapshot(label="seeded")
    logins = connection_counts()
    ctl = Controller(tmp_path / "ctl", "rollout", str(playbook), *INV)
    ctl.wait_event(event="StepStarted", host=CANARY, step="bake", timeout=60)

    with memory_hog(CANARY, WARN_MB + CRITICAL_EXTRA_MB):
        code, data, err = ctl.finish(timeout=120)

    assert code == 1, err  # halted, every touched host rolled back cleanly
    assert data is not None
    assert data["outcome"] == "rolled_back"
    assert "bake" in data["halt_reason"]
    assert f"{CANARY} stayed critical" in data["halt_reason"]
    assert statuses(data) == {CANARY: "rolled_back", **dict.fromkeys(HOSTS[1:], "skipped")}
    # the canary's whole target (and fleet's records) as seeded; the rest untouched
    assert set(assert_invariant(seeded).values()) == {"before"}
    deltas = connection_deltas(logins)
    assert deltas[CANARY] >= 1
    assert {h: deltas[h] for h in HOSTS[1:]} == dict.fromkeys(HOSTS[1:], 0)
    events = ctl.events()
    assert [e["index"] for e in events if e["event"] == "BatchStarted"] == [0]
    bake = [e for e in events if e["event"] == "StepFinished" and e["step"] == "bake"]
    assert [(e["host"], e["ok"], e["detail"]) for e in bake] \
        == [(CANARY, False, "health critical")]
    levels = levels_of(_bake_log(ctl.cwd), CANARY)
    assert levels[-1] == "critical", levels
    # halted at the first critical sample (grace 1); a sample taken while the hog
    # was still filling its memory may read warn on the way up
    assert "critical" not in levels[:-1], levels
    assert data["rollback_duration_s"] > 0


def test_a_canary_cut_off_during_the_bake_halts_the_rollout(tmp_path: Path) -> None:
    # A canary that cannot be read is no healthier than a critical one: the
    # batches must not go. Its own rollback cannot reach it either (exit 3,
    # named for a person); once it is back, fleet rollback finishes the job.
    playbook = _bake_playbook(tmp_path, "30s", timeouts=FAST_TIMEOUTS)
    seeded = take_snapshot(label="seeded")
    logins = connection_counts()
    with restored(CANARY):
        ctl = Controller(tmp_path / "ctl", "rollout", str(playbook), *INV)
        ctl.wait_event(event="StepStarted", host=CANARY, step="bake", timeout=60)
        disconnect(CANARY)
        code, data, err = ctl.finish(timeout=120)

    assert code == 3, err
    assert data is not None
    assert data["outcome"] == "rollback_incomplete"
    assert f"{CANARY} stayed unreachable" in data["halt_reason"]
    assert statuses(data) == {CANARY: "rollback_failed", **dict.fromkeys(HOSTS[1:], "skipped")}
    deltas = connection_deltas(logins)
    assert {h: deltas[h] for h in HOSTS[1:]} == dict.fromkeys(HOSTS[1:], 0)
    bake = [e for e in ctl.events() if e["event"] == "StepFinished" and e["step"] == "bake"]
    assert [(e["host"], e["ok"], e["detail"]) for e in bake] \
        == [(CANARY, False, "health unreachable")]

    proc, back = run_fleet_json("rollback", str(playbook), *INV, "--limit", CANARY)

    assert proc.returncode == 0, proc.stderr
    assert statuses(back) == {CANARY: "rolled_back"}
    assert set(assert_invariant(seeded).values()) == {"before"}


def test_a_healthy_bake_lets_the_batches_go(tmp_path: Path) -> None:
    playbook = _bake_playbook(tmp_path, "3s")
    seeded = take_snapshot(label="seeded")
    ctl = Controller(tmp_path / "ctl", "rollout", str(playbook), *INV)

    code, data, err = ctl.finish(timeout=180)

    assert code == 0, err
    assert data is not None
    assert data["outcome"] == "success"
    assert statuses(data) == dict.fromkeys(HOSTS, "deployed")
    release = release_of(playbook)
    assert assert_invariant(seeded, release) == dict.fromkeys(HOSTS, release.id)
    events = ctl.events()
    bake = [i for i, e in enumerate(events) if e["event"] == "StepFinished"
            and e["step"] == "bake"]
    assert len(bake) == 1
    finished = events[bake[0]]
    assert (finished["host"], finished["ok"], finished["detail"]) == (CANARY, True, "health ok")
    assert finished["duration"] >= 3.0
    batches = [i for i, e in enumerate(events) if e["event"] == "BatchStarted"
               and e["index"] > 0]
    assert batches
    assert min(batches) > bake[0]  # no later batch started before the bake ended
    levels = levels_of(_bake_log(ctl.cwd), CANARY)
    assert len(levels) >= 2
    assert set(levels) == {"ok"}
