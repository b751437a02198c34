"""``become`` on the container fleet: a target folder owned by root (``/opt/fleet-agents``,
root:root 0755) is deployed to, checked and rolled back through sudo
(``ansible_become: true`` in the inventory); without become the same rollout is
refused at preflight and nothing under the folder is touched.

The dev hosts' sudo needs no password (NOPASSWD), so those runs send none. The
extra host ``sudo-01`` (fixture ``sudo_host``) has sudo as it comes: ``tester
ALL=(ALL) ALL``, a password, the default time stamp settings, and fleet's
commands get no tty there; the password comes from FLEET_BECOME_PASSWORD or the
inventory's ``ansible_become_password``, and a wrong one fails the host untouched
without ever being shown (issue 9). Refused sudo and secrets in the output are
also covered by test_security.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from faults import Controller, fleet_ports, write_inventory
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
from testfleet_helpers import (
    EXTRA_PORTS,
    HOSTS,
    KNOWN_HOSTS_EXTRA,
    SUDO_PASSWORD,
    docker_exec,
    manifest,
    run_fleet_json,
    state_leftovers,
)

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


def _seed_opt(hosts: list[str]) -> None:
    """OPT on ``hosts`` made afresh, root:root 0755, holding SEED."""
    for host in hosts:
        code, out = docker_exec(host, ["sh", "-c", _SEED, "sh", OPT,
                                       *(data.decode() for data, _ in SEED.values())])
        assert code == 0, out


def _clean_opt(hosts: list[str]) -> None:
    """OPT, root's fleet state and any staging next to OPT removed from ``hosts``."""
    for host in hosts:
        docker_exec(host, ["sh", "-c", _CLEAN, "sh", OPT, ROOT_STATE])


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
    _seed_opt(BECOME_HOSTS)
    seeded = manifest(BECOME_HOSTS[0], OPT)
    assert seeded == release_from_files(SEED).files
    try:
        yield seeded
    finally:
        _clean_opt(BECOME_HOSTS)


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


# --------------------------------------------------------------------------- sudo with a password


WRONG_PASSWORD = "wrong-sudo-pw-5d1e0c9a"


@pytest.fixture
def sudo_target(sudo_host: str) -> Iterator[Manifest]:
    """OPT on sudo-01, root:root 0755, holding SEED; yields its ``manifest()``. Removed
    afterwards with root's fleet state and any staging."""
    _seed_opt([sudo_host])
    seeded = manifest(sudo_host, OPT)
    assert seeded == release_from_files(SEED).files
    try:
        yield seeded
    finally:
        _clean_opt([sudo_host])


def _sudo_inventory(tmp_path: Path, host: str, **all_vars: Any) -> tuple[str, str]:
    """``-i FILE`` for sudo-01 alone, with become to root and ``all_vars``."""
    path = write_inventory(tmp_path, {host: EXTRA_PORTS[host]}, canaries=(host,),
                           all_vars={"ansible_become": True, **all_vars},
                           known_hosts=KNOWN_HOSTS_EXTRA, filename="sudo.yml")
    return "-i", str(path)


