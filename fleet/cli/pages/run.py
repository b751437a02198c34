"""One run's page: the summary, the timeline, the canary's health during the bake (when
its log is at hand) and the per-host table."""

from __future__ import annotations

from fleet.cli.pages.health import health_section
from fleet.cli.pages.page import (
    clip,
    clock,
    document,
    esc,
    offset,
    outcome_badge,
    summary_list,
    took,
)
from fleet.cli.pages.timeline import bad_hosts, legend, timeline_svg
from fleet.runlog.healthlog import HealthRecord
from fleet.runlog.history import RunRecord
from fleet.runlog.timeline import Timeline


def run_page(record: RunRecord, timeline: Timeline, *, bake: HealthRecord | None = None,
             back: str | None = None) -> str:
    """The HTML page of one run (``bake``: the canary bake's sample log; ``back``: the
    site index, None for a page on its own)."""
    title = f"fleet {record.command} {record.playbook} — run {record.run_id}"
    statuses = {h.name: h.status for h in record.hosts.values()}
    body = [f"<h1>fleet {esc(record.command)} <code>{esc(record.playbook)}</code> "
            f"{outcome_badge(record.outcome)}</h1>\n", _summary(record, timeline),
            '<h2 id="timeline">Timeline</h2>\n', legend(),
            '<label><input type="checkbox" id="only-bad"> only hosts that went wrong</label>\n'
            f'<div class="tl">{timeline_svg(timeline, statuses)}</div>\n']
    if bake is not None and bake.points:
        body += ['<h2 id="bake">Canary health during the bake</h2>\n', health_section(bake)]
    body += ['<h2 id="hosts">Hosts</h2>\n', _hosts(record, timeline)]
    return document(title, body, back=back)


def _summary(record: RunRecord, timeline: Timeline) -> str:
    span = max(timeline.end - timeline.start, 0.001)
    items = [("run", f"<code>{esc(record.run_id)}</code>"),
             ("release", f"<code>{esc(record.release or '-')}</code>"),
             ("started", esc(clock(record.started or timeline.start))),
             ("took", esc(took(record.duration) if record.duration is not None
                          else f"unfinished (the log ends {took(span)} in)")),
             ("hosts", esc(f"{len(record.hosts)} ({record.tally()})"))]
    if timeline.bake is not None:
        start, end = timeline.bake
        items.append(("canary bake", esc(f"{took(end - start)} from "
                                         f"{offset(start - timeline.start, span)}")))
    if timeline.halt is not None or record.halt_reason:
        when = f"at {offset(timeline.halt.ts - timeline.start, span)}: " \
            if timeline.halt is not None else ""
        reason = timeline.halt.reason if timeline.halt is not None else record.halt_reason
        items.append(("halted", f'<span class="err">{esc(when + (reason or ""))}</span>'))
    if timeline.rollback is not None:
        count = len(timeline.rollback.hosts)
        spent = f", took {took(record.rollback_duration)}" \
            if record.rollback_duration is not None else ""
        items.append(("fleet-wide rollback", esc(
            f"{count} host{'s' if count != 1 else ''} from "
            f"{offset(timeline.rollback.ts - timeline.start, span)}{spent}")))
    if record.skipped_lines:
        items.append(("run log", esc(f"skipped {record.skipped()}")))
    return summary_list(items)


def _error(error: str | None, halt_reason: str | None) -> str:
    """A host's error for the table; the halt's reason, which every host rolled back
    for it repeats, is said once, in the summary."""
    if not error:
        return ""
    if halt_reason and error == f"rolled back: {halt_reason}":
        return "rolled back: the run halted (see halted above)"
    return clip(error, 400)


def _hosts(record: RunRecord, timeline: Timeline) -> str:
    """A row per host, in the timeline's order: batch, status, time, steps, error."""
    statuses = {h.name: h.status for h in record.hosts.values()}
    bad = bad_hosts(timeline, statuses)
    batch_of = {}
    for index, group in enumerate(timeline.groups):
        name = "canary" if index == 0 and timeline.canary else \
            f"batch {index}" if index < timeline.batched else "-"
        batch_of.update(dict.fromkeys(group, name))
    order = [*timeline.hosts, *(n for n in record.hosts if n not in batch_of)]
    rows = []
    for name in order:
        host = record.hosts.get(name)
        status = host.status if host else "unknown"
        why = bad.get(name)
        steps = " · ".join(f"{'✗ ' if not s.ok else ''}{s.step} {s.duration:.2f}"
                           for s in host.steps) if host else ""
        shown = f"✗ {status} (failed: {why})" if why else status
        error = _error(host.error if host else None, record.halt_reason)
        rows.append(f'<tr class="{"bad" if why else "ok"}" data-host="{esc(name)}">'
                    f"<td>{esc(name)}</td><td>{esc(batch_of.get(name, '-'))}</td>"
                    f'<td class="s-{esc(status)}">{esc(shown)}</td>'
                    f'<td class="n">{esc(took(host.duration) if host else "-")}</td>'
                    f'<td class="mono">{esc(steps)}</td><td class="err">{esc(error)}</td></tr>')
    return ('<table id="host-table"><thead><tr><th>host</th><th>batch</th>'
            "<th>status</th><th>took</th>"
            f"<th>steps (s)</th><th>error</th></tr></thead><tbody>{''.join(rows)}"
            "</tbody></table>\n")
