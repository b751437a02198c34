"""Typed results: of one remote command, of each host, of the run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class CommandResult:
    """What a remote command did.

    ``exit_code`` is None when the command never reported one (the channel
    closed first).
    """

    command: str
    exit_code: int | None
    stdout: str
    stderr: str
    duration: float

    @property
    def ok(self) -> bool:
        """True when the command exited 0."""
        return self.exit_code == 0

    def lines(self) -> list[list[str]]:
        """Return stdout's protocol lines split into words (empty lines dropped)."""
        return [line.split() for line in self.stdout.splitlines() if line.strip()]


class HostStatus(StrEnum):
    """Where a host ended up (DESIGN.md's host ``status``)."""

    DEPLOYED = "deployed"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"
    WOULD_CHANGE = "would_change"
    NOT_DEPLOYED = "not_deployed"
    # Internal only: stopped at a step boundary because the run halted; the
    # orchestrator always rolls such a host back, so it never reaches a report.
    INTERRUPTED = "interrupted"


class Outcome(StrEnum):
    """What the run as a whole did (DESIGN.md's ``outcome``)."""

    SUCCESS = "success"
    CANARY_ONLY = "canary_only"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_INCOMPLETE = "rollback_incomplete"
    HALTED = "halted"
    CHECKED = "checked"
    # Every host was tried; some failed within strategy.max_failures and were rolled back.
    PARTIAL = "partial"

    @property
    def exit_code(self) -> int:
        """The process exit code DESIGN.md assigns to this outcome."""
        if self is Outcome.ROLLBACK_INCOMPLETE:
            return 3
        if self in (Outcome.ROLLED_BACK, Outcome.HALTED, Outcome.PARTIAL):
            return 1
        return 0


@dataclass(frozen=True)
class FileDiff:
    """What ``--check --diff`` shows for one file a rollout would create or replace:
    a unified diff of the host's text against the release's, or a ``note`` saying
    why there is none (``binary``, ``large``, ``mode``: only the mode differs,
    ``link`` or ``other``: the host has a symlink or a non-file there,
    ``unreadable``), with ``detail`` for people; ``mode`` is ``"0644 -> 0755"``
    when the mode changes too."""

    path: str
    diff: str | None = None
    note: str | None = None
    detail: str | None = None
    mode: str | None = None

    def to_json(self) -> dict[str, object]:
        """One entry of a host's ``diff`` list in the ``--json`` result."""
        data: dict[str, object] = {"path": self.path}
        if self.diff is not None:
            data["diff"] = self.diff
        if self.note is not None:
            data["note"] = self.note
        if self.detail is not None:
            data["detail"] = self.detail
        if self.mode is not None:
            data["mode"] = self.mode
        return data


@dataclass(frozen=True)
class HostOutcome:
    """One host's result; ``touched`` is true once the run changed anything there."""

    name: str
    status: HostStatus
    duration: float = 0.0
    error: str | None = None
    touched: bool = False
    release: str | None = None
    created: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    failed_step: str | None = None
    diffs: tuple[FileDiff, ...] | None = None
    """``--check --diff``: one entry per file the rollout would create or replace."""

    def to_json(self) -> dict[str, object]:
        """The host entry of the ``--json`` result."""
        data: dict[str, object] = {
            "name": self.name, "status": self.status.value,
            "duration_s": round(self.duration, 3), "error": self.error,
            "release": self.release,
        }
        if self.failed_step:
            data["failed_step"] = self.failed_step
        if self.created or self.replaced:
            data["changes"] = {"create": list(self.created), "replace": list(self.replaced)}
        if self.diffs is not None:
            data["diff"] = [d.to_json() for d in self.diffs]
        return data


@dataclass(frozen=True)
class RunResult:
    """The whole run: what the ``--json`` result and the summary table show."""

    run_id: str
    command: str
    playbook: str
    release: str | None
    outcome: Outcome
    hosts: tuple[HostOutcome, ...]
    duration: float
    halt_reason: str | None = None
    rollback_duration: float | None = None
    """Seconds the fleet-wide rollback took (rollout after a halt, rollback)."""
    goal: str | None = None
    """What ``fleet rollback`` aimed at: ``to RELEASE`` or ``off RELEASE``."""
    recovered_runs: tuple[str, ...] | None = None
    """The abandoned runs ``fleet recover`` undid."""

    def to_json(self) -> dict[str, object]:
        """The ``--json`` object of DESIGN.md (plus ``rollback_duration_s``, ``goal`` and
        ``recovered_runs`` when the command set them)."""
        data: dict[str, object] = {
            "run_id": self.run_id, "command": self.command, "playbook": self.playbook,
            "release": self.release, "outcome": self.outcome.value,
            "exit_code": self.outcome.exit_code, "duration_s": round(self.duration, 3),
            "halt_reason": self.halt_reason,
            "hosts": [h.to_json() for h in self.hosts],
        }
        if self.rollback_duration is not None:
            data["rollback_duration_s"] = round(self.rollback_duration, 3)
        if self.goal is not None:
            data["goal"] = self.goal
        if self.recovered_runs is not None:
            data["recovered_runs"] = list(self.recovered_runs)
        return data


def in_order(outcomes: Mapping[str, HostOutcome], names: Iterable[str]) -> tuple[HostOutcome, ...]:
    """Return the outcomes in the given host order (inventory order)."""
    return tuple(outcomes[n] for n in names if n in outcomes)
