"""fleet.transport.sshconfig: what a connection uses, from inventory and ssh config (no network)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import paramiko
import pytest

from fleet.engine import connections
from fleet.errors import ConnectError
from fleet.inventory.model import Host
from fleet.transport import ssh
from fleet.transport.knownhosts import load_known_hosts
from fleet.transport.ssh import SshTransport
from fleet.transport.sshconfig import (
    ConnectionParams,
    check_hosts,
    config_paths,
    connection_params,
    read_ssh_config,
)
from fleet.transport.sshlookup import local_user

ME = local_user()  # ssh's local user: the name of this process's uid, not $LOGNAME


def params(tmp_path: Path, config: str, address: str = "web1", *, port: int | None = None,
           user: str | None = None, identity_file: Path | None = None,
           proxy_jump: str | None = None) -> ConnectionParams:
    path = tmp_path / "ssh_config"
    path.write_text(config.replace("$TMP", str(tmp_path)))
    return connection_params(address, port=port, user=user, identity_file=identity_file,
                             proxy_jump=proxy_jump, ssh_config=read_ssh_config((path,)))


def key(tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    path.write_text("not really a key\n")
    return path


def test_no_config_means_ssh_defaults(tmp_path: Path) -> None:
    got = params(tmp_path, "")
    assert got == ConnectionParams(
        hostname="web1", port=22, user=ME, key_filenames=(), allow_agent=True,
        look_for_keys=True, host_key_name="web1", gateway=None, proxy_command=None)
    assert got.hops() == ()
    assert got.where == "web1:22"


ALIAS = """\
Host web1 web1.alias
    HostName 10.0.0.5
    Port 2222
    User bob
    IdentityFile $TMP/id_web
    IdentityFile $TMP/id_missing
Host *
    User nobody
    Port 2000
    IdentityFile $TMP/id_all
"""


def test_host_alias_gives_hostname_port_user_and_keys(tmp_path: Path) -> None:
    key(tmp_path, "id_web")
    key(tmp_path, "id_all")
    got = params(tmp_path, ALIAS)
    assert (got.hostname, got.port, got.user) == ("10.0.0.5", 2222, "bob")
    assert got.key_filenames == (tmp_path / "id_web", tmp_path / "id_all")  # missing skipped
    assert (got.allow_agent, got.look_for_keys) == (True, False)
    assert got.host_key_name == "[10.0.0.5]:2222"  # what OpenSSH (and paramiko) look up
    other = params(tmp_path, ALIAS, "db1")
    assert (other.hostname, other.port, other.user) == ("db1", 2000, "nobody")


def test_inventory_values_win_over_ssh_config(tmp_path: Path) -> None:
    key(tmp_path, "id_web")
    own = key(tmp_path, "inventory_key")
    got = params(tmp_path, ALIAS, port=2200, user="alice", identity_file=own)
    assert (got.hostname, got.port, got.user) == ("10.0.0.5", 2200, "alice")
    assert got.key_filenames == (own, tmp_path / "id_web")
    assert got.host_key_name == "[10.0.0.5]:2200"


def test_port_22_is_looked_up_bare(tmp_path: Path) -> None:
    assert params(tmp_path, "Host web1\n  Port 22\n").host_key_name == "web1"
    assert params(tmp_path, "", "::1", port=2201).host_key_name == "[::1]:2201"
    assert params(tmp_path, "", "::1", port=2201).where == "[::1]:2201"


def test_identity_files_agent_and_default_keys(tmp_path: Path) -> None:
    own = key(tmp_path, "own")
    with_key = params(tmp_path, "", identity_file=own)
    assert (with_key.key_filenames, with_key.allow_agent, with_key.look_for_keys) == (
        (own,), True, False)  # like ssh -i: the agent still, the default keys not
    only = params(tmp_path, "Host *\n  IdentitiesOnly yes\n", identity_file=own)
    assert only.allow_agent is False
    missing = params(tmp_path, "Host web1\n  IdentityFile $TMP/nope\n")
    assert (missing.key_filenames, missing.look_for_keys) == ((), False)  # named: no defaults


def test_host_key_alias(tmp_path: Path) -> None:
    got = params(tmp_path, "Host web1\n  HostName 10.0.0.5\n  HostKeyAlias web1.keys\n")
    assert (got.hostname, got.host_key_name) == ("10.0.0.5", "web1.keys")


JUMPS = """\
Host web1
    HostName 10.0.0.5
    ProxyJump ops@bastion:2022
Host bastion
    HostName 192.0.2.1
    User admin
Host keyed
    IdentityFile $TMP/bastion_key
Host outer
    HostName 198.51.100.1
    ProxyJump far
Host proxied
    ProxyCommand nc -X connect -x proxy:3128 %h %p
