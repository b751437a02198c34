"""The connection settings read from a host's vars, by their Ansible names.

Keys (aliases in brackets):

=========================  =====================================  ===================
setting                    keys                                   default
=========================  =====================================  ===================
address                    ansible_host [host, ansible_ssh_host]  the host's name
port                       ansible_port [port, ansible_ssh_port]  None (ssh decides)
user                       ansible_user [user, ansible_ssh_user]  None (ssh decides)
identity_file              ansible_ssh_private_key_file           None
                           [identity_file, ansible_private_key_file]
connection                 ansible_connection [connection]        ssh (or local)
known_hosts_file           known_hosts_file                       ~/.ssh/known_hosts
proxy_jump                 proxy_jump; or ``-J``/``-o ProxyJump``  None (ssh decides)
                           in ansible_ssh_common_args or
                           ansible_ssh_extra_args
become                     ansible_become [become]                false
become_user                ansible_become_user [become_user]      root
=========================  =====================================  ===================

The become password is never a setting: it comes from
``ansible_become_password``/``ansible_become_pass`` in the vars, the
``FLEET_BECOME_PASSWORD`` environment variable, or a prompt, and only ever
travels on the remote command's stdin. A password written as a number
(``123456``, typed as an int by YAML and INI alike) is the text written
(``password_as_written``).

"ssh decides": ``~/.ssh/config`` for the host's address, then ssh's own
default (see :mod:`fleet.transport.sshconfig`). Each vars mapping is read on
its own (``read_settings``); the mappings of a host are then merged by
precedence, and ``proxy_jump_of`` picks the jump: a ``proxy_jump`` var wins
over a jump in the ssh args, the common args over the extra args (a later
definition of the same var replaces it whole, as in Ansible). ``none`` is kept:
it tells the transport to ignore a ProxyJump in ssh config.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path

from fleet.inventory.sshargs import NO_JUMP, ProxyJump, proxy_jump_from_args

_SETTINGS = {
    "ansible_host": "address", "host": "address", "ansible_ssh_host": "address",
    "ansible_port": "port", "port": "port", "ansible_ssh_port": "port",
    "ansible_user": "user", "user": "user", "ansible_ssh_user": "user",
    "ansible_ssh_private_key_file": "identity_file", "identity_file": "identity_file",
    "ansible_private_key_file": "identity_file",
    "ansible_connection": "connection", "connection": "connection",
    "known_hosts_file": "known_hosts_file",
    "proxy_jump": "proxy_jump",
    "ansible_ssh_common_args": "common_args_jump",
    "ansible_ssh_extra_args": "extra_args_jump",
    "ansible_become": "become", "become": "become",
    "ansible_become_user": "become_user", "become_user": "become_user",
}
BECOME_PASSWORD_KEYS = ("ansible_become_password", "ansible_become_pass")
_ONE_WORD = ("address", "user", "become_user")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


class SettingError(ValueError):
    """A connection setting is bad; ``key`` is the var as written."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


def read_settings(values: Mapping[str, object], base: Path) -> dict[str, object]:
    """Return the typed connection settings found in one vars mapping.

    Relative paths resolve against ``base``. Jump settings become a ProxyJump
    value: ``none`` turns off a jump from ssh config; ``""`` (ssh args that
    name no jump) still replaces args set at a lower precedence.

    Raises ``SettingError`` for two aliases of one setting in the mapping or a
    bad value (a port that is not 1..65535, a connection other than ssh/local,
    a template, an empty or spaced host or user, a malformed jump host).
    """
    settings: dict[str, object] = {}
    first_key: dict[str, str] = {}
    for key, value in values.items():
        setting = _SETTINGS.get(key)
        if setting is None:
            continue
        if setting in first_key:
            raise SettingError(key, f"{first_key[setting]!r} and {key!r} both set {setting}; "
                                    "keep one")
        first_key[setting] = key
        try:
            settings[setting] = _setting(setting, value, base)
        except ValueError as exc:
            raise SettingError(key, str(exc)) from None
    return settings


def password_as_written(key: str, value: object, written: str | None) -> str | None:
    """Return a become password var as text: a string as it is, another scalar
    (``123456``, ``true``, ``1.50``) as ``written`` in the file, else as ``str``.

    Returns None for an empty value (no password set). Raises ``SettingError``
    for a list or a mapping, which cannot be a password.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list | dict):
        raise SettingError(key, f"expected the password as text, got a "
                                f"{'list' if isinstance(value, list) else 'mapping'}; quote it")
    return written if written is not None else str(value)


def _setting(setting: str, value: object, base: Path) -> object:
    """Return the typed value of one connection setting; raise ValueError if bad."""
    got = f"got {value!r}"
    if isinstance(value, str) and "{{" in value:
        raise ValueError(f"templates are not supported in connection settings; {got}")
    if setting == "port":
        if isinstance(value, str) and value.strip().isdecimal():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
            raise ValueError(f"expected a port number 1..65535, {got}")
        return value
    if setting == "become":
        text = str(value).strip().lower()
        if isinstance(value, bool) or text in _TRUE + _FALSE:
            return value if isinstance(value, bool) else text in _TRUE
        raise ValueError(f"expected true or false, {got}")
    if setting == "connection":
        if value not in ("ssh", "local"):
            raise ValueError(f"expected ssh or local, {got}")
        return value
    if setting.endswith("_args_jump"):
        if not isinstance(value, str):
            raise ValueError(f"expected ssh options as one string, {got}")
        jump = proxy_jump_from_args(value)
        return "" if jump is None else _jump(jump)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, {got}")
    if setting == "proxy_jump":
        return _jump(ProxyJump(value))
    if setting in _ONE_WORD:
        if len(value.split()) != 1:
            raise ValueError(f"expected one word without spaces, {got}")
        if setting == "address":
            _check_address(value.strip())
        return value.strip()
    if setting in ("identity_file", "known_hosts_file"):
        # An absolute (or ~) path stays as it is; normpath folds "inventory/../x".
        return Path(os.path.normpath(base / Path(value).expanduser()))
    return value


def _check_address(address: str) -> None:
    """Refuse ``user@host`` and ``host:port``: those parts have their own vars."""
    if "@" in address:
        raise ValueError(f"expected a host name or address, got {address!r}; put the user "
                         "in ansible_user")
    if ":" in address:
        try:
            ipaddress.IPv6Address(address.split("%")[0])
        except ValueError:
            raise ValueError(f"expected a host name or address, got {address!r}; put the port "
                             "in ansible_port") from None


def _jump(jump: ProxyJump) -> ProxyJump:
    """Return a parsed ProxyJump value, any spelling of no jump as ``none``."""
    return jump if jump.hops else NO_JUMP


def proxy_jump_of(settings: Mapping[str, object]) -> str | None:
    """Return the jump of merged settings: ``proxy_jump``, else the common, then extra args'."""
    if "proxy_jump" in settings:
        jump = settings["proxy_jump"]
    else:
        jump = settings.get("common_args_jump") or settings.get("extra_args_jump")
    return jump if isinstance(jump, str) and jump else None
