"""Past runs, read back from the run logs (``.fleet/runs/<run_id>.jsonl``).

Reading is separate from presenting: :func:`read_run` turns one log into a
:class:`RunRecord`; :func:`to_markdown`, :meth:`RunRecord.to_json` and
:mod:`fleet.junit` present it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fleet.errors import ConfigError


@dataclass
class StepRecord:
    """One step of one host, as logged."""

    step: str
    ok: bool
    duration: float
    error: str | None = None
    detail: str | None = None


@dataclass
class HostRecord:
    """A host's steps and its final status in a run."""

    name: str
    steps: list[StepRecord] = field(default_factory=list)
    status: str = "unknown"
    duration: float = 0.0
    error: str | None = None


@dataclass
class RunRecord:
    """One run as its log tells it."""

    run_id: str
    command: str = "?"
    playbook: str = "?"
    release: str | None = None
    started: float = 0.0
    outcome: str = "unfinished"
    duration: float | None = None
    rollback_duration: float | None = None
    halt_reason: str | None = None
    hosts: dict[str, HostRecord] = field(default_factory=dict)

    def tally(self) -> str:
        """Hosts per final status, e.g. ``3 deployed, 2 rolled_back, 1 failed``."""
        counts = Counter(h.status for h in self.hosts.values())
        return ", ".join(f"{n} {status}" for status, n in counts.most_common()) or "no hosts"

    def to_json(self) -> dict[str, object]:
        """The run as one JSON object (the report's JSON form)."""
        return {
            "run_id": self.run_id, "command": self.command, "playbook": self.playbook,
            "release": self.release, "started": self.started, "outcome": self.outcome,
            "duration_s": self.duration, "rollback_duration_s": self.rollback_duration,
            "halt_reason": self.halt_reason,
            "hosts": [{"name": h.name, "status": h.status, "duration_s": round(h.duration, 3),
                       "error": h.error,
                       "steps": [{"step": s.step, "ok": s.ok, "duration_s": round(s.duration, 3),
                                  "error": s.error, "detail": s.detail} for s in h.steps]}
                      for h in self.hosts.values()],
        }


def read_run(lines: Iterable[str], run_id: str) -> RunRecord:
    """Fold a run log's events into a RunRecord (a log cut short gives ``unfinished``)."""
    record = RunRecord(run_id)
    for line in lines:
        if not line.strip():
            continue
        event = json.loads(line)
        kind = event.get("event")
        if kind == "RunStarted":
            record.command, record.playbook = event["command"], event["playbook"]
            record.release, record.started = event.get("release"), event["ts"]
            for name in event.get("hosts", []):
                record.hosts.setdefault(name, HostRecord(name))
        elif kind == "StepFinished":
            host = record.hosts.setdefault(event["host"], HostRecord(event["host"]))
            host.steps.append(StepRecord(event["step"], event["ok"], event["duration"],
                                         event.get("error"), event.get("detail")))
        elif kind == "HostFinished":
            host = record.hosts.setdefault(event["host"], HostRecord(event["host"]))
            host.status, host.duration = event["status"], event["duration"]
            host.error = event.get("error") or host.error
        elif kind == "Halted":
            record.halt_reason = event["reason"]
        elif kind == "RunFinished":
            record.outcome, record.duration = event["outcome"], event["duration"]
            record.rollback_duration = event.get("rollback_duration")
    return record


def list_runs(folder: Path) -> list[RunRecord]:
    """Every run logged in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    return [read_run(path.read_text(encoding="utf-8").splitlines(), path.stem)
            for path in sorted(folder.glob("*.jsonl"))]


def load_run(folder: Path, run_id: str) -> RunRecord:
    """The run whose id is ``run_id`` (or starts with it, if only one does).

    Raises:
        ConfigError: no such run, or the prefix is ambiguous.
    """
    matches = sorted(folder.glob(f"{run_id}*.jsonl")) if folder.is_dir() else []
    if len(matches) != 1:
        known = ", ".join(p.stem for p in sorted(folder.glob("*.jsonl"))[-3:]) or "none yet"
        why = "no run" if not matches else f"{len(matches)} runs"
        raise ConfigError(f"{why} matches {run_id!r} in {folder}; recent runs: {known} "
                          "(see `fleet history`)", field="RUN_ID")
    path = matches[0]
    return read_run(path.read_text(encoding="utf-8").splitlines(), path.stem)


def to_markdown(record: RunRecord) -> str:
    """A run report a person can read or paste into a ticket."""
    took = f"{record.duration:.2f} s" if record.duration is not None else "unfinished"
    lines = [
        f"# fleet {record.command} `{record.playbook}` — run `{record.run_id}`", "",
        f"- outcome: **{record.outcome}**", f"- release: `{record.release or '-'}`",
        f"- duration: {took}",
        f"- hosts: {len(record.hosts)} ({record.tally()})",
    ]
    if record.rollback_duration is not None:
        lines.append(f"- fleet-wide rollback took {record.rollback_duration:.2f} s")
    if record.halt_reason:
        lines.append(f"- halted: {record.halt_reason}")
    lines += ["", "| host | status | duration | steps | error |", "|---|---|---|---|---|"]
    for host in record.hosts.values():
        steps = ", ".join(f"{s.step} {'ok' if s.ok else 'FAILED'} {s.duration:.2f}s"
                          for s in host.steps)
        error = (host.error or "").replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {host.name} | {host.status} | {host.duration:.2f}s | {steps} | {error} |")
    return "\n".join(lines) + "\n"
