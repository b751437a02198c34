"""``--scheduler`` on every command: ``fleet rollout``, ``rollback``, ``recover`` and
``status`` run each host's work on a real Dask worker of its zone and answer
exactly as the embedded default does; the canary bake samples on workers too.

The same cluster as ``test_dask.py`` (``dask_support``), one per module.
Nothing else may use the test fleet meanwhile.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from dask_support import WORKER_OF, ZONES, Cluster, TaskLog, zoned_inventory
from faults import Controller, log_records
from health_support import CRITICAL_EXTRA_MB, HEALTH, WARN_MB, levels_of, memory_hog
from invariant import assert_invariant, take_snapshot
from rollout_support import EXAMPLE_PLAYBOOK, statuses, write_playbook
from testfleet_helpers import HOSTS

RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")
_TIMES = {"run_id", "duration_s", "rollback_duration_s", "deployed_at"}
"""What differs between two runs of the same command on the same state."""


def _plain(value: Any) -> Any:
    """``value`` (a --json result) without what differs from run to run: run ids,
    durations, deployment times."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k not in _TIMES}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return RUN_ID.sub("RUN", value)
    return value


def _story(events: list[dict[str, Any]]) -> tuple[list[tuple[Any, ...]],
                                                  dict[str, list[tuple[Any, ...]]]]:
    """A run log as the run's own events in order and each host's events in order,
    without times, run ids and details (a connect step under the scheduler names
    its worker); hosts interleave differently from run to run."""
    run: list[tuple[Any, ...]] = []
    hosts: dict[str, list[tuple[Any, ...]]] = {}
    for event in events:
        kind = event["event"]
        if "host" in event:
            hosts.setdefault(event["host"], []).append(
                (kind, event.get("step"), event.get("ok"), event.get("status")))
        else:
            run.append((kind, *(_plain(v) for k, v in sorted(event.items())
                                if k not in ("ts", "event", "duration", "rollback_duration",
                                             "run_id"))))
    return run, hosts


class _Fleet:
    """Runs fleet commands in one folder (so ``rollback`` reads the same run logs
    in both modes), with or without ``--scheduler``."""

    def __init__(self, cwd: Path, inventory: Path, scheduler: str | None) -> None:
        self.cwd = cwd
        self.args = ["-i", str(inventory)] + (["--scheduler", scheduler] if scheduler else [])

    def __call__(self, command: str, playbook: Path) -> dict[str, Any]:
        """Run ``command`` (``check``: ``rollout --check``) on ``playbook``."""
        argv = ["rollout", str(playbook), "--check"] if command == "check" \
            else [command, str(playbook)]
        code, data, err = Controller(self.cwd, *argv, *self.args).finish()
        assert data is not None, err
        assert data.get("exit_code", code) == code, err
        events = log_records(self.cwd / ".fleet" / "runs" / f"{data['run_id']}.jsonl") \
            if "run_id" in data else []
        return {"code": code, "json": data, "events": events}


def _halting_playbook(folder: Path) -> Path:
    """One host at a time; dev-05 (zone b) fails its check and, with ``on_failure:
    halt``, is left locked with its backup uncommitted: an unfinished run."""
    return write_playbook(folder, filename="halting.yml", extra_checks=[
        {"type": "command", "run": 'test "$(hostname)" != dev-05', "timeout": 10}],
        strategy={"canary": 1, "batch_size": 1, "forks": 1, "max_failures": 0,
                  "on_failure": "halt"})


SCRIPT = (("check", "example"), ("rollout", "example"), ("status", "example"),
          ("check", "example"), ("rollback", "example"), ("rollout", "halting"),
          ("status", "halting"), ("recover", "halting"), ("status", "halting"))
"""Each command on the state the commands before it left (the hosts end as seeded)."""


def _play(fleet: _Fleet, playbooks: dict[str, Path]) -> list[dict[str, Any]]:
    before = take_snapshot()
    done = [fleet(command, playbooks[which]) for command, which in SCRIPT]
    assert assert_invariant(before) == dict.fromkeys(HOSTS, "before")
    return done


