"""What every page shares: escaping, the HTML shell (inline style and script, pinned
by a Content-Security-Policy of their hashes), times as text, and a time axis.
"""

from __future__ import annotations

import base64
import hashlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape


def esc(value: object) -> str:
    """``value`` as text safe in HTML and SVG content and in quoted attributes."""
    return escape(str(value), quote=True)


def clip(text: str, most: int) -> str:
    """``text`` on one line, cut to ``most`` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= most else line[: most - 1] + "…"


def clock(ts: float) -> str:
    """A time stamp as ``2026-12-02 06:30:23 UTC`` (run ids are UTC too)."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def took(seconds: float | None) -> str:
    """A duration as ``0.41 s``, ``12.3 s``, ``4 min 05 s`` or ``2 h 03 min``; ``-`` for None."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def offset(seconds: float, span: float) -> str:
    """A moment of a run as ``+1.25 s`` (a run under two minutes), ``+3:05`` or ``+1:02:03``."""
    if span < 120:
        digits = 2 if span < 10 else 1
        return f"+{seconds:.{digits}f} s"
    whole = round(seconds)
    if span < 7200:
        return f"+{whole // 60}:{whole % 60:02d}"
    return f"+{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


_STEPS = (0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600,
          7200, 10800, 21600, 43200, 86400)


@dataclass(frozen=True)
class Axis:
    """Time from ``start`` to ``end`` (seconds since the epoch) drawn from x ``left``
    over ``width`` pixels."""

    start: float
    end: float
    left: float
    width: float

    @property
    def span(self) -> float:
        """Seconds from start to end (at least a millisecond)."""
        return max(self.end - self.start, 0.001)

    @property
    def per_second(self) -> float:
        """Pixels per second."""
        return self.width / self.span

    def x(self, ts: float) -> float:
        """Where ``ts`` is drawn, to a tenth of a pixel (monotonic: a later moment is
        never drawn left of an earlier one)."""
        if ts >= self.end:
            return round(self.left + self.width, 1)
        return round(self.left + max(ts - self.start, 0.0) * self.per_second, 1)

    def ticks(self, most: int = 12) -> list[tuple[float, str]]:
        """(x, label) of round moments, at most ``most`` of them."""
        step = next((s for s in _STEPS if self.span / s <= most), _STEPS[-1])
        count = math.floor(self.span / step + 1e-9)
        return [(self.x(self.start + k * step), offset(k * step, self.span))
                for k in range(count + 1)]


STYLE = """\
:root{--fg:#1b1f24;--mu:#5b6470;--ln:#d6dbe1;--bad:#b3261e;--warn:#9a6200;--ok:#1e7b45}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);\
margin:18px 26px}
h1{font-size:20px;margin:4px 0 12px}h2{font-size:16px;margin:22px 0 8px}
code,.mono{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
nav a,a{color:#0b5cad}
dl.sum{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;margin:0}
dl.sum dt{color:var(--mu)}dl.sum dd{margin:0}
.o{font-weight:600;padding:0 6px;border:1px solid;border-radius:3px;white-space:nowrap}
.o-success,.o-canary_only,.o-checked,.o-quiet,.s-deployed,.s-unchanged{color:var(--ok)}
.o-rolled_back,.o-partial,.o-alerts,.s-rolled_back,.s-would_change{color:var(--warn)}
.o-halted,.o-rollback_incomplete,.o-unfinished,.o-unreadable,.s-failed,.s-rollback_failed\
{color:var(--bad)}
.s-skipped,.s-not_deployed,.s-unknown{color:var(--mu)}
table{border-collapse:collapse;font-size:13px}
th,td{text-align:left;padding:3px 9px;border-bottom:1px solid var(--ln);vertical-align:top}
th{background:#f1f3f6;position:sticky;top:0;z-index:1}
td:first-child,td.n{white-space:nowrap}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.bad td:first-child{font-weight:600;color:var(--bad)}
.err{color:var(--bad);max-width:640px}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;margin:6px 0;font-size:12px}
.legend svg{vertical-align:middle;margin-right:4px}
.tl{max-height:80vh;overflow:auto;border:1px solid var(--ln)}
.tl svg{display:block}.tl .axis{position:sticky;top:0;background:#fff;z-index:1;\
border-bottom:1px solid var(--ln)}
svg text{font:11px system-ui,-apple-system,sans-serif;fill:var(--fg)}
.b.connect{fill:#a3acb9}.b.prepare{fill:#56b4e9}.b.stage{fill:#0072b2}\
.b.activate{fill:#009e73}.b.commit{fill:#155e37}.b.bake{fill:#cc79a7}.b.probe{fill:#8c8c8c}\
.b.other{fill:#c4c4c4}.b.rollback{fill:url(#pat-back)}.b.f{fill:url(#pat-fail)}\
.b.open{fill:url(#pat-open)}
.grid{stroke:#eceff3}.gh rect{fill:#f4f6f8}.gh text{fill:var(--mu);font-weight:600}
.bstart{fill:var(--mu)}.bake-band{fill:#cc79a7;opacity:.13}
.halt{stroke:var(--bad);stroke-width:2}.rbl{stroke:#c77800;stroke-width:2;stroke-dasharray:6 3}
text.halt-t{fill:var(--bad);font-weight:700}text.rb-t{fill:#8a5300;font-weight:700}
text.bake-t{fill:#8e3f73;font-weight:600}
.row.bad .hn{fill:var(--bad);font-weight:700}text.ft{fill:var(--bad);font-weight:600}
.lim-w{stroke:#c98a00;stroke-dasharray:5 3}.lim-c{stroke:var(--bad)}
.val{fill:none;stroke:#0b5cad;stroke-width:1.5}.pt-w{fill:#c98a00}.pt-c{fill:var(--bad)}
.pt-u{stroke:var(--mu);stroke-width:1.5}.al{stroke-width:1.5}.al-ok{stroke:var(--ok)}
.al-warn{stroke:#c98a00}.al-critical,.al-error,.al-unreachable{stroke:var(--bad)}
.lv-ok{fill:#8fd1a8}.lv-warn{fill:#f0c36b}.lv-critical,.lv-error,.lv-unreachable{fill:#e58a84}
.rbband{fill:#e69f00;opacity:.18}
#tip{position:absolute;background:#1b1f24;color:#fff;padding:4px 8px;border-radius:4px;\
font-size:12px;pointer-events:none;max-width:560px;z-index:2}
body.only-bad tr.ok{display:none}
"""

SCRIPT = """\
(function () {
  'use strict';
  var tip = document.getElementById('tip');
  function fmt(s) { return (s < 10 ? s.toFixed(3) : s.toFixed(1)) + ' s'; }
  function show(ev, lines) {
    tip.textContent = '';
    lines.forEach(function (text) {
      var line = document.createElement('div');
      line.textContent = text;
      tip.appendChild(line);
    });
    tip.hidden = false;
    tip.style.left = (ev.pageX + 14) + 'px';
    tip.style.top = (ev.pageY + 14) + 'px';
  }
  document.querySelectorAll('svg.rows').forEach(function (svg) {
    var x0 = Number(svg.dataset.x0), pps = Number(svg.dataset.pps);
    svg.addEventListener('mousemove', function (ev) {
      var bar = ev.target;
      if (!tip || !bar.classList || !bar.classList.contains('b')) {
        if (tip) { tip.hidden = true; }
        return;
      }
      var x = Number(bar.getAttribute('x')), w = Number(bar.getAttribute('width'));
      var title = bar.querySelector('title');
      var lines = [bar.closest('g.row').dataset.host + ': ' + (bar.dataset.s || bar.classList[1])
                   + (bar.classList.contains('f') ? ' FAILED' : ''),
                   'at ' + fmt((x - x0) / pps) + ', took ' + fmt(w / pps)];
      if (title) { lines.push(title.textContent); }
      show(ev, lines);
    });
    svg.addEventListener('mouseleave', function () { if (tip) { tip.hidden = true; } });
  });
  function relayout(svg, only) {
    var y = 0;
    svg.querySelectorAll('g.grp').forEach(function (group) {
      var top = Number(group.dataset.top), rowH = Number(group.dataset.row), shown = 0;
      group.querySelectorAll('g.row').forEach(function (row) {
        var visible = !only || row.classList.contains('bad');
        row.style.display = visible ? '' : 'none';
        if (visible) {
          row.setAttribute('transform', 'translate(0,' + (top + shown * rowH) + ')');
          shown += 1;
        }
      });
      group.style.display = shown ? '' : 'none';
      if (shown) {
        group.setAttribute('transform', 'translate(0,' + y + ')');
        y += top + shown * rowH;
      }
    });
    svg.setAttribute('height', Math.max(y, 1));
    svg.querySelectorAll('line.full').forEach(function (l) { l.setAttribute('y2', y); });
    svg.querySelectorAll('rect.full').forEach(function (r) { r.setAttribute('height', y); });
  }
  var only = document.getElementById('only-bad');
  function filter() {
    document.body.classList.toggle('only-bad', only.checked);
    document.querySelectorAll('svg.rows').forEach(function (svg) {
      relayout(svg, only.checked);
    });
  }
  if (only) {
    only.addEventListener('change', filter);
    if (location.hash === '#only-bad') {
      only.checked = true;
      filter();
    }
  }
  document.documentElement.dataset.ready = String(Math.round(performance.now()));
}());
"""


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


POLICY = (f"default-src 'none'; style-src 'sha256-{_sha256(STYLE)}'; "
          f"script-src 'sha256-{_sha256(SCRIPT)}'; img-src data:; base-uri 'none'; "
          "form-action 'none'")
"""Only this page's own style and script may apply: nothing is fetched, and a script
that slipped into a value past the escaping would not run."""


def document(title: str, body: Sequence[str], *, back: str | None = None) -> str:
    """One page: ``body`` (HTML fragments, already escaped) under ``title``; ``back``
    is the link to the site's index (None: a page on its own)."""
    nav = f'<nav><a href="{esc(back)}">← every run</a></nav>\n' if back else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="fleet">\n'
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style></head>\n<body>\n{nav}"
        + "".join(body)
        + f'<div id="tip" hidden></div>\n<script>{SCRIPT}</script>\n</body></html>\n'
    )


def outcome_badge(outcome: str) -> str:
    """The outcome as a badge whose words say it (colour only repeats them)."""
    mark = {"success": "✓", "canary_only": "✓", "checked": "✓", "quiet": "✓",
            "rolled_back": "↶", "partial": "!", "alerts": "!", "halted": "✗",
            "rollback_incomplete": "✗", "unfinished": "…", "unreadable": "?"}.get(outcome, "")
    css = "".join(c if c.isalnum() or c == "_" else "-" for c in outcome)
    return f'<span class="o o-{css}">{esc((mark + " " + outcome).strip())}</span>'


def summary_list(items: Sequence[tuple[str, str]]) -> str:
    """A definition list of (term, HTML value) pairs; the terms are escaped here."""
    rows = "".join(f"<dt>{esc(term)}</dt><dd>{value}</dd>" for term, value in items)
    return f'<dl class="sum">{rows}</dl>\n'
