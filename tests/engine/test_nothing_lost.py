"""Issue 9's findings, each reproduced on pretend local hosts (the real scripts).

An undo of a run that died while backing up removes nothing it did not record
making; a live run is never taken over; check timeouts hold; thousands of
files deploy; steps never show in ``ps``; staging is never mistaken.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from fleet.config.playbook import load_playbook
from fleet.config.release import build_release
from fleet.events import Recorder
from fleet.remote import prepare
from fleet.results import HostStatus, Outcome
from fleet.transport.base import Script
from fleet.transport.fake import result
from fleet.transport.local import LocalTransport
from fleet.verbs.recover import recover_fleet
from fleet.verbs.rollback import rollback_fleet
from fleet.verbs.rollout import Target
from fleet.verbs.status import HostState, status_fleet
from tests.engine.test_recover import dead_controller
from tests.engine.world import Manifest, World, manifest

REPO = Path(__file__).resolve().parents[2]


def cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run fleet in ``tmp_path`` with HOME = tmp_path/home (one local host ``me``)."""
    env = {**os.environ, "HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "fleet", *args, "-i", "inv.yml", "--json"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def write_playbook(tmp_path: Path, files: dict[str, bytes], *, name: str = "demo",
                   target: str = "~/agents", extra: str = "") -> Path:
    src = tmp_path / "src"
    if src.exists():
        shutil.rmtree(src)
    for rel, data in files.items():
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (tmp_path / "inv.yml").write_text("all:\n  hosts:\n    me: {ansible_connection: local}\n")
    playbook = tmp_path / "pb.yml"
    playbook.write_text(f"name: {name}\nsource: src\ntarget: {json.dumps(target)}\n{extra}")
    return playbook


def test_a_prepare_that_times_out_loses_no_file(tmp_path: Path) -> None:
    """timeouts.command: 1 and a big file to back up: prepare times out mid-copy and
    the in-run rollback must not take the untouched originals for created files."""
    target = tmp_path / "home" / "agents"
    target.mkdir(parents=True)
    (target / "big.bin").write_bytes(os.urandom(1 << 20) * 300)  # 300 MiB to back up
    for i in range(20):
        (target / f"f{i:02d}.md").write_text(f"original {i}\n")
    (target / "mine.md").write_text("unrelated\n")
    before = manifest(target)
    files = {f"f{i:02d}.md": f"new {i}\n".encode() for i in range(20)}
    files["big.bin"] = b"small now\n"
    write_playbook(tmp_path, files, extra="timeouts: {connect: 5, command: 1}\n")
    done = cli(tmp_path, "rollout", "pb.yml")
    assert done.returncode in (1, 3), done.stderr
    # the orphaned prepare may still be copying: give it time, then recover
    time.sleep(3)
    cli(tmp_path, "recover", "pb.yml")
    assert manifest(target) == before
    state = tmp_path / "home" / ".local" / "state" / "fleet" / "demo"
    assert not (state / "lock").exists()
    assert [p.name for p in (state / "backups").iterdir()] == []


def test_thousands_of_files_deploy_and_roll_back(tmp_path: Path) -> None:
    """The script once travelled as one argv word (Linux: 128 KiB at most)."""
    pad = "a long name that fills the command line quickly " * 3
    files = {f"team-{i // 150}/doc-{i:05d} {pad}.md": f"doc {i}\n".encode()
             for i in range(1000)}
    assert len(" ".join(files)) > 128 * 1024  # one argv word could not hold the names
    write_playbook(tmp_path, files)
    (tmp_path / "home").mkdir()
    done = cli(tmp_path, "rollout", "pb.yml")
    assert done.returncode == 0, done.stderr[-2000:]
    target = tmp_path / "home" / "agents"
    assert len([p for p in target.rglob("*") if p.is_file()]) == 1000
    back = cli(tmp_path, "rollback", "pb.yml")
    assert back.returncode == 0, back.stderr[-2000:]
    assert not target.exists() or list(target.rglob("*")) == []


