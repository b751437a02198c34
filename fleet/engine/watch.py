"""``fleet monitor``: sample the playbook's health checks on every host on a schedule,
log every sample, alert on level changes, and optionally roll the fleet back.

:class:`Tracker` holds every rule (level changes, the critical grace) and is
pure; :func:`watch` only schedules samples and calls back.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import IO

from fleet.config.playbook import HealthCheck
from fleet.engine.fanout import Fanout, Unread
from fleet.events import Discard, EventSink
from fleet.inventory.model import Host
from fleet.remote.health import Level, Sample, Schedule, limits, sample_host
from fleet.runlog.journal import open_private
from fleet.transport.base import Script, Transport


@dataclass(frozen=True)
class Alert:
    """A host's level changed between two samples."""

    host: str
    before: Level
    after: Level
    ts: float
    why: str


@dataclass
class Tracker:
    """Levels per host, their changes, and when the critical grace runs out.

    ``rollback_on`` (a level, or None for never) and ``grace`` (consecutive
    samples at that level or worse) decide :attr:`triggered`. A host not read
    (unreachable, or error) triggers only with ``unreachable_triggers`` (the canary bake: a canary
    that cannot be read must not let the batches go); ``fleet monitor`` leaves
    it out, as a host that cannot be reached could not be rolled back anyway.
    """

    rollback_on: Level | None = None
    grace: int = 3
    unreachable_triggers: bool = False
    levels: dict[str, Level] = field(default_factory=dict)
    streak: dict[str, int] = field(default_factory=dict)
    triggered: str | None = None

    def update(self, samples: Sequence[Sample]) -> list[Alert]:
        """Take one round of samples; return the alerts it raises."""
        alerts = []
        for sample in samples:
            level = sample.level
            before = self.levels.get(sample.host, Level.OK)
            if level is not before:
                why = sample.error or "; ".join(
                    f"{r.label} {r.message}" for r in sample.readings if r.level is level)
                alerts.append(Alert(sample.host, before, level, sample.ts, why))
            self.levels[sample.host] = level
            bad = self.rollback_on is not None and (
                self.unreachable_triggers if level.unread
                else level.rank >= self.rollback_on.rank)
            self.streak[sample.host] = self.streak.get(sample.host, 0) + 1 if bad else 0
            if self.triggered is None and self.streak[sample.host] >= self.grace:
                cause = f": {sample.error}" if sample.error else ""
                self.triggered = (f"{sample.host} stayed {level.value} for "
                                  f"{self.streak[sample.host]} samples{cause}")
        return alerts


class SampleLog:
    """Appends every sample and alert to a JSON-lines file, flushed as it goes.

    Records, each a JSON object with ``kind``: ``watch`` first (when, what:
    hosts, checks with their warn and critical levels, ``about``), then per
    round a ``sample`` per host and an ``alert`` per level change; ``rollback``
    last when the monitor rolled the fleet back
    (:mod:`fleet.runlog.healthlog` reads them).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] = open_private(path)  # 0600, folders made 0700

    def write(self, kind: str, record: dict[str, object]) -> None:
        """Write one record of ``kind`` (sample, alert, rollback)."""
        self._file.write(json.dumps({"kind": kind, **record}, ensure_ascii=False,
                                    default=str) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()


@dataclass(frozen=True)
class Watch:
    """What to watch and how often."""

    hosts: tuple[Host, ...]
    script: Script
    checks: tuple[HealthCheck, ...]
    schedule: Schedule
    duration: float | None
    forks: int
    timeout: float
    about: Mapping[str, str] = field(default_factory=dict)
    """What the sample log's first record (``watch``) says of this watch besides
    its hosts and checks: the playbook, the release, the purpose, the run."""


def watch(spec: Watch, fanout: Fanout, tracker: Tracker, log: SampleLog, *,
          stop: threading.Event, on_round: Callable[[list[Sample], list[Alert]], None]) -> int:
    """Sample every host until ``duration``, ``stop``, Ctrl-C, or the tracker triggers.

    Each round samples every host through ``fanout`` (threads here over kept
    connections, or Dask workers); a host whose sample failed is connected
    afresh in the next round.

    Returns the number of sampling rounds taken.
    """
    start = time.monotonic()
    rounds = 0
    call = partial(sample_call, script=spec.script, checks=spec.checks, timeout=spec.timeout)
    log.write("watch", {"ts": time.time(), **spec.about,
                        "hosts": [h.name for h in spec.hosts],
                        "checks": [asdict(limits(c)) for c in spec.checks],
                        "rollback_on": tracker.rollback_on.value if tracker.rollback_on else None,
                        "grace": tracker.grace})
    try:
        while not stop.is_set():
            got = fanout.each([(h, call) for h in spec.hosts], Discard(), forks=spec.forks,
                              keep_open=lambda sample: sample.error is None)
            samples = [_sample_of(host.name, got[host.name]) for host in spec.hosts]
            rounds += 1
            alerts = tracker.update(samples)
            for sample in samples:
                log.write("sample", {"host": sample.host, "ts": sample.ts,
                                     "level": sample.level.value, "error": sample.error,
                                     "readings": [asdict(r) for r in sample.readings]})
            for alert in alerts:
                log.write("alert", asdict(alert))
            on_round(samples, alerts)
            elapsed = time.monotonic() - start
            if tracker.triggered or (spec.duration is not None and elapsed >= spec.duration):
                break
            wait = spec.schedule.interval_at(elapsed)
            if spec.duration is not None:
                wait = min(wait, max(0.0, spec.duration - elapsed))
            stop.wait(wait)
    except KeyboardInterrupt:
        stop.set()
    return rounds


def sample_call(host: Host, transport: Transport, sink: EventSink, started: float, *,
                script: Script, checks: tuple[HealthCheck, ...], timeout: float) -> Sample:
    """Sample one host once (a :data:`~fleet.engine.fanout.HostCall`; never raises a
    FleetError: a host that cannot be read is an ``error`` sample)."""
    return sample_host(host.name, transport, script, checks, timeout)


def _sample_of(host: str, got: Sample | Unread) -> Sample:
    """The host's sample, or an unreachable one when it could not be connected to."""
    if isinstance(got, Unread):
        return Sample(host, time.time(), (), error=got.error, connected=got.connected)
    return got
