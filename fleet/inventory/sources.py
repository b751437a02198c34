"""What each ``-i`` argument stands for: a file, a folder of files, or a host list.

As Ansible reads its ``-i`` sources:

* ``web1,web2,`` (a comma, and no such path): a list of hosts, each
  ``name`` or ``name:port``, all in ``ungrouped``.
* a folder: every inventory file in it, in name order, recursing into
  sub-folders; names starting with ``.``, the ``group_vars``/``host_vars``
  folders and files ending in ``~``, ``.orig``, ``.bak``, ``.cfg``, ``.retry``,
  ``.pyc``, ``.pyo``, ``.swp``, ``.rpm``, ``.md``, ``.txt``, ``.rst`` are skipped.
* a file: YAML (``*.yml``, ``*.yaml``, ``*.json``), INI (``*.ini``, ``*.cfg``),
  or, for any other name, YAML if it reads as a YAML mapping and INI otherwise.

The ``group_vars/`` and ``host_vars/`` folders read for a source are those in
the folder given (for ``-i folder/``) or in the file's folder; a host list
has none.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fleet.config.yamlfile import looks_like_yaml_mapping, read_text
from fleet.errors import ConfigError

_YAML_SUFFIXES = (".yml", ".yaml", ".json")
_INI_SUFFIXES = (".ini", ".cfg")
_INI_SECTION = re.compile(r"^\[[^\]\s]+\]\s*(?:#.*)?$")
_IGNORED_NAMES = re.compile(r"^\.|^host_vars$|^group_vars$|^vars_plugins$")
_IGNORED_ENDINGS = (".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst",
                    ".orig", ".cfg", ".retry")


@dataclass(frozen=True)
class Source:
    """One inventory to read: a YAML or INI file, or the hosts of a host list."""

    kind: Literal["yaml", "ini", "hosts"]
    path: Path | None
    text: str
    name: str


def expand_sources(args: tuple[Path, ...] | list[Path]) -> tuple[Source, ...]:
    """Return the inventories the ``-i`` arguments stand for, in reading order.

    Raises ``ConfigError`` for an argument that is neither a host list nor an
    existing file or folder, an unreadable file, an executable file (a dynamic
    inventory script, which fleet does not run) or a folder with no inventory.
    """
    found: list[Source] = []
    for arg in args:
        text = str(arg)
        if "," in text and not os.path.exists(text):
            found.append(Source("hosts", None, text, text))
        elif arg.is_dir():
            files = _folder_files(arg)
            if not files:
                raise ConfigError("the folder holds no inventory file; add one (hosts.yml, "
                                  "hosts.ini) or pass a file", file=text)
            found.extend(_file_source(p) for p in files)
        elif arg.exists():
            found.append(_file_source(arg))
        else:
            raise ConfigError("no such inventory file or folder; check the path (a host list "
                              "needs a comma: -i web1, )", file=text)
    return tuple(found)


def vars_folders(args: tuple[Path, ...] | list[Path]) -> tuple[Path, ...]:
    """Return the folders whose ``group_vars/`` and ``host_vars/`` apply, in ``-i`` order."""
    folders: list[Path] = []
    for arg in args:
        text = str(arg)
        if "," in text and not os.path.exists(text):
            continue
        folders.append(arg if arg.is_dir() else arg.parent)
    return tuple(dict.fromkeys(f.resolve() for f in folders))


def _folder_files(folder: Path) -> list[Path]:
    files: list[Path] = []
    for entry in sorted(os.listdir(folder)):
        if _IGNORED_NAMES.search(entry) or entry.endswith(_IGNORED_ENDINGS):
            continue
        path = folder / entry
        if path.is_dir():
            files.extend(_folder_files(path))
        elif path.is_file():
            files.append(path)
    return files


def _file_source(path: Path) -> Source:
    if os.access(path, os.X_OK) and path.suffix.lower() not in _YAML_SUFFIXES + _INI_SUFFIXES:
        raise ConfigError("an executable inventory is a dynamic inventory script, which fleet "
                          "does not run; save its --list output as a .json file instead",
                          file=str(path))
    text = read_text(path)
    kind: Literal["yaml", "ini"] = "ini" if is_ini(path, text) else "yaml"
    return Source(kind, path, text, str(path))


def is_ini(path: Path, text: str) -> bool:
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
