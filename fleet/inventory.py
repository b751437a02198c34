"""Inventories in Ansible's YAML shape (``--limit`` patterns: :mod:`fleet.limit`).

A file maps group names to groups; ``all`` is the root and every other
top-level group is its child. A group has ``hosts`` (name -> vars), ``vars``
and ``children`` (name -> group), nested to any depth; a host may sit in
several groups. Other keys in a group are refused (``hots:`` is a typo, not a
silently empty group). Vars are free-form and kept; the connection settings
among them are read under these names (aliases in brackets):

=========================  =====================================  ===================
setting                    keys                                   default
=========================  =====================================  ===================
address                    ansible_host [host, ansible_ssh_host]  the host's name
port                       ansible_port [port, ansible_ssh_port]  22
user                       ansible_user [user, ansible_ssh_user]  None (ssh decides)
identity_file              ansible_ssh_private_key_file           None
                           [identity_file, ansible_private_key_file]
connection                 ansible_connection [connection]        ssh (or local)
known_hosts_file           known_hosts_file                       ~/.ssh/known_hosts
=========================  =====================================  ===================

Precedence, as in Ansible: ``all`` < parent group < child group (groups of the
same depth in name order) < host vars; a later definition of the same group
or host, or a later ``-i`` file, wins over an earlier one. Relative key and
known_hosts paths resolve against the folder of the file that sets them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from fleet.errors import ConfigError
from fleet.limit import select_hosts
from fleet.yamlfile import Loc, YamlDoc, config_error_from_validation, dotted, load_yaml

_SETTINGS = {
    "ansible_host": "address", "host": "address", "ansible_ssh_host": "address",
    "ansible_port": "port", "port": "port", "ansible_ssh_port": "port",
    "ansible_user": "user", "user": "user", "ansible_ssh_user": "user",
    "ansible_ssh_private_key_file": "identity_file", "identity_file": "identity_file",
    "ansible_private_key_file": "identity_file",
    "ansible_connection": "connection", "connection": "connection",
    "known_hosts_file": "known_hosts_file",
}
_DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")
_T = TypeVar("_T")


class GroupSpec(BaseModel, frozen=True, extra="forbid"):
    """One group as written in an inventory file."""

    hosts: dict[str, dict[str, Any] | None] | None = Field(
        default=None, description="Host name -> that host's vars.")
    vars: dict[str, Any] | None = Field(
        default=None, description="Vars for every host of the group and its children.")
    children: dict[str, GroupSpec | None] | None = Field(
        default=None, description="Child group name -> group.")


_FILE_SCHEMA = dict[str, GroupSpec | None]
_FILE = TypeAdapter(_FILE_SCHEMA)


@dataclass(frozen=True)
class Host:
    """One machine, with its connection settings resolved from the merged vars."""

    name: str
    address: str
    port: int
    user: str | None
    identity_file: Path | None
    connection: Literal["ssh", "local"]
    known_hosts_file: Path
    groups: tuple[str, ...]
    vars: Mapping[str, object]


@dataclass(frozen=True)
class Inventory:
    """Every host in inventory order, and each group's hosts in that order."""

    hosts: tuple[Host, ...]
    groups: Mapping[str, tuple[str, ...]]
    sources: tuple[Path, ...]

    def host(self, name: str) -> Host:
        """Return the host called ``name``; raises ``KeyError`` if there is none."""
        for host in self.hosts:
            if host.name == name:
                return host
        raise KeyError(name)


@dataclass(frozen=True)
class _VarSet:
    """One ``vars`` mapping as written: raw values and the settings read from them."""

    values: Mapping[str, object]
    settings: Mapping[str, object]


@dataclass
class _Group:
    """A group being collected from the files (a local builder, never shared)."""

    var_sets: list[_VarSet] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)