@pytest.fixture
def slow_rollout(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A rollout whose check sleeps, started in the background; killed at the end."""
    target = tmp_path / "home" / "agents"
    target.mkdir(parents=True)
    (target / "a.md").write_text("old\n")
    write_playbook(tmp_path, {"a.md": b"new\n", "b.md": b"b\n"},
                   extra="checks:\n  - {type: command, run: 'sleep 12', timeout: 30}\n")
    env = {**os.environ, "HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "fleet", "rollout", "pb.yml", "-i",
                             "inv.yml", "--json"], cwd=tmp_path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    state = tmp_path / "home" / ".local" / "state" / "fleet" / "demo"
    deadline = time.monotonic() + 30
    while not list(state.glob("backups/[0-9]*/tphys")) and time.monotonic() < deadline:
        time.sleep(0.05)
    yield proc, state
    if proc.poll() is None:
        proc.kill()
    proc.communicate()


def test_a_live_run_is_running_and_never_taken_over(
        tmp_path: Path, slow_rollout: tuple[subprocess.Popen[str], Path]) -> None:
    proc, state = slow_rollout
    run_id = (state / "lock" / "run").read_text().strip()
    status = cli(tmp_path, "status", "pb.yml")
    assert json.loads(status.stdout)["hosts"][0]["state"] == "running", status.stdout
    lock_before = {p.name: p.read_bytes() for p in (state / "lock").iterdir()}
    for command in ("rollback", "recover"):
        refused = cli(tmp_path, command, "pb.yml")
        assert refused.returncode == 1, refused.stderr
        result = json.loads(refused.stdout)
        assert run_id in result["halt_reason"]
        assert "nothing was touched" in result["halt_reason"]
        assert result["hosts"][0]["status"] == "skipped"
        assert {p.name: p.read_bytes() for p in (state / "lock").iterdir()} == lock_before
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out)["outcome"] == "success"


def test_a_killed_run_is_interrupted_and_recover_finishes_it(
        tmp_path: Path, slow_rollout: tuple[subprocess.Popen[str], Path]) -> None:
    proc, state = slow_rollout
    proc.kill()
    proc.wait()
    status = cli(tmp_path, "status", "pb.yml")
    assert json.loads(status.stdout)["hosts"][0]["state"] == "interrupted", status.stdout
    done = cli(tmp_path, "recover", "pb.yml")
    assert done.returncode == 0, done.stderr
    assert manifest(tmp_path / "home" / "agents") == {"a.md": manifest(
        tmp_path / "home" / "agents")["a.md"]}
    assert (tmp_path / "home" / "agents" / "a.md").read_text() == "old\n"
    assert not (state / "lock").exists()


@pytest.mark.parametrize("run", ["sleep 15 & true", "sleep 15"])
def test_a_check_timeout_holds(tmp_path: Path, run: str) -> None:
    """A background child of a check must not hold the answer open; a check
    that outlives its timeout is stopped (no GNU timeout needed)."""
    (tmp_path / "home").mkdir()
    write_playbook(tmp_path, {"a.md": b"a\n"}, extra=(
        f"checks:\n  - {{type: command, run: {json.dumps(run)}, timeout: 2}}\n"))
    started = time.monotonic()
    done = cli(tmp_path, "rollout", "pb.yml")
    took = time.monotonic() - started
    assert took < 12, f"the check held the step for {took:.1f}s"
    result = json.loads(done.stdout)
    if run.endswith("& true"):
        assert result["outcome"] == "success", done.stderr
    else:
        assert result["outcome"] == "rolled_back"
        assert "timed out after 2s" in result["hosts"][0]["error"]


def test_a_step_and_its_checks_never_show_in_ps(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    write_playbook(tmp_path, {"secret-name-QX7.md": b"a\n"}, extra=(
        "checks:\n  - {type: command, run: ': marker-QX7; sleep 2', timeout: 10}\n"))
    env = {**os.environ, "HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "fleet", "rollout", "pb.yml", "-i",
                             "inv.yml"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    seen: list[str] = []
    while proc.poll() is None:
        listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True,
                                 check=False).stdout
        seen += [line for line in listing.splitlines() if "QX7" in line]
        time.sleep(0.1)
    assert proc.returncode == 0
    assert seen == []


def test_staging_of_another_deployment_or_a_planted_folder_is_never_ours(
        tmp_path: Path) -> None:
    """Target on another filesystem than HOME (tmpfs): staging goes beside it."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.fail("this test needs /dev/shm on a filesystem of its own")
    place = Path(tempfile.mkdtemp(dir=shm, prefix="fleet-test-"))
    try:
        (tmp_path / "home").mkdir()
        write_playbook(tmp_path, {"a.md": b"a\n"}, target=f"{place}/agents")
        assert cli(tmp_path, "rollout", "pb.yml").returncode == 0
        # deployment "demo-x" in flight beside it, and a folder planted by someone
        theirs = place / ".fleet-stage-demo-x-20991231T000000Z-abcdef"
        planted = place / ".fleet-stage-demo-20200101T000000Z-000000"
        for folder in (theirs, planted):
            folder.mkdir()
            (folder / "keep.md").write_text("not fleet's demo\n")
        status = json.loads(cli(tmp_path, "status", "pb.yml").stdout)
        assert status["hosts"][0]["state"] == "ok"
        assert cli(tmp_path, "recover", "pb.yml").returncode == 0
        assert (theirs / "keep.md").exists()
        assert (planted / "keep.md").exists()
        assert (place / "agents" / "a.md").read_text() == "a\n"
    finally:
        shutil.rmtree(place)


def test_a_target_that_is_a_mount_point_is_refused_before_anything(tmp_path: Path) -> None:
    """Staging on another filesystem would make activation copy, not rename."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.fail("this test needs /dev/shm on a filesystem of its own")
    (tmp_path / "home").mkdir()
    write_playbook(tmp_path, {"fleet-test-a.md": b"a\n"}, target="/dev/shm")
    done = cli(tmp_path, "rollout", "pb.yml")
    assert done.returncode == 1, done.stderr
    result = json.loads(done.stdout)
    assert result["hosts"][0]["status"] == "failed"
    assert "mount point" in result["hosts"][0]["error"]
    assert not (shm / "fleet-test-a.md").exists()
    assert list(Path("/dev").glob(".fleet-stage-*")) == []
    state = tmp_path / "home" / ".local" / "state" / "fleet" / "demo"
    assert not (state / "lock").exists()
    assert list((state / "backups").iterdir()) == []


def test_recover_after_a_kill_in_prepare_keeps_every_original(world: World) -> None:
    """A backup that was never completed is only a lock to release: the undo must
    not take the originals it had not yet copied for files the run created."""
    pb = load_playbook(world.playbook())
    release = build_release(pb)
    before: dict[str, Manifest] = world.snapshot()
    ctx = Target(pb, release, world.hosts).context("20260101T000001Z-dead00")
    ctx = replace(ctx, owner=dead_controller())
    host = world.hosts[0]
    env = {"HOME": str(world.home(host.name))}
    # Stop prepare right after the first backup copy: its script with an exit there.
    script = prepare.script(ctx)
    cut = script.text.replace('    existing="$existing $i"\n',
                              '    existing="$existing $i"\n    exit 9\n', 1)
    assert cut != script.text
    LocalTransport(host.name, env=env).run(
        script.command(), stdin=Script(script.name, cut).wire(), timeout=30, check=False)
    assert (world.state(host.name) / "lock").is_dir()
    result = recover_fleet("demo", "~/agents", world.hosts[:1], world.connector, Recorder(),
                           run_id="20260101T000002Z-rec000", only=None, forks=1, timeout=30)
    assert result.outcome is Outcome.SUCCESS
    assert result.hosts[0].status is HostStatus.ROLLED_BACK
    assert world.snapshot()[host.name] == before[host.name]
    assert world.leftovers(host.name) == []
    report = status_fleet("demo", "~/agents", world.hosts[:1], world.connector, forks=1,
                          timeout=30)
    assert report.hosts[0].state is HostState.NOT_DEPLOYED
    back = rollback_fleet("demo", "~/agents", world.hosts[:1], world.connector, Recorder(),
                          run_id="20260101T000003Z-rbk000", to=None, force=False, forks=1,
                          timeout=30)
    assert back.outcome is Outcome.SUCCESS
    assert world.snapshot()[host.name] == before[host.name]


def test_status_tells_a_host_that_answered_from_one_that_did_not(world: World) -> None:
    """``error``: connected, but the state could not be read; ``unreachable``: no connection."""
    world.run(world.playbook())
    world.down.add("h2")
    world.faults["h3"] = lambda command, stdin: result(
        "\x1b]0;title\x07", exit_code=1, stderr="sh: 1: cannot read\n")
    report = status_fleet("demo", "~/agents", world.hosts[:3], world.connector, forks=3,
                          timeout=30)
    states = {h.name: h.state for h in report.hosts}
    assert states == {"h1": HostState.OK, "h2": HostState.UNREACHABLE, "h3": HostState.ERROR}
    assert report.exit_code == 1


def test_replaced_files_in_several_folders_all_come_back(tmp_path: Path) -> None:
    target = tmp_path / "home" / "agents"
    for rel in ("a.md", "sub/b.md", "sub/deeper/c.md", "z.md"):
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).write_text(f"old {rel}\n")
    (target / "sub" / "b.md").chmod(0o600)
    before = manifest(target)
    write_playbook(tmp_path, {rel: f"new {rel}\n".encode()
                              for rel in ("a.md", "sub/b.md", "sub/deeper/c.md", "z.md",
                                          "sub/new.md")})
    assert cli(tmp_path, "rollout", "pb.yml").returncode == 0
    assert manifest(target) != before
    back = cli(tmp_path, "rollback", "pb.yml")
    assert back.returncode == 0, back.stderr
    assert manifest(target) == before


def test_the_become_password_never_reaches_a_local_step(tmp_path: Path) -> None:
    """A check that prints its environment must not leak the controller's secret."""
    (tmp_path / "home").mkdir()
    write_playbook(tmp_path, {"a.md": b"a\n"}, extra=(
        "checks:\n  - {type: command, run: 'env; test -z \"${FLEET_BECOME_PASSWORD-}\"'}\n"))
    env = {**os.environ, "HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO),
           "FLEET_BECOME_PASSWORD": "pw-leak-7Q"}
    done = subprocess.run([sys.executable, "-m", "fleet", "rollout", "pb.yml", "-i", "inv.yml",
                           "--json"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    logs = "".join(p.read_text() for p in (tmp_path / ".fleet" / "runs").glob("*.jsonl"))
    for text in (done.stdout, done.stderr, logs):
        assert "pw-leak-7Q" not in text
