"""Read every selected host's deployment state in parallel, and what is left unfinished."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from functools import partial

from fleet.engine.fanout import Fanout, HostCall, Unread
from fleet.events import EventSink, HostFinished, RunFinished, StepFinished, StepStarted
from fleet.inventory.model import Host
from fleet.remote import probe
from fleet.remote.liveness import is_live, this_controller
from fleet.results import HostOutcome, HostStatus, Outcome, RunResult, in_order
from fleet.transport.base import Script, Transport, send


def probe_all(name: str, target: str, hosts: Sequence[Host], fanout: Fanout,
              timeout: float, forks: int, sink: EventSink, *, keep_open: bool = True
              ) -> tuple[dict[str, probe.DeploymentState], dict[str, Unread]]:
    """Probe every host; return the states read and, per host not read, why.

    ``keep_open``: leave each connection open for the work that follows (else
    it is closed as soon as its host is read)."""
    call = partial(probe_host, script=probe.script(name, target), timeout=timeout)
    got = fanout.each([(h, call) for h in hosts], sink, forks=forks, keep_open=keep_open)
    states = {n: r for n, r in got.items() if not isinstance(r, Unread)}
    return states, read_or_why(hosts, got, sink, "probe")


def probe_host(host: Host, transport: Transport, sink: EventSink, started: float, *,
               script: Script, timeout: float) -> probe.DeploymentState:
    """Read one host's deployment state (a :data:`~fleet.engine.fanout.HostCall`).

    Raises:
        FleetError: the probe failed or its answer could not be read.
    """
    sink.emit(StepStarted(host.name, "probe"))
    state = probe.parse(send(transport, script, timeout=timeout), host.name)
    sink.emit(StepFinished(host.name, "probe", True, time.monotonic() - started))
    return state


def read_or_why(hosts: Sequence[Host], got: Mapping[str, object], sink: EventSink,
                step: str) -> dict[str, Unread]:
    """Why each host a read-out of every host (``probe_all`` and its kin) could not
    read failed, in host order; each such host's ``step`` is reported as failed."""
    unread: dict[str, Unread] = {}
    for host in hosts:
        why = got.get(host.name)
        if isinstance(why, Unread):
            unread[host.name] = why
            sink.emit(StepFinished(host.name, step, False, why.duration, error=why.error))
    return unread


def outcomes_of(fanout: Fanout, calls: Sequence[tuple[Host, HostCall[HostOutcome]]],
                sink: EventSink, forks: int) -> dict[str, HostOutcome]:
    """Make ``calls`` that each end in the host's outcome (an undo); a call that
    failed outright is a ``failed`` outcome with why. Each host's ``HostFinished``
    goes to ``sink`` as soon as its outcome is in."""
    done: dict[str, HostOutcome] = {}

    def finished(host: Host, result: HostOutcome | Unread) -> None:
        outcome = HostOutcome(host.name, HostStatus.FAILED, result.duration,
                              error=result.error) if isinstance(result, Unread) else result
        done[host.name] = outcome
        sink.emit(HostFinished(host.name, outcome.status, outcome.duration, outcome.error))

    fanout.each(calls, sink, forks=forks, on_result=finished)
    return done


def runs_to_undo(state: probe.DeploymentState, unfinished: set[str]) -> list[str]:
    """The unfinished runs that touched this host, newest first.

    A committed backup counts only while its run is still the host's current
    one: had a newer release gone on top, undoing the old run would clobber it.
    """
    runs = set(state.unfinished) & unfinished
    current_run = state.current.run_id if state.current else None
    for backup in state.backups:
        if backup.run_id in unfinished and (not backup.committed or backup.run_id == current_run):
            runs.add(backup.run_id)
    return sorted(runs, reverse=True)


def settle(hosts: Sequence[Host], done: dict[str, HostOutcome],
           states: dict[str, probe.DeploymentState], unread: Mapping[str, Unread], *,
           empty: HostStatus) -> tuple[dict[str, HostOutcome], Outcome]:
    """Every selected host's outcome after an undo (``fleet rollback`` or
    ``fleet recover``), and the run's outcome.

    Hosts in ``done`` were worked on; one that came back ``failed`` (an
    unexpected error inside ``parallel``) is a rollback failure, which is what
    it is here. A host not read by the probe is a rollback failure too: nobody
    knows its state. The others stayed as they were: ``unchanged`` on their
    release, or ``empty`` when nothing is deployed there. The outcome is
    ``rollback_incomplete`` when any host is a rollback failure.
    """
    outcomes: dict[str, HostOutcome] = {}
    for host in hosts:
        name = host.name
        if name in done:
            got = done[name]
            outcomes[name] = HostOutcome(name, HostStatus.ROLLBACK_FAILED, got.duration,
                                         error=f"rollback failed: {got.error}", touched=True) \
                if got.status is HostStatus.FAILED else got
        elif name not in states:
            why = unread[name].error if name in unread else "unreachable"
            outcomes[name] = HostOutcome(name, HostStatus.ROLLBACK_FAILED, error=why)
        else:
            current = states[name].current
            outcomes[name] = HostOutcome(name, HostStatus.UNCHANGED if current else empty,
                                         release=current.release if current else None)
    if any(o.status is HostStatus.ROLLBACK_FAILED for o in outcomes.values()):
        return outcomes, Outcome.ROLLBACK_INCOMPLETE
    if any(o.status is HostStatus.SKIPPED for o in outcomes.values()):
        return outcomes, Outcome.HALTED  # a run took a host's lock meanwhile: untouched
    return outcomes, Outcome.SUCCESS


def live_runs(states: Mapping[str, probe.DeploymentState], now: float | None = None
              ) -> dict[str, str]:
    """The hosts whose deployment lock is held by a live run (see
    :mod:`fleet.remote.liveness`), each with who holds it: run id and controller."""
    here = this_controller()
    moment = time.time() if now is None else now
    held: dict[str, str] = {}
    for name, state in states.items():
        view = state.lock_view
        if view is not None and is_live(view, moment, here):
            by = f", {view.owner.describe()}" if view.owner else ""
            held[name] = f"run {view.holder}{by}"
    return held


def takeover_token(state: probe.DeploymentState, run_id: str) -> str | None:
    """What a rollback of ``run_id`` must still find in the host's lock to take
    it over from that (abandoned) run: the lease the probe saw; None when the
    lock is not that run's."""
    view = state.lock_view
    if view is None or view.holder != run_id:
        return None
    return str(int(view.lease)) if view.lease is not None else "-"


def refuse_live(command: str, name: str, run_id: str, hosts: Sequence[Host],
                live: Mapping[str, str], start: float, sink: EventSink) -> RunResult:
    """The result of a rollback or recover that found a live run: nothing touched
    anywhere, exit 1, the holder named."""
    first = next(iter(live.values()))
    where = ", ".join(sorted(live))
    why = (f"a live run holds the deployment on {where} ({first}); nothing was touched — "
           "wait for it to finish (or, if its controller is gone, for its lease to run out)")
    outcomes = {h.name: HostOutcome(h.name, HostStatus.SKIPPED,
                                    error=f"held by live {live[h.name]}" if h.name in live
                                    else None) for h in hosts}
    duration = time.monotonic() - start
    sink.emit(RunFinished(run_id, Outcome.HALTED, duration))
    return RunResult(run_id, command, name, None, Outcome.HALTED,
                     in_order(outcomes, (h.name for h in hosts)), duration, halt_reason=why)
