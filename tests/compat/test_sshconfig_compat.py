"""fleet's ssh config lookups vs OpenSSH itself, case by case (``man ssh_config``, issue 12).

The reference is the ``ssh`` binary: ``ssh -G`` for HostName, Port, User,
ProxyJump, ProxyCommand, HostKeyAlias and IdentitiesOnly, and, for the
IdentityFile tokens (which ``ssh -G`` prints unexpanded), the identity files
``ssh -v`` reports loading, through ``ProxyCommand=true`` so that nothing is
contacted. Both of fleet's lookups are compared: ``ssh -G`` (the default)
and paramiko's parser (the fallback without ssh), whose known gaps are
listed in ``PARAMIKO_GAPS`` and must still differ (strict xfail: a gap that
closes fails the suite until the list and the README are updated).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from fleet.transport.sshlookup import (
    DEFAULT_KEYS,
    OpenSshLookup,
    ParamikoLookup,
    SshLookup,
    SshOptions,
)

SSH = shutil.which("ssh") or "ssh"
Query = tuple[str, int | None, str | None]


@dataclass(frozen=True)
class ConfigCase:
    """An ssh config (``$TMP`` is its folder), files it includes, and what to look up."""

    config: str
    queries: tuple[Query, ...]
    included: tuple[tuple[str, str], ...] = ()


CASES: dict[str, ConfigCase] = {
    "include": ConfigCase("Include $TMP/conf.d/*.conf\nHost *\n  User fallback\n",
                          (("web1", None, None), ("db1", None, None), ("other", None, None)),
                          (("conf.d/10-web.conf", "Host web*\n  User webuser\n  Port 2201\n"),
                           ("conf.d/20-db.conf", "Host db1\n  HostName 10.0.0.5\n"),
                           ("conf.d/notes.txt", "Host *\n  User never\n"))),
    "trailing_comments": ConfigCase(
        "Host a # a comment\n  User deploy # the user\n  Port 2222   # the port\n",
        (("a", None, None),)),
    "proxycommand_none_stops_a_later_jump": ConfigCase(
        "Host direct\n  ProxyCommand none\nHost own\n  ProxyCommand nc %h %p\n"
        "Host *\n  ProxyJump bastion\nHost bastion\n  ProxyJump none\n",
        (("direct", None, None), ("own", None, None), ("else", None, None))),
    "match_host_sees_hostname": ConfigCase(
        "Host alias\n  HostName real.example\nMatch host real.example\n  Port 2200\n"
        "Match originalhost alias\n  User orig\n",
        (("alias", None, None), ("real.example", None, None))),
    "match_user_sees_the_inventory_user": ConfigCase(
        "Match user bob\n  Port 2300\n  IdentityFile $TMP/bob_key\nHost *\n  Port 22\n",
        (("h", None, "bob"), ("h", None, "alice"), ("h", None, None))),
    "match_all_and_exec": ConfigCase(
        "Match exec \"true\"\n  User execed\nMatch exec \"false\"\n  Port 9\nMatch all\n"
        "  Port 2400\n", (("h", None, None),)),
    "identityfile_tokens": ConfigCase(
        "Host *\n  IdentityFile $TMP/keys/%r-%p-%n-%h-%%\n  IdentityFile ~/.ssh/%u_id\n"
        "Host t\n  HostName target.example\n",
        (("t", None, None), ("t", 2222, "deploy"), ("x", 22, "root"))),
    "host_brackets_are_literal": ConfigCase(
        "Host web[12]\n  User literal\nHost web?\n  User glob\n",
        (("web1", None, None), ("web[12]", None, None), ("webx", None, None))),
    "first_value_wins_and_negation": ConfigCase(
        "Host * !secret\n  User everyone\nHost secret\n  User hidden\n  Port 1022\n"
        "Host *\n  Port 2022\n  User late\n",
        (("public", None, None), ("secret", None, None), ("secret", 3000, "me"))),
    "hostname_token_and_jumps": ConfigCase(
        "Host *.lab\n  HostName %h.example.com\n  ProxyJump ops@gw1:2222,gw2\n"
        "  HostKeyAlias labhost\n  IdentitiesOnly yes\n",
        (("a.lab", None, None), ("b.lab", 2200, None))),
    "system_file_after_user_file": ConfigCase(
        "Host a\n  User fromuser\n",
        (("a", None, None), ("b", None, None)),
        (("system", "User fromsystem\nPort 2500\nHost b\n  User systemb\n"),)),
}

# Where paramiko's parser (the fallback without ssh) still differs from ssh (none known
# today; a case listed here must differ: strict xfail), and what it refuses outright.
PARAMIKO_GAPS: dict[str, str] = {}
PARAMIKO_REFUSES = {"match_all_and_exec": "Match exec needs OpenSSH's ssh"}


def write_case(root: Path, name: str) -> tuple[Path, Path | None]:
    """Write a case's files; return its config and, for the system-file case, the system file."""
    case = CASES[name]
    folder = root / name
    for relative, text in case.included:
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("$TMP", str(folder)), encoding="utf-8")
    config = folder / "config"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(case.config.replace("$TMP", str(folder)), encoding="utf-8")
    system = folder / "system" if name == "system_file_after_user_file" else None
    return config, system


