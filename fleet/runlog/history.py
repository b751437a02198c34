"""Past runs, read back from the run logs (``.fleet/runs/<run_id>.jsonl``).

Reading is separate from presenting: :func:`read_run` turns one log into a
:class:`RunRecord`; :func:`to_markdown`, :meth:`RunRecord.to_json` and
:mod:`fleet.cli.export` present it.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet.errors import ConfigError
from fleet.runlog.fields import LATEST

log = logging.getLogger(__name__)


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
    skipped_lines: list[int] = field(default_factory=list)

    def skipped(self) -> str:
        """The lines of the log that were not complete events, e.g. ``line 7 (not a
        complete event)``; empty when every line was read."""
        if not self.skipped_lines:
            return ""
        shown = ", ".join(map(str, self.skipped_lines[:5]))
        more = f" and {len(self.skipped_lines) - 5} more" if len(self.skipped_lines) > 5 else ""
        return f"line{'s' if len(self.skipped_lines) > 1 else ''} {shown}{more} " \
               "(not a complete event)"

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
            "halt_reason": self.halt_reason, "skipped_lines": self.skipped_lines,
            "hosts": [{"name": h.name, "status": h.status, "duration_s": round(h.duration, 3),
                       "error": h.error,
                       "steps": [{"step": s.step, "ok": s.ok, "duration_s": round(s.duration, 3),
                                  "error": s.error, "detail": s.detail} for s in h.steps]}
                      for h in self.hosts.values()],
        }


def read_run(lines: Iterable[str], run_id: str) -> RunRecord:
    """Fold a run log's events into a RunRecord (a log cut short gives ``unfinished``).

    A line that is not a complete event (half-written when the controller
    died, or damaged) is skipped and its number kept in ``skipped_lines``.
    Raises nothing for bad content.
    """
    record = RunRecord(run_id)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            if not isinstance(event, dict):
                raise TypeError("not a JSON object")
            _fold(record, event)
        except (ValueError, KeyError, TypeError):
            record.skipped_lines.append(number)
    return record


def _fold(record: RunRecord, event: dict[str, Any]) -> None:
    """Apply one event to ``record``; raise KeyError, TypeError or ValueError if it
    lacks a field or a field has the wrong type (``record`` is then unchanged)."""
    kind = event.get("event")
    if kind == "RunStarted":
        command, playbook = _text(event, "command"), _text(event, "playbook")
        release, started = _maybe_text(event, "release"), _number(event, "ts")
        listed = event.get("hosts", [])
        if not isinstance(listed, list) or not all(isinstance(n, str) for n in listed):
            raise TypeError("hosts is not a list of names")
        record.command, record.playbook, record.release, record.started = (
            command, playbook, release, started)
        for name in listed:
            record.hosts.setdefault(name, HostRecord(name))
    elif kind == "StepFinished":
        step = StepRecord(_text(event, "step"), _flag(event, "ok"), _number(event, "duration"),
                          _maybe_text(event, "error"), _maybe_text(event, "detail"))
        name = _text(event, "host")
        record.hosts.setdefault(name, HostRecord(name)).steps.append(step)
    elif kind == "HostFinished":
        name, status = _text(event, "host"), _text(event, "status")
        duration, error = _number(event, "duration"), _maybe_text(event, "error")
        host = record.hosts.setdefault(name, HostRecord(name))
        host.status, host.duration, host.error = status, duration, error or host.error
    elif kind == "Halted":
        record.halt_reason = _text(event, "reason")
    elif kind == "RunFinished":
        outcome, duration = _text(event, "outcome"), _number(event, "duration")
        rollback = _number(event, "rollback_duration") \
            if event.get("rollback_duration") is not None else None
        record.outcome, record.duration, record.rollback_duration = outcome, duration, rollback


def _text(event: dict[str, Any], key: str) -> str:
    value = event[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} is not text")
    return value


def _maybe_text(event: dict[str, Any], key: str) -> str | None:
    return None if event.get(key) is None else _text(event, key)


def _flag(event: dict[str, Any], key: str) -> bool:
    value = event[key]
    if not isinstance(value, bool):
        raise TypeError(f"{key} is not true or false")
    return value


def _number(event: dict[str, Any], key: str) -> float:
    """A finite number of seconds or a time stamp (before the year 5000)."""
    value = event[key]
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not 0 <= value < LATEST:
        raise ValueError(f"{key} is not a time in seconds")
    return float(value)


def _read_log(path: Path) -> RunRecord:
    """Read one run log; warn (on the log, stderr by default) about skipped lines.

    A log that cannot be read at all is a record with outcome ``unreadable``.
    Raises nothing.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        log.warning("cannot read the run log %s: %s", path, exc.strerror or exc)
        return RunRecord(path.stem, outcome="unreadable")
    record = read_run(text.splitlines(), path.stem)
    if record.skipped_lines:
        log.warning("run log %s: skipped %s", path, record.skipped())
    return record


