"""``--check --diff`` for people: each file's unified diff (coloured on a terminal)
or its one-line note, on stderr; a diff found on many hosts is shown once.

Whatever the host's file holds is shown, never obeyed: control characters
(an escape sequence, a carriage return) are written as escapes.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from fleet.results import FileDiff, RunResult
from fleet.verbs.diff import shown

_LINE_STYLE = {"+": "green", "-": "red", "@": "cyan"}
_NAMED = 8  # hosts named per diff; the rest are counted


def show_diffs(result: RunResult, console: Console) -> None:
    """Print each distinct diff once, naming the hosts it is found on (a big fleet
    mostly holds the same few versions of a file)."""
    hosts_of: dict[FileDiff, list[str]] = {}
    for host in result.hosts:
        for entry in host.diffs or ():
            hosts_of.setdefault(entry, []).append(host.name)
    for entry, hosts in hosts_of.items():
        shown_hosts = ", ".join(hosts[:_NAMED]) + (
            f" and {len(hosts) - _NAMED} more" if len(hosts) > _NAMED else "")
        console.print(Text(f"── {shown(entry.path)} on {shown_hosts}", style="bold magenta"),
                      soft_wrap=True)
        _show(entry, console)


def _show(entry: FileDiff, console: Console) -> None:
    if entry.mode:
        console.print(Text(f"mode {entry.mode}", style="yellow"))
    if entry.diff is None:
        console.print(Text(f"{entry.note}: {entry.detail}", style="yellow"))
        return
    for line in entry.diff.removesuffix("\n").split("\n"):  # lines end at \n only
        style = "bold" if line.startswith(("--- ", "+++ ")) else _LINE_STYLE.get(line[:1], "")
        console.print(Text(shown(line, tabs=True), style=style), soft_wrap=True)
