"""The run log: one JSON line per event, flushed as it happens, under ``.fleet/runs/``.

Run logs name hosts, errors and command output, so they are private to the
user whatever the umask: files ``0600``, the folders fleet makes ``0700``
(:func:`open_private`, also used for the monitor's sample logs).
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import time
from pathlib import Path
from typing import IO

from fleet.events import Event

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def make_private_folder(folder: Path, *, tighten: bool = False) -> None:
    """Create ``folder`` and any missing parents with mode ``0700``.

    With ``tighten`` an existing ``folder`` (fleet's own, such as ``.fleet/runs``
    made by an older version) loses its group and other permissions too.
    Raises ``OSError`` if a folder cannot be made or changed.
    """
    missing: list[Path] = []
    for parent in (folder, *folder.parents):
        if parent.exists():
            break
        missing.append(parent)
    for parent in reversed(missing):
        try:
            parent.mkdir(mode=FOLDER_MODE)
        except FileExistsError:  # made meanwhile by another process
            continue
        os.chmod(parent, FOLDER_MODE)  # mkdir's mode is cut by the umask only: make sure
    if tighten and stat.S_IMODE(folder.stat().st_mode) & 0o077:
        os.chmod(folder, FOLDER_MODE)


def open_private(path: Path, *, tighten_folder: bool = False) -> IO[str]:
    """Open ``path`` for appending text, creating it ``0600`` and its folders ``0700``.

    A file that already exists keeps its mode. Raises ``OSError`` if the
    folder or the file cannot be made or opened.
    """
    make_private_folder(path.parent, tighten=tighten_folder)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        return os.fdopen(fd, "a", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise


class Journal:
    """Appends events to ``<folder>/<run_id>.jsonl``; the audit trail of a run.

    The log is ``0600`` and ``folder`` ``0700``. Raises ``OSError`` if the
    log cannot be created.
    """

    def __init__(self, folder: Path, run_id: str) -> None:
        self.path = folder / f"{run_id}.jsonl"
        self._file: IO[str] = open_private(self.path, tighten_folder=True)

    def emit(self, event: Event) -> None:
        """Write one event as a JSON line and flush it."""
        record = {"ts": round(time.time(), 3), "event": type(event).__name__,
                  **dataclasses.asdict(event)}
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the log file."""
        self._file.close()
