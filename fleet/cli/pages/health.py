"""A health watch as a page: each host's values over time against the warn and
critical lines, the alerts, and the rollback the monitor started.

One row per host, one small chart per check, all on one time axis. A check
with a value (access time, memory) is a line with its warn (dashed) and
critical (solid) levels; a pass-or-fail check is a strip whose bars grow with
the level (ok short, warn half, critical full), so both read without colour.
An alert is a vertical mark labelled ``!`` (warn), ``‼`` (critical), ``✓``
(back to ok) or ``?`` (not read); a sample that could not be read is ``×``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from fleet.cli.pages.page import (
    Axis,
    clip,
    clock,
    document,
    esc,
    offset,
    outcome_badge,
    summary_list,
    took,
)
from fleet.runlog.healthlog import CheckLimits, HealthPoint, HealthRecord, LevelChange

CHART_W = 420
CHART_H = 44
PAD = 4
GLYPH = {"ok": "✓", "warn": "!", "critical": "‼", "error": "?", "unreachable": "?"}


def _key(shape: str, label: str) -> str:
    return f'<span><svg width="22" height="12" aria-hidden="true">{shape}</svg>{label}</span>'


LEGEND = ('<div class="legend">'
          + _key('<line class="val" x1="0" x2="22" y1="6" y2="6"/>', "value")
          + _key('<line class="lim-w" x1="0" x2="22" y1="6" y2="6"/>', "warn level (dashed)")
          + _key('<line class="lim-c" x1="0" x2="22" y1="6" y2="6"/>', "critical level (solid)")
          + _key('<path class="pt-w" d="M11 2l4 7h-8z"/>', "warn sample")
          + _key('<path class="pt-c" d="M7.5 2.5h7v7h-7z"/>', "critical sample")
          + _key('<path class="pt-u" d="M8 3l6 6m0 -6l-6 6"/>', "not read")
          + _key('<text x="4" y="10">!‼✓</text>', "alert: to warn, critical, ok")
          + _key('<rect class="rbband" width="22" height="12"/>', "fleet-wide rollback")
          + "</div>\n")


def monitor_page(record: HealthRecord, *, back: str | None = None,
                 run_href: str | None = None) -> str:
    """The page of one monitor (or bake) log; ``run_href`` links the rollback's run."""
    what = "canary bake" if record.purpose == "bake" else "monitor"
    title = f"fleet {what} {record.playbook} — {record.log_id}"
    body = [f"<h1>fleet {esc(what)} <code>{esc(record.playbook)}</code> "
            f"{outcome_badge(record.outcome())}</h1>\n", _summary(record, run_href),
            "<h2>Health over time</h2>\n", health_section(record),
            _alerts(record)]
    return document(title, body, back=back)


def _summary(record: HealthRecord, run_href: str | None) -> str:
    items = [("log", f"<code>{esc(record.log_id)}</code>"),
             ("release", f"<code>{esc(record.release or '-')}</code>"),
             ("started", esc(clock(record.started))),
             ("watched for", esc(took(record.ended - record.started))),
             ("hosts", esc(f"{len(record.hosts)} ({_tally(record)})")),
             ("rounds", esc(record.rounds)),
             ("alerts", esc(len(record.alerts)))]
    for check in record.checks:
        if check.warn is not None:
            items.append((f"check {check.label}",
                          esc(f"warn above {check.warn:g} {check.unit or ''}, critical above "
                              f"{check.critical:g} {check.unit or ''}")))
    if record.rollback is not None:
        run = record.rollback.run_id or "?"
        link = f'<a href="{esc(run_href)}">{esc(run)}</a>' if run_href else \
            f"<code>{esc(run)}</code>"
        items.append(("rolled back", f"{esc(record.rollback.reason)} — run {link}, "
                                     f"{esc(record.rollback.outcome or '?')}"))
    if record.run_id and record.purpose == "bake":
        items.append(("rollout", f"<code>{esc(record.run_id)}</code>"))
    if record.skipped_lines:
        items.append(("log", esc(f"skipped {len(record.skipped_lines)} damaged line(s)")))
    return summary_list(items)


