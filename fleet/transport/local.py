"""Run steps on the controller itself (``connection: local``)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping

from fleet.commands import CommandResult
from fleet.errors import CommandFailed, CommandTimeout, TransportError


class LocalTransport:
    """A transport whose "host" is this machine, through ``/bin/sh``.

    ``env`` overrides environment variables for every command; tests use it
    to give each pretend host its own ``HOME``.
    """

    def __init__(self, host: str, env: Mapping[str, str] | None = None) -> None:
        self.host = host
        self._env = {**os.environ, **(env or {})}

    def run(
        self, command: str, *, stdin: bytes | None = None, timeout: float, check: bool = True
    ) -> CommandResult:
        """Run ``command`` with ``/bin/sh -c``; see :class:`fleet.transport.Transport`."""
        start = time.monotonic()
        try:
            done = subprocess.run(  # noqa: S602 - the command is a fleet-rendered script
                command, shell=True, input=stdin if stdin is not None else b"",
                capture_output=True, timeout=timeout, env=self._env, check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise CommandTimeout(self.host, timeout) from exc
        except OSError as exc:
            raise TransportError(self.host, f"cannot run a local shell: {exc}") from exc
        result = CommandResult(
            command=command, exit_code=done.returncode,
            stdout=done.stdout.decode("utf-8", "replace"),
            stderr=done.stderr.decode("utf-8", "replace"),
            duration=time.monotonic() - start,
        )
        if check and not result.ok:
            raise CommandFailed(self.host, result)
        return result

    def close(self) -> None:
        """Nothing to close for a local shell."""
