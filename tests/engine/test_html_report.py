"""``fleet report --html`` and ``--site`` from real runs on pretend local hosts, loaded
in a real headless Chromium (tests/browser): what a person sees is checked from
the DOM after the page's script ran, and any console message fails the test.

The same against the SSH container fleet: tests/integration/test_html_report.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fleet.config.playbook import load_playbook
from fleet.config.release import build_release
from fleet.plan import build_plan
from fleet.runlog.journal import Journal
from fleet.verbs.rollout import Target, rollout
from tests.browser import Element, Loaded, load
from tests.engine.world import World

REPO = Path(__file__).resolve().parents[2]
RUN_ID = "20261201T120000Z-abc123"


def fleet_in(cwd: Path, *args: str, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    """``python -m fleet ARGS`` in ``cwd``."""
    return subprocess.run([sys.executable, "-m", "fleet", *args], cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
                          capture_output=True, text=True, timeout=120, check=False)


def journaled_rollout(world: World, cwd: Path, *, bake: str | None = None) -> str:
    """A real rollout of the world's playbook (canary 1, batches of 2), logged to
    ``cwd/.fleet/runs`` as the CLI logs it; returns its run id."""
    strategy = {"bake": bake} if bake else {}
    playbook = world.playbook(None, **strategy)
    if bake:
        playbook.write_text(playbook.read_text() + "health:\n"
                            "  - {type: access_time, warn_ms: 5000, critical_ms: 10000}\n")
    pb = load_playbook(playbook)
    journal = Journal(cwd / ".fleet" / "runs", RUN_ID)
    try:
        rollout(Target(pb, build_release(pb), world.hosts),
                build_plan([h.name for h in world.hosts], pb.strategy), world.connector,
                journal, run_id=RUN_ID)
    finally:
        journal.close()
    return RUN_ID


def assert_clean(page: Loaded) -> None:
    """The script ran to its end and the console stayed silent (no error, no CSP refusal)."""
    assert page.console == []
    assert page.dom.find("html").attrs.get("data-ready", "").isdigit()


def rows(page: Loaded) -> dict[str, Element]:
    return {g.attrs["data-host"]: g for g in page.dom.find_all("g", "row")}


def table_rows(page: Loaded) -> list[Element]:
    """The per-host table's rows."""
    return page.dom.find("table", id="host-table").find_all("tr")[1:]


def bar_end(bar: Element) -> float:
    return round(bar.number("x") + bar.number("width"), 1)


def test_the_browser_reports_a_script_error_and_a_refused_script(tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><html><body><p id=a>x</p><script>"
                      "document.getElementById('a').textContent = 'ran'; notAFunction();"
                      "</script></body></html>")
    page = load(broken)
    assert page.dom.find("p").text() == "ran"
    assert any("notAFunction" in message for message in page.console), page.console
    refused = tmp_path / "refused.html"
    refused.write_text("<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" "
                       "content=\"script-src 'none'\"></head><body><script>1</script>"
                       "</body></html>")
    assert load(refused).console != []