def _tally(record: HealthRecord) -> str:
    counts: dict[str, int] = {}
    for level in record.last_levels().values():
        counts[level] = counts.get(level, 0) + 1
    return ", ".join(f"{n} {level}" for level, n in sorted(counts.items())) or "none"


def health_section(record: HealthRecord) -> str:
    """The table of charts: a row per host, a chart per check, one time axis."""
    axis = Axis(record.started, max(record.ended, record.started + 0.001), 0, CHART_W)
    alerts_of: dict[str, list[LevelChange]] = {}
    for alert in record.alerts:
        alerts_of.setdefault(alert.host, []).append(alert)
    tops = {c.label: _top(record, c) for c in record.checks}
    heads = "".join(f"<th>{esc(_check_title(record, c))}<br>{_axis(record, axis)}</th>"
                    for c in record.checks)
    rows = []
    for host in record.hosts:
        points = record.points.get(host, [])
        last = points[-1].level if points else "unknown"
        mine = alerts_of.get(host, [])
        css = "bad" if mine or last not in ("ok", "unknown") else "ok"
        charts = "".join(f"<td>{_chart(host, c, points, mine, axis, tops[c.label], record)}"
                         "</td>" for c in record.checks)
        rows.append(f'<tr class="{css}" data-host="{esc(host)}"><td>{esc(host)}</td>'
                    f'<td class="s-{esc(last)}">{esc(GLYPH.get(last, ""))} {esc(last)}</td>'
                    f'<td class="n">{len(mine)}</td>{charts}</tr>')
    return (f'{LEGEND}<label><input type="checkbox" id="only-bad"> only hosts with alerts or '
            'not ok now</label>\n<table class="health"><thead><tr><th>host</th><th>now</th>'
            f'<th>alerts</th>{heads}</tr></thead><tbody>{"".join(rows)}</tbody></table>\n')


def _measured(record: HealthRecord, check: CheckLimits) -> bool:
    """True for a check with a unit, or (in a log without units) with values read."""
    return check.unit is not None or (not record.described and any(
        p.values.get(check.label) is not None for pts in record.points.values() for p in pts))


def _check_title(record: HealthRecord, check: CheckLimits) -> str:
    if not _measured(record, check):
        return f"{check.label} (pass or fail)"
    unit = f" ({check.unit})" if check.unit else ""
    if check.warn is None or check.critical is None:
        return f"{check.label}{unit}"
    return f"{check.label}{unit}: warn {check.warn:g}, critical {check.critical:g}"


def _top(record: HealthRecord, check: CheckLimits) -> float:
    """The value at the top of every chart of ``check``: room above the critical line
    and above the highest value read."""
    values = [v for pts in record.points.values() for p in pts
              if (v := p.values.get(check.label)) is not None and math.isfinite(v)]
    highest = max(values, default=0.0)
    return max(highest * 1.08, (check.critical or 0.0) * 1.2, 1e-9)


def _axis(record: HealthRecord, axis: Axis) -> str:
    ticks = axis.ticks(6)
    labels = "".join(f'<text x="{min(max(x, 22), CHART_W - 22)}" y="11" '
                     f'text-anchor="middle">{esc(label)}</text>' for x, label in ticks)
    rollback = ""
    if record.rollback is not None and record.rollback.ts is not None:
        x = axis.x(record.rollback.started or record.rollback.ts)
        right = x < CHART_W * 0.75
        rollback = (f'<text class="rb-t" x="{x + 3 if right else x - 3}" y="24" '
                    f'text-anchor="{"start" if right else "end"}">↶ rollback</text>'
                    f'<line class="rbl" x1="{x}" x2="{x}" y1="14" y2="28"/>')
    return (f'<svg class="hx" xmlns="http://www.w3.org/2000/svg" width="{CHART_W}" height="28">'
            f"{labels}{rollback}</svg>")


