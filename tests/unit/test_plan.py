"""fleet.plan: sizes, batches (canary + Ansible serial) and the plan."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.config.playbook import Strategy
from fleet.errors import ConfigError
from fleet.plan import Batch, build_plan, make_batches, parse_size


@pytest.mark.parametrize(("value", "total", "size"), [
    (1, 10, 1), (7, 3, 7), ("25%", 8, 2), ("25%", 10, 2), ("25%", 3, 1), ("1%", 50, 1),
    ("100%", 9, 9), ("50%", 1, 1), ("50%", 0, 0), ("33%", 100, 33),
])
def test_parse_size(value: int | str, total: int, size: int) -> None:
    assert parse_size(value, total) == size


@pytest.mark.parametrize("value", [-1, "25", "x%", "101%", True])
def test_parse_size_refuses(value: int | str) -> None:
    with pytest.raises(ValueError, match="expected"):
        parse_size(value, 10)


H = [f"h{i}" for i in range(1, 11)]


def shape(batches: Sequence[Batch]) -> list[tuple[bool, tuple[str, ...]]]:
    return [(b.canary, b.hosts) for b in batches]


@pytest.mark.parametrize(("hosts", "canary", "schedule", "expected"), [
    (H[:5], 1, "100%", [(True, ("h1",)), (False, ("h2", "h3", "h4", "h5"))]),
    (H[:5], 0, 2, [(False, ("h1", "h2")), (False, ("h3", "h4")), (False, ("h5",))]),
    (H[:5], 2, 2, [(True, ("h1", "h2")), (False, ("h3", "h4")), (False, ("h5",))]),
    (H[:3], 9, 1, [(True, ("h1", "h2", "h3"))]),
    (H[:4], ["h3"], 2, [(True, ("h3",)), (False, ("h1", "h2")), (False, ("h4",))]),
    (H[:4], ["h4", "h2"], "100%", [(True, ("h2", "h4")), (False, ("h1", "h3"))]),
    (H[:3], ["gone", "h2"], 5, [(True, ("h2",)), (False, ("h1", "h3"))]),
    (H[:3], ["gone"], 5, [(False, ("h1", "h2", "h3"))]),
    (H[:3], [], 1, [(False, ("h1",)), (False, ("h2",)), (False, ("h3",))]),
    # serial list: entries in turn, the last one repeating
    (H, 1, [1, 3], [(True, ("h1",)), (False, ("h2",)), (False, ("h3", "h4", "h5")),
                    (False, ("h6", "h7", "h8")), (False, ("h9", "h10"))]),
    # percentages are of the NON-canary hosts (9 here): 30% of 9 = 2
    (H, 1, "30%", [(True, ("h1",)), (False, ("h2", "h3")), (False, ("h4", "h5")),
                   (False, ("h6", "h7")), (False, ("h8", "h9")), (False, ("h10",))]),
    (H, 0, ["10%", "50%"], [(False, ("h1",)), (False, tuple(H[1:6])), (False, tuple(H[6:]))]),
    (H[:4], 1, ["1%"], [(True, ("h1",)), (False, ("h2",)), (False, ("h3",)), (False, ("h4",))]),
    ([], 1, "100%", []),
    (H[:2], 2, "50%", [(True, ("h1", "h2"))]),
])
def test_make_batches(hosts: list[str], canary: int | list[str],
                      schedule: int | str | list[int | str],
                      expected: list[tuple[bool, tuple[str, ...]]]) -> None:
    batches = make_batches(hosts, canary, schedule)
    assert shape(batches) == expected
    assert [b.index for b in batches] == list(range(len(batches)))


@pytest.mark.parametrize(("hosts", "canary", "schedule"), [
    (H, 1, []), (H, 1, 0), (H, 1, [2, 0]), (H, 1, "x"), (H, 1, "5"), (H, -1, 1),
    (H, "h1", 1), (["a", "a"], 0, 1),
])
def test_make_batches_refuses(hosts: list[str], canary: int | str,
                              schedule: int | str | list[int | str]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message varies per case
        make_batches(hosts, canary, schedule)


names = st.lists(st.from_regex(r"[a-z]{1,6}[0-9]{0,2}", fullmatch=True), unique=True,
                 max_size=40)
entries = st.one_of(st.integers(1, 12), st.integers(1, 100).map(lambda p: f"{p}%"))
schedules = st.one_of(entries, st.lists(entries, min_size=1, max_size=4))


@given(names, st.one_of(st.integers(0, 45), st.lists(st.text(max_size=4), max_size=5)), schedules)
def test_batch_invariants(hosts: list[str], canary: int | list[str],
                          schedule: int | str | list[int | str]) -> None:
    batches = make_batches(hosts, canary, schedule)
    flat = [h for b in batches for h in b.hosts]
    assert sorted(flat) == sorted(hosts)              # every host exactly once
    assert len(flat) == len(set(flat))
    assert all(b.hosts for b in batches)              # no empty batch
    assert [b.index for b in batches] == list(range(len(batches)))
    canaries = [b for b in batches if b.canary]
    assert len(canaries) <= 1
    if canaries:
        assert batches[0].canary                      # the canary batch comes first
    first = batches[0].hosts if canaries else ()
    rest = [h for b in batches if not b.canary for h in b.hosts]
    assert list(first) == [h for h in hosts if h in first]          # host order kept
    assert rest == [h for h in hosts if h not in first]
    if isinstance(canary, int):
        assert list(first) == hosts[:canary]                        # the first N hosts
    else:
        assert set(first) == set(canary) & set(hosts)               # the named ones present


@given(names, st.integers(0, 45), schedules)
def test_batch_sizes_follow_the_schedule(hosts: list[str], canary: int,
                                         schedule: int | str | list[int | str]) -> None:
    batches = [b for b in make_batches(hosts, canary, schedule) if not b.canary]
    rest = max(len(hosts) - canary, 0)
    steps = [schedule] if isinstance(schedule, int | str) else schedule
    for i, batch in enumerate(batches[:-1]):          # every batch but the last is full
        assert len(batch.hosts) == parse_size(steps[min(i, len(steps) - 1)], rest)
    if batches:
        last = len(batches) - 1
        assert len(batches[-1].hosts) <= parse_size(steps[min(last, len(steps) - 1)], rest)


def strategy(**values: object) -> Strategy:
    return Strategy.model_validate(values)


def test_build_plan_carries_the_strategy() -> None:
    plan = build_plan(H[:5], strategy(canary=1, batch_size=2, forks=3, max_failures="40%",
                                      on_failure="halt", bake="1m"))
    assert plan.hosts == tuple(H[:5])
    assert shape(plan.batches) == [(True, ("h1",)), (False, ("h2", "h3")),
                                   (False, ("h4", "h5"))]
    assert plan.canaries == ("h1",)
    assert plan.forks == 3
    assert plan.on_failure == "halt"
    assert plan.bake_s == 60.0
    assert plan.halt_policy.total_hosts == 5
    assert plan.halt_policy.tolerated == 2


def test_build_plan_defaults() -> None:
    plan = build_plan(H[:3], strategy())
    assert shape(plan.batches) == [(True, ("h1",)), (False, ("h2", "h3"))]
    assert plan.forks == 20
    assert plan.halt_policy.tolerated == 0
    assert plan.on_failure == "rollback_all"
    assert plan.bake_s is None


def test_canary_name_not_in_inventory_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        build_plan(H[:3], strategy(canary=["h9"]), inventory_hosts=H[:5],
                   playbook_file="pb.yml")
    assert info.value.field == "strategy.canary"
    assert info.value.file == "pb.yml"
    assert "'h9' is not in the inventory" in info.value.message
    assert "h1" in info.value.message


def test_canary_excluded_by_limit_is_just_not_a_canary() -> None:
    plan = build_plan(["h2", "h3"], strategy(canary=["h1", "h3"]), inventory_hosts=H[:3])
    assert shape(plan.batches) == [(True, ("h3",)), (False, ("h2",))]
    plan = build_plan(["h2"], strategy(canary=["h1"]), inventory_hosts=H[:3])
    assert plan.canaries == ()


def test_without_inventory_hosts_the_selection_is_the_inventory() -> None:
    with pytest.raises(ConfigError, match="'h1' is not in the inventory"):
        build_plan(["h2"], strategy(canary=["h1"]))
