"""Groups, hosts and vars collected from the inventory files, merged as Ansible merges them.

The readers (:mod:`fleet.inventory.yamlinv`, the INI and host-list readers in
:mod:`fleet.inventory.load`) add groups, hosts and vars to a :class:`Builder`
in the order written; :meth:`Builder.inventory` then resolves every host.

Precedence, lowest first, as ``ansible-inventory`` gives it: the inventory
files' group vars (``all``, then the host's other groups sorted by depth,
``ansible_group_priority`` and name), then the ``group_vars/`` files in the
same group order, then the host's vars in the inventory files, then its
``host_vars/`` files. A group's or a host's vars written twice (in two
sections or two ``-i`` files) are one mapping: a later key replaces an
earlier one. ``ansible_group_priority`` sets the group's priority and is no
var. A ``host:port`` sets ``ansible_port`` only where the host is first
written (Ansible keeps the first port).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from fleet.errors import ConfigError
from fleet.inventory.model import Group, Host, Inventory
from fleet.inventory.settings import (
    BECOME_PASSWORD_KEYS,
    SETTING_KEYS,
    SettingError,
    Settings,
    password_as_written,
    read_settings,
)

_DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")
PRIORITY_KEY = "ansible_group_priority"


def _nothing_written(_key: str) -> str | None:
    return None


@dataclass(frozen=True)
class At:
    """Where one vars mapping was written, so that an error names file, field and line.

    ``locate`` returns the field and line of a key; ``written`` a scalar's
    text as written, if known. Both are called only for an error or a password.
    """

    file: str
    locate: Callable[[str], tuple[str | None, int | None]]
    written: Callable[[str], str | None] = _nothing_written

    def error(self, message: str, key: str) -> ConfigError:
        field_name, line = self.locate(key)
        return ConfigError(message, file=self.file, field=field_name, line=line)


@dataclass(frozen=True)
class Val:
    """One var's value and where it was written."""

    value: object
    at: At


VarDict = dict[str, Val]


def var_dict(values: Mapping[str, object], at: At) -> VarDict:
    """Return ``values`` with their origin; a become password is kept as the text written.

    Raises ``ConfigError`` at the key for a become password that is a list or a mapping.
    """
    out: VarDict = {}
    for key, value in values.items():
        if key in BECOME_PASSWORD_KEYS:
            try:
                value = password_as_written(key, value, at.written(key))
            except SettingError as exc:
                raise at.error(str(exc), key) from None
        out[key] = Val(value, at)
    return out


@dataclass
class _Group:
    """A group being collected (a local builder, never shared)."""

    vars: VarDict = field(default_factory=dict)
    file_vars: list[VarDict] = field(default_factory=list)
    hosts: dict[str, None] = field(default_factory=dict)  # an ordered set
    parents: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    priority: int = 1