@dataclass
class _Builder:
    """Groups and hosts collected so far, in the order first written."""

    groups: dict[str, _Group] = field(default_factory=lambda: {"all": _Group()})
    host_vars: dict[str, list[_VarSet]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Where:
    """The file being read, to point errors at the right line."""

    doc: YamlDoc
    base: Path

    def error(self, message: str, loc: Loc) -> ConfigError:
        return ConfigError(message, file=str(self.doc.path), field=dotted(loc),
                           line=self.doc.nearest_line(loc))


def load_inventory(paths: Sequence[Path]) -> Inventory:
    """Load and merge the inventory files ``paths`` (later files win).

    Example::

        inventory = load_inventory([Path("inventory/example.yml")])
        inventory.host("dev-02").port  # 2222

    Raises ``ConfigError`` for no files, invalid YAML, unknown keys in the
    group structure, bad connection settings (a port that is not a number, a
    connection other than ssh/local), a group cycle, or no hosts at all.
    """
    if not paths:
        raise ConfigError("no inventory file given; pass -i FILE", file="--inventory")
    builder = _Builder()
    for path in paths:
        doc = load_yaml(path)
        try:
            top = _FILE.validate_python({} if doc.data is None else doc.data)
        except ValidationError as exc:
            raise config_error_from_validation(exc, str(path), doc, model=_FILE_SCHEMA) from None
        where = _Where(doc, path.parent.resolve())
        for name, spec in top.items():
            parent = None if name == "all" else "all"
            _add_group(builder, name, spec, parent, (name,), where)
    depths = _depths(builder, ", ".join(map(str, paths)))
    hosts = tuple(_make_host(name, builder, depths) for name in builder.host_vars)
    if not hosts:
        raise ConfigError("no hosts; add some under all.hosts or a group's hosts",
                          file=", ".join(map(str, paths)))
    by_group: dict[str, list[str]] = {group: [] for group in builder.groups}
    for host in hosts:
        for group in host.groups:
            by_group[group].append(host.name)
    groups = MappingProxyType({g: tuple(names) for g, names in by_group.items()})
    return Inventory(hosts=hosts, groups=groups, sources=tuple(paths))


def _add_group(
    builder: _Builder, name: str, spec: GroupSpec | None, parent: str | None, loc: Loc,
    where: _Where, chain: tuple[str, ...] = (),
) -> None:
    """Record group ``name`` (under ``parent``) with its vars, hosts and children."""
    if name in chain or (name == "all" and parent is not None):
        cycle = " > ".join((*chain, name))
        raise where.error(f"group cycle {cycle}; a group cannot contain itself", loc)
    group = builder.groups.setdefault(name, _Group())
    if parent is not None and parent not in group.parents:
        group.parents.append(parent)
        builder.groups[parent].children.append(name)
    if spec is None:
        return
    if spec.vars:
        group.var_sets.append(_var_set(spec.vars, (*loc, "vars"), where))
    raw = where.doc.data
    for part in loc:
        raw = raw.get(part) if isinstance(raw, dict) else None
    for section in raw if isinstance(raw, dict) else ():  # the order as written
        if section == "hosts" and spec.hosts:
            for host, values in spec.hosts.items():
                host_loc = (*loc, "hosts", host)
                if host not in group.hosts:
                    group.hosts.append(host)
                sets = builder.host_vars.setdefault(host, [])
                if values:
                    sets.append(_var_set(values, host_loc, where))
        elif section == "children" and spec.children:
            for child, child_spec in spec.children.items():
                _add_group(builder, child, child_spec, name, (*loc, "children", child), where,
                           (*chain, name))


def _var_set(values: Mapping[str, Any], loc: Loc, where: _Where) -> _VarSet:
    """Read the connection settings from one vars mapping.

    Raises ``ConfigError`` for two aliases of one setting or a bad value.
    """
    settings: dict[str, object] = {}
    first_key: dict[str, str] = {}
    for key, value in values.items():
        setting = _SETTINGS.get(key)
        if setting is None:
            continue
        if setting in first_key:
            raise where.error(f"{first_key[setting]!r} and {key!r} both set {setting}; keep one",
                              (*loc, key))
        first_key[setting] = key
        try:
            settings[setting] = _setting(setting, value, where.base)
        except ValueError as exc:
            raise where.error(str(exc), (*loc, key)) from None
    return _VarSet(values=dict(values), settings=settings)


def _setting(setting: str, value: object, base: Path) -> object:
    """Return the typed value of one connection setting; raise ValueError if bad."""
    got = f"got {value!r}"
    if isinstance(value, str) and "{{" in value:
        raise ValueError(f"templates are not supported in connection settings; {got}")
    if setting == "port":
        if isinstance(value, str) and value.strip().isdecimal():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
            raise ValueError(f"expected a port number 1..65535, {got}")
        return value
    if setting == "connection":
        if value not in ("ssh", "local"):
            raise ValueError(f"expected ssh or local, {got}")
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, {got}")
    if setting in ("identity_file", "known_hosts_file"):
        # An absolute (or ~) path stays as it is; normpath folds "inventory/../x".
        return Path(os.path.normpath(base / Path(value).expanduser()))
    return value


def _depths(builder: _Builder, sources: str) -> dict[str, int]:
    """Return each group's depth: 0 for ``all``, else 1 + the deepest parent.

    Raises ``ConfigError`` if groups contain each other (across definitions).
    """
    depths: dict[str, int] = {}

    def depth(name: str, chain: tuple[str, ...]) -> int:
        if name in chain:
            cycle = " -> ".join((*chain, name))
            raise ConfigError(f"groups contain each other ({cycle}, child -> parent); "
                              "remove one of the children entries", file=sources,
                              field="children")
        if name not in depths:
            parents = builder.groups[name].parents
            depths[name] = 1 + max(depth(p, (*chain, name)) for p in parents) if parents else 0
        return depths[name]

    for name in builder.groups:
        depth(name, ())
    return depths


def _get(settings: Mapping[str, object], key: str, kind: type[_T], default: _T) -> _T:
    """Return ``settings[key]`` if it is a ``kind`` (parsed by ``_setting``), else default."""
    value = settings.get(key, default)
    return value if isinstance(value, kind) else default


def _make_host(name: str, builder: _Builder, depths: Mapping[str, int]) -> Host:
    """Return host ``name`` with its groups (``all`` first, by depth) and merged vars."""
    found: set[str] = {"all"}
    todo = [g for g, group in builder.groups.items() if name in group.hosts]
    while todo:
        group = todo.pop()
        if group not in found:
            found.add(group)
            todo.extend(builder.groups[group].parents)
    groups = tuple(sorted(found, key=lambda g: (depths[g], g)))
    var_sets = [s for g in groups for s in builder.groups[g].var_sets]
    var_sets += builder.host_vars[name]
    values: dict[str, object] = {}
    settings: dict[str, object] = {}
    for var_set in var_sets:
        values.update(var_set.values)
        settings.update(var_set.settings)
    user, identity = settings.get("user"), settings.get("identity_file")
    return Host(
        name=name,
        address=_get(settings, "address", str, name),
        port=_get(settings, "port", int, 22),
        user=user if isinstance(user, str) else None,
        identity_file=identity if isinstance(identity, Path) else None,
        connection="local" if settings.get("connection") == "local" else "ssh",
        known_hosts_file=_get(settings, "known_hosts_file", Path, _DEFAULT_KNOWN_HOSTS)
        .expanduser(),
        groups=groups,
        vars=MappingProxyType(values),
    )


__all__ = ["GroupSpec", "Host", "Inventory", "load_inventory", "select_hosts"]
