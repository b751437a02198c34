"""``become`` on the container fleet: a target folder owned by root (``/opt/fleet-agents``,
root:root 0755) is deployed to, checked and rolled back through sudo
(``ansible_become: true`` in the inventory); without become the same rollout is
refused at preflight and nothing under the folder is touched.

The become password path (sudo with a password, refused sudo) is covered by
test_security.py; the test hosts' sudo needs no password, so these runs send none.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from faults import fleet_ports, write_inventory
from invariant import release_from_files, release_of
from rollout_support import (
    NAME,
    STATE,
    by_name,
    connection_counts,
    connection_deltas,
    exists,
    statuses,
    tree_stamps,
    write_playbook,
)
from testfleet_helpers import HOSTS, docker_exec, manifest, run_fleet_json, state_leftovers

OPT = "/opt/fleet-agents"
"""The root-owned target folder of these tests (made and removed by ``root_target``)."""
ROOT_STATE = "/root/.local/state/fleet"
"""fleet's state folder when the steps run as root (sudo -H: root's home)."""
BECOME_HOSTS = HOSTS[:3]
SEED: dict[str, tuple[bytes, int]] = {
    "COMMON_WORKFLOW.md": (b"root's old workflow\n", 0o644),
    "local.md": (b"root's own file, not fleet's\n", 0o600),
}
"""What ``root_target`` puts in OPT (name -> content, mode); the release replaces the first."""

# $1 = OPT, $2/$3 = the two seed files' contents. Runs as root: root:root, 0755.
_SEED = """set -eu
rm -rf "$1"
umask 022
mkdir "$1"
printf '%s' "$2" > "$1/COMMON_WORKFLOW.md"
printf '%s' "$3" > "$1/local.md"
chmod 0600 "$1/local.md"
"""
# $1 = OPT, $2 = ROOT_STATE: the folder, root's fleet state, any staging left next to OPT.
_CLEAN = """rm -rf "$1" "$2"
for g in "$(dirname "$1")"/.fleet-stage-*; do
    if [ -e "$g" ]; then rm -rf "$g"; fi
done
rmdir /root/.local/state /root/.local 2>/dev/null || true
"""

Manifest = dict[str, tuple[str, int]]


def _owners(host: str) -> set[str]:
    """``user:group`` of OPT and of everything under it on ``host``."""
    code, out = docker_exec(host, ["find", OPT, "-printf", r"%u:%g\n"])
    assert code == 0, out
    return set(out.decode().split())


def _next_to_opt(host: str) -> list[str]:
    """What the target's parent (/opt) holds on ``host``."""
    code, out = docker_exec(host, ["ls", "-A", "/opt"])
    assert code == 0, out
    return out.decode().split()


@pytest.fixture
def root_target(testfleet: list[str]) -> Iterator[Manifest]:
    """OPT on BECOME_HOSTS, root:root 0755, holding SEED; yields its ``manifest()``.
    Removes OPT, root's fleet state and any staging afterwards (``reset_hosts``
    only resets tester's ~/.claude and state)."""
    for host in BECOME_HOSTS:
        code, out = docker_exec(host, ["sh", "-c", _SEED, "sh", OPT,
                                       *(data.decode() for data, _ in SEED.values())])
        assert code == 0, out
    seeded = manifest(BECOME_HOSTS[0], OPT)
    assert seeded == release_from_files(SEED).files
    try:
        yield seeded
    finally:
        for host in BECOME_HOSTS:
            docker_exec(host, ["sh", "-c", _CLEAN, "sh", OPT, ROOT_STATE])


def _inventory(tmp_path: Path, *, become: bool) -> tuple[str, str]:
    all_vars = {"ansible_become": True} if become else {}
    path = write_inventory(tmp_path, fleet_ports(*BECOME_HOSTS), canaries=(BECOME_HOSTS[0],),
                           all_vars=all_vars, filename=f"become-{become}.yml")
    return "-i", str(path)


