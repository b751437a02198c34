"""What the team is told (``--notify``): one :class:`Message` per moment that matters,
made from the run's events and the monitor's alerts. Pure: sending is
:mod:`fleet.cli.notifier`'s.

Moments: a run started; the canaries passed; the run halted (why, and which
host failed); the fleet-wide rollback finished (how many hosts, how long); the
run is done (its outcome and exit code). ``fleet rollback`` and ``fleet
recover`` are rollbacks from the start, so their done message is the
rollback's (with its duration). The monitor: it started, each round's level
changes (one message per round, every alert in it), the automatic rollback,
and its end.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from fleet.engine.watch import Alert
from fleet.events import (
    BatchStarted,
    Event,
    Halted,
    HostFinished,
    RollbackStarted,
    RunStarted,
    StepFinished,
)
from fleet.remote.health import Level
from fleet.results import HostStatus, Outcome, RunResult

_LISTED = 10  # hosts named in a message; the rest are counted


class Kind(StrEnum):
    """Which moment a message is about."""

    START = "start"
    CANARY_PASSED = "canary passed"
    HALT = "halt"
    ROLLBACK = "rollback finished"
    DONE = "done"
    ALERT = "monitor alert"
    AUTO_ROLLBACK = "auto-rollback"


class Tone(StrEnum):
    """How it reads in the receiver (apprise's notify types)."""

    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"


@dataclass(frozen=True)
class Message:
    """One notification."""

    kind: Kind
    tone: Tone
    title: str
    body: str


Send = Callable[[Message], None]


class RunMessages:
    """An EventSink that turns a run's events into messages as they happen (start,
    canary passed, halt) and hands each to ``send``, which must not block: it is
    called on the engine's threads. The closing messages (rollback finished,
    done) come from the run's result: :meth:`finished`."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._lock = threading.Lock()
        self._head = "fleet"
        self._canaries: tuple[str, ...] = ()
        self._canary_told = False
        self._failed: dict[str, None] = {}  # the failed hosts, in order
        self._rollback_started: float | None = None

    def emit(self, event: Event) -> None:
        """Take one event; send the message it makes, if any."""
        with self._lock:
            message = self._take(event)
        if message is not None:
            self._tell(message)

    def _tell(self, message: Message) -> None:
        """Send ``message`` with the run's name before its title."""
        self._send(dataclasses.replace(message, title=f"{self._head}: {message.title}"))

    def _take(self, event: Event) -> Message | None:
        match event:
            case RunStarted():
                self._head = f"fleet {event.command} {event.playbook}"
                return _started(event)
            case BatchStarted(canary=True):
                self._canaries = event.hosts
            case BatchStarted() if self._canaries and not self._canary_told:
                self._canary_told = True
                return self._canary(f"the next batch ({len(event.hosts)} host(s)) starts")
            case StepFinished(ok=False):
                self._failed[event.host] = None
            case HostFinished() if event.status in _BAD:
                self._failed[event.host] = None
            case Halted():
                return self._halt(event.reason)
            case RollbackStarted() if event.hosts:
                self._rollback_started = time.monotonic()
        return None

    def finished(self, result: RunResult) -> None:
        """Send the closing messages of the run: the canaries' (``--canary-only``), the
        fleet-wide rollback's (with its duration) and the done message (outcome,
        exit code, hosts per status). ``fleet rollback`` and ``fleet recover`` are
        rollbacks from the start: their done message is the rollback's."""
        self._head = f"fleet {result.command} {result.playbook}"
        took = result.rollback_duration
        if took is None and self._rollback_started is not None:
            took = time.monotonic() - self._rollback_started
        with self._lock:
            canary_only = result.outcome is Outcome.CANARY_ONLY and bool(self._canaries) \
                and not self._canary_told
            self._canary_told = self._canary_told or canary_only
        if canary_only:
            self._tell(self._canary("stopping here (--canary-only)"))
        undoing = result.command in ("rollback", "recover")
        if self._rollback_started is not None and not undoing:
            self._tell(_rolled_back(result, took))
        self._tell(_done(result, took if undoing else None))

    def _canary(self, then: str) -> Message:
        return Message(Kind.CANARY_PASSED, Tone.SUCCESS, "canary passed",
                       f"{_names(self._canaries)} deployed and validated; {then}.")

    def _halt(self, reason: str) -> Message:
        failing = _names(list(self._failed)) or "none (interrupted)"
        return Message(Kind.HALT, Tone.FAILURE, "HALTED",
                       f"Halted: {reason}\nFailing host(s): {failing}.\n"
                       "No further host starts; the touched hosts are rolled back as the "
                       "playbook's on_failure says.")


_BAD = (HostStatus.FAILED, HostStatus.ROLLBACK_FAILED)


def _started(event: RunStarted) -> Message:
    release = f", release {event.release}" if event.release else ""
    batches = ""
    if event.batches:
        canary = f" (canary: {_names(event.batches[0])})" if len(event.batches) > 1 else ""
        batches = f" in {len(event.batches)} batch(es){canary}"
    return Message(Kind.START, Tone.INFO, "started",
                   f"run {event.run_id}{release}: {len(event.hosts)} host(s){batches}.")


def _rolled_back(result: RunResult, took: float | None) -> Message:
    back = _with(result, HostStatus.ROLLED_BACK)
    stuck = _with(result, HostStatus.ROLLBACK_FAILED)
    body = f"{len(back)} host(s) rolled back" + (f" in {took:.2f} s." if took is not None
                                                  else ".")
    if stuck:
        body += f"\nRollback FAILED on {_names(stuck)}: they need a person."
    return Message(Kind.ROLLBACK, Tone.FAILURE if stuck else Tone.WARNING, "rollback finished",
                   body)


def _done(result: RunResult, rollback_took: float | None) -> Message:
    tally = Counter(h.status.value for h in result.hosts)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(tally.items()))
    code = result.outcome.exit_code
    tone = {0: Tone.SUCCESS, 1: Tone.WARNING}.get(code, Tone.FAILURE)
    what = "rollback finished, " if rollback_took is not None else ""
    body = f"run {result.run_id} finished in {result.duration:.2f} s: {counts or 'no hosts'}."
    if rollback_took is not None:
        body += f"\nThe rollback took {rollback_took:.2f} s."
    stuck = _with(result, HostStatus.ROLLBACK_FAILED)
    if stuck:
        body += f"\nNeeds a person: {_names(stuck)}."
    return Message(Kind.DONE, tone, f"{what}{result.outcome.value} (exit {code})", body)


