"""A conversation's deadlines and SLA state at an instant: ok, due-soon, overdue, answered."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from maild.sla import (
    BusinessCalendar,
    ClockPolicy,
    SlaPolicy,
    Window,
    deadlines,
    evaluate,
    first_response,
    state_at,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
H = timedelta(hours=1)
T0 = datetime(2026, 3, 2, 8, tzinfo=UTC)  # a Monday, 16:00 in Shanghai
NINE_TO_NINE = BusinessCalendar.daily((Window.parse("09:00-21:00"),), SHANGHAI)
# Monday to Friday 09:00-18:00 in Shanghai.
OFFICE = BusinessCalendar(zone=SHANGHAI, week=((Window.parse("09:00-18:00"),),) * 5 + ((), ()))

WALMART = SlaPolicy(
    "walmart", ClockPolicy({"default": 48 * H, "customer-care": 48 * H, "escalated": 1 * H})
)
DOUYIN = SlaPolicy("douyin", ClockPolicy({"default": 24 * H, "urgent": 2 * H}, NINE_TO_NINE))
WITH_TEAM_TARGET = SlaPolicy(
    "team", WALMART.platform, internal=ClockPolicy({"default": 4 * H}, OFFICE)
)


def test_nothing_waiting_is_answered_with_no_clock_running() -> None:
    state = evaluate(None, ["urgent"], WALMART, T0)

    assert state.state == "answered"
    assert state.clocks == ()
    assert state.first is None
    assert state.due is None


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        (timedelta(0), "ok"),
        (36 * H - timedelta(seconds=1), "ok"),
        (36 * H, "due-soon"),  # exactly 25% of 48 h left
        (48 * H, "due-soon"),  # a reply at the due instant is still on time
        (48 * H + timedelta(seconds=1), "overdue"),
        (-H, "ok"),  # now before the message (clocks disagree): plenty of time
    ],
)
def test_state_follows_the_share_of_the_allowance_left(elapsed: timedelta, expected: str) -> None:
    state = evaluate(T0, [], WALMART, T0 + elapsed)

    assert state.state == expected
    assert state.due == T0 + 48 * H


def test_due_soon_ratio_is_the_policys() -> None:
    eager = SlaPolicy("eager", WALMART.platform, due_soon_ratio=0.5)

    assert evaluate(T0, [], eager, T0 + 24 * H).state == "due-soon"
    assert evaluate(T0, [], WALMART, T0 + 24 * H).state == "ok"


@pytest.mark.parametrize(
    ("kinds", "kind", "allowance"),
    [
        ([], "default", 48 * H),
        (["pre-sale", "ticket:product"], "default", 48 * H),  # no allowance of their own
        (["customer-care"], "customer-care", 48 * H),
        (["customer-care", "escalated"], "escalated", H),  # the strictest applies
    ],
)
def test_strictest_allowance_among_the_conversations_kinds_applies(
    kinds: list[str], kind: str, allowance: timedelta
) -> None:
    (deadline,) = deadlines(T0, kinds, WALMART)

    assert (deadline.clock, deadline.kind, deadline.allowance) == ("platform", kind, allowance)
    assert deadline.due == T0 + allowance


def test_time_left_is_given_in_business_time_and_in_wall_time() -> None:
    received = datetime(2026, 3, 2, 20, tzinfo=SHANGHAI)
    now = datetime(2026, 3, 2, 22, tzinfo=SHANGHAI)  # closed: the business clock stands

    (clock,) = evaluate(received, [], DOUYIN, now).clocks

    # 24 business hours: 1 on Monday, 12 on Tuesday, 11 on Wednesday.
    assert clock.deadline.due == datetime(2026, 3, 4, 20, tzinfo=SHANGHAI)
    assert clock.business_left == 23 * H
    assert clock.wall_left == 46 * H


def test_overdue_time_left_is_negative() -> None:
    state = evaluate(T0, ["escalated"], WALMART, T0 + 3 * H)

    assert state.state == "overdue"
    assert state.clocks[0].business_left == -2 * H
    assert state.clocks[0].wall_left == -2 * H


def test_internal_target_due_first_decides_the_state() -> None:
    # Monday 16:00 Shanghai: the team's 4 business hours end Tuesday 11:00, long
    # before Walmart's 48 hours; at Tuesday 12:00 the team is late, Walmart is not.
    now = datetime(2026, 3, 3, 12, tzinfo=SHANGHAI)

    state = evaluate(T0, [], WITH_TEAM_TARGET, now)

    platform, internal = state.clocks
    assert (platform.deadline.clock, platform.state) == ("platform", "ok")
    assert (internal.deadline.clock, internal.state) == ("internal", "overdue")
    assert internal.deadline.due == datetime(2026, 3, 3, 11, tzinfo=SHANGHAI)
    assert state.first is internal
    assert state.state == "overdue"


def test_platform_deadline_due_first_decides_when_escalated() -> None:
    state = evaluate(T0, ["escalated"], WITH_TEAM_TARGET, T0 + 50 * timedelta(minutes=1))

    assert state.first is not None
    assert state.first.deadline.clock == "platform"
    assert state.state == "due-soon"


def test_clocks_due_at_the_same_instant_are_led_by_the_platform() -> None:
    twin = SlaPolicy("twin", WALMART.platform, internal=WALMART.platform)

    state = evaluate(T0, [], twin, T0)

    assert state.first is state.clocks[0]
    assert state.clocks[0].deadline.clock == "platform"


def test_first_response_counts_business_seconds_only() -> None:
    asked = datetime(2026, 3, 2, 20, tzinfo=SHANGHAI)
    replied = datetime(2026, 3, 3, 10, tzinfo=SHANGHAI)

    assert first_response(asked, replied, NINE_TO_NINE) == 2 * 3600.0


def test_reply_stamped_before_the_question_waited_no_time() -> None:
    assert first_response(T0, T0 - H, NINE_TO_NINE) == 0.0


def test_deadlines_kept_from_earlier_give_the_same_state_later() -> None:
    kept = deadlines(T0, ["escalated"], WITH_TEAM_TARGET)

    for later in (T0, T0 + 50 * timedelta(minutes=1), T0 + 2 * H):
        assert state_at(kept, 0.25, later) == evaluate(T0, ["escalated"], WITH_TEAM_TARGET, later)


def test_state_of_no_deadline_at_all_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one deadline"):
        state_at((), 0.25, T0)


@pytest.mark.parametrize("awaiting_since", [T0, None])
def test_naive_now_is_refused(awaiting_since: datetime | None) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        evaluate(awaiting_since, [], WALMART, datetime(2026, 3, 2, 8))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ClockPolicy({"urgent": H}), "'default' allowance"),
        (lambda: ClockPolicy({"default": timedelta(0)}), "positive"),
        (lambda: SlaPolicy("x", WALMART.platform, due_soon_ratio=1.0), "between 0 and 1"),
    ],
    ids=["no default", "zero allowance", "ratio of 1"],
)
def test_policies_that_cannot_work_are_refused(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()
