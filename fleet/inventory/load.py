"""Inventories as Ansible reads them: YAML and INI files, folders of them, host lists.

Each ``-i`` argument is a file, a folder of inventory files or a host list
(:mod:`fleet.inventory.sources`); YAML files are read by
:mod:`fleet.inventory.yamlinv`, INI files by :mod:`fleet.inventory.ini`. All of
them add to one set of groups and hosts, later files adding to (and, for a
var set twice, replacing) earlier ones; ``group_vars/`` and ``host_vars/``
next to each source are read (:mod:`fleet.inventory.varfiles`), and every
host is resolved with Ansible's precedence (:mod:`fleet.inventory.build`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path

from fleet.config.yamlfile import dotted
from fleet.errors import ConfigError
from fleet.inventory.build import At, Builder, VarDict, var_dict
from fleet.inventory.ini import (
    IniChild,
    IniGroup,
    IniGroupVars,
    IniHost,
    IniVar,
    expand_host_pattern,
    parse_ini,
)
from fleet.inventory.model import Inventory
from fleet.inventory.sources import Source, expand_sources, vars_folders
from fleet.inventory.varfiles import VarsFile, candidate_names, vars_files
from fleet.inventory.yamlinv import add_yaml


def load_inventory(paths: Sequence[Path]) -> Inventory:
    """Load and merge the inventories ``paths`` (files, folders, host lists), in order.

    Example::

        inventory = load_inventory([Path("inventory/example.yml")])
        inventory.host("dev-02").port  # 2222

    A host whose connection settings fleet cannot use still loads, with
    ``Host.refusal`` set (see :func:`fleet.inventory.limit.select_hosts`).

    Raises ``ConfigError`` for no inventory given, a missing file, invalid
    YAML or INI, unknown keys in the group structure, a group cycle, a
    malformed group_vars/host_vars file, or no hosts at all.
    """
    if not paths:
        raise ConfigError("no inventory file given; pass -i FILE", file="--inventory")
    builder = Builder()
    for source in expand_sources(list(paths)):
        builder.current_dir = None if source.path is None else source.path.absolute().parent
        if source.kind == "hosts":
            _add_host_list(builder, source)
        elif source.kind == "ini" and source.path is not None:
            _add_ini(builder, source)
        elif source.path is not None:
            add_yaml(builder, source.path)
    builder.reconcile()
    _add_var_files(builder, vars_folders(list(paths)))
    return builder.inventory(paths)


def _add_host_list(builder: Builder, source: Source) -> None:
    """Add the hosts of ``web1,web2:2222,`` to ``ungrouped``, as Ansible's host_list does."""
    at = At(source.name, lambda key: (key, None))
    for word in source.text.split(","):
        word = word.strip()
        if not word:
            continue
        try:
            names, port = expand_host_pattern(word)
        except ValueError:
            names, port = [word], None
        if len(names) != 1 or ("[" in word and not word.startswith("[")):
            names, port = [word], None  # a host list has no ranges: the word is the name
        builder.add_host("ungrouped", names[0], {}, port, at)


def _add_ini(builder: Builder, source: Source) -> None:
    """Add the groups and hosts of one INI inventory file."""
    file = source.name
    for entry in parse_ini(source.text, file, frozenset(builder.groups)):
        if isinstance(entry, IniGroup):
            builder.group(entry.name)
        elif isinstance(entry, IniHost):
            values = _ini_vars(entry.vars, file)
            builder.add_host(entry.group, entry.name, values, entry.port,
                             At(file, partial(_at_line, line=entry.line)))
        elif isinstance(entry, IniChild):
            builder.add_child(entry.parent, entry.child, file, entry.line)
        elif isinstance(entry, IniGroupVars):
            builder.set_group_vars(entry.group, _ini_vars(entry.vars, file))


def _at_line(key: str, line: int) -> tuple[str | None, int | None]:
    return key, line


def _ini_vars(variables: Sequence[IniVar], file: str) -> VarDict:
    """Return INI ``key=value`` pairs with their lines (a later key wins)."""
    lines = {v.key: v.line for v in variables}
    texts = {v.key: v.text for v in variables}
    return var_dict({v.key: v.value for v in variables},
                    At(file, lambda key: (key, lines.get(key)), texts.get))


def _add_var_files(builder: Builder, folders: Sequence[Path]) -> None:
    """Read ``group_vars/`` and ``host_vars/`` in each source's folder, in -i order."""
    for folder in folders:
        groups = candidate_names(folder / "group_vars")
        for name, group in builder.groups.items():
            group.file_vars.extend(map(_file_vars, vars_files(folder, "group_vars", name, groups)))
        hosts = candidate_names(folder / "host_vars")
        for host in builder.host_vars:
            builder.host_files.setdefault(host, []).extend(
                map(_file_vars, vars_files(folder, "host_vars", host, hosts)))


def _file_vars(file: VarsFile) -> VarDict:
    doc = file.doc
    return var_dict(file.values, At(str(file.path),
                                    lambda key: (dotted((key,)), doc.nearest_line((key,))),
                                    lambda key: doc.scalar_text((key,))))


__all__ = ["load_inventory"]
