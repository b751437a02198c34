"""-i folders and host lists, and Ansible's merge rules (ungrouped, first port, priority)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fleet.errors import ConfigError
from fleet.inventory.load import load_inventory


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_a_folder_is_every_inventory_file_in_it_with_its_vars(tmp_path: Path) -> None:
    write(tmp_path, {
        "inv/a.yml": "web:\n  hosts:\n    web1:\n",
        "inv/b.ini": "[db]\ndb1\n[web:vars]\nfrom_ini=1\n",
        "inv/sub/c.yml": "deep:\n  hosts:\n    deep1:\n",
        "inv/notes.md": "# not an inventory\n",
        "inv/.hidden": "{broken\n",
        "inv/group_vars/web.yml": "tier: front\n",
        "inv/host_vars/db1.yml": "ansible_user: postgres\n",
    })
    inventory = load_inventory([tmp_path / "inv"])
    assert [h.name for h in inventory.hosts] == ["web1", "db1", "deep1"]
    assert inventory.host("web1").vars == {"from_ini": 1, "tier": "front"}
    assert inventory.host("db1").user == "postgres"


def test_an_executable_file_is_refused_as_a_dynamic_inventory(tmp_path: Path) -> None:
    script = tmp_path / "inv" / "ec2"
    write(tmp_path, {"inv/ec2": "#!/bin/sh\necho '{}'\n"})
    os.chmod(script, 0o700)  # executable by its owner: a dynamic inventory script
    with pytest.raises(ConfigError, match="dynamic inventory script"):
        load_inventory([tmp_path / "inv"])


def test_a_host_list(tmp_path: Path) -> None:
    inventory = load_inventory([Path("web1, web2:2222,[2001:db8::1]:2200,")])
    assert [(h.name, h.port, h.groups) for h in inventory.hosts] == [
        ("web1", None, ("all", "ungrouped")), ("web2", 2222, ("all", "ungrouped")),
        ("2001:db8::1", 2200, ("all", "ungrouped"))]


def test_a_missing_source_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such inventory file or folder") as missing:
        load_inventory([tmp_path / "nope"])
    assert missing.value.file == str(tmp_path / "nope")


def test_hosts_under_all_are_ungrouped(tmp_path: Path) -> None:
    write(tmp_path, {"inv.yml": "all:\n  hosts:\n    a:\n    b:\n  children:\n    g:\n"
                                "      hosts:\n        b:\n",
                     "group_vars/ungrouped.yml": "loose: true\n"})
    inventory = load_inventory([tmp_path / "inv.yml"])
    assert inventory.groups["ungrouped"] == ("a",)
    assert inventory.host("a").vars == {"loose": True}
    assert "loose" not in inventory.host("b").vars


def test_the_first_port_wins(tmp_path: Path) -> None:
    write(tmp_path, {"inv.ini": "[a]\nh:2201\n[b]\nh:2202\nk\n[c]\nk:2203\n"})
    inventory = load_inventory([tmp_path / "inv.ini"])
    assert (inventory.host("h").port, inventory.host("k").port) == (2201, None)


def test_group_priority_orders_groups_of_one_depth(tmp_path: Path) -> None:
    write(tmp_path, {"inv.yml": "a:\n  vars: {v: a, ansible_group_priority: 10}\n"
                                "  hosts: {h: }\nb:\n  vars: {v: b}\n  hosts: {h: }\n"})
    host = load_inventory([tmp_path / "inv.yml"]).host("h")
    assert host.vars == {"v": "a"}  # a, priority 10, after b's 1; the priority is no var
    assert host.groups == ("all", "b", "a")


def test_yaml_ranges_and_ports(tmp_path: Path) -> None:
    write(tmp_path, {"inv.yml": "g:\n  hosts:\n    www[01:03].example.com:\n"
                                "    db-[a:b]:2222:\n"})
    inventory = load_inventory([tmp_path / "inv.yml"])
    assert [(h.name, h.port) for h in inventory.hosts] == [
        ("www01.example.com", None), ("www02.example.com", None), ("www03.example.com", None),
        ("db-a", 2222), ("db-b", 2222)]
