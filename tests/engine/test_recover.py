"""A controller that died mid-run leaves locks, backups and staging on hosts:
status shows it, and recover (or rollback) puts every touched host back."""

from __future__ import annotations

import subprocess
from dataclasses import replace

from fleet.config.playbook import load_playbook
from fleet.config.release import build_release
from fleet.events import Recorder
from fleet.remote import activate, commit, prepare, stage
from fleet.remote.context import DeployContext
from fleet.remote.liveness import Owner, this_controller
from fleet.results import HostStatus, Outcome
from fleet.transport.base import send
from fleet.transport.local import LocalTransport
from fleet.verbs.recover import recover_fleet
from fleet.verbs.rollback import rollback_fleet
from fleet.verbs.status import HostState, status_fleet
from tests.engine.world import FILES, World

RUN_A = "20260101T000000Z-aaaaaa"
RUN_B = "20260101T000002Z-bbbbbb"


def dead_controller() -> Owner:
    """A controller of this machine that has exited (its pid is gone)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return replace(this_controller(), pid=proc.pid, start="0")


def crash_mid_run(world: World) -> dict[str, dict[str, tuple[str, int]]]:
    """Deploy A everywhere, then leave run B dead at a different step on each host.

    Returns the snapshot after A (what every host must come back to).
    """
    world.run(world.playbook(), run_id=RUN_A)
    after_a = world.snapshot()
    pb = load_playbook(world.playbook({**FILES, "COMMON_WORKFLOW.md": "# Workflow B\n"}))
    release = build_release(pb)
    # run B's controller: a process of this machine that is gone by now
    ctx = DeployContext(pb.name, pb.target, RUN_B, release, pb.checks, pb.backup.keep,
                        owner=dead_controller())
    payload = stage.pack(release)
    steps = {  # host -> how far run B got before the controller died
        "h1": ("prepare", "stage", "activate", "commit"),
        "h2": ("prepare", "stage", "activate"),
        "h3": ("prepare", "stage"),
        "h4": ("prepare",),
        "h5": (),  # only the lock: mkdir'ed, then the controller died
        "h6": None,  # never reached
    }
    for host, done in steps.items():
        transport = LocalTransport(host, env={"HOME": str(world.home(host))})
        if done == ():
            (world.state(host) / "lock").mkdir()
            continue
        for step in done or ():
            script = {"prepare": prepare.script(ctx), "stage": stage.script(ctx, payload),
                      "activate": activate.script(ctx), "commit": commit.script(ctx)}[step]
            send(transport, script, timeout=30)
    return after_a


def test_status_shows_interrupted_hosts_and_recover_puts_every_touched_host_back(
        world: World) -> None:
    after_a = crash_mid_run(world)
    assert world.snapshot()["h2"] != after_a["h2"]  # h2 really is half-way
    report = status_fleet("demo", "~/agents", world.hosts, world.connector, forks=6, timeout=30)
    states = {h.name: h.state for h in report.hosts}
    assert states == {"h1": HostState.OK, "h2": HostState.INTERRUPTED,
                      "h3": HostState.INTERRUPTED, "h4": HostState.INTERRUPTED,
                      "h5": HostState.INTERRUPTED, "h6": HostState.OK}
    assert report.hosts[1].unfinished == (RUN_B,)
    result = recover_fleet("demo", "~/agents", world.hosts, world.connector, Recorder(),
                           run_id="20260101T000009Z-rec", only=None, forks=6, timeout=30)
    assert result.outcome is Outcome.SUCCESS
    status = {h.name: h.status for h in result.hosts}
    assert status == {"h1": HostStatus.ROLLED_BACK, "h2": HostStatus.ROLLED_BACK,
                      "h3": HostStatus.ROLLED_BACK, "h4": HostStatus.ROLLED_BACK,
                      "h5": HostStatus.ROLLED_BACK, "h6": HostStatus.UNCHANGED}
    assert world.snapshot() == after_a
    assert all(world.leftovers(h.name) == [] for h in world.hosts)
    again = status_fleet("demo", "~/agents", world.hosts, world.connector, forks=6, timeout=30)
    assert {h.state for h in again.hosts} == {HostState.OK}
    assert {h.release for h in again.hosts} == {result.hosts[5].release}


def test_rollback_also_finishes_an_unfinished_run(world: World) -> None:
    after_a = crash_mid_run(world)
    result = rollback_fleet("demo", "~/agents", world.hosts, world.connector, Recorder(),
                            run_id="20260101T000009Z-rbk", to=None, force=False, forks=6,
                            timeout=30)
    assert result.outcome is Outcome.SUCCESS
    assert result.hosts[5].status is HostStatus.UNCHANGED
    assert world.snapshot() == after_a
    assert all(world.leftovers(h.name) == [] for h in world.hosts)


def test_status_names_drifted_files(world: World) -> None:
    world.run(world.playbook())
    (world.target("h3") / "COMMON_WORKFLOW.md").write_text("hand edit\n")
    (world.target("h3") / "AGENT_COMMON_HEADER.md").unlink()
    report = status_fleet("demo", "~/agents", world.hosts, world.connector, forks=6, timeout=30)
    h3 = report.hosts[2]
    assert h3.state is HostState.DRIFT
    assert set(h3.drift) == {"changed: COMMON_WORKFLOW.md", "missing: AGENT_COMMON_HEADER.md"}
    assert report.hosts[0].state is HostState.OK
    assert report.exit_code == 0


def test_status_of_an_unreachable_host(world: World) -> None:
    world.down.add("h2")
    report = status_fleet("demo", "~/agents", world.hosts, world.connector, forks=6, timeout=30)
    assert report.hosts[1].state is HostState.UNREACHABLE
    assert "no route" in (report.hosts[1].error or "")
    assert report.exit_code == 1
