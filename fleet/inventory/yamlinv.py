"""Ansible's YAML inventory shape, read as Ansible's ``yaml`` plugin reads it.

A file maps group names to groups; every group that no other group lists as
a child is a child of ``all``. A group has ``hosts`` (host pattern -> vars),
``vars`` and ``children`` (name -> group), nested to any depth; a host may sit
in several groups. A host pattern is a name, a range (``www[01:50].example.com``,
``db-[a:f]``, ``[1:9:2]``) and may end in ``:port`` (``web1:2222``, or
``[2001:db8::1]:2222``), which sets ``ansible_port`` where the host is first
written. A section written as a single name (``hosts: web1``) is that name
with no vars, as in Ansible.

Other keys in a group are refused (``hots:`` is a typo, not a silently empty
group: Ansible warns and skips it), and so is a host name that is not a
string (Ansible refuses it too).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path

from fleet.config.validation import describe
from fleet.config.yamlfile import Loc, YamlDoc, dotted, load_yaml
from fleet.errors import ConfigError
from fleet.inventory.build import At, Builder, var_dict
from fleet.inventory.ini import expand_host_pattern

_SECTIONS = ("hosts", "vars", "children")


class _Reader:
    """One YAML inventory file being added to a builder."""

    def __init__(self, builder: Builder, doc: YamlDoc, path: Path) -> None:
        self.builder = builder
        self.doc = doc
        self.file = str(path)

    def error(self, message: str, loc: Loc) -> ConfigError:
        return ConfigError(message, file=self.file, field=dotted(loc) or None,
                           line=self.doc.nearest_line(loc))

    def at(self, loc: Loc) -> At:
        doc = self.doc
        return At(self.file, lambda key: (dotted((*loc, key)), doc.nearest_line((*loc, key))),
                  lambda key: doc.scalar_text((*loc, key)))

    def mapping(self, value: object, loc: Loc) -> Mapping[object, object]:
        if value is None:
            return {}
        if isinstance(value, str) and loc and loc[-1] in _SECTIONS:
            return {value: None}
        if not isinstance(value, dict):
            raise self.error(f"expected a mapping, got {describe(value)}", loc)
        return value

    def group(self, name: object, data: object, loc: Loc, chain: tuple[str, ...]) -> str:
        """Add group ``name`` with its sections in the order written; return its name."""
        if not isinstance(name, str) or not name:
            raise self.error(f"a group name must be text, got {describe(name)}; quote it", loc)
        if name in chain:
            cycle = " > ".join((*chain, name))
            raise self.error(f"group cycle {cycle}; a group cannot contain itself", loc)
        self.builder.group(name)
        for section, value in self.mapping(data, loc).items():
            here = (*loc, str(section))
            if section not in _SECTIONS:
                close = difflib.get_close_matches(str(section), _SECTIONS, n=1)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise self.error(f"unknown key {section!r}; {hint}allowed keys: children, "
                                 "hosts, vars", here)
            if section == "vars":
                values = self.variables(value, here)
                self.builder.set_group_vars(name, var_dict(values, self.at(here)))
            elif section == "hosts":
                self.hosts(name, value, here)
            else:
                for child, child_data in self.mapping(value, here).items():
                    child_name = self.group(child, child_data, (*here, str(child)),
                                            (*chain, name))
                    self.builder.add_child(name, child_name, self.file)
        return name

    def variables(self, value: object, loc: Loc) -> dict[str, object]:
        values = self.mapping(value, loc)
        for key in values:
            if not isinstance(key, str):
                raise self.error(f"variable names must be text, got {describe(key)}", loc)
        return {str(k): v for k, v in values.items()}

    def hosts(self, group: str, value: object, loc: Loc) -> None:
        for pattern, host_data in self.mapping(value, loc).items():
            here = (*loc, str(pattern))
            if not isinstance(pattern, str):
                raise self.error(f"host pattern {pattern!r} must be text; quote it", here)
            try:
                names, port = expand_host_pattern(pattern)
            except ValueError as exc:
                raise self.error(str(exc), here) from None
            values = var_dict(self.variables(host_data, here), self.at(here))
            at = self.at(loc)
            for name in names:
                self.builder.add_host(group, name, values, port, at)


def add_yaml(builder: Builder, path: Path) -> None:
    """Add the groups and hosts of the YAML inventory file ``path``.

    Raises ``ConfigError`` (file, field, line) for invalid YAML, a file that
    is not a mapping of groups, a section that is not a mapping, an unknown
    key in a group, a host name that is not text, a bad range or port, or a
    group cycle.
    """
    doc = load_yaml(path)
    reader = _Reader(builder, doc, path)
    for name, data in reader.mapping(doc.data, ()).items():
        reader.group(name, data, (str(name),), ())  # Builder.reconcile puts it under all
