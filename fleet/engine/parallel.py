"""The bounded pool every fleet-wide command uses: ``forks`` hosts at once, Ctrl-C aware.

:func:`parallel` runs one function per host and turns a :class:`FleetError` into a
``failed`` outcome; :func:`wait_all` collects futures while a signal can still stop
the hosts in flight at their next step boundary.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from fleet.engine.interrupts import Interrupt
from fleet.errors import FleetError, reason
from fleet.events import EventSink, HostFinished
from fleet.inventory.model import Host
from fleet.results import HostOutcome, HostStatus

T = TypeVar("T")
_POLL_S = 0.1  # how often the wait loop looks at the interrupt flag


def wait_all(futures: Iterable[Future[T]], on_done: Callable[[T], None],
             on_interrupt: Callable[[], None], interrupt: Interrupt | None = None) -> None:
    """Wait for every future, calling ``on_done`` per result. A signal (``interrupt``
    set, or a KeyboardInterrupt where no handler is installed) calls ``on_interrupt``
    once and the waiting goes on: hosts in flight stop at their next step boundary.

    Each finished future lands in a queue: the cost per host is constant, however
    many are pending (``concurrent.futures.wait`` walks them all on every call).
    """
    finished: queue.SimpleQueue[Future[T]] = queue.SimpleQueue()
    pending = 0
    for started in futures:
        pending += 1
        started.add_done_callback(finished.put)
    told = False
    while pending:
        future: Future[T] | None
        try:
            future = finished.get(timeout=_POLL_S)
        except queue.Empty:
            future = None
        except KeyboardInterrupt:
            on_interrupt()
            continue
        if future is not None:
            pending -= 1
            on_done(future.result())
        if interrupt is not None and interrupt.is_set() and not told:
            told = True
            on_interrupt()


def parallel(hosts: Sequence[Host], one: Callable[[Host, float], HostOutcome], forks: int,
             sink: EventSink) -> dict[str, HostOutcome]:
    """Run ``one(host, start)`` on every host, ``forks`` at once; errors become ``failed``."""
    results: dict[str, HostOutcome] = {}

    def guarded(host: Host) -> HostOutcome:
        start = time.monotonic()
        try:
            outcome = one(host, start)
        except FleetError as exc:
            outcome = HostOutcome(host.name, HostStatus.FAILED, time.monotonic() - start,
                                  error=reason(exc))
        sink.emit(HostFinished(host.name, outcome.status, outcome.duration, outcome.error))
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, min(forks, len(hosts)))) as pool:
        futures = [pool.submit(guarded, h) for h in hosts]
        wait_all(futures, lambda o: results.__setitem__(o.name, o), lambda: None)
    return results
