"""What ``--notify`` says (issue 15): the messages a run's events and the monitor's
alerts make (pure), where the URLs come from, and that a URL is never echoed."""

from __future__ import annotations

from pathlib import Path

import pytest

from fleet.cli.notifier import Notify, gather, notifier_for, scheme, split_env
from fleet.cli.notify import (
    Kind,
    Message,
    RunMessages,
    Tone,
    monitor_alerts,
    monitor_done,
    monitor_rollback,
    monitor_started,
)
from fleet.config.playbook import load_playbook
from fleet.engine.watch import Alert
from fleet.errors import ConfigError
from fleet.events import (
    BatchStarted,
    Event,
    Halted,
    HostFinished,
    RollbackStarted,
    RunFinished,
    RunStarted,
    StepFinished,
)
from fleet.remote.health import Level
from fleet.results import HostOutcome, HostStatus, Outcome, RunResult

TOKEN = "tok-9f2c1e7d5b3a"
HALT_REASON = ("h3 failed: validate: command 'grep -q x' exited 1 — 1 host(s) failed; "
               "max_failures 0 tolerates 0 of 4 selected host(s)")


def told(events: list[Event], result: RunResult) -> list[Message]:
    messages: list[Message] = []
    sink = RunMessages(messages.append)
    for event in events:
        sink.emit(event)
    sink.finished(result)
    return messages


def start(command: str = "rollout") -> RunStarted:
    return RunStarted("run-1", command, "agents", "3f9c1a2b" if command == "rollout" else None,
                      ("h1", "h2", "h3", "h4"),
                      (("h1",), ("h2", "h3"), ("h4",)) if command == "rollout" else ())


def result(outcome: Outcome, duration: float, rollback: float | None = None,
           command: str = "rollout", **statuses: HostStatus) -> RunResult:
    return RunResult("run-1", command, "agents", None, outcome,
                     tuple(HostOutcome(h, s) for h, s in statuses.items()), duration,
                     rollback_duration=rollback)


def test_a_halted_rollout_says_start_canary_halt_rollback_and_done() -> None:
    messages = told([
        start(),
        BatchStarted(0, ("h1",), True),
        HostFinished("h1", HostStatus.DEPLOYED, 0.4),
        BatchStarted(1, ("h2", "h3"), False),
        StepFinished("h3", "activate", False, 0.2, error="validate: command exited 1"),
        HostFinished("h2", HostStatus.DEPLOYED, 0.5),
        HostFinished("h3", HostStatus.ROLLED_BACK, 0.6, error="validate: command exited 1"),
        Halted(HALT_REASON),
        HostFinished("h4", HostStatus.SKIPPED, 0.0),
        RollbackStarted(("h1", "h2")),
        HostFinished("h2", HostStatus.ROLLED_BACK, 0.1),
        HostFinished("h1", HostStatus.ROLLED_BACK, 0.1),
        RunFinished("run-1", Outcome.ROLLED_BACK, 3.25, rollback_duration=1.5),
    ], result(Outcome.ROLLED_BACK, 3.25, 1.5, h1=HostStatus.ROLLED_BACK,
              h2=HostStatus.ROLLED_BACK, h3=HostStatus.ROLLED_BACK, h4=HostStatus.SKIPPED))

    assert [m.kind for m in messages] == [Kind.START, Kind.CANARY_PASSED, Kind.HALT,
                                          Kind.ROLLBACK, Kind.DONE]
    first, canary, halt, rollback, done = messages
    assert first.title == "fleet rollout agents: started"
    assert first.body == ("run run-1, release 3f9c1a2b: 4 host(s) in 3 batch(es) "
                          "(canary: h1).")
    assert canary.title == "fleet rollout agents: canary passed"
    assert canary.body == "h1 deployed and validated; the next batch (2 host(s)) starts."
    assert (halt.title, halt.tone) == ("fleet rollout agents: HALTED", Tone.FAILURE)
    assert HALT_REASON in halt.body
    assert "Failing host(s): h3." in halt.body
    assert rollback.title == "fleet rollout agents: rollback finished"
    assert rollback.body == "3 host(s) rolled back in 1.50 s."
    assert (done.title, done.tone) == ("fleet rollout agents: rolled_back (exit 1)",
                                       Tone.WARNING)
    assert done.body == "run run-1 finished in 3.25 s: 3 rolled_back, 1 skipped."


