"""Step 1+2, preflight and backup, in one round trip.

The script answers ``UNCHANGED run`` when the host already holds this release
byte for byte (no lock taken, nothing written), ``LOCKED holder`` when another
run holds the deployment's lock, or takes the lock, records the pre-run state
of every file the release writes (verified by sha256) and answers ``READY``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fleet.errors import StepFailed, TransportError
from fleet.remote.context import DeployContext
from fleet.remote.messages import failure_text
from fleet.remote.script import render
from fleet.results import CommandResult
from fleet.transport.base import Script


@dataclass(frozen=True)
class Unchanged:
    """The host is already on the release; ``run_id`` is the run that put it there."""

    run_id: str


@dataclass(frozen=True)
class Locked:
    """Another run holds the deployment's lock on the host."""

    holder: str


@dataclass(frozen=True)
class Ready:
    """Locked and backed up: ``created``/``replaced`` are release file names."""

    created: tuple[str, ...]
    replaced: tuple[str, ...]


Prepared = Unchanged | Locked | Ready


def script(ctx: DeployContext, payload: bytes | None = None) -> Script:
    """Render the prepare script; with ``payload`` (stage's tar, see
    :func:`fleet.remote.stage.pack`) the stage step follows in the same script
    and round trip (:func:`fleet.remote.stage.parse` then reads its part of the
    answer)."""
    variables = {**ctx.base_vars(), "NEED_KB": ctx.need_kb(),
                 "STAGE_IN": int(payload is not None)}
    if payload is None:
        return render("prepare", variables, ctx.file_vars())
    return render("prepare", variables, ctx.file_vars(), stdin=payload, then=("stage",))


def parse(result: CommandResult, ctx: DeployContext, host: str) -> Prepared:
    """Read the prepare script's answer.

    Raises:
        StepFailed: preflight or backup failed and the script cleaned up after itself.
        TransportError: the answer is incomplete; the host may hold the lock.
    """
    lines = result.lines()
    for words in lines:
        if words[0] == "UNCHANGED" and result.ok:
            return Unchanged(words[1] if len(words) > 1 else "")
        if words[0] == "LOCKED":
            return Locked(words[1] if len(words) > 1 else "unknown")
    if ["READY"] in lines:  # what follows (stage, sent along) is stage's to judge
        lines = lines[:lines.index(["READY"]) + 1]
        return _ready(lines, ctx)
    steps = [w[1] for w in lines if w[0] == "STEP" and len(w) > 1]
    step = steps[-1] if steps else "preflight"
    if not any(w[0] == "ERR" for w in lines):
        # No verdict at all: the host may hold our lock and backup; the caller
        # must treat it as touched.
        raise TransportError(host, f"no complete answer from the {step} step "
                             f"(exit {result.exit_code}): {result.stderr.strip()[-200:]}")
    raise StepFailed(host, step, failure_text(result, ctx.file_name, ctx.dir_name))


def _ready(lines: list[list[str]], ctx: DeployContext) -> Ready:
    created: list[str] = []
    replaced: list[str] = []
    for words in lines:
        if words[0] == "FILE" and len(words) == 3:
            name = ctx.file_name(int(words[1]))
            if words[2] == "create":
                created.append(name)
            elif words[2] == "replace":
                replaced.append(name)
    return Ready(tuple(created), tuple(replaced))

