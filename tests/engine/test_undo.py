"""fleet rollback and --check over real shell on pretend hosts."""

from __future__ import annotations

from fleet.config.playbook import load_playbook
from fleet.config.release import build_release
from fleet.events import Recorder
from fleet.results import HostStatus, Outcome, RunResult
from fleet.verbs.rollback import rollback_fleet
from fleet.verbs.rollout import Target, check
from tests.engine.world import FILES, World


def undo(world: World, *, to: str | None = None, force: bool = False, run_id: str = "rb-1"
         ) -> RunResult:
    return rollback_fleet("demo", "~/agents", world.hosts, world.connector, Recorder(),
                          run_id=run_id, to=to, force=force, forks=4, timeout=30)


def test_two_rollbacks_walk_back_release_by_release(world: World) -> None:
    seeded = world.snapshot()
    world.run(world.playbook(), run_id="20260101T000000Z-aaaaaa")
    after_a = world.snapshot()
    release_a = next(h.release for h in world.run(world.playbook(), run_id="x")[0].hosts)
    world.run(world.playbook({**FILES, "COMMON_WORKFLOW.md": "# Workflow v2\n"}),
              run_id="20260101T000001Z-bbbbbb")
    assert world.snapshot() != after_a
    first = undo(world, run_id="rb-1")
    assert first.outcome is Outcome.SUCCESS
    assert [h.status for h in first.hosts] == [HostStatus.ROLLED_BACK] * 6
    assert {h.release for h in first.hosts} == {release_a}
    assert world.snapshot() == after_a
    second = undo(world, run_id="rb-2")
    assert [h.status for h in second.hosts] == [HostStatus.ROLLED_BACK] * 6
    assert world.snapshot() == seeded
    third = undo(world, run_id="rb-3")
    assert [h.status for h in third.hosts] == [HostStatus.NOT_DEPLOYED] * 6
    assert world.snapshot() == seeded


def test_retry_after_partial_rollback_finishes_instead_of_going_further(world: World) -> None:
    world.run(world.playbook(), run_id="20260101T000000Z-aaaaaa")
    world.run(world.playbook({**FILES, "COMMON_WORKFLOW.md": "# Workflow v2\n"}),
              run_id="20260101T000001Z-bbbbbb")
    after_b = world.snapshot()
    # roll back only h1 and h2 (as if the others were unreachable)
    rollback_fleet("demo", "~/agents", world.hosts[:2], world.connector, Recorder(),
                   run_id="rb-1", to=None, force=False, forks=4, timeout=30)
    partly = world.snapshot()
    assert partly["h1"] != after_b["h1"]
    assert partly["h3"] == after_b["h3"]
    res = undo(world, run_id="rb-2")
    status = {h.name: h.status for h in res.hosts}
    assert status["h1"] is status["h2"] is HostStatus.UNCHANGED
    assert all(status[f"h{i}"] is HostStatus.ROLLED_BACK for i in range(3, 7))
    assert world.snapshot()["h3"] == partly["h1"] | {"my-notes.md": after_b["h3"]["my-notes.md"]}


def test_rollback_refuses_hand_edits_unless_forced(world: World) -> None:
    seeded = world.snapshot()
    world.run(world.playbook())
    (world.target("h2") / "COMMON_WORKFLOW.md").write_text("edited by hand\n")
    res = undo(world)
    h2 = next(h for h in res.hosts if h.name == "h2")
    assert res.outcome is Outcome.ROLLBACK_INCOMPLETE
    assert res.outcome.exit_code == 3
    assert h2.status is HostStatus.ROLLBACK_FAILED
    assert "changed on the host" in (h2.error or "")
    assert "COMMON_WORKFLOW.md" in (h2.error or "")
    assert (world.target("h2") / "COMMON_WORKFLOW.md").read_text() == "edited by hand\n"
    assert world.leftovers("h2") == []
    forced = undo(world, force=True, run_id="rb-2")
    assert forced.outcome is Outcome.SUCCESS
    assert world.snapshot() == seeded


def test_rollback_to_a_named_release(world: World) -> None:
    world.run(world.playbook(), run_id="20260101T000000Z-aaaaaa")
    after_a = world.snapshot()
    pb_a = load_playbook(world.root / "playbook.yml")
    release_a = build_release(pb_a).id
    for n, text in enumerate(("v2", "v3")):
        world.run(world.playbook({**FILES, "COMMON_WORKFLOW.md": f"# Workflow {text}\n"}),
                  run_id=f"20260101T00000{n + 1}Z-bbbbbb")
    res = undo(world, to=release_a)
    assert res.outcome is Outcome.SUCCESS
    assert world.snapshot() == after_a
    missing = undo(world, to="deadbeef", run_id="rb-2")
    assert missing.outcome is Outcome.ROLLBACK_INCOMPLETE
    assert "not in this host's history" in (missing.hosts[0].error or "")


def test_check_reports_changes_and_writes_nothing(world: World) -> None:
    pb_path = world.playbook()
    before = world.snapshot()
    pb = load_playbook(pb_path)
    res = check(Target(pb, build_release(pb), world.hosts), world.connector, Recorder(),
                run_id="chk", forks=4)
    assert res.outcome is Outcome.CHECKED
    assert [h.status for h in res.hosts] == [HostStatus.WOULD_CHANGE] * 6
    assert res.hosts[0].replaced == ("COMMON_WORKFLOW.md",)
    assert set(res.hosts[0].created) == set(FILES) - {"COMMON_WORKFLOW.md"}
    assert world.snapshot() == before
    assert not world.state("h1").exists()
