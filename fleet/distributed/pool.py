"""The controller's side of one run's Dask tasks: :class:`TaskPool` sends host tasks
to workers of the hosts' zones, at most ``forks`` at once, relays their step events
as they happen, and hands back each task's value once its events are in.

- Tasks are submitted with ``retries=0``; a task the scheduler runs again after
  its worker died refuses to run twice (its claim, :mod:`fleet.distributed.task`).
- A task that ends in an error (its worker killed, ``KilledWorker``), or whose
  zone has no worker left (looked for every 0.5 s), ends in :class:`Lost`,
  saying whether it had started (taken its claim).
- After a halt, tasks of a held phase that have not gone to a worker yet never
  go (:class:`NotSent`).
- :meth:`TaskPool.close` leaves nothing of the run on the scheduler: the run's
  claims and flags are cleared and its event topic dropped, so a long-lived
  scheduler does not grow run by run.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
from collections import Counter, deque
from collections.abc import Callable, Collection
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from distributed import Client, Event
from distributed import Future as DaskFuture

from fleet.distributed.codec import decode
from fleet.distributed.task import TaskAnswer, Ticket
from fleet.distributed.zones import resource, served_zones, zone_of
from fleet.events import EventSink
from fleet.inventory.model import Host

log = logging.getLogger(__name__)
_WATCH_S = 0.5          # how often lost zones are looked for
_EVENTS_WAIT_S = 5.0    # how long a value waits for its task's last events
_CLOSE_WAIT_S = 60.0    # how long close waits for the tasks still at work


class Lost(Exception):
    """A task ended without an answer: ``why``, and whether it had ``started``
    (taken its claim: the host may have been touched)."""

    def __init__(self, why: str, started: bool) -> None:
        super().__init__(why)
        self.why = why
        self.started = started


class NotSent(Exception):
    """The run halted before this task went to a worker: it never started."""


@dataclass(eq=False)
class _Task:
    host: Host
    phase: str
    ticket: Ticket
    fn: Callable[..., TaskAnswer[Any]]
    args: tuple[Any, ...]
    sink: EventSink
    result: Future[Any] = field(default_factory=Future)
    running: DaskFuture[TaskAnswer[Any]] | None = None
    settled: bool = False


class TaskPool:
    """One run's host tasks on a Dask cluster (see the module doc)."""

    def __init__(self, client: Client, run_id: str, forks: int) -> None:
        self._client = client
        self._run_id = run_id
        self._token = secrets.token_hex(4)
        self.topic = self.name("events")
        self.forks = max(1, forks)
        self._lock = threading.Condition()
        self._queued: deque[_Task] = deque()
        self._running: dict[str, _Task] = {}     # by Dask key
        self._by_tag: dict[str, _Task] = {}      # by ticket key, until settled
        self._seen: Counter[str] = Counter()
        self._held: set[str] = set()
        self._claims: list[str] = []
        self._closed = False
        self._events: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        # the subscription travels on the client's stream before any task does
        client.subscribe_topic(self.topic, lambda item: self._events.put(item[1]))
        self._threads = [threading.Thread(target=self._dispatch, name="dask-dispatch",
                                          daemon=True),
                         threading.Thread(target=self._relay, name="dask-events", daemon=True),
                         threading.Thread(target=self._watch, name="dask-zones", daemon=True)]
        for thread in self._threads:
            thread.start()

    def name(self, what: str) -> str:
        """A scheduler-side name of this pool's, e.g. its halt flag's."""
        return f"fleet-{what}-{self._run_id}-{self._token}"

    def submit(self, host: Host, phase: str, fn: Callable[..., TaskAnswer[Any]], *args: Any,
               sink: EventSink) -> Future[Any]:
        """Queue ``fn(host, ticket, *args)`` for a worker of the host's zone; return a
        future of its value (or :class:`Lost`, :class:`NotSent`). Its step events go
        to ``sink`` as they happen. ``phase`` + host name is unique in the pool."""
        tag = f"{phase}:{host.name}"
        item = _Task(host, phase, Ticket(self.topic, tag, self.name(f"claim-{tag}")), fn, args,
                     sink)
        with self._lock:
            self._queued.append(item)
            self._by_tag[tag] = item
            self._claims.append(item.ticket.claim)
            self._lock.notify_all()
        return item.result

    def hold(self, phase: str) -> None:
        """Tasks of ``phase`` that have not gone to a worker never go (after a halt)."""
        with self._lock:
            self._held.add(phase)
            self._lock.notify_all()

    def close(self, forget: Collection[str] = ()) -> None:
        """Wait for the tasks at work, stop the helper threads, and clear the run's
        claims, the ``forget`` flags and its event topic on the scheduler (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._lock.wait_for(lambda: not self._running and not self._queued,
                                timeout=_CLOSE_WAIT_S)
            self._closed = True
            self._lock.notify_all()
        self._events.put(None)
        for thread in self._threads:
            thread.join(timeout=5)
        self._forget([*self._claims, *forget])

    def _forget(self, flags: list[str]) -> None:
        """Leave nothing of this pool on the scheduler (see :func:`forget_on_scheduler`)."""
        try:
            self._client.run_on_scheduler(forget_on_scheduler, topic=self.topic, flags=flags)
        except Exception:  # e.g. a scheduler without fleet: the public calls, one by one
            log.warning("could not clear this run's flags on the Dask scheduler in one call; "
                        "clearing them one by one (its empty event topic stays)", exc_info=True)
            self._client.unsubscribe_topic(self.topic)
            for flag in flags:
                Event(flag, client=self._client).clear()

    def _ready(self) -> bool:
        """Something queued may go now: a free slot, or a held task to drop."""
        if not self._queued:
            return False
        return len(self._running) < self.forks or self._queued[0].phase in self._held

    def _dispatch(self) -> None:
        """Send queued tasks while fewer than ``forks`` are at work; a held one never goes."""
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._closed or self._ready(), timeout=_WATCH_S)
                if self._closed:
                    return
                if not self._ready():
                    continue
                item = self._queued.popleft()
                held = item.phase in self._held
                if held:
                    self._by_tag.pop(item.ticket.key, None)
                else:
                    item.running = self._send(item)
                    self._running[str(item.running.key)] = item
                self._lock.notify_all()
            if held:
                item.result.set_exception(NotSent(item.host.name))
            else:
                assert item.running is not None
                item.running.add_done_callback(partial(self._settle, item))

    def _send(self, item: _Task) -> DaskFuture[TaskAnswer[Any]]:
        zone = zone_of(item.host)
        options: dict[str, Any] = {"pure": False, "retries": 0,
                                   "key": f"fleet-{self._run_id}-{self._token}-{item.phase}-"
                                          f"{item.host.name}"}
        if zone is not None:
            options["resources"] = {resource(zone): 1}
        return self._client.submit(item.fn, item.host, item.ticket, *item.args, **options)

    def _settle(self, item: _Task, done: DaskFuture[TaskAnswer[Any]], lost: str | None = None
                ) -> None:
        """Hand the task's value on (once its events are in), or :class:`Lost`; only the
        first call for a task counts (the zone watch and the callback may race)."""
        with self._lock:
            if item.settled:
                return
            item.settled = True
        error: Lost | None = None
        value: Any = None
        try:
            if lost is not None:
                raise RuntimeError(lost)
            answer: TaskAnswer[Any] = done.result()
        except BaseException as exc:  # KilledWorker, cancelled, or the watch's verdict
            error = Lost(lost or f"{type(exc).__name__}: {exc}", self._claimed(item.ticket))
        else:
            self._await_events(item.ticket.key, answer.events)
            value = answer.value
        with self._lock:
            self._running.pop(str(done.key), None)
            self._by_tag.pop(item.ticket.key, None)
            self._seen.pop(item.ticket.key, None)
            self._lock.notify_all()
        if error is not None:
            item.result.set_exception(error)
        else:
            item.result.set_result(value)
        done.release()

    def _claimed(self, ticket: Ticket) -> bool:
        """True if the task took its claim (or the scheduler cannot tell: assume so)."""
        try:
            return bool(Event(ticket.claim, client=self._client).is_set())
        except Exception:
            log.debug("could not read the claim of %s", ticket.key, exc_info=True)
            return True

    def _await_events(self, tag: str, count: int) -> None:
        with self._lock:
            self._lock.wait_for(lambda: self._seen[tag] >= count, timeout=_EVENTS_WAIT_S)

    def _relay(self) -> None:
        """Hand each worker's step event to its task's sink, in the order it came."""
        while (wire := self._events.get()) is not None:
            tag = str(wire.get("task"))
            with self._lock:
                item = self._by_tag.get(tag)
            if item is None:
                log.debug("an event of a task no longer awaited: %r", wire)
                continue
            try:
                item.sink.emit(decode({k: v for k, v in wire.items() if k != "task"}))
            except ValueError:
                log.warning("dropped a malformed event from a worker: %r", wire)
            with self._lock:
                self._seen[tag] += 1
                self._lock.notify_all()

    def _watch(self) -> None:
        """Settle the tasks whose zone has no worker left: they would wait for ever."""
        while True:
            with self._lock:
                self._lock.wait(_WATCH_S)
                if self._closed:
                    return
                waiting = [t for t in self._running.values() if zone_of(t.host) is not None]
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


def forget_on_scheduler(dask_scheduler: Any, topic: str, flags: list[str]) -> None:
    """Run on the scheduler (``Client.run_on_scheduler``): clear ``flags`` (Dask
    ``Event`` s) through the events extension's own ``event_clear``, which drops an
    event nobody waits on, and drop ``topic`` from the event log with its
    subscriptions and history (Dask has no public call for that: a topic is kept
    for ever otherwise, with up to ``distributed.admin.low-level-log-length`` events).
    """
    events = dask_scheduler.extensions["events"]
    for flag in flags:
        events.event_clear(name=flag)
    topics = getattr(getattr(dask_scheduler, "_broker", None), "_topics", None)
    if isinstance(topics, dict):
        topics.pop(topic, None)
