"""fleet.inventory.ini: INI sections, ranges, values typed as Ansible types them, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.errors import ConfigError
from fleet.inventory import ini as ini_module
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
    assert host.known_hosts_file == tmp_path / "kh"
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
    ("[web]\nw1 ansible_port=ssh\n", 2, "expected a port number 1..65535, got 'ssh'"),
    ("[web:vars]\nansible_port=0\n[web]\nw1\n", 2, "1..65535"),
    ("[web]\nw1 ansible_host=a host=b\n", 2, "'ansible_host' and 'host' both set address"),
    ("[web:vars]\nansible_user=deploy # the user\n[web]\nw1\n", 2, "one word without spaces"),
    ("[web]\nw1 ansible_connection=winrm\n", 2, "expected ssh or local"),
    ("[web]\nw1 ansible_ssh_common_args='-o ProxyCommand=\"ssh -W %h:%p gw\"'\n", 2,
     "ProxyCommand is not supported"),
    ("[web]\nw1 proxy_jump=a@b:x\n", 2, "port must be a number"),
    ("[web]\nw1 ansible_host=ops@10.0.0.1\n", 2, "put the user in ansible_user"),
    ("[web]\nw1 ansible_host=10.0.0.1:22\n", 2, "put the port in ansible_port"),
]


@pytest.mark.parametrize(("text", "line", "message"), BAD)
def test_bad_ini_is_one_clear_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_inventory([path])
    error = info.value
    assert (error.file, error.line) == (str(path), line)
    assert message in error.message
    assert error.render().startswith(f"{path}:{line}: ")


def test_setting_errors_name_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "[web]\nw1 ansible_port=ssh\n")
    with pytest.raises(ConfigError) as info:
        load_inventory([path])
    assert info.value.field == "ansible_port"


def test_cycle_across_sections_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="groups contain each other"):
        inventory(tmp_path, "[a:children]\nb\n[b:children]\na\n[a]\nh1\n")


def test_empty_ini_has_no_hosts(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no hosts"):
        inventory(tmp_path, "# nothing\n[web]\n")


@pytest.mark.parametrize(("name", "text", "kind"), [
    ("hosts", "[web]\nw1\n", "ini"),
    ("hosts", "w1\nw2 ansible_port=22\n", "ini"),
    ("hosts", "; comment\nw1:2222\n", "ini"),
    ("hosts", "all:\n  hosts:\n    w1:\n", "yaml"),
    ("production", "# yaml\nweb:\n  hosts: {w1: }\n", "yaml"),
    ("hosts.cfg", "w1\n", "ini"),
    ("hosts.txt", "w1 a=1\n", "ini"),
    ("hosts.json", '{"all": {"hosts": {"w1": null}}}', "yaml"),
    ("hosts.yaml", "all:\n  hosts: {w1: }\n", "yaml"),
])
def test_format_is_chosen_by_name_then_content(tmp_path: Path, name: str, text: str,
                                               kind: str) -> None:
    host = inventory(tmp_path, text, name).hosts[0]
    assert host.name == "w1"
    if kind == "ini" and "[web]" not in text:
        assert host.groups == ("all", "ungrouped")  # only INI has an implicit group


def test_yaml_errors_stay_yaml_errors_for_yml_names(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="invalid YAML"):
        inventory(tmp_path, "[web]\nw1\n", "hosts.yml")


def test_mixed_formats_merge_later_wins(tmp_path: Path) -> None:
    first = write(tmp_path / "a", "all:\n  vars: {ansible_user: a}\n  children:\n"
                  "    web:\n      hosts: {w1: {ansible_port: 1}, w2: }\n", "one.yml")
    second = write(tmp_path / "b", "[all:vars]\nansible_user=b\n[web]\nw3\n"
                   "[db]\nd1\nw1 ansible_port=2\n", "two.ini")
    inv = load_inventory([first, second])
    assert [h.name for h in inv.hosts] == ["w1", "w2", "w3", "d1"]
    assert inv.host("w1").port == 2
    assert inv.host("w2").user == "b"
    assert inv.groups["web"] == ("w1", "w2", "w3")
    assert inv.groups["db"] == ("w1", "d1")
    assert inv.sources == (first, second)


def test_each_ini_file_declares_the_groups_its_sections_name(tmp_path: Path) -> None:
    # As in Ansible, each INI file must declare the groups its sections name.
    first = write(tmp_path, "web:\n  hosts: {w1: }\n", "one.yml")
    second = write(tmp_path, "[web:vars]\nx=1\n", "two.ini")
    with pytest.raises(ConfigError, match="never declared"):
        load_inventory([first, second])
    third = write(tmp_path, "[web]\n[web:vars]\nx=1\n", "three.ini")
    assert load_inventory([first, third]).host("w1").vars["x"] == 1


# A numeric become password is the text written, never dropped (INI and YAML alike).

@pytest.mark.parametrize(("line", "password"), [
    ("h1 ansible_become_password=123456", "123456"),
    ("h1 ansible_become_pass=0123", "0123"),  # not a Python literal: text anyway
    ("h1 ansible_become_password=1.50", "1.50"),
    ("h1 ansible_become_password=True", "True"),
    ('h1 ansible_become_password="123456"', "123456"),
    ("h1 ansible_become_password='123456'", "123456"),
    ("h1 ansible_become_password=s3cret", "s3cret"),
])
def test_ini_become_password_written_as_a_number_is_kept_as_written(
    tmp_path: Path, line: str, password: str,
) -> None:
    host = inventory(tmp_path, f"[web]\n{line}\n").hosts[0]
    assert host.become_password == password


def test_ini_group_vars_become_password_number_is_kept(tmp_path: Path) -> None:
    inv = inventory(tmp_path, "[web]\nh1\n\n[web:vars]\nansible_become_password=123456\n")
    assert inv.hosts[0].become_password == "123456"


@pytest.mark.parametrize(("value", "password"), [
    ("123456", "123456"), ("0123", "0123"), ("1_000", "1_000"), ("1.50", "1.50"),
    ("yes", "yes"), ("'123456'", "123456"), ("s3cret", "s3cret"),
])
def test_yaml_become_password_written_as_a_number_is_kept_as_written(
    tmp_path: Path, value: str, password: str,
) -> None:
    text = f"all:\n  hosts:\n    h1:\n      ansible_become_password: {value}\n"
    assert inventory(tmp_path, text, "inv.yml").hosts[0].become_password == password
    group = f"all:\n  vars:\n    ansible_become_pass: {value}\n  hosts:\n    h1:\n"
    assert inventory(tmp_path, group, "inv.yml").hosts[0].become_password == password


def test_host_vars_file_become_password_number_is_kept(tmp_path: Path) -> None:
    write(tmp_path / "host_vars", "ansible_become_password: 123456\n", "h1.yml")
    assert inventory(tmp_path, "[web]\nh1\n").hosts[0].become_password == "123456"


def test_a_become_password_that_is_a_list_is_refused(tmp_path: Path) -> None:
    text = "all:\n  hosts:\n    h1:\n      ansible_become_password: [1, 2]\n"
    with pytest.raises(ConfigError) as info:
        inventory(tmp_path, text, "inv.yml")
    assert info.value.field == "all.hosts.h1.ansible_become_password"
    assert info.value.line == 4
    assert "expected the password as text" in info.value.message


# Loading stays linear in the number of hosts (100,000 hosts took minutes when
# every host was looked up in every group's list of hosts).

class _CountedName(str):
    """A host name that counts how often it is compared with another string."""

    compared = 0

    def __eq__(self, other: object) -> bool:
        _CountedName.compared += 1
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def _comparisons(tmp_path: Path, hosts: int, monkeypatch: pytest.MonkeyPatch) -> int:
    expand = ini_module.expand_host_pattern

    def counted(pattern: str) -> tuple[list[str], int | None]:
        names, port = expand(pattern)
        return [_CountedName(n) for n in names], port

    monkeypatch.setattr(ini_module, "expand_host_pattern", counted)
    lines = "".join(f"h{i} ansible_port={1000 + i}\n" for i in range(hosts))
    text = f"[web]\n{lines}\n[db]\n{lines}\n[prod:children]\nweb\ndb\n"
    _CountedName.compared = 0
    inv = inventory(tmp_path / str(hosts), text)
    assert len(inv.hosts) == hosts
    return _CountedName.compared


def test_host_names_are_compared_a_linear_number_of_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Structural, not timed: twice the hosts must not mean four times the work."""
    small = _comparisons(tmp_path, 500, monkeypatch)
    large = _comparisons(tmp_path, 1000, monkeypatch)
    assert large <= 2.5 * small + 100
    assert large < 1000 * 10  # a handful per host, not one per other host


def test_a_chain_of_thousands_of_child_groups_loads(tmp_path: Path) -> None:
    """Group depths are found without recursion (3,000 levels were a RecursionError)."""
    text = "[g0]\nh1\n" + "".join(f"[g{i + 1}:children]\ng{i}\n" for i in range(3000))
    host = inventory(tmp_path, text).hosts[0]
    assert host.groups[:3] == ("all", "g3000", "g2999")
    assert host.groups[-1] == "g0"
    cycle = text + "[g0:children]\ng3000\n"
    with pytest.raises(ConfigError, match="groups contain each other"):
        inventory(tmp_path, cycle)
