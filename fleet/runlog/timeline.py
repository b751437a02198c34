"""When each thing of a run happened, read back from its run log: the timeline.

:func:`read_timeline` folds a run log's events (every line carries ``ts``, the
time the journal wrote it) into a :class:`Timeline`: one :class:`Span` per host
and step (start: its ``StepStarted``; end: its ``StepFinished``), each batch's
start, the halt with its reason, and the start of the fleet-wide rollback. It
is what the HTML report draws; :mod:`fleet.runlog.history` keeps the rest.

Older logs read too: a step whose ``StepStarted`` is missing starts at its end
minus its ``duration``; a step still open when the log ends (the controller
died) ends with the log and is marked unfinished.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fleet.runlog.fields import integer, names, seconds, text


@dataclass(frozen=True)
class Span:
    """One step of one host, in seconds since the epoch; ``ok`` is None for a step the
    log never saw finish."""

    host: str
    step: str
    start: float
    end: float
    ok: bool | None
    error: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class BatchMark:
    """A batch began at ``ts`` (index 0 is the canary batch when there is one)."""

    index: int
    canary: bool
    ts: float
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class HaltMark:
    """The run stopped scheduling hosts at ``ts``, for ``reason``."""

    ts: float
    reason: str


@dataclass(frozen=True)
class RollbackMark:
    """The fleet-wide rollback of ``hosts`` began at ``ts``."""

    ts: float
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class Timeline:
    """A run's events on one time axis, from ``start`` to ``end`` (seconds since the epoch).

    ``groups`` are the planned batches in order (canary first; the first
    ``batched`` groups, group k being batch k), then one group of the hosts in
    no batch (a rollback or recover has no batches), so every host of the run is
    in exactly one group; ``finished`` is False when the log ends before
    ``RunFinished``.
    """

    start: float
    end: float
    groups: tuple[tuple[str, ...], ...]
    batched: int
    canary: bool
    batches: tuple[BatchMark, ...]
    spans: tuple[Span, ...]
    halt: HaltMark | None
    rollback: RollbackMark | None
    finished: bool

    @property
    def hosts(self) -> tuple[str, ...]:
        """Every host, in the order of the groups."""
        return tuple(name for group in self.groups for name in group)

    @property
    def bake(self) -> tuple[float, float] | None:
        """When the canary bake ran (its first start, its last end), or None."""
        baked = [s for s in self.spans if s.step == "bake"]
        if not baked:
            return None
        return min(s.start for s in baked), max(s.end for s in baked)

    def spans_of(self) -> Mapping[str, tuple[Span, ...]]:
        """host -> its spans in start order."""
        found: dict[str, list[Span]] = {name: [] for name in self.hosts}
        for span in self.spans:
            found.setdefault(span.host, []).append(span)
        return {name: tuple(sorted(spans, key=lambda s: s.start))
                for name, spans in found.items()}


@dataclass
class _Fold:
    """The timeline being read."""

    start: float | None = None
    last: float | None = None
    hosts: tuple[str, ...] = ()
    planned: tuple[tuple[str, ...], ...] = ()
    finished_at: float | None = None
    halt: HaltMark | None = None
    rollback: RollbackMark | None = None
    batches: list[BatchMark] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    open: dict[tuple[str, str], float] = field(default_factory=dict)
    """(host, step) -> when a step began that has not finished yet."""
    seen: dict[str, None] = field(default_factory=dict)
    """Hosts met in step or host events, in the order met."""


def read_timeline(lines: Iterable[str]) -> Timeline:
    """Fold a run log's lines into a :class:`Timeline`.

    A line that is not a complete event (or lacks ``ts``) is passed over, as
    :func:`fleet.runlog.history.read_run` does. Raises nothing for bad content.
    """
    fold = _Fold()
    for line in lines:
        try:
            event = json.loads(line)
            if isinstance(event, dict):
                _apply(fold, event)
        except (ValueError, KeyError, TypeError):
            continue
    return _finish(fold)


def _apply(fold: _Fold, event: dict[str, Any]) -> None:
    """Apply one event; raise KeyError, TypeError or ValueError on a bad one (``fold``
    is then unchanged)."""
    ts = seconds(event["ts"])
    kind = event.get("event")
    if kind == "RunStarted":
        hosts, batches = names(event.get("hosts", [])), event.get("batches", [])
        if not isinstance(batches, list):
            raise TypeError("batches is not a list")
        fold.planned = tuple(names(b) for b in batches)
        fold.start = ts if fold.start is None else min(fold.start, ts)
        fold.hosts = hosts
    elif kind == "BatchStarted":
        fold.batches.append(BatchMark(integer(event["index"]), event.get("canary") is True, ts,
                                      names(event.get("hosts", []))))
    elif kind == "StepStarted":
        fold.open[(text(event["host"]), text(event["step"]))] = ts
    elif kind == "StepFinished":
        _step_finished(fold, event, ts)
    elif kind == "Halted" and fold.halt is None:
        fold.halt = HaltMark(ts, text(event["reason"]))
    elif kind == "RollbackStarted" and fold.rollback is None:
        fold.rollback = RollbackMark(ts, names(event.get("hosts", [])))
    elif kind == "RunFinished":
        fold.finished_at = ts
    elif kind == "HostFinished":
        fold.seen.setdefault(text(event["host"]))
    fold.start = ts if fold.start is None else fold.start
    fold.last = ts if fold.last is None else max(fold.last, ts)


def _step_finished(fold: _Fold, event: dict[str, Any], ts: float) -> None:
    host, step = text(event["host"]), text(event["step"])
    ok = event["ok"]
    if not isinstance(ok, bool):
        raise TypeError("ok is not true or false")
    duration = seconds(event.get("duration", 0.0))
    error, detail = event.get("error"), event.get("detail")
    started = fold.open.pop((host, step), ts - duration)
    fold.spans.append(Span(host, step, min(started, ts), ts, ok,
                           error if isinstance(error, str) else None,
                           detail if isinstance(detail, str) else None))
    fold.seen.setdefault(host)


def _finish(fold: _Fold) -> Timeline:
    start = fold.start if fold.start is not None else 0.0
    end = fold.finished_at if fold.finished_at is not None else (fold.last or start)
    spans = list(fold.spans)
    for (host, step), began in fold.open.items():  # never finished: the log ended first
        spans.append(Span(host, step, began, max(began, end), None))
        fold.seen.setdefault(host)
    grouped: set[str] = set()
    groups: list[tuple[str, ...]] = []
    for batch in fold.planned:
        group = tuple(n for n in batch if n not in grouped)
        grouped.update(group)
        if group:
            groups.append(group)
    batched = len(groups)
    rest = tuple(n for n in (*fold.hosts, *fold.seen) if n not in grouped)
    if rest:
        groups.append(tuple(dict.fromkeys(rest)))
    canary = any(b.canary for b in fold.batches)
    return Timeline(start, max(start, end), tuple(groups), batched, canary, tuple(fold.batches),
                    tuple(spans), fold.halt, fold.rollback, fold.finished_at is not None)

