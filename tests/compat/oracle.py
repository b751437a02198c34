"""The reference: what ansible-core makes of inventories and patterns (run as a script).

Reads a JSON list of cases on stdin: ``{"id", "cwd", "sources": [...],
"patterns": [...]}``; writes one JSON object on stdout mapping each id to
``{"list": <ansible-inventory --list>, "patterns": {pattern: [hosts] | {"error": text}}}``
(``"list"`` is null where no inventory was parsed). One process for every
case: ansible is imported once. It runs Ansible's own code, unchanged:
``ansible-inventory --list`` (``InventoryCLI``) for the hosts, groups and
vars, and ``InventoryManager.subset`` + ``get_hosts`` (what ``--limit`` does)
for the patterns.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shlex
import subprocess
import sys
from typing import Any


def _inventory_list(sources: list[str], how: str = "--list") -> Any:
    """Run ``ansible-inventory --list`` (or ``--graph``) in this process; return what it prints.

    The CLI keeps two process-wide singletons (its parsed arguments, the vault
    secrets), which are reset before each run; the output is the same as the
    command's (checked case by case against ``ansible-inventory`` when this
    oracle was written).
    """
    from ansible.cli.inventory import InventoryCLI
    from ansible.parsing.vault import VaultSecretsContext
    from ansible.utils.context_objects import GlobalCLIArgs

    VaultSecretsContext._current = None
    GlobalCLIArgs._Singleton__instance = None
    argv = ["ansible-inventory", how]
    for source in sources:
        argv += ["-i", source]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        try:
            InventoryCLI(argv).run()
        except SystemExit as exc:  # run() ends with sys.exit(0) after printing
            if exc.code not in (0, None):
                return {"error": f"exit {exc.code}"}
        except Exception as exc:  # an inventory Ansible refuses outright
            return {"error": f"{type(exc).__name__}: {exc}"}
    return json.loads(out.getvalue()) if how == "--list" else out.getvalue().rstrip("\n")


def _select(sources: list[str], patterns: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the hosts ``--limit PATTERN`` selects, per pattern (Ansible's own subset),
    and each host's ``inventory_dir``."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader

    found: dict[str, Any] = {}
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        manager = InventoryManager(loader=DataLoader(), sources=sources)
        for pattern in patterns:
            try:
                manager.subset(pattern)
                found[pattern] = [h.name for h in manager.get_hosts("all")]
            except Exception as exc:
                found[pattern] = {"error": f"{type(exc).__name__}: {exc}"}
        folders = {h.name: h.vars.get("inventory_dir") for h in manager.get_hosts("all")}
    return found, folders


_OPTIONS = ("host", "port", "remote_user", "private_key_file", "ssh_args", "ssh_common_args",
            "ssh_extra_args")


def _settings(name: str, hostvars: dict[str, Any], folder: str | None) -> dict[str, Any]:
    """Return what Ansible's ssh connection plugin makes of a host's vars, and the jump
    that ssh itself reads from the command line Ansible builds (``ssh -G``)."""
    from ansible.playbook.play_context import PlayContext
    from ansible.plugins.loader import connection_loader

    connection = connection_loader.get("ssh", PlayContext(), io.StringIO())
    try:
        connection.set_options(var_options={"inventory_hostname": name, **hostvars})
    except Exception as exc:  # a value Ansible refuses when it connects (a port "x")
        return {"error": f"{type(exc).__name__}: {exc}", "connection": "?"}
    got: dict[str, Any] = {o: connection.get_option(o) for o in _OPTIONS}
    key = got["private_key_file"]
    if isinstance(key, str) and folder is not None:
        # What Ansible's templating makes of "{{ inventory_dir }}/x" when it connects.
        got["private_key_file"] = re.sub(r"^\{\{\s*inventory_dir\s*\}\}", folder, key)
    got["connection"] = hostvars.get("ansible_connection", "ssh")
    args: list[str] = []
    for option in ("ssh_args", "ssh_common_args", "ssh_extra_args"):
        with contextlib.suppress(ValueError):
            args += shlex.split(str(got[option] or ""))
    done = subprocess.run(["ssh", "-G", "-F", os.devnull, *args, "host.invalid"],
                          capture_output=True, text=True, timeout=30, check=False)
    jumps = [line.split(" ", 1)[1] for line in done.stdout.splitlines()
             if line.startswith("proxyjump ")]
    got["jump"] = jumps[0] if jumps else None
    got["ssh_g_ok"] = done.returncode == 0
    return got


def main() -> None:
    cases = json.load(sys.stdin)
    answers: dict[str, Any] = {}
    for case in cases:
        os.chdir(case["cwd"])
        inventory = _inventory_list(case["sources"])
        hostvars = inventory.get("_meta", {}).get("hostvars", {})
        names = {h for g, v in inventory.items() if g != "_meta" for h in v.get("hosts", [])}
        hostvars = {name: hostvars.get(name, {}) for name in sorted(names | set(hostvars))}
        selected, folders = _select(case["sources"], case.get("patterns", []))
        answers[case["id"]] = {
            "list": inventory,
            "settings": {h: _settings(h, v, folders.get(h)) for h, v in hostvars.items()},
            "patterns": selected,
            "graph": _inventory_list(case["sources"], "--graph"),
        }
    json.dump(answers, sys.stdout)


if __name__ == "__main__":
    main()
