"""The per-host state machine: connect → prepare → stage → activate+validate → commit.

Two round trips after connecting: prepare and stage travel together (the
release follows the script on stdin; nothing in the target is touched yet),
then activate, validate and commit. A release over :data:`STAGE_WITH_PREPARE`
bytes is staged in a round trip of its own, so that a rerun (answered by
prepare alone) does not upload it, and so is a host that this controller's
run log says already holds the release (``HostJob.on_release``).

After the host is touched (lock and backup taken), any failure rolls the host
back on the spot (unless ``on_failure: halt``), so a failed host is always
either as before or, with ``halt``, left for a person with its backup intact.
Between round trips the host checks ``stop``: when the run halts, hosts in
flight stop at the next step boundary.

:func:`undo_own_changes` is the only in-run rollback: used right after a host's
own failure and, through :func:`roll_back_after_halt`, on every touched host
when the fleet halts (the orchestrator only fans it out).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from fleet.errors import (
    FleetError,
    NotStarted,
    RollbackFailed,
    StepFailed,
    TransportError,
    reason,
)
from fleet.errors import reason as reason_of
from fleet.events import EventSink, HostFinished, StepFinished, StepStarted
from fleet.inventory.model import Host
from fleet.remote import activate, commit, prepare, rollback, stage
from fleet.remote.context import DeployContext
from fleet.results import CommandResult, HostOutcome, HostStatus
from fleet.transport.base import Script, Transport, send

T = TypeVar("T")
log = logging.getLogger(__name__)

STAGE_WITH_PREPARE = 1 << 20
"""The largest release (its tar, in bytes) uploaded with prepare in one round trip."""


class StopFlag(Protocol):
    """Set when the run halts; a host looks at it between round trips (a
    ``threading.Event`` here, a Dask ``Event`` on a worker)."""

    def is_set(self) -> bool:
        """True once the run halted."""
        ...

    def set(self) -> None:
        """Halt the run."""
        ...


@dataclass(frozen=True)
class HostJob:
    """What one host's pipeline needs besides the host itself."""

    ctx: DeployContext
    payload: bytes
    get_transport: Callable[[Host], Transport]
    reconnect: Callable[[Host], Transport]
    sink: EventSink
    stop: StopFlag
    timeout: float
    roll_back_failed: bool = True
    on_release: frozenset[str] = frozenset()
    """Hosts this controller's run log says already hold the release: their prepare
    goes without the upload (a rerun then costs no bytes); if one does not hold
    it after all, it is staged in a round trip of its own."""
    done_with: Callable[[Host], None] = lambda host: None
    """Done with the host's connection for now (close it; ``get_transport`` reopens)."""


class _Stopped(Exception):
    """The run halted; this host stops at a step boundary."""


class _Runner:
    """Runs steps for one host and emits their events."""

    def __init__(self, host: Host, job: HostJob) -> None:
        self.host = host
        self.job = job
        self.transport: Transport | None = None
        self.current = "connect"
        """The step in flight: where an error without a step of its own (a lost
        connection, a timeout) happened."""

    def step(self, name: str, action: Callable[[], T], detail: Callable[[T], str] | None = None
             ) -> T:
        self.job.sink.emit(StepStarted(self.host.name, name))
        self.current = name
        start = time.monotonic()
        try:
            value = action()
        except Exception as exc:
            self.job.sink.emit(StepFinished(self.host.name, name, False,
                                            time.monotonic() - start, error=reason(exc)))
            raise
        self.job.sink.emit(StepFinished(self.host.name, name, True, time.monotonic() - start,
                                        detail=detail(value) if detail else None))
        return value

    def send(self, script: Script) -> CommandResult:
        assert self.transport is not None
        return send(self.transport, script, timeout=self.job.timeout)

    def boundary(self) -> None:
        if self.job.stop.is_set():
            raise _Stopped


