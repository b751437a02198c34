"""Ansible INI inventories, read line by line the way Ansible's ``ini`` plugin reads them.

::

    mail.example.com                 # hosts before any section: group "ungrouped"

    [web]
    web[01:03].example.com ansible_user=deploy
    db-[a:c] ansible_port=2222 note="two words"
    10.0.0.7:2200                    # host:port: ansible_port, where the host is first written

    [web:vars]
    ansible_ssh_common_args=-J deploy@bastion

    [prod:children]
    web

Lines starting with ``#`` or ``;`` are comments; on a host line ``#`` starts
a comment too (the line is split like a shell would, quotes group words). A
``[group:vars]`` line is ``key=value``, the value being the rest of the line.
Values are typed as Ansible types them: a Python literal (``2222``, ``True``,
``'x'``, ``[1, 2]``) becomes that value, anything else stays a string.
Ranges ``[01:03]`` (zero-padded if the start is), ``[a:c]`` and ``[1:9:2]``
expand, several per name. A ``[group:vars]`` or ``[group:children]`` entry must
name a group declared somewhere in the file by ``[group]`` or
``[group:children]``, or by an earlier ``-i`` file.

``parse_ini`` returns the entries in file order; ``fleet.inventory.load`` builds
the same ``Inventory`` from them as from a YAML file.
"""

from __future__ import annotations

import ast
import ipaddress
import re
import shlex
import string
import warnings
from dataclasses import dataclass, field

from fleet.errors import ConfigError

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:#.*)?$")
_SHELL_SPECIAL = re.compile(r"['\"\\#]")
_SHELL_BLANKS = re.compile(r"[ \t\r\n]+")
MAX_HOSTS_PER_LINE = 100_000


@dataclass(frozen=True)
class IniVar:
    """One ``key=value``: its typed value, its line, and the value's text as written."""

    key: str
    value: object
    line: int
    text: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class IniGroup:
    """A ``[name]`` or ``[name:children]`` section header: the group exists."""

    name: str
    line: int


@dataclass(frozen=True)
class IniHost:
    """A host line (one entry per host a range expands to) in ``group``."""

    group: str
    name: str
    vars: tuple[IniVar, ...]
    line: int
    port: int | None = None


@dataclass(frozen=True)
class IniChild:
    """A line of a ``[parent:children]`` section."""

    parent: str
    child: str
    line: int


@dataclass(frozen=True)
class IniGroupVars:
    """One ``[group:vars]`` section's variables (a later duplicate key wins)."""

    group: str
    vars: tuple[IniVar, ...]
    line: int


IniEntry = IniGroup | IniHost | IniChild | IniGroupVars


@dataclass(frozen=True)
class _Pending:
    """A group used by a vars or children section before it was declared."""

    kind: str
    line: int
    parent: str


def parse_ini(text: str, file: str, known: frozenset[str] = frozenset()
              ) -> tuple[IniEntry, ...]:
    """Return the entries of an INI inventory, in file order.

    ``known`` are the groups declared by earlier ``-i`` files: a
    ``[g:vars]`` or ``[g:children]`` section may name them, as in Ansible.

    Raises ``ConfigError`` naming ``file``, the line and the fix for: a
    malformed section header or unknown section type, a host line with bad
    quoting, a word that is not ``key=value``, a bad host range or port, a
    vars line without ``=``, a children line that is not one group name, or
    a vars/children section naming a group that is never declared.
    """
    entries: list[IniEntry] = []
    pending: dict[str, _Pending] = {}
    declared = {"all", "ungrouped", *known}
    group, state = "ungrouped", "hosts"
    section_vars: dict[int, list[IniVar]] = {}  # index in entries of a [group:vars] -> its vars
    vars_at = -1  # index in entries of the current [group:vars] section
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        try:
            header = _section(line)
            if header is not None:
                group, state = header
                _declare(group, state, number, declared, pending)
                if state == "vars":
                    vars_at = len(entries)
                    section_vars[vars_at] = []
                    entries.append(IniGroupVars(group, (), number))
                else:
                    entries.append(IniGroup(group, number))
            elif state == "hosts":
                entries.extend(_host_line(line, group, number))
            elif state == "vars":
                section_vars[vars_at].append(_var_line(line, number))
            else:
                child = _child_line(line)
                if child not in declared:
                    pending.setdefault(child, _Pending("children", number, group))
                entries.append(IniChild(group, child, number))
        except ValueError as exc:
            raise ConfigError(str(exc), file=file, line=number) from None
    for name, why in pending.items():
        if why.kind == "vars":
            message = f"[{name}:vars] is for a group that is never declared; add a [{name}] section"
        else:
            message = (f"[{why.parent}:children] names {name!r}, which is never declared; "
                       f"add a [{name}] section (or fix the name)")
        raise ConfigError(message, file=file, line=why.line)
    for at, variables in section_vars.items():
        section = entries[at]
        if isinstance(section, IniGroupVars):
            entries[at] = IniGroupVars(section.group, tuple(variables), section.line)
    return tuple(entries)