def test_become_deploys_into_a_root_owned_folder_and_rolls_back_exactly(
        tmp_path: Path, root_target: Manifest) -> None:
    playbook = write_playbook(tmp_path, target=OPT)
    inv = _inventory(tmp_path, become=True)
    release = release_of(playbook)
    wanted = release.over(root_target)
    assert wanted != root_target

    proc, data = run_fleet_json("rollout", str(playbook), *inv)

    assert proc.returncode == 0, proc.stderr
    assert data["outcome"] == "success"
    assert statuses(data) == dict.fromkeys(BECOME_HOSTS, "deployed")
    for host in BECOME_HOSTS:
        assert manifest(host, OPT) == wanted, host
        assert _owners(host) == {"root:root"}, host
        assert _next_to_opt(host) == ["fleet-agents"], host  # no staging left in /opt
        # the steps ran as root: root's fleet state holds the release, tester's nothing
        assert exists(host, f"{ROOT_STATE}/{NAME}/current"), host
        assert not exists(host, f"{ROOT_STATE}/{NAME}/lock"), host
        assert not exists(host, STATE), host

    proc, status = run_fleet_json("status", str(playbook), *inv)

    assert proc.returncode == 0, proc.stderr
    assert {h["name"]: (h["state"], h["release"]) for h in status["hosts"]} \
        == dict.fromkeys(BECOME_HOSTS, ("ok", release.id))

    proc, back = run_fleet_json("rollback", str(playbook), *inv)

    assert proc.returncode == 0, proc.stderr
    assert back["outcome"] == "success"
    assert statuses(back) == dict.fromkeys(BECOME_HOSTS, "rolled_back")
    for host in BECOME_HOSTS:
        assert manifest(host, OPT) == root_target, host  # content and modes, byte for byte
        assert _owners(host) == {"root:root"}, host
        assert _next_to_opt(host) == ["fleet-agents"], host
        assert not exists(host, f"{ROOT_STATE}/{NAME}/current"), host
        assert not exists(host, f"{ROOT_STATE}/{NAME}/lock"), host


def test_without_become_a_root_owned_folder_is_refused_and_left_untouched(
        tmp_path: Path, root_target: Manifest) -> None:
    playbook = write_playbook(tmp_path, target=OPT)
    stamps = {h: tree_stamps(h, OPT) for h in BECOME_HOSTS}
    logins = connection_counts()

    proc, data = run_fleet_json("rollout", str(playbook), *_inventory(tmp_path, become=False))

    assert proc.returncode == 1, proc.stderr  # a host failed; nothing left changed
    assert data["outcome"] == "rolled_back"
    canary = by_name(data)[BECOME_HOSTS[0]]
    assert canary["status"] == "failed"
    assert canary["failed_step"] == "preflight"
    assert "no write permission" in canary["error"]
    assert statuses(data) == {BECOME_HOSTS[0]: "failed",
                              **dict.fromkeys(BECOME_HOSTS[1:], "skipped")}
    deltas = connection_deltas(logins)
    assert {h: deltas[h] for h in BECOME_HOSTS[1:]} == dict.fromkeys(BECOME_HOSTS[1:], 0)
    for host in BECOME_HOSTS:
        # not a byte, mode, mtime or ctime changed under OPT; nothing made next to it
        assert tree_stamps(host, OPT) == stamps[host], host
        assert manifest(host, OPT) == root_target, host
        assert _next_to_opt(host) == ["fleet-agents"], host
        assert state_leftovers(host) == [], host  # tester's lock released



def test_become_a_failed_host_halts_and_every_touched_host_is_put_back_as_root(
        tmp_path: Path, root_target: Manifest) -> None:
    failing = {"type": "command", "run": 'test "$(hostname)" != dev-02', "timeout": 10}
    playbook = write_playbook(tmp_path, target=OPT, extra_checks=[failing])

    proc, data = run_fleet_json("rollout", str(playbook), *_inventory(tmp_path, become=True))

    assert proc.returncode == 1, proc.stderr  # halted; every touched host rolled back cleanly
    assert data["outcome"] == "rolled_back"
    assert by_name(data)["dev-02"]["failed_step"] == "validate"
    # the canary dev-01 and dev-02 were changed and put back; dev-03 went with dev-02's
    # batch and was put back, or had not started
    assert statuses(data)["dev-01"] == statuses(data)["dev-02"] == "rolled_back"
    assert statuses(data)["dev-03"] in ("rolled_back", "skipped")
    for host in BECOME_HOSTS:
        assert manifest(host, OPT) == root_target, host
        assert _owners(host) == {"root:root"}, host
        assert _next_to_opt(host) == ["fleet-agents"], host
        assert not exists(host, f"{ROOT_STATE}/{NAME}/current"), host
        assert not exists(host, f"{ROOT_STATE}/{NAME}/lock"), host
