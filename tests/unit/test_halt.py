"""fleet.halt: every halt rule, as tables."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fleet.config.units import parse_percent
from fleet.halt import Continue, Halt, HaltPolicy


@pytest.mark.parametrize(("max_failures", "total", "failed", "canary_failed", "halts"), [
    # max_failures 0: the first failure halts
    (0, 10, 0, False, False),
    (0, 10, 1, False, True),
    # int N tolerates N, halts at N+1
    (2, 10, 2, False, False),
    (2, 10, 3, False, True),
    (1, 1, 1, False, False),
    # a failed canary always halts, whatever the budget
    (5, 10, 0, True, True),
    (5, 10, 1, True, True),
    ("100%", 10, 1, True, True),
    # "P%": floor(P% of the selected hosts) tolerated
    ("10%", 10, 1, False, False),
    ("10%", 10, 2, False, True),
    ("10%", 9, 1, False, True),     # floor(0.9) = 0: any failure halts
    ("10%", 15, 1, False, False),   # floor(1.5) = 1
    ("10%", 15, 2, False, True),
    ("50%", 5, 2, False, False),
    ("50%", 5, 3, False, True),
    ("0%", 100, 1, False, True),
    ("100%", 4, 4, False, False),
    ("25%", 0, 0, False, False),
])
def test_decide(max_failures: int | str, total: int, failed: int, canary_failed: bool,
                halts: bool) -> None:
    decision = HaltPolicy(max_failures, total_hosts=total).decide(failed, canary_failed)
    assert isinstance(decision, Halt) is halts
    assert isinstance(decision, Continue) is not halts


@pytest.mark.parametrize(("max_failures", "total", "tolerated"), [
    (0, 10, 0), (3, 10, 3), ("10%", 10, 1), ("10%", 19, 1), ("10%", 20, 2), ("33%", 3, 0),
    ("34%", 3, 1), ("100%", 7, 7), ("0%", 7, 0),
])
def test_tolerated(max_failures: int | str, total: int, tolerated: int) -> None:
    assert HaltPolicy(max_failures, total_hosts=total).tolerated == tolerated


def test_halt_reasons_say_why() -> None:
    canary = HaltPolicy(3, 10).decide(0, canary_failed=True)
    assert isinstance(canary, Halt)
    assert "canary" in canary.reason
    budget = HaltPolicy("10%", 20).decide(3, canary_failed=False)
    assert isinstance(budget, Halt)
    assert "3 host(s) failed" in budget.reason
    assert "tolerates 2 of 20" in budget.reason


@pytest.mark.parametrize(("max_failures", "total"), [
    (-1, 10), ("10", 10), ("101%", 10), ("1.5%", 10), ("%", 10), (True, 10), (0, -1),
])
def test_bad_policy_is_refused(max_failures: int | str, total: int) -> None:
    with pytest.raises(ValueError, match=r"must be|expected"):
        HaltPolicy(max_failures, total_hosts=total)


def test_negative_failed_is_refused() -> None:
    with pytest.raises(ValueError, match="failed must be >= 0"):
        HaltPolicy(0, 3).decide(-1, canary_failed=False)


@pytest.mark.parametrize(("text", "value"), [("0%", 0), ("7%", 7), ("100%", 100)])
def test_parse_percent(text: str, value: int) -> None:
    assert parse_percent(text) == value


@pytest.mark.parametrize("text", ["", "5", "%5", "5 %", "-5%", "101%", "5.0%", "five%"])
def test_parse_percent_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="percentage"):
        parse_percent(text)


@given(st.integers(0, 100), st.integers(0, 500), st.integers(0, 500))
def test_percent_budget_is_floor(percent: int, total: int, failed: int) -> None:
    policy = HaltPolicy(f"{percent}%", total_hosts=total)
    tolerated = total * percent // 100
    assert policy.tolerated == tolerated
    assert isinstance(policy.decide(failed, canary_failed=False), Halt) is (failed > tolerated)


@given(st.integers(0, 50), st.integers(0, 60))
def test_more_failures_never_undo_a_halt(budget: int, failed: int) -> None:
    policy = HaltPolicy(budget, total_hosts=60)
    if isinstance(policy.decide(failed, canary_failed=False), Halt):
        assert isinstance(policy.decide(failed + 1, canary_failed=False), Halt)
