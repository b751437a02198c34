"""Where a command's per-host reads and undos run: one call per host, ``forks`` at once.

``fleet rollback``, ``recover`` and ``status`` (and the canary bake) decide on
the controller and hand each host's work to a :class:`Fanout` as a
:data:`HostCall`: a function of the host, its open transport, the sink for the
host's step events and the moment the host started. :class:`ThreadFanout` runs
the calls in threads here, over connections it may keep open from one call to
the next; :class:`fleet.distributed.fanout.DaskFanout` runs them on Dask workers
of the hosts' zones, each call over a connection of its own. Either way a call
is made at most once per host, and a :class:`~fleet.errors.FleetError` (the
host could not be reached, or the call failed) comes back as :class:`Unread`.

A call that crosses to a Dask worker is pickled: make it a module-level
function, or a ``functools.partial`` of one over plain values.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypeVar

from fleet.engine.connections import Connections, Connector
from fleet.engine.parallel import wait_all
from fleet.errors import FleetError, reason
from fleet.events import EventSink
from fleet.inventory.model import Host
from fleet.results import HostOutcome, HostStatus
from fleet.transport.base import Transport

T = TypeVar("T")

HostCall = Callable[[Host, Transport, EventSink, float], T]
"""One host's work: ``call(host, transport, sink, started) -> value``; may raise a
FleetError. ``started`` is when the host's turn began (before its connection)."""


@dataclass(frozen=True)
class Unread:
    """Why a host's call gave no value; ``connected``: it answered (so it is not
    unreachable: the call failed or its answer was cut off)."""

    error: str
    connected: bool
    duration: float = 0.0


class Fanout(Protocol):
    """Runs one call per host, ``forks`` at once, and hands back each host's result."""

    def each(self, calls: Sequence[tuple[Host, HostCall[T]]], sink: EventSink, *,
             forks: int, keep_open: bool | Callable[[T], bool] = False,
             on_result: Callable[[Host, T | Unread], None] | None = None,
             ) -> dict[str, T | Unread]:
        """Make every host's call, at most ``forks`` at once; return host name → result.

        ``sink`` gets the calls' step events as they happen; ``on_result`` is
        called with each host's result as soon as it is in (after that host's
        events). ``keep_open`` (True, or a test of the value): leave the host's
        connection open for a later call, where connections can be kept.
        Never raises a FleetError: a failure is the host's :class:`Unread`.
        """
        ...

    def keep_only(self, names: Collection[str]) -> None:
        """Close the kept connections of every host but ``names``."""
        ...

    def close(self) -> None:
        """Close every connection and let go of what the calls left behind (idempotent)."""
        ...


class ThreadFanout:
    """Each call in a thread of this process, over a connection per host that may be
    kept from one call to the next (:class:`~fleet.engine.connections.Connections`)."""

    def __init__(self, connector: Connector) -> None:
        self._connections = Connections(connector)

    def each(self, calls: Sequence[tuple[Host, HostCall[T]]], sink: EventSink, *,
             forks: int, keep_open: bool | Callable[[T], bool] = False,
             on_result: Callable[[Host, T | Unread], None] | None = None,
             ) -> dict[str, T | Unread]:
        """See :meth:`Fanout.each`."""
        results: dict[str, T | Unread] = {}

        def one(host: Host, call: HostCall[T]) -> HostOutcome:
            result = self._call(host, call, sink, keep_open)
            results[host.name] = result
            if on_result is not None:
                on_result(host, result)
            return HostOutcome(host.name, HostStatus.UNCHANGED)

        if calls:
            with ThreadPoolExecutor(max_workers=max(1, min(forks, len(calls))),
                                    thread_name_prefix="host") as pool:
                wait_all([pool.submit(one, host, call) for host, call in calls],
                         lambda _: None, lambda: None)
        return results

    def _call(self, host: Host, call: HostCall[T], sink: EventSink,
              keep_open: bool | Callable[[T], bool]) -> T | Unread:
        result = make_call(host, call, sink, self._connections)
        if isinstance(result, Unread) or not (
                keep_open(result) if callable(keep_open) else keep_open):
            self._connections.drop(host)  # an Unread's may be broken: connect afresh later
        return result

    def keep_only(self, names: Collection[str]) -> None:
        """See :meth:`Fanout.keep_only`."""
        self._connections.keep_only(names)

    def close(self) -> None:
        """See :meth:`Fanout.close`."""
        self._connections.close_all()


def make_call(host: Host, call: HostCall[T], sink: EventSink, connections: Connections
              ) -> T | Unread:
    """Connect to ``host`` through ``connections`` (or reuse its open transport) and make
    ``call``; a FleetError on the way is the host's :class:`Unread`."""
    started = time.monotonic()
    connected = False
    try:
        transport = connections.get(host)
        connected = True
        return call(host, transport, sink, started)
    except FleetError as exc:
        return Unread(reason(exc), connected, time.monotonic() - started)
