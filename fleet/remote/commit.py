"""Step 6, commit: the release becomes current on the host; lock released; old backups pruned."""

from __future__ import annotations

import time

from fleet.errors import StepFailed
from fleet.remote.context import DeployContext
from fleet.remote.messages import failure_text
from fleet.remote.script import render
from fleet.results import CommandResult
from fleet.transport.base import Script


def script(ctx: DeployContext) -> Script:
    """Render the commit script."""
    return render("commit", {**ctx.base_vars(), "KEEP": ctx.keep, "NOW": utc_now(ctx.now)})


def utc_now(now: float | None = None) -> str:
    """The commit time the host records, from the controller's clock (UTC, seconds);
    ``now`` (seconds since the epoch) instead of the clock when given."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))


def parse(result: CommandResult, ctx: DeployContext, host: str) -> None:
    """Check the commit script's answer.

    Raises:
        StepFailed: the host could not record the release or lost the lock.
    """
    if not result.ok or ["COMMITTED"] not in result.lines():
        raise StepFailed(host, "commit", failure_text(result, ctx.file_name, ctx.dir_name))
