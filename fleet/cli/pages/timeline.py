"""A run's timeline as inline SVG: one row per host, each step a bar on one time axis.

Rows come in their batches (canary first), each batch under a header that
marks when it started; the canary bake is a band, the halt a red line with its
reason, the fleet-wide rollback a dashed line, and rollback bars are dotted
orange. A failed step is hatched and labelled ``✗ step: error``, and its host's
name is marked ``✗``, so a failure reads without colour too.

The axis is a separate SVG that stays on top while the rows scroll. The
drawing is plain SVG (the page's script only adds hover details and the
"only hosts that went wrong" filter), with coordinates a test can read back:
``g.row[data-host]``, ``rect.b.f`` (a failed step), ``line.halt``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fleet.cli.pages.page import Axis, clip, esc, offset, took
from fleet.runlog.timeline import BatchMark, Span, Timeline

LABEL_W = 190
"""Pixels left of the plot, for host names."""
PLOT_W = 1000
ROW_H = 14
BAR_H = 10
HEAD_H = 16
"""A batch's header row."""
AXIS_H = 60
INSTANT = 0.0005
"""A step that succeeded in less (seconds) did no work of its own: no bar."""
RIGHT = 8

KNOWN_STEPS = ("connect", "prepare", "stage", "activate", "commit", "bake", "probe", "rollback")

PATTERNS = (
    '<defs><pattern id="pat-fail" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="6" height="6" fill="#b3261e"/>'
    '<rect width="2.4" height="6" fill="#fff"/></pattern>'
    '<pattern id="pat-back" width="4" height="4" patternUnits="userSpaceOnUse">'
    '<rect width="4" height="4" fill="#e69f00"/><circle cx="2" cy="2" r="1" fill="#5c3d00"/>'
    '</pattern><pattern id="pat-open" width="6" height="6" patternUnits="userSpaceOnUse">'
    '<rect width="6" height="6" fill="#c4c4c4"/><rect width="3" height="6" fill="#eee"/>'
    "</pattern></defs>"
)


def bad_hosts(timeline: Timeline, statuses: Mapping[str, str]) -> dict[str, str]:
    """host -> why it is marked as gone wrong: its failed step (rollback aside), or its
    final status when that is ``failed`` or ``rollback_failed``."""
    bad: dict[str, str] = {}
    for span in timeline.spans:
        if span.ok is False and span.step != "rollback":
            bad.setdefault(span.host, span.step)
    for host, status in statuses.items():
        if status in ("failed", "rollback_failed"):
            bad.setdefault(host, status)
    return bad


def legend() -> str:
    """The key of colours and patterns, in words."""
    entries = [(f"b {s}", s) for s in KNOWN_STEPS if s != "rollback"]
    entries += [("b rollback", "rollback (dotted)"), ("b f", "✗ failed step (hatched)"),
                ("b open", "never finished")]
    items = "".join(f'<span><svg width="22" height="11" aria-hidden="true"><rect class="{c}" '
                    f'width="22" height="11"/></svg>{esc(label)}</span>'
                    for c, label in entries)
    marks = ('<span><svg width="14" height="12" aria-hidden="true"><line class="halt" x1="7" '
             'x2="7" y1="0" y2="12"/></svg>halt</span><span><svg width="14" height="12" '
             'aria-hidden="true"><line class="rbl" x1="7" x2="7" y1="0" y2="12"/></svg>'
             'fleet-wide rollback starts</span><span><svg width="14" height="12" '
             'aria-hidden="true"><rect class="bake-band" width="14" height="12"/></svg>'
             'canary bake</span>')
    return f'<div class="legend">{items}{marks}</div>\n'


