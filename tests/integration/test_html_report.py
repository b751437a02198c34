"""``fleet report --html`` and ``--site`` of real runs on the container fleet, loaded in
a real headless Chromium (tests/browser): a rollout whose canary bakes and whose
fourth host fails its checks, and a monitor that sees a host turn critical and
rolls the fleet back. What a person sees is read from the DOM after the page's
script ran; any console message fails the test.

With ``FLEET_SCREENSHOTS=DIR`` the pages' screenshots are also copied to DIR
(how ``docs/report-*.png`` were made).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from faults import log_records, wait_until
from health_support import CRITICAL_EXTRA_MB, HEALTH, HOG, WARN_MB, levels_of, memory_hog
from rollout_support import INV, statuses, write_playbook
from testfleet_helpers import HOME, HOSTS, REPO_ROOT, docker_exec, run_fleet, run_fleet_json

from tests.browser import Element, Loaded, load, screenshot

FAILING = "dev-04"  # first host of the second batch after the canary
FAIL_CHECK = {"type": "command", "run": 'test ! -e "$HOME/.fail-check"', "timeout": 10}
SICK = "dev-03"


def assert_clean(page: Loaded) -> None:
    """The page's script ran to its end; the console stayed silent."""
    assert page.console == []
    assert page.dom.find("html").attrs.get("data-ready", "").isdigit()


def keep_screenshot(page: Path, name: str, tmp_path: Path, height: int) -> None:
    """Take a screenshot of ``page`` (it must render); copy it to FLEET_SCREENSHOTS."""
    png = tmp_path / name
    screenshot(page, png, width=1400, height=height)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 20_000  # not a blank page
    if os.environ.get("FLEET_SCREENSHOTS"):
        shutil.copy(png, Path(os.environ["FLEET_SCREENSHOTS"]) / name)


def bar_end(bar: Element) -> float:
    return round(bar.number("x") + bar.number("width"), 1)


def test_a_failed_rollout_with_a_bake_reads_in_the_browser(tmp_path: Path) -> None:
    playbook = write_playbook(tmp_path, extra_checks=[FAIL_CHECK], health=HEALTH,
                              strategy={"canary": 1, "batch_size": 2, "forks": 20,
                                        "max_failures": 0, "on_failure": "rollback_all",
                                        "bake": "3s"})
    code, out = docker_exec(FAILING, ["touch", f"{HOME}/.fail-check"], user="tester")
    assert code == 0, out
    proc, data = run_fleet_json("rollout", str(playbook), *INV)
    assert proc.returncode == 1, proc.stderr
    assert data["outcome"] == "rolled_back"
    run_id = data["run_id"]

    done = run_fleet("report", run_id, "--html", str(tmp_path / "report.html"))
    assert done.returncode == 0, done.stderr
    page = load(tmp_path / "report.html")
    assert_clean(page)
    rows = {g.attrs["data-host"]: g for g in page.dom.find_all("g", "row")}
    assert list(rows) == HOSTS  # every host, in its batch: the canary first
    table = page.dom.find("table", id="host-table").find_all("tr")[1:]
    assert [tr.attrs["data-host"] for tr in table] == HOSTS
    assert [h for h, g in rows.items() if "bad" in g.classes] == [FAILING]
    assert [tr.attrs["data-host"] for tr in table if "bad" in tr.classes] == [FAILING]
    assert rows[FAILING].find("text", "hn").text() == f"✗ {FAILING}"
    failed = rows[FAILING].find("rect", "b", "f")
    assert ".fail-check" in failed.find("title").text()
    halt = page.dom.find("line", "halt", "full")
    assert halt.number("x1") >= bar_end(failed)  # the halt line after the failing step's end
    assert FAILING in halt.attrs["data-reason"]
    assert page.dom.find("line", "rbl", "full").number("x1") >= halt.number("x1")
    for name, status in statuses(data).items():
        assert rows[name].attrs["data-status"] == status
        back = rows[name].find_all("rect", "b", "rollback")
        assert len(back) == (1 if status == "rolled_back" else 0), name
    bake = rows["dev-01"].find("rect", "b", "bake")
    assert bar_end(bake) - bake.number("x") >= 3 * float(
        page.dom.find("svg", "rows").attrs["data-pps"]) - 1  # a 3 s bake, drawn 3 s long (to a ms)
    assert page.dom.find("h2", id="bake")  # the canary's health during the bake
    chart = page.dom.find("svg", "hc", data_host="dev-01", data_check=f"memory of {HOG!r}")
    assert chart.find("line", "lim-c").attrs["data-limit"] == "60"
    keep_screenshot(tmp_path / "report.html", "report-timeline.png", tmp_path, 760)

    site = tmp_path / "site"
    done = run_fleet("report", "--site", str(site))
    assert done.returncode == 0, done.stderr
    index = load(site / "index.html")
    assert_clean(index)
    row = index.dom.find("a", href=f"runs/{run_id}.html").ancestor("tr").text()
    assert "↶ rolled_back" in row
    counts: dict[str, int] = {}
    for status in statuses(data).values():
        counts[status] = counts.get(status, 0) + 1
    assert all(f"{n} {status}" in row for status, n in counts.items()), row
    linked = load(site / "runs" / f"{run_id}.html")
    assert_clean(linked)
    assert linked.dom.find("a", href="../index.html").text() == "← every run"


