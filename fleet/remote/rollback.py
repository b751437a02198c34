"""Rollback of one host: apply the backup a run left there.

Works from the host's own records alone (no controller state), so a fresh
checkout on another machine can roll a fleet back.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fleet.errors import FleetError, RollbackFailed, RunIsLive
from fleet.remote import probe
from fleet.remote.context import DeployContext, lock_vars
from fleet.remote.liveness import Owner
from fleet.remote.messages import failure_text
from fleet.remote.probe import DeploymentState
from fleet.remote.script import assign, render
from fleet.results import CommandResult
from fleet.transport.base import Script


@dataclass(frozen=True)
class RolledBack:
    """The host is back; ``release``/``run_id`` are what is current now (None: nothing)."""

    release: str | None
    run_id: str | None


def script(name: str, target: str, run_id: str, undo: str, *, force: bool,
           missing_ok: bool = False, abandoned: str | None = None,
           command_timeout: float = 120.0, owner: Owner | None = None,
           now: float | None = None) -> Script:
    """Render the rollback of run ``undo``'s changes, done by run ``run_id``.

    ``force`` skips the drift check. Unless ``missing_ok``, the backup of
    ``undo`` must exist; with it, a run that never completed one only has its
    lock, staging and the target folders it recorded making cleared.
    ``abandoned`` is the lease the controller saw on ``undo``'s lock when it
    judged that run abandoned: the lock is taken over only while it is
    unchanged (None: a lock held by ``undo`` is refused). ``owner`` and
    ``now`` are the lock's owner and the lease's clock (None: this process,
    ``time.time()``; see :func:`fleet.remote.context.lock_vars`).
    """
    return render("rollback", {"NAME": name, "TARGET": target, "RUN": run_id,
                               "RELEASE": "-", "UNDO": undo, "FORCE": int(force),
                               "MISSING_OK": int(missing_ok), "ABANDONED": abandoned or "",
                               **lock_vars(command_timeout, owner, now)})


def newest_script(name: str, target: str, run_id: str, expect: str, *, force: bool,
                  command_timeout: float = 120.0, owner: Owner | None = None,
                  now: float | None = None) -> Script:
    """Render the one-round-trip rollback: the probe, then the undo of the host's
    current run, but only when its release is ``expect`` and nothing is
    unfinished there (see ``sh/undo_if_newest.sh``); read with :func:`parse_newest`."""
    variables = {"NAME": name, "TARGET": target, "RUN": run_id, "RELEASE": "-",
                 "EXPECT": expect, "UNDO": "", "FORCE": int(force), "MISSING_OK": 0,
                 "ABANDONED": "", **lock_vars(command_timeout, owner, now)}
    return render("probe", variables, [assign("N", 0)], then=("undo_if_newest", "rollback"))


@dataclass(frozen=True)
class Newest:
    """The answer of :func:`newest_script`: the host's state as the probe read it
    (before any undo), and the undo's outcome when the host went on to undo
    (``undone`` None: it did not; the controller decides)."""

    state: DeploymentState
    undone: RolledBack | FleetError | None


def parse_newest(result: CommandResult, host: str) -> Newest:
    """Read the one-round-trip rollback's answer.

    Raises:
        StepFailed: the probe did not finish (nothing was undone).
    """
    out = result.stdout
    cut = out.find("\nPROBED\n")
    probed = replace(result, stdout=out[:cut + len("\nPROBED\n")] if cut >= 0 else out,
                     exit_code=0 if cut >= 0 else result.exit_code)
    state = probe.parse(probed, host)
    rest = replace(result, stdout=out[cut:])
    if not any(w[0] == "UNDOING" for w in rest.lines()):
        return Newest(state, None)
    try:
        return Newest(state, parse(rest, host))
    except FleetError as exc:
        return Newest(state, exc)


def in_run_script(ctx: DeployContext) -> Script:
    """Render a run's rollback of its own changes on a host.

    No drift check (the files were just written by this very run), and a
    missing backup is fine: the run may have failed before completing one,
    and then only its lock, staging and recorded target folders are cleared.
    """
    return script(ctx.name, ctx.target, ctx.run_id, ctx.run_id, force=True, missing_ok=True,
                  command_timeout=ctx.command_timeout, owner=ctx.owner, now=ctx.now)


def parse(result: CommandResult, host: str) -> RolledBack:
    """Read the rollback script's answer.

    Raises:
        RunIsLive: another run holds the deployment (nothing was touched).
        RollbackFailed: the host could not be put back (message says why).
    """
    for words in result.lines():
        if words[0] == "ROLLED_BACK" and result.ok and len(words) == 3:
            release, run_id = words[1], words[2]
            return RolledBack(None if release == "-" else release,
                              None if run_id == "-" else run_id)
        if words[0] in ("LOCKED", "LIVE"):
            holder = words[1] if len(words) > 1 else "unknown"
            raise RunIsLive(host, holder)
    detail = failure_text(result, lambda i: f"#{i}")
    prefix = "changed since deployed: "
    changed = [line[len(prefix):] for line in result.stderr.splitlines()
               if line.startswith(prefix)]
    if changed:
        more = f" and {len(changed) - 5} more" if len(changed) > 5 else ""
        detail += " (" + ", ".join(repr(n) for n in changed[:5]) + more + ")"
    raise RollbackFailed(host, detail)
