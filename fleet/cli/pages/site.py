"""Logs to pages: one run's or one watch's page, and the static site of every log.

The site is a folder that needs no server::

    DIR/index.html            every run and health watch, newest first
    DIR/runs/<run_id>.html    a run's page (its canary bake's charts inside)
    DIR/monitor/<log>.html    a monitor's page (linking the run of its rollback)

Each file is written whole or not at all (a temporary file renamed into place).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fleet.cli.pages.health import monitor_page
from fleet.cli.pages.page import clock, document, esc, outcome_badge, took
from fleet.cli.pages.run import run_page
from fleet.runlog.healthlog import HealthRecord, is_health_log, read_health
from fleet.runlog.history import RunRecord, read_run
from fleet.runlog.timeline import Timeline, read_timeline

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunLog:
    """A run log read both ways: the record (statuses, errors) and the timeline."""

    record: RunRecord
    timeline: Timeline


def read_logs(path: Path) -> RunLog | HealthRecord:
    """Read a run log or a health watch's sample log (told apart by their records).

    Raises:
        OSError: the file cannot be read.
    """
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    if is_health_log(lines):
        record = read_health(lines, path.stem)
        if record.skipped_lines:
            log.warning("sample log %s: skipped %d damaged line(s)", path,
                        len(record.skipped_lines))
        return record
    run = read_run(lines, path.stem)
    if run.skipped_lines:
        log.warning("run log %s: skipped %s", path, run.skipped())
    return RunLog(run, read_timeline(lines))


def bake_of(monitors: Path, run_id: str) -> HealthRecord | None:
    """The canary bake's samples of run ``run_id`` (``<name>-bake-<run_id>.jsonl``), if
    a log of them is at hand and readable."""
    if not monitors.is_dir():
        return None
    for path in sorted(monitors.glob("*.jsonl")):
        if path.name.endswith(f"-bake-{run_id}.jsonl"):
            try:
                found = read_logs(path)
            except OSError:
                return None
            return found if isinstance(found, HealthRecord) else None
    return None


def page_of(found: RunLog | HealthRecord, monitors: Path, *, back: str | None = None,
            run_href: str | None = None) -> str:
    """The page of a log read by :func:`read_logs`."""
    if isinstance(found, HealthRecord):
        return monitor_page(found, back=back, run_href=run_href)
    return run_page(found.record, found.timeline, bake=bake_of(monitors, found.record.run_id),
                    back=back)


def write_page(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a file beside it renamed into
    place; mode as the umask makes it). The folder must exist.

    Raises:
        OSError: the folder cannot be written.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class _Entry:
    """One line of the index."""

    started: float
    name: str
    href: str | None
    command: str
    playbook: str
    release: str | None
    outcome: str
    hosts: str
    took: str


def write_site(runs: Path, monitors: Path, out: Path) -> int:
    """Write the site of every log in ``runs`` and ``monitors`` into ``out``; return how
    many logs it shows. A log that cannot be read is listed as ``unreadable``.

    Raises:
        OSError: ``out`` cannot be made or written.
    """
    for made in (out, out / "runs", out / "monitor"):
        made.mkdir(parents=True, exist_ok=True)
    run_logs = sorted(runs.glob("*.jsonl")) if runs.is_dir() else []
    known_runs = {p.stem for p in run_logs}
    health_logs = [p for p in (sorted(monitors.glob("*.jsonl")) if monitors.is_dir() else [])
                   if not _bake_of_known_run(p.stem, known_runs)]
    entries = []
    for path in [*run_logs, *health_logs]:
        folder = "runs" if path.stem in known_runs and path.parent == runs else "monitor"
        try:
            found = read_logs(path)
        except OSError as exc:
            log.warning("cannot read %s: %s", path, exc.strerror or exc)
            entries.append(_Entry(0.0, path.stem, None, "?", "?", None, "unreadable", "-", "-"))
            continue
        href = f"{folder}/{quote(path.stem)}.html"
        rollback_run = found.rollback.run_id if isinstance(found, HealthRecord) \
            and found.rollback is not None else None
        run_href = f"../runs/{quote(rollback_run)}.html" \
            if rollback_run and rollback_run in known_runs else None
        write_page(out / folder / f"{path.stem}.html",
                   page_of(found, monitors, back="../index.html", run_href=run_href))
        entries.append(_entry(found, path.stem, href))
    write_page(out / "index.html", _index(entries))
    return len(entries)


def _bake_of_known_run(stem: str, known_runs: set[str]) -> bool:
    """True for a bake's sample log whose run has a page (its charts are on it)."""
    _, bake, run_id = stem.rpartition("-bake-")
    return bool(bake) and run_id in known_runs


def _entry(found: RunLog | HealthRecord, name: str, href: str) -> _Entry:
    if isinstance(found, HealthRecord):
        return _Entry(found.started, name, href, found.purpose, found.playbook, found.release,
                      found.outcome(), f"{len(found.hosts)} ({found.rounds} rounds, "
                      f"{len(found.alerts)} alerts)", took(found.ended - found.started))
    run = found.record
    return _Entry(run.started or found.timeline.start, name, href, run.command, run.playbook,
                  run.release, run.outcome, f"{len(run.hosts)} ({run.tally()})",
                  took(run.duration))


def _index(entries: list[_Entry]) -> str:
    """The index page: every log, newest first."""
    rows = []
    for entry in sorted(entries, key=lambda e: (e.started, e.name), reverse=True):
        name = f'<a href="{esc(entry.href)}">{esc(entry.name)}</a>' if entry.href \
            else esc(entry.name)
        rows.append(f"<tr><td>{esc(clock(entry.started)) if entry.started else '-'}</td>"
                    f"<td class=\"mono\">{name}</td><td>{esc(entry.command)}</td>"
                    f"<td>{esc(entry.playbook)}</td><td class=\"mono\">"
                    f"{esc(entry.release or '-')}</td><td>{outcome_badge(entry.outcome)}</td>"
                    f'<td>{esc(entry.hosts)}</td><td class="n">{esc(entry.took)}</td></tr>')
    table = ("<table><thead><tr><th>started</th><th>run</th><th>command</th><th>playbook</th>"
             "<th>release</th><th>outcome</th><th>hosts</th><th>took</th></tr></thead>"
             f"<tbody>{''.join(rows)}</tbody></table>\n") if rows else \
        "<p>No runs yet: <code>fleet rollout</code> writes one to <code>.fleet/runs/</code>.</p>\n"
    return document("fleet runs", [f"<h1>fleet runs <small>({len(entries)})</small></h1>\n",
                                   table])
