"""``fleet status``: what is where — per host, the current release, when, which run,
drift since deployment, unfinished runs, and hosts that cannot be reached. Read-only."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from fleet.engine.connections import Connector
from fleet.engine.hostwork import Here, Place
from fleet.engine.survey import live_runs, probe_all
from fleet.events import Discard
from fleet.inventory.model import Host


class HostState(StrEnum):
    """A host's state as ``fleet status`` reports it."""

    OK = "ok"
    DRIFT = "drift"
    RUNNING = "running"
    INTERRUPTED = "interrupted"
    NOT_DEPLOYED = "not_deployed"
    UNREACHABLE = "unreachable"
    ERROR = "error"


@dataclass(frozen=True)
class HostStatusReport:
    """One host's line of ``fleet status``."""

    name: str
    state: HostState
    release: str | None = None
    run_id: str | None = None
    when: str | None = None
    drift: tuple[str, ...] = ()
    unfinished: tuple[str, ...] = ()
    error: str | None = None

    def to_json(self) -> dict[str, object]:
        """The host entry of ``fleet status --json``."""
        return {"name": self.name, "state": self.state.value, "release": self.release,
                "run_id": self.run_id, "deployed_at": self.when, "drift": list(self.drift),
                "unfinished_runs": list(self.unfinished), "error": self.error}


@dataclass(frozen=True)
class StatusResult:
    """Every selected host's report, in inventory order."""

    playbook: str
    hosts: tuple[HostStatusReport, ...]
    duration: float

    @property
    def exit_code(self) -> int:
        """0 when every host was read, 1 when some could not be reached or read."""
        return 1 if any(h.state in (HostState.UNREACHABLE, HostState.ERROR)
                        for h in self.hosts) else 0

    def to_json(self) -> dict[str, object]:
        """The ``fleet status --json`` object."""
        return {"command": "status", "playbook": self.playbook, "exit_code": self.exit_code,
                "duration_s": round(self.duration, 3),
                "hosts": [h.to_json() for h in self.hosts]}


def status_fleet(name: str, target: str, hosts: Sequence[Host], connector: Connector, *,
                 forks: int, timeout: float, place: Place | None = None,
                 run_id: str = "status") -> StatusResult:
    """Probe every host in parallel and report what each holds.

    The probes run where ``place`` says (default: threads here, connecting with
    ``connector``); ``run_id`` names this read-out there (it writes no run log)."""
    start = time.monotonic()
    fanout = (place or Here(connector)).fanout(run_id)
    try:
        states, unread = probe_all(name, target, hosts, fanout, timeout, forks, Discard(),
                                   keep_open=False)
    finally:
        fanout.close()
    live = live_runs(states)
    reports = []
    for host in hosts:
        if host.name not in states:
            why = unread.get(host.name)
            kind = HostState.ERROR if why is not None and why.connected else HostState.UNREACHABLE
            reports.append(HostStatusReport(host.name, kind, error=why.error if why else None))
            continue
        state = states[host.name]
        current = state.current
        if host.name in live:
            kind = HostState.RUNNING
        elif state.unfinished:
            kind = HostState.INTERRUPTED
        elif current is None:
            kind = HostState.NOT_DEPLOYED
        else:
            kind = HostState.DRIFT if state.drift else HostState.OK
        reports.append(HostStatusReport(
            host.name, kind, current.release if current else None,
            current.run_id if current else None, current.when if current else None,
            state.drift, state.unfinished))
    return StatusResult(name, tuple(reports), time.monotonic() - start)
