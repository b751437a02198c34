"""Inventories in Ansible's YAML and INI shapes, with group_vars/ and host_vars/ folders.

An ``-i`` file named ``*.yml``, ``*.yaml`` or ``*.json`` is YAML; ``*.ini``
or ``*.cfg`` is INI (:mod:`fleet.inventory.ini`); any other name is YAML if it reads as
a YAML mapping and INI otherwise. Both give the same ``Inventory``, and
several files of either kind merge.

A YAML file maps group names to groups; ``all`` is the root and every other
top-level group is its child. A group has ``hosts`` (name -> vars), ``vars``
and ``children`` (name -> group), nested to any depth; a host may sit in
several groups. Other keys in a group are refused (``hots:`` is a typo, not a
silently empty group). Vars are free-form and kept; the connection settings
among them (``ansible_host``, ``ansible_port``, ``ansible_user``, ...) are read as
:mod:`fleet.inventory.settings` describes.

Next to each inventory file, ``group_vars/<group>`` and ``host_vars/<host>``
files are read (:mod:`fleet.inventory.varfiles`). Precedence, as in Ansible, lowest
first: the inventory files' group vars (``all`` < parent group < child group,
groups of the same depth in name order), then the group_vars files in the same
group order, then the host's vars in the inventory files, then its host_vars
files. A later definition of the same group or host, or a later ``-i`` file,
wins over an earlier one. Relative key and known_hosts paths resolve against
the folder of the file that sets them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from fleet.config.validation import config_error_from_validation
from fleet.config.yamlfile import (
    Loc,
    YamlDoc,
    dotted,
    load_yaml,
    looks_like_yaml_mapping,
    read_text,
)
from fleet.errors import ConfigError
from fleet.inventory.ini import IniChild, IniGroup, IniGroupVars, IniHost, IniVar, parse_ini
from fleet.inventory.model import Host, Inventory
from fleet.inventory.settings import (
    BECOME_PASSWORD_KEYS,
    SettingError,
    password_as_written,
    proxy_jump_of,
    read_settings,
)
from fleet.inventory.varfiles import VarsFile, candidate_names, vars_files

_DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")
_YAML_SUFFIXES = (".yml", ".yaml", ".json")
_INI_SUFFIXES = (".ini", ".cfg")
_INI_SECTION = re.compile(r"^\[[^\]\s]+\]\s*(?:#.*)?$")
_T = TypeVar("_T")


class GroupSpec(BaseModel, frozen=True, extra="forbid"):
    """One group as written in a YAML inventory file."""

    hosts: dict[str, dict[str, Any] | None] | None = Field(
        default=None, description="Host name -> that host's vars.")
    vars: dict[str, Any] | None = Field(
        default=None, description="Vars for every host of the group and its children.")
    children: dict[str, GroupSpec | None] | None = Field(
        default=None, description="Child group name -> group.")


_FILE_SCHEMA = dict[str, GroupSpec | None]
_FILE = TypeAdapter(_FILE_SCHEMA)


@dataclass(frozen=True)
class _VarSet:
    """One ``vars`` mapping as written: raw values and the settings read from them."""

    values: Mapping[str, object]
    settings: Mapping[str, object]


def _nothing_written(_key: str) -> str | None:
    return None


@dataclass(frozen=True)
class _At:
    """Where one vars mapping was written, so that an error names file, field and line.

    ``base`` is the resolved folder of ``file`` (relative paths in the vars
    resolve against it; resolved once per file, not once per host);
    ``written`` returns a scalar's text as written, if known.
    """

    file: Path
    base: Path
    locate: Callable[[str], tuple[str | None, int | None]]
    written: Callable[[str], str | None] = _nothing_written

    def error(self, message: str, key: str) -> ConfigError:
        field_name, line = self.locate(key)
        return ConfigError(message, file=str(self.file), field=field_name, line=line)


@dataclass
class _Group:
    """A group being collected from the files (a local builder, never shared)."""

    var_sets: list[_VarSet] = field(default_factory=list)
    file_sets: list[_VarSet] = field(default_factory=list)
    hosts: dict[str, None] = field(default_factory=dict)  # an ordered set: O(1) membership
    parents: list[str] = field(default_factory=list)


@dataclass
class _Builder:
    """Groups and hosts collected so far, in the order first written."""

    groups: dict[str, _Group] = field(default_factory=lambda: {"all": _Group()})
    host_vars: dict[str, list[_VarSet]] = field(default_factory=dict)
    host_files: dict[str, list[_VarSet]] = field(default_factory=dict)

    def group(self, name: str, parent: str | None) -> _Group:
        """Return group ``name``, made a child of ``parent`` (once) if one is given."""
        group = self.groups.setdefault(name, _Group())
        if parent is not None and parent not in group.parents:
            group.parents.append(parent)
            self.groups.setdefault(parent, _Group())
        return group

    def add_host(self, group: str, host: str, var_set: _VarSet | None) -> None:
        """Put ``host`` in ``group`` (which must exist) with its vars, if any."""
        self.groups[group].hosts[host] = None
        sets = self.host_vars.setdefault(host, [])
        if var_set is not None:
            sets.append(var_set)

    def direct_groups(self) -> dict[str, list[str]]:
        """Return, for each host, the groups that list it directly (one pass, not one per host)."""
        member_of: dict[str, list[str]] = {host: [] for host in self.host_vars}
        for name, group in self.groups.items():
            for host in group.hosts:
                member_of[host].append(name)
        return member_of


@dataclass(frozen=True)
class _Where:
    """The YAML file being read, to point errors at the right line."""

    doc: YamlDoc
    path: Path
    base: Path

    def error(self, message: str, loc: Loc) -> ConfigError:
        return ConfigError(message, file=str(self.path), field=dotted(loc),
                           line=self.doc.nearest_line(loc))

    def at(self, loc: Loc) -> _At:
        doc = self.doc
        return _At(self.path, self.base,
                   lambda key: (dotted((*loc, key)), doc.nearest_line((*loc, key))),
                   lambda key: doc.scalar_text((*loc, key)))


def load_inventory(paths: Sequence[Path]) -> Inventory:
    """Load and merge the inventory files ``paths`` (later files win), YAML or INI.

    Example::

        inventory = load_inventory([Path("inventory/example.yml")])
        inventory.host("dev-02").port  # 2222

    Raises ``ConfigError`` for no files, invalid YAML or INI, unknown keys in
    the group structure, bad connection settings (a port that is not a
    number, a connection other than ssh/local, a malformed jump host), a group
    cycle, a malformed group_vars/host_vars file, or no hosts at all.
    """
    if not paths:
        raise ConfigError("no inventory file given; pass -i FILE", file="--inventory")
    builder = _Builder()
    for path in paths:
        text = read_text(path)
        if _is_ini(path, text):
            _add_ini(builder, path, text)
        else:
            _add_yaml(builder, path)
    _reconcile_ungrouped(builder)
    depths = _depths(builder, ", ".join(map(str, paths)))
    _add_var_files(builder, paths)
    member_of = builder.direct_groups()
    hosts = tuple(_make_host(name, member_of[name], builder, depths)
                  for name in builder.host_vars)
    if not hosts:
        raise ConfigError("no hosts; add some under all.hosts or a group's hosts",
                          file=", ".join(map(str, paths)))
    by_group: dict[str, list[str]] = {group: [] for group in builder.groups}
    for host in hosts:
        for group in host.groups:
            by_group[group].append(host.name)
    groups = MappingProxyType({g: tuple(names) for g, names in by_group.items()})
    return Inventory(hosts=hosts, groups=groups, sources=tuple(paths))


def _is_ini(path: Path, text: str) -> bool:
    """True if ``path`` is an INI inventory: by its name, else by its content."""
    suffix = path.suffix.lower()
    if suffix in _YAML_SUFFIXES or suffix in _INI_SUFFIXES:
        return suffix in _INI_SUFFIXES
    for line in text.splitlines():
        line = line.strip()
        if line and line[0] not in "#;":
            if _INI_SECTION.match(line):
                return True
            break
    return not looks_like_yaml_mapping(text)


def _add_yaml(builder: _Builder, path: Path) -> None:
    """Add the groups and hosts of one YAML inventory file."""
    doc = load_yaml(path)
    try:
        top = _FILE.validate_python({} if doc.data is None else doc.data)
    except ValidationError as exc:
        raise config_error_from_validation(exc, str(path), doc, model=_FILE_SCHEMA) from None
    where = _Where(doc, path, path.parent.resolve())
    for name, spec in top.items():
        parent = None if name == "all" else "all"
        _add_group(builder, name, spec, parent, (name,), where)


def _add_group(
    builder: _Builder, name: str, spec: GroupSpec | None, parent: str | None, loc: Loc,
    where: _Where, chain: tuple[str, ...] = (),
) -> None:
    """Record group ``name`` (under ``parent``) with its vars, hosts and children."""
    if name in chain or (name == "all" and parent is not None):
        cycle = " > ".join((*chain, name))
        raise where.error(f"group cycle {cycle}; a group cannot contain itself", loc)
    group = builder.group(name, parent)
    if spec is None:
        return
    if spec.vars:
        group.var_sets.append(_var_set(spec.vars, where.at((*loc, "vars"))))
    raw = where.doc.data
    for part in loc:
        raw = raw.get(part) if isinstance(raw, dict) else None
    for section in raw if isinstance(raw, dict) else ():  # the order as written
        if section == "hosts" and spec.hosts:
            for host, values in spec.hosts.items():
                host_loc = (*loc, "hosts", host)
                var_set = _var_set(values, where.at(host_loc)) if values else None
                builder.add_host(name, host, var_set)
        elif section == "children" and spec.children:
            for child, child_spec in spec.children.items():
                _add_group(builder, child, child_spec, name, (*loc, "children", child), where,
                           (*chain, name))


def _add_ini(builder: _Builder, path: Path, text: str) -> None:
    """Add the groups and hosts of one INI inventory file."""
    base = path.parent.resolve()
    for entry in parse_ini(text, str(path)):
        if isinstance(entry, IniGroup):
            builder.group(entry.name, None if entry.name == "all" else "all")
        elif isinstance(entry, IniHost):
            builder.group(entry.group, None if entry.group == "all" else "all")
            var_set = _ini_var_set(entry.vars, path, base) if entry.vars else None
            builder.add_host(entry.group, entry.name, var_set)
        elif isinstance(entry, IniChild):
            if entry.child in ("all", entry.parent):
                raise ConfigError(f"group cycle: [{entry.parent}:children] names {entry.child!r};"
                                  " a group cannot contain itself", file=str(path),
                                  line=entry.line)
            builder.group(entry.parent, None if entry.parent == "all" else "all")
            builder.group(entry.child, entry.parent)
        elif isinstance(entry, IniGroupVars) and entry.vars:
            builder.group(entry.group, None if entry.group == "all" else "all")
            builder.groups[entry.group].var_sets.append(_ini_var_set(entry.vars, path, base))


def _ini_var_set(variables: Sequence[IniVar], path: Path, base: Path) -> _VarSet:
    """Return the var set of INI ``key=value`` pairs (a later key wins)."""
    lines = {v.key: v.line for v in variables}
    texts = {v.key: v.text for v in variables}
    return _var_set({v.key: v.value for v in variables},
                    _At(path, base, lambda key: (key, lines.get(key)),
                        lambda key: texts.get(key)))


def _reconcile_ungrouped(builder: _Builder) -> None:
    """Take out of ``ungrouped`` the hosts that are also in another group (as Ansible does)."""
    ungrouped = builder.groups.get("ungrouped")
    if ungrouped is None:
        return
    elsewhere = {h for name, g in builder.groups.items() if name != "ungrouped" for h in g.hosts}
    ungrouped.hosts = {h: None for h in ungrouped.hosts if h not in elsewhere}


def _add_var_files(builder: _Builder, paths: Sequence[Path]) -> None:
    """Read ``group_vars/`` and ``host_vars/`` next to each inventory file, in -i order."""
    folders = list(dict.fromkeys(p.parent.resolve() for p in paths))
    for folder in folders:
        groups = candidate_names(folder / "group_vars")
        for name, group in builder.groups.items():
            group.file_sets.extend(map(_file_var_set,
                                       vars_files(folder, "group_vars", name, groups)))
        hosts = candidate_names(folder / "host_vars")
        for host in builder.host_vars:
            builder.host_files.setdefault(host, []).extend(
                map(_file_var_set, vars_files(folder, "host_vars", host, hosts)))


def _file_var_set(file: VarsFile) -> _VarSet:
    doc = file.doc
    return _var_set(file.values, _At(file.path, file.path.parent.resolve(),
                                     lambda key: (dotted((key,)), doc.nearest_line((key,))),
                                     lambda key: doc.scalar_text((key,))))


def _var_set(values: Mapping[str, Any], at: _At) -> _VarSet:
    """Read the connection settings from one vars mapping.

    A become password written as a number or another non-text scalar is kept
    as the text written (``123456``, ``0123``), never dropped.
    Raises ``ConfigError`` at the key for two aliases of one setting, a bad
    value, or a become password that is a list or a mapping.
    """
    kept = dict(values)
    try:
        settings = read_settings(values, at.base)
        for key in BECOME_PASSWORD_KEYS:
            if key in kept:
                kept[key] = password_as_written(key, kept[key], at.written(key))
    except SettingError as exc:
        raise at.error(str(exc), exc.key) from None
    return _VarSet(values=kept, settings=settings)


def _depths(builder: _Builder, sources: str) -> dict[str, int]:
    """Return each group's depth: 0 for ``all``, else 1 + the deepest parent.

    Walks the parents with a stack of its own, so a chain of thousands of
    groups is no ``RecursionError``. Raises ``ConfigError`` if groups contain
    each other (across definitions).
    """
    depths: dict[str, int] = {}
    for start in builder.groups:
        chain: list[str] = []  # the groups being resolved, child first
        stack: list[tuple[str, bool]] = [(start, False)]
        while stack:
            name, resolved = stack.pop()
            parents = builder.groups[name].parents
            if resolved:
                depths[name] = 1 + max(depths[p] for p in parents) if parents else 0
                chain.pop()
            elif name in chain:
                cycle = " -> ".join((*chain, name))
                raise ConfigError(f"groups contain each other ({cycle}, child -> parent); "
                                  "remove one of the children entries", file=sources,
                                  field="children")
            elif name not in depths:
                chain.append(name)
                stack.append((name, True))
                stack.extend((p, False) for p in parents if p not in depths)
    return depths


def _make_host(name: str, direct: Sequence[str], builder: _Builder,
               depths: Mapping[str, int]) -> Host:
    """Return host ``name`` with its groups (``all`` first, by depth) and merged vars.

    ``direct`` are the groups that list the host themselves (their parents are added).
    """
    found: set[str] = {"all"}
    todo = list(direct)
    while todo:
        group = todo.pop()
        if group not in found:
            found.add(group)
            todo.extend(builder.groups[group].parents)
    groups = tuple(sorted(found, key=lambda g: (depths[g], g)))
    var_sets = [s for g in groups for s in builder.groups[g].var_sets]
    var_sets += [s for g in groups for s in builder.groups[g].file_sets]
    var_sets += builder.host_vars[name] + builder.host_files.get(name, [])
    values: dict[str, object] = {}
    settings: dict[str, object] = {}
    for var_set in var_sets:
        values.update(var_set.values)
        settings.update(var_set.settings)
    return Host(
        name=name,
        address=_typed(settings, "address", str) or name,
        port=_typed(settings, "port", int),
        user=_typed(settings, "user", str),
        identity_file=_typed(settings, "identity_file", Path),
        connection="local" if settings.get("connection") == "local" else "ssh",
        known_hosts_file=(_typed(settings, "known_hosts_file", Path) or _DEFAULT_KNOWN_HOSTS)
        .expanduser(),
        groups=groups,
        vars=MappingProxyType(values),
        proxy_jump=proxy_jump_of(settings),
        become=settings.get("become") is True,
        become_user=_typed(settings, "become_user", str),
    )


def _typed(settings: Mapping[str, object], key: str, kind: type[_T]) -> _T | None:
    """Return ``settings[key]`` if it is a ``kind`` (parsed by ``_setting``), else None."""
    value = settings.get(key)
    return value if isinstance(value, kind) else None


__all__ = ["GroupSpec", "load_inventory"]
