"""fleet.inventory.ini: INI sections, ranges, values typed as Ansible types them, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.errors import ConfigError
from fleet.inventory.ini import (
    IniChild,
    IniGroup,
    IniGroupVars,
    IniHost,
    IniVar,
    expand_range,
    parse_ini,
)
from fleet.inventory.ini import parse_value as value_of
from fleet.inventory.limit import select_hosts
from fleet.inventory.load import load_inventory
from fleet.inventory.model import Inventory


def write(folder: Path, text: str, name: str = "hosts.ini") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def inventory(tmp_path: Path, text: str, name: str = "hosts.ini") -> Inventory:
    return load_inventory([write(tmp_path, text, name)])


DESIGN_INI = """\
[all:vars]
ansible_user=deploy
ansible_ssh_private_key_file=~/.ssh/fleet_ed25519

[canaries]
dev-01 ansible_host=10.1.0.11

[developers]
dev-02 ansible_host=10.1.0.12 ansible_port=2222
dev-03 ansible_host=10.1.0.13
"""

DESIGN_YAML = """\
all:
  vars:
    ansible_user: deploy
    ansible_ssh_private_key_file: ~/.ssh/fleet_ed25519
  children:
    canaries:
      hosts:
        dev-01: {ansible_host: 10.1.0.11}
    developers:
      hosts:
        dev-02: {ansible_host: 10.1.0.12, ansible_port: 2222}
        dev-03: {ansible_host: 10.1.0.13}
"""


def test_ini_and_yaml_give_the_same_inventory(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    ini = inventory(tmp_path, DESIGN_INI)
    yml = inventory(tmp_path, DESIGN_YAML, "hosts.yml")
    assert ini.hosts == yml.hosts
    assert dict(ini.groups) == dict(yml.groups)
    assert ini.host("dev-02").port == 2222
    assert ini.host("dev-01").port is None


def test_parse_entries_in_file_order() -> None:
    text = ("top1\n[web]\nw1 a=1\n[web:vars]\nx=2\ny = 'three'\n[prod:children]\nweb\n"
            "[prod]\n")
    assert parse_ini(text, "f") == (
        IniHost("ungrouped", "top1", (), 1),
        IniGroup("web", 2),
        IniHost("web", "w1", (IniVar("a", 1, 3),), 3),
        IniGroupVars("web", (IniVar("x", 2, 5), IniVar("y", "three", 6)), 4),
        IniGroup("prod", 7),
        IniChild("prod", "web", 8),
        IniGroup("prod", 9),
    )


def test_groups_children_vars_and_ungrouped(tmp_path: Path) -> None:
    text = """\
# hosts before any section are ungrouped
mail.example.com
lonely

[web]
web1
web2 tier=front

[db]
db1

[prod:children]
web
db

[prod:vars]
env=prod
tier=back

[web:vars]
tier=middle

