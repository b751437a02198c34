"""Rollouts through a jump host (bastion): ``jump-01`` on 127.0.0.1:2210 reaches the
six dev hosts by name inside the docker network (``dev-01:22`` ...).

The jump is set the two ways real teams set it: ``ansible_ssh_common_args:
'-J user@bastion:port'`` in the inventory, and ``ProxyJump`` in an ssh config
file (``FLEET_SSH_CONFIG``). Host keys are checked on every hop: the jump host's
as ``[127.0.0.1]:2210``, each dev host's under its name as the jump host reaches
it (``dev-01``), all from ``.testfleet/known_hosts_jump``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from invariant import assert_invariant, release_of, take_snapshot
from rollout_support import (
    EXAMPLE_PLAYBOOK,
    EXAMPLE_SOURCE,
    by_name,
    connection_counts,
    connection_deltas,
    example_files,
    expected_after,
    statuses,
)
from testfleet_helpers import (
    CLIENT_KEY,
    EXTRA_PORTS,
    HOSTS,
    JUMP_HOST,
    KNOWN_HOSTS_JUMP,
    NETWORK,
    container,
    manifest,
    run_fleet_json,
    ssh_connection_count,
)

_T = TypeVar("_T")
PLAYBOOK = str(EXAMPLE_PLAYBOOK)
JUMP_PORT = EXTRA_PORTS[JUMP_HOST]
JUMP_ARGS = f"-J tester@127.0.0.1:{JUMP_PORT}"
JUMP_KNOWN_NAME = f"[127.0.0.1]:{JUMP_PORT}"
# A real ed25519 public key that belongs to no test container.
OTHER_KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"


def _jump_ip() -> str:
    """jump-01's address on the fleet network: where the dev hosts see its logins from."""
    ctr = container(JUMP_HOST)
    ctr.reload()
    address: str = ctr.attrs["NetworkSettings"]["Networks"][NETWORK]["IPAddress"]
    assert address, ctr.attrs["NetworkSettings"]["Networks"]
    return address


def _logins_from(host: str, address: str) -> int:
    """Logins ``host``'s sshd accepted from ``address`` since its container was created."""
    logs: bytes = container(host).logs(stdout=True, stderr=True)
    return logs.count(f"Accepted publickey for tester from {address} port ".encode())


def _settled(read: Callable[[], _T], settle: float = 0.4) -> _T:
    """``read()`` until two reads ``settle`` s apart agree (sshd's log lines reach
    ``docker logs`` asynchronously)."""
    value = read()
    for _ in range(10):
        time.sleep(settle)
        again = read()
        if again == value:
            break
        value = again
    return value


def _jump_logins() -> int:
    """Logins jump-01 has accepted (settled)."""
    return _settled(lambda: ssh_connection_count(JUMP_HOST))


def _via_jump(hosts: list[str], address: str) -> dict[str, int]:
    """Logins each of ``hosts`` accepted from ``address`` (settled)."""
    return _settled(lambda: {h: _logins_from(h, address) for h in hosts})


def _inventory(folder: Path, known_hosts: Path = KNOWN_HOSTS_JUMP,
               hosts: list[str] | None = None) -> tuple[str, str]:
    """An inventory of dev hosts by their in-network names behind ``-J`` jump-01."""
    names = hosts or HOSTS
    data: dict[str, Any] = {"all": {
        "vars": {"ansible_user": "tester", "ansible_ssh_private_key_file": str(CLIENT_KEY),
                 "known_hosts_file": str(known_hosts), "ansible_ssh_common_args": JUMP_ARGS},
        "children": {
            "canaries": {"hosts": {names[0]: {"ansible_host": names[0]}}},
            "developers": {"hosts": {n: {"ansible_host": n} for n in names[1:]}},
        }}}
    path = folder / "inventory.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return "-i", str(path)


def _known_hosts_lines() -> tuple[str, list[str]]:
    """(jump host's line, the dev hosts' lines) of known_hosts_jump."""
    lines = KNOWN_HOSTS_JUMP.read_text().splitlines()
    jump = [line for line in lines if line.startswith(JUMP_KNOWN_NAME + " ")]
    dev = [line for line in lines if line.split(" ", 1)[0] in HOSTS]
    assert len(jump) == 1, lines
    assert len(dev) == len(HOSTS), lines
    return jump[0], dev