def test_a_monitor_that_rolls_back_reads_in_the_browser(tmp_path: Path) -> None:
    playbook = write_playbook(tmp_path, health=HEALTH)
    proc, deployed = run_fleet_json("rollout", str(playbook), *INV)
    assert proc.returncode == 0, proc.stderr
    assert statuses(deployed) == dict.fromkeys(HOSTS, "deployed")
    log = tmp_path / "monitor.jsonl"
    monitor = subprocess.Popen(
        [sys.executable, "-m", "fleet", "monitor", str(playbook), *INV, "--interval", "0.5s",
         "--duration", "90s", "--rollback-on", "critical", "--grace", "3", "--log", str(log),
         "--json"], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: levels_of(log_records(log), SICK).count("ok") >= 2, 30,
                   what=f"two ok samples of {SICK}")
        with memory_hog(SICK, WARN_MB):
            wait_until(lambda: levels_of(log_records(log), SICK).count("warn") >= 2, 30,
                       what=f"two warn samples of {SICK}")
            with memory_hog(SICK, CRITICAL_EXTRA_MB):
                out, err = monitor.communicate(timeout=60)
    finally:
        if monitor.poll() is None:
            monitor.send_signal(signal.SIGINT)
            monitor.communicate(timeout=30)
    assert monitor.returncode == 1, err
    rollback_run = json.loads(out)["rollback"]["run_id"]

    done = run_fleet("report", str(log), "--html", str(tmp_path / "monitor.html"))
    assert done.returncode == 0, done.stderr
    page = load(tmp_path / "monitor.html")
    assert_clean(page)
    memory = f"memory of {HOG!r}"
    charts = {c.attrs["data-host"]: c for c in page.dom.find_all("svg", "hc", data_check=memory)}
    assert list(charts) == HOSTS  # a chart per host
    sick = charts[SICK]
    warn, critical = sick.find("line", "lim-w"), sick.find("line", "lim-c")
    assert (warn.attrs["data-limit"], critical.attrs["data-limit"]) == ("20", "60")
    assert warn.number("y1") > critical.number("y1")
    alerts = [(g.attrs["data-to"], g.find("text").text()) for g in sick.find_all("g", "alert")]
    assert alerts == [("warn", "!"), ("critical", "‼")]
    assert sick.find_all("path", "pt-w")  # warn samples marked ▲
    assert sick.find_all("path", "pt-c")  # critical ones ■
    for host in HOSTS:
        if host != SICK:
            assert charts[host].find_all("g", "alert") == [], host
    assert sick.find("rect", "rbband")  # the rollback, marked
    trs = {tr.attrs["data-host"]: tr for tr in page.dom.find("table", "health").find_all("tr")[1:]}
    assert [h for h, tr in trs.items() if "bad" in tr.classes] == [SICK]
    assert rollback_run in page.dom.find("dl", "sum").text()
    keep_screenshot(tmp_path / "monitor.html", "report-monitor.png", tmp_path, 620)
