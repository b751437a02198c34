"""The invariant helper itself: it passes on clean states and catches each kind of
violation (a mix of old and new files, a mode change, a lock, staging next to the
target, an uncommitted or damaged backup, a wrong ``current`` record)."""

from __future__ import annotations

import re

import pytest
from invariant import FleetState, ReleaseShape, assert_invariant, release_of, take_snapshot
from rollout_support import EXAMPLE_PLAYBOOK, INV, STATE, as_tester
from testfleet_helpers import HOME, TARGET, docker_exec, run_fleet_json

PLAYBOOK = str(EXAMPLE_PLAYBOOK)
HOST = "dev-02"


def _deploy_one() -> str:
    proc, data = run_fleet_json("rollout", PLAYBOOK, *INV, "--limit", HOST)
    assert proc.returncode == 0, proc.stderr
    return str(data["run_id"])


def _violation(before: FleetState, *allowed: ReleaseShape | FleetState, match: str) -> None:
    with pytest.raises(AssertionError, match=re.compile(match, re.DOTALL)):
        assert_invariant(before, *allowed, hosts=[HOST])


def test_clean_states_pass_and_are_named() -> None:
    before = take_snapshot([HOST])
    release = release_of(EXAMPLE_PLAYBOOK)
    assert assert_invariant(before, release) == {HOST: "before"}
    _deploy_one()
    assert assert_invariant(before, release) == {HOST: release.id}


def test_a_mix_of_old_and_new_files_is_caught() -> None:
    before = take_snapshot([HOST])
    release = release_of(EXAMPLE_PLAYBOOK)
    _deploy_one()
    # one file back to its old content, the rest on the release
    as_tester(HOST, 'printf "old workflow\\n" > "$1/COMMON_WORKFLOW.md"', TARGET)
    _violation(before, release, match="neither its state before nor the release")


def test_a_mode_change_alone_is_caught() -> None:
    before = take_snapshot([HOST])
    as_tester(HOST, 'chmod 0640 "$1/my-notes.md"', TARGET)
    _violation(before, release_of(EXAMPLE_PLAYBOOK), match="my-notes.md")


def test_a_lock_or_staging_left_behind_is_caught() -> None:
    before = take_snapshot([HOST])
    as_tester(HOST, 'mkdir -p "$1/lock" && echo X > "$1/lock/run"', STATE)
    _violation(before, match=r"left in fleet's state folder: \['lock'\]")
    as_tester(HOST, 'rm -r "$1/lock" && mkdir "$2/.fleet-stage-agents-framework-X"', STATE,
              f"{HOME}/.claude")
    _violation(before, match="parent folder changed")


def test_an_uncommitted_or_damaged_backup_is_caught() -> None:
    before = take_snapshot([HOST])
    release = release_of(EXAMPLE_PLAYBOOK)
    run_id = _deploy_one()
    backup = f"{STATE}/backups/{run_id}"
    code, out = docker_exec(HOST, ["sh", "-c", 'grep -l . "$1"/e/*/meta', "sh", backup])
    assert code == 0, out
    entry = out.decode().split()[0].rsplit("/", 1)[0]
    as_tester(HOST, 'printf tampered >> "$1/old"', entry)
    _violation(before, release, match="saved copy does not match its record")
    as_tester(HOST, 'rm "$1/committed"', backup)
    _violation(before, release, match="is not committed")


def test_a_current_record_that_disagrees_with_the_files_is_caught() -> None:
    before = take_snapshot([HOST])
    release = release_of(EXAMPLE_PLAYBOOK)
    _deploy_one()
    as_tester(HOST, 'printf "deadbeef\\nrun\\nnow\\n" > "$1/current"', STATE)
    _violation(before, release, match="current says")
