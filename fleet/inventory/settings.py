"""The connection settings read from a host's merged vars, by Ansible's names only.

=========================  ===========================================  ===================
setting                    keys (a later key wins where both are set)   default
=========================  ===========================================  ===================
address                    ansible_host, ansible_ssh_host               the host's name
port                       ansible_port, ansible_ssh_port               None (ssh decides)
user                       ansible_user, ansible_ssh_user               None (ssh decides)
identity_file              ansible_private_key_file,                    None
                           ansible_ssh_private_key_file
connection                 ansible_connection (ssh, smart, paramiko,    ssh
                           paramiko_ssh: ssh; local)
known_hosts_file           known_hosts_file, fleet_known_hosts_file     ~/.ssh/known_hosts
proxy_jump                 ``-J``/``-o ProxyJump`` in ansible_ssh_args,  None (ssh decides)
                           then ansible_ssh_common_args, then
                           ansible_ssh_extra_args (the first found wins,
                           as on ssh's command line Ansible builds)
become                     ansible_become                               false
become_user                ansible_become_user                          root
=========================  ===========================================  ===================

As in Ansible (``MAGIC_VARIABLE_MAPPING``, the ssh plugin's options), the
legacy ``ansible_ssh_host``/``_port``/``_user``/``_private_key_file`` win over
``ansible_host`` etc. wherever both are in a host's merged vars, whatever the
precedence of the places that set them. Plain ``host``, ``port``, ``user``
are ordinary variables (role vars use these names), never connection settings.
Relative key and known_hosts paths are relative to the working directory, as
ssh reads them from Ansible's command line; a path may start with
``{{ inventory_dir }}`` (the folder of the inventory file that first names
the host), Ansible's way to keep a key next to its inventory. Every other
template is refused.

The become password is never a setting: it comes from
``ansible_become_password``/``ansible_become_pass`` in the vars, the
``FLEET_BECOME_PASSWORD`` environment variable, or a prompt, and only ever
travels on the remote command's stdin. A password written as a number
(``123456``, typed as an int by YAML and INI alike) is the text written
(``password_as_written``).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fleet.inventory.sshargs import NO_JUMP, ProxyJump, proxy_jump_from_args

ADDRESS_KEYS = ("ansible_host", "ansible_ssh_host")
PORT_KEYS = ("ansible_port", "ansible_ssh_port")
USER_KEYS = ("ansible_user", "ansible_ssh_user")
KEY_FILE_KEYS = ("ansible_private_key_file", "ansible_ssh_private_key_file")
KNOWN_HOSTS_KEYS = ("known_hosts_file", "fleet_known_hosts_file")
ARGS_KEYS = ("ansible_ssh_args", "ansible_ssh_common_args", "ansible_ssh_extra_args")
BECOME_PASSWORD_KEYS = ("ansible_become_password", "ansible_become_pass")
SSH_CONNECTIONS = ("ssh", "smart", "paramiko", "paramiko_ssh")
SETTING_KEYS = (*ADDRESS_KEYS, *PORT_KEYS, *USER_KEYS, *KEY_FILE_KEYS, *KNOWN_HOSTS_KEYS,
                *ARGS_KEYS, "ansible_connection", "ansible_become", "ansible_become_user")
"""Every var :func:`read_settings` reads: the settings depend on these alone."""
_INVENTORY_DIR = re.compile(r"^\{\{\s*inventory_dir\s*\}\}(?=/|$)")
_TRUE = ("true", "yes", "on", "1", "y", "t")
_FALSE = ("false", "no", "off", "0", "n", "f")


class SettingError(ValueError):
    """A connection setting is bad; ``key`` is the var as written."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


@dataclass(frozen=True)
class Settings:
    """A host's connection settings; None where its vars set nothing."""

    address: str | None = None
    port: int | None = None
    user: str | None = None
    identity_file: Path | None = None
    connection: Literal["ssh", "local"] = "ssh"
    known_hosts_file: Path | None = None
    proxy_jump: ProxyJump | None = None
    become: bool = False
    become_user: str | None = None


def winning_key(values: Mapping[str, object], keys: tuple[str, ...]) -> str | None:
    """Return the last of ``keys`` present in ``values`` (Ansible's winner), else None."""
    found = [key for key in keys if key in values]
    return found[-1] if found else None


