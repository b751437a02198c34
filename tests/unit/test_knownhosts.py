"""known_hosts: @cert-authority and @revoked lines, damaged lines, and recording new keys
atomically. The last tests connect to a tiny in-process paramiko SSH server (it refuses
every login: host keys are checked before authentication)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import paramiko
import pytest

from fleet.errors import ConnectError, HostKeyError
from fleet.transport.knownhosts import load_known_hosts, parse_known_hosts, record_key
from fleet.transport.ssh import SshTransport

REPO = Path(__file__).resolve().parents[2]


def new_key() -> paramiko.PKey:
    return paramiko.ECDSAKey.generate()


def line(names: str, key: paramiko.PKey, marker: str = "") -> str:
    return f"{marker + ' ' if marker else ''}{names} {key.get_name()} {key.get_base64()}\n"


def hashed(name: str) -> str:
    return paramiko.HostKeys.hash_host(name)


# Parsing: tolerant, and markers honoured.

def test_cert_authority_revoked_and_damaged_lines_parse_without_error() -> None:
    host, ca, gone = new_key(), new_key(), new_key()
    text = (
        "# a comment\n\n"
        + line("*.example.com", ca, "@cert-authority")
        + line("*", gone, "@revoked")
        + line("web,10.0.0.5", host)
        + "web ssh-ed25519 not-base64!!\n"
        + "web ssh-unknown-type AAAAB3NzaC1yc2E=\n"
        + "only-two fields\n"
        + "@some-future-marker web ssh-rsa AAAA\n"
        + "\tweb2\t" + f"{host.get_name()}\t{host.get_base64()}\tcomment here\n"
        + "\udcff garbage line\n"
    )
    known = parse_known_hosts(text)
    assert [e.names for e in known.trusted] == [("web", "10.0.0.5"), ("web2",)]
    assert [e.names for e in known.revoked] == [("*",)]
    assert known.keys_for("web") == {host.get_name(): host}
    assert known.keys_for("10.0.0.5") == {host.get_name(): host}
    assert known.keys_for("db.example.com") == {}  # trusted only via a CA: not known


def test_a_cert_authority_line_never_makes_its_key_trusted() -> None:
    key = new_key()
    known = parse_known_hosts(line("@cert-authority web", key))
    assert known.keys_for("web") == {}
    assert not known.is_revoked("web", key)


@pytest.mark.parametrize(("patterns", "name", "revoked"), [
    ("*", "[127.0.0.1]:2201", True),
    ("web", "web", True),
    ("web", "db", False),
    ("*.example.com", "a.example.com", True),
    ("*.example.com", "example.com", False),
    ("web?", "web1", True),
    ("*,!web", "web", False),
    ("*,!web", "db", True),
    ("[127.0.0.1]:2201", "[127.0.0.1]:2201", True),  # brackets are no character class
    ("[127.0.0.1]:2201", "1", False),
    ("WEB", "web", True),
])
def test_revoked_lines_match_host_patterns(patterns: str, name: str, revoked: bool) -> None:
    key, other = new_key(), new_key()
    known = parse_known_hosts(line(patterns, key, "@revoked") + line(name, key))
    assert known.is_revoked(name, key) is revoked
    assert not known.is_revoked(name, other)
    assert (known.keys_for(name) == {}) is revoked  # a revoked key is never trusted


def test_hashed_names_are_matched() -> None:
    key = new_key()
    known = parse_known_hosts(line(hashed("web"), key) + line(hashed("gone"), key, "@revoked"))
    assert known.keys_for("web") == {key.get_name(): key}
    assert known.is_revoked("gone", key)
    assert not known.is_revoked("web", key)


def test_load_reparses_a_new_version_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    one, two = new_key(), new_key()
    path.write_text(line("a", one))
    assert load_known_hosts(path).keys_for("b") == {}
    path.write_text(line("a", one) + line("b", two))
    assert load_known_hosts(path).keys_for("b") == {two.get_name(): two}


# Recording new keys: check and append under one lock, on a fresh read.

def test_record_key_appends_once_and_refuses_a_second_key(tmp_path: Path) -> None:
    path = tmp_path / "ssh" / "known_hosts"
    key, other = new_key(), new_key()
    assert record_key(path, "[h]:2200", key) == "recorded"
    assert record_key(path, "[h]:2200", key) == "known"
    with pytest.raises(HostKeyError, match="refusing to record a second key"):
        record_key(path, "[h]:2200", other)
    assert path.read_text() == line("[h]:2200", key)


def test_record_key_refuses_a_revoked_key(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    key = new_key()
    path.write_text(line("*", key, "@revoked"))
    with pytest.raises(HostKeyError, match="REVOKED"):
        record_key(path, "h", key)
    assert path.read_text() == line("*", key, "@revoked")


def test_record_key_starts_a_new_line_after_an_unterminated_one(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    key, mine = new_key(), new_key()
    path.write_text(line("a", key).rstrip("\n"))
    record_key(path, "b", mine)
    assert path.read_text() == line("a", key) + line("b", mine)


def test_parallel_threads_record_one_key_per_name(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    keys = [new_key(), new_key()]

    def attempt(i: int) -> str:
        try:
            return record_key(path, "shared", keys[i % 2])
        except HostKeyError:
            return "refused"

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(attempt, range(32)))
    assert results.count("recorded") == 1
    assert results.count("refused") == 16
    assert len(path.read_text().splitlines()) == 1


def test_parallel_processes_record_one_key_per_name(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    script = ("import sys, paramiko\n"
              "from pathlib import Path\n"
              "from fleet.errors import HostKeyError\n"
              "from fleet.transport.knownhosts import record_key\n"
              "try:\n"
              "    print(record_key(Path(sys.argv[1]), 'shared', paramiko.ECDSAKey.generate()))\n"
              "except HostKeyError:\n"
              "    print('refused')\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(path)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True) for _ in range(6)]
    results = [proc.communicate(timeout=60)[0].strip() for proc in procs]
    assert sorted(results) == ["recorded"] + ["refused"] * 5
    assert len(path.read_text().splitlines()) == 1


# Through SshTransport.connect, against an in-process SSH server.

class _NoLogin(paramiko.ServerInterface):
    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        return paramiko.common.AUTH_FAILED


@contextmanager
def ssh_server(key: paramiko.PKey) -> Iterator[int]:
    """Serve SSH with host key ``key`` on a free local port until the block ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)  # a closed socket does not wake accept(): poll a stop flag
    transports: list[paramiko.Transport] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(None)
            transport = paramiko.Transport(conn)
            transport.add_server_key(key)
            transports.append(transport)
            transport.start_server(event=threading.Event(), server=_NoLogin())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        listener.close()
        for transport in transports:
            transport.close()


