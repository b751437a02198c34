"""Reading the one-round-trip rollback's answer: the probe's part, then the undo's."""

from __future__ import annotations

from fleet.errors import RollbackFailed, RunIsLive
from fleet.remote.rollback import RolledBack, parse_newest
from fleet.results import CommandResult

PROBED = "\nCURRENT abcd1234 run-1 2026-01-01T00:00:00Z\n\nBACKUP run-1 abcd1234 1 -\n\nPROBED\n"


def answer(rest: str, code: int = 0, stderr: str = "") -> CommandResult:
    return CommandResult("sh", code, PROBED + rest, stderr, 0.01)


def test_a_host_that_did_not_undo_gives_its_state_only() -> None:
    got = parse_newest(answer(""), "h1")
    assert got.undone is None
    assert got.state.current is not None
    assert got.state.current.release == "abcd1234"


def test_a_host_that_undid_gives_its_state_before_and_where_it_is_now() -> None:
    got = parse_newest(answer("\nUNDOING run-1\n\nROLLED_BACK 0000ffff run-0\n"), "h1")
    assert got.undone == RolledBack("0000ffff", "run-0")
    assert got.state.current is not None
    assert got.state.current.run_id == "run-1"  # as the probe read it, before


def test_an_undo_refused_for_drift_is_a_rollback_failure_with_the_names() -> None:
    got = parse_newest(answer("\nUNDOING run-1\n\nERR drift 1\n", 1,
                              "\nchanged since deployed: a.md\n"), "h1")
    assert isinstance(got.undone, RollbackFailed)
    assert "'a.md'" in got.undone.message


def test_an_undo_that_met_a_lock_is_a_live_run() -> None:
    got = parse_newest(answer("\nUNDOING run-1\n\nLOCKED run-9\n", 1), "h1")
    assert isinstance(got.undone, RunIsLive)
    assert got.undone.holder == "run-9"
