"""The controller's side of a Dask run: :class:`DaskWork` sends each host's steps to a
worker of the host's zone, at most ``forks`` hosts at once, and hands back
futures of their outcomes as :class:`~fleet.engine.hostwork.ThreadWork` does.

- A host's zone is its ``fleet_zone`` var; a worker serves zone NAME when it
  declares the resource ``zone-NAME``. :func:`check_zones` refuses a run with a
  zone no worker serves before any host is contacted.
- Tasks are submitted with ``retries=0``; a task the scheduler runs again after
  its worker died refuses to run twice (see :mod:`fleet.distributed.task`). A
  task that ends in an error (its worker killed, ``KilledWorker``), or whose
  zone has no worker left, leaves its host *unknown*: a touched failure for a
  deploy (the run halts; the host's rollback goes to another worker of the
  zone), ``rollback_failed`` for a rollback.
- A halt sets a Dask ``Event`` that every task looks at between round trips.
- Step events come through Dask's event log as they happen; a host's outcome is
  handed on only once its events have arrived, so the run log reads as in the
  embedded mode.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter, deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

from distributed import Client, Event
from distributed import Future as DaskFuture

from fleet.distributed import task
from fleet.distributed.codec import decode
from fleet.distributed.task import TaskAnswer, TaskSpec
from fleet.engine.pipeline import HostJob
from fleet.errors import ConfigError
from fleet.events import HostFinished
from fleet.inventory.model import Host
from fleet.results import HostOutcome, HostStatus

log = logging.getLogger(__name__)
ZONE_VAR = "fleet_zone"
_WATCH_S = 0.5          # how often lost zones are looked for
_EVENTS_WAIT_S = 5.0    # how long an outcome waits for its host's last events


def zone_of(host: Host) -> str | None:
    """The host's ``fleet_zone`` (None: any worker may serve it)."""
    zone = host.vars.get(ZONE_VAR)
    return None if zone is None else str(zone)


def resource(zone: str) -> str:
    """The Dask worker resource that serves ``zone``."""
    return f"zone-{zone}"


