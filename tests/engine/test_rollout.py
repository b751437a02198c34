"""The fleet sequence over real shell on pretend hosts: rollout, rerun, halt, rollback."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from fleet.events import BatchStarted, StepFinished, StepStarted
from fleet.results import CommandResult, HostStatus, Outcome
from fleet.transport.fake import result
from fleet.transport.local import LocalTransport
from tests.engine.world import FILES, World


def expected_after(world: World, host: str) -> dict[str, tuple[str, int]]:
    """The host's manifest as it must be after a successful rollout."""
    before = world.snapshot()[host]
    for name, text in FILES.items():
        before[name] = (hashlib.sha256(text.encode()).hexdigest(), 0o644)
    before["sub dir/"] = ("", 0o755)
    return before


def test_rollout_puts_the_release_on_every_host_and_keeps_unrelated_files(world: World) -> None:
    wanted = {h.name: expected_after(world, h.name) for h in world.hosts}
    res, rec = world.run(world.playbook())
    assert res.outcome is Outcome.SUCCESS
    assert [h.status for h in res.hosts] == [HostStatus.DEPLOYED] * 6
    assert world.snapshot() == wanted
    batches = [e.hosts for e in rec.events if isinstance(e, BatchStarted)]
    assert batches == [("h1",), ("h2", "h3"), ("h4", "h5"), ("h6",)]
    assert all(world.leftovers(h.name) == [] for h in world.hosts)
    assert not (world.root / "pwned").exists()
    assert not any(p.name == "pwned" for p in world.root.rglob("pwned"))


def test_rerun_is_unchanged_and_writes_nothing(world: World) -> None:
    pb = world.playbook()
    world.run(pb, run_id="run-1")
    mtimes = {p: p.stat().st_mtime_ns for p in world.root.joinpath("homes").rglob("*")}
    res, rec = world.run(pb, run_id="run-2")
    assert [h.status for h in res.hosts] == [HostStatus.UNCHANGED] * 6
    assert {p: p.stat().st_mtime_ns for p in world.root.joinpath("homes").rglob("*")} == mtimes
    steps = {(e.host, e.step) for e in rec.events if isinstance(e, StepStarted)}
    assert {s for _, s in steps} == {"connect", "prepare"}


def test_a_failed_check_in_batch_two_rolls_back_every_touched_host(world: World) -> None:
    before = world.snapshot()
    (world.home("h4") / ".fail-check").write_text("")
    res, _ = world.run(world.playbook())
    status = {h.name: h.status for h in res.hosts}
    assert res.outcome is Outcome.ROLLED_BACK
    assert res.outcome.exit_code == 1
    assert status["h4"] is HostStatus.ROLLED_BACK
    assert "validate" in (dict((h.name, h.error) for h in res.hosts)["h4"] or "")
    assert status["h1"] is status["h2"] is status["h3"] is HostStatus.ROLLED_BACK
    assert status["h6"] is HostStatus.SKIPPED
    assert world.snapshot() == before
    for host in world.hosts:
        assert world.leftovers(host.name) == []
        assert not (world.state(host.name) / "current").exists()
    assert world.connects.get("h6", 0) == 0


def test_unreachable_host_halts_and_is_named(world: World) -> None:
    before = world.snapshot()
    world.down.add("h3")
    res, _ = world.run(world.playbook())
    h3 = next(h for h in res.hosts if h.name == "h3")
    assert res.outcome is Outcome.ROLLED_BACK
    assert h3.status is HostStatus.FAILED
    assert "no route" in (h3.error or "")
    assert "h3" in (res.halt_reason or "")
    assert world.snapshot() == before


def test_answer_lost_after_prepare_counts_as_touched_and_is_cleaned(world: World) -> None:
    """The prepare ran (lock and backup taken) but its answer never arrived."""
    before = world.snapshot()
    calls = {"n": 0}

    def lose_prepare_answer(command: str, stdin: bytes | None) -> CommandResult | None:
        calls["n"] += 1
        if calls["n"] == 1:
            real = LocalTransport("h1", env={"HOME": str(world.home("h1"))})
            real.run(command, stdin=stdin, timeout=30, check=False)  # it really ran...
            return result("", exit_code=0)  # ...but the output was lost
        return None

    world.faults["h1"] = lose_prepare_answer
    res, _ = world.run(world.playbook())
    assert res.hosts[0].status is HostStatus.ROLLED_BACK
    assert "no complete answer" in (res.hosts[0].error or "")
    assert res.hosts[0].failed_step == "prepare"  # the step in flight, for a transport error
    assert world.snapshot() == before
    assert world.leftovers("h1") == []
    assert list((world.state("h1") / "backups").iterdir()) == []


def test_canary_only_then_full_rollout(world: World) -> None:
    pb = world.playbook()
    res, _ = world.run(pb, canary_only=True, run_id="run-1")
    assert res.outcome is Outcome.CANARY_ONLY
    assert [h.status for h in res.hosts] == [HostStatus.DEPLOYED] + [HostStatus.SKIPPED] * 5
    res, _ = world.run(pb, run_id="run-2")
    assert [h.status for h in res.hosts] == [HostStatus.UNCHANGED] + [HostStatus.DEPLOYED] * 5


def test_rollback_failed_policy_keeps_earlier_hosts_on_the_release(world: World) -> None:
    (world.home("h3") / ".fail-check").write_text("")
    res, _ = world.run(world.playbook(on_failure="rollback_failed"))
    status = {h.name: h.status for h in res.hosts}
    assert res.outcome is Outcome.HALTED
    assert status["h1"] is HostStatus.DEPLOYED
    assert status["h3"] is HostStatus.ROLLED_BACK
    assert all(world.leftovers(h.name) == [] for h in world.hosts)


