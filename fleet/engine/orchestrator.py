"""Runs a plan across the fleet: canary alone, then batches, halt, fleet-wide rollback.

Every rule about when to stop lives in :mod:`fleet.halt`; every step of a host
lives in :mod:`fleet.engine.pipeline`. This module only schedules and collects.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from fleet.config.playbook import OnFailure
from fleet.engine.hostwork import HostWork, ThreadWork
from fleet.engine.interrupts import Interrupt
from fleet.engine.parallel import wait_all
from fleet.engine.pipeline import HostJob
from fleet.events import (
    BatchStarted,
    EventSink,
    Halted,
    HostFinished,
    RollbackStarted,
)
from fleet.halt import Halt, HaltPolicy
from fleet.inventory.model import Host
from fleet.plan import Plan
from fleet.results import HostOutcome, HostStatus, Outcome


@dataclass(frozen=True)
class FleetRun:
    """The outcome of the fleet sequence, before it becomes a RunResult."""

    outcome: Outcome
    hosts: dict[str, HostOutcome]
    halt_reason: str | None
    rollback_duration: float | None


Bake = Callable[[Sequence[Host], threading.Event], "str | None"]
"""Watch the canaries' health (stopping early when the event is set); why they fail, or None."""


def run_fleet(plan: Plan, hosts: Sequence[Host], job: HostJob, policy: HaltPolicy, *,
              on_failure: OnFailure, canary_only: bool, bake: Bake | None = None,
              interrupt: Interrupt | None = None, work: HostWork | None = None) -> FleetRun:
    """Run the plan; on a halt roll back what ``on_failure`` says, in parallel.

    Each host's steps run through ``work`` (default: :class:`ThreadWork`, a pool
    of ``plan.forks`` threads here); every decision is taken here.

    ``bake`` watches the canaries' health after they pass (``strategy.bake``)
    and returns why they must not be trusted, or None.

    ``job.stop`` is set when the run halts (a failure past the policy, or a
    signal: ``interrupt``, or Ctrl-C where no handler is installed).
    """
    runner = work if work is not None else ThreadWork(job, plan.forks)
    try:
        return _run_batches(plan, hosts, job, policy, runner, on_failure=on_failure,
                            canary_only=canary_only, bake=bake,
                            signalled=interrupt or Interrupt())
    finally:
        if work is None:
            runner.close()


def _run_batches(plan: Plan, hosts: Sequence[Host], job: HostJob, policy: HaltPolicy,
                 work: HostWork, *, on_failure: OnFailure, canary_only: bool,
                 bake: Bake | None, signalled: Interrupt) -> FleetRun:
    """The batch loop of :func:`run_fleet`, then the fleet-wide rollback."""
    by_name = {h.name: h for h in hosts}
    outcomes: dict[str, HostOutcome] = {}
    halt_reason: list[str] = []
    canary_failed = False
    failed = 0

    def halt(why: str) -> None:
        if not halt_reason:
            halt_reason.append(why)
            job.stop.set()
            work.halt()
            job.sink.emit(Halted(why))

    for batch in plan.batches:
        if signalled.is_set():
            halt(signalled.why())
        if job.stop.is_set():
            _skip(batch.hosts, outcomes, job.sink)
            continue
        job.sink.emit(BatchStarted(batch.index, batch.hosts, batch.canary))

        def done(outcome: HostOutcome, canary: bool = batch.canary) -> None:
            nonlocal canary_failed, failed
            outcomes[outcome.name] = outcome
            if outcome.status in _FAILED:
                canary_failed = canary_failed or canary
                failed += 1  # a host finishes once: a running count, not a scan per failure
                decision = policy.decide(failed, canary_failed)
                if isinstance(decision, Halt):
                    halt(f"{outcome.name} failed: {outcome.error} — {decision.reason}")

        futures = [work.deploy(by_name[name]) for name in batch.hosts]
        wait_all(futures, done, lambda: halt(signalled.why()), signalled)
        if batch.canary and bake is not None and not job.stop.is_set():
            try:
                verdict = bake([by_name[name] for name in batch.hosts], signalled.event)
            except KeyboardInterrupt:
                signalled.event.set()
                verdict = None
            if signalled.is_set():
                verdict = f"{signalled.why()} during the canary bake"
            if verdict:
                halt(verdict)
        if batch.canary and canary_only and not job.stop.is_set():
            for later in plan.batches[batch.index + 1:]:
                _skip(later.hosts, outcomes, job.sink)
            break

    rollback_duration = None
    if halt_reason:
        # A failed host that is still touched was not rolled back on the spot: its
        # worker was lost (state unknown), or ``on_failure: halt`` leaves it be.
        undo = [o for o in outcomes.values() if o.status is HostStatus.INTERRUPTED
                or (on_failure == "rollback_all" and o.status is HostStatus.DEPLOYED)
                or (on_failure != "halt" and o.status is HostStatus.FAILED and o.touched)]
        if undo:
            start = time.monotonic()
            outcomes.update(roll_back_hosts(undo, by_name, job, work, reason=halt_reason[0]))
            rollback_duration = time.monotonic() - start
    return FleetRun(_outcome(outcomes, bool(halt_reason), canary_only), outcomes,
                    halt_reason[0] if halt_reason else None, rollback_duration)


_FAILED = (HostStatus.FAILED, HostStatus.ROLLED_BACK, HostStatus.ROLLBACK_FAILED)


def _skip(names: Iterable[str], outcomes: dict[str, HostOutcome], sink: EventSink) -> None:
    """Hosts never started: recorded (and reported) as skipped."""
    for name in names:
        outcomes[name] = HostOutcome(name, HostStatus.SKIPPED)
        sink.emit(HostFinished(name, HostStatus.SKIPPED, 0.0))


def roll_back_hosts(undo: Sequence[HostOutcome], by_name: dict[str, Host], job: HostJob,
                    work: HostWork, *, reason: str) -> dict[str, HostOutcome]:
    """Roll back this run's changes on ``undo`` hosts in parallel, ``forks`` at once (over
    their open connections, or fresh ones); each host's rollback is
    :func:`fleet.engine.pipeline.roll_back_after_halt`."""
    job.sink.emit(RollbackStarted(tuple(o.name for o in undo)))
    results: dict[str, HostOutcome] = {}
    futures = [work.roll_back(by_name[o.name], o, reason) for o in undo]
    wait_all(futures, lambda o: results.__setitem__(o.name, o), lambda: None)
    return results


def _outcome(outcomes: dict[str, HostOutcome], halted: bool, canary_only: bool) -> Outcome:
    """Name the run's outcome from where its hosts ended up."""
    statuses = {o.status for o in outcomes.values()}
    if HostStatus.ROLLBACK_FAILED in statuses:
        return Outcome.ROLLBACK_INCOMPLETE
    if halted:
        left_changed = HostStatus.DEPLOYED in statuses or any(
            o.touched for o in outcomes.values() if o.status is HostStatus.FAILED)
        return Outcome.HALTED if left_changed else Outcome.ROLLED_BACK
    if statuses & {HostStatus.FAILED, HostStatus.ROLLED_BACK}:
        return Outcome.PARTIAL
    return Outcome.CANARY_ONLY if canary_only else Outcome.SUCCESS
