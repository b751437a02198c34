"""Run steps on the controller itself (``connection: local``)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping

from fleet.errors import CommandFailed, CommandTimeout, TransportError
from fleet.results import CommandResult

_SECRETS = frozenset({"FLEET_BECOME_PASSWORD"})


class LocalTransport:
    """A transport whose "host" is this machine, through ``/bin/sh`` (in a session of
    its own, as sshd starts a command).

    ``env`` overrides environment variables for every command; tests use it
    to give each pretend host its own ``HOME``.
    """

    def __init__(self, host: str, env: Mapping[str, str] | None = None) -> None:
        self.host = host
        # A secret of the controller's is no business of a step's (a check
        # that prints its environment must not leak it).
        inherited = {k: v for k, v in os.environ.items() if k not in _SECRETS}
        self._env = {**inherited, **(env or {})}

    def run(
        self, command: str, *, stdin: bytes | None = None, timeout: float, check: bool = True
    ) -> CommandResult:
        """Run ``command`` with ``/bin/sh -c``; see :class:`fleet.transport.Transport`."""
        start = time.monotonic()
        try:
            # As sshd starts a command: in a session of its own. A command that
            # outlives its timeout is left running, as over SSH, with its pipes
            # closed (a step's orphan ends at its next write).
            proc = subprocess.Popen(  # noqa: S602 - the command is a fleet-rendered script
                command, shell=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=self._env, start_new_session=True,
            )
        except OSError as exc:
            raise TransportError(self.host, f"cannot run a local shell: {exc}") from exc
        try:
            out, err = proc.communicate(stdin if stdin is not None else b"", timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
            raise CommandTimeout(self.host, timeout) from exc
        done = subprocess.CompletedProcess(command, proc.returncode, out, err)
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
