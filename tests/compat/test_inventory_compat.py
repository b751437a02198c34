"""fleet vs ansible-core: every host's groups, vars and connection settings, every pattern.

The references are Ansible's own code, run unchanged (``oracle.py``):
``ansible-inventory --list`` for the hosts, groups and vars, the ssh
connection plugin's options for address, port, user and key file, ``ssh -G``
on the command line Ansible builds for the jump host, and
``InventoryManager.subset`` (what ``--limit`` does) for the patterns.

The inventories: every file and every folder with group_vars/host_vars of
Ansible's own test and documentation inventories in ``../shared/compat_corpus``
(read where they are, never copied; those cases skip, saying so, where the
folder is absent), and the cases of ``cases.py``, one per item of issue 12.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fleet.cli.inventory import inventory_graph, inventory_list
from fleet.errors import ConfigError
from fleet.inventory.limit import match_pattern
from fleet.inventory.load import load_inventory
from fleet.inventory.model import Inventory
from tests.compat.cases import CASES
from tests.compat.compare import (
    CORPUS,
    Case,
    ansible_hosts,
    host_diffs,
    pattern_diff,
    run_oracle,
)

_SKIP_FILES = {"SOURCES.txt"}
# Corpus files fleet refuses, with the reason (each is refused by Ansible too,
# which warns and carries on with no hosts).
CORPUS_REFUSED = {
    "inventory_yaml/test_int_hostname.yml": "must be text",
    "intro_inventory/group_priority.yml": "no hosts",
    "intro_inventory/southeast.ini": "never declared",
}


def corpus_cases() -> list[tuple[str, tuple[str, ...]]]:
    """Return (id, -i arguments) for each corpus file and each folder with vars folders."""
    if not CORPUS.is_dir():
        return []
    found: list[tuple[str, tuple[str, ...]]] = []
    for path in sorted(CORPUS.rglob("*")):
        if path.is_file() and path.name not in _SKIP_FILES \
                and not {"group_vars", "host_vars"} & set(path.parts):
            found.append((str(path.relative_to(CORPUS)), (str(path),)))
    for folder in sorted(p for p in CORPUS.rglob("*") if p.is_dir()):
        if (folder / "group_vars").is_dir() or (folder / "host_vars").is_dir():
            found.append((f"{folder.relative_to(CORPUS)}/", (str(folder),)))
    hash_dir = CORPUS / "ansible/test/integration/targets/hash"
    if hash_dir.is_dir():  # two -i files, the second adding to the first
        found.append(("hash/test_inv1.yml+test_inv2.yml",
                      (str(hash_dir / "test_inv1.yml"), str(hash_dir / "test_inv2.yml"))))
    return found


CORPUS_IDS = [case_id for case_id, _ in corpus_cases()]


def generic_patterns(inventory: Inventory) -> list[str]:
    """Patterns every case is compared on, made from its own names."""
    groups = [g for g in inventory.tree if g not in ("all", "ungrouped")][:8]
    hosts = [h.name for h in inventory.hosts][:8]
    patterns = ["all", "ungrouped", "all[0]", "all[-1]", "all[1:]", "all[0:2]", "*", "~[a-m]",
                "~.*1", "*1*", "!ungrouped", "all:!ungrouped"]
    for index, group in enumerate(groups):
        other = groups[(index + 1) % len(groups)]
        patterns += [group, f"{group}[0]", f"{group}[-1]", f"{group}:&{other}",
                     f"{group}:!{other}", f"&{group}", f"{group}*"]
    for host in hosts:
        patterns += [host, f"all,!{host}" if ":" in host else f"all:!{host}"]
    if len(hosts) > 1:
        patterns.append(",".join(hosts[:2]))
    return list(dict.fromkeys(patterns))


def _fleet(case: Case) -> Inventory | ConfigError:
    try:
        return load_inventory([Path(s) for s in case.sources])
    except ConfigError as exc:
        return exc


@pytest.fixture(scope="session")
def compat(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every case with fleet's inventory and Ansible's answers (one oracle run)."""
    root = tmp_path_factory.mktemp("compat")
    cases: list[Case] = []
    for case_id, sources in corpus_cases():
        work = root / "corpus-cwd"
        work.mkdir(exist_ok=True)
        refused = next((why for tail, why in CORPUS_REFUSED.items() if case_id.endswith(tail)),
                       None)
        cases.append(Case(f"corpus:{case_id}", sources, work, refused=refused))
    for name, own in CASES.items():
        folder = root / name
        folder.mkdir()
        for relative, text in own.files.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        cases.append(Case(f"own:{name}", own.sources, folder,
                          (*own.patterns, *own.refused_patterns), own.refused))
    fleet: dict[str, Inventory | ConfigError] = {}
    with pytest.MonkeyPatch.context() as patch:
        for index, case in enumerate(cases):
            patch.chdir(case.cwd)
            fleet[case.id] = inventory = _fleet(case)
            if isinstance(inventory, Inventory):
                extra = [*case.patterns, *generic_patterns(inventory)]
                cases[index] = Case(case.id, case.sources, case.cwd,
                                    tuple(dict.fromkeys(extra)), case.refused)
    answers = run_oracle(cases, root / "ansible-home")
    return {"cases": {c.id: c for c in cases}, "fleet": fleet, "ansible": answers}


