"""``fleet rollback`` in one round trip when the controller knows the release to
undo (its run log's last rollout): each host undoes it with its probe when it
is that host's newest and nothing is unfinished there; only the others take a
second round trip (issue 14)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from fleet.events import Recorder
from fleet.results import CommandResult, HostStatus, Outcome, RunResult
from fleet.transport.local import LocalTransport
from fleet.verbs.rollback import rollback_fleet
from tests.engine.world import FILES, World


@pytest.fixture
def sends(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Round trips per host (every command a LocalTransport runs)."""
    count: Counter[str] = Counter()
    real_run = LocalTransport.run

    def counting_run(self: LocalTransport, command: str, **kwargs: Any) -> CommandResult:
        count[self.host] += 1
        return real_run(self, command, **kwargs)

    monkeypatch.setattr(LocalTransport, "run", counting_run)
    return count


def undo(world: World, expect: str | None, run_id: str = "20270101T000000Z-rbrbrb"
         ) -> RunResult:
    return rollback_fleet("demo", "~/agents", world.hosts, world.connector, Recorder(),
                          run_id=run_id, to=None, force=False, forks=4, timeout=30,
                          expect=expect)


def test_the_release_the_controller_rolled_out_is_undone_in_one_round_trip(
        world: World, sends: Counter[str]) -> None:
    seeded = world.snapshot()
    res, _ = world.run(world.playbook(), run_id="20260101T000000Z-aaaaaa")
    release = res.release
    sends.clear()
    back = undo(world, release)
    assert back.outcome is Outcome.SUCCESS
    assert [h.status for h in back.hosts] == [HostStatus.ROLLED_BACK] * 6
    assert world.snapshot() == seeded
    assert dict(sends) == {h.name: 1 for h in world.hosts}
    # and a second rollback finds nothing newer to undo on the hosts
    again = undo(world, release, run_id="20270101T000001Z-rbrbrb")
    assert [h.status for h in again.hosts] == [HostStatus.NOT_DEPLOYED] * 6


def test_a_release_rolled_out_later_from_another_controller_is_the_one_undone(
        world: World, sends: Counter[str]) -> None:
    first, _ = world.run(world.playbook(), run_id="20260101T000000Z-aaaaaa")
    after_first = world.snapshot()
    # another controller (another run log) rolls out a newer release everywhere
    world.run(world.playbook({**FILES, "extra.md": "newer\n"}),
              run_id="20260101T000001Z-bbbbbb")
    sends.clear()
    back = undo(world, first.release)  # this controller's log still says the first
    assert [h.status for h in back.hosts] == [HostStatus.ROLLED_BACK] * 6
    assert {h.release for h in back.hosts} == {first.release}
    assert world.snapshot() == after_first
    assert dict(sends) == {h.name: 2 for h in world.hosts}  # they disagreed: one more


def test_a_host_with_an_unfinished_run_takes_the_second_round_trip(
        world: World, sends: Counter[str]) -> None:
    seeded = world.snapshot()
    res, _ = world.run(world.playbook(), run_id="20260101T000000Z-aaaaaa")
    deployed = world.snapshot()
    # h2 holds an abandoned lock of an older run that never got a backup
    lock = world.state("h2") / "lock"
    lock.mkdir()
    (lock / "run").write_text("20250101T000000Z-oldold\n")
    sends.clear()
    back = undo(world, res.release)
    status = {h.name: h.status for h in back.hosts}
    assert status["h1"] is HostStatus.ROLLED_BACK
    assert sends["h1"] == 1
    assert world.snapshot()["h1"] == seeded["h1"]
    # h2 was only read in the first round trip; the old run's lock is cleared in
    # a second (the usual rollback's business), and its files are whole either way
    assert sends["h2"] == 2
    assert status["h2"] is HostStatus.ROLLED_BACK
    assert world.snapshot()["h2"] in (seeded["h2"], deployed["h2"])
    assert not lock.exists()