def test_rollout_through_a_jump_host_from_inventory_ssh_args(
        tmp_path: Path, jump_host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEET_SSH_CONFIG", "none")  # only the inventory decides
    seeded = take_snapshot(label="seeded")
    jump_ip = _jump_ip()
    before_jump = _jump_logins()
    before_via = _via_jump(HOSTS, jump_ip)

    proc, data = run_fleet_json("rollout", PLAYBOOK, *_inventory(tmp_path))

    assert proc.returncode == 0, proc.stderr
    assert data["outcome"] == "success"
    assert statuses(data) == dict.fromkeys(HOSTS, "deployed")
    assert manifest("dev-01") == expected_after(EXAMPLE_SOURCE, example_files())
    # every host: the whole target is the release over the seeded files, no leftovers
    release = release_of(EXAMPLE_PLAYBOOK)
    assert assert_invariant(seeded, release) == dict.fromkeys(HOSTS, release.id)
    # one connection per host, each through the jump host: jump-01 accepted one
    # login per host, and every host saw its login come from jump-01's address
    assert _jump_logins() - before_jump == len(HOSTS)
    after_via = _via_jump(HOSTS, jump_ip)
    assert {h: after_via[h] - before_via[h] for h in HOSTS} == dict.fromkeys(HOSTS, 1)

    on_release = take_snapshot(label="on release")
    proc, back = run_fleet_json("rollback", PLAYBOOK, *_inventory(tmp_path))

    assert proc.returncode == 0, proc.stderr
    assert statuses(back) == dict.fromkeys(HOSTS, "rolled_back")
    assert assert_invariant(on_release, seeded) == dict.fromkeys(HOSTS, "seeded")


def test_rollout_status_and_rollback_through_proxyjump_in_an_ssh_config_file(
        tmp_path: Path, jump_host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    hosts = HOSTS[:3]
    # The inventory names only hosts and the known_hosts file: user, key, and the
    # jump come from ssh config (Host patterns, an alias for the jump host).
    config = tmp_path / "ssh_config"
    config.write_text(
        "Host bastion\n"
        "    HostName 127.0.0.1\n"
        f"    Port {JUMP_PORT}\n"
        "Host dev-*\n"
        "    ProxyJump bastion\n"
        "Host *\n"
        "    User tester\n"
        f'    IdentityFile "{CLIENT_KEY}"\n'
        "    IdentitiesOnly yes\n")
    inventory = tmp_path / "hosts.ini"
    inventory.write_text(f"[all:vars]\nknown_hosts_file={KNOWN_HOSTS_JUMP}\n\n[canaries]\n"
                         f"{hosts[0]}\n\n[developers]\n" + "\n".join(hosts[1:]) + "\n")
    inv = ("-i", str(inventory))
    monkeypatch.setenv("FLEET_SSH_CONFIG", str(config))
    seeded = take_snapshot(label="seeded")
    jump_ip = _jump_ip()
    before_jump = _jump_logins()
    before_via = _via_jump(hosts, jump_ip)

    proc, data = run_fleet_json("rollout", PLAYBOOK, *inv)

    assert proc.returncode == 0, proc.stderr
    assert statuses(data) == dict.fromkeys(hosts, "deployed")
    release = release_of(EXAMPLE_PLAYBOOK)
    assert assert_invariant(seeded, release) == {**dict.fromkeys(hosts, release.id),
                                                 **dict.fromkeys(HOSTS[3:], "before")}
    assert _jump_logins() - before_jump == len(hosts)
    after_via = _via_jump(hosts, jump_ip)
    assert {h: after_via[h] - before_via[h] for h in hosts} == dict.fromkeys(hosts, 1)

    proc, status = run_fleet_json("status", PLAYBOOK, *inv)

    assert proc.returncode == 0, proc.stderr
    assert {h["name"]: (h["state"], h["release"]) for h in status["hosts"]} \
        == dict.fromkeys(hosts, ("ok", data["release"]))

    on_release = take_snapshot(hosts, label="on release")
    proc, back = run_fleet_json("rollback", PLAYBOOK, *inv)

    assert proc.returncode == 0, proc.stderr
    assert statuses(back) == dict.fromkeys(hosts, "rolled_back")
    assert assert_invariant(on_release, seeded) == dict.fromkeys(hosts, "seeded")


@pytest.mark.parametrize(("case", "message"), [
    ("jump host unknown", f"host key of jump host 127.0.0.1:{JUMP_PORT} is not in"),
    ("jump host changed", f"host key for jump host 127.0.0.1:{JUMP_PORT} CHANGED"),
    ("target unknown", f"host key of dev-01:22 via 127.0.0.1:{JUMP_PORT} is not in"),
])
def test_a_host_key_not_known_on_the_jump_path_is_refused_and_nothing_changes(
        tmp_path: Path, jump_host: str, monkeypatch: pytest.MonkeyPatch, case: str,
        message: str) -> None:
    monkeypatch.setenv("FLEET_SSH_CONFIG", "none")
    jump_line, dev_lines = _known_hosts_lines()
    lines = {
        "jump host unknown": dev_lines,
        "jump host changed": [f"{JUMP_KNOWN_NAME} ssh-ed25519 {OTHER_KEY}", *dev_lines],
        "target unknown": [jump_line, *(line for line in dev_lines
                                        if not line.startswith("dev-01 "))],
    }[case]
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text("\n".join(lines) + "\n")
    before = take_snapshot()
    logins = connection_counts()
    before_jump = _jump_logins()

    proc, data = run_fleet_json("rollout", PLAYBOOK, *_inventory(tmp_path, known_hosts))

    assert proc.returncode == 1, proc.stderr
    assert data["outcome"] == "rolled_back"
    canary = by_name(data)["dev-01"]
    assert canary["status"] == "failed"
    assert message in canary["error"], canary["error"]
    assert str(known_hosts) in canary["error"] or "CHANGED" in canary["error"]
    assert {statuses(data)[h] for h in HOSTS[1:]} == {"skipped"}
    assert set(assert_invariant(before).values()) == {"before"}
    assert connection_deltas(logins) == dict.fromkeys(HOSTS, 0)
    # refused before authenticating to a host it does not trust; a trusted jump
    # host is logged into once (to reach the target that is then refused)
    expected_jump_logins = 1 if case == "target unknown" else 0
    assert _jump_logins() - before_jump == expected_jump_logins
