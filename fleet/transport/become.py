"""Run every command as another user through ``sudo`` (Ansible's ``become``).

The password, when there is one, travels only as the first line of the
command's stdin: a tiny wrapper reads it with the shell's ``read`` (which
stops at the newline, so a step's own stdin, such as the release tar, follows
untouched), hands it to ``sudo -S -v`` and runs the step under ``sudo -n``.
It never appears in a command line, an error, the output or the run log.
"""

from __future__ import annotations

import shlex

from fleet.commands import CommandResult
from fleet.errors import CommandFailed, StepFailed
from fleet.transport.base import Transport

# $1 = user, $2 = the step's command line; stdin = password line + the step's stdin.
_WRAPPER = (
    'IFS= read -r _pw; '
    'printf "%s\\n" "$_pw" | sudo -S -p "" -v >/dev/null 2>&1 '
    '|| { echo "ERR become"; echo "sudo refused the password for $(id -un)" >&2; exit 1; }; '
    'unset _pw; exec sudo -n -H -u "$1" sh -c "$2"'
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
        """Run ``command`` as the become user; see :class:`fleet.transport.Transport`.

        Raises:
            StepFailed: sudo refused (wrong or missing password, user not allowed).
        """
        wrapped = "sh -c " + " ".join(shlex.quote(w) for w in (_WRAPPER, "sh", self._user,
                                                                 command))
        secret = (self._password or "").encode() + b"\n"
        result = self._inner.run(wrapped, stdin=secret + (stdin or b""), timeout=timeout,
                                 check=False)
        refused = not result.stdout and not result.ok and result.stderr.startswith("sudo:")
        if refused:  # sudo itself said no (unknown user, not allowed) before the step ran
            raise StepFailed(self.host, "become",
                             f"sudo to {self._user!r} was refused: "
                             f"{result.stderr.strip().splitlines()[0]}")
        if result.stdout.startswith("ERR become"):
            raise StepFailed(self.host, "become",
                             f"sudo to {self._user!r} was refused: check the become password "
                             "(FLEET_BECOME_PASSWORD, --ask-become-pass) and the sudoers rule")
        result = CommandResult(command, result.exit_code, result.stdout, result.stderr,
                               result.duration)
        if check and not result.ok:
            raise CommandFailed(self.host, result)
        return result

    def close(self) -> None:
        """Close the wrapped transport."""
        self._inner.close()