[web]
mail.example.com
"""
    inv = inventory(tmp_path, text)
    assert [h.name for h in inv.hosts] == ["mail.example.com", "lonely", "web1", "web2", "db1"]
    assert inv.groups["ungrouped"] == ("lonely",)  # mail.example.com is in web too
    assert inv.groups["web"] == ("mail.example.com", "web1", "web2")
    assert inv.groups["prod"] == ("mail.example.com", "web1", "web2", "db1")
    assert inv.host("web1").groups == ("all", "prod", "web")
    assert inv.host("web1").vars == {"env": "prod", "tier": "middle"}  # child beats parent
    assert inv.host("web2").vars["tier"] == "front"                   # host beats groups
    assert inv.host("db1").vars == {"env": "prod", "tier": "back"}
    assert inv.host("lonely").groups == ("all", "ungrouped")


def test_children_may_be_declared_later_and_nest(tmp_path: Path) -> None:
    text = ("[world:children]\neurope\n[europe:children]\nparis\n[paris]\np1\n"
            "[world:vars]\nlevel=world\n[paris:vars]\nlevel=paris\n")
    inv = inventory(tmp_path, text)
    assert inv.host("p1").groups == ("all", "world", "europe", "paris")
    assert inv.host("p1").vars["level"] == "paris"


@pytest.mark.parametrize(("pattern", "names"), [
    ("web[01:03]", ["web01", "web02", "web03"]),
    ("web[1:3].example.com", ["web1.example.com", "web2.example.com", "web3.example.com"]),
    ("db-[a:c]", ["db-a", "db-b", "db-c"]),
    ("n[0:10:5]", ["n0", "n5", "n10"]),
    ("n[:2]", ["n0", "n1", "n2"]),
    ("r[1:2]-[a:b]", ["r1-a", "r1-b", "r2-a", "r2-b"]),
    ("x[8:10]", ["x8", "x9", "x10"]),
    ("x[08:10]", ["x08", "x09", "x10"]),
    ("[a:b]-host", ["a-host", "b-host"]),
    ("l[y:B]", ["ly", "lz", "lA", "lB"]),   # Ansible's letter order: a-z then A-Z
    ("plain", ["plain"]),
])
def test_host_ranges(pattern: str, names: list[str]) -> None:
    assert expand_range(pattern) == names


def test_ranges_and_ports_on_host_lines(tmp_path: Path) -> None:
    text = ("[web]\nweb[01:02]:2222 ansible_user=u\n10.0.0.7:2200\n[::1]:2201\n"
            "fe80::1\nboth:2300 ansible_port=2301\n")
    inv = inventory(tmp_path, text)
    assert [(h.name, h.port) for h in inv.hosts] == [
        ("web01", 2222), ("web02", 2222), ("10.0.0.7", 2200), ("::1", 2201), ("fe80::1", None),
        ("both", 2301)]
    assert inv.host("web02").user == "u"


@pytest.mark.parametrize(("text", "expected"), [
    ("2222", 2222),
    ("'2222'", "2222"),
    ("True", True),
    ("true", "true"),
    ("FALSE", "FALSE"),
    ("None", None),
    ("1.5", 1.5),
    ("[1, 'a']", [1, "a"]),
    ("(1, 2)", [1, 2]),
    ("{'k': (1,)}", {"k": [1]}),
    ("b'x'", "x"),
    ("1j", "1j"),
    ("...", "..."),
    ("0755", "0755"),
    ("hello world", "hello world"),
    ("8080 # a Python comment", 8080),
    ("'03#pa33w0rd'", "03#pa33w0rd"),
    ("-o ProxyJump=a@b", "-o ProxyJump=a@b"),
    ("[" * 300, "[" * 300),
])
def test_values_are_typed_as_ansible_types_them(text: str, expected: object) -> None:
    assert value_of(text) == expected


def test_quoting_and_comments_on_host_lines(tmp_path: Path) -> None:
    text = """\
; a semicolon comment
# a hash comment
[web]   # trailing comment on a header
w1 note="two words" empty= pw="'03#pa33w0rd'" cut=abc#def   # comment
w2 nums='[1, 2]' port_str="'22'" single='it''s'
  w3   ansible_port=2222