def _section(line: str) -> tuple[str, str] | None:
    """Return (group, state) for a section header line, None for other lines."""
    match = _SECTION.match(line)
    if match is None:
        if line.startswith("[") and line.endswith("]"):
            raise ValueError(f"invalid section header {line!r}; write [group], [group:vars] or "
                             "[group:children] with no spaces")
        return None
    group, state = match[1], match[2] or "hosts"
    if state not in ("hosts", "vars", "children"):
        raise ValueError(f"unknown section type {state!r} in [{group}:{state}]; "
                         "use [group], [group:vars] or [group:children]")
    return group, state


def _declare(group: str, state: str, line: int, declared: set[str],
             pending: dict[str, _Pending]) -> None:
    """Record that a section for ``group`` was seen (Ansible's pending declarations)."""
    if state == "vars":
        if group not in declared and group not in pending:
            pending[group] = _Pending("vars", line, group)
        return
    declared.add(group)
    pending.pop(group, None)


def _var_line(line: str, number: int) -> IniVar:
    """Return the ``key=value`` of a vars section line; raise ValueError if it is not one."""
    key, sep, value = line.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"expected key=value in a vars section, got {line!r}")
    return IniVar(key.strip(), parse_value(value.strip()), number, value.strip())


def _child_line(line: str) -> str:
    """Return the group a ``[x:children]`` line names."""
    match = _GROUP_NAME.match(line)
    if match is None:
        raise ValueError(f"expected one group name per line in a children section, got {line!r}")
    return match[1]


def _host_line(line: str, group: str, number: int) -> list[IniHost]:
    """Return one ``IniHost`` per host the line's pattern expands to."""
    words = _split_words(line)
    if not words:
        return []
    names, port = expand_host_pattern(words[0])
    variables: list[IniVar] = []
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise ValueError(f"expected key=value after the host name, got {word!r}")
        variables.append(IniVar(key, parse_value(value), number, value))
    return [IniHost(group, name, tuple(variables), number, port) for name in names]


def _split_words(line: str) -> list[str]:
    """Split a host line as a POSIX shell would, ``#`` starting a comment.

    A line without quotes, backslashes or ``#`` (nearly every line) is split on
    blanks directly: ``shlex`` reads a character at a time, which made it most
    of the time spent loading a large INI inventory. Raises ``ValueError`` for
    unbalanced quotes.
    """
    if _SHELL_SPECIAL.search(line) is None:
        return [word for word in _SHELL_BLANKS.split(line) if word]
    try:
        return shlex.split(line, comments=True)
    except ValueError as exc:
        raise ValueError(f"cannot split the host line ({exc}); check its quotes") from None


