"""Rendering remote step scripts; all shell quoting happens here.

A remote step is one POSIX ``sh`` script: a prelude of helper functions, the
step's variables assigned from Python values with ``shlex.quote``, then the
step's body.  Scripts live in ``fleet/remote/sh/*.sh`` so they can be read and
linted as shell; nothing user-supplied is ever pasted into their text unquoted.

The script never travels on the command line (see :mod:`fleet.transport.base`):
every step sends the same fixed ``BOOTSTRAP`` command, which reads the same in
every login shell, and the script follows on stdin, ahead of the step's own
input (``Script.wire``). So no login shell parses it, ``ps`` on the host does
not show it, and its size is not bound by the argument limit.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import resources

from fleet.transport.base import Script

_VAR_OK = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


@cache
def _source(name: str) -> str:
    """The shell of ``fleet/remote/sh/<name>.sh`` without its comment lines and blank
    lines: they are for readers here, and each step would carry them (about 6 KB of
    the prelude's 13) to every host. So a quoted string in those files never spans
    a line that starts with ``#``.
    """
    text = resources.files("fleet.remote").joinpath("sh", f"{name}.sh").read_text(
        encoding="utf-8")
    return "".join(line for line in text.splitlines(keepends=True)
                   if line.strip() and not line.lstrip().startswith("#"))


def assign(name: str, value: str | int) -> str:
    """Return ``NAME='value'`` safe for any value (spaces, quotes, ``$()``, newlines).

    Raises:
        ValueError: the variable name is not upper-case letters, digits and ``_``.
    """
    if not name or not set(name) <= _VAR_OK or name[0].isdigit():
        raise ValueError(f"bad shell variable name {name!r}")
    return f"{name}={shlex.quote(str(value))}"


def indexed(prefix: str, values: Sequence[str | int]) -> list[str]:
    """Return assignments ``PREFIX_0=…``, ``PREFIX_1=…`` for a list of values."""
    return [assign(f"{prefix}_{i}", v) for i, v in enumerate(values)]


def render(
    name: str,
    variables: Mapping[str, str | int],
    extra: Sequence[str] = (),
    *,
    snippets: Sequence[str] = (),
    stdin: bytes | None = None,
    then: Sequence[str] = (),
) -> Script:
    """Render the script ``fleet/remote/sh/<name>.sh`` with its variables.

    ``extra`` holds already-quoted assignment lines (see :func:`indexed`);
    ``snippets`` are fleet's own shell fragments placed where the body says
    ``run_snippets`` is called (they reference variables only, never values);
    ``then`` names more bodies run after this one in the same script (a body
    that ends with ``exit`` stops them).
    """
    lines = [assign(k, v) for k, v in variables.items()]
    lines.extend(extra)
    snippet_fn = "run_snippets() {\n" + ("\n".join(snippets) or ":") + "\n}\n"
    bodies = [_source(part) for part in (name, *then)]
    text = "\n".join([f"# fleet step: {name}", *lines, _source("prelude"), snippet_fn, *bodies])
    return Script(name=name, text=text, stdin=stdin)