[web:vars]
greeting = "hello world"
raw = hello world # stays
"""
    inv = inventory(tmp_path, text)
    w1, w2, w3 = inv.hosts
    assert w1.vars["note"] == "two words"
    assert w1.vars["empty"] == ""
    assert w1.vars["pw"] == "03#pa33w0rd"
    assert w1.vars["cut"] == "abc"      # '#' starts a comment on a host line, as in Ansible
    assert w2.vars["nums"] == [1, 2]
    assert w2.vars["port_str"] == "22"
    assert w2.vars["single"] == "its"
    assert w3.port == 2222
    assert w1.vars["greeting"] == "hello world"
    assert w1.vars["raw"] == "hello world # stays"  # vars lines: the rest of the line


def test_connection_settings_from_ini_are_typed(tmp_path: Path) -> None:
    text = ("[web]\nw1 ansible_port='2200' ansible_connection=local\n"
            "[web:vars]\nansible_ssh_common_args='-o ProxyJump=ops@bastion:2222'\n"
            "known_hosts_file=kh\n")
    host = inventory(tmp_path, text).hosts[0]
    assert (host.port, host.connection, host.proxy_jump) == (2200, "local", "ops@bastion:2222")
    assert host.known_hosts_file == Path("kh")  # relative to the working directory
    six = inventory(tmp_path, "[web]\nw1 ansible_host=fe80::1%eth0\n").hosts[0]
    assert six.address == "fe80::1%eth0"


# Each case: INI text, line, message piece.
BAD = [
    ("[web\nw1\n", 1, "unclosed '['"),
    ("[web group]\n", 1, "invalid section header"),
    ("[web:host]\nw1\n", 1, "unknown section type 'host'"),
    ("[web]\nw1 ansible_port\n", 2, "expected key=value after the host name, got 'ansible_port'"),
    ("[web]\nw1 =x\n", 2, "expected key=value"),
    ("[web]\nw1 a='unclosed\n", 2, "check its quotes"),
    ("[web]\n\nw1:\n", 3, "ends in ':'"),
    ("[web]\nw1:ssh\n", 2, "port in 'w1:ssh' must be a number"),
    ("[web]\nw1:70000\n", 2, "1..65535"),
    ("[web]\na:b:c\n", 2, "more than one ':'"),
    (":22\n", 1, "no host name"),
    ("---\n", 1, "YAML"),
    ("[web]\nw[1:]\n", 2, "no end value"),
    ("[web]\nw[3:1]\n", 2, "begins after it ends"),
    ("[web]\nw[c:a]\n", 2, "begins after it ends"),
    ("[web]\nw[01:100]\n", 2, "as wide"),
    ("[web]\nw[1:3:0]\n", 2, "step must be a positive number"),
    ("[web]\nw[1:z]\n", 2, "numbers ([01:10]) or single letters"),
    ("[web]\nw[1-3]\n", 2, "[begin:end]"),
    ("[web]\nw[0:9999999]\n", 2, "more than 100000 hosts"),
    ("[web:vars]\nnovalue\n[web]\n", 2, "expected key=value in a vars section"),
    ("[web:vars]\n=3\n[web]\n", 2, "expected key=value"),
    ("[web:children]\ntwo names\n", 2, "one group name per line"),
    ("[web:vars]\na=1\n", 1, "[web:vars] is for a group that is never declared"),
    ("[web]\nw1\n[prod:children]\nweb\nmissing\n", 5,
     "[prod:children] names 'missing', which is never declared"),
    ("[g:children]\ng\n", 2, "a group cannot contain itself"),
    ("[g:children]\nall\n", 2, "a group cannot contain itself"),
]

# Settings fleet cannot use: the file loads (as in Ansible); selecting the host is refused.
UNUSABLE = [
    ("[web]\nw1 ansible_port=ssh\n", 2, "expected a port number 1..65535, got 'ssh'"),
    ("[web:vars]\nansible_port=0\n[web]\nw1\n", 2, "1..65535"),
    ("[web:vars]\nansible_user=deploy # the user\n[web]\nw1\n", 2, "one word without spaces"),
    ("[web]\nw1 ansible_connection=winrm\n", 2, "ssh or local only"),
    ("[web]\nw1 ansible_ssh_common_args='-o ProxyCommand=\"ssh -W %h:%p gw\"'\n", 2,
     "ProxyCommand is not supported"),
    ("[web]\nw1 ansible_ssh_args='-J a@b:x'\n", 2, "port must be a number"),
    ("[web]\nw1 ansible_host=ops@10.0.0.1\n", 2, "put the user in ansible_user"),
    ("[web]\nw1 ansible_host=10.0.0.1:22\n", 2, "put the port in ansible_port"),
]


@pytest.mark.parametrize(("text", "line", "message"), UNUSABLE)
def test_unusable_settings_are_refused_when_selected(tmp_path: Path, text: str, line: int,
                                                     message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        select_hosts(load_inventory([path]), "w1")
    assert (info.value.file, info.value.line) == (str(path), line)
    assert message in info.value.message
    assert "\n" not in info.value.render()
