"""The transport interface every way of reaching a host implements, and the wire
format of a step: the fixed :data:`BOOTSTRAP` command and the :class:`Script` it reads.

The script never travels on the command line. Every step sends the same
fixed :data:`BOOTSTRAP` command, which reads the same in every login shell
(sh, bash, zsh, ksh, fish, csh/tcsh: no backslash, no newline, no ``!``
inside its quotes); the script follows on stdin, ahead of the step's own
input (see :meth:`Script.wire`). Scripts are rendered by :mod:`fleet.remote.script`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from fleet.results import CommandResult

BOOTSTRAP = "exec /bin/sh -c 'IFS= read -r _b; eval \"$_b\"'"
"""The one command every step sends: ``/bin/sh`` reads its first stdin line and runs it."""


@dataclass(frozen=True)
class Script:
    """A rendered remote step: the shell text plus the bytes to feed its stdin."""

    name: str
    text: str
    stdin: bytes | None = field(default=None, repr=False)

    def command(self) -> str:
        """Return the command line that runs this script: always :data:`BOOTSTRAP`."""
        return BOOTSTRAP

    def wire(self) -> bytes:
        """Return the bytes the command reads on stdin: one line that reads the
        script (exactly its length in bytes, so nothing of what follows is
        consumed), the script, then the step's own input."""
        body = self.text.encode("utf-8", "surrogateescape")
        head = f'_bn={len(body)}; _bs=$(dd bs=1 count=$_bn 2>/dev/null); eval "$_bs"\n'
        return head.encode("ascii") + body + (self.stdin or b"")


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