def test_every_command_answers_the_same_with_and_without_the_scheduler(
        cluster: Cluster, tmp_path: Path) -> None:
    """rollout --check, rollout, status, --check, rollback; a rollout halted on
    dev-05, status, recover, status: once embedded, once under the scheduler, from
    the same starting state.
    Exit codes, ``--json`` (but run ids and times) and every host's events are the
    same; under the scheduler every host's work ran on the worker of its zone."""
    inventory = zoned_inventory(tmp_path, ZONES)
    playbooks = {"example": EXAMPLE_PLAYBOOK, "halting": _halting_playbook(tmp_path)}
    here = _play(_Fleet(tmp_path / "ctl", inventory, None), playbooks)
    with TaskLog(cluster) as tasks:
        there = _play(_Fleet(tmp_path / "ctl", inventory, cluster.address), playbooks)

    for (command, which), a, b in zip(SCRIPT, here, there, strict=True):
        step = f"{command} {which}"
        assert a["code"] == b["code"], step
        assert _plain(a["json"]) == _plain(b["json"]), step
        assert _story(a["events"]) == _story(b["events"]), step
    got = {f"{command} {which} {i}": r for i, ((command, which), r)
           in enumerate(zip(SCRIPT, here, strict=True))}
    assert [r["code"] for r in here] == [0, 0, 0, 0, 0, 1, 0, 0, 0]  # halted: exit 1
    assert set(statuses(got["check example 0"]["json"]).values()) == {"would_change"}
    assert set(statuses(got["check example 3"]["json"]).values()) == {"unchanged"}
    assert {h["name"]: h["state"] for h in got["status halting 6"]["json"]["hosts"]} == {
        **dict.fromkeys(HOSTS[:4], "ok"), "dev-05": "interrupted", "dev-06": "not_deployed"}
    assert statuses(got["recover halting 7"]["json"]) == {
        **dict.fromkeys(HOSTS[:5], "rolled_back"), "dev-06": "unchanged"}

    zone_worker = {h: {WORKER_OF[z]} for h, z in ZONES.items()}
    assert tasks.workers() == zone_worker  # every task of every command
    for (command, _), result in zip(SCRIPT, there, strict=True):
        if command != "status":  # status writes no run log: its run id is its own
            ran = tasks.workers(result["json"]["run_id"])
            worked = {h["name"] for h in result["json"]["hosts"] if h["status"] != "skipped"}
            assert {h: ran.get(h) for h in worked} == {h: zone_worker[h] for h in worked}
    statuses_ran = {run for run, *_ in tasks.ran} - {r["json"].get("run_id") for r in there}
    assert len(statuses_ran) == 3  # the three status commands, each on all six hosts
    assert all(sorted(h for r, _, h, _ in tasks.ran if r == run) == sorted(HOSTS)
               for run in statuses_ran)


def _bake_playbook(folder: Path, bake: str) -> Path:
    strategy = {**yaml.safe_load(EXAMPLE_PLAYBOOK.read_text())["strategy"], "bake": bake}
    return write_playbook(folder, health=HEALTH, strategy=strategy)


def _bake_steps(events: Sequence[dict[str, Any]]) -> list[tuple[str, bool, str]]:
    return [(e["host"], e["ok"], e["detail"]) for e in events
            if e["event"] == "StepFinished" and e["step"] == "bake"]


def test_the_canary_bake_samples_on_the_canarys_worker_and_halts_on_critical(
        cluster: Cluster, tmp_path: Path) -> None:
    """Under the scheduler the bake's health samples are taken by the worker of the
    canary's zone (the controller only decides): a canary that turns critical
    halts the run before any later batch, and it is rolled back."""
    canary = HOSTS[0]
    seeded = take_snapshot(label="seeded")
    inventory = zoned_inventory(tmp_path, ZONES)
    with TaskLog(cluster) as tasks:
        ctl = Controller(tmp_path / "ctl", "rollout", str(_bake_playbook(tmp_path, "30s")),
                         "-i", str(inventory), "--scheduler", cluster.address)
        ctl.wait_event(event="StepStarted", host=canary, step="bake", timeout=60)
        with memory_hog(canary, WARN_MB + CRITICAL_EXTRA_MB):
            code, data, err = ctl.finish(timeout=120)

    assert code == 1, err
    assert data is not None
    assert data["outcome"] == "rolled_back"
    assert f"{canary} stayed critical" in data["halt_reason"]
    assert statuses(data) == {canary: "rolled_back", **dict.fromkeys(HOSTS[1:], "skipped")}
    assert _bake_steps(ctl.events()) == [(canary, False, "health critical")]
    assert set(assert_invariant(seeded).values()) == {"before"}
    samples = [(phase, host, worker) for run, phase, host, worker in tasks.ran
               if run == f"{data['run_id']}-bake"]
    assert {(host, worker) for _, host, worker in samples} == {(canary, "wa")}
    assert len({phase for phase, _, _ in samples}) == len(samples)  # one task per round
    logs = list((tmp_path / "ctl" / ".fleet" / "monitor").glob("*-bake-*.jsonl"))
    assert len(logs) == 1, logs
    levels = levels_of(log_records(logs[0]), canary)
    assert len(levels) == len(samples)  # every sample the controller judged came from wa
    assert levels[-1] == "critical", levels


def test_a_healthy_bake_under_the_scheduler_lets_the_batches_go(
        cluster: Cluster, tmp_path: Path) -> None:
    canary = HOSTS[0]
    inventory = zoned_inventory(tmp_path, ZONES)
    ctl = Controller(tmp_path / "ctl", "rollout", str(_bake_playbook(tmp_path, "3s")),
                     "-i", str(inventory), "--scheduler", cluster.address)
    code, data, err = ctl.finish(timeout=180)

    assert code == 0, err
    assert data is not None
    assert statuses(data) == dict.fromkeys(HOSTS, "deployed")
    events = ctl.events()
    assert _bake_steps(events) == [(canary, True, "health ok")]
    baked = next(i for i, e in enumerate(events)
                 if e["event"] == "StepFinished" and e["step"] == "bake")
    assert events[baked]["duration"] >= 3.0
    assert min(i for i, e in enumerate(events)
               if e["event"] == "BatchStarted" and e["index"] > 0) > baked