def _ansible_hosts(answer: dict[str, Any]) -> int:
    listed = answer["list"]
    return 0 if "error" in listed else len(ansible_hosts(listed))


def check_case(compat: dict[str, Any], case_id: str, skip: tuple[str, ...] = ()) -> None:
    """Assert fleet equals Ansible on one case, or refuses it as the case says."""
    case: Case = compat["cases"][case_id]
    inventory = compat["fleet"][case_id]
    answer = compat["ansible"][case_id]
    if case.refused is not None:
        assert isinstance(inventory, ConfigError), f"fleet loaded {case_id}, expected a refusal"
        assert case.refused in inventory.render()
        assert "\n" not in inventory.render()
        assert _ansible_hosts(answer) == 0, "Ansible finds hosts where fleet refuses"
        return
    assert not isinstance(inventory, ConfigError), f"fleet refused: {inventory}"
    assert _ansible_hosts(answer) > 0, "Ansible found no host; fleet must refuse this"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(case.cwd)
        diffs = host_diffs(inventory, answer)
        for pattern in (p for p in case.patterns if p not in skip):
            diff = pattern_diff(inventory, pattern, answer["patterns"][pattern])
            if diff:
                diffs.append(diff)
    assert not diffs, "\n".join(diffs)
    # fleet inventory --list and --graph print what ansible-inventory prints.
    mine = inventory_list(inventory, frozenset(h.name for h in inventory.hosts))
    del mine["_meta"]["fleet"]
    theirs = {k: v for k, v in answer["list"].items() if k != "_meta"}
    theirs["_meta"] = {"hostvars": answer["list"]["_meta"]["hostvars"]}
    assert mine == theirs
    assert inventory_graph(inventory, "all", [h.name for h in inventory.hosts]) == answer["graph"]


@pytest.mark.parametrize("case_id", CORPUS_IDS or ["(absent)"])
def test_corpus_inventory_matches_ansible(compat: dict[str, Any], case_id: str) -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the Ansible corpus {CORPUS} is absent (it lives in ../shared, next to "
                    "the repository, and is never copied into it)")
    check_case(compat, f"corpus:{case_id}")


@pytest.mark.parametrize("name", list(CASES))
def test_own_inventory_matches_ansible(compat: dict[str, Any], name: str) -> None:
    check_case(compat, f"own:{name}", CASES[name].refused_patterns)


@pytest.mark.parametrize(("name", "pattern"), [(name, pattern) for name, own in CASES.items()
                                               for pattern in own.refused_patterns])
def test_a_term_matching_nothing_is_refused_where_ansible_carries_on(
        compat: dict[str, Any], name: str, pattern: str) -> None:
    inventory = compat["fleet"][f"own:{name}"]
    selected = compat["ansible"][f"own:{name}"]["patterns"][pattern]
    assert isinstance(selected, list)
    assert selected, "Ansible selects hosts for it"
    with pytest.raises(ConfigError, match="matches no host or group") as refused:
        match_pattern(inventory, pattern)
    assert refused.value.file == "--limit"


def test_the_corpus_is_all_compared() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the Ansible corpus {CORPUS} is absent")
    assert len(CORPUS_IDS) >= 55  # every file of SOURCES.txt, and the folders
