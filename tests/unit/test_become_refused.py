"""sudo refusing a step is a ``BecomeRefused`` from the become transport, and the
pipeline maps it by when it happened: before the host is touched, ``failed``
(untouched); on the in-run rollback after a touched step, ``rollback_failed``."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from fleet.config.release import Release, ReleaseFile
from fleet.engine.pipeline import HostJob, run_host
from fleet.errors import BecomeRefused
from fleet.events import Recorder
from fleet.inventory.model import Host
from fleet.remote.context import DeployContext
from fleet.results import CommandResult, HostStatus
from fleet.transport.base import BOOTSTRAP
from fleet.transport.become import SUDO_NEXT, BecomeTransport
from fleet.transport.fake import FakeTransport, result

HOST = Host(name="h1", address="h1", port=None, user=None, identity_file=None,
            connection="ssh", known_hosts_file=Path("/nonexistent"), groups=(), vars={},
            become=True)
# As over SSH to a host whose rc file prints (on both streams, the last line
# without a newline): the wrapper's mark, then sudo's refusal.
REFUSED = CommandResult(
    BOOTSTRAP, 1, f"\x1b]0;title\x07Welcome!\n{SUDO_NEXT}\n",
    f"rc: a banner on stderr\nno newline here\n{SUDO_NEXT}\nsudo: a password is required\n",
    0.01)
WHY = ("become: sudo to 'root' was refused (sudo: a password is required); check the "
       "become password (FLEET_BECOME_PASSWORD, --ask-become-pass) and the sudoers rule")


def job_with(refuse: set[str], answers: dict[str, str]) -> tuple[HostJob, FakeTransport]:
    """A host job whose transport is become over a fake: sudo refuses the steps in
    ``refuse``; every other step answers ``answers[step]`` on stdout (exit 0)."""

    def handler(command: str, stdin: bytes | None) -> CommandResult:
        text = (stdin or b"").decode("utf-8", "replace")
        step = text.split("# fleet step: ", 1)[1].split("\n", 1)[0]
        if step in refuse:
            return REFUSED
        return result(f"{SUDO_NEXT}\n{answers[step]}")

    fake = FakeTransport("h1", handler)
    transport = BecomeTransport(fake, None, "pw")
    release = Release("abcd1234", (ReleaseFile("a.md", Path("/src/a.md"), "0" * 64, 0o644, 1),))
    ctx = DeployContext("demo", "~/agents", "run-1", release)
    job = HostJob(ctx=ctx, payload=b"", get_transport=lambda h: transport,
                  reconnect=lambda h: transport, sink=Recorder(), stop=threading.Event(),
                  timeout=30.0)
    return job, fake


def test_the_become_transport_raises_become_refused_with_the_reason() -> None:
    job, _ = job_with({"prepare"}, {})
    with pytest.raises(BecomeRefused) as caught:
        job.get_transport(HOST).run(BOOTSTRAP, stdin=b"# fleet step: prepare\n", timeout=5)
    assert caught.value.host == "h1"
    assert f"{caught.value.step}: {caught.value.message}" == WHY


def test_sudo_refused_before_the_host_is_touched_fails_it_untouched() -> None:
    job, fake = job_with({"prepare"}, {})
    outcome = run_host(HOST, job)
    assert outcome.status is HostStatus.FAILED
    assert not outcome.touched
    assert outcome.error == WHY
    assert outcome.failed_step == "become"
    assert len(fake.calls) == 1  # no rollback of a host that was never touched


def test_sudo_refused_on_the_in_run_rollback_is_a_rollback_failure() -> None:
    # prepare and stage in one round trip: the backup is taken, staging fails
    job, fake = job_with({"rollback"}, {"prepare": "STEP preflight\nREADY\nERR untar\n"})
    outcome = run_host(HOST, job)
    assert outcome.status is HostStatus.ROLLBACK_FAILED
    assert outcome.touched
    assert outcome.error is not None
    assert outcome.error.endswith(f"then rollback failed: {WHY}")
    assert outcome.failed_step == "stage"
    assert len(fake.calls) == 2  # prepare+stage, one rollback: no retry of a refusal