def run_host(host: Host, job: HostJob) -> HostOutcome:
    """Deploy the release to one host; never raises a FleetError (it becomes the outcome).

    The host's connection is released when it is done, unless the run has
    halted: then the fleet-wide rollback is about to use it.
    """
    try:
        return _deploy(host, job)
    finally:
        if not job.stop.is_set():
            job.done_with(host)


def _deploy(host: Host, job: HostJob) -> HostOutcome:
    start = time.monotonic()
    runner = _Runner(host, job)
    ctx = job.ctx
    touched = False
    prepared: prepare.Prepared | None = None
    try:
        runner.boundary()
        runner.transport = runner.step("connect", lambda: job.get_transport(host))
        runner.boundary()  # connected after a halt: leave the host untouched
        together = len(job.payload) <= STAGE_WITH_PREPARE and host.name not in job.on_release
        answer: list[CommandResult] = []
        try:
            prepared = runner.step("prepare", lambda: _prepare(runner, together, answer),
                                   _describe_prepared)
        except TransportError:
            touched = True  # the lock and backup may have been taken before the answer was lost
            raise
        if isinstance(prepared, prepare.Unchanged):
            return _finish(job, host, start, HostStatus.UNCHANGED, release=ctx.release.id)
        touched = True
        if together:
            runner.step("stage", lambda: stage.parse(answer[0], ctx, host.name),
                        lambda _: "with prepare, no round trip of its own")
        else:
            runner.boundary()
            runner.step("stage", lambda: stage.parse(
                runner.send(stage.script(ctx, job.payload)), ctx, host.name))
        runner.boundary()
        activated = runner.step("activate", lambda: activate.parse(
            runner.send(activate.script(ctx, commit=True)), ctx, host.name),
            lambda done: f"{len(done.outcomes)} checks passed"
            + (", committed in the same round trip" if done.committed else ""))
        if activated.committed:
            runner.step("commit", lambda: None, lambda _: "with activate, no round trip of its own")
        else:
            runner.step("commit", lambda: commit.parse(runner.send(commit.script(ctx)), ctx,
                                                       host.name))
        return _finish(job, host, start, HostStatus.DEPLOYED, release=ctx.release.id,
                       prepared=prepared, touched=True)
    except _Stopped:
        status = HostStatus.INTERRUPTED if touched else HostStatus.SKIPPED
        return _finish(job, host, start, status, touched=touched, prepared=prepared,
                       error="stopped: the run halted" if touched else None)
    except Exception as exc:  # a bug must not leave a host half-changed: fail and roll back
        if not isinstance(exc, FleetError):
            log.exception("internal error on %s", host.name)
        failed_step = getattr(exc, "step", None) or runner.current
        if not touched:
            return _finish(job, host, start, HostStatus.FAILED, error=reason(exc),
                           failed_step=failed_step)
        if not job.roll_back_failed:
            return _finish(job, host, start, HostStatus.FAILED, error=reason(exc),
                           touched=True, prepared=prepared, failed_step=failed_step)
        status, error, back = _undo_after_failure(runner, exc)
        return _finish(job, host, start, status, error=error, touched=True, prepared=prepared,
                       failed_step=failed_step, release=back.release if back else None)


def _prepare(runner: _Runner, together: bool, answer: list[CommandResult]
             ) -> prepare.Unchanged | prepare.Ready:
    """Send the prepare script (``together``: with stage and the release; the
    answer is kept in ``answer`` for stage to read); a deployment locked by
    another run fails the step."""
    ctx = runner.job.ctx
    result = runner.send(prepare.script(ctx, runner.job.payload if together else None))
    answer.append(result)
    prepared = prepare.parse(result, ctx, runner.host.name)
    if isinstance(prepared, prepare.Locked):
        raise StepFailed(runner.host.name, "preflight",
                         f"the deployment is locked by run {prepared.holder}; wait for that "
                         "run to finish (if it died, `fleet recover` puts its hosts back)")
    return prepared


