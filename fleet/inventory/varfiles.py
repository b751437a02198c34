"""``group_vars/`` and ``host_vars/`` next to an inventory file, found as Ansible finds them.

For a group (or host) called ``web`` in the folder ``group_vars/`` the first of
these that exists is used: ``web`` (a file, or a folder whose files are read
in sorted order, recursively), ``web.yml``, ``web.yaml``, ``web.json``. Inside
a folder, only files without an extension or with one of those extensions are
read; hidden files and backups (``~``) are skipped. Each file is YAML (JSON is
YAML too) holding a mapping of variable names to values, or nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fleet.config.validation import describe
from fleet.config.yamlfile import YamlDoc, load_yaml
from fleet.errors import ConfigError

_EXTENSIONS = (".yml", ".yaml", ".json")
Kind = Literal["group_vars", "host_vars"]


@dataclass(frozen=True)
class VarsFile:
    """One vars file: its variables, and its YAML document for line numbers."""

    path: Path
    values: Mapping[str, object]
    doc: YamlDoc


def find_vars_files(folder: Path, name: str) -> list[Path]:
    """Return the files that hold the vars of ``name`` in ``folder``, in load order.

    ``folder`` is a ``group_vars`` or ``host_vars`` folder; a name that is not
    a plain file name (``a/b``, ``..``) has no files. Returns ``[]`` if none.
    """
    if not name or "/" in name or "\\" in name or name in (".", "..") or "\0" in name:
        return []
    for suffix in ("", *_EXTENSIONS):
        path = folder / f"{name}{suffix}"
        if path.is_dir():
            return _folder_files(path)
        if path.is_file():
            return [path]
    return []


def candidate_names(folder: Path) -> frozenset[str]:
    """Return the names (case-folded) that may have vars files in ``folder``.

    Each entry's name, and the name without a ``.yml``/``.yaml``/``.json``
    extension; empty if ``folder`` is not a folder. One listing instead of
    eight ``stat`` calls for each of 100,000 hosts. Raises nothing.
    """
    try:
        entries = [entry.name for entry in folder.iterdir()]
    except OSError:
        return frozenset()
    names = {name.casefold() for name in entries}
    names.update(name[: -len(ext)].casefold() for name in entries for ext in _EXTENSIONS
                 if name.endswith(ext))
    return frozenset(names)


def _folder_files(folder: Path) -> list[Path]:
    found: list[Path] = []
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        if path.name.startswith(".") or path.name.endswith("~"):
            continue
        if path.is_dir() and not path.suffix:
            found.extend(_folder_files(path))
        elif path.is_file() and (not path.suffix or path.suffix in _EXTENSIONS):
            found.append(path)
    return found


def load_vars_file(path: Path) -> VarsFile:
    """Read one vars file.

    Raises ``ConfigError`` (file and line) if it is not valid YAML, is an
    Ansible Vault file, or holds something other than a mapping with string
    keys (an empty file holds no vars).
    """
    if _is_vault(path):
        raise ConfigError("Ansible Vault files are not supported; keep connection settings "
                          "in a plain file", file=str(path), line=1)
    doc = load_yaml(path)
    if doc.data is None:
        return VarsFile(path, {}, doc)
    if not isinstance(doc.data, dict):
        raise ConfigError(f"expected a mapping of variable names to values, got "
                          f"{describe(doc.data)}", file=str(path), line=doc.line_of(()))
    for key in doc.data:
        if not isinstance(key, str):
            raise ConfigError(f"variable names must be strings, got {describe(key)}",
                              file=str(path), line=doc.nearest_line((str(key),)))
    return VarsFile(path, dict(doc.data), doc)


def _is_vault(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(14) == b"$ANSIBLE_VAULT"
    except OSError:
        return False  # load_yaml names the problem


def vars_files(base: Path, kind: Kind, name: str,
               present: frozenset[str] | None = None) -> tuple[VarsFile, ...]:
    """Return the loaded vars files of group or host ``name`` under ``base/kind``.

    ``present`` (``candidate_names(base / kind)``) skips the look-up of a
    name that has no entry there. Raises ``ConfigError`` as ``load_vars_file`` does.
    """
    if present is not None and name.casefold() not in present:
        return ()
    return tuple(load_vars_file(p) for p in find_vars_files(base / kind, name))