def ssh_args(config: Path, query: Query) -> list[str]:
    host, port, user = query
    argv = ["-F", str(config)]
    if port is not None:
        argv += ["-p", str(port)]
    if user is not None:
        argv += ["-l", user]
    return [*argv, "--", host]


def reference(config: Path, query: Query) -> SshOptions:
    """What OpenSSH makes of the query: ``ssh -G``, and ``ssh -v``'s identity files."""
    shown = subprocess.run([SSH, "-G", *ssh_args(config, query)], capture_output=True,
                           text=True, check=True, timeout=30).stdout
    first: dict[str, str] = {}
    for line in shown.splitlines():
        key, _, value = line.partition(" ")
        first.setdefault(key, value)
    loaded = subprocess.run(
        [SSH, "-v", "-o", "BatchMode=yes", "-o", "ProxyCommand=true", *ssh_args(config, query)],
        capture_output=True, text=True, check=False, timeout=30, stdin=subprocess.DEVNULL).stderr
    keys = [line.split("identity file ", 1)[1].rsplit(" type ", 1)[0]
            for line in loaded.splitlines() if "identity file " in line]
    keys = [k for k in keys if not k.endswith("-cert")]
    defaults = [str(Path(k).expanduser()) for k in DEFAULT_KEYS]

    def proxy(key: str) -> str | None:
        value = first.get(key)
        return None if value is None or value == "none" else value

    command = proxy("proxycommand")
    if command is not None:  # ssh -G shows it unexpanded; ssh expands %h %p when it runs it
        command = command.replace("%h", first["hostname"]).replace("%p", first["port"])
    return SshOptions(
        hostname=first["hostname"], port=int(first["port"]), user=first["user"],
        identity_files=() if keys == defaults else tuple(keys),
        identities_only=first.get("identitiesonly") == "yes",
        proxy_jump=proxy("proxyjump"), proxy_command=command,
        host_key_alias=first.get("hostkeyalias"))


def combined(config: Path, system: Path | None) -> Path:
    """The user file then the system file, as ssh reads them, as one file for ``-F``:
    ``Match all`` ends the user file's last block, as the start of a new file does."""
    if system is None:
        return config
    both = config.with_name("both")
    both.write_text(config.read_text(encoding="utf-8") + f"\nMatch all\nInclude {system}\n",
                    encoding="utf-8")
    return both


def make_lookup(kind: str, config: Path, system: Path | None) -> SshLookup:
    if kind == "ssh -G":
        return OpenSshLookup(SSH, combined(config, system))
    return ParamikoLookup((config,) if system is None else (config, system))


def params() -> list[object]:
    found: list[object] = []
    for name in CASES:
        for kind in ("ssh -G", "paramiko"):
            marks = []
            if kind == "paramiko" and name in PARAMIKO_GAPS:
                marks.append(pytest.mark.xfail(reason=PARAMIKO_GAPS[name], strict=True))
            found.append(pytest.param(name, kind, id=f"{name}-{kind}", marks=marks))
    return found


@pytest.mark.parametrize(("name", "kind"), params())
def test_lookup_matches_openssh(tmp_path: Path, name: str, kind: str) -> None:
    config, system = write_case(tmp_path, name)
    if kind == "paramiko" and name in PARAMIKO_REFUSES:
        with pytest.raises(ValueError, match=PARAMIKO_REFUSES[name]) as refused:
            make_lookup(kind, config, system)
        assert "\n" not in str(refused.value)
        return
    lookup = make_lookup(kind, config, system)
    oracle_config = combined(config, system)
    diffs = []
    for query in CASES[name].queries:
        mine, theirs = lookup.lookup(*query), reference(oracle_config, query)
        if mine != theirs:
            diffs.append(f"{query}: fleet {mine} != ssh {theirs}")
    assert not diffs, "\n".join(diffs)


def test_a_config_ssh_refuses_is_one_line_before_any_host(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text("Host web1\n  Port seventy\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 2: Bad port") as refused:
        OpenSshLookup(SSH, config).lookup("web1", None, None)
    assert "\n" not in str(refused.value)