def timeline_svg(timeline: Timeline, statuses: Mapping[str, str]) -> str:
    """The axis SVG and the rows SVG of ``timeline`` (``statuses``: host -> final status)."""
    axis = Axis(timeline.start, timeline.end, LABEL_W, PLOT_W)
    bad = bad_hosts(timeline, statuses)
    spans = timeline.spans_of()
    started = {b.index: b for b in timeline.batches}
    parts: list[str] = []
    y = 0
    for index, group in enumerate(timeline.groups):
        head = _head(timeline, axis, _group_label(timeline, index, len(group)),
                     started.get(index))
        rows = [_row(name, spans.get(name, ()), axis, bad.get(name), statuses.get(name),
                     HEAD_H + k * ROW_H) for k, name in enumerate(group)]
        parts.append(f'<g class="grp" data-top="{HEAD_H}" data-row="{ROW_H}" '
                     f'transform="translate(0,{y})">{head}{"".join(rows)}</g>')
        y += HEAD_H + len(group) * ROW_H
    height = max(y, 1)
    width = LABEL_W + PLOT_W + RIGHT
    under = [_grid(axis, height), _bake_band(timeline, axis, height)]
    over = _moments(timeline, axis, height)
    rows_svg = (f'<svg class="rows" xmlns="http://www.w3.org/2000/svg" width="{width}" '
                f'height="{height}" data-x0="{LABEL_W}" data-pps="{axis.per_second:.6g}" '
                f'role="img" aria-label="one row per host, each step a bar">{PATTERNS}'
                f'{"".join(under)}{"".join(parts)}{over}</svg>')
    return _axis_svg(timeline, axis, width) + rows_svg + "\n"


def _head(timeline: Timeline, axis: Axis, label: str, mark: BatchMark | None) -> str:
    """A batch's header row: its name, and a marker where it started."""
    out = [f'<g class="gh"><rect width="{LABEL_W + PLOT_W + RIGHT}" height="{HEAD_H}"/>'
           f'<text x="6" y="12">{esc(label)}</text>']
    if mark is not None:
        x = axis.x(mark.ts)
        when = offset(mark.ts - timeline.start, axis.span)
        out.append(f'<path class="bstart" d="M{x} 2l6 6l-6 6z"><title>{esc(label)} started at '
                   f"{esc(when)}</title></path>")
        if x + 9 < LABEL_W + PLOT_W - 40:
            out.append(f'<text x="{x + 9}" y="12">{esc(when)}</text>')
    elif timeline.batches:
        out.append(f'<text x="{LABEL_W + 6}" y="12">not started</text>')
    out.append("</g>")
    return "".join(out)


def _group_label(timeline: Timeline, index: int, count: int) -> str:
    """``canary · 1 host``, ``batch 2 · 10 hosts`` (the live view's numbers), or
    ``hosts · 6 hosts`` for hosts in no batch."""
    hosts = f"{count} host{'s' if count != 1 else ''}"
    if index >= timeline.batched:
        return f"hosts · {hosts}"
    if index == 0 and timeline.canary:
        return f"canary · {hosts}"
    return f"batch {index} · {hosts}"


def _row(name: str, spans: Sequence[Span], axis: Axis, why: str | None, status: str | None,
         top: int) -> str:
    """One host's row: its name, a bar per step, and the failure's label."""
    css = "row bad" if why else "row"
    shown = clip(name, 30)
    label = f"✗ {shown}" if why else shown
    title = f"<title>{esc(name)}</title>" if shown != name else ""
    out = [f'<g class="{css}" data-host="{esc(name)}" data-status="{esc(status or "unknown")}"'
           + (f' data-failed="{esc(why)}"' if why else "")
           + f' transform="translate(0,{top})"><text class="hn" x="{LABEL_W - 8}" y="11" '
           f'text-anchor="end">{esc(label)}{title}</text>']
    for span in spans:
        if span.ok and span.end - span.start < INSTANT:
            continue  # e.g. a stage done by prepare's round trip: the table lists it
        out.append(_bar(span, axis))
    failed = next((s for s in spans if s.ok is False and s.step != "rollback"), None)
    if failed is not None:
        end = axis.x(failed.end)
        text = clip(f"✗ {failed.step}: {failed.error or 'failed'}", 90)
        if end > LABEL_W + PLOT_W - 260:  # no room on the right: write it left of the bar
            start = axis.x(failed.start)
            out.append(f'<text class="ft" x="{start - 4}" y="11" text-anchor="end">'
                       f"{esc(text)}</text>")
        else:
            out.append(f'<text class="ft" x="{end + 4}" y="11">{esc(text)}</text>')
    out.append("</g>")
    return "".join(out)


