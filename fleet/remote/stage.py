"""Step 3, stage: stream the release as one tar on the script's stdin.

Tar member ``i`` is named ``i/BASENAME`` (PAX headers carry any name): each
file lands in its own numbered folder under its final name, so activation can
move a whole folder's files with one ``mv`` (in the playbook's order) while no
two names can collide in staging. No name passes through a shell word; the
script verifies each file by sha256.
"""

from __future__ import annotations

import io
import tarfile
import time

from fleet.config.release import Release
from fleet.errors import StepFailed
from fleet.remote.context import DeployContext
from fleet.remote.messages import failure_text
from fleet.remote.script import render
from fleet.results import CommandResult
from fleet.transport.base import Script


def pack(release: Release, mtime: float | None = None) -> bytes:
    """Return the release as an uncompressed tar whose members are ``i/BASENAME``."""
    buffer = io.BytesIO()
    stamp = time.time() if mtime is None else mtime
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT,
                      encoding="utf-8", errors="surrogateescape") as tar:
        for index, file in enumerate(release.files):
            data = file.source.read_bytes()
            info = tarfile.TarInfo(f"{index}/{file.name.rsplit('/', 1)[-1]}")
            info.size = len(data)
            info.mode = file.mode & 0o777
            info.mtime = int(stamp)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def script(ctx: DeployContext, payload: bytes) -> Script:
    """Render the stage script with ``payload`` (from :func:`pack`) as its stdin."""
    return render("stage", ctx.base_vars(), ctx.file_vars(), stdin=payload)


def parse(result: CommandResult, ctx: DeployContext, host: str) -> None:
    """Check the stage script's answer.

    Raises:
        StepFailed: unpacking or verification failed.
    """
    if not result.ok or ["STAGED"] not in result.lines():
        raise StepFailed(host, "stage", failure_text(result, ctx.file_name, ctx.dir_name))
