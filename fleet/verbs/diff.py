"""``fleet rollout --check --diff``: per file a rollout would create or replace, a
unified diff of the host's text against the release's (as Ansible's ``--check
--diff``), or one note saying why there is none. Pure: the bytes come from
:mod:`fleet.remote.texts` and the release's files.

A file is text when it is UTF-8 without a NUL byte and at most
:data:`fleet.remote.texts.MAX_BYTES` long; anything else gets a note
(``binary``, ``large``), as does a host path that is a link or not a file, a
copy that could not be read, and a change of mode alone.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from fleet.config.release import Release, ReleaseFile
from fleet.remote.probe import DeploymentState, FileState
from fleet.remote.texts import MAX_BYTES, HostCopy, TooLarge, Unread
from fleet.results import FileDiff

_NO_NEWLINE = "\\ No newline at end of file\n"


@dataclass(frozen=True)
class Note:
    """Why a side has no text to diff: a :class:`FileDiff` note and its detail."""

    note: str
    detail: str


Side = str | Note
"""One side of a diff: its text, or why there is none."""


def release_texts(release: Release) -> tuple[Side, ...]:
    """The text of each release file, in release order (read once for every host)."""
    return tuple(_release_side(f) for f in release.files)


def wanted(texts: tuple[Side, ...]) -> tuple[bool, ...]:
    """Which host copies are worth fetching: those of the release's text files."""
    return tuple(isinstance(t, str) for t in texts)


def host_diffs(release: Release, texts: tuple[Side, ...], state: DeploymentState,
               copies: Mapping[int, HostCopy], where: str) -> tuple[FileDiff, ...]:
    """One entry per release file the host does not hold as released (content or
    mode), in release order. ``where`` names the host's side in the diff headers:
    the target as written (``~/agents``), the same on every host, so that equal
    diffs on many hosts are equal strings."""
    out: list[FileDiff] = []
    for index, (file, text, held) in enumerate(zip(release.files, texts, state.files,
                                                   strict=True)):
        entry = _one(file, text, held, copies.get(index), where, release.id)
        if entry is not None:
            out.append(entry)
    return tuple(out)


def _one(file: ReleaseFile, text: Side, held: FileState, copy: HostCopy | None, where: str,
         release_id: str) -> FileDiff | None:
    """The entry of one file, or None when the host holds it as released."""
    path = file.name
    new_label = f"release {release_id}: {shown(path)}"
    if held.state == "absent":
        if isinstance(text, Note):
            return FileDiff(path, note=text.note, detail=f"new file: {text.detail}")
        return FileDiff(path, diff=unified("", text, "/dev/null", new_label))
    if held.state == "link":
        return FileDiff(path, note="link", detail="a symbolic link on the host: the rollout "
                        "will refuse to write through it")
    if held.state != "present":
        return FileDiff(path, note="other", detail="not a regular file on the host: the "
                        "rollout will refuse to replace it")
    mode = None if held.mode == file.mode else f"{held.mode or 0:04o} -> {file.mode:04o}"
    if held.sha256 == file.sha256:
        if mode is None:
            return None
        return FileDiff(path, note="mode", detail="same content, the mode changes", mode=mode)
    if isinstance(text, Note):  # the host's copy was not fetched
        return FileDiff(path, note=text.note, detail=text.detail, mode=mode)
    old = _host_side(copy)
    if isinstance(old, Note):
        return FileDiff(path, note=old.note, detail=old.detail, mode=mode)
    return FileDiff(path, diff=unified(old, text, f"{where}/{shown(path)}", new_label),
                    mode=mode)


def _release_side(file: ReleaseFile) -> Side:
    if file.size > MAX_BYTES:
        return Note("large", f"{file.size} bytes in the release (diffs stop at {MAX_BYTES})")
    try:
        data = file.source.read_bytes()
    except OSError as exc:
        return Note("unreadable", f"cannot read the release's copy: {exc.strerror or exc}")
    if hashlib.sha256(data).hexdigest() != file.sha256:
        return Note("unreadable", "the release's copy changed on this machine since the "
                    "run began")
    text = as_text(data)
    return text if text is not None else Note("binary", "the release's copy is not text")


def _host_side(copy: HostCopy | None) -> Side:
    if isinstance(copy, TooLarge):
        return Note("large", f"{copy.size} bytes on the host (diffs stop at {MAX_BYTES})")
    if isinstance(copy, Unread) or copy is None:
        return Note("unreadable", "the host's copy could not be read")
    text = as_text(copy)
    return text if text is not None else Note("binary", "the host's copy is not text")


def as_text(data: bytes) -> str | None:
    """``data`` as text, or None when it is binary (a NUL byte, or not UTF-8)."""
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def unified(old: str, new: str, old_label: str, new_label: str) -> str:
    """A unified diff (3 lines of context) of ``old`` to ``new``, lines split at ``\\n``
    only, with ``\\ No newline at end of file`` where a side ends without one."""
    lines: list[str] = []
    for line in difflib.unified_diff(_lines(old), _lines(new), old_label, new_label):
        if line.endswith("\n"):
            lines.append(line)
        else:
            lines.append(line + "\n" + _NO_NEWLINE)
    return "".join(lines)


def _lines(text: str) -> list[str]:
    """``text`` cut after each ``\\n`` (``str.splitlines`` also cuts at ``\\r``, form
    feeds and more, which a file's lines keep)."""
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def shown(text: str, *, tabs: bool = False) -> str:
    """``text`` with control characters (a newline, an escape; a tab unless ``tabs``)
    written as escapes, so a name stays on one header line and nothing a host's
    file holds can drive a terminal."""
    keep = " \t" if tabs else " "
    return "".join(c if c.isprintable() or c in keep else c.encode("unicode_escape").decode()
                   for c in text)
