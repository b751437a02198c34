"""What ssh config says for one host: asked of OpenSSH itself, or read by paramiko.

:class:`OpenSshLookup` runs ``ssh -G [-F FILE] [-p PORT] [-l USER] HOST`` and
reads its answer, so every rule of ``man ssh_config`` holds as ssh applies it
(``Include``, ``Match host/user/exec/...``, first value wins, ``Host web[12]``
taken literally, trailing comments, ``ProxyCommand none``, the user file
before the system file). One call per distinct (host, port, user), cached for
the life of the lookup; :meth:`OpenSshLookup.prefetch` asks for many hosts in
parallel.

:class:`ParamikoLookup` is the fallback where no ``ssh`` binary exists:
paramiko's ``SSHConfig``, with what it lacks done here (``Include``, trailing
comments, ``Host`` patterns with ``[``, one implicit global block per file,
the inventory's port and user seen by ``Match user`` and tokens, ProxyCommand
and ProxyJump excluding each other). It refuses ``Match exec``, which would
run a command through paramiko's invoke; the compat suite measures it
against ``ssh -G``.

Both answer :class:`SshOptions`; tokens in ``IdentityFile`` are expanded by
:func:`expand_tokens` (``ssh -G`` prints them unexpanded).
"""

from __future__ import annotations

import getpass
import glob
import json
import os
import pwd
import re
import socket
import subprocess
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import paramiko

from fleet.transport.sshcache import AnswerCache, default_files, depends_on, kept_lines

DEFAULT_KEYS = ("~/.ssh/id_rsa", "~/.ssh/id_ecdsa", "~/.ssh/id_ecdsa_sk", "~/.ssh/id_ed25519",
                "~/.ssh/id_ed25519_sk", "~/.ssh/id_xmss", "~/.ssh/id_dsa")
_SSH_TIMEOUT = 30.0
_COMMENT = re.compile(r"""^((?:[^"'#]|"[^"]*"|'[^']*')*?)\s+#.*$""")


@dataclass(frozen=True)
class SshOptions:
    """The options fleet uses for one host, as ssh config resolves them.

    ``identity_files`` are those ssh config names, tokens expanded (``()``:
    none named, ssh's default keys apply); ``proxy_jump``/``proxy_command`` are
    None when unset or ``none``.
    """

    hostname: str
    port: int
    user: str
    identity_files: tuple[str, ...] = ()
    identities_only: bool = False
    proxy_jump: str | None = None
    proxy_command: str | None = None
    host_key_alias: str | None = None


class SshLookup(Protocol):
    """Answers what ssh config says for a host reached with a port and user (None: unset)."""

    def lookup(self, host: str, port: int | None, user: str | None) -> SshOptions:
        """Return the options; raises ``ValueError`` naming the config and the problem."""
        ...