def test_tolerated_failure_is_rolled_back_and_the_run_goes_on(world: World) -> None:
    (world.home("h2") / ".fail-check").write_text("")
    before = world.snapshot()["h2"]
    res, _ = world.run(world.playbook(max_failures=1))
    status = {h.name: h.status for h in res.hosts}
    assert res.outcome is Outcome.PARTIAL
    assert res.outcome.exit_code == 1
    assert status["h2"] is HostStatus.ROLLED_BACK
    assert [status[f"h{i}"] for i in (1, 3, 4, 5, 6)] == [HostStatus.DEPLOYED] * 5
    assert world.snapshot()["h2"] == before


def test_stage_failure_after_backup_leaves_host_as_before(world: World) -> None:
    before = world.snapshot()

    second = sorted(FILES)[1]  # the default deploy order is sorted
    good = FILES[second].encode()
    host = LocalTransport("h1", env={"HOME": str(world.home("h1"))})

    def corrupt_stage(command: str, stdin: bytes | None) -> CommandResult | None:
        """The release arrives damaged (one file's bytes changed on the way)."""
        if b"# fleet step: prepare\n" in (stdin or b"") and good in (stdin or b""):
            return host.run(command, stdin=(stdin or b"").replace(good, good.upper()),
                            timeout=30, check=False)
        return None

    world.faults["h1"] = corrupt_stage
    res, _ = world.run(world.playbook())
    h1 = res.hosts[0]
    assert h1.status is HostStatus.ROLLED_BACK
    assert h1.failed_step == "stage"
    assert f"{second!r} does not match its sha256" in (h1.error or "")
    assert world.snapshot() == before
    assert world.leftovers("h1") == []


def test_lock_held_by_another_run_is_refused_with_its_id(world: World) -> None:
    lock = world.state("h1") / "lock"
    lock.mkdir(parents=True)
    (lock / "run").write_text("other-run-42\n")
    before = world.snapshot()
    res, _ = world.run(world.playbook())
    assert res.hosts[0].status is HostStatus.FAILED
    assert "other-run-42" in (res.hosts[0].error or "")
    assert world.snapshot() == before
    assert (lock / "run").read_text() == "other-run-42\n"


def test_the_host_commits_in_the_activate_round_trip_when_every_check_passes(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    real_run = LocalTransport.run

    def counting_run(self: LocalTransport, command: str, **kwargs: Any) -> CommandResult:
        sent.append(self.host)
        return real_run(self, command, **kwargs)

    monkeypatch.setattr(LocalTransport, "run", counting_run)
    res, rec = world.run(world.playbook())
    assert res.outcome is Outcome.SUCCESS
    assert sent.count("h1") == 2  # prepare+stage, activate+validate+commit
    commits = [e for e in rec.events if isinstance(e, StepFinished) and e.step == "commit"]
    assert len(commits) == 6
    assert all(e.ok and "no round trip" in (e.detail or "") for e in commits)
    for host in world.hosts:
        current = (world.state(host.name) / "current").read_text().splitlines()
        assert current[:2] == [res.release, "run-1"]
        assert not (world.state(host.name) / "lock").exists()


def test_a_value_check_over_its_limit_is_not_committed_by_the_host(world: World) -> None:
    before = world.snapshot()
    playbook = world.playbook()
    with playbook.open("a") as out:  # the shells running the script use far more than 1 KB
        out.write("  - {type: memory, process: sh, max_mb: 0.001}\n")
    res, rec = world.run(playbook)
    assert res.outcome is Outcome.ROLLED_BACK
    assert "memory of 'sh'" in (res.hosts[0].error or "")
    assert not any(isinstance(e, StepStarted) and e.step == "commit" for e in rec.events)
    assert world.snapshot() == before
    assert not (world.state("h1") / "current").exists()


def test_hosts_the_run_log_puts_on_the_release_are_asked_without_the_upload(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    pb = world.playbook()
    world.run(pb, run_id="run-1")
    # h2 was put back by hand since: the run log's word is wrong for it
    target = world.target("h2")
    (target / "COMMON_WORKFLOW.md").write_text("edited by hand\n")
    world.state("h2").joinpath("current").unlink()
    sent: list[tuple[str, bool]] = []  # host, whether the release went with the command
    real_run = LocalTransport.run
    content = FILES["COMMON_WORKFLOW.md"].encode()

    def sizing_run(self: LocalTransport, command: str, **kwargs: Any) -> CommandResult:
        sent.append((self.host, content in (kwargs.get("stdin") or b"")))
        return real_run(self, command, **kwargs)

    monkeypatch.setattr(LocalTransport, "run", sizing_run)
    everyone = frozenset(h.name for h in world.hosts)
    res, _ = world.run(pb, run_id="run-2", on_release=everyone)
    status = {h.name: h.status for h in res.hosts}
    assert status["h2"] is HostStatus.DEPLOYED
    assert all(status[h] is HostStatus.UNCHANGED for h in everyone - {"h2"})
    assert not any(upload for host, upload in sent if host != "h2")
    # h2: prepare alone (READY), stage with the release, activate
    assert [upload for host, upload in sent if host == "h2"] == [False, True, False]
    assert {n: v for n, v in world.snapshot()["h2"].items() if n in FILES} \
        == {n: v for n, v in expected_after(world, "h2").items() if n in FILES}
