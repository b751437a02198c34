"""fleet.inventory.load: Ansible YAML inventories, var precedence, and --limit patterns."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.errors import ConfigError
from fleet.inventory.limit import select_hosts
from fleet.inventory.load import load_inventory
from fleet.inventory.model import Inventory

REPO = Path(__file__).resolve().parents[2]

DESIGN = """\
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


def write(folder: Path, text: str, name: str = "inv.yml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def inventory(tmp_path: Path, text: str) -> Inventory:
    return load_inventory([write(tmp_path, text)])


def test_design_inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    inv = inventory(tmp_path, DESIGN)
    assert [h.name for h in inv.hosts] == ["dev-01", "dev-02", "dev-03"]
    one, two, three = inv.hosts
    assert (one.address, one.port, one.user) == ("10.1.0.11", None, "deploy")  # ssh decides
    assert (two.address, two.port) == ("10.1.0.12", 2222)
    assert one.identity_file == tmp_path / "home" / ".ssh" / "fleet_ed25519"
    assert one.known_hosts_file == tmp_path / "home" / ".ssh" / "known_hosts"
    assert one.connection == "ssh"
    assert one.groups == ("all", "canaries")
    assert three.groups == ("all", "developers")
    assert dict(inv.groups) == {"all": ("dev-01", "dev-02", "dev-03"), "ungrouped": (),
                                "canaries": ("dev-01",), "developers": ("dev-02", "dev-03")}
    assert inv.sources == (tmp_path / "inv.yml",)
    assert inv.host("dev-02") is two


def test_repository_inventories_load() -> None:
    example = load_inventory([REPO / "inventory" / "example.yml"])
    assert [h.name for h in example.hosts] == ["dev-01", "dev-02", "dev-03"]
    fleet = load_inventory([REPO / "inventory" / "testfleet.yml"])
    assert [h.port for h in fleet.hosts] == [2201, 2202, 2203, 2204, 2205, 2206]
    assert {h.address for h in fleet.hosts} == {"127.0.0.1"}
    assert fleet.hosts[0].identity_file == REPO / ".testfleet" / "id_ed25519"
    assert fleet.hosts[0].known_hosts_file == REPO / ".testfleet" / "known_hosts"


def test_unknown_host_lookup_raises_key_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        inventory(tmp_path, DESIGN).host("dev-99")


def test_defaults_for_a_bare_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    host = inventory(tmp_path, "all:\n  hosts:\n    web1:\n").hosts[0]
    assert (host.name, host.address, host.port, host.user, host.identity_file,
            host.connection, host.proxy_jump) == ("web1", "web1", None, None, None, "ssh", None)
    assert host.known_hosts_file == tmp_path / ".ssh" / "known_hosts"
    assert host.groups == ("all", "ungrouped")  # a host under all alone is ungrouped
    assert dict(host.vars) == {}


@pytest.mark.parametrize(("key", "value", "attribute", "expected"), [
    ("ansible_host", "10.0.0.1", "address", "10.0.0.1"),
    ("ansible_ssh_host", "10.0.0.3", "address", "10.0.0.3"),
    ("ansible_port", 2200, "port", 2200),
    ("ansible_ssh_port", 2202, "port", 2202),
    ("ansible_port", "2203", "port", 2203),
    ("ansible_user", "alice", "user", "alice"),
    ("ansible_ssh_user", "carol", "user", "carol"),
    ("ansible_ssh_private_key_file", "/keys/a", "identity_file", Path("/keys/a")),
    ("ansible_private_key_file", "/keys/c", "identity_file", Path("/keys/c")),
    ("ansible_connection", "local", "connection", "local"),
    ("known_hosts_file", "/etc/ssh/kh", "known_hosts_file", Path("/etc/ssh/kh")),
    ("fleet_known_hosts_file", "/etc/ssh/kh2", "known_hosts_file", Path("/etc/ssh/kh2")),
    ("ansible_connection", "smart", "connection", "ssh"),
    ("ansible_connection", "paramiko", "connection", "ssh"),
])
def test_aliases(tmp_path: Path, key: str, value: object, attribute: str,
                 expected: object) -> None:
    text = f"all:\n  hosts:\n    h1:\n      {key}: {value!r}\n".replace("'", '"')
    host = inventory(tmp_path, text).hosts[0]
    assert getattr(host, attribute) == expected
    assert host.vars[key] == value  # kept as written


@pytest.mark.parametrize(("key", "value"), [
    ("host", "elsewhere"), ("port", 2201), ("user", "bob"), ("identity_file", "/keys/b"),
    ("connection", "local"), ("proxy_jump", "bastion"), ("become", True),
])
def test_plain_names_are_ordinary_vars(tmp_path: Path, key: str, value: object) -> None:
    text = f"all:\n  hosts:\n    h1:\n      {key}: {value!r}\n".replace("'", '"')
    host = inventory(tmp_path, text).hosts[0]
    assert (host.address, host.port, host.user, host.identity_file, host.connection,
            host.proxy_jump, host.become) == ("h1", None, None, None, "ssh", None, False)
    assert host.vars[key] == value


def test_legacy_names_win_wherever_both_are_set(tmp_path: Path) -> None:
    text = ("all:\n  vars: {ansible_ssh_user: legacy, ansible_ssh_port: 2200,"
            " ansible_ssh_host: old.example}\n  hosts:\n"
            "    h1: {ansible_user: modern, ansible_port: 2300, ansible_host: new.example,"
            " ansible_ssh_private_key_file: /k/legacy, ansible_private_key_file: /k/new}\n")
    host = inventory(tmp_path, text).hosts[0]
    assert (host.user, host.port, host.address) == ("legacy", 2200, "old.example")
    assert host.identity_file == Path("/k/legacy")


NESTED = """\
all:
  vars: {level: all, ansible_user: root_user, only_all: 1}
  children:
    region:
      vars: {level: region, ansible_port: 2000, only_region: 1}
      children:
        zone_b:
          vars: {level: zone_b, tag: b}
          hosts:
            h1: {level: host}
            h2:
        zone_a:
          vars: {level: zone_a, tag: a, ansible_port: 3000}
          hosts:
            h2:
            h3:
    other:
      vars: {level: other}
      hosts:
        h3:
"""


def test_vars_inherit_down_deeper_wins_host_wins(tmp_path: Path) -> None:
    inv = inventory(tmp_path, NESTED)
    h1, h2, h3 = (inv.host(n) for n in ("h1", "h2", "h3"))
    assert h1.vars["level"] == "host"                  # host vars win
    assert h1.vars["only_all"] == 1                    # inherited from every ancestor
    assert h1.vars["only_region"] == 1
    assert h1.user == "root_user"
    assert h1.port == 2000                             # from region
    assert h2.vars["level"] == "zone_b"                # depth 2 beats depth 1; same depth:
    assert h2.vars["tag"] == "b"                       # names sort, zone_b after zone_a wins
    assert h2.port == 3000                             # zone_a's port (zone_b sets none)
    assert h3.vars["level"] == "zone_a"                # depth 2 (zone_a) beats other (depth 1)
    assert h3.groups == ("all", "other", "region", "zone_a")
    assert h2.groups == ("all", "region", "zone_a", "zone_b")


def test_groups_include_children_hosts_in_inventory_order(tmp_path: Path) -> None:
    inv = inventory(tmp_path, NESTED)
    assert [h.name for h in inv.hosts] == ["h1", "h2", "h3"]
    assert inv.groups["region"] == ("h1", "h2", "h3")
    assert inv.groups["zone_a"] == ("h2", "h3")
    assert inv.groups["other"] == ("h3",)
    assert inv.groups["all"] == ("h1", "h2", "h3")


def test_order_is_depth_first_as_written(tmp_path: Path) -> None:
    text = ("all:\n  children:\n    g1:\n      children:\n        g2:\n          hosts: {c: }\n"
            "      hosts: {b: }\n  hosts: {a: }\n")
    assert [h.name for h in inventory(tmp_path, text).hosts] == ["c", "b", "a"]
    text = "all:\n  hosts: {a: }\n  children:\n    g1:\n      hosts: {b: , c: }\n"
    assert [h.name for h in inventory(tmp_path, text).hosts] == ["a", "b", "c"]


def test_top_level_groups_are_children_of_all(tmp_path: Path) -> None:
    inv = inventory(tmp_path, "web:\n  hosts: {w1: }\ndb:\n  hosts: {d1: }\n")
    assert inv.groups["all"] == ("w1", "d1")
    assert inv.host("d1").groups == ("all", "db")


def test_a_group_defined_twice_merges(tmp_path: Path) -> None:
    text = ("all:\n  children:\n    a:\n      children:\n        shared:\n          hosts: {x: }\n"
            "    b:\n      children:\n        shared:\n          vars: {v: 2}\n"
            "          hosts: {y: }\n")
    inv = inventory(tmp_path, text)
    assert inv.groups["shared"] == ("x", "y")
    assert inv.host("x").vars["v"] == 2
    assert inv.host("x").groups == ("all", "a", "b", "shared")


def test_free_form_and_other_ansible_vars_are_kept(tmp_path: Path) -> None:
    text = ("all:\n  vars:\n    ansible_python_interpreter: /usr/bin/python3\n"
            "    team: {name: infra, size: 3}\n  hosts:\n    h1: {ansible_become: true}\n")
    host = inventory(tmp_path, text).hosts[0]
    assert dict(host.vars) == {"ansible_python_interpreter": "/usr/bin/python3",
                               "team": {"name": "infra", "size": 3}, "ansible_become": True}
    with pytest.raises(TypeError):
        host.vars["x"] = 1  # type: ignore[index]


def test_hosts_are_frozen(tmp_path: Path) -> None:
    host = inventory(tmp_path, DESIGN).hosts[0]
    with pytest.raises(AttributeError):
        host.port = 1  # type: ignore[misc]


def test_several_files_merge_later_wins(tmp_path: Path) -> None:
    first = write(tmp_path / "one", "all:\n  vars: {ansible_user: a}\n  children:\n"
                  "    web:\n      hosts: {w1: {ansible_port: 1}, w2: }\n")
    second = write(tmp_path / "two", "all:\n  vars: {ansible_user: b}\n  children:\n"
                   "    web:\n      hosts: {w3: }\n"
                   "    db:\n      hosts: {d1: , w1: {ansible_port: 2}}\n")
    inv = load_inventory([first, second])
    assert [h.name for h in inv.hosts] == ["w1", "w2", "w3", "d1"]
    assert inv.host("w1").port == 2
    assert inv.host("w2").user == "b"
    assert inv.groups["web"] == ("w1", "w2", "w3")
    assert inv.groups["db"] == ("w1", "d1")
    assert inv.sources == (first, second)


def test_relative_paths_are_relative_to_the_working_directory(tmp_path: Path) -> None:
    first = write(tmp_path / "a", "all:\n  vars: {ansible_ssh_private_key_file: keys/id, "
                  "known_hosts_file: ../kh}\n  hosts: {h1: }\n")
    second = write(tmp_path / "b" / "deeper", "all:\n  hosts:\n    h2: "
                   "{ansible_ssh_private_key_file: '{{ inventory_dir }}/id2'}\n")
    inv = load_inventory([first, second])
    assert inv.host("h1").identity_file == Path("keys/id")  # as ssh -i keys/id reads it
    assert inv.host("h1").known_hosts_file == Path("../kh")
    assert inv.host("h2").identity_file == tmp_path / "b" / "deeper" / "id2"
    assert inv.host("h2").known_hosts_file == Path("../kh")  # all.vars of the first file


def test_tilde_expands_to_the_local_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    host = inventory(tmp_path, "all:\n  hosts:\n    h: {ansible_ssh_private_key_file: ~/k, "
                     "known_hosts_file: ~/kh}\n").hosts[0]
    assert host.identity_file == tmp_path / "me" / "k"
    assert host.known_hosts_file == tmp_path / "me" / "kh"


# Each case: inventory text, dotted field, line, message piece.
BAD = [
    ("all:\n  children:\n    web:\n      hots:\n        w1:\n", "all.children.web.hots", 4,
     "unknown key 'hots'; did you mean 'hosts'? allowed keys: children, hosts, vars"),
    ("all:\n  host:\n    w1:\n", "all.host", 2, "allowed keys: children, hosts, vars"),
    ("all:\n  hosts:\n    w1: 5\n", "all.hosts.w1", 3, "expected a mapping"),
    ("all:\n  hosts: [w1, w2]\n", "all.hosts", 2, "expected a mapping"),
    ("- all\n", None, 1, "expected a mapping"),
    ("all:\n  hosts: {a: }\n  hosts: {b: }\n", "all.hosts", 3, "duplicate key 'hosts'"),
    ("all:\n  hosts: {a: [\n", None, 3, "invalid YAML"),
    ("all:\n  children:\n    g:\n      children:\n        g:\n          hosts: {a: }\n",
     "all.children.g.children.g", 5, "group cycle all > g > g"),
    ("all:\n  children:\n    g:\n      children:\n        all:\n", "all.children.g.children.all",
     5, "group cycle"),
]

# Connection settings fleet cannot use: the inventory loads (Ansible's does), selecting
# the host is refused with one line naming file, field and line.
UNUSABLE = [
    ("all:\n  hosts:\n    w1: {ansible_port: ssh}\n", "all.hosts.w1.ansible_port", 3,
     "expected a port number 1..65535, got 'ssh'"),
    ("all:\n  vars:\n    ansible_port: 70000\n  hosts: {w1: }\n", "all.vars.ansible_port", 3,
     "1..65535"),
    ("all:\n  hosts:\n    w1: {ansible_connection: winrm}\n", "all.hosts.w1.ansible_connection",
     3, "ssh or local only, got 'winrm'"),
    ("all:\n  hosts:\n    w1: {ansible_user: ''}\n", "all.hosts.w1.ansible_user", 3,
     "one word"),
    ("all:\n  hosts:\n    w1: {ansible_host: [1]}\n", "all.hosts.w1.ansible_host", 3,
     "one word"),
    ("all:\n  hosts:\n    w1:\n      ansible_host: '{{ ip }}'\n",
     "all.hosts.w1.ansible_host", 4, "templates are not supported"),
    ("all:\n  hosts:\n    w1: {ansible_port: '22x'}\n", "all.hosts.w1.ansible_port", 3, "'22x'"),
]


@pytest.mark.parametrize(("text", "field", "line", "message"), UNUSABLE)
def test_unusable_settings_are_refused_when_selected(tmp_path: Path, text: str, field: str,
                                                     line: int, message: str) -> None:
    path = write(tmp_path, text)
    inv = load_inventory([path])
    assert inv.hosts[0].refusal is not None
    with pytest.raises(ConfigError) as info:
        select_hosts(inv, None)
    error = info.value
    assert (error.file, error.field, error.line) == (str(path), field, line)
    assert message in error.message
    assert "\n" not in error.render()


@pytest.mark.parametrize(("text", "field", "line", "message"), BAD)
def test_bad_inventory_is_one_clear_line(tmp_path: Path, text: str, field: str | None,
                                         line: int, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_inventory([path])
    error = info.value
    assert (error.file, error.field, error.line) == (str(path), field, line)
    assert message in error.message
    assert error.render().startswith(f"{path}:{line}: ")


def test_cycle_across_definitions_is_refused(tmp_path: Path) -> None:
    text = "a:\n  children:\n    b:\nb:\n  children:\n    a:\n  hosts: {h: }\n"
    with pytest.raises(ConfigError, match="group cycle") as info:
        inventory(tmp_path, text)
    assert info.value.field == "b.children"


@pytest.mark.parametrize("text", ["", "all:\n", "all:\n  children:\n    g:\n      vars: {a: 1}\n"])
def test_inventory_without_hosts_is_refused(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="no hosts"):
        inventory(tmp_path, text)


def test_no_inventory_file_is_refused() -> None:
    with pytest.raises(ConfigError, match="no inventory file") as info:
        load_inventory([])
    assert info.value.file == "--inventory"


def test_missing_inventory_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such inventory file or folder"):
        load_inventory([tmp_path / "nope.yml"])


LIMIT_INV = """\
all:
  children:
    canaries:
      hosts:
        dev-01:
    developers:
      hosts:
        dev-02:
        dev-03:
        web-01:
    web:
      hosts:
        web-01:
        web-02:
"""


@pytest.mark.parametrize(("limit", "names"), [
    (None, ["dev-01", "dev-02", "dev-03", "web-01", "web-02"]),
    ("dev-02", ["dev-02"]),
    ("developers", ["dev-02", "dev-03", "web-01"]),
    ("all", ["dev-01", "dev-02", "dev-03", "web-01", "web-02"]),
    ("dev-*", ["dev-01", "dev-02", "dev-03"]),
    ("*-02", ["dev-02", "web-02"]),
    ("dev-*[0]", ["dev-01"]),                            # [n] is a subscript, as in Ansible
    ("dev-0[!2]", ["dev-01", "dev-03"]),                 # a glob
    ("can*", ["dev-01"]),                                # glob over group names
    ("web-02:dev-01", ["dev-01", "web-02"]),             # union, inventory order
    ("web-02,dev-01", ["dev-01", "web-02"]),
    ("canaries:web", ["dev-01", "web-01", "web-02"]),
    ("developers:!web-01", ["dev-02", "dev-03"]),
    ("developers:&web", ["web-01"]),
    ("!web-01:developers", ["dev-02", "dev-03"]),        # exclusions apply last
    ("&web:developers:canaries", ["web-01"]),            # intersections after the union
    ("developers:canaries:!dev-0*:&web", ["web-01"]),
    ("!web", ["dev-01", "dev-02", "dev-03"]),            # only exclusions: from all
    ("&developers", ["dev-02", "dev-03", "web-01"]),
    ("~^dev-0[12]$", ["dev-01", "dev-02"]),              # Ansible's ~regex
    (" dev-01 , dev-02 ", ["dev-01", "dev-02"]),
    ("dev-01,,dev-02", ["dev-01", "dev-02"]),
])
def test_limit_patterns(tmp_path: Path, limit: str | None, names: list[str]) -> None:
    assert [h.name for h in select_hosts(inventory(tmp_path, LIMIT_INV), limit)] == names


@pytest.mark.parametrize(("limit", "field", "message"), [
    ("dev-99", "dev-99", "matches no host or group; did you mean dev-03, dev-02, dev-01?"),
    ("developers:devs", "devs", "did you mean"),
    ("dev-0[13]", "dev-0[13]", "matches no host or group"),  # dev-0, 14th host
    ("!nobody", "!nobody", "matches no host or group"),
    ("&nogroup", "&nogroup", "matches no host or group"),
    ("zzz*", "zzz*", "known: dev-01, dev-02"),
    ("~(", "~(", "not a valid regular expression"),
    ("canaries:&web", "canaries:&web", "selects no host"),
    ("", "''", "empty pattern"),
    (",", "','", "empty pattern"),
])
def test_limit_errors(tmp_path: Path, limit: str, field: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        select_hosts(inventory(tmp_path, LIMIT_INV), limit)
    assert info.value.file == "--limit"
    assert info.value.field == field
    assert message in info.value.message
    assert info.value.render().startswith(f"--limit: {field}: ")


def test_limit_error_lists_known_groups(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        select_hosts(inventory(tmp_path, LIMIT_INV), "qqq")
    assert "canaries" in info.value.message
    assert "developers" in info.value.message


names = st.lists(st.sampled_from(["dev-01", "dev-02", "dev-03", "web-01", "web-02",
                                  "developers", "web", "canaries"]), min_size=1, max_size=4)


@given(names, names)
def test_limit_algebra(tmp_path_factory: pytest.TempPathFactory, plain: list[str],
                       excluded: list[str]) -> None:
    inv = inventory(tmp_path_factory.mktemp("inv"), LIMIT_INV)

    def hosts_of(term: str) -> set[str]:
        return set(inv.groups.get(term, (term,)))

    union = set().union(*map(hosts_of, plain))
    minus = union - set().union(*map(hosts_of, excluded))
    limit = ":".join(plain + [f"!{x}" for x in excluded])
    if minus:
        chosen = [h.name for h in select_hosts(inv, limit)]
        assert set(chosen) == minus
        assert chosen == [h.name for h in inv.hosts if h.name in minus]  # inventory order
    else:
        with pytest.raises(ConfigError, match="selects no host"):
            select_hosts(inv, limit)


@pytest.mark.parametrize("name", ["inv.yml", "hosts"])
def test_an_inventory_nested_1000_deep_is_one_config_error(tmp_path: Path, name: str) -> None:
    text = "all:\n  vars:\n    x: " + "[" * 1000 + "]" * 1000 + "\n  hosts:\n    h1:\n"
    path = write(tmp_path, text, name)
    with pytest.raises(ConfigError, match="nested more than 100 levels deep") as info:
        load_inventory([path])
    assert info.value.file == str(path)


def test_an_alias_bomb_in_group_vars_is_one_config_error(tmp_path: Path) -> None:
    bomb = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    bomb += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 9)]
    write(tmp_path / "group_vars", "\n".join(bomb) + "\n", "all.yml")
    with pytest.raises(ConfigError, match="aliases expand") as info:
        inventory(tmp_path, "all:\n  hosts:\n    h1:\n")
    assert info.value.file == str(tmp_path / "group_vars" / "all.yml")
