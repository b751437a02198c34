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
from dataclasses import dataclass, replace
from functools import partial

from fleet.engine.connections import Connector
from fleet.engine.fanout import Fanout, Unread
from fleet.engine.hostwork import Here, Place
from fleet.engine.survey import (
    live_runs,
    outcomes_of,
    probe_all,
    read_or_why,
    refuse_live,
    settle,
    takeover_token,
)
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
from fleet.remote.liveness import Owner, this_controller
from fleet.results import HostOutcome, HostStatus, RunResult, in_order
from fleet.transport.base import Transport, send

_MAX_STEPS = 100  # --to never walks further back than this many releases


def rollback_fleet(name: str, target: str, hosts: Sequence[Host], connector: Connector,
                   sink: EventSink, *, run_id: str, to: str | None, force: bool, forks: int,
                   timeout: float, expect: str | None = None,
                   place: Place | None = None) -> RunResult:
    """Undo the newest release on the selected hosts (or walk back ``to`` a release).

    With ``expect`` (the release the controller's own run log last rolled out)
    each host undoes it in the same round trip as its probe when it is that
    host's newest release and nothing is unfinished there; only the other
    hosts take a second round trip, decided from every host's answer.

    Each host's probe and undo run where ``place`` says (default: threads here,
    connecting with ``connector``); every decision is taken here.
    """
    start = time.monotonic()
    sink.emit(RunStarted(run_id, "rollback", name, None, tuple(h.name for h in hosts), ()))
    fanout = (place or Here(connector)).fanout(run_id)
    try:
        rb_start = time.monotonic()
        if expect and not to:
            states, unread, early = _undo_if_newest(name, target, hosts, fanout, sink,
                                                    run_id=run_id, expect=expect, force=force,
                                                    forks=forks, timeout=timeout)
        else:
            states, unread = probe_all(name, target, hosts, fanout, timeout, forks, sink)
            early = {}
        live = live_runs(states)
        if live:
            refused = refuse_live("rollback", name, run_id, hosts, live, start, sink)
            return replace(refused, hosts=tuple(early.get(h.name, h) for h in refused.hosts))
        newest = _newest(states.values())
        goal_note = f"to {to}" if to else f"off {newest or 'nothing'}"
        todo = [h for h in hosts if h.name in states and h.name not in early
                and _needs_undo(states[h.name], newest, to)]
        fanout.keep_only({h.name for h in todo})  # the others are done
        sink.emit(RollbackStarted(tuple(h.name for h in todo)))
        calls = [(h, partial(_undo_host, state=states[h.name], run_id=run_id, name=name,
                             target=target, newest=newest, to=to, force=force,
                             timeout=timeout, owner=this_controller())) for h in todo]
        done = {**early, **outcomes_of(fanout, calls, sink, forks)}
        rollback_duration = time.monotonic() - rb_start
    finally:
        fanout.close()
    outcomes, outcome = settle(hosts, done, states, unread, empty=HostStatus.NOT_DEPLOYED)
    duration = time.monotonic() - start
    sink.emit(RunFinished(run_id, outcome, duration, rollback_duration))
    return RunResult(run_id, "rollback", name, newest, outcome,
                     in_order(outcomes, (h.name for h in hosts)), duration,
                     rollback_duration=rollback_duration, goal=goal_note)


@dataclass(frozen=True)
class _Newest:
    """A host's answer to the probe that undoes ``expect`` where it is the newest:
    its state as before any undo, and its outcome if it undid (or failed to)."""

    state: probe.DeploymentState
    early: HostOutcome | None


def _undo_if_newest(name: str, target: str, hosts: Sequence[Host], fanout: Fanout,
                    sink: EventSink, *, run_id: str, expect: str, force: bool, forks: int,
                    timeout: float
                    ) -> tuple[dict[str, probe.DeploymentState], dict[str, Unread],
                               dict[str, HostOutcome]]:
    """Probe every host and, in the same round trip, undo ``expect`` where it is the
    host's newest release (:func:`fleet.remote.rollback.newest_script`). Returns
    every state read (as before any undo), why the others were not read, and the
    outcome of each host that undid."""
    call = partial(_probe_and_undo, name=name, target=target, run_id=run_id, expect=expect,
                   force=force, timeout=timeout, owner=this_controller())
    # a host done with (it undid, or failed to) lets go of its connection at once:
    # at most forks stay open for it
    got = fanout.each([(h, call) for h in hosts], sink, forks=forks,
                      keep_open=lambda answer: answer.early is None)
    states = {n: a.state for n, a in got.items() if not isinstance(a, Unread)}
    early = {n: a.early for n, a in got.items()
             if not isinstance(a, Unread) and a.early is not None}
    return states, read_or_why(hosts, got, sink, "rollback"), early


def _probe_and_undo(host: Host, transport: Transport, sink: EventSink, started: float, *,
                    name: str, target: str, run_id: str, expect: str, force: bool,
                    timeout: float, owner: Owner) -> _Newest:
    """One host's part of :func:`_undo_if_newest` (a :data:`~fleet.engine.fanout.HostCall`;
    ``owner``: the controller, named by the lock the undo takes)."""
    sink.emit(StepStarted(host.name, "rollback"))
    script = rollback.newest_script(name, target, run_id, expect, force=force,
                                    command_timeout=timeout, owner=owner)
    answer = rollback.parse_newest(send(transport, script, timeout=timeout), host.name)
    took = time.monotonic() - started
    undone = answer.undone
    if undone is None:
        sink.emit(StepFinished(host.name, "rollback", True, took,
                               detail=f"not on {expect} alone: decided with the others"))
        return _Newest(answer.state, None)
    if isinstance(undone, rollback.RolledBack):
        sink.emit(StepFinished(host.name, "rollback", True, took,
                               detail=f"undid {expect} with the probe, one round trip; now "
                                      f"on {undone.release or 'nothing'}"))
        return _Newest(answer.state, HostOutcome(host.name, HostStatus.ROLLED_BACK, took,
                                                 touched=True, release=undone.release))
    sink.emit(StepFinished(host.name, "rollback", False, took, error=reason(undone)))
    status = HostStatus.SKIPPED if isinstance(undone, RunIsLive) else HostStatus.ROLLBACK_FAILED
    error = reason(undone) if status is HostStatus.SKIPPED else f"rollback failed: {reason(undone)}"
    return _Newest(answer.state, HostOutcome(host.name, status, took, error=error,
                                             touched=status is HostStatus.ROLLBACK_FAILED))


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


def _undo_host(host: Host, transport: Transport, sink: EventSink, started: float, *,
               state: probe.DeploymentState, run_id: str, name: str, target: str,
               newest: str | None, to: str | None, force: bool, timeout: float,
               owner: Owner) -> HostOutcome:
    """Undo the newest release on the host: an unfinished run of it if there is one,
    else the committed one (or walk back release by release ``to`` a release); a
    :data:`~fleet.engine.fanout.HostCall` (``owner``: the controller, named by the
    lock each undo takes)."""
    current = state.current
    steps = 0

    def undo(run: str, *, unfinished: bool) -> probe.Current | None:
        nonlocal steps
        if steps >= _MAX_STEPS:
            raise RollbackFailed(host.name, f"release {to} not found in {steps} steps back")
        sink.emit(StepStarted(host.name, "rollback"))
        script = rollback.script(name, target, run_id, run, force=force or unfinished,
                                 missing_ok=unfinished, abandoned=takeover_token(state, run),
                                 command_timeout=timeout, owner=owner)
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
