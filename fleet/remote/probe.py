"""Read a deployment's state on a host (current release, lock, backups, files); writes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fleet.config.release import Release
from fleet.errors import StepFailed
from fleet.remote.liveness import LockView, Owner
from fleet.remote.script import assign, indexed, render
from fleet.results import CommandResult
from fleet.transport.base import Script


@dataclass(frozen=True)
class Current:
    """The release the host is on, the run that put it there, and when (UTC ISO)."""

    release: str
    run_id: str
    when: str


@dataclass(frozen=True)
class Backup:
    """One backup kept on the host: the run that made it, the release it was made for,
    whether that run committed, and the release that was current before it."""

    run_id: str
    release: str
    committed: bool
    previous: str | None


@dataclass(frozen=True)
class FileState:
    """One release file in the target: ``state`` is absent, link, other or present."""

    state: str
    sha256: str | None = None
    mode: int | None = None


@dataclass(frozen=True)
class DeploymentState:
    """Everything the probe saw.

    ``drift`` lists files of the current release changed (``changed: name``)
    or removed (``missing: name``) on the host since they were deployed;
    ``staging`` names the runs whose staging folders are still there;
    ``incomplete`` the runs whose backup was never completed (they died
    making it: nothing of the target was changed but folders they recorded);
    ``lock_view`` is the lock's holder, lease and owner, for
    :func:`fleet.remote.liveness.is_live`.
    """

    current: Current | None
    lock: str | None
    backups: tuple[Backup, ...]
    files: tuple[FileState, ...]
    drift: tuple[str, ...] = ()
    staging: tuple[str, ...] = ()
    incomplete: tuple[str, ...] = ()
    lock_view: LockView | None = None

    @property
    def unfinished(self) -> tuple[str, ...]:
        """Runs that left state behind without finishing: the lock holder, runs whose
        backup was never committed or completed, and runs with staging left; newest first."""
        runs = ({b.run_id for b in self.backups if not b.committed} | set(self.staging)
                | set(self.incomplete))
        if self.lock:
            runs.add(self.lock)
        return tuple(sorted(runs, reverse=True))

    def backup_of(self, run_id: str) -> Backup | None:
        """Return the backup made by ``run_id``, if the host keeps it."""
        return next((b for b in self.backups if b.run_id == run_id), None)


def script(name: str, target: str, release: Release | None = None, *,
           then: Sequence[str] = (), extra: Sequence[str] = ()) -> Script:
    """Render the probe; with a release it also reports each release file's sha256 and mode.

    ``then`` names more read-only bodies that run after it in the same round trip,
    with ``extra`` (quoted assignments) for them (see :mod:`fleet.remote.texts`).
    """
    files = release.files if release else ()
    assigned = [assign("N", len(files)), *indexed("F", [f.name for f in files]),
                *indexed("H", [f.sha256 for f in files]), *indexed("M", ["0" for _ in files]),
                *extra]
    return render("probe", {"NAME": name, "TARGET": target, "RUN": "probe", "RELEASE": "-"},
                  assigned, then=then)


def parse(result: CommandResult, host: str) -> DeploymentState:
    """Read the probe's answer.

    Raises:
        StepFailed: the probe did not finish.
    """
    lines = result.lines()
    if not result.ok or ["PROBED"] not in lines:
        tail = result.stderr.strip().splitlines()[-1:] or [f"exit code {result.exit_code}"]
        raise StepFailed(host, "probe", f"cannot read the deployment state: {tail[0]}")
    current, lock, lease, owner = None, None, None, None
    backups: list[Backup] = []
    files: dict[int, FileState] = {}
    staging: list[str] = []
    incomplete: list[str] = []
    for words in lines:
        match words:
            case ["CURRENT", release, run_id, when]:
                current = Current(release, run_id, when)
            case ["LOCK", holder]:
                lock = holder
            case ["LEASE", until]:
                lease = float(until) if until.isdigit() else None
            case ["OWNER", *record]:
                owner = Owner.parse(record)
            case ["INCOMPLETE", run_id]:
                incomplete.append(run_id)
            case ["BACKUP", run_id, release, committed, previous]:
                backups.append(Backup(run_id, release, committed == "1",
                                      None if previous == "-" else previous))
            case ["FILE", index, sha, mode]:
                files[int(index)] = FileState("present", sha, int(mode, 8))
            case ["FILE", index, state]:
                files[int(index)] = FileState(state)
            case ["STAGING", run_id]:
                staging.append(run_id)
    drift = tuple(line for line in result.stderr.splitlines()
                  if line.startswith(("changed: ", "missing: ")))
    ordered = tuple(files[i] for i in sorted(files))  # the script reports them out of order
    view = LockView(lock, lease, owner) if lock is not None else None
    return DeploymentState(current, lock, tuple(backups), ordered, drift,
                           tuple(dict.fromkeys(staging)), tuple(incomplete), view)