def list_runs(folder: Path) -> list[RunRecord]:
    """Every run logged in ``folder``, oldest first. Raises nothing."""
    if not folder.is_dir():
        return []
    return [_read_log(path) for path in sorted(folder.glob("*.jsonl"))]


def last_run(folder: Path, playbook: str) -> RunRecord | None:
    """The newest run of deployment ``playbook`` logged in ``folder`` (None: none).
    Reads logs newest first, only as far back as it must. Raises nothing."""
    if not folder.is_dir():
        return None
    for path in sorted(folder.glob("*.jsonl"), reverse=True):
        record = _read_log(path)
        if record.playbook == playbook:
            return record
    return None


def _last_rollout(folder: Path, playbook: str) -> RunRecord | None:
    """This controller's newest run of ``playbook`` if it was a rollout of a release."""
    last = last_run(folder, playbook)
    return last if last is not None and last.command == "rollout" and last.release else None


def expected_release(folder: Path, playbook: str) -> str | None:
    """The release this controller last rolled out for ``playbook``, if its newest
    run of it was a rollout that left hosts on it (else None: nothing to expect)."""
    last = _last_rollout(folder, playbook)
    if last is None or last.outcome not in ("success", "canary_only", "partial"):
        return None
    return last.release


def hosts_on_release(folder: Path, playbook: str, release: str) -> frozenset[str]:
    """The hosts this controller's newest run of ``playbook`` left on ``release``
    (its rollout deployed them or found them unchanged); empty when that run was
    anything else."""
    last = _last_rollout(folder, playbook)
    if last is None or last.release != release:
        return frozenset()
    return frozenset(name for name, host in last.hosts.items()
                     if host.status in ("deployed", "unchanged"))


def find_log(runs: Path, monitors: Path, run_id: str) -> Path:
    """The log ``run_id`` names: a ``.jsonl`` file's path, or the one run log in ``runs``
    whose id starts with it, or failing that the one sample log in ``monitors``
    (``fleet monitor``'s) whose name does.

    Raises:
        ConfigError: nothing matches, or the prefix is ambiguous.
    """
    given = Path(run_id)
    if run_id.endswith(".jsonl") and given.is_file():
        return given
    found = (_starting(runs, run_id) or _starting(monitors, run_id)) if run_id else []
    if len(found) == 1:
        return found[0]
    recent = ", ".join(p.stem for p in _starting(runs, "")[-3:]) or "none yet"
    why = "no run matches" if not found else f"{len(found)} logs match"
    raise ConfigError(f"{why} {run_id!r} in {runs} (nor a monitor log in {monitors}); "
                      f"recent runs: {recent} (see `fleet history`)", field="RUN_ID")


def _starting(folder: Path, prefix: str) -> list[Path]:
    """The logs in ``folder`` whose name starts with ``prefix`` (every log for ""),
    oldest first; a prefix, never a pattern."""
    if not folder.is_dir():
        return []
    return [p for p in sorted(folder.glob("*.jsonl")) if p.stem.startswith(prefix)]


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
    if record.skipped_lines:
        lines.append(f"- run log: skipped {record.skipped()}")
    lines += ["", "| host | status | duration | steps | error |", "|---|---|---|---|---|"]
    for host in record.hosts.values():
        steps = ", ".join(f"{s.step} {'ok' if s.ok else 'FAILED'} {s.duration:.2f}s"
                          for s in host.steps)
        error = (host.error or "").replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {host.name} | {host.status} | {host.duration:.2f}s | {steps} | {error} |")
    return "\n".join(lines) + "\n"