"""


def test_proxy_jump_from_ssh_config(tmp_path: Path) -> None:
    own = key(tmp_path, "own")
    got = params(tmp_path, JUMPS, identity_file=own)
    jump = got.gateway
    assert jump is not None
    assert (jump.hostname, jump.port, jump.user) == ("192.0.2.1", 2022, "ops")  # spec wins
    assert jump.host_key_name == "[192.0.2.1]:2022"
    assert (jump.key_filenames, jump.look_for_keys) == ((own,), True)  # inventory key lent
    assert jump.gateway is None
    assert got.hops() == (jump,)
    assert got.host_key_name == "10.0.0.5"  # the target's own name, as the jump reaches it


def test_inventory_jump_wins_and_none_turns_it_off(tmp_path: Path) -> None:
    got = params(tmp_path, JUMPS, proxy_jump="bastion")
    assert got.gateway is not None
    assert (got.gateway.hostname, got.gateway.port, got.gateway.user) == (
        "192.0.2.1", 22, "admin")
    assert params(tmp_path, JUMPS, proxy_jump="none").gateway is None
    assert params(tmp_path, JUMPS, "proxied", proxy_jump="none").proxy_command is None


def test_several_hops_go_in_order(tmp_path: Path) -> None:
    got = params(tmp_path, JUMPS, "target", proxy_jump="outer,bastion:2,keyed")
    assert [(h.hostname, h.port) for h in got.hops()] == [
        ("far", 22), ("198.51.100.1", 22), ("192.0.2.1", 2), ("keyed", 22)]
    far, outer, bastion, keyed = got.hops()
    assert (far.gateway, outer.gateway, bastion.gateway, keyed.gateway) == (
        None, far, outer, bastion)  # the first hop follows its own ProxyJump
    assert got.gateway == keyed


def test_a_jump_host_with_its_own_key_does_not_borrow(tmp_path: Path) -> None:
    bastion_key = key(tmp_path, "bastion_key")
    got = params(tmp_path, JUMPS, proxy_jump="keyed", identity_file=key(tmp_path, "own"))
    assert got.gateway is not None
    assert got.gateway.key_filenames == (bastion_key,)
    assert got.gateway.look_for_keys is False


def test_proxy_command(tmp_path: Path) -> None:
    got = params(tmp_path, JUMPS, "proxied")
    assert got.proxy_command == "nc -X connect -x proxy:3128 proxied 22"
    assert params(tmp_path, JUMPS, "proxied", proxy_jump="bastion").proxy_command is None


def test_a_jump_host_that_jumps_through_itself_is_refused_as_ssh_refuses_it(
        tmp_path: Path) -> None:
    config = "Host *\n  ProxyJump bastion\n"
    with pytest.raises(ValueError, match="jumphost loop via bastion"):
        params(tmp_path, config)
    config = "Host bastion\n  ProxyJump none\nHost *\n  ProxyJump bastion\n"
    got = params(tmp_path, config)
    assert got.gateway is not None
    assert got.gateway.hostname == "bastion"
    assert got.gateway.gateway is None


def test_a_jump_loop_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ProxyJump loop"):
        params(tmp_path, "Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n", "a")


@pytest.mark.parametrize(("config", "message"), [
    ("Host web1\n  Port 70000\n", "line 2: Bad port"),
    ("Host web1\n  ProxyJump bad:port\n", "line 2: Invalid ProxyJump"),
    ("Host web1\n  =oops\n", "line 2: no argument after keyword"),
])
def test_bad_ssh_config(tmp_path: Path, config: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        params(tmp_path, config)


def test_config_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = tmp_path / "explicit"
    monkeypatch.setenv("FLEET_SSH_CONFIG", str(tmp_path / "from_env"))
    assert config_paths(explicit) == (explicit,)
    assert config_paths() == (tmp_path / "from_env",)
    for off in ("", "none", "NONE"):
        monkeypatch.setenv("FLEET_SSH_CONFIG", off)
        assert config_paths() == ()
    monkeypatch.delenv("FLEET_SSH_CONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert tmp_path / ".ssh" / "config" not in config_paths()
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text("")
    assert config_paths()[0] == tmp_path / ".ssh" / "config"  # before /etc/ssh/ssh_config


def test_files_are_read_in_order_first_value_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_text("Host web1\n  User one\n")
    second.write_text("Host *\n  User two\n  Port 2\n")
    got = connection_params("web1", port=None, user=None, identity_file=None, proxy_jump=None,
                            ssh_config=read_ssh_config((first, second)))
    assert (got.user, got.port) == ("one", 2)
    with pytest.raises(ValueError, match="cannot read ssh config"):
        read_ssh_config((tmp_path / "missing",))


def test_connect_reports_bad_ssh_config_and_missing_keys(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "config"
    bad.write_text("Host web1\n  Port nope\n")
    monkeypatch.setenv("FLEET_SSH_CONFIG", str(bad))
    with pytest.raises(ConnectError, match="port 'nope'") as info:
        ssh.SshTransport.connect("h1", address="web1", port=None, user=None, identity_file=None,
                                 known_hosts=tmp_path / "kh", timeout=1)
    assert info.value.host == "h1"
    with pytest.raises(ConnectError, match=r"identity file .* does not exist"):
        ssh.SshTransport.connect("h1", address="web1", port=None, user=None,
                                 identity_file=tmp_path / "nokey", known_hosts=tmp_path / "kh",
                                 timeout=1)


def new_key() -> paramiko.PKey:
    return paramiko.ECDSAKey.generate()


def host_key_line(name: str, key: paramiko.PKey) -> str:
    return f"{name} {key.get_name()} {key.get_base64()}\n"


def _keys(client: paramiko.SSHClient, name: str) -> dict[str, paramiko.PKey] | None:
    """The client's known keys for ``name``, as a plain dict (``None`` if it has none)."""
    keys = client.get_host_keys().lookup(name)
    return None if keys is None else dict(keys)


