"""Live or abandoned: the judgement rollback, recover and status share."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace

import pytest

from fleet.remote.liveness import (
    LockView,
    Owner,
    is_live,
    lease_until,
    process_start,
    this_controller,
)

HERE = this_controller()


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_this_process_is_described_by_a_parseable_record() -> None:
    assert Owner.parse(HERE.line().split()) == HERE
    assert HERE.pid == os.getpid()
    assert process_start(os.getpid()) == HERE.start
    assert process_start(dead_pid()) is None


@pytest.mark.parametrize("words", [[], ["m", "b", "x", "s"], ["m", "b", "1"]])
def test_a_broken_owner_record_is_none(words: list[str]) -> None:
    assert Owner.parse(words) is None


def test_on_the_same_machine_the_process_decides_not_the_lease() -> None:
    far_future, long_past = 4e9, 1.0
    alive = Owner(HERE.machine, HERE.boot, os.getppid(), process_start(os.getppid()) or "")
    gone = replace(HERE, pid=dead_pid())
    reused = replace(alive, start="0")  # the pid lives, but it is not the same process
    assert is_live(LockView("r", long_past, alive), 100.0, HERE)
    assert not is_live(LockView("r", far_future, gone), 100.0, HERE)
    assert not is_live(LockView("r", far_future, reused), 100.0, HERE)


def test_elsewhere_the_lease_decides() -> None:
    other = Owner("another-machine", "boot-x", 4242, "123")
    assert is_live(LockView("r", 200.0, other), 100.0, HERE)
    assert not is_live(LockView("r", 100.0, other), 100.0, HERE)
    assert not is_live(LockView("r", None, other), 100.0, HERE)
    assert not is_live(LockView("r", None, None), 100.0, HERE)  # a bare lock: abandoned


def test_the_lease_covers_a_step_and_the_gap_after_it() -> None:
    assert lease_until(1000.0, 120) >= 1000 + 120
