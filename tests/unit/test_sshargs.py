"""fleet.inventory.sshargs: ProxyJump values, and the jump inside ansible_ssh_common_args."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fleet.inventory import sshargs
from fleet.inventory.load import load_inventory
from fleet.inventory.sshargs import JumpHop, parse_proxy_jump, proxy_jump_from_args
from fleet.transport import sshconfig
from fleet.transport.sshlookup import ParamikoLookup


@pytest.mark.parametrize(("spec", "hops"), [
    ("bastion", (JumpHop("bastion"),)),
    ("ops@bastion", (JumpHop("bastion", "ops"),)),
    ("ops@bastion:2222", (JumpHop("bastion", "ops", 2222),)),
    ("bastion:2222", (JumpHop("bastion", None, 2222),)),
    ("ssh://ops@bastion:2222", (JumpHop("bastion", "ops", 2222),)),
    ("a@one:1,two,b@three:3", (JumpHop("one", "a", 1), JumpHop("two"), JumpHop("three", "b", 3))),
    ("a@one, two", (JumpHop("one", "a"), JumpHop("two"))),
    ("[::1]:2201", (JumpHop("::1", None, 2201),)),
    ("me@[fe80::1]", (JumpHop("fe80::1", "me"),)),
    ("first.last@host", (JumpHop("host", "first.last"),)),
    ("none", ()),
    ("NONE", ()),
])
def test_parse_proxy_jump(spec: str, hops: tuple[JumpHop, ...]) -> None:
    assert parse_proxy_jump(spec) == hops


@pytest.mark.parametrize(("spec", "message"), [
    ("", "is not [user@]host[:port]"),
    ("a,,b", "is not [user@]host[:port]"),
    ("ops@", "is not [user@]host[:port]"),
    ("bastion:", "port must be a number"),
    ("bastion:ssh", "port must be a number"),
    ("bastion:0", "port must be a number"),
    ("bastion:65536", "port must be a number"),
    ("two words", "is not [user@]host[:port]"),
    ("a:b:c", "is not [user@]host[:port]"),
])
def test_bad_proxy_jump(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_proxy_jump(spec)


@pytest.mark.parametrize(("args", "jump"), [
    ("-o ProxyJump=ops@bastion:2222", "ops@bastion:2222"),
    ("-o 'ProxyJump ops@bastion'", "ops@bastion"),
    ("-o 'ProxyJump = ops@bastion'", "ops@bastion"),
    ("-oProxyJump=bastion", "bastion"),
    ("-o proxyjump=bastion", "bastion"),
    ("-J ops@bastion", "ops@bastion"),
    ("-Jops@bastion", "ops@bastion"),
    ("-qJ bastion", "bastion"),
    ("-C -o ControlMaster=auto -o ControlPersist=60s", None),
    ("-o StrictHostKeyChecking=no -J a -o ProxyJump=b", "a"),   # the first one wins
    ("-i ~/.ssh/key -J bastion", "bastion"),
    ("-F /dev/null -p 22 bastion", None),
    ("-J none", "none"),
    ("-o ProxyCommand=none", None),
    ("", None),
    ("-- -J bastion", None),
    ("-J 'a@one,b@two:22'", "a@one,b@two:22"),
])
def test_proxy_jump_from_args(args: str, jump: str | None) -> None:
    assert proxy_jump_from_args(args) == jump


@pytest.mark.parametrize(("args", "message"), [
    ("-o ProxyCommand='ssh -W %h:%p -q gw'", "ProxyCommand is not supported; name the jump"),
    ("-J", "-J needs a value"),
    ("-o", "-o needs a value"),
    ("-o 'ProxyJump'", "-o ProxyJump needs a value"),
    ("-o ProxyJump ops@bastion", "-o ProxyJump needs a value"),  # the value must be in -o's word
    ("-o ProxyJump=", "-o ProxyJump needs a value"),
    ("-o ProxyCommand", "-o ProxyCommand needs a value"),
    ("-J 'bad host'", "is not [user@]host[:port]"),
    ("-J \"unclosed", "cannot split"),
])
def test_bad_args(args: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        proxy_jump_from_args(args)


# Which jump a host ends up with: var levels override whole vars; the args are one ssh
# command line (ssh_args, common, extra), where the first jump wins, as ssh reads it.
@pytest.mark.parametrize(("group", "host", "jump"), [
    ({"ansible_ssh_common_args": "-J g"}, {}, "g"),
    ({"ansible_ssh_common_args": "-J g"}, {"ansible_ssh_common_args": "-C"}, None),
    ({"ansible_ssh_common_args": "-o ProxyJump=g"}, {"ansible_ssh_extra_args": "-o ProxyJump=h"},
     "g"),
    ({"ansible_ssh_extra_args": "-J g"}, {"ansible_ssh_common_args": "-C"}, "g"),
    ({"ansible_ssh_args": "-J a"}, {"ansible_ssh_common_args": "-o ProxyJump=h"}, "a"),
    ({"ansible_ssh_common_args": "-J g"}, {"ansible_ssh_common_args": "-o ProxyJump=none"},
     "none"),
    ({"ansible_ssh_common_args": "-o ProxyJump=NONE"}, {}, "none"),
    ({}, {"ansible_ssh_args": "-J  u@h:2 "}, "u@h:2"),
    ({}, {"proxy_jump": "bastion"}, None),  # not an Ansible name: an ordinary var
    ({}, {}, None),
])
def test_jump_precedence_in_the_inventory(tmp_path: Path, group: dict[str, str],
                                          host: dict[str, str], jump: str | None) -> None:
    def flow(values: dict[str, str]) -> str:
        return "{" + ", ".join(f"{k}: '{v}'" for k, v in values.items()) + "}"
    path = tmp_path / "inv.yml"
    path.write_text(f"all:\n  vars: {flow(group)}\n  hosts:\n    h1: {flow(host)}\n")
    assert load_inventory([path]).hosts[0].proxy_jump == jump


def test_a_hosts_jump_is_parsed_once_at_load_not_per_connection(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = sshargs.parse_proxy_jump

    def counting(spec: str) -> tuple[JumpHop, ...]:
        parsed.append(spec)
        return real(spec)

    monkeypatch.setattr(sshargs, "parse_proxy_jump", counting)
    monkeypatch.setattr(sshconfig, "parse_proxy_jump", counting)
    path = tmp_path / "inv.yml"
    path.write_text("all:\n  hosts:\n    h1: {ansible_ssh_common_args: '-J ops@bastion:2222'}\n")
    host = load_inventory([path]).hosts[0]
    for _ in range(2):  # two connections to the host
        params = sshconfig.connection_params(
            host.address, port=None, user="me", identity_file=None,
            proxy_jump=host.proxy_jump, ssh_config=ParamikoLookup(()))
        assert [(h.hostname, h.port, h.user) for h in params.hops()] == [
            ("bastion", 2222, "ops")]
    assert parsed == ["ops@bastion:2222"]
