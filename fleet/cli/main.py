"""The command line: the commands, their options and their help.

Only click is imported here, so ``fleet --version``, ``--help`` and shell
completion start as fast as Python does; a command's work (inventory,
playbook, SSH, rich) is imported when the command runs (:mod:`fleet.cli.commands`).
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import click


@contextmanager
def _loading() -> Iterator[None]:
    """Import a command's work with the garbage collector paused, then freeze what
    was imported: its hundreds of modules, classes and models would otherwise set
    off full collections that free nothing (about 30 ms of start-up), and each
    later collection of the run would walk them again."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.freeze()


def _common(fn: Callable[..., None]) -> Callable[..., None]:
    """The options every command takes: inventories, --limit, --json, --forks, -v."""
    fn = click.option("--ask-become-pass", "-K", "ask_become_pass", is_flag=True,
                      help="Prompt for the sudo password of hosts with become (else "
                           "FLEET_BECOME_PASSWORD or ansible_become_password).")(fn)
    fn = click.option("--accept-new-hosts", is_flag=True,
                      help="Record the key of a host not yet in known_hosts (changed keys "
                           "are always refused).")(fn)
    fn = click.option("--verbose", "-v", is_flag=True,
                      help="Show every host and step live, even in a big run.")(fn)
    fn = click.option("--forks", type=click.IntRange(min=1), default=None, metavar="N",
                      help="Most hosts in flight at once (overrides strategy.forks).")(fn)
    fn = click.option("--json", "as_json", is_flag=True,
                      help="Print one JSON result object on stdout; human output on stderr.")(fn)
    fn = click.option("--limit", "-l", default=None, metavar="PATTERN",
                      help="Ansible host pattern: names, groups, globs, a:b, !x, &g.")(fn)
    fn = click.option("-i", "--inventory", "inventories", multiple=True, required=True,
                      type=click.Path(path_type=Path), envvar="FLEET_INVENTORY",
                      help="Inventory file, folder or host list (repeatable; env "
                           "FLEET_INVENTORY).")(fn)
    return click.argument("playbook", type=click.Path(path_type=Path))(fn)


def _notify(fn: Callable[..., None]) -> Callable[..., None]:
    """The notification options of the commands that change hosts or watch them."""
    fn = click.option("--no-notify", "no_notify", is_flag=True,
                      help="Send no notification (whatever FLEET_NOTIFY or notify: say).")(fn)
    return click.option("--notify", "notify", multiple=True, metavar="URL",
                        help="Tell this apprise URL of start, canary, halt, rollback and done "
                             "(repeatable; also env FLEET_NOTIFY and the playbook's "
                             "notify:; needs fleet[notify]).")(fn)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fleet")
def main() -> None:
    """fleet: roll files out to many machines over SSH, safely."""


def _scheduler(fn: Callable[..., None]) -> Callable[..., None]:
    """``--scheduler`` (env FLEET_SCHEDULER): where each host's work runs."""
    return click.option(
        "--scheduler", default=None, envvar="FLEET_SCHEDULER", metavar="tcp://HOST:8786",
        help="Run each host's work on a Dask worker of its fleet_zone; decisions stay "
             "here (fleet[dask]; env FLEET_SCHEDULER).")(fn)


@main.command("rollout")
@_common
@_notify
@click.option("--canary-only", is_flag=True, help="Stop after the canaries pass; leave them on.")
@click.option("--check", "dry_run", is_flag=True,
              help="Show per host what would change; touch nothing.")
@click.option("--diff", "diff", is_flag=True,
              help="With --check: a unified diff per file that would be replaced or made.")
@_scheduler
def rollout_cmd(playbook: Path, inventories: Sequence[Path], limit: str | None, as_json: bool,
                accept_new_hosts: bool, ask_become_pass: bool, forks: int | None,
                verbose: bool, notify: Sequence[str], no_notify: bool, canary_only: bool,
                dry_run: bool, diff: bool, scheduler: str | None) -> None:
    """Canary first, then batches; on a failure halt and roll back every touched host."""
    with _loading():
        from fleet.cli import commands
    from fleet.cli.notifier import Notify

    commands.rollout(playbook, inventories, limit, as_json, accept_new_hosts, ask_become_pass,
                     canary_only, dry_run, forks=forks, verbose=verbose, scheduler=scheduler,
                     diff=diff, notify=Notify(notify, no_notify))


@main.command("rollback")
@_common
@_notify
@click.option("--to", "to", default=None, metavar="RELEASE",
              help="Walk each host back until it is on this release.")
@click.option("--force", is_flag=True,
              help="Roll back even files changed by hand since the rollout (drift).")
@_scheduler
def rollback_cmd(playbook: Path, inventories: Sequence[Path], limit: str | None, as_json: bool,
                 accept_new_hosts: bool, ask_become_pass: bool, forks: int | None,
                 verbose: bool, notify: Sequence[str], no_notify: bool, to: str | None,
                 force: bool, scheduler: str | None) -> None:
    """Undo the newest release on the selected hosts, from the backups on the hosts."""
    with _loading():
        from fleet.cli import commands
    from fleet.cli.notifier import Notify

    commands.rollback(playbook, inventories, limit, as_json, accept_new_hosts, ask_become_pass, to,
                      force, forks=forks, verbose=verbose, scheduler=scheduler,
                      notify=Notify(notify, no_notify))


