"""What every step of one run on one deployment needs to know."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fleet.config.playbook import Check
from fleet.config.release import Release
from fleet.remote.liveness import Owner, lease_until, this_controller
from fleet.remote.script import assign, indexed

# Room for staging plus the backup copies, and some slack for the filesystem.
_SLACK_KB = 64


@dataclass(frozen=True)
class DeployContext:
    """The run-wide facts a step renders into its script.

    ``target`` is the playbook's target as written (``~/…`` is expanded on the
    host); ``run_id`` keys the lock, the backup and the staging folder.
    """

    name: str
    target: str
    run_id: str
    release: Release
    checks: tuple[Check, ...] = ()
    keep: int = 5
    command_timeout: float = 120.0
    owner: Owner | None = None
    """The controller that holds the run's locks (None: this process)."""
    now: float | None = None
    """The controller's clock for leases and commit times (None: ``time.time()``
    at each render); frozen only to render scripts deterministically, as in tests."""

    def base_vars(self) -> dict[str, str | int]:
        """Variables every script needs: the deployment, the run, and the lock's
        owner and lease (see :mod:`fleet.remote.liveness`), renewed with every step."""
        return {"NAME": self.name, "TARGET": self.target, "RUN": self.run_id,
                "RELEASE": self.release.id, **lock_vars(self.command_timeout, self.owner, self.now)}

    def file_vars(self) -> list[str]:
        """``N``, ``F_i`` (names), ``H_i`` (sha256), ``M_i`` (octal modes), ``ND``, ``D_j``."""
        files = self.release.files
        dirs = self.release.dirs()
        return [
            assign("N", len(files)),
            *indexed("F", [f.name for f in files]),
            *indexed("H", [f.sha256 for f in files]),
            *indexed("M", [format(f.mode, "o") for f in files]),
            assign("ND", len(dirs)),
            *indexed("D", list(dirs)),
            *list_vars(len(files)),
            assign("WANT_H", "\n".join(f.sha256 for f in files)),
            assign("WANT_M", "\n".join(format(f.mode, "o") for f in files)),
        ]

    def need_kb(self) -> int:
        """Free space the host must have, in KiB (staging + backup + slack)."""
        return 2 * (self.release.total_size // 1024 + len(self.release.files)) + _SLACK_KB

    def file_name(self, index: int) -> str:
        """Return the release file at ``index``, for messages (tolerates bad indexes)."""
        files = self.release.files
        return files[index].name if 0 <= index < len(files) else f"#{index}"

    def dir_name(self, index: int) -> str:
        """Return the release folder at ``index``, for messages."""
        dirs = self.release.dirs()
        return dirs[index] if 0 <= index < len(dirs) else f"#{index}"


def lock_vars(command_timeout: float, owner: Owner | None = None,
              now: float | None = None) -> dict[str, str | int]:
    """``OWNER`` (the controller, by default this one) and ``LEASE`` (until when
    the run counts as live on the host, from ``now``, by default the clock) for a
    script that takes or holds a lock."""
    return {"OWNER": (owner or this_controller()).line(),
            "LEASE": lease_until(time.time() if now is None else now, command_timeout)}


def list_vars(count: int) -> list[str]:
    """``FB_i`` (each file's last name part) and word lists for ``eval "set --
    …"``: every release file under folder ``$_dir`` by name (``ALL_NAMED``), as
    staged, ``i/BASENAME`` (``ALL_INDEXED``), and one slot ``i`` per file
    (``ALL_SLOTS``). Built here, a script gets the
    whole argument list in one step: adding one argument at a time costs a
    shell time quadratic in the number of files. The lists hold variable
    references only, never values."""
    named = " ".join(f'"$_dir/$F_{i}"' for i in range(count))
    staged = " ".join(f'"$_dir/{i}/$FB_{i}"' for i in range(count))
    slots = " ".join(f'"$_dir/{i}"' for i in range(count))
    bases = [f'FB_{i}=${{F_{i}##*/}}' for i in range(count)]
    return [*bases, assign("ALL_NAMED", named), assign("ALL_INDEXED", staged),
            assign("ALL_SLOTS", slots)]
