"""Typed events the engine emits; the journal and the live report subscribe.

Statuses and outcomes are the enums of :mod:`fleet.results` (string enums:
the run log writes their values, as before).

Presentation stays at the edge: nothing here formats for a terminal.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from fleet.results import HostStatus, Outcome


@dataclass(frozen=True)
class RunStarted:
    """A run began."""

    run_id: str
    command: str
    playbook: str
    release: str | None
    hosts: tuple[str, ...]
    batches: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class BatchStarted:
    """A batch began (index 0 is the canary batch when there is one)."""

    index: int
    hosts: tuple[str, ...]
    canary: bool


@dataclass(frozen=True)
class StepStarted:
    """A host began a step."""

    host: str
    step: str


@dataclass(frozen=True)
class StepFinished:
    """A host finished a step; ``error`` is None when it succeeded."""

    host: str
    step: str
    ok: bool
    duration: float
    detail: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class HostFinished:
    """A host reached its final status in this phase of the run."""

    host: str
    status: HostStatus
    duration: float
    error: str | None = None


@dataclass(frozen=True)
class Halted:
    """The run stopped scheduling hosts."""

    reason: str


@dataclass(frozen=True)
class RollbackStarted:
    """These touched hosts are being put back, in parallel."""

    hosts: tuple[str, ...]


@dataclass(frozen=True)
class RunFinished:
    """The run ended."""

    run_id: str
    outcome: Outcome
    duration: float
    rollback_duration: float | None = None


Event = (RunStarted | BatchStarted | StepStarted | StepFinished | HostFinished | Halted
         | RollbackStarted | RunFinished)


class EventSink(Protocol):
    """Anything that receives events (called from worker threads)."""

    def emit(self, event: Event) -> None:
        """Receive one event."""
        ...


class Broadcast:
    """Forwards each event to several sinks, one event at a time."""

    def __init__(self, sinks: Sequence[EventSink]) -> None:
        self._sinks = tuple(sinks)
        self._lock = threading.Lock()

    def emit(self, event: Event) -> None:
        """Send ``event`` to every sink in order."""
        with self._lock:
            for sink in self._sinks:
                sink.emit(event)


class Recorder:
    """Keeps every event; used by tests and by the report builder."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        """Append ``event``."""
        self.events.append(event)


class Discard:
    """Drops every event (for phases whose story another sink tells)."""

    def emit(self, event: Event) -> None:
        """Ignore ``event``."""
