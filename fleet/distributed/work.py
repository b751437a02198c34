"""A rollout on a Dask cluster: :class:`DaskWork` sends each host's steps to a worker of
the host's zone, at most ``forks`` hosts at once (:class:`~fleet.distributed.pool.TaskPool`),
and hands back futures of their outcomes as :class:`~fleet.engine.hostwork.ThreadWork` does.

- A task that ends without an answer (:class:`~fleet.distributed.pool.Lost`: its
  worker killed, or its zone without a worker) leaves its host *unknown* if it
  had started: a touched failure for a deploy (the run halts; the host's
  rollback goes to another worker of the zone), ``rollback_failed`` for a
  rollback. One that never started left the host as it was.
- A halt sets a Dask ``Event`` that every task looks at between round trips;
  hosts not yet sent never start (``skipped``).
- The release is scattered to the workers once; step events come through
  Dask's event log as they happen, and a host's outcome is handed on only once
  its events have arrived, so the run log reads as in the embedded mode.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from distributed import Client, Event

from fleet.distributed import task
from fleet.distributed.pool import Lost, NotSent, TaskPool
from fleet.distributed.task import ConnectSettings, TaskSpec
from fleet.engine.pipeline import HostJob
from fleet.events import HostFinished
from fleet.inventory.model import Host
from fleet.results import HostOutcome, HostStatus


class DaskWork:
    """A :class:`~fleet.engine.hostwork.HostWork` on a Dask cluster (see the module doc)."""

    def __init__(self, client: Client, job: HostJob, settings: ConnectSettings,
                 forks: int) -> None:
        self._job = job
        self._pool = TaskPool(client, job.ctx.run_id, forks)
        self._spec = TaskSpec(ctx=job.ctx, command_timeout=job.timeout, connect=settings,
                              roll_back_failed=job.roll_back_failed,
                              stop_name=self._pool.name("stop"))
        self._payload = client.scatter(job.payload, broadcast=True, hash=False)
        self._stop = Event(self._spec.stop_name, client=client)
        self._closed = False

    def deploy(self, host: Host) -> Future[HostOutcome]:
        """See :meth:`fleet.engine.hostwork.HostWork.deploy`."""
        sent = self._pool.submit(host, "deploy", task.deploy, self._spec, self._payload,
                                 sink=self._job.sink)
        return self._outcome(sent, host, None)

    def roll_back(self, host: Host, outcome: HostOutcome, reason: str) -> Future[HostOutcome]:
        """See :meth:`fleet.engine.hostwork.HostWork.roll_back`."""
        sent = self._pool.submit(host, "rollback", task.roll_back, self._spec, outcome, reason,
                                 sink=self._job.sink)
        return self._outcome(sent, host, outcome)

    def halt(self) -> None:
        """Set the run's halt flag on the scheduler; hosts not yet sent never start."""
        self._pool.hold("deploy")
        self._stop.set()

    def close(self) -> None:
        """Wait for every task sent, then leave nothing of the run on the scheduler."""
        if self._closed:
            return
        self._closed = True
        try:
            self._pool.close(forget=[self._spec.stop_name])
        finally:
            self._payload.release()

    def _outcome(self, sent: Future[Any], host: Host, before: HostOutcome | None
                 ) -> Future[HostOutcome]:
        """The host's outcome once its task is settled: the task's, or what a task
        that never answered means (see the module doc)."""
        result: Future[HostOutcome] = Future()

        def settled(done: Future[Any]) -> None:
            try:
                outcome: HostOutcome = done.result()
            except NotSent:
                outcome = HostOutcome(host.name, HostStatus.SKIPPED)
                self._job.sink.emit(HostFinished(host.name, HostStatus.SKIPPED, 0.0))
            except Lost as lost:
                outcome = self._unknown(host, before, lost)
            result.set_result(outcome)

        sent.add_done_callback(settled)
        return result

    def _unknown(self, host: Host, before: HostOutcome | None, lost: Lost) -> HostOutcome:
        """The outcome of a task that ended without an answer: untouched if it never
        took its claim (it never started), else unknown (see the module doc)."""
        name = host.name
        if before is None:
            error = f"{task.LOST_MID_HOST} ({lost.why})" if lost.started else \
                f"its Dask task never started ({lost.why})"
            outcome = HostOutcome(name, HostStatus.FAILED, error=error, touched=lost.started,
                                  failed_step="unknown" if lost.started else "connect")
        else:
            error = f"{task.LOST_MID_ROLLBACK} ({lost.why})" if lost.started else \
                f"its rollback task never started ({lost.why})"
            earlier = f"{before.error}; then " if before.error else ""
            outcome = replace(before, status=HostStatus.ROLLBACK_FAILED,
                              error=f"{earlier}rollback failed: {error}")
        self._job.sink.emit(HostFinished(name, outcome.status, 0.0, error))
        return outcome
