"""Health watches read back: ``fleet monitor``'s sample logs and the canary bake's
(``.fleet/monitor/*.jsonl``, written by :class:`fleet.engine.watch.SampleLog`).

:func:`read_health` folds a log into a :class:`HealthRecord`: per host its
samples over time (each check's value and level), every alert, the checks' warn
and critical levels (from the ``watch`` record a log starts with; a log written
before it existed has none, and its checks are named from the readings), and
the fleet-wide rollback the monitor started, if any.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fleet.runlog.fields import maybe_text, number, seconds, text

MONITOR = "monitor"
BAKE = "bake"


@dataclass(frozen=True)
class CheckLimits:
    """A health check's name and its warn and critical levels (None: pass or fail only)."""

    label: str
    unit: str | None = None
    warn: float | None = None
    critical: float | None = None


@dataclass(frozen=True)
class HealthPoint:
    """One sample of one host: when, its level, and per check label the value and
    level read (``error``: the host could not be read)."""

    ts: float
    level: str
    values: Mapping[str, float | None]
    levels: Mapping[str, str]
    error: str | None = None


@dataclass(frozen=True)
class LevelChange:
    """An alert: ``host`` went from ``before`` to ``after`` at ``ts``, because ``why``."""

    host: str
    before: str
    after: str
    ts: float
    why: str


@dataclass(frozen=True)
class RollbackNote:
    """The fleet-wide rollback a monitor started (``started``/``ts``: None in older logs)."""

    reason: str
    run_id: str | None
    outcome: str | None
    started: float | None = None
    ts: float | None = None


@dataclass
class HealthRecord:
    """One health watch as its log tells it."""

    log_id: str
    purpose: str = MONITOR
    playbook: str = "?"
    release: str | None = None
    run_id: str | None = None
    """The rollout a bake belongs to."""
    started: float = 0.0
    ended: float = 0.0
    hosts: list[str] = field(default_factory=list)
    checks: list[CheckLimits] = field(default_factory=list)
    points: dict[str, list[HealthPoint]] = field(default_factory=dict)
    alerts: list[LevelChange] = field(default_factory=list)
    rollback: RollbackNote | None = None
    skipped_lines: list[int] = field(default_factory=list)
    described: bool = False
    """The log has its ``watch`` record: ``checks`` carry units and levels."""

    @property
    def rounds(self) -> int:
        """Sampling rounds: the most samples any host has."""
        return max((len(p) for p in self.points.values()), default=0)

    def last_levels(self) -> dict[str, str]:
        """host -> its level in its last sample (``unknown`` without one)."""
        return {h: (self.points[h][-1].level if self.points.get(h) else "unknown")
                for h in self.hosts}

    def outcome(self) -> str:
        """``rolled_back`` (the monitor rolled the fleet back), ``alerts`` or ``quiet``."""
        if self.rollback is not None:
            return "rolled_back"
        return "alerts" if self.alerts else "quiet"

    def to_json(self) -> dict[str, object]:
        """The watch as one JSON object (``fleet report --format json`` of a monitor log)."""
        return {
            "log_id": self.log_id, "command": self.purpose, "playbook": self.playbook,
            "release": self.release, "run_id": self.run_id, "started": self.started,
            "ended": self.ended, "outcome": self.outcome(), "rounds": self.rounds,
            "levels": self.last_levels(),
            "checks": [{"label": c.label, "unit": c.unit, "warn": c.warn,
                        "critical": c.critical} for c in self.checks],
            "alerts": [{"host": a.host, "from": a.before, "to": a.after, "ts": a.ts,
                        "why": a.why} for a in self.alerts],
            "rollback": None if self.rollback is None else {
                "reason": self.rollback.reason, "run_id": self.rollback.run_id,
                "outcome": self.rollback.outcome},
            "skipped_lines": self.skipped_lines,
        }


def read_health(lines: Iterable[str], log_id: str) -> HealthRecord:
    """Fold a sample log into a :class:`HealthRecord`; ``log_id`` is the log's file
    name without ``.jsonl`` (it names the playbook in logs without a ``watch`` record).

    A line that is not a complete record is skipped and its number kept in
    ``skipped_lines``. Raises nothing for bad content.
    """
    record = HealthRecord(log_id)
    if "-bake-" in log_id:
        record.purpose = BAKE
        record.playbook, _, record.run_id = log_id.partition("-bake-")
    else:
        record.playbook = log_id.rpartition("-")[0] or log_id
    stamps: list[float] = []
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
            if not isinstance(entry, dict):
                raise TypeError("not a JSON object")
            _fold(record, entry, stamps)
        except (ValueError, KeyError, TypeError):
            record.skipped_lines.append(line_no)
    if stamps:
        record.started, record.ended = min(stamps), max(stamps)
    if not record.checks:  # a log from before the watch record: name them from the readings
        labels = dict.fromkeys(k for pts in record.points.values() for p in pts for k in p.values)
        record.checks = [CheckLimits(label) for label in labels]
    return record