def local_user() -> str:
    """Return the local user as ssh knows it: the name of this process's uid."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return getpass.getuser()


def expand_tokens(value: str, *, host: str, original: str, port: int, user: str,
                  path: bool = True) -> str:
    """Expand ssh's tokens: ``%%``, ``%d``, ``%h``, ``%i``, ``%L``, ``%l``, ``%n``,
    ``%p``, ``%r``, ``%u``, and, in a ``path``, a leading ``~``."""
    local = socket.gethostname()
    table = {"%": "%", "d": os.path.expanduser("~"), "h": host, "i": str(os.getuid()),
             "L": local.split(".")[0], "l": local, "n": original, "p": str(port), "r": user,
             "u": local_user()}
    expanded = re.sub(r"%(.)", lambda m: table.get(m[1], m[0]), value)
    return os.path.expanduser(expanded) if path else expanded


def _port(text: str, host: str) -> int:
    if not text.isdecimal() or not 0 < int(text) < 65536:
        raise ValueError(f"ssh config gives {host!r} the port {text!r}; expected 1..65535")
    return int(text)


def _proxy(value: str | None) -> str | None:
    return None if value is None or value.strip().lower() == "none" else value.strip()


class OpenSshLookup:
    """``ssh -G`` for each (host, port, user), cached; ``config`` None: ssh's own files.

    With an :class:`~fleet.transport.sshcache.AnswerCache`, answers are also kept
    across runs while nothing ssh read for them has changed.
    """

    def __init__(self, ssh: str, config: Path | None, no_config: bool = False,
                 kept: AnswerCache | None = None) -> None:
        self._ssh = ssh
        self._config = config
        self._no_config = no_config
        self._kept = kept
        self._cache: dict[tuple[str, int | None, str | None], SshOptions | ValueError] = {}
        self._lock = threading.Lock()

    def lookup(self, host: str, port: int | None, user: str | None) -> SshOptions:
        """Return ssh's answer for ``host``; raises ``ValueError`` with ssh's own message."""
        key = (host, port, user)
        with self._lock:
            found = self._cache.get(key)
        if found is None:
            found = self._ask(host, port, user)
            with self._lock:
                self._cache[key] = found
        if isinstance(found, ValueError):
            raise found
        return found

    def prefetch(self, queries: Iterable[tuple[str, int | None, str | None]],
                 workers: int = 16) -> None:
        """Ask ssh about every distinct query, ``workers`` at a time; errors are cached too."""
        distinct = [q for q in dict.fromkeys(queries) if q not in self._cache]
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for key, answer in zip(distinct, pool.map(lambda q: self._ask(*q), distinct),
                                   strict=True):
                with self._lock:
                    self._cache[key] = answer
        if self._kept is not None:
            self._kept.save()

    def _argv(self, host: str, port: int | None, user: str | None) -> list[str]:
        argv = [self._ssh, "-G"]
        if self._no_config:
            argv += ["-F", "none"]
        elif self._config is not None:
            argv += ["-F", str(self._config)]
        if port is not None:
            argv += ["-p", str(port)]
        if user is not None:
            argv += ["-l", user]
        return [*argv, "--", host]

    def _ask(self, host: str, port: int | None, user: str | None) -> SshOptions | ValueError:
        argv = self._argv(host, port, user)
        key = answer_key(argv) if self._kept is not None else ""
        if self._kept is not None:
            kept = self._kept.get(key)
            if kept is not None:
                return _parse_g(kept, host)
        try:
            done = subprocess.run([*argv[:2], "-v", *argv[2:]], capture_output=True,
                                  text=True, timeout=_SSH_TIMEOUT, check=False,
                                  stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return ValueError(f"cannot run {self._ssh} -G for {host!r}: {exc}")
        if done.returncode != 0:
            said = [line for line in done.stderr.splitlines() if not _DEBUG.match(line)]
            why = " ".join(" ".join(said).split()) or f"exit {done.returncode}"
            return ValueError(f"ssh config for {host!r} ({self._config or 'ssh defaults'}): "
                              f"{why}")
        answer = _parse_g(done.stdout, host)
        if self._kept is not None and not isinstance(answer, ValueError):
            deps = depends_on(done.stderr, done.stdout)
            if deps is not None:
                if self._config is None and not self._no_config:
                    deps += default_files()
                self._kept.put(key, kept_lines(done.stdout), deps)
        return answer


_DEBUG = re.compile(r"^(debug\d: |OpenSSH_|Pseudo-terminal will not be allocated)")
"""``ssh -v``'s own lines: not part of an error's message."""


def answer_key(argv: list[str]) -> str:
    """What an ``ssh -G`` answer is kept under: the command (and the ssh binary's
    size), the local user and ``HOME``."""
    try:
        size = os.stat(argv[0]).st_size
    except OSError:
        size = -1
    return json.dumps([argv, size, os.getuid(), os.path.expanduser("~")])


def _parse_g(text: str, original: str) -> SshOptions | ValueError:
    """Read ``ssh -G``'s ``key value`` lines."""
    first: dict[str, str] = {}
    keys: list[str] = []
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "identityfile":
            keys.append(value)
        first.setdefault(key, value)
    try:
        port = _port(first.get("port", "22"), original)
    except ValueError as exc:
        return exc
    hostname, user = first.get("hostname", original), first.get("user", local_user())
    named = () if tuple(keys) == DEFAULT_KEYS else tuple(
        expand_tokens(k, host=hostname, original=original, port=port, user=user) for k in keys)
    command = _proxy(first.get("proxycommand"))
    return SshOptions(hostname=hostname, port=port, user=user, identity_files=named,
                      identities_only=first.get("identitiesonly") == "yes",
                      proxy_jump=_proxy(first.get("proxyjump")),
                      proxy_command=None if command is None else expand_tokens(
                          command, host=hostname, original=original, port=port, user=user,
                          path=False),
                      host_key_alias=first.get("hostkeyalias"))


