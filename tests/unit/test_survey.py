"""settle: every host's outcome after a fleet rollback or recover, and the run's outcome."""

from __future__ import annotations

from pathlib import Path

from fleet.engine.fanout import Unread
from fleet.engine.survey import settle
from fleet.inventory.model import Host
from fleet.remote.probe import Current, DeploymentState
from fleet.results import HostOutcome, HostStatus, Outcome


def host(name: str) -> Host:
    return Host(name=name, address=name, port=None, user=None, identity_file=None,
                connection="ssh", known_hosts_file=Path("kh"), groups=(), vars={})


def state(release: str | None) -> DeploymentState:
    current = Current(release, "run-1", "2026-11-28T00:00:00Z") if release else None
    return DeploymentState(current, None, (), ())


HOSTS = [host(n) for n in ("done", "broke", "away", "on", "empty")]
STATES = {"done": state(None), "broke": state("r1"), "on": state("r1"), "empty": state(None)}


def test_every_host_gets_an_outcome_in_the_same_order() -> None:
    done = {"done": HostOutcome("done", HostStatus.ROLLED_BACK, 0.5, touched=True)}
    outcomes, outcome = settle(HOSTS[:1] + HOSTS[3:], done, STATES, {},
                               empty=HostStatus.NOT_DEPLOYED)
    assert {n: o.status for n, o in outcomes.items()} == {
        "done": HostStatus.ROLLED_BACK, "on": HostStatus.UNCHANGED,
        "empty": HostStatus.NOT_DEPLOYED}
    assert outcomes["on"].release == "r1"
    assert outcome is Outcome.SUCCESS


def test_an_unexpected_error_and_an_unread_host_are_rollback_failures() -> None:
    done = {"done": HostOutcome("done", HostStatus.ROLLED_BACK, touched=True),
            "broke": HostOutcome("broke", HostStatus.FAILED, 0.2, error="bug")}
    outcomes, outcome = settle(HOSTS, done, STATES, {"away": Unread("cannot reach it", False)},
                               empty=HostStatus.UNCHANGED)
    assert outcomes["broke"].status is HostStatus.ROLLBACK_FAILED
    assert outcomes["broke"].error == "rollback failed: bug"
    assert outcomes["away"].status is HostStatus.ROLLBACK_FAILED
    assert outcomes["away"].error == "cannot reach it"
    assert outcomes["empty"].status is HostStatus.UNCHANGED
    assert outcome is Outcome.ROLLBACK_INCOMPLETE
