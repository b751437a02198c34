"""The HTML pages' drawing and shell (fleet/cli/pages), read back with a plain HTML parser:
where bars and the halt land, the time axis, the Content-Security-Policy, old logs."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from fleet.cli.pages.health import CHART_W, monitor_page
from fleet.cli.pages.page import Axis, document, offset, took
from fleet.cli.pages.run import run_page
from fleet.cli.pages.timeline import LABEL_W, PLOT_W, timeline_svg
from fleet.runlog.healthlog import read_health
from fleet.runlog.history import read_run
from fleet.runlog.timeline import read_timeline
from tests.browser import parse

T = 1_800_000_000.0


def events(step_start: float, step_end: float, halt: float, end: float) -> list[str]:
    """A run whose host ``a`` fails a step, then the run halts and ends."""
    return [json.dumps(e) for e in (
        {"ts": T, "event": "RunStarted", "run_id": "r", "command": "rollout", "playbook": "p",
         "release": "x", "hosts": ["a", "b"], "batches": [["a", "b"]]},
        {"ts": T, "event": "BatchStarted", "index": 0, "hosts": ["a", "b"], "canary": False},
        {"ts": T + step_start, "event": "StepStarted", "host": "a", "step": "activate"},
        {"ts": T + step_end, "event": "StepFinished", "host": "a", "step": "activate",
         "ok": False, "duration": step_end - step_start, "detail": None, "error": "boom"},
        {"ts": T + halt, "event": "Halted", "reason": "a failed: boom"},
        {"ts": T + end, "event": "RunFinished", "run_id": "r", "outcome": "rolled_back",
         "duration": end, "rollback_duration": None},
    )]


@given(st.floats(0, 5000), st.floats(0, 1), st.floats(0, 1), st.floats(0, 100))
def test_the_halt_is_never_drawn_left_of_the_failed_steps_end(
        start: float, length: float, wait: float, after: float) -> None:
    end = start + length * 3
    halt = end + wait * 2
    svg = parse(timeline_svg(read_timeline(events(start, end, halt, halt + after)), {}))
    bar = svg.find("rect", "b", "f")
    line = svg.find("line", "halt", "full")
    bar_end = round(bar.number("x") + bar.number("width"), 1)
    axis = Axis(T, T + halt + after, LABEL_W, PLOT_W)
    # the bar ends where its end is drawn, to the drawing's tenth of a pixel (the
    # log's moments are read back from text, a float's last digit may differ)
    assert abs(bar_end - axis.x(T + end)) <= 0.1 + 1e-9
    assert line.number("x1") >= bar_end
    assert LABEL_W <= bar.number("x") <= bar_end <= LABEL_W + PLOT_W
    assert bar.number("width") >= 0


@given(st.floats(0.001, 400_000), st.lists(st.floats(0, 1), min_size=2, max_size=20))
def test_the_axis_keeps_the_order_of_moments(span: float, fractions: list[float]) -> None:
    axis = Axis(T, T + span, LABEL_W, PLOT_W)
    moments = sorted(T + f * span for f in fractions)
    xs = [axis.x(m) for m in moments]
    assert xs == sorted(xs)
    assert axis.x(T - 5) == LABEL_W
    assert axis.x(T + span + 5) == LABEL_W + PLOT_W
    ticks = axis.ticks()
    assert 2 <= len(ticks) <= 13 or span < 0.2
    assert ticks[0] == (LABEL_W, offset(0, span))
    assert [x for x, _ in ticks] == sorted({x for x, _ in ticks})


def test_moments_and_durations_read_as_words() -> None:
    assert [offset(1.234, 5), offset(65, 90), offset(185, 600), offset(3723, 9000)] == [
        "+1.23 s", "+65.0 s", "+3:05", "+1:02:03"]
    assert [took(None), took(0.412), took(12.34), took(245), took(7380)] == [
        "-", "0.41 s", "12.3 s", "4 min 05 s", "2 h 03 min"]


def test_the_policy_allows_exactly_the_pages_own_style_and_script() -> None:
    page = document("t", ["<p>x</p>"])
    style = re.search(r"<style>(.*?)</style>", page, re.S)
    script = re.search(r"<script>(.*?)</script>", page, re.S)
    assert style is not None
    assert script is not None

    def digest(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    policy = parse(page).find("meta", **{"http-equiv": "Content-Security-Policy"})
    rules = dict(r.strip().split(" ", 1) for r in policy.attrs["content"].split(";"))
    assert rules["default-src"] == "'none'"
    assert rules["style-src"] == f"'sha256-{digest(style.group(1))}'"
    assert rules["script-src"] == f"'sha256-{digest(script.group(1))}'"
    assert "http" not in page.replace("http-equiv", "").replace(
        "http://www.w3.org/2000/svg", "")  # nothing fetched from anywhere


def old_log(lines: list[str]) -> list[str]:
    """The same run as logged before StepStarted and the watch record existed."""
    return [line for line in lines if '"StepStarted"' not in line]


def test_a_log_without_step_start_events_draws_the_same_bars() -> None:
    lines = events(1.0, 2.0, 2.5, 3.0)
    new = parse(timeline_svg(read_timeline(lines), {})).find("rect", "b", "f")
    old = parse(timeline_svg(read_timeline(old_log(lines)), {})).find("rect", "b", "f")
    assert (old.attrs["x"], old.attrs["width"]) == (new.attrs["x"], new.attrs["width"])


def test_a_run_page_names_every_host_and_marks_the_failed_one() -> None:
    lines = events(1.0, 2.0, 2.5, 3.0)
    page = parse(run_page(read_run(lines, "r"), read_timeline(lines)))
    table = page.find("table", id="host-table")
    marked: dict[str, Any] = {tr.attrs["data-host"]: tr.classes for tr in table.find_all("tr")[1:]}
    assert marked == {"a": {"bad"}, "b": {"ok"}}
    assert page.find("g", "row", data_host="a").attrs["data-failed"] == "activate"
    assert "at +2.50 s: a failed: boom" in page.find("dl", "sum").text()


def test_a_day_of_samples_is_thinned_to_what_a_pixel_shows_spikes_kept() -> None:
    rounds = 17_280  # 24 h every 5 s
    lines = [json.dumps({"kind": "watch", "ts": T, "hosts": ["a"], "checks": [
        {"label": "memory", "unit": "MB", "warn": 20.0, "critical": 50.0}]})]
    for k in range(rounds):
        value = 55.0 if k == 9_001 else 10.0 + (k % 7)  # one critical spike
        lines.append(json.dumps({"kind": "sample", "host": "a", "ts": T + 5 * k,
                                 "level": "critical" if value > 50 else "ok", "error": None,
                                 "readings": [{"label": "memory", "value": value,
                                               "level": "critical" if value > 50 else "ok"}]}))
    page = parse(monitor_page(read_health(lines, "m-1")))
    chart = page.find("svg", "hc", data_host="a", data_check="memory")
    moves = re.findall(r"[Ml]", chart.find("path", "val").attrs["d"])
    assert len(moves) <= 2 * CHART_W + 2  # not 17,280
    assert chart.find("path", "pt-c").attrs["d"].count("M") == 1  # the spike kept, marked
    critical_y = chart.find("line", "lim-c").number("y1")
    first = chart.find("path", "pt-c").attrs["d"]  # M{x - 3.5} {y - 3.5}...
    assert float(first.split()[1].split("h")[0]) + 3.5 < critical_y  # drawn above the line
