"""Where each host's steps run: :class:`ThreadWork` (threads of this process, the
default) or a Dask cluster (:mod:`fleet.distributed.work`); the orchestrator
decides, this only carries out. A :class:`Place` gives both kinds of per-host
work a command has: a rollout's (:class:`HostWork`) and the reads and undos of
the other commands and of the canary bake (:class:`~fleet.engine.fanout.Fanout`).

A :class:`HostWork` starts one host's deploy or in-run rollback and hands back a
future of its :class:`~fleet.results.HostOutcome`; it never raises a
:class:`~fleet.errors.FleetError` through the future (a failure is the outcome),
and never runs a host's steps twice by itself.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from fleet.engine.connections import Connector
from fleet.engine.fanout import Fanout, ThreadFanout
from fleet.engine.pipeline import HostJob, roll_back_after_halt, run_host
from fleet.inventory.model import Host
from fleet.results import HostOutcome


class HostWork(Protocol):
    """Runs hosts' steps somewhere, at most ``forks`` hosts at once."""

    def deploy(self, host: Host) -> Future[HostOutcome]:
        """Start the host's pipeline (:func:`fleet.engine.pipeline.run_host`)."""
        ...

    def roll_back(self, host: Host, outcome: HostOutcome, reason: str) -> Future[HostOutcome]:
        """Start the in-run rollback of a host the halted run touched
        (:func:`fleet.engine.pipeline.roll_back_after_halt`)."""
        ...

    def halt(self) -> None:
        """Tell every host in flight to stop at its next step boundary."""
        ...

    def close(self) -> None:
        """Wait for what was started, then free the workers (idempotent)."""
        ...


class ThreadWork:
    """Each host in a thread of this process: one pool of ``forks`` threads per run."""

    def __init__(self, job: HostJob, forks: int) -> None:
        self._job = job
        self._pool = ThreadPoolExecutor(max_workers=max(1, forks), thread_name_prefix="host")

    def deploy(self, host: Host) -> Future[HostOutcome]:
        """See :meth:`HostWork.deploy`."""
        return self._pool.submit(run_host, host, self._job)

    def roll_back(self, host: Host, outcome: HostOutcome, reason: str) -> Future[HostOutcome]:
        """See :meth:`HostWork.roll_back`."""
        return self._pool.submit(roll_back_after_halt, host, outcome, self._job, reason=reason)

    def halt(self) -> None:
        """See :meth:`HostWork.halt`."""
        self._job.stop.set()

    def close(self) -> None:
        """See :meth:`HostWork.close`."""
        self._pool.shutdown(wait=True)


class Place(Protocol):
    """Where a command's per-host work runs; the command decides everything else."""

    def work(self, job: HostJob, forks: int) -> HostWork:
        """Where a rollout's hosts run their pipelines (closed by the caller)."""
        ...

    def fanout(self, run_id: str) -> Fanout:
        """Where ``run_id``'s per-host reads and undos run (closed by the caller)."""
        ...


class Here:
    """Every host's work in threads of this process, connecting with ``connector``."""

    def __init__(self, connector: Connector) -> None:
        self._connector = connector

    def work(self, job: HostJob, forks: int) -> HostWork:
        """See :meth:`Place.work`: a :class:`ThreadWork` (``job`` holds the connections)."""
        return ThreadWork(job, forks)

    def fanout(self, run_id: str) -> Fanout:
        """See :meth:`Place.fanout`: a :class:`~fleet.engine.fanout.ThreadFanout`."""
        return ThreadFanout(self._connector)
