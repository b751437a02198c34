"""Fleet's resolution next to Ansible's, host by host and pattern by pattern.

``run_oracle`` asks ansible-core (``oracle.py``, one process for every case);
``host_diffs`` and ``pattern_diff`` return what differs, as readable lines
(an empty list: equal).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fleet.errors import ConfigError
from fleet.inventory.limit import match_pattern
from fleet.inventory.model import Host, Inventory

ORACLE = Path(__file__).with_name("oracle.py")
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "compat_corpus"
_ARGS = ("ssh_args", "ssh_common_args", "ssh_extra_args")
_SSH_CONNECTIONS = {"ssh": "ssh", "smart": "ssh", "paramiko": "ssh", "paramiko_ssh": "ssh",
                    "local": "local"}


@dataclass(frozen=True)
class Case:
    """One inventory to compare: its ``-i`` arguments, the folder both run in, patterns."""

    id: str
    sources: tuple[str, ...]
    cwd: Path
    patterns: tuple[str, ...] = ()
    refused: str | None = None  # fleet refuses it: a substring of its one-line error
    notes: dict[str, str] = field(default_factory=dict)


def run_oracle(cases: list[Case], home: Path) -> dict[str, Any]:
    """Return ansible-core's answers for every case (see ``oracle.py``).

    Raises ``AssertionError`` if ansible-core is missing or the oracle fails:
    without the reference nothing is proven, so nothing passes.
    """
    request = [{"id": c.id, "cwd": str(c.cwd), "sources": list(c.sources),
                "patterns": list(c.patterns), "ansible_home": str(home)} for c in cases]
    home.mkdir(parents=True, exist_ok=True)
    config = home / "ansible.cfg"  # empty: Ansible's defaults, whatever ~/.ansible.cfg says
    config.write_text("", encoding="utf-8")
    env = {**os.environ, "ANSIBLE_HOME": str(home), "ANSIBLE_CONFIG": str(config),
           "ANSIBLE_NOCOLOR": "1"}
    done = subprocess.run([sys.executable, str(ORACLE)], input=json.dumps(request),
                          capture_output=True, text=True, env=env, timeout=900, check=False)
    assert done.returncode == 0, f"the ansible-core oracle failed: {done.stderr[-2000:]}"
    answers: dict[str, Any] = json.loads(done.stdout)
    return answers


def plain(value: object) -> object:
    """Return ``value`` as JSON gives it back (tuples as lists, keys as text)."""
    return json.loads(json.dumps(value, default=str))


def ansible_hosts(listed: Mapping[str, Any]) -> dict[str, set[str]]:
    """Return each host of an ``ansible-inventory --list`` with every group it is in."""
    children = {g: list(v.get("children", [])) for g, v in listed.items() if g != "_meta"}
    direct: dict[str, set[str]] = {h: set() for h in listed.get("_meta", {}).get("hostvars", {})}
    for group, value in listed.items():
        if group == "_meta":
            continue
        for host in value.get("hosts", []):
            direct.setdefault(host, set()).add(group)
    parents: dict[str, set[str]] = {}
    for parent, kids in children.items():
        for kid in kids:
            parents.setdefault(kid, set()).add(parent)
    result: dict[str, set[str]] = {}
    for host, groups in direct.items():
        found = {"all"}
        todo = list(groups)
        while todo:
            group = todo.pop()
            if group not in found:
                found.add(group)
                todo.extend(parents.get(group, ()))
        result[host] = found
    return result


def _fleet_settings(host: Host) -> dict[str, object]:
    jump, key = host.proxy_jump, host.identity_file
    return {"address": host.address, "port": host.port, "user": host.user,
            "key file": None if key is None else os.path.normpath(key),
            "connection": host.connection,
            "jump": None if jump is None or str(jump).lower() == "none" else str(jump)}


def _ansible_settings(got: Mapping[str, Any]) -> dict[str, object]:
    key = got["private_key_file"]
    port = got["port"]
    return {"address": str(got["host"]), "port": None if port is None else int(port),
            "user": got["remote_user"],
            "key file": None if key is None else os.path.normpath(os.path.expanduser(str(key))),
            "connection": _SSH_CONNECTIONS.get(str(got["connection"]), got["connection"]),
            "jump": got["jump"]}


def unusable(got: Mapping[str, Any], hostvars: Mapping[str, Any]) -> bool:
    """True if Ansible's settings hold something fleet refuses: a template or a connection
    fleet does not speak (what ``Host.refusal`` is for)."""
    if "error" in got or got["connection"] not in _SSH_CONNECTIONS or not got["ssh_g_ok"]:
        return True
    if "proxycommand" in " ".join(str(got[o]) for o in _ARGS).lower():
        return True
    return any("{{" in str(v) for v in got.values())


def host_diffs(inventory: Inventory, answer: Mapping[str, Any]) -> list[str]:
    """Return every difference between fleet's hosts and Ansible's (empty: none)."""
    listed = answer["list"]
    theirs = ansible_hosts(listed)
    diffs: list[str] = []
    ours = {h.name: h for h in inventory.hosts}
    if set(ours) != set(theirs):
        diffs.append(f"hosts: fleet-only {sorted(set(ours) - set(theirs))}, "
                     f"ansible-only {sorted(set(theirs) - set(ours))}")
    for name in sorted(set(ours) & set(theirs)):
        host = ours[name]
        if set(host.groups) != theirs[name]:
            diffs.append(f"{name}: groups {sorted(host.groups)} != {sorted(theirs[name])}")
        hostvars = listed.get("_meta", {}).get("hostvars", {}).get(name, {})
        if plain(dict(host.vars)) != plain(hostvars):
            diffs.append(f"{name}: vars {plain(dict(host.vars))} != {plain(hostvars)}")
        got = answer["settings"][name]
        if host.refusal is not None or unusable(got, hostvars):
            if host.refusal is None or not unusable(got, hostvars):
                diffs.append(f"{name}: fleet refusal {host.refusal} but Ansible settings {got}")
            continue
        mine, ansible = _fleet_settings(host), _ansible_settings(got)
        if mine != ansible:
            diffs.append(f"{name}: settings {mine} != {ansible}")
    return diffs


def pattern_diff(inventory: Inventory, pattern: str, answer: object) -> str | None:
    """Return how fleet's selection for ``pattern`` differs from Ansible's, or None.

    Ansible selecting nothing (it warns) or failing must be a ``ConfigError``
    in fleet (exit 2); otherwise the same hosts.
    """
    try:
        ours: list[str] | str = match_pattern(inventory, pattern) or "refused: selects no host"
    except ConfigError as exc:
        ours = f"refused: {exc.render()}"
    theirs = answer if isinstance(answer, list) else []
    if not theirs:
        return None if isinstance(ours, str) else f"{pattern!r}: fleet {ours}, Ansible none"
    if isinstance(ours, str) or set(ours) != set(theirs):
        return f"{pattern!r}: fleet {ours}, Ansible {theirs}"
    return None
