"""Read every selected host's deployment state in parallel, and what is left unfinished."""

from __future__ import annotations

import time
from collections.abc import Sequence

from fleet.app import parallel
from fleet.connections import Connections
from fleet.events import Discard, EventSink, StepFinished, StepStarted
from fleet.inventory import Host
from fleet.outcome import HostOutcome, HostStatus
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
