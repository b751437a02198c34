"""What ``fleet history`` and ``fleet report`` do: read the run and monitor logs
and present them (Markdown, JSON, JUnit, HTML pages, a static site).

Imported only when one of these commands runs, so a rollout never loads the
page renderers.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from fleet.cli.commands import MONITOR_DIR, RUNS_DIR, _console, _guard, _raise
from fleet.cli.export import to_junit
from fleet.cli.pages.site import RunLog, page_of, read_logs, write_page, write_site
from fleet.cli.report import history_table
from fleet.errors import ConfigError
from fleet.runlog.healthlog import HealthRecord, health_markdown
from fleet.runlog.history import find_log, list_runs, to_markdown

_T = TypeVar("_T")


def history(as_json: bool, last: int) -> None:
    """``fleet history``: see :func:`fleet.cli.main.history_cmd`."""
    runs = list_runs(RUNS_DIR)[-last:]
    if as_json:
        rows = [{k: v for k, v in r.to_json().items() if k != "hosts"} | {"hosts": r.tally()}
                for r in runs]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False) + "\n")
        return
    history_table(runs, _console(stderr=False))


def report(run_id: str | None, fmt: str, junit: Path | None, *, html: Path | None = None,
           site: Path | None = None) -> None:
    """``fleet report``: see :func:`fleet.cli.main.report_cmd`."""
    if site is not None:
        if run_id or junit or html:
            _guard(lambda: _raise(ConfigError(
                "--site writes a page for every run: give it without RUN_ID, --junit or --html",
                file="fleet report")))
        count = _guard(lambda: _writing(site, "--site",
                                        lambda: write_site(RUNS_DIR, MONITOR_DIR, site)))
        _console(stderr=True).print(f"wrote {site / 'index.html'}: {count} run(s) and "
                                    "monitor log(s)", markup=False, soft_wrap=True)
        return
    if not run_id:
        _guard(lambda: _raise(ConfigError("give a RUN_ID (see `fleet history`) or --site DIR",
                                          file="fleet report")))
        return
    path = _guard(lambda: find_log(RUNS_DIR, MONITOR_DIR, run_id))
    found = _guard(lambda: _reading(path))
    if html is not None:
        _guard(lambda: _writing(html, "--html",
                                lambda: write_page(html, page_of(found, MONITOR_DIR))))
    if isinstance(found, HealthRecord):
        if junit is not None:
            _guard(lambda: _raise(ConfigError(
                f"{path.stem} is a monitor log: JUnit is for runs (rollout, rollback, recover)",
                file="--junit")))
        text = json.dumps(found.to_json(), ensure_ascii=False) + "\n" if fmt == "json" \
            else health_markdown(found)
        sys.stdout.write(text)
        return
    record = found.record
    if junit is not None:
        _guard(lambda: _writing(junit, "--junit",
                                lambda: junit.write_text(to_junit(record), encoding="utf-8")))
    if fmt == "json":
        sys.stdout.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(to_markdown(record))


def _reading(path: Path) -> RunLog | HealthRecord:
    """Read a run or sample log; one that cannot be read is a ConfigError naming it."""
    try:
        return read_logs(path)
    except OSError as exc:
        raise ConfigError(f"cannot read it: {exc.strerror or exc}", file=str(path)) from None


def _writing(where: Path, option: str, write: Callable[[], _T]) -> _T:
    """Run ``write``; a file or folder that cannot be written is a ConfigError naming it."""
    try:
        return write()
    except OSError as exc:
        raise ConfigError(f"cannot write {where}: {exc.strerror or exc}", file=option) from None
