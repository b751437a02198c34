"""The run log: one JSON line per event, flushed as it happens, under ``.fleet/runs/``."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import IO

from fleet.events import Event


class Journal:
    """Appends events to ``<folder>/<run_id>.jsonl``; the audit trail of a run."""

    def __init__(self, folder: Path, run_id: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{run_id}.jsonl"
        self._file: IO[str] = self.path.open("a", encoding="utf-8")

    def emit(self, event: Event) -> None:
        """Write one event as a JSON line and flush it."""
        record = {"ts": round(time.time(), 3), "event": type(event).__name__,
                  **dataclasses.asdict(event)}
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the log file."""
        self._file.close()
