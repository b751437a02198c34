"""Read every selected host's deployment state in parallel, and what is left unfinished."""

from __future__ import annotations

import time
from collections.abc import Sequence

from fleet.app import parallel
from fleet.connections import Connections
from fleet.events import Discard, EventSink, StepFinished, StepStarted
from fleet.inventory import Host
from fleet.outcome import HostOutcome, HostStatus, Outcome
from fleet.steps import probe


def probe_all(name: str, target: str, hosts: Sequence[Host], connections: Connections,
               timeout: float, forks: int, sink: EventSink
               ) -> tuple[dict[str, probe.HostState], dict[str, str]]:
    """Probe every host; return the states read and, per host not read, why."""
    states: dict[str, probe.HostState] = {}
    unreachable: dict[str, str] = {}
    script = probe.script(name, target)

    def one(host: Host, started: float) -> HostOutcome:
        transport = connections.get(host)
        sink.emit(StepStarted(host.name, "probe"))
        result = transport.run(script.command(), timeout=timeout, check=False)
        states[host.name] = probe.parse(result, host.name)
        sink.emit(StepFinished(host.name, "probe", True, time.monotonic() - started))
        return HostOutcome(host.name, HostStatus.UNCHANGED)

    for outcome in parallel(hosts, one, forks, Discard()).values():
        if outcome.status is HostStatus.FAILED:
            unreachable[outcome.name] = outcome.error or "unreachable"
            sink.emit(StepFinished(outcome.name, "probe", False, outcome.duration,
                                   error=outcome.error))
    return states, unreachable


def runs_to_undo(state: probe.HostState, unfinished: set[str]) -> list[str]:
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
           states: dict[str, probe.HostState], unreachable: dict[str, str], *,
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
            outcomes[name] = HostOutcome(name, HostStatus.ROLLBACK_FAILED,
                                         error=unreachable.get(name, "unreachable"))
        else:
            current = states[name].current
            outcomes[name] = HostOutcome(name, HostStatus.UNCHANGED if current else empty,
                                         release=current.release if current else None)
    bad = any(o.status is HostStatus.ROLLBACK_FAILED for o in outcomes.values())
    return outcomes, Outcome.ROLLBACK_INCOMPLETE if bad else Outcome.SUCCESS
