"""A release: the exact files of one rollout, named by a hash of their manifest.

The id is the first 8 hex digits of sha256 over the sorted manifest lines
``name NUL sha256 NUL mode-octal LF``: the same content and modes give the same
id whatever the deploy order; any change of a byte, a mode or a name gives a
new one.
"""

from __future__ import annotations

import hashlib
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fleet.config.playbook import Playbook
from fleet.errors import ConfigError

_CHUNK = 1 << 16
_SPECIAL = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX


@dataclass(frozen=True)
class ReleaseFile:
    """One file of a release: where it goes (``name``) and what it is."""

    name: str
    source: Path
    sha256: str
    mode: int
    size: int


@dataclass(frozen=True)
class Release:
    """The files of one rollout in deploy order, and the id of their manifest."""

    id: str
    files: tuple[ReleaseFile, ...]

    @property
    def total_size(self) -> int:
        """Return the sum of the file sizes in bytes."""
        return sum(f.size for f in self.files)

    def dirs(self) -> tuple[str, ...]:
        """Return every folder (relative posix) the files need, parents before children.

        The target folder itself is not included: ``("sub", "sub/deep")``.
        """
        needed = {
            parent.as_posix()
            for f in self.files
            for parent in PurePosixPath(f.name).parents
            if parent != PurePosixPath(".")
        }
        return tuple(sorted(needed))  # a parent is a prefix of its child, so sorts first


def release_id(files: tuple[ReleaseFile, ...]) -> str:
    """Return the release id of ``files`` (independent of their order)."""
    lines = sorted(f"{f.name}\0{f.sha256}\0{f.mode:o}\n" for f in files)
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()[:8]


def read_file(name: str, source: Path) -> ReleaseFile:
    """Hash and stat ``source`` (symlinks followed) as the release file ``name``.

    Raises ``OSError`` if it cannot be read.
    """
    digest, size = hashlib.sha256(), 0
    with source.open("rb") as handle:
        mode = stat.S_IMODE(source.stat().st_mode)
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)  # the bytes hashed, even if the file grows meanwhile
    return ReleaseFile(name=name, source=source, sha256=digest.hexdigest(), mode=mode,
                       size=size)


def build_release(playbook: Playbook) -> Release:
    """Return the release of ``playbook``: its ``file_list`` hashed, in deploy order.

    Raises ``ConfigError`` (field ``files``) if a file vanished or became
    unreadable since the playbook was loaded, or has a setuid, setgid or
    sticky bit and the playbook does not say ``allow_special_modes: true``.
    """
    files: list[ReleaseFile] = []
    for name in playbook.file_list:
        source = playbook.source_dir / name
        try:
            files.append(read_file(name, source))
        except OSError as exc:
            raise ConfigError(f"cannot read {source}: {exc.strerror or exc}",
                              file=str(playbook.path), field="files") from None
        if files[-1].mode & _SPECIAL and not playbook.allow_special_modes:
            raise _special_mode_error(playbook, files[-1])
    return Release(id=release_id(tuple(files)), files=tuple(files))


def _special_mode_error(playbook: Playbook, file: ReleaseFile) -> ConfigError:
    """The error for a source file with setuid, setgid or sticky bits."""
    bits = [word for bit, word in ((stat.S_ISUID, "setuid"), (stat.S_ISGID, "setgid"),
                                   (stat.S_ISVTX, "sticky")) if file.mode & bit]
    where = "source" if playbook.files is None else \
        f"files[{playbook.files.index(file.name)}]"
    plural = "s" if len(bits) > 1 else ""
    return ConfigError(
        f"{file.source} has mode {file.mode:04o}: the {' and '.join(bits)} bit{plural} would "
        f"be deployed as is; clear {'them' if plural else 'it'} (chmod "
        f"{file.mode & 0o777:04o}) or set allow_special_modes: true in the playbook",
        file=str(playbook.path), field=where)
