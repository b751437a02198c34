"""What runs on a Dask worker: one host's pipeline, its in-run rollback, or one
call of a command's fan-out (a probe, an undo, a health sample).

The worker connects with its own keys, agent and known_hosts (the paths the
inventory names are read on the worker); nothing secret comes from the
controller but a become password, and only over TLS (see
:func:`fleet.distributed.cluster.open_cluster`). Each step's events go back
through Dask's event log as they happen (:mod:`fleet.distributed.codec`).

A task runs a host's work at most once: before the first step it takes a
per-run, per-host claim on the scheduler (its :class:`Ticket`). A task that
finds the claim taken is a re-run (its first worker died, and the scheduler,
which fleet does not own, ran it again): it touches nothing and reports the
host's state as unknown. The controller clears the run's claims when the run
ends (:mod:`fleet.distributed.pool`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Generic, TypeVar

from distributed import Event, get_worker

from fleet.distributed.codec import encode
from fleet.engine.connections import Connections, connect
from fleet.engine.fanout import HostCall, Unread, make_call
from fleet.engine.pipeline import HostJob, roll_back_after_halt, run_host
from fleet.events import Event as FleetEvent
from fleet.events import HostFinished, StepFinished
from fleet.inventory.model import Host
from fleet.remote.context import DeployContext
from fleet.results import HostOutcome, HostStatus
from fleet.transport.jumpgate import JumpGate

T = TypeVar("T")

LOST_MID_HOST = ("its Dask worker was lost while the host was in flight: the host's state "
                 "is unknown")
LOST_MID_ROLLBACK = ("its Dask worker was lost during the rollback: the host's state is "
                     "unknown — `fleet recover` finishes it")
LOST_MID_CALL = ("its Dask worker was lost while working on the host: what it did there "
                 "is unknown")


@dataclass(frozen=True)
class ConnectSettings:
    """How workers connect to hosts (the same settings as the controller's connector)."""

    connect_timeout: float
    accept_new_hosts: bool
    become_password: str | None


@dataclass(frozen=True)
class Ticket:
    """What one task needs besides its work: where its events go, and its claim."""

    topic: str
    """The Dask event-log topic of the run's tasks."""
    key: str
    """The task's tag on that topic, unique in the run (``deploy:NAME``, ``call3:NAME``)."""
    claim: str
    """The Dask ``Event`` that says this task already started."""


@dataclass(frozen=True)
class TaskSpec:
    """What every host task of one rollout needs besides the host (no callables, no keys)."""

    ctx: DeployContext
    command_timeout: float
    connect: ConnectSettings
    roll_back_failed: bool
    stop_name: str
    """The Dask ``Event`` set when the run halts."""


@dataclass(frozen=True)
class TaskAnswer(Generic[T]):
    """A task's result: its value, and how many events it published first (the
    controller hands the value on once it has seen them all)."""

    value: T
    events: int


class _Publisher:
    """An EventSink that publishes to the run's topic, tagged with the task's key."""

    def __init__(self, ticket: Ticket) -> None:
        self._worker = get_worker()
        self._ticket = ticket
        self.count = 0

    def emit(self, event: FleetEvent) -> None:
        if isinstance(event, StepFinished) and event.step == "connect" and event.ok:
            event = replace(event, detail=f"from Dask worker {self._worker.name}")
        self._worker.log_event(self._ticket.topic, {"task": self._ticket.key, **encode(event)})
        self.count += 1


class _ClusterStop:
    """The run's halt flag, kept on the scheduler (a Dask ``Event``)."""

    def __init__(self, name: str) -> None:
        self._event = Event(name)

    def is_set(self) -> bool:
        return bool(self._event.is_set())

    def set(self) -> None:
        self._event.set()


def _claimed_first(ticket: Ticket) -> bool:
    """Take this task's claim; False if a run of it already took it (never runs twice:
    a re-run comes only after the first worker died, never alongside it)."""
    flag = Event(ticket.claim)
    if flag.is_set():
        return False
    flag.set()
    return True


def _job(spec: TaskSpec, payload: bytes, sink: _Publisher, connections: Connections) -> HostJob:
    return HostJob(ctx=spec.ctx, payload=payload, get_transport=connections.get,
                   reconnect=connections.fresh, sink=sink, stop=_ClusterStop(spec.stop_name),
                   timeout=spec.command_timeout, roll_back_failed=spec.roll_back_failed,
                   done_with=connections.drop)


def _connections(settings: ConnectSettings) -> Connections:
    return Connections(partial(connect, timeout=settings.connect_timeout,
                               accept_new_hosts=settings.accept_new_hosts,
                               become_password=settings.become_password, gate=JumpGate()))


def deploy(host: Host, ticket: Ticket, spec: TaskSpec, payload: bytes
           ) -> TaskAnswer[HostOutcome]:
    """Run the host's pipeline here (:func:`fleet.engine.pipeline.run_host`)."""
    sink = _Publisher(ticket)
    if not _claimed_first(ticket):
        outcome = HostOutcome(host.name, HostStatus.FAILED, 0.0, error=LOST_MID_HOST,
                              touched=True, failed_step="unknown")
        sink.emit(HostFinished(host.name, HostStatus.FAILED, 0.0, LOST_MID_HOST))
        return TaskAnswer(outcome, sink.count)
    connections = _connections(spec.connect)
    try:
        outcome = run_host(host, _job(spec, payload, sink, connections))
    finally:
        connections.close_all()
    return TaskAnswer(outcome, sink.count)


def roll_back(host: Host, ticket: Ticket, spec: TaskSpec, outcome: HostOutcome, reason: str
              ) -> TaskAnswer[HostOutcome]:
    """Roll back what the halted run did on the host, here
    (:func:`fleet.engine.pipeline.roll_back_after_halt`)."""
    sink = _Publisher(ticket)
    if not _claimed_first(ticket):
        sink.emit(HostFinished(host.name, HostStatus.ROLLBACK_FAILED, 0.0, LOST_MID_ROLLBACK))
        return TaskAnswer(HostOutcome(host.name, HostStatus.ROLLBACK_FAILED, 0.0,
                                      error=LOST_MID_ROLLBACK, touched=True), sink.count)
    connections = _connections(spec.connect)
    try:
        back = roll_back_after_halt(host, outcome, _job(spec, b"", sink, connections),
                                    reason=reason)
    finally:
        connections.close_all()
    return TaskAnswer(back, sink.count)


def call(host: Host, ticket: Ticket, settings: ConnectSettings, fn: HostCall[T]
         ) -> TaskAnswer[T | Unread]:
    """Make one call of a command's fan-out here, over a connection of its own
    (:func:`fleet.engine.fanout.make_call`); a re-run answers :data:`LOST_MID_CALL`."""
    sink = _Publisher(ticket)
    if not _claimed_first(ticket):
        return TaskAnswer(Unread(LOST_MID_CALL, connected=True), sink.count)
    connections = _connections(settings)
    try:
        result = make_call(host, fn, sink, connections)
    finally:
        connections.close_all()
    return TaskAnswer(result, sink.count)