def test_host_key_client_looks_up_the_resolved_name(tmp_path: Path) -> None:
    real, other = new_key(), new_key()
    known = tmp_path / "known_hosts"
    known.write_text(host_key_line("[10.0.0.5]:2222", real) + host_key_line("web1", other))
    got = params(tmp_path, ALIAS)
    client = ssh._host_key_client(got, known, accept_new=False)
    # only the resolved name's keys, under the name paramiko checks
    assert _keys(client, "[10.0.0.5]:2222") == {real.get_name(): real}
    assert client.get_host_keys().lookup("web1") is None
    assert len(client._system_host_keys) == 0  # type: ignore[attr-defined]  # private; not in paramiko's stubs
    with pytest.raises(paramiko.SSHException, match="not found in known_hosts"):
        client._policy.missing_host_key(  # type: ignore[attr-defined]  # private; not in paramiko's stubs
            client, "[10.0.0.5]:2222", new_key())
    assert known.read_text().count("\n") == 2  # nothing recorded without accept_new


def test_known_hosts_is_parsed_once_per_version_of_the_file(tmp_path: Path) -> None:
    first, second = new_key(), new_key()
    known = tmp_path / "known_hosts"
    known.write_text(host_key_line("web1", first))
    assert load_known_hosts(known) is load_known_hosts(known)  # one parse for many hosts
    with known.open("a") as out:  # --accept-new-hosts appends: a new version
        out.write(host_key_line("web2", second))
    assert load_known_hosts(known).keys_for("web2") == {second.get_name(): second}


def test_host_key_client_with_an_alias_trusts_only_the_alias_entry(tmp_path: Path) -> None:
    real, other = new_key(), new_key()
    known = tmp_path / "known_hosts"
    known.write_text(host_key_line("web1.keys", real) + host_key_line("10.0.0.5", other))
    got = params(tmp_path, "Host web1\n  HostName 10.0.0.5\n  HostKeyAlias web1.keys\n")
    client = ssh._host_key_client(got, known, accept_new=False)
    assert len(client._system_host_keys) == 0  # type: ignore[attr-defined]  # private; not in paramiko's stubs
    assert _keys(client, "10.0.0.5") == {real.get_name(): real}


def test_accept_new_records_under_the_known_hosts_name(tmp_path: Path) -> None:
    got = params(tmp_path, ALIAS)
    known = tmp_path / "sub" / "known_hosts"
    client = ssh._host_key_client(got, known, accept_new=True)
    new = new_key()
    client._policy.missing_host_key(  # type: ignore[attr-defined]  # private; not in paramiko's stubs
        client, "[10.0.0.5]:2222", new)
    assert known.read_text() == host_key_line("[10.0.0.5]:2222", new)


def test_connections_pass_the_inventory_settings(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    seen: dict[str, object] = {}
    made = object()

    def fake_connect(name: str, **kwargs: object) -> object:
        seen.update(kwargs, name=name)
        return made

    monkeypatch.setattr(SshTransport, "connect", fake_connect)
    host = Host(name="h1", address="web1", port=None, user=None, identity_file=None,
                connection="ssh", known_hosts_file=tmp_path / "kh", groups=("all",), vars={},
                proxy_jump="ops@bastion")
    assert connections.connect(host, timeout=3) is made
    assert seen == {"name": "h1", "address": "web1", "port": None, "user": None,
                    "identity_file": None, "known_hosts": tmp_path / "kh", "timeout": 3,
                    "accept_new": False, "proxy_jump": "ops@bastion", "gate": None}


def test_one_ssh_call_per_distinct_host_for_the_run(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "ssh_config"
    config.write_text("Host web*\n  User webuser\n")
    monkeypatch.setenv("FLEET_SSH_CONFIG", str(config))
    hosts = [Host(name=f"web{i}", address=f"web{i % 3}", port=None, user=None,
                  identity_file=None, connection="ssh", known_hosts_file=tmp_path / "kh",
                  groups=("all",), vars={}) for i in range(9)]
    calls: list[list[str]] = []
    real_run = subprocess.run

    def counting(argv: list[str], **kwargs: Any) -> Any:
        calls.append(argv)
        return real_run(argv, **kwargs)

    monkeypatch.setattr(subprocess, "run", counting)  # the module sshlookup runs ssh with
    check_hosts(hosts)
    assert len(calls) == 3  # web0, web1, web2: one ssh -G each
    lookup = read_ssh_config(config_paths())
    assert lookup.lookup("web1", None, None).user == "webuser"  # from the cache
    assert len(calls) == 3