@main.command("recover")
@_common
@_notify
@click.option("--run", "only", default=None, metavar="RUN_ID",
              help="Recover only this run (default: every unfinished run found).")
@_scheduler
def recover_cmd(playbook: Path, inventories: Sequence[Path], limit: str | None, as_json: bool,
                accept_new_hosts: bool, ask_become_pass: bool, forks: int | None,
                verbose: bool, notify: Sequence[str], no_notify: bool, only: str | None,
                scheduler: str | None) -> None:
    """After a controller died mid-run: roll back every host the unfinished run touched.

    Run it only when no other fleet run is in progress.
    """
    with _loading():
        from fleet.cli import commands
    from fleet.cli.notifier import Notify

    commands.recover(playbook, inventories, limit, as_json, accept_new_hosts, ask_become_pass, only,
                     forks=forks, verbose=verbose, scheduler=scheduler,
                     notify=Notify(notify, no_notify))


@main.command("status")
@_common
@_scheduler
def status_cmd(playbook: Path, inventories: Sequence[Path], limit: str | None, as_json: bool,
               accept_new_hosts: bool, ask_become_pass: bool, forks: int | None,
               verbose: bool, scheduler: str | None) -> None:
    """Per host: current release, when, which run, drift, unfinished runs. Read-only."""
    with _loading():
        from fleet.cli import commands

    commands.status(playbook, inventories, limit, as_json, accept_new_hosts, ask_become_pass,
                    forks=forks, scheduler=scheduler)


@main.command("monitor")
@_common
@_notify
@click.option("--interval", default="5s", show_default=True, metavar="SCHEDULE",
              help="How often to sample: 5s, or a schedule like '5m for 1h, then 1h'.")
@click.option("--duration", default=None, metavar="DURATION",
              help="Stop after this long (30s, 5m, 24h); default: until Ctrl-C.")
@click.option("--rollback-on", type=click.Choice(["warn", "critical"]), default=None,
              help="Roll the fleet back when a host stays at this level (or worse).")
@click.option("--grace", default=3, show_default=True, type=click.IntRange(min=1),
              help="Consecutive samples at that level before rolling back.")
@click.option("--log", "log_path", type=click.Path(path_type=Path), default=None,
              help="Sample log (JSON lines); default .fleet/monitor/<name>-<time>.jsonl.")
def monitor_cmd(playbook: Path, inventories: Sequence[Path], limit: str | None, as_json: bool,
                accept_new_hosts: bool, ask_become_pass: bool, forks: int | None,
                verbose: bool, notify: Sequence[str], no_notify: bool, interval: str,
                duration: str | None, rollback_on: str | None, grace: int,
                log_path: Path | None) -> None:
    """Watch the playbook's health checks on every host; alert on changes; auto-rollback."""
    with _loading():
        from fleet.cli import commands
    from fleet.cli.notifier import Notify

    commands.monitor(playbook, inventories, limit, as_json, accept_new_hosts, ask_become_pass,
                     interval, duration, rollback_on, grace, log_path, forks=forks,
                     verbose=verbose, notify=Notify(notify, no_notify))


@main.command("inventory")
@click.option("-i", "--inventory", "inventories", multiple=True, required=True,
              type=click.Path(path_type=Path), envvar="FLEET_INVENTORY",
              help="Inventory file, folder or host list (repeatable; env FLEET_INVENTORY).")
@click.option("--limit", "-l", default=None, metavar="PATTERN", help="Ansible host pattern.")
@click.option("--list", "as_list", is_flag=True, help="Groups, hosts and vars as JSON.")
@click.option("--host", "host", default=None, metavar="NAME", help="One host's vars as JSON.")
@click.option("--graph", "graph", is_flag=True, help="The group tree (from GROUP, or all).")
@click.argument("group", required=False, default="all")
def inventory_cmd(inventories: Sequence[Path], limit: str | None, as_list: bool,
                  host: str | None, graph: bool, group: str) -> None:
    """What fleet resolved from the inventory, in ansible-inventory's shapes."""
    with _loading():
        from fleet.cli import commands

    commands.inventory(inventories, limit, as_list, host, graph, group)


@main.command("history")
@click.option("--json", "as_json", is_flag=True, help="One JSON list of runs on stdout.")
@click.option("-n", "--last", default=20, show_default=True, type=click.IntRange(min=1),
              help="How many recent runs.")
def history_cmd(as_json: bool, last: int) -> None:
    """Past runs of this folder, from the run logs in .fleet/runs/."""
    with _loading():
        from fleet.cli import logs

    logs.history(as_json, last)


@main.command("report")
@click.argument("run_id", required=False)
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown",
              show_default=True, help="What to print on stdout.")
@click.option("--junit", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="Also write a JUnit XML file: one test case per host and step.")
@click.option("--html", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="Also write one self-contained HTML page: summary, timeline, hosts.")
@click.option("--site", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="Instead: write a static site of every run and monitor log to DIR "
                   "(DIR/index.html).")
def report_cmd(run_id: str | None, fmt: str, junit: Path | None, html: Path | None,
               site: Path | None) -> None:
    """One run's report as Markdown, JSON, JUnit or HTML (RUN_ID may be a unique prefix,
    a monitor log's name, or a .jsonl file); --site DIR: a page for every run."""
    with _loading():
        from fleet.cli import logs

    logs.report(run_id, fmt, junit, html=html, site=site)