def served_zones(client: Client) -> tuple[int, set[str]]:
    """How many workers the scheduler has, and every resource any of them declares."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    return len(workers), {r for w in workers.values() for r in (w.get("resources") or {})}


def check_zones(client: Client, hosts: Sequence[Host]) -> None:
    """Refuse a run that has a host no worker can serve.

    Raises:
        ConfigError: no worker at all, or a zone that no worker serves (named).
    """
    count, served = served_zones(client)
    if count == 0:
        raise ConfigError("the Dask scheduler has no worker; start one with `dask worker "
                          "SCHEDULER --resources zone-NAME=1000`", file="--scheduler")
    missing: dict[str, list[str]] = {}
    for host in hosts:
        zone = zone_of(host)
        if zone is not None and resource(zone) not in served:
            missing.setdefault(zone, []).append(host.name)
    for zone, names in missing.items():
        raise ConfigError(
            f"no Dask worker serves zone {zone!r} (hosts {', '.join(names[:5])}"
            f"{' …' if len(names) > 5 else ''}); start one with --resources "
            f"{resource(zone)}=1000", file="--scheduler", field=ZONE_VAR)


@dataclass
class _Task:
    host: Host
    phase: str
    result: Future[HostOutcome]
    outcome: HostOutcome | None = None   # for a rollback: the host's outcome before it
    reason: str = ""
    running: DaskFuture[TaskAnswer] | None = None
    settled: bool = False


class DaskWork:
    """A :class:`~fleet.engine.hostwork.HostWork` on a Dask cluster (see the module doc)."""

    def __init__(self, client: Client, job: HostJob, spec: TaskSpec, forks: int) -> None:
        self._client = client
        self._job = job
        self._spec = spec
        self._forks = max(1, forks)
        self._payload = client.scatter(job.payload, broadcast=True, hash=False)
        self._stop = Event(spec.stop_name, client=client)
        self._lock = threading.Condition()
        self._queued: deque[_Task] = deque()
        self._running: set[DaskFuture[TaskAnswer]] = set()
        self._tasks: dict[str, _Task] = {}
        self._halted = False
        self._closed = False
        self._seen: Counter[str] = Counter()
        self._events: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        client.subscribe_topic(spec.topic, lambda item: self._events.put(item[1]))
        self._threads = [threading.Thread(target=self._dispatch, name="dask-dispatch",
                                          daemon=True),
                         threading.Thread(target=self._relay, name="dask-events", daemon=True),
                         threading.Thread(target=self._watch, name="dask-zones", daemon=True)]
        for thread in self._threads:
            thread.start()

    def deploy(self, host: Host) -> Future[HostOutcome]:
        """See :meth:`fleet.engine.hostwork.HostWork.deploy`."""
        return self._queue(_Task(host, "deploy", Future()))

    def roll_back(self, host: Host, outcome: HostOutcome, reason: str) -> Future[HostOutcome]:
        """See :meth:`fleet.engine.hostwork.HostWork.roll_back`."""
        return self._queue(_Task(host, "rollback", Future(), outcome, reason))

    def halt(self) -> None:
        """Set the run's halt flag on the scheduler; hosts not yet sent never start."""
        with self._lock:
            self._halted = True
            self._lock.notify_all()
        self._stop.set()

    def close(self) -> None:
        """Wait for every task sent, stop the helper threads, drop the run's flags."""
        with self._lock:
            self._lock.wait_for(lambda: not self._running and not self._queued, timeout=60)
            self._closed = True
            self._lock.notify_all()
        self._events.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        self._client.unsubscribe_topic(self._spec.topic)
        self._stop.clear()

    def _queue(self, item: _Task) -> Future[HostOutcome]:
        with self._lock:
            self._queued.append(item)
            self._lock.notify_all()
        return item.result

    def _dispatch(self) -> None:
        """Send queued hosts while fewer than ``forks`` are at work; after a halt,
        a queued deploy never starts (``skipped``)."""
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._closed or self._ready(), timeout=0.5)
                if self._closed:
                    return
                if not self._ready():
                    continue
                item = self._queued.popleft()
                skip = self._halted and item.phase == "deploy"
                if not skip:
                    item.running = self._submit(item)
                    self._running.add(item.running)
                    self._tasks[str(item.running.key)] = item
                self._lock.notify_all()
            if skip:
                self._job.sink.emit(HostFinished(item.host.name, HostStatus.SKIPPED, 0.0))
                item.result.set_result(HostOutcome(item.host.name, HostStatus.SKIPPED))
            else:
                assert item.running is not None
                item.running.add_done_callback(lambda done, it=item: self._settle(it, done))

    def _ready(self) -> bool:
        """Something queued may go now (a free slot, or a deploy to skip after a halt)."""
        if not self._queued:
            return False
        return len(self._running) < self._forks or (
            self._halted and self._queued[0].phase == "deploy")

    def _submit(self, item: _Task) -> DaskFuture[TaskAnswer]:
        zone = zone_of(item.host)
        options: dict[str, Any] = {
            "pure": False, "retries": 0, "key": f"fleet-{self._spec.run_id}-{item.phase}-"
                                                f"{item.host.name}"}
        if zone is not None:
            options["resources"] = {resource(zone): 1}
        if item.phase == "deploy":
            return self._client.submit(task.deploy, item.host, self._spec, self._payload,
                                       **options)
        return self._client.submit(task.roll_back, item.host, item.outcome, self._spec,
                                   item.reason, **options)

    def _settle(self, item: _Task, done: DaskFuture[TaskAnswer], lost: str | None = None) -> None:
        """Hand the task's outcome on (once its events are in), or the unknown outcome;
        only the first call for a task counts (the watchdog and the callback may race)."""
        with self._lock:
            if item.settled:
                return
            item.settled = True
        try:
            answer: TaskAnswer = done.result() if lost is None else _raise(lost)
        except BaseException as exc:
            outcome = self._unknown(item, lost or f"{type(exc).__name__}: {exc}")
        else:
            self._await_events(task.task_key(item.phase, item.host.name), answer.events)
            outcome = answer.outcome
        with self._lock:
            self._running.discard(done)
            self._tasks.pop(str(done.key), None)
            self._lock.notify_all()
        item.result.set_result(outcome)
        done.release()

    def _unknown(self, item: _Task, why: str) -> HostOutcome:
        """The outcome of a task that ended without an answer: untouched if it never
        took its claim (it never started), else unknown (see the module doc)."""
        name = item.host.name
        started = self._claimed(task.task_key(item.phase, name))
        if item.phase == "deploy":
            error = f"{task.LOST_MID_HOST} ({why})" if started else \
                f"its Dask task never started ({why})"
            outcome = HostOutcome(name, HostStatus.FAILED, error=error, touched=started,
                                  failed_step="unknown" if started else "connect")
        else:
            assert item.outcome is not None
            error = f"{task.LOST_MID_ROLLBACK} ({why})" if started else \
                f"its rollback task never started ({why})"
            before = f"{item.outcome.error}; then " if item.outcome.error else ""
            outcome = replace(item.outcome, status=HostStatus.ROLLBACK_FAILED,
                              error=f"{before}rollback failed: {error}")
        self._job.sink.emit(HostFinished(name, outcome.status, 0.0, error))
        return outcome

    def _claimed(self, key: str) -> bool:
        """True if the task took its claim (or the scheduler cannot tell: assume so)."""
        try:
            return bool(Event(task.claim_name(self._spec, key), client=self._client).is_set())
        except Exception:
            log.debug("could not read the claim of %s", key, exc_info=True)
            return True

    def _await_events(self, key: str, count: int) -> None:
        with self._lock:
            self._lock.wait_for(lambda: self._seen[key] >= count, timeout=_EVENTS_WAIT_S)

    def _relay(self) -> None:
        """Hand each worker's step event to the run's sink, in the order it came."""
        while (wire := self._events.get()) is not None:
            try:
                event = decode({k: v for k, v in wire.items() if k != "task"})
            except ValueError:
                log.warning("dropped a malformed event from a worker: %r", wire)
                continue
            self._job.sink.emit(event)
            with self._lock:
                self._seen[str(wire.get("task"))] += 1
                self._lock.notify_all()

    def _watch(self) -> None:
        """Settle the tasks whose zone has no worker left: they would wait for ever."""
        while True:
            with self._lock:
                self._lock.wait(_WATCH_S)
                if self._closed:
                    return
                waiting = [t for t in self._tasks.values() if zone_of(t.host) is not None]
            if not waiting:
                continue
            try:
                _, served = served_zones(self._client)
            except Exception:  # the scheduler is busy or gone: look again later
                log.debug("could not read the workers' zones", exc_info=True)
                continue
            for item in waiting:
                zone = zone_of(item.host)
                if zone is not None and resource(zone) not in served and item.running:
                    running = item.running
                    running.cancel()
                    self._settle(item, running, lost=f"no worker of zone {zone!r} is left")


def _raise(why: str) -> TaskAnswer:
    raise RuntimeError(why)
