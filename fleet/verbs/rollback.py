"""``fleet rollback``: put the fleet back from the backups on the hosts themselves.

No controller state is needed: each host's ``current`` record names the run
that put its release there, and that run's backup on the host says exactly
what to restore. The newest release found on the selected hosts is undone on
every host that is on it; hosts not on it are ``unchanged``, so a retry after
a partial rollback finishes the job instead of going further back. A host
that a run of that release left unfinished (its rollback failed, or the
controller died) is put back from that run's backup first.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from fleet.engine.connections import Connections, Connector
from fleet.engine.parallel import parallel
from fleet.engine.survey import live_runs, probe_all, refuse_live, settle, takeover_token
from fleet.errors import FleetError, RollbackFailed, RunIsLive, reason
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
from fleet.results import HostOutcome, HostStatus, RunResult, in_order
from fleet.transport.base import send

_MAX_STEPS = 100  # --to never walks further back than this many releases


def rollback_fleet(name: str, target: str, hosts: Sequence[Host], connector: Connector,
                   sink: EventSink, *, run_id: str, to: str | None, force: bool, forks: int,
                   timeout: float) -> RunResult:
    """Undo the newest release on the selected hosts (or walk back ``to`` a release)."""
    start = time.monotonic()
    sink.emit(RunStarted(run_id, "rollback", name, None, tuple(h.name for h in hosts), ()))
    connections = Connections(connector)
    try:
        states, unread = probe_all(name, target, hosts, connections, timeout, forks, sink)
        live = live_runs(states)
        if live:
            return refuse_live("rollback", name, run_id, hosts, live, start, sink)
        newest = _newest(states.values())
        goal_note = f"to {to}" if to else f"off {newest or 'nothing'}"
        todo = [h for h in hosts if h.name in states and _needs_undo(states[h.name], newest, to)]
        sink.emit(RollbackStarted(tuple(h.name for h in todo)))
        rb_start = time.monotonic()

        def one(host: Host, started: float) -> HostOutcome:
            return _undo_host(host, states[host.name], connections, run_id, name, target,
                              newest=newest, to=to, force=force, timeout=timeout, sink=sink,
                              started=started)

        done = parallel(todo, one, forks, sink)
        rollback_duration = time.monotonic() - rb_start
    finally:
        connections.close_all()
    outcomes, outcome = settle(hosts, done, states, unread, empty=HostStatus.NOT_DEPLOYED)
    duration = time.monotonic() - start
    sink.emit(RunFinished(run_id, outcome, duration, rollback_duration))
    return RunResult(run_id, "rollback", name, newest, outcome,
                     in_order(outcomes, (h.name for h in hosts)), duration,
                     rollback_duration=rollback_duration, goal=goal_note)


def _newest(states: Iterable[probe.DeploymentState]) -> str | None:
    """The release of the newest run found on the hosts, finished or not (None: none).

    Run ids start with their UTC start time, so they order runs.
    """
    runs = [(s.current.run_id, s.current.release) for s in states if s.current]
    runs += [(b.run_id, b.release) for s in states for b in s.backups if not b.committed]
    return max(runs)[1] if runs else None


def _unfinished(state: probe.DeploymentState, newest: str | None, to: str | None) -> list[str]:
    """Runs left unfinished on the host that this rollback undoes first, newest first:
    those of the release being rolled back (every one with ``to``), and a lock
    with no backup behind it."""
    backed = {b.run_id for b in state.backups}
    runs = [b.run_id for b in state.backups if not b.committed and (to or b.release == newest)]
    if state.lock and state.lock not in backed:
        runs.append(state.lock)
    return sorted(runs, reverse=True)


def _needs_undo(state: probe.DeploymentState, newest: str | None, to: str | None) -> bool:
    if _unfinished(state, newest, to):
        return True
    if state.current is None:
        return False
    return state.current.release != to if to else state.current.release == newest


def _undo_host(host: Host, state: probe.DeploymentState, connections: Connections, run_id: str,
               name: str, target: str, *, newest: str | None, to: str | None, force: bool,
               timeout: float, sink: EventSink, started: float) -> HostOutcome:
    """Undo the newest release on the host: an unfinished run of it if there is one,
    else the committed one (or walk back release by release ``to`` a release)."""
    current = state.current
    transport = connections.get(host)
    steps = 0

    def undo(run: str, *, unfinished: bool) -> probe.Current | None:
        nonlocal steps
        if steps >= _MAX_STEPS:
            raise RollbackFailed(host.name, f"release {to} not found in {steps} steps back")
        sink.emit(StepStarted(host.name, "rollback"))
        script = rollback.script(name, target, run_id, run, force=force or unfinished,
                                 missing_ok=unfinished, abandoned=takeover_token(state, run),
                                 command_timeout=timeout)
        back = rollback.parse(send(transport, script, timeout=timeout),
                              host.name)
        steps += 1
        sink.emit(StepFinished(host.name, "rollback", True, time.monotonic() - started,
                               detail=f"undid run {run}; now on {back.release or 'nothing'}"))
        return probe.Current(back.release, back.run_id or "", "") if back.release else None

    try:
        for run in _unfinished(state, newest, to):
            current = undo(run, unfinished=True)
        while current is not None and (current.release != to if to else steps == 0):
            current = undo(current.run_id, unfinished=False)
        if to and current is None:
            raise RollbackFailed(host.name, f"release {to} is not in this host's history; "
                                 "everything fleet deployed there has been rolled back")
    except RunIsLive as exc:
        if steps:
            return HostOutcome(host.name, HostStatus.ROLLBACK_FAILED, time.monotonic() - started,
                               error=f"rollback failed: {reason(exc)}", touched=True)
        return HostOutcome(host.name, HostStatus.SKIPPED, time.monotonic() - started,
                           error=reason(exc))
    except FleetError as exc:
        return HostOutcome(host.name, HostStatus.ROLLBACK_FAILED, time.monotonic() - started,
                           error=f"rollback failed: {reason(exc)}", touched=steps > 0,
                           release=current.release if current else None)
    return HostOutcome(host.name, HostStatus.ROLLED_BACK, time.monotonic() - started,
                       touched=True, release=current.release if current else None)
