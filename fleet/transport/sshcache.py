"""``ssh -G`` answers kept across runs, used only while nothing ssh read has changed.

One ``ssh -G`` costs about 4 ms of CPU, and a run asks once per host: 50 hosts
cost 0.2 s before the first connection, a thousand 4 s. An answer is kept in
``$XDG_CACHE_HOME/fleet/ssh-G.json`` (``~/.cache`` by default) with what it
depended on, taken from ssh's own ``-v`` account of what it read:

- the ssh binary (path and size) and the exact arguments, the local user and
  ``HOME`` (in the key);
- the content of every config file ssh read for that answer (a file included
  only inside a ``Host`` or ``Match`` block counts for the hosts that read it),
  the names in each such file's folder (a file added beside it may be matched by
  an ``Include`` glob), and the names in the nearest existing folder of every
  ``Include`` that matched nothing.

An answer is used only while all of that is unchanged (by content, not by
modification time: no race with an edit in the same clock tick). Nothing is
kept when the files could make the answer depend on anything else: ``Match
exec`` or ``localnetwork``, an environment variable (``${``), a token in an
``Include``, or host name canonicalization (DNS).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pwd
import re
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path

_READ = re.compile(r"^debug\d: Reading configuration data (.+)$")
_UNMATCHED = re.compile(r"^debug\d: (.+) line \d+: include (.+) matched no files$")
_GLOB = re.compile(r"[*?\[]")
_UNCACHEABLE_MATCH = frozenset({"exec", "localnetwork"})
_VERSION = 1
MAX_ENTRIES = 10_000
"""Answers kept at most (the least recently used go first): about 4 MB. Answers
whose files changed are dropped whenever the cache is written."""

FIELDS = ("hostname", "port", "user", "identityfile", "identitiesonly", "proxyjump",
          "proxycommand", "hostkeyalias")
"""The ``ssh -G`` keys fleet reads; only their lines are kept."""


def ssh_home() -> str:
    """The home folder ssh expands ``~`` to: the user's entry in the password
    database, not ``$HOME``."""
    try:
        return pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        return os.path.expanduser("~")


def default_files() -> list[str]:
    """The config files ssh reads without ``-F`` when they exist: an answer also
    depends on their absence (ssh -v names only the files it read)."""
    return [os.path.join(ssh_home(), ".ssh", "config"), "/etc/ssh/ssh_config"]


def cache_path() -> Path:
    """Where the answers are kept."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "fleet" / "ssh-G.json"


def kept_lines(stdout: str) -> str:
    """The lines of ``ssh -G``'s answer that fleet reads."""
    return "".join(line + "\n" for line in stdout.splitlines()
                   if line.partition(" ")[0] in FIELDS)


def depends_on(stderr: str, stdout: str) -> list[str] | None:
    """The files and folders an answer depends on, from ``ssh -G -v``'s stderr
    (folders end in ``/``); None when it must not be kept (see the module)."""
    for line in stdout.splitlines():
        key, _, value = line.partition(" ")
        if key == "canonicalizehostname" and value.strip().lower() not in ("false", "no"):
            return None
    found: list[str] = []
    for line in stderr.splitlines():
        read = _READ.match(line)
        if read:
            path = read[1]
            try:
                text = Path(path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                return None
            if not _cacheable(text):
                return None
            found += [path, os.path.dirname(path) + "/"]
            continue
        unmatched = _UNMATCHED.match(line)
        if unmatched:
            folder = _include_folder(unmatched[1], unmatched[2])
            if folder is None:
                return None
            found.append(folder)
    return sorted(set(found))


def _cacheable(text: str) -> bool:
    """False if a config text can make ``ssh -G`` answer from something besides its files."""
    if "${" in text:
        return False
    for line in text.splitlines():
        words = line.replace("=", " ").split()
        if not words:
            continue
        first = words[0].lower()
        if first == "match" and any(w.lower().lstrip("!") in _UNCACHEABLE_MATCH
                                    for w in words[1:]):
            return False
        if first == "include" and "%" in line:
            return False
    return True


def _include_folder(config: str, pattern: str) -> str | None:
    """The nearest existing folder of an ``Include`` pattern that matched nothing
    (relative ones are in ``~/.ssh``, or ``/etc/ssh`` from a system file)."""
    if "%" in pattern or "$" in pattern:
        return None
    path = ssh_home() + pattern[1:] if pattern.startswith("~/") else pattern
    if not os.path.isabs(path):
        base = "/etc/ssh" if config.startswith("/etc/") else os.path.join(ssh_home(), ".ssh")
        path = os.path.join(base, path)
    head = _GLOB.split(path, 1)[0]
    folder = head if head.endswith("/") else os.path.dirname(head)
    while folder and not os.path.isdir(folder):
        parent = os.path.dirname(folder.rstrip("/"))
        if parent == folder:
            break
        folder = parent
    return folder.rstrip("/") + "/" if folder else None


def fingerprint(path: str) -> str:
    """A file's content, or a folder's names (path ends in ``/``), as one hash;
    ``-`` when it cannot be read (a file that appears later changes it)."""
    digest = hashlib.sha256()
    try:
        if path.endswith("/"):
            for name in sorted(os.listdir(path)):
                digest.update(name.encode("utf-8", "surrogateescape") + b"\0")
        else:
            digest.update(Path(path).read_bytes())
    except OSError:
        return "-"
    return digest.hexdigest()


class AnswerCache:
    """The kept answers: :meth:`get` one that is still valid, :meth:`put` new ones,
    :meth:`save` them. Fingerprints are taken once per path per cache object (a run)."""

    def __init__(self, path: Path | None = None) -> None:
        self._path = path or cache_path()
        self._lock = threading.Lock()
        self._prints: dict[str, str] = {}
        self._entries: dict[str, dict[str, object]] = {}
        self._dirty = False
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            if isinstance(data, dict) and data.get("version") == _VERSION and isinstance(
                    data.get("entries"), dict):
                self._entries = data["entries"]
        except (OSError, ValueError):
            pass  # none yet, or unreadable: start empty

    def _print(self, path: str) -> str:
        found = self._prints.get(path)
        if found is None:
            found = self._prints[path] = fingerprint(path)
        return found

    def get(self, key: str) -> str | None:
        """The kept answer for ``key`` if nothing it depended on changed."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or not self._valid(entry):
                return None
            text = entry["text"]
            return text if isinstance(text, str) else None

    def _valid(self, entry: object) -> bool:
        """Whether a kept entry is well formed and nothing it depended on changed."""
        if not isinstance(entry, dict):
            return False
        deps, text = entry.get("deps"), entry.get("text")
        if not isinstance(deps, dict) or not isinstance(text, str):
            return False
        return all(self._print(path) == want for path, want in deps.items())

    def put(self, key: str, text: str, deps: Iterable[str]) -> None:
        """Keep ``text`` as the answer for ``key``, valid while ``deps`` are unchanged."""
        with self._lock:
            self._entries.pop(key, None)  # newest last: the oldest go first when full
            self._entries[key] = {"text": text,
                                  "deps": {path: self._print(path) for path in deps}}
            self._dirty = True

    def save(self) -> None:
        """Write the answers if any were added (atomically; a failure is ignored:
        the cache only saves time)."""
        with self._lock:
            if not self._dirty:
                return
            # answers whose files changed can never be used again: they go
            entries = dict([(key, entry) for key, entry in self._entries.items()
                            if self._valid(entry)][-MAX_ENTRIES:])
            self._dirty = False
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._path.parent, prefix=".ssh-G.")
        except OSError:
            return
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"version": _VERSION, "entries": entries}, out)
            os.replace(tmp, self._path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