def _bar(span: Span, axis: Axis) -> str:
    """A step's bar from its start to exactly its end: ``x + width`` is where its end is
    drawn, so a later moment (the halt) is never left of it. A step shorter than a
    pixel is widened to the left, to one pixel where there is room."""
    x1 = axis.x(span.end)
    x0 = max(float(LABEL_W), min(axis.x(span.start), round(x1 - 1.0, 1)))
    width = round(x1 - x0, 1)
    known = span.step if span.step in KNOWN_STEPS else "other"
    flags = " f" if span.ok is False else " open" if span.ok is None else ""
    data = "" if known == span.step else f' data-s="{esc(span.step)}"'
    inner = ""
    if span.ok is False:
        inner = f"<title>{esc(span.step)} failed: {esc(span.error or 'no reason given')}</title>"
    elif span.ok is None:
        inner = "<title>never finished: the log ends first</title>"
    return (f'<rect class="b {known}{flags}"{data} x="{x0}" y="2" width="{width}" '
            f'height="{BAR_H}">{inner}</rect>' if inner else
            f'<rect class="b {known}{flags}"{data} x="{x0}" y="2" width="{width}" '
            f'height="{BAR_H}"/>')


def _grid(axis: Axis, height: int) -> str:
    lines = "".join(f"M{x} 0V{height}" for x, _ in axis.ticks())
    return f'<path class="grid" d="{lines}"/>'


def _bake_band(timeline: Timeline, axis: Axis, height: int) -> str:
    window = timeline.bake
    if window is None:
        return ""
    x0, x1 = axis.x(window[0]), axis.x(window[1])
    return (f'<rect class="bake-band full" x="{x0}" y="0" width="{round(max(x1 - x0, 1), 1)}" '
            f'height="{height}"/>')


def _moments(timeline: Timeline, axis: Axis, height: int) -> str:
    """The halt and rollback lines over the rows."""
    out = []
    if timeline.rollback is not None:
        x = axis.x(timeline.rollback.ts)
        out.append(f'<line class="rbl full" x1="{x}" x2="{x}" y1="0" y2="{height}"/>')
    if timeline.halt is not None:
        x = axis.x(timeline.halt.ts)
        out.append(f'<line class="halt full" x1="{x}" x2="{x}" y1="0" y2="{height}" '
                   f'data-reason="{esc(timeline.halt.reason)}"><title>halt: '
                   f"{esc(timeline.halt.reason)}</title></line>")
    return "".join(out)


def _axis_svg(timeline: Timeline, axis: Axis, width: int) -> str:
    """Tick labels, and the halt, rollback and bake named where they happened."""
    ticks = "".join(f'<text x="{x}" y="{AXIS_H - 6}" text-anchor="middle">{esc(label)}</text>'
                    f'<path class="grid" d="M{x} {AXIS_H - 18}v6"/>'
                    for x, label in axis.ticks())
    notes = []
    span = axis.span
    if timeline.halt is not None:
        x = axis.x(timeline.halt.ts)
        text = clip(f"■ halt {offset(timeline.halt.ts - timeline.start, span)}: "
                    f"{timeline.halt.reason}", 110)
        notes.append(_note(x, 13, "halt-t", text, f"halt: {timeline.halt.reason}"))
        notes.append(f'<line class="halt" x1="{x}" x2="{x}" y1="0" y2="{AXIS_H}"/>')
    if timeline.rollback is not None:
        x = axis.x(timeline.rollback.ts)
        count = len(timeline.rollback.hosts)
        text = (f"↶ fleet-wide rollback of {count} host{'s' if count != 1 else ''} from "
                f"{offset(timeline.rollback.ts - timeline.start, span)}")
        notes.append(_note(x, 27, "rb-t", text, text))
        notes.append(f'<line class="rbl" x1="{x}" x2="{x}" y1="0" y2="{AXIS_H}"/>')
    if timeline.bake is not None:
        x0, x1 = axis.x(timeline.bake[0]), axis.x(timeline.bake[1])
        text = f"canary bake {took(timeline.bake[1] - timeline.bake[0])}"
        notes.append(f'<rect class="bake-band" x="{x0}" y="0" '
                     f'width="{round(max(x1 - x0, 1), 1)}" height="{AXIS_H}"/>')
        notes.append(_note(x0, 41, "bake-t", text, text))
    title = f'<text x="6" y="{AXIS_H - 6}" class="bake-t">time since start</text>'
    return (f'<svg class="axis" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{AXIS_H}" aria-label="time axis">{title}{ticks}{"".join(notes)}</svg>')


def _note(x: float, y: int, css: str, text: str, title: str) -> str:
    """A label at ``x``, written to the right unless it would run off the plot."""
    right = x < LABEL_W + PLOT_W * 0.55
    anchor = "start" if right else "end"
    at = x + 5 if right else x - 5
    return (f'<text class="{css}" x="{at}" y="{y}" text-anchor="{anchor}">{esc(text)}'
            f"<title>{esc(title)}</title></text>")
