"""The small parts that make a big run possible: the jump gate, the open-file limit,
the big-run live view and the Dask event codec."""

from __future__ import annotations

import io
import resource
import threading
import time
from collections.abc import Iterator

import pytest
from rich.console import Console

from fleet.cli.progress import Progress, RunView
from fleet.cli.report import LiveReport
from fleet.distributed.codec import decode, encode
from fleet.engine.limits import ensure_open_files, open_files_needed
from fleet.errors import ConfigError
from fleet.events import (
    BatchStarted,
    Halted,
    HostFinished,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)
from fleet.results import HostStatus, Outcome
from fleet.transport.jumpgate import JumpGate


def test_the_jump_gate_lets_at_most_at_once_handshakes_per_jump_host() -> None:
    gate = JumpGate(at_once=3)
    inside = {"bastion": 0, "other": 0}
    most = {"bastion": 0, "other": 0}
    lock = threading.Lock()

    def handshake(jump: str) -> None:
        with gate.handshake(jump):
            with lock:
                inside[jump] += 1
                most[jump] = max(most[jump], inside[jump])
            time.sleep(0.02)
            with lock:
                inside[jump] -= 1

    threads = [threading.Thread(target=handshake, args=(j,))
               for j in ["bastion"] * 12 + ["other"] * 4]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == {"bastion": 3, "other": 3}


def test_the_jump_gate_backs_off_doubling_with_jitter() -> None:
    pauses = list(JumpGate(attempts=5, first_pause=0.2).pauses())
    assert len(pauses) == 4
    for n, pause in enumerate(pauses):
        assert 0.1 * 2 ** n <= pause <= 0.3 * 2 ** n


@pytest.fixture
def low_soft_limit() -> Iterator[int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        yield hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_open_file_limit_is_raised_to_what_the_run_needs(low_soft_limit: int) -> None:
    needed = open_files_needed(100, kept=300)
    assert needed == 100 * 4 + 300 + 64
    if low_soft_limit != resource.RLIM_INFINITY and low_soft_limit < needed:
        pytest.fail(f"the hard limit here ({low_soft_limit}) is too low for this test")
    assert ensure_open_files(needed) == needed
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == needed


def test_a_run_past_the_hard_limit_is_refused_naming_the_fix(low_soft_limit: int) -> None:
    if low_soft_limit == resource.RLIM_INFINITY:
        pytest.fail("no hard limit here to go past")
    with pytest.raises(ConfigError, match=r"hard limit is \d+: raise it .*or lower --forks"):
        ensure_open_files(low_soft_limit + 1)
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == 256  # untouched


def _progress_run(view: RunView | Progress, n: int) -> str:
    view.emit(RunStarted("r1", "rollout", "demo", "abc", tuple(f"h{i}" for i in range(n)),
                         ()))
    view.emit(BatchStarted(0, ("h0",), True))
    view.emit(HostFinished("h0", HostStatus.DEPLOYED, 0.1))
    view.emit(BatchStarted(1, tuple(f"h{i}" for i in range(1, n)), False))
    for i in range(1, n - 1):
        view.emit(StepStarted(f"h{i}", "prepare"))
        view.emit(HostFinished(f"h{i}", HostStatus.DEPLOYED, 0.1))
    view.emit(StepFinished(f"h{n - 1}", "activate", False, 0.1, error="check failed"))
    view.emit(HostFinished(f"h{n - 1}", HostStatus.ROLLBACK_FAILED, 0.1, "disk full"))
    view.emit(Halted("h99 failed"))
    view.emit(RunFinished("r1", Outcome.ROLLBACK_INCOMPLETE, 1.0))
    return ""


def test_a_big_run_shows_batch_and_run_lines_and_each_failure_not_each_host() -> None:
    out = io.StringIO()
    view = RunView(Console(file=out, width=200), screenful=40)
    _progress_run(view, 100)
    text = out.getvalue()
    assert not view.per_host
    assert "canary: 1/1 done (1 deployed)" in text
    assert "batch 1: 99/99 done (98 deployed, 1 rollback_failed)" in text
    assert "run: 100/100 done (99 deployed, 1 rollback_failed)" in text
    assert "h99: activate failed: check failed" in text
    assert "h99: rollback_failed — disk full" in text
    assert "h42" not in text  # no line per host that went well


def test_a_run_that_fits_on_a_screen_or_with_verbose_shows_every_host() -> None:
    for n, verbose in ((10, False), (100, True)):
        out = io.StringIO()
        view = RunView(Console(file=out, width=200), verbose=verbose, screenful=40)
        _progress_run(view, n)
        assert view.per_host
        assert isinstance(view._view, LiveReport)
        assert "h5: deployed" in out.getvalue()


@pytest.mark.parametrize("event", [
    StepStarted("h1", "stage"),
    StepFinished("h1", "activate", True, 0.25, detail="3 checks passed"),
    StepFinished("h1", "activate", False, 0.25, error="sha256 mismatch"),
    HostFinished("h1", HostStatus.ROLLED_BACK, 1.5, "its worker was lost"),
])
def test_a_step_event_crosses_the_dask_event_log_unchanged(event: object) -> None:
    wire = encode(event)  # type: ignore[arg-type]
    assert all(isinstance(v, str | int | float | bool | None) for v in wire.values())
    assert decode(wire) == event


def test_only_host_events_cross_and_a_bad_one_is_refused() -> None:
    with pytest.raises(TypeError):
        encode(Halted("no"))
    with pytest.raises(ValueError, match="unknown event kind"):
        decode({"kind": "Halted", "reason": "x"})
    with pytest.raises(ValueError, match="malformed"):
        decode({"kind": "StepStarted", "host": "h1"})
