"""``fleet recover``: after a controller died mid-run, put every host the run touched back.

The unfinished run is found from the state on the hosts alone: a lock, a
backup that was never committed, or a staging folder left behind. Every host
that run touched is rolled back from its backup, committed hosts included
(as long as nothing newer was deployed on top), so the fleet ends as before
the run. Run it only when no other fleet run is in progress.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from fleet.engine.connections import Connections, Connector
from fleet.engine.parallel import parallel
from fleet.engine.survey import (
    live_runs,
    probe_all,
    refuse_live,
    runs_to_undo,
    settle,
    takeover_token,
)
from fleet.errors import RunIsLive, reason
from fleet.events import (
    EventSink,
    RollbackStarted,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)
from fleet.inventory.model import Host
from fleet.remote import rollback
from fleet.results import HostOutcome, HostStatus, RunResult, in_order
from fleet.transport.base import send


def recover_fleet(name: str, target: str, hosts: Sequence[Host], connector: Connector,
                  sink: EventSink, *, run_id: str, only: str | None, forks: int,
                  timeout: float) -> RunResult:
    """Find unfinished runs (or just ``only``) on the hosts and roll their changes back."""
    start = time.monotonic()
    sink.emit(RunStarted(run_id, "recover", name, None, tuple(h.name for h in hosts), ()))
    connections = Connections(connector)
    try:
        states, unread = probe_all(name, target, hosts, connections, timeout, forks, sink)
        live = live_runs(states)
        if live:
            return refuse_live("recover", name, run_id, hosts, live, start, sink)
        unfinished = {only} if only else {r for s in states.values() for r in s.unfinished}
        todo = {h.name: runs_to_undo(states[h.name], unfinished) for h in hosts
                if h.name in states}
        connections.keep_only({n for n, runs in todo.items() if runs})  # the others are done
        sink.emit(RollbackStarted(tuple(n for n, runs in todo.items() if runs)))

        def one(host: Host, started: float) -> HostOutcome:
            try:
                return undo_runs(host, started)
            finally:
                connections.drop(host)

        def undo_runs(host: Host, started: float) -> HostOutcome:
            transport = connections.get(host)
            current: str | None = None
            for count, undo in enumerate(todo[host.name]):
                sink.emit(StepStarted(host.name, "rollback"))
                result = send(transport, rollback.script(
                    name, target, run_id, undo, force=True, missing_ok=True,
                    abandoned=takeover_token(states[host.name], undo),
                    command_timeout=timeout), timeout=timeout)
                try:
                    back = rollback.parse(result, host.name)
                except RunIsLive as exc:
                    if count:
                        raise
                    return HostOutcome(host.name, HostStatus.SKIPPED,
                                       time.monotonic() - started, error=reason(exc))
                current = back.release
                sink.emit(StepFinished(host.name, "rollback", True, time.monotonic() - started,
                                       detail=f"undid run {undo}"))
            return HostOutcome(host.name, HostStatus.ROLLED_BACK, time.monotonic() - started,
                               touched=True, release=current)

        busy = [h for h in hosts if todo.get(h.name)]
        done = parallel(busy, one, forks, sink)
    finally:
        connections.close_all()
    outcomes, outcome = settle(hosts, done, states, unread, empty=HostStatus.UNCHANGED)
    duration = time.monotonic() - start
    sink.emit(RunFinished(run_id, outcome, duration))
    return RunResult(run_id, "recover", name, None, outcome,
                     in_order(outcomes, (h.name for h in hosts)), duration,
                     recovered_runs=tuple(sorted(unfinished)))
