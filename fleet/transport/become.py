"""Run every command as another user through ``sudo`` (Ansible's ``become``).

Every step arrives as :data:`fleet.transport.base.BOOTSTRAP` with its script on
stdin, so the wrapper is one more line at the head of stdin, read by the
same bootstrap as the login user: it reads the password line (the shell's
``read`` stops at the newline, so the step's own stdin follows untouched),
then runs the step's bootstrap under sudo as the become user. When sudo
needs no password (NOPASSWD, or a credential it keeps) the line is
dropped; otherwise the password line goes to ``sudo -S`` on the same pipe as
the step's stdin (sudo reads it byte by byte, up to the newline), so one
sudo call authenticates and runs the step: no cached credential is relied
on. The password never appears in a command line, an error, the output or
the run log.
"""

from __future__ import annotations

import shlex

from fleet.errors import BecomeRefused, CommandFailed
from fleet.results import CommandResult
from fleet.transport.base import BOOTSTRAP, STARTED, Transport

SUDO_NEXT = "--fleet:sudo-next--"
"""Printed (on stdout and stderr) by the wrapper line just before it calls sudo: with
it and without the step's own :data:`~fleet.transport.base.STARTED`, sudo said no."""

_INNER = shlex.quote("IFS= read -r _b; eval \"$_b\"")


def wrapper_line(user: str) -> str:
    """The line that runs the rest of stdin (a password line, then a step's
    bootstrap input) as ``user`` through sudo."""
    who = shlex.quote(user)
    return (
        f"printf '\\n%s\\n' {SUDO_NEXT}; printf '\\n%s\\n' {SUDO_NEXT} >&2; "
        "IFS= read -r _pw; "
        f"if sudo -n -u {who} true >/dev/null 2>&1; then unset _pw; "
        f"sudo -n -H -u {who} /bin/sh -c {_INNER}; exit $?; fi; "
        "{ printf '%s\\n' \"$_pw\"; unset _pw; exec cat; } "
        f"| sudo -S -p '' -H -u {who} /bin/sh -c {_INNER}"
    )


class BecomeTransport:
    """Wraps a transport so that every command runs as ``user`` through sudo."""

    def __init__(self, inner: Transport, user: str | None, password: str | None) -> None:
        self.host = inner.host
        self._inner = inner
        self._user = user or "root"
        self._password = password

    def run(
        self, command: str, *, stdin: bytes | None = None, timeout: float, check: bool = True
    ) -> CommandResult:
        """Run a step (``command`` is always the bootstrap) as the become user; see
        :class:`fleet.transport.Transport`.

        Raises:
            BecomeRefused: sudo refused (wrong or missing password, user not allowed)
                before the step started.
        """
        if command != BOOTSTRAP:
            raise ValueError("become runs fleet's step scripts only (the bootstrap command)")
        head = (wrapper_line(self._user) + "\n").encode()
        secret = (self._password or "").encode() + b"\n"
        result = self._inner.run(BOOTSTRAP, stdin=head + secret + (stdin or b""),
                                 timeout=timeout, check=False)
        mark = f"\n{SUDO_NEXT}\n"
        if mark in result.stdout and f"\n{STARTED}\n" not in result.stdout:
            # The wrapper ran, the step never started: sudo said no (what it
            # said is on stderr after the wrapper's mark, rc-file noise before).
            said = [line for line in result.stderr.rpartition(mark)[2].splitlines()
                    if line.strip()]
            why = said[-1].strip() if said else f"exit code {result.exit_code}"
            raise BecomeRefused(self.host,
                                f"sudo to {self._user!r} was refused ({why}); check the become "
                                "password (FLEET_BECOME_PASSWORD, --ask-become-pass) and the "
                                "sudoers rule")
        if check and not result.ok:
            raise CommandFailed(self.host, result)
        return result

    def close(self) -> None:
        """Close the wrapped transport."""
        self._inner.close()
