"""The test fleet and the integration fixtures themselves work."""

from __future__ import annotations

import paramiko
import pytest
from testfleet_helpers import (
    CLIENT_KEY,
    HOME,
    HOSTS,
    KNOWN_HOSTS,
    PORTS,
    SSH_HOST,
    SSH_USER,
    STATE_DIR,
    TARGET,
    container,
    docker_exec,
    manifest,
    restore_host,
    seeded_manifest,
    ssh_connection_count,
    state_leftovers,
)


def _ssh(host: str) -> paramiko.SSHClient:
    """A strict paramiko login to ``host``: unknown or changed host keys are refused."""
    client = paramiko.SSHClient()
    client.load_host_keys(str(KNOWN_HOSTS))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(
        SSH_HOST,
        port=PORTS[host],
        username=SSH_USER,
        pkey=paramiko.Ed25519Key.from_private_key_file(str(CLIENT_KEY)),
        allow_agent=False,
        look_for_keys=False,
        timeout=10,
    )
    return client


def _run(client: paramiko.SSHClient, command: str) -> tuple[int, str]:
    _, stdout, _ = client.exec_command(command, timeout=10)
    out = stdout.read().decode()
    return stdout.channel.recv_exit_status(), out


def test_seeded_target_has_the_seed_files_with_their_modes() -> None:
    for host in HOSTS:
        got = manifest(host)
        assert got == seeded_manifest(), host
        assert got["custom/agent-x.md"][1] == 0o600
        assert got["custom/"] == ("", 0o755)


def test_seeded_files_belong_to_tester() -> None:
    code, out = docker_exec("dev-03", ["stat", "-c", "%U:%G", TARGET, f"{TARGET}/my-notes.md"])
    assert code == 0, out
    assert out.split() == [b"tester:tester", b"tester:tester"]


def test_manifest_of_missing_folder_is_empty() -> None:
    assert manifest("dev-01", f"{HOME}/does-not-exist") == {}


def test_manifest_keeps_awkward_names_exactly() -> None:
    names = ["with space.md", "quote'\"s.md", "new\nline.md", "ünï.md"]
    script = 'cd "$1" && shift && for n in "$@"; do printf x > "$n"; done && chmod 0640 "$1"'
    code, out = docker_exec("dev-02", ["sh", "-c", script, "sh", TARGET, *names], user=SSH_USER)
    assert code == 0, out
    got = manifest("dev-02")
    for name in names:
        assert name in got, (name, sorted(got))
    assert got[names[0]][1] == 0o640


def test_state_leftovers_finds_locks_and_staging() -> None:
    assert state_leftovers("dev-04") == []
    script = 'mkdir -p "$1/agents-framework/lock" "$1/agents-framework/stage-x" "$2/.fleet-stage1"'
    code, out = docker_exec(
        "dev-04", ["sh", "-c", script, "sh", STATE_DIR, f"{HOME}/.claude"], user=SSH_USER
    )
    assert code == 0, out
    assert state_leftovers("dev-04") == [
        f"{HOME}/.claude/.fleet-stage1",
        f"{STATE_DIR}/agents-framework/lock",
        f"{STATE_DIR}/agents-framework/stage-x",
    ]


def test_state_leftovers_are_wiped_between_tests() -> None:
    # Runs after the test above made some (test order is file order).
    assert state_leftovers("dev-04") == []


@pytest.mark.parametrize("host", HOSTS)
def test_strict_ssh_login_works_and_is_counted(host: str) -> None:
    before = ssh_connection_count(host)
    client = _ssh(host)
    try:
        code, out = _run(client, "hostname; id -un; sudo -n id -u")
    finally:
        client.close()
    assert code == 0
    assert out.split() == [host, "tester", "0"]
    assert ssh_connection_count(host) == before + 1


def test_host_keys_differ_between_containers() -> None:
    keys = [line.split()[2] for line in KNOWN_HOSTS.read_text().splitlines() if line]
    assert len(keys) == len(HOSTS)
    assert len(set(keys)) == len(HOSTS)


def test_wrong_host_key_is_refused() -> None:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())  # no known hosts loaded
    with pytest.raises(paramiko.SSHException):
        client.connect(
            SSH_HOST,
            port=PORTS["dev-01"],
            username=SSH_USER,
            key_filename=str(CLIENT_KEY),
            allow_agent=False,
            look_for_keys=False,
            timeout=10,
        )
    client.close()


def test_restore_host_unpauses_and_restarts() -> None:
    container("dev-05").pause()
    container("dev-06").stop(timeout=1)
    restore_host("dev-05")
    restore_host("dev-06")
    for host in ("dev-05", "dev-06"):
        client = _ssh(host)  # same host key after a restart
        client.close()
