"""Whatever a login shell or its rc files print around fleet's lines is not fleet's
answer, and a step that never started is an untouched failure naming the shell.

A pretend host's "login shell" here is a real ``/bin/sh`` that prints what rc
files print (terminal-title escapes, text without a trailing newline, NUL
bytes, a banner on stderr, and a background job that writes in the middle of
the step's answer) before it runs fleet's bootstrap command, as sshd's login
shell does with ``.bashrc``. Real shell containers (fish, tcsh, zsh, a chatty
bash) are in tests/integration/.
"""

from __future__ import annotations

import shlex

import pytest

from fleet.errors import NotStarted
from fleet.remote import probe
from fleet.results import CommandResult, HostStatus, Outcome
from fleet.transport.base import BOOTSTRAP, SHELL_PROBE, Transport, send
from fleet.transport.fake import FakeTransport, result
from fleet.verbs.status import HostState, status_fleet
from tests.engine.world import World

NOISE_OUT = "\x1b]0;user@host: ~\x07Welcome to the\x00 machine! (no newline)"
NOISE_ERR = "conda: base activated\nnvm: using node 20\x1b[0m(no newline)"
LATE = "\x1b]0;late title\x07late text without newline"


class NoisyShell:
    """A transport whose login shell prints rc-file noise before the command, and
    whose rc file left a job behind that prints again while the step runs."""

    def __init__(self, inner: Transport) -> None:
        self.host = inner.host
        self.inner = inner

    def run(self, command: str, *, stdin: bytes | None = None, timeout: float,
            check: bool = True) -> CommandResult:
        # printf's own escapes: a command line cannot carry the NUL byte itself
        rc = ("printf '\\033]0;user@host: ~\\007Welcome to the\\000 machine! (no newline)'; "
              f"printf '%s' {shlex.quote(NOISE_ERR)} >&2; "
              f"(sleep 0.05; printf '%s' {shlex.quote(LATE)}; "
              f"printf '%s' {shlex.quote(LATE)} >&2) &"
              f"\n{command}")
        return self.inner.run(rc, stdin=stdin, timeout=timeout, check=check)

    def close(self) -> None:
        self.inner.close()


def fish_without_sh(command: str, stdin: bytes | None) -> CommandResult:
    """A login shell that cannot start /bin/sh (it answers ``echo $SHELL``)."""
    if command == SHELL_PROBE:
        return result(f"{NOISE_OUT}\n/usr/bin/fish\n", started=False)
    assert command == BOOTSTRAP
    return result(NOISE_OUT, stderr=f"{NOISE_ERR}\nfish: Unknown command: /bin/sh\n",
                  exit_code=127, started=False)


def test_rc_file_noise_around_every_answer_does_not_change_the_rollout(world: World) -> None:
    world.shells = {h.name: NoisyShell for h in world.hosts}
    pb = world.playbook()
    res, _ = world.run(pb)
    assert res.outcome is Outcome.SUCCESS, [h.error for h in res.hosts]
    assert [h.status for h in res.hosts] == [HostStatus.DEPLOYED] * 6
    again, _ = world.run(pb, run_id="run-2")
    assert [h.status for h in again.hosts] == [HostStatus.UNCHANGED] * 6


def test_rc_file_noise_does_not_turn_a_rollback_into_rollback_failed(world: World) -> None:
    world.shells = {h.name: NoisyShell for h in world.hosts}
    before = world.snapshot()
    (world.home("h4") / ".fail-check").write_text("")
    res, _ = world.run(world.playbook())
    status = {h.name: h.status for h in res.hosts}
    assert res.outcome is Outcome.ROLLED_BACK
    assert res.outcome.exit_code == 1
    assert [status[h] for h in ("h1", "h2", "h3", "h4")] == [HostStatus.ROLLED_BACK] * 4
    assert world.snapshot() == before
    errors = " ".join(h.error or "" for h in res.hosts)
    for noise in ("Welcome", "conda", "late", "nvm"):
        assert noise not in errors


def test_a_step_failure_quotes_the_step_never_the_rc_file(world: World) -> None:
    world.shells = {"h1": NoisyShell}
    target = world.target("h1")
    for path in sorted(target.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    target.rmdir()
    target.write_text("a file where the target folder should be\n")
    res, _ = world.run(world.playbook())
    h1 = res.hosts[0]
    assert h1.status is HostStatus.FAILED
    assert not h1.touched
    assert h1.error is not None
    assert "not a folder" in h1.error
    for noise in ("Welcome", "conda", "late", "nvm"):
        assert noise not in h1.error


def test_a_login_shell_that_cannot_start_sh_fails_the_host_untouched(world: World) -> None:
    before = world.snapshot()
    world.faults["h3"] = fish_without_sh
    res, _ = world.run(world.playbook())
    status = {h.name: h.status for h in res.hosts}
    h3 = next(h for h in res.hosts if h.name == "h3")
    assert status["h3"] is HostStatus.FAILED
    assert not h3.touched
    assert h3.error is not None
    assert h3.error.startswith("shell: the login shell (/usr/bin/fish) could not start")
    assert "Unknown command: /bin/sh" in h3.error
    assert "Welcome" not in h3.error
    assert status["h1"] is status["h2"] is HostStatus.ROLLED_BACK
    assert HostStatus.ROLLBACK_FAILED not in status.values()
    assert res.outcome is Outcome.ROLLED_BACK
    assert res.outcome.exit_code == 1
    assert world.snapshot() == before


def test_status_calls_a_host_that_answered_error_never_unreachable(world: World) -> None:
    world.faults["h2"] = fish_without_sh
    world.down.add("h3")
    pb = world.playbook()
    world.run(pb)  # halts at h2 (canary h1 rolled back)
    report = status_fleet("demo", "~/agents", world.hosts, world.connector, forks=4, timeout=30)
    state = {h.name: h.state for h in report.hosts}
    assert state["h2"] is HostState.ERROR
    assert "/usr/bin/fish" in (report.hosts[1].error or "")
    assert state["h3"] is HostState.UNREACHABLE
    assert state["h1"] is HostState.NOT_DEPLOYED
    assert report.exit_code == 1


def test_a_fake_host_answer_without_the_frame_is_not_started() -> None:
    fake = FakeTransport("h9", fish_without_sh)
    with pytest.raises(NotStarted) as caught:
        send(fake, probe.script("demo", "~/agents"), timeout=5)
    assert caught.value.step == "shell"
    assert "/usr/bin/fish" in caught.value.message
    assert [c.command for c in fake.calls] == [BOOTSTRAP, SHELL_PROBE]
