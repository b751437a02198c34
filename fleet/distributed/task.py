"""What runs on a Dask worker: one host's pipeline, or its in-run rollback.

The worker connects with its own keys, agent and known_hosts (the paths the
inventory names are read on the worker); nothing secret comes from the
controller but a become password, and only over TLS (see
:func:`fleet.distributed.work.open_cluster`). Each step's events go back
through Dask's event log as they happen (:mod:`fleet.distributed.codec`).

A task runs a host's steps at most once: before the first step it takes a
per-run, per-host claim on the scheduler. A task that finds the claim taken is
a re-run (its first worker died, and the scheduler, which fleet does not own,
ran it again): it touches nothing and reports the host's state as unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial

from distributed import Event, get_worker

from fleet.distributed.codec import encode
from fleet.engine.connections import Connections, connect
from fleet.engine.pipeline import HostJob, roll_back_after_halt, run_host
from fleet.events import Event as FleetEvent
from fleet.events import HostFinished, StepFinished
from fleet.inventory.model import Host
from fleet.remote.context import DeployContext
from fleet.results import HostOutcome, HostStatus
from fleet.transport.jumpgate import JumpGate

LOST_MID_HOST = ("its Dask worker was lost while the host was in flight: the host's state "
                 "is unknown")
LOST_MID_ROLLBACK = ("its Dask worker was lost during the rollback: the host's state is "
                     "unknown — `fleet recover` finishes it")


@dataclass(frozen=True)
class TaskSpec:
    """What every host task of one run needs besides the host (no callables, no keys)."""

    run_id: str
    ctx: DeployContext
    command_timeout: float
    connect_timeout: float
    accept_new_hosts: bool
    become_password: str | None
    roll_back_failed: bool
    topic: str
    """The Dask event-log topic the run's step events go to."""
    stop_name: str
    """The Dask ``Event`` set when the run halts."""


@dataclass(frozen=True)
class TaskAnswer:
    """A task's result: the host's outcome, and how many events it published first
    (the controller hands the outcome on once it has seen them all)."""

    outcome: HostOutcome
    events: int


class _Publisher:
    """An EventSink that publishes to the run's topic, tagged with the task's key."""

    def __init__(self, topic: str, key: str) -> None:
        self._worker = get_worker()
        self._topic = topic
        self._key = key
        self.count = 0

    def emit(self, event: FleetEvent) -> None:
        if isinstance(event, StepFinished) and event.step == "connect" and event.ok:
            event = replace(event, detail=f"from Dask worker {self._worker.name}")
        self._worker.log_event(self._topic, {"task": self._key, **encode(event)})
        self.count += 1


class _ClusterStop:
    """The run's halt flag, kept on the scheduler (a Dask ``Event``)."""

    def __init__(self, name: str) -> None:
        self._event = Event(name)

    def is_set(self) -> bool:
        return bool(self._event.is_set())

    def set(self) -> None:
        self._event.set()


def task_key(phase: str, host: str) -> str:
    """The tag of one host's task in the run's events: ``deploy:NAME`` or ``rollback:NAME``."""
    return f"{phase}:{host}"


def claim_name(spec: TaskSpec, key: str) -> str:
    """The scheduler-side flag that says a task of this run already started."""
    return f"fleet-claim-{spec.run_id}-{key}"


def _claimed_first(spec: TaskSpec, key: str) -> bool:
    """Take this task's claim; False if a run of it already took it (never runs twice:
    a re-run comes only after the first worker died, never alongside it)."""
    flag = Event(claim_name(spec, key))
    if flag.is_set():
        return False
    flag.set()
    return True


def _job(spec: TaskSpec, payload: bytes, sink: _Publisher, connections: Connections) -> HostJob:
    return HostJob(ctx=spec.ctx, payload=payload, get_transport=connections.get,
                   reconnect=connections.fresh, sink=sink, stop=_ClusterStop(spec.stop_name),
                   timeout=spec.command_timeout, roll_back_failed=spec.roll_back_failed,
                   done_with=connections.drop)


def _connections(spec: TaskSpec) -> Connections:
    return Connections(partial(connect, timeout=spec.connect_timeout,
                               accept_new_hosts=spec.accept_new_hosts,
                               become_password=spec.become_password, gate=JumpGate()))


def deploy(host: Host, spec: TaskSpec, payload: bytes) -> TaskAnswer:
    """Run the host's pipeline here (:func:`fleet.engine.pipeline.run_host`)."""
    key = task_key("deploy", host.name)
    sink = _Publisher(spec.topic, key)
    if not _claimed_first(spec, key):
        outcome = HostOutcome(host.name, HostStatus.FAILED, 0.0, error=LOST_MID_HOST,
                              touched=True, failed_step="unknown")
        sink.emit(HostFinished(host.name, HostStatus.FAILED, 0.0, LOST_MID_HOST))
        return TaskAnswer(outcome, sink.count)
    connections = _connections(spec)
    try:
        outcome = run_host(host, _job(spec, payload, sink, connections))
    finally:
        connections.close_all()
    return TaskAnswer(outcome, sink.count)


def roll_back(host: Host, outcome: HostOutcome, spec: TaskSpec, reason: str) -> TaskAnswer:
    """Roll back what the halted run did on the host, here
    (:func:`fleet.engine.pipeline.roll_back_after_halt`)."""
    key = task_key("rollback", host.name)
    sink = _Publisher(spec.topic, key)
    if not _claimed_first(spec, key):
        sink.emit(HostFinished(host.name, HostStatus.ROLLBACK_FAILED, 0.0, LOST_MID_ROLLBACK))
        return TaskAnswer(HostOutcome(host.name, HostStatus.ROLLBACK_FAILED, 0.0,
                                      error=LOST_MID_ROLLBACK, touched=True), sink.count)
    connections = _connections(spec)
    try:
        back = roll_back_after_halt(host, outcome, _job(spec, b"", sink, connections),
                                    reason=reason)
    finally:
        connections.close_all()
    return TaskAnswer(back, sink.count)
