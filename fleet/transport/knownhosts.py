"""known_hosts files: read tolerantly, honour ``@revoked``, record new keys atomically.

A line is ``names keytype base64 [comment]``, or the same after a marker:

- ``@cert-authority`` lines are skipped: fleet does not do host certificates,
  so a host trusted only through a CA is "not in known_hosts" as usual;
- ``@revoked`` lines name keys that are never accepted, for the hosts their
  names match (``*``/``?`` wildcards and ``!`` negation, as OpenSSH reads
  them; ``@revoked * ssh-ed25519 AAAA…`` revokes a key for every host);
- a line fleet cannot read (an unknown key type, bad base64, too few fields)
  is skipped, never an error.

Plain lines match a host by its exact name or a hashed name (``|1|salt|hash``),
as paramiko does. :func:`parse_known_hosts` is pure; :func:`load_known_hosts`
parses a file once per version of it; :func:`record_key` appends a new key
under a lock, after reading the file again, so that parallel connections under
one name never record two keys.
"""

from __future__ import annotations

import binascii
import fcntl
import hmac
import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import paramiko

from fleet.errors import HostKeyError

log = logging.getLogger(__name__)

_CACHE: dict[Path, tuple[tuple[int, int], KnownHosts]] = {}
_CACHE_LOCK = threading.Lock()
_RECORD_LOCK = threading.Lock()  # threads of this process; flock covers other processes


@dataclass(frozen=True)
class Entry:
    """One readable line: the host patterns it names and its key."""

    names: tuple[str, ...]
    key: paramiko.PKey


@dataclass(frozen=True)
class KnownHosts:
    """The trusted and the revoked keys of one known_hosts file."""

    trusted: tuple[Entry, ...]
    revoked: tuple[Entry, ...]

    def keys_for(self, name: str) -> dict[str, paramiko.PKey]:
        """Return the trusted, not revoked key of each type recorded for ``name``
        (the first line of a type wins, as in paramiko)."""
        keys: dict[str, paramiko.PKey] = {}
        for entry in self.trusted:
            if _plain_match(entry.names, name) and not self.is_revoked(name, entry.key):
                keys.setdefault(entry.key.get_name(), entry.key)
        return keys

    def is_revoked(self, name: str, key: paramiko.PKey) -> bool:
        """True if an ``@revoked`` line matching ``name`` holds ``key``."""
        return any(_same_key(entry.key, key) and _pattern_match(entry.names, name)
                   for entry in self.revoked)


def parse_known_hosts(text: str) -> KnownHosts:
    """Return the entries of known_hosts ``text``; unreadable lines are skipped.

    Raises nothing.
    """
    trusted: list[Entry] = []
    revoked: list[Entry] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        marker = None
        if line.startswith("@"):
            marker, _, line = line.partition(" ")
            line = line.strip()
        entry = _entry(line, number)
        if entry is None or marker == "@cert-authority":
            continue
        if marker == "@revoked":
            revoked.append(entry)
        elif marker is None:
            trusted.append(entry)
        else:
            log.debug("known_hosts line %d: unknown marker %s skipped", number, marker)
    return KnownHosts(tuple(trusted), tuple(revoked))


def _entry(line: str, number: int) -> Entry | None:
    """Return the entry of one line without its marker, or None if it cannot be read."""
    fields = line.split()
    if len(fields) < 3:
        return None
    names, key_type, data = fields[:3]
    try:
        key = paramiko.PKey.from_type_string(key_type, binascii.a2b_base64(data))
    except Exception as exc:  # paramiko and its backends raise a zoo of types (SSHException,
        # UnknownKeyType, nacl's ValueError, UnicodeDecodeError, ...): skip the line whatever.
        log.debug("known_hosts line %d skipped: %s", number, exc)
        return None
    return Entry(tuple(names.split(",")), key)


def load_known_hosts(path: Path) -> KnownHosts:
    """Return the entries of ``path``, parsed once per version of the file (a run
    connects to many hosts; ``--accept-new-hosts`` appends, making a new version).

    Raises ``OSError`` if the file exists but cannot be read.
    """
    info = path.stat()
    stamp = (info.st_mtime_ns, info.st_size)
    with _CACHE_LOCK:
        cached = _CACHE.get(path)
        if cached is None or cached[0] != stamp:
            cached = (stamp, parse_known_hosts(_read(path)))
            _CACHE[path] = cached
        return cached[1]


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8", "replace")


def revoked_error(host: str, name: str, key: paramiko.PKey, path: Path) -> HostKeyError:
    """The error for a host that offered a key an ``@revoked`` line names."""
    return HostKeyError(
        host, f"host key of {name!r} is REVOKED (an @revoked line in {path} names this "
        f"{key.get_name()} key); refusing to connect — the host needs a new key",
        expected=None, got=key.get_base64())


def record_key(path: Path, name: str, key: paramiko.PKey) -> Literal["recorded", "known"]:
    """Record ``key`` under ``name`` in ``path`` unless a key for ``name`` is there.

    Check and append happen under a lock (threads and, by ``flock``, other
    processes) on a fresh read of the file. Returns ``"recorded"``, or
    ``"known"`` if this very key was recorded meanwhile (by a parallel
    connection). Raises ``HostKeyError`` if the key is revoked, or if another
    key is recorded for ``name`` (changed meanwhile, or of another type);
    ``OSError`` if the file cannot be read or written.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with _RECORD_LOCK, path.open("a+", encoding="utf-8") as file:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX)  # released when the file closes
        file.seek(0)
        text = file.read()
        known = parse_known_hosts(text)
        if known.is_revoked(name, key):
            raise revoked_error(name, name, key, path)
        recorded = [entry.key for entry in known.trusted if _plain_match(entry.names, name)]
        if any(_same_key(other, key) for other in recorded):
            return "known"
        if recorded:
            types = ", ".join(sorted({other.get_name() for other in recorded}))
            raise HostKeyError(
                name, f"{path} has a {types} key for {name!r} that differs from the "
                f"{key.get_name()} key the host offered (recorded meanwhile, or of another "
                "type); refusing to record a second key — check the host's key",
                expected=recorded[0].get_base64(), got=key.get_base64())
        if text and not text.endswith("\n"):
            file.write("\n")
        file.write(f"{name} {key.get_name()} {key.get_base64()}\n")
        file.flush()
    return "recorded"


def _same_key(one: paramiko.PKey, other: paramiko.PKey) -> bool:
    return one.get_name() == other.get_name() and hmac.compare_digest(
        one.asbytes(), other.asbytes())


def _plain_match(names: tuple[str, ...], name: str) -> bool:
    """True if ``name`` is one of ``names`` or matches a hashed one (as paramiko does)."""
    for candidate in names:
        if candidate == name:
            return True
        if candidate.startswith("|1|") and hmac.compare_digest(
                paramiko.HostKeys.hash_host(name, candidate).encode(), candidate.encode()):
            return True
    return False


def _pattern_match(names: tuple[str, ...], name: str) -> bool:
    """OpenSSH's host pattern list: a negated match rules out, a plain one rules in."""
    lowered, matched = name.lower(), False
    for pattern in names:
        negated = pattern.startswith("!")
        pattern = pattern.removeprefix("!")
        hit = _plain_match((pattern,), name) if pattern.startswith("|1|") \
            else _wildcard(pattern.lower()).fullmatch(lowered) is not None
        if hit and negated:
            return False
        matched = matched or hit
    return matched


def _wildcard(pattern: str) -> re.Pattern[str]:
    """``*`` and ``?`` as in ssh host patterns; every other character is itself."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c)
                              for c in pattern))