def _y(value: float, top: float) -> float:
    inner = CHART_H - 2 * PAD
    return round(PAD + inner * (1 - min(max(value, 0.0), top) / top), 1)


def _chart(host: str, check: CheckLimits, points: Sequence[HealthPoint],
           alerts: Sequence[LevelChange], axis: Axis, top: float, record: HealthRecord) -> str:
    """One host's chart of one check."""
    parts = [_rollback_band(record, axis)]
    if check.warn is not None and check.critical is not None:
        parts.append(_limits(check.warn, check.critical, top))
    if _measured(record, check):
        parts.append(_line(check.label, points, axis, top))
    else:
        parts.append(_strip(check.label, points, axis))
    unread = "".join(f"M{axis.x(p.ts) - 3} {CHART_H - 7}l6 6m0 -6l-6 6"
                     for p in points if p.error is not None)
    if unread:
        parts.append(f'<path class="pt-u" d="{unread}"><title>not read</title></path>')
    labels = [c.label for c in record.checks]
    parts.extend(_alert(a, axis, record) for a in alerts if _about(a, check.label, labels))
    return (f'<svg class="hc" xmlns="http://www.w3.org/2000/svg" width="{CHART_W}" '
            f'height="{CHART_H}" data-host="{esc(host)}" data-check="{esc(check.label)}">'
            f'{"".join(parts)}</svg>')


def _about(alert: LevelChange, label: str, labels: Sequence[str]) -> bool:
    """True when ``alert`` names the check ``label`` (its ``why`` lists the readings at
    the new level by label), or names no check at all (the host was not read)."""
    named = [name for name in labels if alert.why.startswith(name) or f"; {name}" in alert.why]
    return label in named or not named


def _limits(warn: float, critical: float, top: float) -> str:
    yw, yc = _y(warn, top), _y(critical, top)
    return (f'<line class="lim-w" x1="0" x2="{CHART_W}" y1="{yw}" y2="{yw}" '
            f'data-limit="{warn:g}"/><line class="lim-c" x1="0" x2="{CHART_W}" '
            f'y1="{yc}" y2="{yc}" data-limit="{critical:g}"/>')


Dot = tuple[float, float, str]
"""A sample drawn: x, y, its level."""
RANK = {"ok": 0, "warn": 1, "critical": 2, "error": 3, "unreachable": 3}


def _thin(dots: Sequence[Dot | None]) -> list[Dot | None]:
    """Of the dots that fall in one pixel column, one after another, keep the highest
    and the lowest (in their order): a line stays as it looks, and a day of samples
    costs at most two points a pixel. None (no value) breaks the line."""
    out: list[Dot | None] = []
    column: list[Dot] = []
    for dot in [*dots, None]:
        if dot is not None and column and int(dot[0]) == int(column[0][0]):
            column.append(dot)
            continue
        if column:
            high = min(range(len(column)), key=lambda i: column[i][1])
            low = max(range(len(column)), key=lambda i: column[i][1])
            out.extend(column[i] for i in sorted({high, low}))
        column = [dot] if dot is not None else []
        if dot is None:
            out.append(None)
    return out[:-1]


def _line(label: str, points: Sequence[HealthPoint], axis: Axis, top: float) -> str:
    """The values as a line (broken where a sample has none), warn and critical
    samples marked ▲ and ■ (thinned to what a pixel column shows)."""
    dots: list[Dot | None] = []
    for point in points:
        value = point.values.get(label)
        dots.append(None if value is None or not math.isfinite(value) else
                    (axis.x(point.ts), _y(value, top), point.levels.get(label, "ok")))
    path: list[str] = []
    warn: list[str] = []
    critical: list[str] = []
    pen_up, last = True, (0.0, 0.0)
    for dot in _thin(dots):
        if dot is None:
            pen_up = True
            continue
        x, y, level = dot
        path.append(f"M{x} {y}" if pen_up else f"l{_num(x - last[0])} {_num(y - last[1])}")
        last, pen_up = (x, y), False
        if level == "warn":
            warn.append(f"M{x} {y - 4}l4 7h-8z")
        elif level == "critical":
            critical.append(f"M{x - 3.5} {y - 3.5}h7v7h-7z")
    out = f'<path class="val" d="{"".join(path)}"/>' if path else ""
    if warn:
        out += f'<path class="pt-w" d="{"".join(warn)}"><title>warn</title></path>'
    if critical:
        out += f'<path class="pt-c" d="{"".join(critical)}"><title>critical</title></path>'
    return out