class ParamikoLookup:
    """paramiko's ``SSHConfig`` over ``paths`` (user file first), each file its own parse."""

    def __init__(self, paths: tuple[Path, ...]) -> None:
        self._config = paramiko.SSHConfig()
        for path in paths:
            system = path.is_absolute() and path.parts[:3] == ("/", "etc", "ssh")
            base = Path("/etc/ssh") if system else Path("~/.ssh").expanduser()
            text = "\n".join(_flatten(path, base, 0))
            try:
                self._config.parse(iter(text.splitlines(keepends=True)))
            except Exception as exc:  # paramiko's parse errors are bare SSHException subclasses
                raise ValueError(f"ssh config {path}: {exc}") from None

    def lookup(self, host: str, port: int | None, user: str | None) -> SshOptions:
        """Return paramiko's answer, the inventory's port and user applied as ssh's -p/-l."""
        seed = paramiko.SSHConfigDict()
        if port is not None:
            seed["port"] = str(port)
        if user is not None:
            seed["user"] = user
        try:
            # paramiko's public lookup() takes no port or user; its _lookup seeds them as
            # ssh's -p/-l do (they win over the config, Match user and %p/%r see them).
            options = self._config._lookup(host, seed)  # type: ignore[attr-defined]
            options.setdefault("hostname", host)
            options.setdefault("port", "22")
            options.setdefault("user", local_user())
            options = self._config._lookup(host, options, final=True)  # type: ignore[attr-defined]
        except Exception as exc:  # Match and canonicalisation errors are bare SSHExceptions
            raise ValueError(f"ssh config lookup of {host!r} failed: {exc}") from None
        hostname, resolved_port = str(options["hostname"]), _port(str(options["port"]), host)
        resolved_user = str(options["user"])
        keys = options.get("identityfile") or []
        # ProxyCommand and ProxyJump exclude each other; the first one written wins.
        order = [k for k in options if k in ("proxycommand", "proxyjump")]
        if order and order[0] == "proxycommand":
            options.pop("proxyjump", None)
        elif order:
            options.pop("proxycommand", None)
        return SshOptions(
            hostname=hostname, port=resolved_port, user=resolved_user,
            identity_files=tuple(expand_tokens(str(k), host=hostname, original=host,
                                               port=resolved_port, user=resolved_user)
                                 for k in keys),
            identities_only=str(options.get("identitiesonly", "no")).lower() == "yes",
            proxy_jump=_proxy(options.get("proxyjump")),
            proxy_command=_proxy(options.get("proxycommand")),
            host_key_alias=options.get("hostkeyalias"))


def _flatten(path: Path, base: Path, depth: int) -> list[str]:
    """Return the lines of ``path`` with ``Include`` expanded, trailing comments cut and
    ``[`` in ``Host`` patterns made literal (ssh does not glob brackets)."""
    if depth > 16:
        raise ValueError(f"ssh config {path}: Include nests deeper than 16 (a loop?)")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read ssh config {path}: {exc}") from None
    out: list[str] = []
    for raw in lines:
        line = _COMMENT.sub(r"\1", raw).strip()
        word, _, rest = line.partition(" ")
        if word.lower() == "match" and "exec" in rest.lower().split():
            raise ValueError(f"ssh config {path}: Match exec needs OpenSSH's ssh to run it; "
                             "install openssh-client (fleet then asks ssh -G)")
        if word.lower() == "include":
            for pattern in rest.split():
                full = os.path.expanduser(pattern)
                full = full if os.path.isabs(full) else str(base / full)
                for included in sorted(glob.glob(full)):
                    out.extend(_flatten(Path(included), base, depth + 1))
        elif word.lower() == "host":
            out.append("Host " + rest.replace("[", "[[]"))
        else:
            out.append(line)
    return out