def test_a_clean_rollout_says_start_canary_and_done_only() -> None:
    messages = told([
        start(),
        BatchStarted(0, ("h1",), True), HostFinished("h1", HostStatus.UNCHANGED, 0.1),
        BatchStarted(1, ("h2", "h3"), False), HostFinished("h2", HostStatus.DEPLOYED, 0.3),
        HostFinished("h3", HostStatus.DEPLOYED, 0.3),
        BatchStarted(2, ("h4",), False), HostFinished("h4", HostStatus.DEPLOYED, 0.3),
        RunFinished("run-1", Outcome.SUCCESS, 2.0),
    ], result(Outcome.SUCCESS, 2.0, h1=HostStatus.UNCHANGED, h2=HostStatus.DEPLOYED,
              h3=HostStatus.DEPLOYED, h4=HostStatus.DEPLOYED))

    assert [m.kind for m in messages] == [Kind.START, Kind.CANARY_PASSED, Kind.DONE]
    assert (messages[-1].title, messages[-1].tone) == ("fleet rollout agents: success (exit 0)",
                                                       Tone.SUCCESS)
    assert messages[-1].body == "run run-1 finished in 2.00 s: 3 deployed, 1 unchanged."


def test_canary_only_says_the_canary_passed_and_stopped_there() -> None:
    messages = told([start(), BatchStarted(0, ("h1",), True),
                     HostFinished("h1", HostStatus.DEPLOYED, 0.1)],
                    result(Outcome.CANARY_ONLY, 1.0, h1=HostStatus.DEPLOYED,
                           h2=HostStatus.SKIPPED))

    assert [m.kind for m in messages] == [Kind.START, Kind.CANARY_PASSED, Kind.DONE]
    assert messages[1].body.endswith("stopping here (--canary-only).")
    assert messages[2].title == "fleet rollout agents: canary_only (exit 0)"


def test_a_failed_canary_is_no_canary_passed_and_an_interrupt_names_no_host() -> None:
    messages = told([start(), BatchStarted(0, ("h1",), True),
                     Halted("interrupted by SIGTERM"),
                     HostFinished("h1", HostStatus.ROLLED_BACK, 0.1)],
                    result(Outcome.ROLLED_BACK, 1.0, h1=HostStatus.ROLLED_BACK))

    assert [m.kind for m in messages] == [Kind.START, Kind.HALT, Kind.DONE]
    assert "Failing host(s): none (interrupted)." in messages[1].body


def test_fleet_rollback_is_one_rollback_message_with_its_duration() -> None:
    messages = told([start("rollback"), RollbackStarted(("h1", "h2"))],
                    result(Outcome.ROLLBACK_INCOMPLETE, 2.5, 2.25, "rollback",
                           h1=HostStatus.ROLLED_BACK, h2=HostStatus.ROLLBACK_FAILED))

    assert [m.kind for m in messages] == [Kind.START, Kind.DONE]
    assert messages[0].body == "run run-1: 4 host(s)."
    done = messages[1]
    assert done.title == ("fleet rollback agents: rollback finished, rollback_incomplete "
                          "(exit 3)")
    assert done.tone is Tone.FAILURE
    assert "1 rollback_failed, 1 rolled_back" in done.body
    assert "The rollback took 2.25 s." in done.body
    assert "Needs a person: h2." in done.body


def test_recover_times_its_rollback_from_the_events() -> None:
    messages = told([start("recover"), RollbackStarted(("h1",))],
                    result(Outcome.SUCCESS, 0.5, None, "recover", h1=HostStatus.ROLLED_BACK))

    assert messages[-1].title == "fleet recover agents: rollback finished, success (exit 0)"
    assert "The rollback took 0.0" in messages[-1].body


def test_a_rollout_whose_rollback_failed_says_who_needs_a_person() -> None:
    messages = told([start(), BatchStarted(0, ("h1",), True),
                     StepFinished("h1", "activate", False, 0.2, error="boom"),
                     HostFinished("h1", HostStatus.ROLLBACK_FAILED, 0.5, error="boom"),
                     Halted("h1 failed: boom"),
                     RollbackStarted(("h1",))],
                    result(Outcome.ROLLBACK_INCOMPLETE, 1.0, 0.2,
                           h1=HostStatus.ROLLBACK_FAILED))

    rollback = next(m for m in messages if m.kind is Kind.ROLLBACK)
    assert rollback.tone is Tone.FAILURE
    assert "Rollback FAILED on h1: they need a person." in rollback.body


