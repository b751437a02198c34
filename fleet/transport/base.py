"""The transport interface every way of reaching a host implements, and the wire
format of a step: the fixed :data:`BOOTSTRAP` command and the :class:`Script` it reads.

The script never travels on the command line. Every step sends the same
fixed :data:`BOOTSTRAP` command, which reads the same in every login shell
(sh, bash, zsh, ksh, fish, csh/tcsh: no backslash, no newline, no ``!``
inside its quotes); the script follows on stdin, ahead of the step's own
input (see :meth:`Script.wire`). Scripts are rendered by :mod:`fleet.remote.script`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Protocol

from fleet.errors import NotStarted
from fleet.results import CommandResult

BOOTSTRAP = "exec /bin/sh -c 'IFS= read -r _b; eval \"$_b\"'"
"""The one command every step sends: ``/bin/sh`` reads its first stdin line and runs it."""

STARTED = "--fleet:step-started--"
"""The frame's start: the first thing a step prints, on its own line, on stdout and
on stderr, before it reads its script. Whatever came before it (a login shell's
or an rc file's output, with or without a newline) is not the step's."""

SHELL_PROBE = "echo $SHELL"
"""Asked only after a step never started, to name the login shell that failed it
(it reads the same in every shell)."""


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
        consumed), the script, then the step's own input.

        The script is read by ``dd`` in as few reads as the pipe allows: each
        asks for what is still missing, so none takes a byte of the input
        behind it, and ``${#_bs}`` counts what came (bytes, in every shell and
        locale, for a script that is pure ASCII without NUL, as fleet's scripts
        are unless a value holds other bytes). Any other script is read one byte per read
        (``dd bs=1``): always exact, but about 15 ms of the host's CPU per
        20 KB.
        """
        body = self.text.encode("utf-8", "surrogateescape")
        read = _READ_ASCII if body.isascii() and b"\0" not in body else _READ_BYTES
        head = (f"_bn={len(body)}; printf '\\n%s\\n' {STARTED} >&2; "
                f"printf '\\n%s\\n' {STARTED}; {read}; eval \"$_bs\"\n")
        return head.encode("ascii") + body + (self.stdin or b"")


_READ_ASCII = ("_bs=; while [ \"${#_bs}\" -lt \"$_bn\" ]; do "
               "_bc=$(dd bs=$((_bn - ${#_bs})) count=1 2>/dev/null; echo .); "
               "[ \"$_bc\" != . ] || exit 97; _bs=$_bs${_bc%.}; done")
"""Read an ASCII script of ``$_bn`` bytes into ``$_bs``: one ``dd`` per pipe read
(usually one), each asking for exactly what is missing; 97 if the input ends first."""

_READ_BYTES = "_bs=$(dd bs=1 count=$_bn 2>/dev/null)"
"""Read a script of ``$_bn`` bytes into ``$_bs`` one byte per read: exact for any bytes."""


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
    """Run a rendered step script on the host and return its framed result (only
    what the step printed, see :func:`unframe`), whatever its exit code (the
    step's ``parse`` judges the answer).

    Raises:
        NotStarted: the step never started (the login shell could not start
            ``/bin/sh``): nothing of it ran on the host.
        CommandTimeout: it did not finish within ``timeout`` seconds.
        TransportError: the connection broke.
    """
    result = transport.run(script.command(), stdin=script.wire(), timeout=timeout, check=False)
    framed = unframe(result)
    if framed is None:
        raise NotStarted(transport.host, _not_started(transport, result, timeout))
    return framed


def unframe(result: CommandResult) -> CommandResult | None:
    """The part of ``result`` the step itself printed: stdout and stderr after the
    :data:`STARTED` line (a login shell's or an rc file's output before it is
    dropped). None when the step never started (no such line on stdout)."""
    out = _after_mark(result.stdout)
    if out is None:
        return None
    err = _after_mark(result.stderr)
    return dataclasses.replace(result, stdout=out, stderr=result.stderr if err is None else err)


def _after_mark(text: str) -> str | None:
    mark = f"\n{STARTED}\n"
    cut = text.find(mark)
    if cut < 0:
        return None
    return text[cut + len(mark):]


def _not_started(transport: Transport, result: CommandResult, timeout: float) -> str:
    """Why a step never started, naming the login shell (asked once, when it answers)."""
    said = [line.strip() for line in result.stderr.splitlines() if line.strip()]
    why = said[-1] if said else f"exit code {result.exit_code}"
    shell = "the login shell"
    try:
        probe = transport.run(SHELL_PROBE, timeout=min(timeout, 10.0), check=False)
    except Exception:
        probe = None
    if probe is not None:
        paths = [w for line in probe.stdout.splitlines() for w in line.split()
                 if w.startswith("/") and w.isprintable()]
        if paths:
            shell = f"the login shell ({paths[-1]})"
    return (f"{shell} could not start fleet's /bin/sh: {why}; nothing was run on the host "
            "(fleet needs a POSIX /bin/sh there)")
