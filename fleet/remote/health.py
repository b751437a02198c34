"""Health of a deployed host: the playbook's ``health`` checks, measured and graded.

A sample is one round trip per host: one script measures every health check;
the grading (ok / warn / critical) is pure and happens here. Used by
``fleet monitor`` and by the canary bake of ``fleet rollout``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from fleet.config.playbook import AccessTimeHealth, HealthCheck, MemoryHealth
from fleet.config.release import Release
from fleet.config.units import parse_duration
from fleet.errors import FleetError, TransportError, reason
from fleet.remote.checks import judge, label, snippet
from fleet.remote.script import assign, indexed, render
from fleet.transport.base import Script, Transport, send


class Level(StrEnum):
    """How a check, or a host, is doing; ordered from best to worst."""

    OK = "ok"
    WARN = "warn"
    CRITICAL = "critical"
    ERROR = "error"
    """Connected, but the host's health could not be read."""
    UNREACHABLE = "unreachable"
    """No connection."""

    @property
    def rank(self) -> int:
        """0 for ok up to 4 for unreachable."""
        return list(Level).index(self)

    @property
    def unread(self) -> bool:
        """True when the host was not read (error or unreachable)."""
        return self in (Level.ERROR, Level.UNREACHABLE)


@dataclass(frozen=True)
class Reading:
    """One health check on one host: its level, the measured value, why."""

    label: str
    level: Level
    value: float | None = None
    message: str = ""


@dataclass(frozen=True)
class Sample:
    """All readings of one host at one time (``error`` when it could not be read;
    ``connected``: it answered all the same, so it is not unreachable)."""

    host: str
    ts: float
    readings: tuple[Reading, ...]
    error: str | None = None
    connected: bool = False

    @property
    def level(self) -> Level:
        """The worst level among the readings (error or unreachable when not read)."""
        if self.error is not None:
            return Level.ERROR if self.connected else Level.UNREACHABLE
        return max((r.level for r in self.readings), key=lambda lv: lv.rank, default=Level.OK)


def health_script(name: str, target: str, release: Release,
                  checks: Sequence[HealthCheck]) -> Script:
    """Render the script that measures every health check once."""
    files = release.files
    extra = [assign("N", len(files)), *indexed("F", [f.name for f in files]),
             *indexed("H", [f.sha256 for f in files]), *indexed("M", ["0" for _ in files])]
    snippets = []
    for k, check in enumerate(checks):
        assignments, text = snippet(k, check)
        extra.extend(assignments)
        snippets.append(text)
    return render("health", {"NAME": name, "TARGET": target, "RUN": "health",
                             "RELEASE": release.id}, extra, snippets=snippets)


@dataclass(frozen=True)
class Limits:
    """A health check's name (``label``, as in its readings) and its warn and critical
    levels in ``unit`` (None for a check that only passes or fails)."""

    label: str
    unit: str | None = None
    warn: float | None = None
    critical: float | None = None


def limits(check: HealthCheck) -> Limits:
    """The levels a reading of ``check`` is graded against (see :func:`grade`)."""
    if isinstance(check, AccessTimeHealth):
        return Limits(label(check), "ms", check.warn_ms, check.critical_ms)
    if isinstance(check, MemoryHealth):
        return Limits(label(check), "MB", check.warn_mb, check.critical_mb)
    return Limits(label(check))


def grade(check: HealthCheck, words: Sequence[str]) -> Reading:
    """Grade one ``CHECK k …`` answer (``words`` after ``k``) against warn/critical."""
    name = label(check)
    if isinstance(check, AccessTimeHealth | MemoryHealth) and len(words) == 2 \
            and words[0] == "VALUE":
        raw = float(words[1])
        if isinstance(check, AccessTimeHealth):
            value, warn, critical, unit = raw / 1000.0, check.warn_ms, check.critical_ms, "ms"
        else:
            value, warn, critical, unit = raw / 1024.0, check.warn_mb, check.critical_mb, "MB"
        level = Level.CRITICAL if value > critical else Level.WARN if value > warn else Level.OK
        limit = {Level.CRITICAL: f" > {critical:g}", Level.WARN: f" > {warn:g}"}.get(level, "")
        return Reading(name, level, value, f"{value:.1f} {unit}{limit}")
    if isinstance(check, AccessTimeHealth | MemoryHealth):
        return Reading(name, Level.CRITICAL, None, "no measurement from the host")
    outcome = judge(check, words)
    return Reading(name, Level.OK if outcome.ok else Level.CRITICAL, outcome.value,
                   outcome.message)


def sample_host(host: str, transport: Transport, script: Script,
                checks: Sequence[HealthCheck], timeout: float) -> Sample:
    """Measure one host once; a host that cannot be read gives an ``error`` sample
    (``connected`` when the host answered all the same)."""
    now = time.time()
    try:
        result = send(transport, script, timeout=timeout)
    except FleetError as exc:
        # no answer in time, or a broken connection: unreachable; an answer
        # that was not a step's (the login shell refused) is an error
        return Sample(host, now, (), error=reason(exc),
                      connected=not isinstance(exc, TransportError))
    answers = {int(w[1]): w[2:] for w in result.lines()
               if w[0] == "CHECK" and len(w) > 2 and w[1].isdigit()}
    if ["HEALTH_DONE"] not in result.lines():
        return Sample(host, now, (), error=f"no complete answer (exit {result.exit_code})",
                      connected=True)
    return Sample(host, now, tuple(grade(c, answers.get(k, [])) for k, c in enumerate(checks)))


@dataclass(frozen=True)
class Schedule:
    """Sampling intervals: ``steps`` of (interval, for how long), then ``last`` forever.

    ``"5s"`` is every 5 s; ``"5m for 1h, then 1h"`` is every 5 minutes for the
    first hour, then hourly.
    """

    steps: tuple[tuple[float, float], ...]
    last: float

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """Parse a schedule (raises ValueError with the fix)."""
        parts = [p.strip() for p in re.split(r",\s*(?:then\s+)?", text.strip()) if p.strip()]
        if not parts:
            raise ValueError("empty schedule; write e.g. 5s or '5m for 1h, then 1h'")
        steps = []
        for part in parts[:-1]:
            every, sep, span = part.partition(" for ")
            if not sep:
                raise ValueError(f"{part!r}: every part but the last reads 'INTERVAL for SPAN'")
            steps.append((parse_duration(every), parse_duration(span)))
        last = parts[-1]
        if last.startswith("then "):
            last = last[5:]
        if " for " in last:
            raise ValueError(f"{last!r}: the last part is a plain interval, e.g. 'then 1h'")
        return cls(tuple(steps), parse_duration(last))

    def interval_at(self, elapsed: float) -> float:
        """The interval in force ``elapsed`` seconds after the start."""
        edge = 0.0
        for every, span in self.steps:
            edge += span
            if elapsed < edge:
                return every
        return self.last
