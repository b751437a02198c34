"""Links leading out of the target are never written through; secrets never printed;
any sequence of step failures leaves each host as before or on the release."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet.errors import TransportError
from fleet.events import Recorder
from fleet.inventory.model import Host
from fleet.results import CommandResult, HostStatus
from fleet.transport.fake import result
from fleet.transport.local import LocalTransport
from fleet.verbs.rollback import rollback_fleet
from tests.engine.world import FILES, Manifest, World, manifest


def test_target_that_is_a_link_is_refused(world: World) -> None:
    outside = world.root / "outside"
    outside.mkdir()
    for host in world.hosts:
        target = world.target(host.name)
        os.rename(target, world.root / f"moved-{host.name}")
        target.symlink_to(outside)
    res, _ = world.run(world.playbook())
    assert res.hosts[0].status is HostStatus.FAILED
    assert "symbolic link" in (res.hosts[0].error or "")
    assert list(outside.iterdir()) == []


def test_folder_link_inside_the_target_is_refused(world: World) -> None:
    outside = world.root / "outside"
    outside.mkdir()
    (world.target("h1") / "sub dir").symlink_to(outside)
    before = world.snapshot()
    res, _ = world.run(world.playbook())
    assert res.hosts[0].status is HostStatus.FAILED
    assert "'sub dir'" in (res.hosts[0].error or "")
    assert list(outside.iterdir()) == []
    assert world.snapshot() == before
    assert world.leftovers("h1") == []


def test_file_link_inside_the_target_is_refused(world: World) -> None:
    secret = world.root / "outside.txt"
    secret.write_text("not yours\n")
    link = world.target("h1") / "COMMON_WORKFLOW.md"
    link.unlink()
    link.symlink_to(secret)
    res, _ = world.run(world.playbook())
    assert res.hosts[0].status is HostStatus.FAILED
    assert "symbolic link" in (res.hosts[0].error or "")
    assert secret.read_text() == "not yours\n"
    assert link.is_symlink()


def test_secrets_in_the_inventory_never_reach_output_or_the_run_log(tmp_path: Path) -> None:
    secrets = ["s3cr3t-ssh-pass", "s3cr3t-become-pass", "s3cr3t-key-passphrase"]
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.md").write_text("a\n")
    (tmp_path / "pb.yml").write_text("name: sec\nsource: src\ntarget: ~/t\n"
                                     "checks:\n  - {type: command, run: 'false'}\n")
    (tmp_path / "inv.yml").write_text(
        "all:\n  vars:\n"
        f"    ansible_password: {secrets[0]}\n    ansible_become_password: {secrets[1]}\n"
        f"    ansible_ssh_pass_phrase: {secrets[2]}\n"
        "  hosts:\n    me: {ansible_connection: local}\n")
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-m", "fleet", "rollout", "pb.yml", "-i", "inv.yml",
                           "--json"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 1, done.stderr  # the check fails: the error path is exercised
    run_id = json.loads(done.stdout)["run_id"]
    log = (tmp_path / ".fleet" / "runs" / f"{run_id}.jsonl").read_text()
    for secret in secrets:
        assert secret not in done.stdout
        assert secret not in done.stderr
        assert secret not in log


STEPS = ("prepare", "stage", "activate", "commit", "rollback")
MARKERS = {step: f"# fleet step: {step}\n".encode() for step in STEPS}


def fault(world: World, host: str, step: str, kind: str):  # type: ignore[no-untyped-def]
    """Fail the first ``step`` script sent to ``host`` in the way ``kind`` says."""
    real = LocalTransport(host, env={"HOME": str(world.home(host))})
    fired = {"done": False}

    def handler(command: str, stdin: bytes | None) -> CommandResult | None:
        if fired["done"] or MARKERS[step] not in (stdin or b""):
            return None
        fired["done"] = True
        if kind == "refuse":  # the script reports a failure before doing anything
            return result("ERR state-dir\n", exit_code=1)
        real.run(command, stdin=stdin, timeout=30, check=False)  # it ran...
        if kind == "lost":  # ...but the answer never came
            return result("", exit_code=0)
        raise TransportError(host, "connection lost after the command")  # kind == "drop"
    return handler


def expected_after(before: Manifest) -> Manifest:
    """A target's manifest once the test release is on it."""
    after = dict(before)
    for name, text in FILES.items():
        after[name] = (hashlib.sha256(text.encode()).hexdigest(), 0o644)
    after["sub dir/"] = ("", 0o755)
    return after


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(faults=st.lists(st.tuples(st.sampled_from(["h1", "h2", "h3"]), st.sampled_from(STEPS),
                                 st.sampled_from(["refuse", "lost", "drop"])),
                       max_size=3, unique_by=lambda f: f[0]),
       on_failure=st.sampled_from(["rollback_all", "rollback_failed"]))
def test_any_step_failures_leave_hosts_as_before_or_on_the_release(
        tmp_path_factory: pytest.TempPathFactory, faults: list[tuple[str, str, str]],
        on_failure: str) -> None:
    root = tmp_path_factory.mktemp("prop")
    hosts = tuple(Host(name=f"h{i}", address="localhost", port=22, user=None,
                       identity_file=None, connection="local", known_hosts_file=root / "kh",
                       groups=("all",), vars={}) for i in (1, 2, 3))
    world = World(root, hosts)
    for host in hosts:
        world.target(host.name).mkdir(parents=True)
        (world.target(host.name) / "COMMON_WORKFLOW.md").write_text("old\n")
    before = world.snapshot()
    pb = world.playbook(batch_size=1, on_failure=on_failure)
    after = {h: expected_after(m) for h, m in before.items()}
    for name, step, kind in faults:
        world.faults[name] = fault(world, name, step, kind)
    res, _ = world.run(pb, run_id="20260101T000001Z-run")
    world.faults.clear()
    for outcome in res.hosts:
        now = manifest(world.target(outcome.name))
        if outcome.status is HostStatus.ROLLBACK_FAILED:
            continue  # needs a person: recover below must finish it
        assert now in (before[outcome.name], after[outcome.name]), (outcome, faults)
        assert world.leftovers(outcome.name) == [], (outcome, faults)
    # What the run could not put back, a person does with `fleet rollback` on those hosts.
    stuck = tuple(h for h in hosts if dict((o.name, o.status) for o in res.hosts)[h.name]
                  is HostStatus.ROLLBACK_FAILED)
    if stuck:
        healed = rollback_fleet("demo", "~/agents", stuck, world.connector, Recorder(),
                                run_id="20260101T000002Z-fix", to=None, force=False, forks=3,
                                timeout=30)
        assert healed.outcome.exit_code == 0, healed
    for outcome in res.hosts:
        now = manifest(world.target(outcome.name))
        if outcome.status is HostStatus.DEPLOYED:
            assert now == after[outcome.name]
        else:
            assert now == before[outcome.name], (outcome, faults)
        assert world.leftovers(outcome.name) == []