def _undo_after_failure(runner: _Runner, exc: Exception
                        ) -> tuple[HostStatus, str, rollback.RolledBack | None]:
    """Roll the host back right after its own failure (force: the files are ours).

    After a transport error the old connection may be dead while the host is
    reachable again: connect afresh (bounded by the connect timeout) first.
    """
    job = runner.job
    cause = reason(exc)
    try:
        if runner.transport is None or isinstance(exc, TransportError):
            runner.transport = job.reconnect(runner.host)
        back = runner.step("rollback", lambda: undo_own_changes(runner.host, job))
    except (RollbackFailed, TransportError, StepFailed, NotStarted) as undo_exc:
        return HostStatus.ROLLBACK_FAILED, f"{cause}; then rollback failed: {reason(undo_exc)}", \
            None
    return HostStatus.ROLLED_BACK, cause, back


def undo_own_changes(host: Host, job: HostJob) -> rollback.RolledBack:
    """Roll back this run's own changes on ``host`` (the in-run rollback: no drift
    check, and a run that never completed its backup only releases its lock and
    staging), over the host's open connection, or a fresh one if that broke.

    Raises:
        RollbackFailed: the host could not be put back.
        TransportError: the host could not be reached.
    """
    script = rollback.in_run_script(job.ctx)
    try:
        result = send(job.get_transport(host), script, timeout=job.timeout)
    except TransportError:  # the cached connection broke: one fresh try
        result = send(job.reconnect(host), script, timeout=job.timeout)
    return rollback.parse(result, host.name)


def roll_back_after_halt(host: Host, outcome: HostOutcome, job: HostJob, *,
                         reason: str) -> HostOutcome:
    """Roll back a host the halted run touched (with :func:`undo_own_changes`) and return
    its new outcome: ``rolled_back``, or ``rollback_failed`` with why. Never raises a
    :class:`FleetError`."""
    start = time.monotonic()
    job.sink.emit(StepStarted(host.name, "rollback"))
    try:
        back = undo_own_changes(host, job)
    except FleetError as exc:
        job.done_with(host)
        took = time.monotonic() - start
        why = reason_of(exc)
        job.sink.emit(StepFinished(host.name, "rollback", False, took, error=why))
        job.sink.emit(HostFinished(host.name, HostStatus.ROLLBACK_FAILED, took, why))
        return replace(outcome, status=HostStatus.ROLLBACK_FAILED,
                       error=f"rollback failed: {why}")
    job.done_with(host)
    took = time.monotonic() - start
    job.sink.emit(StepFinished(host.name, "rollback", True, took))
    job.sink.emit(HostFinished(host.name, HostStatus.ROLLED_BACK, took,
                               outcome.error or f"rolled back: {reason}"))
    return replace(outcome, status=HostStatus.ROLLED_BACK, release=back.release,
                   error=outcome.error or "rolled back: the run halted")


def _finish(job: HostJob, host: Host, start: float, status: HostStatus, *,
            error: str | None = None, touched: bool = False, release: str | None = None,
            prepared: prepare.Prepared | None = None, failed_step: str | None = None,
            ) -> HostOutcome:
    duration = time.monotonic() - start
    ready = prepared if isinstance(prepared, prepare.Ready) else None
    outcome = HostOutcome(
        name=host.name, status=status, duration=duration, error=error, touched=touched,
        release=release, created=ready.created if ready else (),
        replaced=ready.replaced if ready else (), failed_step=failed_step,
    )
    if status is not HostStatus.INTERRUPTED:
        job.sink.emit(HostFinished(host.name, status, duration, error))
    return outcome


def _describe_prepared(value: prepare.Unchanged | prepare.Ready) -> str:
    if isinstance(value, prepare.Ready):
        return f"backed up; {len(value.replaced)} to replace, {len(value.created)} to create"
    return "already on the release"