def parse_value(text: str) -> object:
    """Return ``text`` typed as Ansible types INI values: a Python literal, else the string.

    Tuples and sets become lists; complex numbers, ``...`` and bytes stay text.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            value = ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return text
    return _plain(value, text)


def _plain(value: object, text: str) -> object:
    """Return a literal as plain data (lists, dicts, scalars)."""
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v, repr(v)) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v, repr(v)) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is ... or isinstance(value, complex):
        return text
    return value


def expand_host_pattern(pattern: str) -> tuple[list[str], int | None]:
    """Return the host names a pattern stands for and the port it names, if any.

    ``web[01:03]:2222`` -> ``(["web01", "web02", "web03"], 2222)``; IPv6
    addresses are written bare or as ``[addr]:port``.
    Raises ``ValueError`` for a bad range or port, or a name that looks like YAML.
    """
    host, port = _split_port(pattern)
    if host.strip() == "---":
        raise ValueError("'---' starts a YAML document; give a YAML inventory a .yml name")
    names = expand_range(host) if "[" in host else [host]
    if len(names) > MAX_HOSTS_PER_LINE:
        raise ValueError(f"{pattern!r} expands to more than {MAX_HOSTS_PER_LINE} hosts")
    return names, port


def _split_port(pattern: str) -> tuple[str, int | None]:
    """Split ``host:port`` (colons inside range brackets do not count)."""
    bracketed = re.fullmatch(r"\[([^\]]+)\](?::(.*))?", pattern)
    if bracketed is not None and _is_ipv6(bracketed[1]):
        return bracketed[1], None if bracketed[2] is None else _port(bracketed[2], pattern)
    depth, colons = 0, []
    for at, char in enumerate(pattern):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == ":" and depth == 0:
            colons.append(at)
    if not colons:
        return pattern, None
    if len(colons) > 1 and _is_ipv6(re.sub(r"\[[0-9a-fA-F]+:[0-9a-fA-F]+(?::[0-9]+)?\]", "0",
                                           pattern)):
        return pattern, None  # an IPv6 address, ranges allowed: fe80::[a:c]
    if len(colons) > 1:
        raise ValueError(f"{pattern!r} has more than one ':'; write host:port, "
                         "or an IPv6 address as [address]:port")
    host, port = pattern[: colons[0]], pattern[colons[0] + 1:]
    if not port:
        raise ValueError(f"host pattern {pattern!r} ends in ':', which introduces a port; "
                         "add the port or remove the ':' (a YAML inventory needs a .yml name)")
    if not host:
        raise ValueError(f"host pattern {pattern!r} has no host name before the ':'")
    return host, _port(port, pattern)


def _port(text: str, pattern: str) -> int:
    if not text.isdecimal() or not 0 < int(text) < 65536:
        raise ValueError(f"the port in {pattern!r} must be a number 1..65535")
    return int(text)


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text.split("%")[0])
    except ValueError:
        return False
    return True


def expand_range(pattern: str) -> list[str]:
    """Expand every ``[begin:end]`` or ``[begin:end:step]`` range of ``pattern``, in order.

    Numeric ranges keep the start's zero padding (``[01:10]``; the end must be
    as wide); alphabetic ranges run over single letters (``[a:f]``).
    Raises ``ValueError`` for an unclosed bracket, a range without an end, a
    begin after the end, a zero or non-numeric step, or mixed letters and digits.
    """
    if "[" not in pattern:
        return [pattern]
    head, _, rest = pattern.partition("[")
    body, closed, tail = rest.partition("]")
    if not closed:
        raise ValueError(f"unclosed '[' in host range {pattern!r}")
    bounds = body.split(":")
    if len(bounds) not in (2, 3):
        raise ValueError(f"host range [{body}] must be [begin:end] or [begin:end:step]")
    begin, end = bounds[0] or "0", bounds[1]
    step_text = bounds[2] if len(bounds) == 3 else "1"
    if not end:
        raise ValueError(f"host range [{body}] has no end value")
    if not step_text.isdecimal() or int(step_text) == 0:
        raise ValueError(f"host range [{body}]: the step must be a positive number")
    step = int(step_text)
    letters = string.ascii_letters
    if len(begin) == 1 and len(end) == 1 and begin in letters and end in letters:
        first, last = letters.index(begin), letters.index(end)
        if first > last:
            raise ValueError(f"host range [{body}] begins after it ends")
        values = list(letters[first:last + 1:step])
    elif begin.isdecimal() and end.isdecimal():
        values = _numbers(begin, end, step, body)
    else:
        raise ValueError(f"host range [{body}] must be numbers ([01:10]) or single letters ([a:f])")
    out: list[str] = []
    for value in values:
        out.extend(expand_range(f"{head}{value}{tail}"))
        if len(out) > MAX_HOSTS_PER_LINE:
            break
    return out


def _numbers(begin: str, end: str, step: int, body: str) -> list[str]:
    """Return the numbers of a numeric range, padded as the start is."""
    width = len(begin) if begin.startswith("0") and len(begin) > 1 else 0
    if width and len(end) != width:
        raise ValueError(f"host range [{body}]: a zero-padded start needs an end as wide")
    first, last = int(begin), int(end)
    if first > last:
        raise ValueError(f"host range [{body}] begins after it ends")
    if (last - first) // step > MAX_HOSTS_PER_LINE:
        raise ValueError(f"host range [{body}] expands to more than {MAX_HOSTS_PER_LINE} hosts")
    return [str(n).zfill(width) for n in range(first, last + 1, step)]
