"""At most ``forks`` connections open at once, in the rollout and in the fleet-wide
rollback after a halt; a host's connection is closed when it is done and
reopened only if the rollback needs it (real remote scripts on pretend hosts)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from fleet.config.playbook import load_playbook
from fleet.config.release import build_release
from fleet.events import Recorder
from fleet.inventory.model import Host
from fleet.plan import build_plan
from fleet.results import CommandResult, HostStatus, Outcome
from fleet.transport.base import Transport
from fleet.verbs.rollout import Target, rollout
from tests.engine.world import World


@dataclass
class Counted:
    """A transport that counts itself among the open ones until closed."""

    inner: Transport
    pool: Pool
    host: str = ""
    closed: bool = False

    def __post_init__(self) -> None:
        self.host = self.inner.host

    def run(self, command: str, *, stdin: bytes | None = None, timeout: float,
            check: bool = True) -> CommandResult:
        return self.inner.run(command, stdin=stdin, timeout=timeout, check=check)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.pool.closed(self.host)
        self.inner.close()


@dataclass
class Pool:
    """Open connections now, the most at once, and connections made per host."""

    world: World
    open: int = 0
    most: int = 0
    made: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def connect(self, host: Host) -> Transport:
        transport = self.world.connector(host)
        with self.lock:
            self.open += 1
            self.most = max(self.most, self.open)
            self.made[host.name] = self.made.get(host.name, 0) + 1
        return Counted(transport, self)

    def closed(self, host: str) -> None:
        with self.lock:
            self.open -= 1


def _run(world: World, pool: Pool, *, batch_size: int, forks: int
         ) -> tuple[Outcome, dict[str, HostStatus]]:
    pb = load_playbook(world.playbook(batch_size=batch_size, forks=forks))
    target = Target(pb, build_release(pb), world.hosts)
    plan = build_plan([h.name for h in world.hosts], pb.strategy)
    result = rollout(target, plan, pool.connect, Recorder(), run_id="run-b")
    return result.outcome, {h.name: h.status for h in result.hosts}


def test_a_rollout_holds_at_most_forks_connections_and_closes_each_when_done(
        world: World) -> None:
    pool = Pool(world)
    outcome, statuses = _run(world, pool, batch_size=5, forks=2)
    assert outcome is Outcome.SUCCESS
    assert set(statuses.values()) == {HostStatus.DEPLOYED}
    assert pool.most <= 2
    assert pool.open == 0
    assert set(pool.made.values()) == {1}


def test_the_fleet_wide_rollback_reopens_closed_connections_forks_at_once(
        world: World) -> None:
    (world.home("h6") / ".fail-check").touch()  # the last host fails its checks
    before = world.snapshot()
    pool = Pool(world)
    outcome, statuses = _run(world, pool, batch_size=5, forks=2)
    assert outcome is Outcome.ROLLED_BACK
    assert set(statuses.values()) == {HostStatus.ROLLED_BACK}
    assert world.snapshot() == before
    assert pool.most <= 2, "the rollback must be bounded by forks too"
    assert pool.open == 0
    # the canary was done (closed) long before the halt: its rollback reconnected
    assert pool.made["h1"] == 2