def _num(value: float) -> str:
    """A coordinate to a tenth, as short as it writes (``7``, ``-0.3``)."""
    return f"{round(value, 1):g}"


def _strip(label: str, points: Sequence[HealthPoint], axis: Axis) -> str:
    """A pass-or-fail check: a bar per sample (per pixel column, its worst), taller the
    worse its level."""
    height = {"ok": 6, "warn": 18, "critical": CHART_H - 2 * PAD}
    columns: list[tuple[float, str]] = []
    for point in points:
        level = point.levels.get(label)
        if level is None:
            continue
        x = axis.x(point.ts)
        if columns and int(columns[-1][0]) == int(x):
            if RANK.get(level, 3) > RANK.get(columns[-1][1], 3):
                columns[-1] = (columns[-1][0], level)
            continue
        columns.append((x, level))
    out = []
    for k, (x, level) in enumerate(columns):
        nxt = columns[k + 1][0] if k + 1 < len(columns) else x + 3
        h = height.get(level, CHART_H - 2 * PAD)
        out.append(f'<rect class="lv-{esc(level)}" x="{x}" y="{CHART_H - PAD - h}" '
                   f'width="{round(max(nxt - x - 1, 1), 1)}" height="{h}"/>')
    return "".join(out)


def _rollback_band(record: HealthRecord, axis: Axis) -> str:
    rollback = record.rollback
    if rollback is None or rollback.ts is None:
        return ""
    x0 = axis.x(rollback.started if rollback.started is not None else rollback.ts)
    x1 = axis.x(rollback.ts)
    return (f'<rect class="rbband" x="{x0}" y="0" width="{round(max(x1 - x0, 2), 1)}" '
            f'height="{CHART_H}"><title>{esc("rollback: " + rollback.reason)}</title></rect>')


def _alert(alert: LevelChange, axis: Axis, record: HealthRecord) -> str:
    x = axis.x(alert.ts)
    when = offset(alert.ts - record.started, axis.span)
    text = f"{when} {alert.before} → {alert.after}: {alert.why}"
    return (f'<g class="alert" data-to="{esc(alert.after)}"><line class="al al-{esc(alert.after)}" '
            f'x1="{x}" x2="{x}" y1="0" y2="{CHART_H}"/><text x="{x + 2}" y="10">'
            f'{esc(GLYPH.get(alert.after, "!"))}</text><title>{esc(text)}</title></g>')


def _alerts(record: HealthRecord) -> str:
    if not record.alerts:
        return "<h2>Alerts</h2>\n<p>None: every host kept its level.</p>\n"
    span = max(record.ended - record.started, 0.001)
    rows = "".join(
        f'<tr><td class="n">{esc(offset(a.ts - record.started, span))}</td>'
        f"<td>{esc(a.host)}</td><td class=\"s-{esc(a.before)}\">{esc(a.before)}</td>"
        f"<td class=\"s-{esc(a.after)}\">{esc(GLYPH.get(a.after, ''))} {esc(a.after)}</td>"
        f"<td>{esc(clip(a.why, 300))}</td></tr>" for a in record.alerts)
    return ("<h2>Alerts</h2>\n<table><thead><tr><th>when</th><th>host</th><th>from</th>"
            f"<th>to</th><th>why</th></tr></thead><tbody>{rows}</tbody></table>\n")