def _password_given(how: str, password: str, tmp_path: Path, host: str,
                    monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """The inventory for ``host``; ``password`` given the way ``how`` says: "env"
    (FLEET_BECOME_PASSWORD, the controllers inherit it) or "inventory"
    (``ansible_become_password``, and no FLEET_BECOME_PASSWORD)."""
    if how == "env":
        monkeypatch.setenv("FLEET_BECOME_PASSWORD", password)
        return _sudo_inventory(tmp_path, host)
    monkeypatch.delenv("FLEET_BECOME_PASSWORD", raising=False)
    return _sudo_inventory(tmp_path, host, ansible_become_password=password)


def _fleet(cwd: Path, seen: list[str], *args: str) -> tuple[int, dict[str, Any], str]:
    """``fleet ARGS --json`` run in ``cwd`` (its run log goes to ``cwd/.fleet/runs``);
    appends what it printed to ``seen``; returns (exit code, --json result, stderr)."""
    code, data, err = Controller(cwd, *args).finish()
    assert data is not None, f"fleet {' '.join(args)}: no --json result (exit {code}):\n{err}"
    seen += [f"--- {args} stdout", json.dumps(data, ensure_ascii=False),
             f"--- {args} stderr", err]
    return code, data, err


def _with_run_logs(cwd: Path, seen: list[str]) -> str:
    """``seen`` and every run log under ``cwd/.fleet/runs``, as one text."""
    logs = sorted((cwd / ".fleet" / "runs").glob("*.jsonl"))
    assert logs, f"no run log under {cwd}"
    return "\n".join([*seen, *(f"--- {p.name}\n" + p.read_text(encoding="utf-8",
                                                                  errors="replace")
                                for p in logs)])


def _hosts(data: dict[str, Any]) -> str:
    return "\n".join(f"  {h['name']}: {h['status']} {h.get('failed_step') or ''} "
                     f"{h['error'] or ''}" for h in data["hosts"])


@pytest.mark.parametrize("how", ["env", "inventory"])
def test_become_with_a_password_on_stock_sudo_deploys_and_rolls_back_exactly(
        tmp_path: Path, sudo_host: str, sudo_target: Manifest, how: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    playbook = write_playbook(tmp_path, target=OPT)
    inv = _password_given(how, SUDO_PASSWORD, tmp_path, sudo_host, monkeypatch)
    release = release_of(playbook)
    wanted = release.over(sudo_target)
    assert wanted != sudo_target
    cwd = tmp_path / "ctl"
    seen: list[str] = []

    code, data, err = _fleet(cwd, seen, "rollout", str(playbook), *inv)

    assert code == 0, f"{err}\n{_hosts(data)}"
    assert data["outcome"] == "success"
    assert statuses(data) == {sudo_host: "deployed"}
    assert manifest(sudo_host, OPT) == wanted  # every byte and mode
    assert _owners(sudo_host) == {"root:root"}
    assert _next_to_opt(sudo_host) == ["fleet-agents"]  # no staging left in /opt
    # the steps ran as root: root's fleet state holds the release, tester's nothing
    assert exists(sudo_host, f"{ROOT_STATE}/{NAME}/current")
    assert not exists(sudo_host, f"{ROOT_STATE}/{NAME}/lock")
    assert not exists(sudo_host, STATE)

    code, status, err = _fleet(cwd, seen, "status", str(playbook), *inv)

    assert code == 0, f"{err}\n{_hosts(status)}"
    assert {h["name"]: (h["state"], h["release"]) for h in status["hosts"]} \
        == {sudo_host: ("ok", release.id)}

    code, back, err = _fleet(cwd, seen, "rollback", str(playbook), *inv)

    assert code == 0, f"{err}\n{_hosts(back)}"
    assert back["outcome"] == "success"
    assert statuses(back) == {sudo_host: "rolled_back"}
    assert manifest(sudo_host, OPT) == sudo_target  # content and modes, byte for byte
    assert _owners(sudo_host) == {"root:root"}
    assert _next_to_opt(sudo_host) == ["fleet-agents"]
    assert not exists(sudo_host, f"{ROOT_STATE}/{NAME}/current")
    assert not exists(sudo_host, f"{ROOT_STATE}/{NAME}/lock")
    assert SUDO_PASSWORD not in _with_run_logs(cwd, seen)


@pytest.mark.parametrize("how", ["env", "inventory"])
def test_become_with_a_wrong_password_fails_the_host_untouched_and_never_shows_it(
        tmp_path: Path, sudo_host: str, sudo_target: Manifest, how: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    playbook = write_playbook(tmp_path, target=OPT)
    inv = _password_given(how, WRONG_PASSWORD, tmp_path, sudo_host, monkeypatch)
    stamps = tree_stamps(sudo_host, OPT)
    cwd = tmp_path / "ctl"
    seen: list[str] = []

    code, data, err = _fleet(cwd, seen, "rollout", str(playbook), *inv)

    assert code == 1, f"{err}\n{_hosts(data)}"  # a host failed; nothing left changed
    assert data["outcome"] == "rolled_back"
    assert statuses(data) == {sudo_host: "failed"}
    assert "sudo" in by_name(data)[sudo_host]["error"], _hosts(data)  # the reason is shown
    # not a byte, mode, mtime or ctime changed under OPT; nothing made next to it;
    # no step ran as root, and tester holds no lock
    assert tree_stamps(sudo_host, OPT) == stamps
    assert manifest(sudo_host, OPT) == sudo_target
    assert _owners(sudo_host) == {"root:root"}
    assert _next_to_opt(sudo_host) == ["fleet-agents"]
    assert not exists(sudo_host, ROOT_STATE)
    assert state_leftovers(sudo_host) == []
    text = _with_run_logs(cwd, seen)
    assert WRONG_PASSWORD not in text, "the become password leaked"
    assert SUDO_PASSWORD not in text