@dataclass
class Builder:
    """Groups and hosts collected so far, in the order first written."""

    groups: dict[str, _Group] = field(
        default_factory=lambda: {"all": _Group(), "ungrouped": _Group(parents=["all"])})
    host_vars: dict[str, VarDict] = field(default_factory=dict)
    host_files: dict[str, list[VarDict]] = field(default_factory=dict)
    host_dirs: dict[str, Path | None] = field(default_factory=dict)
    current_dir: Path | None = None  # the folder of the file being read: inventory_dir

    def __post_init__(self) -> None:
        self.groups["all"].children.append("ungrouped")

    def group(self, name: str) -> _Group:
        """Return group ``name``, made if new."""
        return self.groups.setdefault(name, _Group())

    def add_child(self, parent: str, child: str, file: str | None = None,
                  line: int | None = None) -> None:
        """Make ``child`` a child of ``parent`` (both made if new), once.

        Raises ``ConfigError`` (at ``file`` and ``line``) if that would make a cycle.
        """
        if child in (parent, "all") or child in self.ancestors(parent):
            raise ConfigError(f"group cycle: {child!r} cannot be a child of {parent!r}, which "
                              f"is inside it; a group cannot contain itself: remove one of the "
                              f"children entries", file=file, line=line,
                              field=f"{parent}.children")
        group = self.group(child)
        self.group(parent)
        if parent not in group.parents:
            group.parents.append(parent)
            self.groups[parent].children.append(child)

    def ancestors(self, name: str) -> set[str]:
        """Return every group above ``name`` (iteratively: no recursion limit)."""
        found: set[str] = set()
        todo = list(self.groups[name].parents) if name in self.groups else []
        while todo:
            parent = todo.pop()
            if parent not in found:
                found.add(parent)
                todo.extend(self.groups[parent].parents)
        return found

    def set_group_vars(self, name: str, values: VarDict) -> None:
        """Set vars of group ``name``; ``ansible_group_priority`` sets its priority.

        Raises ``ConfigError`` for a priority that is not a whole number.
        """
        group = self.group(name)
        for key, val in values.items():
            if key == PRIORITY_KEY:
                try:
                    group.priority = int(val.value)  # type: ignore[call-overload]
                except (TypeError, ValueError):
                    raise val.at.error(f"expected a whole number, got {val.value!r}",
                                       key) from None
            else:
                group.vars[key] = val

    def add_host(self, group: str, host: str, values: VarDict, port: int | None = None,
                 port_at: At | None = None) -> None:
        """Put ``host`` in ``group`` (made if new) with its vars; ``port`` only if it is new."""
        self.group(group).hosts[host] = None
        if host not in self.host_vars:
            self.host_vars[host] = {}
            self.host_dirs[host] = self.current_dir
            if port is not None and port_at is not None:
                self.host_vars[host]["ansible_port"] = Val(port, port_at)
        self.host_vars[host].update(values)

    def reconcile(self) -> None:
        """Apply Ansible's rules: every group under ``all``; ``ungrouped`` holds the hosts
        that no group other than ``all`` lists, and only those."""
        for name, group in self.groups.items():
            if name != "all" and not group.parents:
                group.parents.append("all")
                self.groups["all"].children.append(name)
        elsewhere = {h for name, g in self.groups.items() if name not in ("all", "ungrouped")
                     for h in g.hosts}
        ungrouped = self.groups["ungrouped"]
        kept = [h for h in ungrouped.hosts if h not in elsewhere]  # as written, first
        ungrouped.hosts = dict.fromkeys([*kept, *(h for h in self.host_vars if h not in elsewhere)])

    def depths(self) -> dict[str, int]:
        """Return each group's depth: 0 for ``all``, else 1 + the deepest parent."""
        depths: dict[str, int] = {}
        for start in self.groups:
            stack: list[tuple[str, bool]] = [(start, False)]
            while stack:
                name, resolved = stack.pop()
                parents = self.groups[name].parents
                if resolved:
                    depths[name] = 1 + max(depths[p] for p in parents) if parents else 0
                elif name not in depths:
                    stack.append((name, True))
                    stack.extend((p, False) for p in parents if p not in depths)
        return depths

    def inventory(self, sources: Sequence[Path]) -> Inventory:
        """Resolve every host; ``reconcile`` and the vars files must come first.

        Raises ``ConfigError`` if there are no hosts at all.
        """
        depths = self.depths()
        order = {name: (depths[name], g.priority, name) for name, g in self.groups.items()}
        member_of: dict[str, list[str]] = {host: [] for host in self.host_vars}
        for name, group in self.groups.items():
            for host in group.hosts:
                member_of[host].append(name)
        above = {name: self.ancestors(name) for name in self.groups}
        memo = _Memo(order, above)
        hosts = tuple(self._host(name, member_of[name], memo) for name in self.host_vars)
        if not hosts:
            raise ConfigError("no hosts; add some under all.hosts or a group's hosts",
                              file=", ".join(map(str, sources)))
        by_group: dict[str, list[str]] = {group: [] for group in self.groups}
        for resolved in hosts:
            for group_name in resolved.groups:
                by_group[group_name].append(resolved.name)
        tree = {name: Group(name, tuple(g.hosts), tuple(g.children),
                            MappingProxyType({k: v.value for k, v in g.vars.items()}),
                            depths[name], g.priority)
                for name, g in self.groups.items()}
        return Inventory(hosts=hosts,
                         groups=MappingProxyType({g: tuple(n) for g, n in by_group.items()}),
                         sources=tuple(sources), tree=MappingProxyType(tree))

    def _host(self, name: str, direct: list[str], memo: _Memo) -> Host:
        groups = memo.groups(direct)
        merged: VarDict = {}
        for group in groups:
            merged.update(self.groups[group].vars)
        for group in groups:
            for values in self.groups[group].file_vars:
                merged.update(values)
        merged.update(self.host_vars[name])
        for values in self.host_files.get(name, ()):
            merged.update(values)
        plain = {key: val.value for key, val in merged.items()}
        refusal = None
        settings = memo.settings(plain, self.host_dirs.get(name))
        if isinstance(settings, SettingError):
            refusal = merged[settings.key].at.error(f"host {name}: {settings}", settings.key)
            settings = Settings()
        return Host(
            name=name,
            address=settings.address or name,
            port=settings.port,
            user=settings.user,
            identity_file=settings.identity_file,
            connection=settings.connection,
            known_hosts_file=settings.known_hosts_file or memo.default_known_hosts,
            groups=groups,
            vars=MappingProxyType(plain),
            proxy_jump=settings.proxy_jump,
            become=settings.become,
            become_user=settings.become_user,
            refusal=refusal,
        )


class _Memo:
    """What many hosts share, worked out once: group orders, settings of equal vars.

    100,000 hosts of a few groups and the same connection vars cost a few
    sorts and a few settings reads, not one each.
    """

    def __init__(self, order: Mapping[str, tuple[int, int, str]],
                 above: Mapping[str, set[str]]) -> None:
        self._order = order
        self._above = above
        self._groups: dict[tuple[str, ...], tuple[str, ...]] = {}
        self._settings: dict[object, Settings | SettingError] = {}
        self.default_known_hosts = _DEFAULT_KNOWN_HOSTS.expanduser()

    def groups(self, direct: list[str]) -> tuple[str, ...]:
        """Return every group of a host listed in ``direct``, sorted as Ansible merges them."""
        key = tuple(direct)
        found = self._groups.get(key)
        if found is None:
            every = {"all"} | set(direct)
            for group in direct:
                every |= self._above[group]
            found = self._groups[key] = tuple(sorted(every, key=self._order.__getitem__))
        return found

    def settings(self, values: Mapping[str, object],
                 inventory_dir: Path | None) -> Settings | SettingError:
        """Return :func:`read_settings` of ``values``, or the error it raised."""
        key = (inventory_dir, tuple((k, type(values[k]), values[k]) for k in SETTING_KEYS
                                   if k in values))  # typed: True is not 1
        try:
            found = self._settings.get(key)
        except TypeError:  # an unhashable value (a list): read it without the memo
            return _read(values, inventory_dir)
        if found is None:
            found = self._settings[key] = _read(values, inventory_dir)
        return found


def _read(values: Mapping[str, object], inventory_dir: Path | None) -> Settings | SettingError:
    try:
        return read_settings(values, inventory_dir)
    except SettingError as exc:
        return exc
