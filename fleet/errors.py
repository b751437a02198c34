"""The one error tree of fleet.

Every exception fleet raises on purpose derives from ``FleetError`` and carries
the evidence a person needs (the file and field, the command result, the host
and step)::

    FleetError
    ├── ConfigError(message, file, field, line)   bad inventory/playbook/arguments: exit 2
    ├── TransportError(host, message)             could not talk to a host
    │   ├── ConnectError                          TCP/SSH connect or auth failed
    │   ├── HostKeyError(host, expected, got)     host key unknown or changed
    │   └── CommandTimeout(host, timeout)         a remote command outlived its timeout
    ├── CommandFailed(host, result)               a remote command exited non-zero
    ├── NotStarted(host, message)                 the step never started: untouched
    │   └── BecomeRefused                         sudo refused before the step started
    ├── StepFailed(host, step, message)           a per-host step decided the host failed
    ├── RollbackFailed(host, message)             a host could not be put back
    └── RunIsLive(host, holder, owner)            another run holds the deployment: untouched

The CLI maps the tree to exit codes; nothing below the CLI calls ``sys.exit``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fleet.results import CommandResult


class FleetError(Exception):
    """Root of every error fleet raises on purpose."""


class ConfigError(FleetError):
    """Bad input: an inventory, a playbook or a command-line argument.

    The message is one line that names the file, the field and the fix.
    """

    def __init__(
        self, message: str, *, file: str | None = None, field: str | None = None,
        line: int | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.field = field
        self.line = line
        super().__init__(self.render())

    def render(self) -> str:
        """Return ``file:line: field: message`` with the parts that are known."""
        where = ""
        if self.file:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
            where += ": "
        what = f"{self.field}: " if self.field else ""
        return f"{where}{what}{self.message}"


class TransportError(FleetError):
    """Talking to a host failed below the level of a command's exit code."""

    def __init__(self, host: str, message: str) -> None:
        self.host = host
        self.message = message
        super().__init__(f"{host}: {message}")


class ConnectError(TransportError):
    """The TCP connection, the SSH handshake or authentication failed."""


class HostKeyError(TransportError):
    """The host's key is not in known_hosts (``expected`` is None) or differs."""

    def __init__(self, host: str, message: str, *, expected: str | None, got: str) -> None:
        self.expected = expected
        self.got = got
        super().__init__(host, message)


class CommandTimeout(TransportError):
    """A remote command did not finish within its timeout."""

    def __init__(self, host: str, timeout: float) -> None:
        self.timeout = timeout
        super().__init__(host, f"command timed out after {timeout:g}s")


class CommandFailed(FleetError):
    """A remote command exited non-zero; ``result`` is the evidence."""

    def __init__(self, host: str, result: CommandResult) -> None:
        self.host = host
        self.result = result
        tail = (result.stderr or result.stdout).strip().splitlines()[-1:] or [""]
        super().__init__(f"{host}: command exited {result.exit_code}: {tail[0]}")


class NotStarted(FleetError):
    """A step never started on the host: the login shell could not start fleet's
    ``/bin/sh`` (no start line came back), so nothing of it ran there.

    Not a :class:`TransportError`: the host answered, and a lost answer (a
    TransportError) may mean the host was touched, while this one says it was
    not. ``step`` names the failure in reports.
    """

    step = "shell"

    def __init__(self, host: str, message: str) -> None:
        self.host = host
        self.message = message
        super().__init__(f"{host}: {self.step}: {message}")


class BecomeRefused(NotStarted):
    """sudo (``become``) refused to run a step (wrong or missing password, user not
    allowed) before the step started: nothing of it ran on the host.

    Raised by the become transport; ``step`` is ``"become"``, the name reports
    give the failure (as they did when it was a :class:`StepFailed`).
    """

    step = "become"


class StepFailed(FleetError):
    """A step of the per-host sequence failed on a host."""

    def __init__(self, host: str, step: str, message: str) -> None:
        self.host = host
        self.step = step
        self.message = message
        super().__init__(f"{host}: {step}: {message}")


class RollbackFailed(FleetError):
    """A host could not be put back to its recorded state; a person is needed."""

    def __init__(self, host: str, message: str) -> None:
        self.host = host
        self.message = message
        super().__init__(f"{host}: rollback failed: {message}")


class RunIsLive(FleetError):
    """Another run holds the deployment's lock on the host and is live (or the lock
    changed hands since it was read); nothing was touched there."""

    def __init__(self, host: str, holder: str, owner: str | None = None) -> None:
        self.host = host
        self.holder = holder
        self.owner = owner
        held = f" ({owner})" if owner else ""
        self.message = (f"the deployment is held by live run {holder}{held}; nothing was "
                        "touched — wait for it to finish (if its controller is gone, "
                        "`fleet recover` takes it over once its lease has run out)")
        super().__init__(f"{host}: {self.message}")


def reason(exc: BaseException) -> str:
    """The human part of an error, without the host prefix a per-host report already shows."""
    message = getattr(exc, "message", None)
    if isinstance(message, str):
        step = getattr(exc, "step", None)
        return f"{step}: {message}" if isinstance(step, str) else message
    return str(exc)
