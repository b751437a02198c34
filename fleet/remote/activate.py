"""Steps 4+5, activate and validate, in one round trip (and step 6, commit, too).

Staged files are renamed into the target in the playbook's order, then every
file's sha256 and mode is checked against the release and the playbook's
checks run with the target as working folder. With ``commit=True`` the host
then commits in the same round trip when its own verdict is "all passed": it
judges each check's answer by the same limits (:func:`fleet.remote.checks.host_limit`).
The controller still judges every answer itself: if it finds a failure the
host committed anyway, the in-run rollback undoes the commit too; if the host
did not commit, the controller sends the commit step as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleet.errors import StepFailed
from fleet.remote.checks import CheckOutcome, host_limit, judge, snippet
from fleet.remote.commit import utc_now
from fleet.remote.context import DeployContext
from fleet.remote.messages import failure_text
from fleet.remote.script import assign, render
from fleet.results import CommandResult
from fleet.transport.base import Script


@dataclass(frozen=True)
class Activated:
    """Every check passed; ``committed``: the host committed in the same round trip."""

    outcomes: tuple[CheckOutcome, ...]
    committed: bool


def script(ctx: DeployContext, *, commit: bool = False) -> Script:
    """Render the activate+validate script with the playbook's checks; with
    ``commit`` the host commits right after, if its own verdict is a pass."""
    extra = ctx.file_vars()
    snippets = []
    for k, check in enumerate(ctx.checks):
        assignments, text = snippet(k, check)
        extra.extend(assignments)
        limit = host_limit(check)
        if limit is not None:
            extra.append(assign(f"L{k}", limit))
        snippets.append(text)
    extra += [assign("NCHK", len(ctx.checks)), assign("COMMIT_HERE", int(commit)),
              assign("KEEP", ctx.keep), assign("NOW", utc_now(ctx.now))]
    return render("activate", ctx.base_vars(), extra, snippets=snippets,
                  then=("commit",) if commit else ())


def parse(result: CommandResult, ctx: DeployContext, host: str) -> Activated:
    """Judge every check; return the outcomes when all passed.

    A commit in the same script that failed is not this step's failure: the
    answer says ``committed=False`` and the commit step, sent on its own,
    reports why.

    Raises:
        StepFailed: activation failed (step ``activate``) or a check failed
            (step ``validate``; the message names every failed check).
    """
    lines = result.lines()
    committing = ["STEP", "commit"] in lines
    if (not result.ok and not committing) or ["VALIDATED"] not in lines:
        reached_validate = ["STEP", "validate"] in lines
        raise StepFailed(host, "validate" if reached_validate else "activate",
                         failure_text(result, ctx.file_name, ctx.dir_name))
    outcomes: list[CheckOutcome] = []
    for words in lines:
        if words[0] != "CHECK" or len(words) < 3:
            continue
        if words[1] == "sha":
            name = ctx.file_name(int(words[3])) if len(words) > 3 else "?"
            outcomes.append(CheckOutcome("sha256", False, message=(
                f"{name!r} on the host does not match the release (sha256 or mode)")))
            continue
        k = int(words[1])
        check = ctx.checks[k]
        file_name = ctx.file_name(int(words[3])) if len(words) > 3 and words[2] == "FAIL" else ""
        outcomes.append(judge(check, words[2:], file_name))
    missing = len(ctx.checks) - sum(1 for w in lines if w[0] == "CHECK" and w[1] != "sha")
    failed = [o for o in outcomes if not o.ok]
    if failed or missing:
        why = "; ".join(o.message for o in failed) or "a check gave no answer"
        tail = [line[len("output: "):] for line in result.stderr.splitlines()
                if line.startswith("output: ")][-1:]
        raise StepFailed(host, "validate", why + (f" (output: {tail[0]})" if tail else ""))
    return Activated(tuple(outcomes), result.ok and ["COMMITTED"] in lines)
