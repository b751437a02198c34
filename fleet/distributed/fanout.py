"""A command's per-host reads and undos on a Dask cluster: :class:`DaskFanout` is the
:class:`~fleet.engine.fanout.Fanout` of ``fleet rollback``, ``recover``, ``status``,
``rollout --check`` and the canary bake under ``--scheduler``.

Each host's call runs on a worker of the host's zone (:func:`fleet.distributed.task.call`),
over a connection of its own: a host probed and then undone connects twice, once
per call, since the two calls may land on different workers of its zone. A call
whose worker is lost mid-way, or whose zone has no worker left, is the host's
:class:`~fleet.engine.fanout.Unread` (what it did there is unknown), so an
undo becomes a rollback failure that ``fleet recover`` finishes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from distributed import Client

from fleet.distributed import task
from fleet.distributed.pool import Lost, TaskPool
from fleet.distributed.task import ConnectSettings
from fleet.engine.fanout import HostCall, Unread
from fleet.engine.parallel import wait_all
from fleet.events import EventSink
from fleet.inventory.model import Host

T = TypeVar("T")


class DaskFanout:
    """Runs each host's call on a Dask worker of its zone (see the module doc)."""

    def __init__(self, client: Client, settings: ConnectSettings, run_id: str) -> None:
        self._client = client
        self._settings = settings
        self._run_id = run_id
        self._pool: TaskPool | None = None
        self._rounds = 0

    def each(self, calls: Sequence[tuple[Host, HostCall[T]]], sink: EventSink, *,
             forks: int, keep_open: bool | Callable[[T], bool] = False,
             on_result: Callable[[Host, T | Unread], None] | None = None,
             ) -> dict[str, T | Unread]:
        """See :meth:`fleet.engine.fanout.Fanout.each` (``keep_open`` has no effect:
        a call's connection lives on its worker for that call only)."""
        if not calls:
            return {}
        if self._pool is None:
            self._pool = TaskPool(self._client, self._run_id, forks)
        self._pool.forks = max(1, forks)
        self._rounds += 1
        phase = f"call{self._rounds}"
        results: dict[str, T | Unread] = {}
        pending = [self._answer(host, self._pool.submit(host, phase, task.call, self._settings,
                                                        call, sink=sink))
                   for host, call in calls]

        def arrived(answer: tuple[Host, T | Unread]) -> None:
            host, result = answer
            results[host.name] = result
            if on_result is not None:
                on_result(host, result)

        wait_all(pending, arrived, lambda: None)
        return results

    def keep_only(self, names: Collection[str]) -> None:
        """See :meth:`fleet.engine.fanout.Fanout.keep_only`: nothing is kept here."""

    def close(self) -> None:
        """Leave nothing of this fan-out on the scheduler (idempotent)."""
        if self._pool is not None:
            self._pool.close()

    @staticmethod
    def _answer(host: Host, sent: Future[Any]) -> Future[tuple[Host, Any]]:
        """The host and its call's result once the task is settled; a lost task is
        the host's :class:`Unread`."""
        result: Future[tuple[Host, Any]] = Future()

        def settled(done: Future[Any]) -> None:
            try:
                value = done.result()
            except Lost as lost:
                why = f"{task.LOST_MID_CALL} ({lost.why})" if lost.started else \
                    f"its Dask task never started ({lost.why})"
                value = Unread(why, connected=lost.started)
            result.set_result((host, value))

        sent.add_done_callback(settled)
        return result
