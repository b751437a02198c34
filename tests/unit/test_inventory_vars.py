"""group_vars/ and host_vars/ next to inventory files: discovery, Ansible's precedence, errors."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from fleet.errors import ConfigError
from fleet.inventory.limit import select_hosts
from fleet.inventory.load import load_inventory
from fleet.inventory.varfiles import find_vars_files

INI = """\
[all:vars]
{all}
[parent:children]
child
[parent:vars]
{parent}
[child]
h1 {host}
[child:vars]
{child}
"""

# Ansible's order, lowest first: inventory group vars by depth, then group_vars
# files by depth, then the inventory's host vars, then host_vars files.
LEVELS = ["inv_all", "inv_parent", "inv_child", "file_all", "file_parent", "file_child",
          "inv_host", "file_host"]


def build(root: Path, levels: set[str], inline_name: str = "hosts.ini") -> Path:
    """An inventory where each level in ``levels`` sets ``v`` to its own name."""
    def inline(level: str) -> str:
        return f"v={level}" if level in levels else ""
    text = INI.format(all=inline("inv_all"), parent=inline("inv_parent"),
                      child=inline("inv_child"), host=inline("inv_host"))
    root.mkdir(parents=True, exist_ok=True)
    path = root / inline_name
    path.write_text(text)
    for level, folder, name in [("file_all", "group_vars", "all"),
                                ("file_parent", "group_vars", "parent"),
                                ("file_child", "group_vars", "child"),
                                ("file_host", "host_vars", "h1")]:
        if level in levels:
            (root / folder).mkdir(exist_ok=True)
            (root / folder / f"{name}.yml").write_text(f"v: {level}\n")
    return path


@pytest.mark.parametrize(("lower", "higher"), list(itertools.combinations(LEVELS, 2)))
def test_precedence_pairs(tmp_path: Path, lower: str, higher: str) -> None:
    path = build(tmp_path, {lower, higher})
    assert load_inventory([path]).host("h1").vars["v"] == higher


def test_every_level_at_once(tmp_path: Path) -> None:
    for count in range(1, len(LEVELS) + 1):
        root = tmp_path / str(count)
        path = build(root, set(LEVELS[:count]))
        assert load_inventory([path]).host("h1").vars["v"] == LEVELS[count - 1]


def test_group_vars_apply_to_yaml_inventories_and_set_connection(tmp_path: Path) -> None:
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "group_vars" / "web.yaml").write_text(
        "ansible_user: deploy\nansible_port: 2222\nansible_ssh_private_key_file: keys/id\n")
    (tmp_path / "host_vars" / "w2.json").write_text('{"ansible_port": 2200}')
    (tmp_path / "inv.yml").write_text("web:\n  hosts:\n    w1:\n    w2: {ansible_port: 1}\n")
    inv = load_inventory([tmp_path / "inv.yml"])
    w1, w2 = inv.hosts
    assert (w1.user, w1.port, w2.port) == ("deploy", 2222, 2200)
    assert w1.identity_file == Path("keys/id")  # relative to the working directory, as in ssh


def test_a_folder_of_files_merges_in_sorted_order(tmp_path: Path) -> None:
    folder = tmp_path / "group_vars" / "web"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.yml").write_text("v: b\nonly_b: 1\n")
    (folder / "a.yml").write_text("v: a\nonly_a: 1\n")
    (folder / "sub" / "z.yaml").write_text("v: z\n")
    (folder / "noext").write_text("noext: 1\n")
    (folder / "skip.txt").write_text("v: skipped\n")
    (folder / ".hidden.yml").write_text("v: hidden\n")
    (folder / "c.yml~").write_text("v: backup\n")
    (tmp_path / "hosts").write_text("[web]\nw1\n")
    host = load_inventory([tmp_path / "hosts"]).hosts[0]
    assert host.vars == {"v": "z", "only_a": 1, "only_b": 1, "noext": 1}
    assert find_vars_files(tmp_path / "group_vars", "web") == [
        folder / "a.yml", folder / "b.yml", folder / "noext", folder / "sub" / "z.yaml"]


@pytest.mark.parametrize(("present", "used"), [
    (["web", "web.yml"], "web"),
    (["web.yml", "web.yaml", "web.json"], "web.yml"),
    (["web.yaml", "web.json"], "web.yaml"),
    (["web.json"], "web.json"),
    (["web.txt"], None),
    (["other.yml"], None),
])
def test_the_first_existing_name_is_used(tmp_path: Path, present: list[str],
                                         used: str | None) -> None:
    for name in present:
        (tmp_path / name).write_text("{}")
    found = find_vars_files(tmp_path, "web")
    assert found == ([tmp_path / used] if used else [])


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "../x"])
def test_odd_names_have_no_files(tmp_path: Path, name: str) -> None:
    (tmp_path / "x.yml").write_text("{}")
    assert find_vars_files(tmp_path / "group_vars", name) == []


def test_each_inventory_folder_has_its_own_vars_later_wins(tmp_path: Path) -> None:
    one = tmp_path / "one"
    two = tmp_path / "two"
    for folder, value in ((one, "one"), (two, "two")):
        (folder / "group_vars").mkdir(parents=True)
        (folder / "group_vars" / "all.yml").write_text(f"v: {value}\nfrom_{value}: 1\n")
    (one / "a.ini").write_text("[web]\nw1\n")
    (two / "b.yml").write_text("db:\n  hosts: {d1: }\n")
    inv = load_inventory([one / "a.ini", two / "b.yml"])
    for host in inv.hosts:
        assert host.vars == {"v": "two", "from_one": 1, "from_two": 1}


def test_vars_for_unknown_groups_and_hosts_are_ignored(tmp_path: Path) -> None:
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "group_vars" / "nobody.yml").write_text("- not even a mapping\n")
    (tmp_path / "host_vars" / "ghost.yml").write_text("v: 1\n")
    (tmp_path / "hosts").write_text("w1\n")
    assert load_inventory([tmp_path / "hosts"]).hosts[0].vars == {}


def test_empty_files_hold_no_vars(tmp_path: Path) -> None:
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "all.yml").write_text("# nothing yet\n")
    (tmp_path / "hosts").write_text("w1\n")
    assert load_inventory([tmp_path / "hosts"]).hosts[0].vars == {}


# Each case: file (under the inventory's folder), text, line, message piece, field.
BAD = [
    ("group_vars/all.yml", "- a\n- b\n", 1, "expected a mapping of variable names", None),
    ("group_vars/web.yml", "just text\n", 1, "expected a mapping", None),
    ("group_vars/web.yml", "a: 1\n2: x\n", 2, "variable names must be strings", None),
    ("group_vars/web.yml", "a: [1,\n", 2, "invalid YAML", None),
    ("group_vars/web.yml", "a: 1\na: 2\n", 2, "duplicate key 'a'", "a"),
    ("group_vars/all.yml", "$ANSIBLE_VAULT;1.1;AES256\n6162\n", 1, "Vault", None),
]

# Settings fleet cannot use: loaded, then refused when the host is selected.
UNUSABLE = [
    ("group_vars/web/conn.yml", "x: 1\nansible_port: ssh\n", 2, "expected a port number",
     "ansible_port"),
    ("host_vars/w1.yml", "ansible_host: '{{ ip }}'\n", 1, "templates are not supported",
     "ansible_host"),
    ("host_vars/w1.yml", "ansible_ssh_common_args: -J\n", 1, "needs a value",
     "ansible_ssh_common_args"),
]


@pytest.mark.parametrize(("name", "text", "line", "message", "field"), UNUSABLE)
def test_unusable_settings_in_vars_files_name_file_and_line(
        tmp_path: Path, name: str, text: str, line: int, message: str, field: str) -> None:
    path = tmp_path / name
    path.parent.mkdir(parents=True)
    path.write_text(text)
    (tmp_path / "hosts").write_text("[web]\nw1\n")
    with pytest.raises(ConfigError) as info:
        select_hosts(load_inventory([tmp_path / "hosts"]), "web")
    error = info.value
    assert (error.file, error.line, error.field) == (str(path), line, field)
    assert message in error.message


@pytest.mark.parametrize(("name", "text", "line", "message", "field"), BAD)
def test_bad_vars_files_name_file_and_line(tmp_path: Path, name: str, text: str, line: int,
                                           message: str, field: str | None) -> None:
    path = tmp_path / name
    path.parent.mkdir(parents=True)
    path.write_text(text)
    (tmp_path / "hosts").write_text("[web]\nw1\n")
    with pytest.raises(ConfigError) as info:
        load_inventory([tmp_path / "hosts"])
    error = info.value
    assert (error.file, error.line) == (str(path), line)
    assert message in error.message
    assert error.field == field
