"""The transport interface every way of reaching a host implements."""

from __future__ import annotations

from typing import Protocol

from fleet.remote.script import CommandResult, Script


class Transport(Protocol):
    """One open connection to one host, reused by every step of a run.

    fleet sends each step as one shell script and streams file content on the
    script's stdin, so ``run`` and ``close`` are the whole interface: no
    separate ``put``/``get`` round trips are needed.

    Example::

        result = transport.run("sh -c 'echo hi'", timeout=10)
        assert result.stdout == "hi\\n"
    """

    host: str

    def run(
        self, command: str, *, stdin: bytes | None = None, timeout: float, check: bool = True
    ) -> CommandResult:
        """Run ``command`` under the host's shell, feeding ``stdin`` then EOF.

        Returns:
            the command's result.
        Raises:
            CommandFailed: it exited non-zero and ``check`` is true.
            CommandTimeout: it did not finish within ``timeout`` seconds.
            TransportError: the connection broke.
        """
        ...

    def close(self) -> None:
        """Close the connection; safe to call twice."""
        ...


def send(transport: Transport, script: Script, *, timeout: float) -> CommandResult:
    """Run a rendered step script on the host and return its result, whatever
    its exit code (the step's ``parse`` judges the answer).

    Raises:
        CommandTimeout: it did not finish within ``timeout`` seconds.
        TransportError: the connection broke.
    """
    return transport.run(script.command(), stdin=script.wire(), timeout=timeout, check=False)
