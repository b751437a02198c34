"""Jump hosts: OpenSSH ``ProxyJump`` values and the ssh options inventories carry.

An Ansible inventory names a jump host in ssh's own words, inside
``ansible_ssh_common_args`` (or ``ansible_ssh_extra_args``)::

    ansible_ssh_common_args: '-o ProxyJump=deploy@bastion:2222'
    ansible_ssh_common_args: '-J deploy@bastion'

``proxy_jump_from_args`` finds that value the way ssh reads its command line
(getopt clusters such as ``-qJ host``; ``-o Key=Value`` or ``-o "Key Value"``;
the first ProxyJump wins, as in ssh). Other options are ssh's business and are
ignored, except ``ProxyCommand``, which fleet cannot honour and so refuses
rather than silently connecting directly. ``parse_proxy_jump`` splits a value
into hops, first hop first: ``[ssh://][user@]host[:port]``, comma-separated,
IPv6 addresses in brackets, ``none`` for no jump. Both are pure; both raise
``ValueError`` with a message that names the fix. ``ProxyJump`` is a value
parsed once: the inventory loads each host's jump into one, and the transport
reads its ``hops`` instead of parsing the text again for every connection.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

_NO_ARG_FLAGS = frozenset("46AaCfGgKkMNnqsTtVvXxYy")
_ARG_FLAGS = frozenset("BbcDEeFIiJLlmOopQRSWw")
_OPTION = re.compile(r"^\s*([A-Za-z]+)\s*(?:=\s*|\s+)(.*?)\s*$")
_HOP = re.compile(r"^(?:(?P<user>.+)@)?(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^@:\[\]]+))"
                  r"(?::(?P<port>[^:]*))?$")
_HOP_FORM = "[user@]host[:port]"


@dataclass(frozen=True)
class JumpHop:
    """One jump host as written: ``host`` with the ``user`` and ``port`` given, if any."""

    host: str
    user: str | None = None
    port: int | None = None


class ProxyJump(str):
    """A checked ProxyJump value: the text as written (stripped; it is what
    ``Host.proxy_jump`` shows and compares equal to), with its ``hops`` parsed
    once, when it is made.

    A ``str`` because it *is* the OpenSSH value (ssh config and the inventory
    spell it so); the parse rides along so no later reader parses it again.

    Raises ``ValueError`` as :func:`parse_proxy_jump` does.
    """

    hops: tuple[JumpHop, ...]

    def __new__(cls, spec: str) -> ProxyJump:
        hops = parse_proxy_jump(spec)
        value = super().__new__(cls, spec.strip())
        value.hops = hops
        return value


def parse_proxy_jump(spec: str) -> tuple[JumpHop, ...]:
    """Return the hops of a ProxyJump value, first hop first; ``()`` for ``none``.

    Raises ``ValueError`` for an empty hop, a hop that is not
    ``[user@]host[:port]`` or a port that is not 1..65535.
    """
    spec = spec.strip()
    if spec.lower() == "none":
        return ()
    return tuple(_parse_hop(hop.strip(), spec) for hop in spec.split(","))


def _parse_hop(hop: str, spec: str) -> JumpHop:
    """Return one hop of ``spec``; raise ValueError naming it."""
    if hop.startswith("ssh://"):
        hop = hop.removeprefix("ssh://").removesuffix("/")
    match = _HOP.match(hop) if hop and not any(c.isspace() for c in hop) else None
    if match is None:
        raise ValueError(f"jump host {hop!r} in {spec!r} is not {_HOP_FORM}")
    port_text = match["port"]
    port: int | None = None
    if port_text is not None:
        if not port_text.isdecimal() or not 0 < int(port_text) < 65536:
            raise ValueError(f"jump host {hop!r}: the port must be a number 1..65535")
        port = int(port_text)
    return JumpHop(host=match["v6"] or match["host"], user=match["user"] or None, port=port)


def proxy_jump_from_args(args: str | list[str]) -> ProxyJump | None:
    """Return the ProxyJump value an ssh command line sets, or None if it sets none.

    ``args`` is one string of options, or several (Ansible's ssh_args, common
    args, extra args), read as one command line, in order. ``-J x`` and ``-o
    ProxyJump=x`` are read; the first one wins, as in ssh, and a ``-J`` after
    a jump is already set is refused, as ssh refuses it. A ``none`` value is
    returned as ``"none"`` (it turns a jump off).

    Raises ``ValueError`` for unbalanced quotes, an option missing its value,
    a second ``-J``, a ``ProxyCommand`` (use ProxyJump instead) or a malformed
    jump value.
    """
    words: list[str] = []
    for text in [args] if isinstance(args, str) else args:
        try:
            words += shlex.split(text)
        except ValueError as exc:
            raise ValueError(f"cannot split {text!r} like a shell would: {exc}") from None
    found: ProxyJump | None = None
    for flag, value in _options(words):
        jump: str | None = None
        if flag == "J":
            if found is not None:
                raise ValueError(f"-J {value} comes after the jump {found!r} is set; ssh "
                                 "allows a single -J (separate hops with commas)")
            jump = value
        elif flag == "o":
            jump = _jump_from_option(value)
        if jump is not None and found is None:
            found = ProxyJump(jump)  # raises if malformed
    return found


def _options(words: list[str]) -> list[tuple[str, str]]:
    """Return the (flag, value) pairs of the options that take a value, as getopt would."""
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if not word.startswith("-") or word == "-":
            continue
        if word == "--":
            break
        for at, flag in enumerate(word[1:], start=1):
            if flag in _NO_ARG_FLAGS:
                continue
            if flag not in _ARG_FLAGS:
                break  # not an ssh option; ssh itself would refuse it, fleet ignores it
            value = word[at + 1:]
            if not value:
                if i >= len(words):
                    raise ValueError(f"ssh option -{flag} needs a value")
                value = words[i]
                i += 1
            pairs.append((flag, value))
            break
    return pairs


def _jump_from_option(option: str) -> str | None:
    """Return the value of a ``-o`` option if it is ProxyJump; refuse ProxyCommand."""
    match = _OPTION.match(option)
    key, value = (match[1].lower(), match[2]) if match else (option.strip().lower(), "")
    if key == "proxycommand" and value.lower() != "none":
        if not value:
            raise ValueError("-o ProxyCommand needs a value")
        raise ValueError("ProxyCommand is not supported; name the jump host with "
                         f"-o ProxyJump={_HOP_FORM} (or -J {_HOP_FORM}) instead")
    if key == "proxyjump":
        if not value:
            raise ValueError(f"-o ProxyJump needs a value: {_HOP_FORM}")
        return value
    return None


NO_JUMP = ProxyJump("none")
"""The jump that turns a jump from ssh config off."""