def _with(result: RunResult, status: HostStatus) -> list[str]:
    return [h.name for h in result.hosts if h.status is status]


def monitor_started(playbook: str, hosts: int, rollback_on: Level | None) -> Message:
    """The monitor began watching."""
    rule = f"; rolls the fleet back when a host stays {rollback_on.value}" if rollback_on \
        else ""
    return Message(Kind.START, Tone.INFO, f"fleet monitor {playbook}: started",
                   f"Watching the health of {hosts} host(s){rule}.")


def monitor_alerts(playbook: str, alerts: Sequence[Alert]) -> Message:
    """One round's level changes, every one of them (worst first)."""
    ordered = sorted(alerts, key=lambda a: -a.after.rank)
    worst = ordered[0].after
    tone = Tone.SUCCESS if worst is Level.OK else \
        Tone.WARNING if worst is Level.WARN else Tone.FAILURE
    lines = [f"{a.host}: {a.before.value} -> {a.after.value}" + (f" ({a.why})" if a.why else "")
             for a in ordered]
    if len(alerts) == 1:
        a = alerts[0]
        title = f"fleet monitor {playbook}: {a.host} {a.before.value} -> {a.after.value}"
    else:
        title = f"fleet monitor {playbook}: {len(alerts)} hosts changed level (worst " \
                f"{worst.value})"
    return Message(Kind.ALERT, tone, title, "\n".join(lines))


def monitor_rollback(playbook: str, reason: str) -> Message:
    """The monitor is rolling the fleet back."""
    return Message(Kind.AUTO_ROLLBACK, Tone.FAILURE, f"fleet monitor {playbook}: "
                   "rolling the fleet back", f"Automatic rollback: {reason}.")


def monitor_done(playbook: str, rounds: int, levels: Mapping[str, Level],
                 rolled_back: bool) -> Message:
    """The monitor stopped."""
    tally = Counter(lv.value for lv in levels.values())
    counts = ", ".join(f"{n} {level}" for level, n in sorted(tally.items())) or "no hosts"
    what = "after rolling the fleet back" if rolled_back else "with no rollback"
    return Message(Kind.DONE, Tone.WARNING if rolled_back else Tone.INFO,
                   f"fleet monitor {playbook}: stopped",
                   f"Stopped {what} after {rounds} round(s); last levels: {counts}.")


def _names(hosts: Sequence[str]) -> str:
    shown = ", ".join(hosts[:_LISTED])
    return shown + (f" and {len(hosts) - _LISTED} more" if len(hosts) > _LISTED else "")
