"""The canary bake and fleet monitor on pretend local hosts (real health scripts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fleet.errors import TransportError
from fleet.events import StepFinished
from fleet.results import CommandResult, HostStatus, Outcome
from tests.engine.world import World, manifest


def with_health(world: World, health: str, **strategy: object) -> Path:
    path = world.playbook(None, **strategy)
    path.write_text(path.read_text() + f"health:\n  - {health}\n")
    return path


def test_a_canary_that_turns_critical_during_the_bake_halts_and_rolls_back(
        world: World) -> None:
    before = world.snapshot()
    # every python process of this machine is over 1 MB: the canary is critical at once
    playbook = with_health(world, "{type: memory, process: python, warn_mb: 0.5, critical_mb: 1}",
                           bake="2s")
    res, rec = world.run(playbook)
    assert res.outcome is Outcome.ROLLED_BACK
    assert "bake" in (res.halt_reason or "")
    assert res.hosts[0].status is HostStatus.ROLLED_BACK
    assert [h.status for h in res.hosts[1:]] == [HostStatus.SKIPPED] * 5
    assert world.snapshot() == before
    bake = [e for e in rec.events if isinstance(e, StepFinished) and e.step == "bake"]
    assert [(e.host, e.ok) for e in bake] == [("h1", False)]


def test_a_canary_that_cannot_be_read_during_the_bake_halts_and_rolls_back(
        world: World) -> None:
    before = world.snapshot()

    def health_unreachable(command: str, stdin: bytes | None) -> CommandResult | None:
        if b"HEALTH_DONE" in (stdin or b""):  # only the health samples: the steps really run
            raise TransportError("h1", "connection lost")
        return None

    world.faults["h1"] = health_unreachable
    playbook = with_health(world, "{type: access_time, warn_ms: 5000, critical_ms: 10000}",
                           bake="2s")
    res, rec = world.run(playbook)
    assert res.outcome is Outcome.ROLLED_BACK
    assert "bake" in (res.halt_reason or "")
    assert "h1 stayed unreachable" in (res.halt_reason or "")
    assert "connection lost" in (res.halt_reason or "")
    assert res.hosts[0].status is HostStatus.ROLLED_BACK
    assert [h.status for h in res.hosts[1:]] == [HostStatus.SKIPPED] * 5
    assert world.snapshot() == before
    bake = [e for e in rec.events if isinstance(e, StepFinished) and e.step == "bake"]
    assert [(e.host, e.ok, e.detail) for e in bake] == [("h1", False, "health unreachable")]


def test_a_healthy_bake_lets_the_batches_go(world: World) -> None:
    playbook = with_health(world, "{type: access_time, warn_ms: 5000, critical_ms: 10000}",
                           bake="1s")
    res, rec = world.run(playbook)
    assert res.outcome is Outcome.SUCCESS
    bake = [e for e in rec.events if isinstance(e, StepFinished) and e.step == "bake"]
    assert [(e.host, e.ok) for e in bake] == [("h1", True)]
    assert bake[0].duration >= 1.0


def test_monitor_rolls_the_fleet_back_when_a_host_stays_critical(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.md").write_text("alpha\n")
    target = tmp_path / "home" / "agents"
    target.mkdir(parents=True)
    (target / "mine.md").write_text("unrelated\n")
    before = manifest(target)
    (tmp_path / "pb.yml").write_text(
        "name: mon\nsource: src\ntarget: ~/agents\nhealth:\n"
        "  - {type: access_time, warn_ms: 5000, critical_ms: 10000}\n"
        "  - {type: command, run: 'test ! -e \"$HOME/.sick\"'}\n")
    (tmp_path / "inv.yml").write_text("all:\n  hosts:\n    me: {ansible_connection: local}\n")
    env = {**os.environ, "HOME": str(tmp_path / "home"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    def fleet(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "fleet", *args, "pb.yml", "-i", "inv.yml",
                               "--json"], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=60, check=False)

    assert fleet("rollout").returncode == 0
    healthy = fleet("monitor", "--interval", "0.2s", "--duration", "1s")
    assert healthy.returncode == 0, healthy.stderr
    report = json.loads(healthy.stdout)
    assert report["rounds"] >= 3
    assert report["levels"] == {"me": "ok"}
    assert report["rollback"] is None
    (tmp_path / "home" / ".sick").write_text("")
    sick = fleet("monitor", "--interval", "0.2s", "--rollback-on", "critical", "--grace", "2",
                 "--log", "mon.jsonl")
    assert sick.returncode == 1, sick.stderr
    report = json.loads(sick.stdout)
    assert report["alerts"][0]["to"] == "critical"
    assert report["rollback"]["reason"] == "me stayed critical for 2 samples"
    assert report["rollback"]["outcome"] == "success"
    assert manifest(target) == before
    kinds = [json.loads(line)["kind"] for line in (tmp_path / "mon.jsonl").read_text().splitlines()]
    assert kinds.count("sample") == 2
    assert kinds.count("alert") == 1
    assert kinds[-1] == "rollback"


def test_monitor_without_health_checks_is_bad_input(world: World) -> None:
    inventory = world.root / "inv.yml"
    inventory.write_text("all:\n  hosts:\n    me: {ansible_connection: local}\n")
    done = subprocess.run([sys.executable, "-m", "fleet", "monitor", str(world.playbook()),
                           "-i", str(inventory)], capture_output=True, text=True, timeout=60,
                          check=False, cwd=world.root)
    assert done.returncode == 2
    assert "health: no health checks to watch" in done.stderr