def read_settings(values: Mapping[str, object], inventory_dir: Path | None) -> Settings:
    """Return the connection settings of one host's merged vars.

    Raises ``SettingError`` naming the winning key for a bad value: a port
    that is not 1..65535, a connection fleet does not speak (only ssh and
    local), a template (``{{ }}``: fleet does not template), an empty or
    spaced host or user, ``user@host`` or ``host:port`` in the host, a
    malformed jump host or a ProxyCommand in the ssh args.
    """
    return Settings(
        address=_text(values, ADDRESS_KEYS, address=True),
        port=_port(values),
        user=_text(values, USER_KEYS),
        identity_file=_path(values, KEY_FILE_KEYS, inventory_dir),
        connection=_connection(values),
        known_hosts_file=_path(values, KNOWN_HOSTS_KEYS, inventory_dir),
        proxy_jump=_proxy_jump(values),
        become=_become(values),
        become_user=_text(values, ("ansible_become_user",)),
    )


def _value(values: Mapping[str, object], keys: tuple[str, ...],
           inventory_dir: Path | None = None) -> tuple[str, object] | None:
    key = winning_key(values, keys)
    if key is None:
        return None
    value = values[key]
    if isinstance(value, str) and inventory_dir is not None and _INVENTORY_DIR.match(value):
        value = os.path.normpath(_INVENTORY_DIR.sub(lambda _: str(inventory_dir), value))
    if isinstance(value, str) and "{{" in value:
        raise SettingError(key, f"templates are not supported in connection settings; got "
                                f"{value!r}: write the value itself")
    return key, value


def _text(values: Mapping[str, object], keys: tuple[str, ...], *, address: bool = False
          ) -> str | None:
    found = _value(values, keys)
    if found is None:
        return None
    key, value = found
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # ansible_host: 10 or a user named 1000 are text to ssh
    if not isinstance(value, str) or not value.strip() or len(value.split()) != 1:
        raise SettingError(key, f"expected one word without spaces, got {value!r}")
    if address:
        _check_address(key, value.strip())
    return value.strip()


def _port(values: Mapping[str, object]) -> int | None:
    found = _value(values, PORT_KEYS)
    if found is None:
        return None
    key, value = found
    if isinstance(value, str) and value.strip().isdecimal():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 65536:
        raise SettingError(key, f"expected a port number 1..65535, got {value!r}")
    return value


def _path(values: Mapping[str, object], keys: tuple[str, ...],
          inventory_dir: Path | None) -> Path | None:
    found = _value(values, keys, inventory_dir)
    if found is None:
        return None
    key, value = found
    if not isinstance(value, str) or not value.strip():
        raise SettingError(key, f"expected a file path, got {value!r}")
    return Path(value).expanduser()  # relative: to the working directory, as ssh reads it


def _connection(values: Mapping[str, object]) -> Literal["ssh", "local"]:
    found = _value(values, ("ansible_connection",))
    if found is None:
        return "ssh"
    key, value = found
    if value == "local":
        return "local"
    if value in SSH_CONNECTIONS:
        return "ssh"
    raise SettingError(key, f"fleet connects with ssh or local only, got {value!r}; "
                            "leave such hosts out with --limit")


def _become(values: Mapping[str, object]) -> bool:
    found = _value(values, ("ansible_become",))
    if found is None:
        return False
    key, value = found
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE + _FALSE:
        return text in _TRUE
    raise SettingError(key, f"expected true or false, got {value!r}")


def _proxy_jump(values: Mapping[str, object]) -> ProxyJump | None:
    """Return the jump of the ssh command line Ansible builds from the three args vars."""
    texts: list[str] = []
    for key in ARGS_KEYS:
        value = values.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise SettingError(key, f"expected ssh options as one string, got {value!r}")
        if "{{" in value:
            raise SettingError(key, f"templates are not supported in connection settings; "
                                    f"got {value!r}: write the value itself")
        texts.append(value)
    try:
        jump = proxy_jump_from_args(texts)
    except ValueError as exc:
        key = [k for k in ARGS_KEYS if values.get(k) is not None][-1]
        raise SettingError(key, str(exc)) from None
    if jump is None:
        return None
    return jump if jump.hops else NO_JUMP


def _check_address(key: str, address: str) -> None:
    """Refuse ``user@host`` and ``host:port``: those parts have their own vars."""
    if "@" in address:
        raise SettingError(key, f"expected a host name or address, got {address!r}; put the "
                                "user in ansible_user")
    if ":" in address:
        try:
            ipaddress.IPv6Address(address.split("%")[0])
        except ValueError:
            raise SettingError(key, f"expected a host name or address, got {address!r}; put "
                                    "the port in ansible_port") from None


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