@pytest.fixture
def no_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No agent, no default keys, an empty ssh config; returns that config."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    config = tmp_path / "ssh_config"
    config.write_text("")
    return config


def connect(port: int | None, known_hosts: Path, config: Path, *, accept_new: bool = False,
            address: str = "127.0.0.1") -> None:
    transport = SshTransport.connect("web", address=address, port=port, user="tester",
                                     identity_file=None, known_hosts=known_hosts, timeout=5,
                                     accept_new=accept_new, ssh_config=config)
    transport.close()


def test_cert_authority_lines_do_not_crash_a_connection(tmp_path: Path, no_keys: Path) -> None:
    host, ca = new_key(), new_key()
    known_hosts = tmp_path / "known_hosts"
    with ssh_server(host) as port:
        name = f"[127.0.0.1]:{port}"
        known_hosts.write_text(line("@cert-authority *", ca) + line(f"@cert-authority {name}",
                                                                     host))
        with pytest.raises(HostKeyError, match="is not in"):  # trusted only via a CA
            connect(port, known_hosts, no_keys)
        known_hosts.write_text(line("@cert-authority *", ca) + "bad line\n" + line(name, host))
        with pytest.raises(ConnectError):  # the key is accepted; no login offered
            connect(port, known_hosts, no_keys)


@pytest.mark.parametrize("accept_new", [False, True])
def test_a_revoked_key_is_refused(tmp_path: Path, no_keys: Path, accept_new: bool) -> None:
    host = new_key()
    known_hosts = tmp_path / "known_hosts"
    with ssh_server(host) as port:
        text = line("*", host, "@revoked") + line(f"[127.0.0.1]:{port}", host)
        known_hosts.write_text(text)
        with pytest.raises(HostKeyError, match="REVOKED") as info:
            connect(port, known_hosts, no_keys, accept_new=accept_new)
        assert "refusing to connect" in str(info.value)
        known_hosts.write_text(line("*", host, "@revoked"))  # not even recorded as new
        with pytest.raises(HostKeyError, match="REVOKED"):
            connect(port, known_hosts, no_keys, accept_new=accept_new)
        assert known_hosts.read_text() == line("*", host, "@revoked")


def test_accept_new_records_the_key_once(tmp_path: Path, no_keys: Path) -> None:
    host = new_key()
    known_hosts = tmp_path / "known_hosts"
    with ssh_server(host) as port, ThreadPoolExecutor(max_workers=6) as pool:
        def attempt(_: int) -> str:
            try:
                connect(port, known_hosts, no_keys, accept_new=True)
            except ConnectError as exc:
                return type(exc).__name__
            return "connected"

        results = list(pool.map(attempt, range(6)))
    assert results == ["ConnectError"] * 6  # every one past the key, then refused a login
    assert known_hosts.read_text() == line(f"[127.0.0.1]:{port}", host)


def test_two_hosts_under_one_name_never_record_two_keys(tmp_path: Path, no_keys: Path) -> None:
    """Parallel connections whose ssh config gives one HostKeyAlias: one key is recorded,
    the connection to the other host is refused (was: both keys appended)."""
    known_hosts = tmp_path / "known_hosts"
    one, two = new_key(), new_key()
    with ssh_server(one) as port_one, ssh_server(two) as port_two:
        no_keys.write_text(f"Host one\n  HostName 127.0.0.1\n  Port {port_one}\n"
                           "  HostKeyAlias shared\n"
                           f"Host two\n  HostName 127.0.0.1\n  Port {port_two}\n"
                           "  HostKeyAlias shared\n")

        def attempt(address: str) -> str:
            try:
                connect(None, known_hosts, no_keys, accept_new=True, address=address)
            except HostKeyError:
                return "refused"
            except ConnectError:
                return "key accepted"
            return "connected"

        with ThreadPoolExecutor(max_workers=2) as pool:
            results = sorted(pool.map(attempt, ["one", "two"]))
    assert results == ["key accepted", "refused"]
    lines = known_hosts.read_text().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("shared ")
