"""A scripted, recording transport for tests (shipped, like httpx's MockTransport)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fleet.errors import CommandFailed
from fleet.results import CommandResult
from fleet.transport.base import STARTED, Transport

Handler = Callable[[str, "bytes | None"], "CommandResult | None"]


@dataclass
class Call:
    """One recorded ``run``."""

    command: str
    stdin: bytes | None
    timeout: float


@dataclass
class FakeTransport:
    """Answers ``run`` with ``handler(command, stdin)``.

    When the handler returns None the call goes on to ``inner`` (a real
    transport, e.g. a :class:`LocalTransport`), so a test can fail one chosen
    step on one host and let every other step really run. Every call is
    recorded in ``calls``.
    """

    host: str
    handler: Handler
    inner: Transport | None = None
    calls: list[Call] = field(default_factory=list)
    closed: bool = False

    def run(
        self, command: str, *, stdin: bytes | None = None, timeout: float, check: bool = True
    ) -> CommandResult:
        """Record the call and answer it; see :class:`fleet.transport.Transport`."""
        self.calls.append(Call(command, stdin, timeout))
        result = self.handler(command, stdin)
        if result is None:
            if self.inner is None:
                raise AssertionError(f"FakeTransport {self.host}: no answer for {command[:80]!r}")
            return self.inner.run(command, stdin=stdin, timeout=timeout, check=check)
        if check and not result.ok:
            raise CommandFailed(self.host, result)
        return result

    def close(self) -> None:
        """Mark closed (and close ``inner``)."""
        self.closed = True
        if self.inner is not None:
            self.inner.close()


def result(stdout: str = "", *, exit_code: int | None = 0, stderr: str = "",
           started: bool = True) -> CommandResult:
    """Build a :class:`CommandResult` for a handler to return: framed as a step
    that started prints it (``started=False``: as a login shell that never ran it)."""
    if started:
        stdout = f"\n{STARTED}\n{stdout}"
        stderr = f"\n{STARTED}\n{stderr}"
    return CommandResult(command="", exit_code=exit_code, stdout=stdout, stderr=stderr,
                         duration=0.0)