def test_monitor_messages_name_every_alert_worst_first() -> None:
    alerts = [Alert("h1", Level.OK, Level.WARN, 1.0, "memory 30 MB > 20"),
              Alert("h2", Level.WARN, Level.CRITICAL, 1.0, "access_time 80 ms > 50"),
              Alert("h3", Level.CRITICAL, Level.OK, 1.0, "")]

    many = monitor_alerts("agents", alerts)
    one = monitor_alerts("agents", alerts[:1])
    back = monitor_alerts("agents", alerts[2:])

    assert many.title == "fleet monitor agents: 3 hosts changed level (worst critical)"
    assert many.body.splitlines() == ["h2: warn -> critical (access_time 80 ms > 50)",
                                      "h1: ok -> warn (memory 30 MB > 20)",
                                      "h3: critical -> ok"]
    assert (many.kind, many.tone) == (Kind.ALERT, Tone.FAILURE)
    assert (one.title, one.tone) == ("fleet monitor agents: h1 ok -> warn", Tone.WARNING)
    assert back.tone is Tone.SUCCESS
    assert monitor_rollback("agents", "h2 stayed critical for 3 samples").body == \
        "Automatic rollback: h2 stayed critical for 3 samples."
    assert "stays critical" in monitor_started("agents", 4, Level.CRITICAL).body
    done = monitor_done("agents", 12, {"h1": Level.OK, "h2": Level.WARN}, rolled_back=True)
    assert done.body == ("Stopped after rolling the fleet back after 12 round(s); last "
                         "levels: 1 ok, 1 warn.")


@pytest.mark.parametrize(("text", "urls"), [
    ("json://a/x json://b/y", ["json://a/x", "json://b/y"]),
    ("json://a/x,json://b/y", ["json://a/x", "json://b/y"]),
    ("  json://a/x ,\n slack://T/B/C,  ", ["json://a/x", "slack://T/B/C"]),
    ("mailto://u:p@h?to=a@x.org,b@y.org json://c", ["mailto://u:p@h?to=a@x.org,b@y.org",
                                                    "json://c"]),
    ("", []),
])
def test_fleet_notify_splits_on_spaces_and_commas_but_not_inside_a_url(
        text: str, urls: list[str]) -> None:
    assert split_env(text) == urls


def test_every_source_adds_receivers_once_each_in_order() -> None:
    found = gather(["json://a/1", "json://b/2"], "json://b/2, json://c/3",
                   ["json://a/1", "json://d/4"], "pb.yml")

    assert [u for u, _ in found] == ["json://a/1", "json://b/2", "json://c/3", "json://d/4"]
    assert [(s.where, s.field) for _, s in found] == [
        ("--notify", "URL 1"), ("--notify", "URL 2"), ("FLEET_NOTIFY", "URL 2"),
        ("pb.yml", "notify[1]")]
    assert notifier_for(Notify(("json://a/1",), off=True), "json://b", ["json://c"], "pb",
                        print) is None
    assert notifier_for(Notify(), None, [], "pb", print) is None
    assert scheme(f"slack://{TOKEN}/B/C") == "slack"
    assert scheme(TOKEN) == "?"


def test_a_url_apprise_cannot_use_is_refused_by_its_place_and_scheme_only() -> None:
    with pytest.raises(ConfigError) as caught:
        notifier_for(Notify((f"nosuchscheme://{TOKEN}@h/x",)), None, [], "pb.yml", print)

    text = caught.value.render()
    assert "--notify" in text
    assert "'nosuchscheme'" in text
    assert TOKEN not in text


def test_without_apprise_a_notify_says_how_to_install_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "apprise", None)  # import fails

    with pytest.raises(ConfigError) as caught:
        notifier_for(Notify(), f"json://u:{TOKEN}@h/", [], "pb.yml", print)

    text = caught.value.render()
    assert "pip install 'fleet[notify]'" in text
    assert "FLEET_NOTIFY" in text
    assert TOKEN not in text


@pytest.mark.parametrize("value", [f'"json://u:{TOKEN}@h/"', f'["json://u:{TOKEN}@h/"]'])
def test_the_playbook_takes_one_url_or_a_list(tmp_path: Path, value: str) -> None:
    assert load_playbook(_playbook(tmp_path, value)).notify == (f"json://u:{TOKEN}@h/",)


@pytest.mark.parametrize("value", [f'["json://u:{TOKEN}@h/", 3]', f'[{{url: "json://{TOKEN}"}}]',
                                   f'["{TOKEN}"]', f"{{a: {TOKEN}}}"])
def test_a_bad_notify_in_the_playbook_never_shows_its_value(tmp_path: Path, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_playbook(_playbook(tmp_path, value))

    text = caught.value.render()
    assert "notify" in text
    assert TOKEN not in text


def _playbook(folder: Path, notify: str) -> Path:
    (folder / "src").mkdir(exist_ok=True)
    (folder / "src" / "a.md").write_text("a\n")
    path = folder / "p.yml"
    path.write_text(f"name: t\nsource: src\ntarget: ~/t\nnotify: {notify}\n")
    return path
