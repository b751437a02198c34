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
from functools import partial

from fleet.engine.connections import Connector
from fleet.engine.hostwork import Here, Place
from fleet.engine.survey import (
    live_runs,
    outcomes_of,
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
from fleet.remote import probe, rollback
from fleet.remote.liveness import Owner, this_controller
from fleet.results import HostOutcome, HostStatus, RunResult, in_order
from fleet.transport.base import Transport, send


def recover_fleet(name: str, target: str, hosts: Sequence[Host], connector: Connector,
                  sink: EventSink, *, run_id: str, only: str | None, forks: int,
                  timeout: float, place: Place | None = None) -> RunResult:
    """Find unfinished runs (or just ``only``) on the hosts and roll their changes back.

    Each host's probe and undo run where ``place`` says (default: threads here,
    connecting with ``connector``); which runs to undo is decided here."""
    start = time.monotonic()
    sink.emit(RunStarted(run_id, "recover", name, None, tuple(h.name for h in hosts), ()))
    fanout = (place or Here(connector)).fanout(run_id)
    try:
        states, unread = probe_all(name, target, hosts, fanout, timeout, forks, sink)
        live = live_runs(states)
        if live:
            return refuse_live("recover", name, run_id, hosts, live, start, sink)
        unfinished = {only} if only else {r for s in states.values() for r in s.unfinished}
        todo = {h.name: runs_to_undo(states[h.name], unfinished) for h in hosts
                if h.name in states}
        fanout.keep_only({n for n, runs in todo.items() if runs})  # the others are done
        sink.emit(RollbackStarted(tuple(n for n, runs in todo.items() if runs)))
        calls = [(h, partial(_undo_runs, runs=tuple(todo[h.name]), state=states[h.name],
                             run_id=run_id, name=name, target=target, timeout=timeout,
                             owner=this_controller()))
                 for h in hosts if todo.get(h.name)]
        done = outcomes_of(fanout, calls, sink, forks)
    finally:
        fanout.close()
    outcomes, outcome = settle(hosts, done, states, unread, empty=HostStatus.UNCHANGED)
    duration = time.monotonic() - start
    sink.emit(RunFinished(run_id, outcome, duration))
    return RunResult(run_id, "recover", name, None, outcome,
                     in_order(outcomes, (h.name for h in hosts)), duration,
                     recovered_runs=tuple(sorted(unfinished)))


def _undo_runs(host: Host, transport: Transport, sink: EventSink, started: float, *,
               runs: tuple[str, ...], state: probe.DeploymentState, run_id: str, name: str,
               target: str, timeout: float, owner: Owner) -> HostOutcome:
    """Roll back ``runs`` on the host, newest first (a :data:`~fleet.engine.fanout.HostCall`;
    ``owner``: the controller, named by the lock each undo takes).

    Raises:
        FleetError: an undo failed (the host is then a rollback failure).
    """
    current: str | None = None
    for count, undo in enumerate(runs):
        sink.emit(StepStarted(host.name, "rollback"))
        result = send(transport, rollback.script(
            name, target, run_id, undo, force=True, missing_ok=True,
            abandoned=takeover_token(state, undo), command_timeout=timeout, owner=owner),
            timeout=timeout)
        try:
            back = rollback.parse(result, host.name)
        except RunIsLive as exc:
            if count:
                raise
            return HostOutcome(host.name, HostStatus.SKIPPED, time.monotonic() - started,
                               error=reason(exc))
        current = back.release
        sink.emit(StepFinished(host.name, "rollback", True, time.monotonic() - started,
                               detail=f"undid run {undo}"))
    return HostOutcome(host.name, HostStatus.ROLLED_BACK, time.monotonic() - started,
                       touched=True, release=current)
