"""Many hosts behind one jump host that keeps OpenSSH's default ``MaxStartups 10:30:100``.

The test starts its own jump container (jump-01's image, on the fleet's
network, its MaxStartups line taken out so sshd's default applies, a port of
its own),
then opens 48 connections at once through it to the six dev hosts: without a
:class:`~fleet.transport.jumpgate.JumpGate` the jump host drops some of them
(showing the limit is real); with one, every connection is made.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import cast

import docker
import pytest
from docker.models.containers import Container
from testfleet_helpers import (
    CLIENT_KEY,
    HOSTS,
    JUMP_HOST,
    KNOWN_HOSTS_JUMP,
    NETWORK,
    container,
    exec_demuxed,
    wait_for_ssh,
)

from fleet.errors import ConnectError
from fleet.transport.jumpgate import JumpGate
from fleet.transport.ssh import SshTransport

AT_ONCE = 48


@pytest.fixture
def default_jump(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """(port, known_hosts) of a jump host with sshd's default MaxStartups."""
    image = container(JUMP_HOST).image
    assert image is not None
    pubkey = Path(f"{CLIENT_KEY}.pub").read_text().strip()
    ctr: Container = docker.from_env().containers.run(
        # the image's drop-in raises MaxStartups (and wins over -o): take it out
        image, ["sh", "-c", "sed -i /MaxStartups/d /etc/ssh/sshd_config.d/10-test.conf "
                "&& exec /usr/sbin/sshd -D -e"],
        name=f"fleet-jumpdefault-{int(time.time() * 1000) % 100000}", detach=True,
        network=NETWORK, environment={"AUTHORIZED_KEYS": pubkey},
        # a free port on 127.0.0.1 (the stubs know only a fixed one)
        ports={"22/tcp": cast("tuple[str, int]", ("127.0.0.1", None))})
    try:
        ctr.reload()
        port = int(ctr.attrs["NetworkSettings"]["Ports"]["22/tcp"][0]["HostPort"])
        wait_for_ssh(port)
        _, config, _ = exec_demuxed(ctr, ["/usr/sbin/sshd", "-T"])
        assert b"maxstartups 10:30:100" in config
        _, key, _ = exec_demuxed(ctr, ["cat", "/etc/ssh/ssh_host_ed25519_key.pub"])
        kind, blob = key.decode().split()[:2]
        dev_lines = [line for line in KNOWN_HOSTS_JUMP.read_text().splitlines()
                     if line.startswith("dev-")]
        known = tmp_path / "known_hosts"
        known.write_text("\n".join([f"[127.0.0.1]:{port} {kind} {blob}", *dev_lines]) + "\n")
        yield port, known
    finally:
        ctr.remove(force=True)


def _burst(port: int, known: Path, gate: JumpGate | None) -> list[str]:
    """Open AT_ONCE connections at once through the jump; return the errors."""
    def one(k: int) -> str | None:
        try:
            transport = SshTransport.connect(
                HOSTS[k % len(HOSTS)], address=HOSTS[k % len(HOSTS)], port=22, user="tester",
                identity_file=CLIENT_KEY, known_hosts=known, timeout=20,
                proxy_jump=f"tester@127.0.0.1:{port}", ssh_config=Path("/dev/null"), gate=gate)
        except ConnectError as exc:
            return str(exc)
        transport.run("true", timeout=20)
        transport.close()
        return None

    with ThreadPoolExecutor(AT_ONCE) as pool:
        return [e for e in pool.map(one, range(AT_ONCE)) if e is not None]


def test_a_jump_host_with_default_limits_drops_a_burst(default_jump: tuple[int, Path]) -> None:
    port, known = default_jump
    errors: list[str] = []
    for _ in range(3):  # dropping is random (30 % past 10 at once): a few bursts at most
        errors = _burst(port, known, gate=None)
        if errors:
            break
    assert errors, "48 handshakes at once through MaxStartups 10:30:100 all went through"
    assert all("jump host" in e for e in errors), errors


def test_the_jump_gate_gets_every_connection_through(default_jump: tuple[int, Path]) -> None:
    port, known = default_jump
    for _ in range(2):
        assert _burst(port, known, gate=JumpGate()) == []
