"""fleet.inventory.limit and .patterns: Ansible's pattern rules as tables (no ansible needed;
tests/compat checks the same rules against ansible-core itself)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fleet.errors import ConfigError
from fleet.inventory.limit import select_hosts
from fleet.inventory.load import load_inventory
from fleet.inventory.model import Inventory
from fleet.inventory.patterns import apply_subscript, split_pattern, split_subscript

INVENTORY = """\
[web]
web1.example.com
web2.example.com
web3.example.com
[db]
db1
web
[webkids:children]
kids
[kids]
kid1
[web:children]
webkids
[v6]
2001:db8::1
2001:db8::2
"""


@pytest.fixture
def inventory(tmp_path: Path) -> Inventory:
    path = tmp_path / "hosts.ini"
    path.write_text(INVENTORY)
    return load_inventory([path])


@pytest.mark.parametrize(("pattern", "terms"), [
    ("a,b", ["a", "b"]),
    (" a , b ,", ["a", "b"]),
    ("a:b:&c:!d", ["a", "b", "&c", "!d"]),
    ("web[0:2]", ["web[0:2]"]),                 # one address with a range: one term
    ("web[1:]:db", ["web[1:]", "db"]),          # brackets keep their colons
    ("2001:db8::1", ["2001:db8::1"]),           # an IPv6 address is one term
    ("[2001:db8::1]:22", ["[2001:db8::1]:22"]),
    ("all:!2001:db8::1", ["all", "!2001", "db8", "1"]),  # as Ansible splits it
])
def test_split_pattern(pattern: str, terms: list[str]) -> None:
    assert split_pattern(pattern) == terms


@pytest.mark.parametrize(("term", "expected"), [
    ("web[0]", ("web", (0, None))),
    ("web[-1]", ("web", (-1, None))),
    ("web[0:2]", ("web", (0, 2))),
    ("web[1:]", ("web", (1, -1))),
    ("~web[0]", ("~web[0]", None)),            # a regex has no subscript
    ("web[a:b]", ("web[a:b]", None)),           # not a subscript: a glob
    ("web", ("web", None)),
])
def test_split_subscript(term: str, expected: tuple[str, object]) -> None:
    assert split_subscript(term) == expected


@pytest.mark.parametrize(("subscript", "picked"), [
    ((0, None), ["a"]), ((-1, None), ["d"]), ((0, 2), ["a", "b", "c"]), ((1, -1), ["b", "c", "d"]),
    ((0, 0), ["a"]),                             # an end of 0 is no end, as in Ansible
    ((3, 9), ["d"]),
])
def test_apply_subscript(subscript: tuple[int, int | None], picked: list[str]) -> None:
    assert apply_subscript(["a", "b", "c", "d"], subscript) == picked


def names(inventory: Inventory, limit: str) -> list[str]:
    return [h.name for h in select_hosts(inventory, limit)]


@pytest.mark.parametrize(("limit", "expected"), [
    ("~web", ["web1.example.com", "web2.example.com", "web3.example.com", "kid1", "web"]),
    ("~example", None),                          # anchored at the start: matches nothing
    ("~.*example", ["web1.example.com", "web2.example.com", "web3.example.com"]),
    ("web", ["web"]),                            # a host named like a group: the host
    ("db:&web", None),                           # &web is the group: nothing in common
    ("db:web", ["db1", "web"]),
    ("web*", ["web1.example.com", "web2.example.com", "web3.example.com", "kid1", "web"]),
    ("web[0]", ["web1.example.com"]),
    ("web[-1]", ["kid1"]),                       # own hosts first, then the children's
    ("web[1:2]", ["web2.example.com", "web3.example.com"]),
    ("web[2:]", ["web3.example.com", "kid1"]),
    ("2001:db8::1", ["2001:db8::1"]),
    ("v6,!2001:db8::1", ["2001:db8::2"]),
    ("ungrouped", None),
])
def test_select(inventory: Inventory, limit: str, expected: list[str] | None) -> None:
    if expected is None:
        with pytest.raises(ConfigError):
            names(inventory, limit)
    else:
        assert sorted(names(inventory, limit)) == sorted(expected)


def test_a_retry_file_names_the_hosts(inventory: Inventory, tmp_path: Path) -> None:
    retry = tmp_path / "site.retry"
    retry.write_text("db1\nweb2.example.com\n\n")
    assert names(inventory, f"@{retry}") == ["web2.example.com", "db1"]
    assert names(inventory, f"@{retry}:!db1") == ["web2.example.com"]
    with pytest.raises(ConfigError, match="cannot read the limit file") as missing:
        names(inventory, f"@{tmp_path / 'none.retry'}")
    assert missing.value.file == "--limit"


@pytest.mark.parametrize(("limit", "message"), [
    ("web[7]", "the subscript is past the end: web has 4 host(s)"),
    ("~(", "not a valid regular expression"),
    ("web:typo", "matches no host or group"),
    ("db:&kids", "selects no host"),
    ("&", "needs a host or group after it"),
])
def test_bad_limits_are_one_line(inventory: Inventory, limit: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as refused:
        select_hosts(inventory, limit)
    assert refused.value.file == "--limit"
    assert "\n" not in refused.value.render()