def test_a_failed_rollout_reads_in_the_browser(world: World, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the bake's sample log goes to ./.fleet/monitor
    (world.home("h4") / ".fail-check").write_text("")
    run_id = journaled_rollout(world, tmp_path, bake="1s")
    (tmp_path / "out").mkdir()
    done = fleet_in(tmp_path, "report", run_id[:18], "--html", "out/report.html")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# fleet rollout `demo`")  # the Markdown still on stdout
    page = load(tmp_path / "out" / "report.html")
    assert_clean(page)

    hosts = rows(page)
    assert list(hosts) == ["h1", "h2", "h3", "h4", "h5", "h6"]  # every host, canary first
    assert [tr.attrs["data-host"] for tr in table_rows(page)] == list(hosts)
    assert {h for h, g in hosts.items() if "bad" in g.classes} == {"h4"}
    assert hosts["h4"].attrs["data-failed"] == "activate"
    assert hosts["h4"].find("text", "hn").text() == "✗ h4"
    assert [tr.attrs["data-host"] for tr in table_rows(page) if "bad" in tr.classes] == ["h4"]
    errors = {tr.attrs["data-host"]: tr.find("td", "err").text() for tr in table_rows(page)}
    assert errors["h1"] == "rolled back: the run halted (see halted above)"  # said once
    assert errors["h4"].startswith("validate: command ")
    assert errors["h6"] == ""
    failed = hosts["h4"].find("rect", "b", "f")
    assert "activate" in failed.classes
    assert ".fail-check" in failed.find("title").text()
    assert hosts["h4"].find("text", "ft").text().startswith("✗ activate: validate: ")

    halt = page.dom.find("line", "halt", "full")
    assert halt.number("x1") >= bar_end(failed)  # the halt comes after the failing step
    assert "h4 failed" in halt.attrs["data-reason"]
    rollback = page.dom.find("line", "rbl", "full")
    assert rollback.number("x1") >= halt.number("x1")
    for name in ("h1", "h2", "h3", "h5"):  # the fleet-wide rollback's bars, after the halt
        back = hosts[name].find_all("rect", "b", "rollback")
        assert [bar.number("x") >= halt.number("x1") - 0.1 for bar in back] == [True], name
    assert hosts["h6"].find_all("rect", "b") == []  # skipped: never started
    heads = [t.text() for t in page.dom.find_all("g", "gh")]
    assert heads[0].startswith("canary · 1 host")
    assert heads[1].startswith("batch 1 · 2 hosts")
    assert heads[3] == "batch 3 · 1 hostnot started"
    bake = hosts["h1"].find("rect", "b", "bake")
    band = page.dom.find("rect", "bake-band", "full")
    assert band.number("x") == bake.number("x")
    assert bar_end(bake) - bake.number("x") >= 1.0 * float(
        page.dom.find("svg", "rows").attrs["data-pps"]) - 1  # a 1 s bake, drawn 1 s long (to a ms)
    groups = page.dom.find_all("g", "grp")
    assert [[g.attrs["data-host"] for g in grp.find_all("g", "row")] for grp in groups] == [
        ["h1"], ["h2", "h3"], ["h4", "h5"], ["h6"]]
    batch_1 = groups[1].find("path", "bstart")  # the batches waited for the bake
    assert float(batch_1.attrs["d"][1:].split()[0]) >= bar_end(bake) - 0.1

    assert fleet_in(tmp_path, "report", "--site", "site").returncode == 0
    index = load(tmp_path / "site" / "index.html")
    assert_clean(index)  # the bake's log is on its run's page, not a page of its own:
    assert [a.attrs["href"] for a in index.dom.find_all("a")] == [f"runs/{run_id}.html"]
    assert list((tmp_path / ".fleet" / "monitor").glob(f"*-bake-{run_id}.jsonl"))


def test_the_filter_shows_only_the_hosts_that_went_wrong(world: World, tmp_path: Path) -> None:
    (world.home("h2") / ".fail-check").write_text("")
    run_id = journaled_rollout(world, tmp_path)
    assert fleet_in(tmp_path, "report", run_id, "--html", "r.html").returncode == 0
    whole = load(tmp_path / "r.html")
    only = load(tmp_path / "r.html", fragment="only-bad")  # the box ticked from the link
    assert_clean(only)
    assert "only-bad" in only.dom.find("body").classes
    shown = [h for h, g in rows(only).items() if "display: none" not in g.attrs.get("style", "")]
    assert shown == ["h2"]
    hidden_trs = [tr.attrs["data-host"] for tr in only.dom.find_all("tr", "ok")]
    assert hidden_trs == ["h1", "h3", "h4", "h5", "h6"]  # hidden by the body's class
    height = float(only.dom.find("svg", "rows").attrs["height"])
    assert height < float(whole.dom.find("svg", "rows").attrs["height"])
    assert rows(only)["h2"].attrs["transform"] == "translate(0,16)"  # moved up in its batch
    line = only.dom.find("line", "halt", "full")
    assert float(line.attrs["y2"]) == height


HOSTILE = ['<img src=x onerror="document.title=1">', "\"><svg onload=alert(1)>", "a&amp;b'c"]


def hostile_log(path: Path) -> None:
    """A run log whose host names, error, reason and step name are markup."""
    t = 1_800_000_000.0
    events = [
        {"ts": t, "event": "RunStarted", "run_id": path.stem, "command": "rollout",
         "playbook": "<b>pb</b>", "release": "<i>r</i>", "hosts": HOSTILE,
         "batches": [HOSTILE[:1], HOSTILE[1:]]},
        {"ts": t, "event": "BatchStarted", "index": 0, "hosts": HOSTILE[:1], "canary": True},
        {"ts": t + 0.1, "event": "StepStarted", "host": HOSTILE[0], "step": "<script>s"},
        {"ts": t + 0.5, "event": "StepFinished", "host": HOSTILE[0], "step": "<script>s",
         "ok": False, "duration": 0.4, "detail": None,
         "error": "</script><script>document.title='pwned'</script>"},
        {"ts": t + 0.6, "event": "HostFinished", "host": HOSTILE[0], "status": "failed",
         "duration": 0.5, "error": "</title><img src=x onerror=alert(2)>"},
        {"ts": t + 0.7, "event": "Halted", "reason": "<iframe src=//evil>"},
        {"ts": t + 0.8, "event": "RunFinished", "run_id": path.stem, "outcome": "halted",
         "duration": 0.8, "rollback_duration": None},
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def test_markup_in_names_and_errors_stays_text(tmp_path: Path) -> None:
    hostile_log(tmp_path / ".fleet" / "runs" / "20261201T000000Z-evil00.jsonl")
    done = fleet_in(tmp_path, "report", "20261201T000000Z-evil00", "--html", "evil.html")
    assert done.returncode == 0, done.stderr
    page = load(tmp_path / "evil.html")
    assert_clean(page)  # no injected script ran, nothing was refused
    assert len(page.dom.find_all("script")) == 1  # the page's own
    assert page.dom.find_all("img") == page.dom.find_all("iframe") == []
    assert page.dom.find_all("svg", onload="alert(1)") == []
    assert page.dom.find("head").find("title").text().startswith("fleet rollout <b>pb</b>")
    assert [g.attrs["data-host"] for g in page.dom.find_all("g", "row")] == HOSTILE
    assert [tr.find_all("td")[0].text() for tr in table_rows(page)] == HOSTILE
    bar = page.dom.find("svg", "rows").find("rect", "b", "f")
    assert bar.attrs["data-s"] == "<script>s"
    assert "document.title='pwned'" in bar.find("title").text()
    assert page.dom.find("line", "halt", "full").attrs["data-reason"] == "<iframe src=//evil>"


def test_a_monitor_page_shows_values_against_the_levels(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.md").write_text("alpha\n")
    (tmp_path / "home" / "agents").mkdir(parents=True)
    (tmp_path / "pb.yml").write_text(
        "name: mon\nsource: src\ntarget: ~/agents\nhealth:\n"
        "  - {type: access_time, warn_ms: 5000, critical_ms: 10000}\n"
        "  - {type: command, run: 'test ! -e \"$HOME/.sick\"'}\n")
    (tmp_path / "inv.yml").write_text("all:\n  hosts:\n    me: {ansible_connection: local}\n")
    env = {"HOME": str(tmp_path / "home")}
    assert fleet_in(tmp_path, "rollout", "pb.yml", "-i", "inv.yml", env=env).returncode == 0
    monitor = subprocess.Popen(
        [sys.executable, "-m", "fleet", "monitor", "pb.yml", "-i", "inv.yml", "--interval",
         "0.2s", "--duration", "30s", "--rollback-on", "critical", "--grace", "2", "--json"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO), **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    (tmp_path / "home" / ".sick").write_text("")
    out, err = monitor.communicate(timeout=60)
    assert monitor.returncode == 1, err
    log = Path(json.loads(out)["log"])

    done = fleet_in(tmp_path, "report", "--site", "site")
    assert done.returncode == 0, done.stderr
    index = load(tmp_path / "site" / "index.html")
    assert_clean(index)
    rollback_run = json.loads(out)["rollback"]["run_id"]
    links = [a.attrs["href"] for a in index.dom.find_all("a")]
    assert links[:2] == [f"runs/{rollback_run}.html", f"monitor/{log.stem}.html"]  # newest first
    assert len(links) == 3  # and the rollout
    page = load(tmp_path / "site" / "monitor" / f"{log.stem}.html")
    assert_clean(page)
    chart = page.dom.find("svg", "hc", data_host="me", data_check="access_time")
    warn, critical = chart.find("line", "lim-w"), chart.find("line", "lim-c")
    assert (warn.attrs["data-limit"], critical.attrs["data-limit"]) == ("5000", "10000")
    assert warn.number("y1") > critical.number("y1")  # warn drawn below critical
    assert chart.find("path", "val").attrs["d"].startswith("M")
    strip = page.dom.find("svg", "hc", data_host="me",
                          data_check="command 'test ! -e \"$HOME/.sick\"'")
    alert = strip.find("g", "alert", data_to="critical")
    assert alert.find("text").text() == "‼"
    assert "ok → critical" in alert.find("title").text()
    bars = [b for b in strip.find_all("rect") if b.attrs["class"].startswith("lv-")]
    assert {b.attrs["class"] for b in bars} >= {"lv-ok", "lv-critical"}
    tallest = max(bars, key=lambda b: b.number("height"))
    assert tallest.attrs["class"] == "lv-critical"  # reads without colour: taller when worse
    assert strip.find_all("rect", "rbband")  # the rollback, marked on the chart
    link = page.dom.find("a", href=f"../runs/{rollback_run}.html")
    assert link.text() == rollback_run
    assert (tmp_path / "site" / "runs" / f"{rollback_run}.html").is_file()


@pytest.mark.parametrize(("args", "says"), [
    (("report", "2099"), "no run matches '2099'"),
    (("report", "20261201", "--html", "missing/r.html"), "--html: cannot write missing/r.html"),
    (("report", "20261201", "--junit", "missing/r.xml"), "--junit: cannot write missing/r.xml"),
    (("report", "--site", "a-file"), "--site: cannot write a-file"),
    (("report", "--site", "site", "20261201"), "give it without RUN_ID"),
    (("report",), "give a RUN_ID (see `fleet history`) or --site DIR"),
    (("report", "mon-2026", "--junit", "m.xml"), "is a monitor log: JUnit is for runs"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: tuple[str, ...],
                                          says: str) -> None:
    hostile_log(tmp_path / ".fleet" / "runs" / "20261201T000000Z-evil00.jsonl")
    monitor = tmp_path / ".fleet" / "monitor" / "mon-20261201T000000Z.jsonl"
    monitor.parent.mkdir()
    monitor.write_text(json.dumps({"kind": "sample", "host": "a", "ts": 1.0, "level": "ok",
                                   "error": None, "readings": []}) + "\n")
    (tmp_path / "a-file").write_text("")
    done = fleet_in(tmp_path, *args)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert says in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_a_monitor_log_reports_as_markdown_json_and_html_by_name_or_path(tmp_path: Path
                                                                        ) -> None:
    log = tmp_path / "elsewhere" / "mon.jsonl"  # fleet monitor --log elsewhere/mon.jsonl
    log.parent.mkdir()
    log.write_text("".join(json.dumps(r) + "\n" for r in (
        {"kind": "watch", "ts": 10.0, "purpose": "monitor", "playbook": "mon", "release": "r1",
         "hosts": ["a"], "checks": [{"label": "memory of 'x'", "unit": "MB", "warn": 20,
                                     "critical": 60}], "rollback_on": None, "grace": 3},
        {"kind": "sample", "host": "a", "ts": 11.0, "level": "warn", "error": None,
         "readings": [{"label": "memory of 'x'", "level": "warn", "value": 30.5,
                       "message": "30.5 MB > 20"}]})))
    markdown = fleet_in(tmp_path, "report", "elsewhere/mon.jsonl", "--html", "m.html")
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout.startswith("# fleet monitor `mon` — log `mon`")
    assert "- check memory of 'x': warn above 20 MB, critical above 60 MB" in markdown.stdout
    as_json = json.loads(fleet_in(tmp_path, "report", "elsewhere/mon.jsonl", "--format",
                                  "json").stdout)
    assert (as_json["command"], as_json["levels"], as_json["rounds"]) == ("monitor",
                                                                          {"a": "warn"}, 1)
    html = (tmp_path / "m.html").read_text()
    assert 'data-check="memory of &#x27;x&#x27;"' in html
    assert 'class="pt-w"' in html  # the warn sample is marked