def _fold(record: HealthRecord, entry: dict[str, Any], stamps: list[float]) -> None:
    kind = entry.get("kind")
    if kind == "watch":
        ts = seconds(entry["ts"])
        _watch(record, entry)
        stamps.append(ts)
    elif kind == "sample":
        host, ts = text(entry["host"]), seconds(entry["ts"])
        readings = entry.get("readings") or []
        if not isinstance(readings, list):
            raise TypeError("readings is not a list")
        values: dict[str, float | None] = {}
        levels: dict[str, str] = {}
        for reading in readings:
            label = text(reading["label"])
            value = reading.get("value")
            values[label] = float(value) if isinstance(value, int | float) \
                and not isinstance(value, bool) else None
            levels[label] = text(reading.get("level", "ok"))
        error = entry.get("error")
        point = HealthPoint(ts, text(entry["level"]), values, levels,
                            error if isinstance(error, str) else None)
        if host not in record.points:
            record.points[host] = []
            if host not in record.hosts:
                record.hosts.append(host)
        record.points[host].append(point)
        stamps.append(ts)
    elif kind == "alert":
        alert = LevelChange(text(entry["host"]), text(entry["before"]), text(entry["after"]),
                            seconds(entry["ts"]), text(entry.get("why", "")))
        record.alerts.append(alert)
        stamps.append(alert.ts)
    elif kind == "rollback":
        started = seconds(entry["started"]) if entry.get("started") is not None else None
        ended = seconds(entry["ts"]) if entry.get("ts") is not None else None
        record.rollback = RollbackNote(text(entry["reason"]), maybe_text(entry.get("run_id")),
                                       maybe_text(entry.get("outcome")), started, ended)
        stamps.extend(t for t in (started, ended) if t is not None)


def _watch(record: HealthRecord, entry: dict[str, Any]) -> None:
    """Take the watch record (every field checked before ``record`` changes)."""
    checks, listed = entry.get("checks") or [], entry.get("hosts") or []
    if not isinstance(checks, list) or not isinstance(listed, list):
        raise TypeError("checks or hosts is not a list")
    limits = [CheckLimits(text(c["label"]), maybe_text(c.get("unit")), number(c.get("warn")),
                          number(c.get("critical"))) for c in checks]
    hosts = [text(h) for h in listed]
    purpose, playbook = maybe_text(entry.get("purpose")), maybe_text(entry.get("playbook"))
    release, run_id = maybe_text(entry.get("release")), maybe_text(entry.get("run_id"))
    record.described, record.checks = True, limits
    record.hosts = [*hosts, *(h for h in record.hosts if h not in hosts)]
    record.purpose = purpose or record.purpose
    record.playbook = playbook or record.playbook
    record.release = release
    record.run_id = run_id or record.run_id


def health_markdown(record: HealthRecord) -> str:
    """A health watch as Markdown: what was watched, the alerts, the rollback."""
    span = record.ended - record.started
    lines = [f"# fleet {record.purpose} `{record.playbook}` — log `{record.log_id}`", "",
             f"- outcome: **{record.outcome()}**", f"- release: `{record.release or '-'}`",
             f"- watched for: {span:.2f} s, {record.rounds} rounds",
             f"- hosts: {len(record.hosts)}"]
    lines += [f"- check {c.label}: warn above {c.warn:g} {c.unit or ''}, critical above "
              f"{c.critical:g} {c.unit or ''}".rstrip()
              for c in record.checks if c.warn is not None and c.critical is not None]
    if record.rollback is not None:
        lines.append(f"- rolled back: {record.rollback.reason} (run "
                     f"`{record.rollback.run_id or '?'}`, {record.rollback.outcome or '?'})")
    if record.skipped_lines:
        lines.append(f"- log: skipped {len(record.skipped_lines)} damaged line(s)")
    lines += ["", "| +s | host | from | to | why |", "|---|---|---|---|---|"]
    for alert in record.alerts:
        why = alert.why.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {alert.ts - record.started:.2f} | {alert.host} | {alert.before} | "
                     f"{alert.after} | {why} |")
    return "\n".join(lines) + "\n"


def is_health_log(lines: Iterable[str]) -> bool:
    """True when the first complete record of a JSON-lines log is a health record
    (``kind``), False when it is a run log's event (or nothing is readable)."""
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            return "kind" in entry and "event" not in entry
    return False
