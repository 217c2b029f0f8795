"""The business-time clock: when an allowance runs out, and how much an interval used."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from maild.sla import (
    WALL_CLOCK,
    BusinessCalendar,
    CalendarError,
    PublicHolidays,
    Window,
    add_business_time,
    business_time_between,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
H = timedelta(hours=1)


def hours(*texts: str) -> tuple[Window, ...]:
    return tuple(Window.parse(text) for text in texts)


DOUYIN = BusinessCalendar.daily(hours("09:00-21:00"), SHANGHAI)
SPLIT = BusinessCalendar.daily(hours("09:00-12:00", "13:30-21:00"), SHANGHAI)
# Monday to Friday 09:00-18:00 in Shanghai.
OFFICE = BusinessCalendar(zone=SHANGHAI, week=(hours("09:00-18:00"),) * 5 + ((), ()))


def sh(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    """A time in Shanghai in March 2026 (2026-03-02 is a Monday)."""
    return datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("calendar", "start", "allowance", "due"),
    [
        # DOMAIN.md: 20:00 with 12 hours counts 20:00-21:00, then 11 hours from 09:00.
        (DOUYIN, sh(2, 20), 12 * H, sh(3, 20)),
        (DOUYIN, sh(2, 6), 2 * H, sh(2, 11)),  # before opening: counts from 09:00
        (DOUYIN, sh(2, 22), 2 * H, sh(3, 11)),  # after closing: from 09:00 next day
        (DOUYIN, sh(2, 9), 12 * H, sh(2, 21)),  # runs out at the close: due at the close
        (DOUYIN, sh(2, 21), H, sh(3, 10)),  # arrives at the close: nothing left that day
        (DOUYIN, sh(2, 8, 59), H, sh(2, 10)),
        (DOUYIN, sh(2, 20), 24 * H, sh(4, 20)),  # douyin ordinary ticket
        (DOUYIN, sh(2, 20), 2 * H, sh(3, 10)),  # douyin urgent ticket
        (SPLIT, sh(2, 11), 2 * H, sh(2, 14, 30)),  # the lunch break does not count
        (SPLIT, sh(2, 12, 30), H, sh(2, 14, 30)),  # arrives during the break
        (SPLIT, sh(2, 20), 4 * H, sh(3, 12)),  # 1 h tonight + 3 h morning, due at the break
        (SPLIT, sh(2, 20), 4 * H + timedelta(minutes=1), sh(3, 13, 31)),
        (OFFICE, sh(6, 17), 2 * H, sh(9, 10)),  # Friday evening: Monday morning
        (OFFICE, sh(7, 10), H, sh(9, 10)),  # Saturday: counts from Monday 09:00
        (OFFICE, sh(2, 9), 45 * H, sh(6, 18)),  # five whole days end on Friday's close
        (WALL_CLOCK, sh(2, 20), 48 * H, sh(4, 20)),
    ],
    ids=lambda value: str(value) if isinstance(value, timedelta | datetime) else "",
)
def test_allowance_runs_out_at_the_expected_time(
    calendar: BusinessCalendar, start: datetime, allowance: timedelta, due: datetime
) -> None:
    assert add_business_time(start, allowance, calendar) == due
    assert business_time_between(start, due, calendar) == allowance


def test_worked_example_of_domain_md_prints_with_the_platform_offset() -> None:
    due = add_business_time(sh(2, 20), 12 * H, DOUYIN)

    assert due.astimezone(SHANGHAI).isoformat() == "2026-03-03T20:00:00+08:00"


def test_due_times_compare_as_instants_in_the_hour_clocks_repeat() -> None:
    # New York, 1 November 2026, open 01:30-04:30; it is 01:00 EDT. One second is due
    # at 01:30:01 EDT, half an hour at 01:00 EST: later, though its clock reads earlier.
    calendar = BusinessCalendar.daily(hours("01:30-04:30"), NEW_YORK)
    start = ny(11, 1, 1)

    soon = add_business_time(start, timedelta(seconds=1), calendar)
    later = add_business_time(start, timedelta(minutes=30), calendar)

    assert (soon, later) == (
        datetime(2026, 11, 1, 5, 30, 1, tzinfo=UTC),
        datetime(2026, 11, 1, 6, tzinfo=UTC),
    )
    assert soon < later
    assert min(later, soon) is soon


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (sh(2, 0), sh(3, 0), 12 * H),
        (sh(2, 20), sh(3, 10), 2 * H),
        (sh(2, 21), sh(3, 9), timedelta(0)),  # overnight counts nothing
        (sh(2, 10), sh(2, 10), timedelta(0)),
        (sh(3, 10), sh(2, 20), -2 * H),  # backwards: time overdue is negative
    ],
)
def test_time_between_counts_only_opening_hours(
    a: datetime, b: datetime, expected: timedelta
) -> None:
    assert business_time_between(a, b, DOUYIN) == expected


def test_holiday_is_skipped_and_make_up_day_is_worked_with_mondays_hours() -> None:
    calendar = BusinessCalendar(
        zone=SHANGHAI,
        # Monday has a lunch break; the other weekdays do not.
        week=(hours("09:00-12:00", "13:30-18:00"), *(hours("09:00-18:00"),) * 4, (), ()),
        holidays=frozenset({date(2026, 3, 9)}),  # a Monday
        extra_working_days=frozenset({date(2026, 3, 7)}),  # a Saturday
    )

    # Friday's close + 1 h: Saturday is worked from 09:00 with Monday's split hours.
    assert add_business_time(sh(6, 18), H, calendar) == sh(7, 10)
    assert add_business_time(sh(7, 11), 2 * H, calendar) == sh(7, 14, 30)
    # Saturday's close + 1 h: Sunday is off, Monday the 9th a holiday; Tuesday has no break.
    assert add_business_time(sh(7, 18), H, calendar) == sh(10, 10)
    assert add_business_time(sh(10, 11), 2 * H, calendar) == sh(10, 13)


def test_make_up_day_can_have_its_own_hours() -> None:
    calendar = BusinessCalendar(
        zone=SHANGHAI,
        week=(hours("09:00-18:00"),) * 5 + ((), ()),
        extra_working_days=frozenset({date(2026, 3, 7)}),
        extra_day_hours=hours("10:00-12:00"),
    )

    assert business_time_between(sh(7, 0), sh(8, 0), calendar) == 2 * H


def test_public_holidays_take_chinas_spring_festival_and_make_up_saturday() -> None:
    # 2026: 15-23 Feb off (Spring Festival), Saturday 14 Feb and 28 Feb worked.
    calendar = BusinessCalendar(
        zone=SHANGHAI, week=(hours("09:00-18:00"),) * 5 + ((), ()), public=PublicHolidays("CN")
    )

    assert business_time_between(sh(14, 0, month=2), sh(15, 0, month=2), calendar) == 9 * H
    assert add_business_time(sh(13, 17, month=2), 2 * H, calendar) == sh(14, 10, month=2)
    assert add_business_time(sh(14, 18, month=2), H, calendar) == sh(24, 10, month=2)


def test_own_dates_win_over_the_public_holidays() -> None:
    calendar = BusinessCalendar(
        zone=SHANGHAI,
        week=(hours("09:00-18:00"),) * 5 + ((), ()),
        public=PublicHolidays("CN"),
        extra_working_days=frozenset({date(2026, 2, 16)}),  # a public holiday, worked
        holidays=frozenset({date(2026, 2, 14)}),  # a make-up Saturday, not worked
    )

    assert business_time_between(sh(14, 0, month=2), sh(17, 0, month=2), calendar) == 9 * H


# -- daylight saving time (America/New_York: 2026-03-08 and 2026-11-01 at 02:00) --------


def ny(month: int, day: int, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NEW_YORK, fold=fold)


NIGHT = BusinessCalendar.daily(hours("01:00-05:00"), NEW_YORK)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (ny(3, 7, 0), 4 * H),
        (ny(3, 8, 0), 3 * H),  # spring forward: 01:00 EST to 05:00 EDT is 3 real hours
        (ny(11, 1, 0), 5 * H),  # fall back: 01:00 EDT to 05:00 EST is 5 real hours
    ],
)
def test_window_across_two_oclock_holds_real_time_on_dst_nights(
    day: datetime, expected: timedelta
) -> None:
    assert business_time_between(day, day + timedelta(days=1), NIGHT) == expected


def test_allowance_across_spring_forward_counts_real_hours() -> None:
    # 01:30 EST + 1 h of business time = 03:30 EDT (02:00-03:00 does not exist).
    assert add_business_time(ny(3, 8, 1, 30), H, NIGHT) == ny(3, 8, 3, 30)


def test_allowance_across_fall_back_counts_the_repeated_hour() -> None:
    # 01:30 EDT + 1 h = 01:30 EST, the second time the clock reads 01:30.
    due = add_business_time(ny(11, 1, 1, 30), H, NIGHT)

    # (Written in UTC: PEP 495 makes a repeated local time unequal to any other zone's.)
    assert due == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    assert due.astimezone(NEW_YORK).fold == 1


def test_window_opening_in_the_skipped_hour_opens_when_the_clocks_jump() -> None:
    calendar = BusinessCalendar.daily(hours("02:30-04:00"), NEW_YORK)

    assert add_business_time(ny(3, 8, 0), timedelta(minutes=1), calendar) == ny(3, 8, 3, 1)
    assert business_time_between(ny(3, 8, 0), ny(3, 9, 0), calendar) == H


def test_window_wholly_in_the_skipped_hour_does_not_exist_that_day() -> None:
    calendar = BusinessCalendar.daily(hours("02:00-02:30", "10:00-11:00"), NEW_YORK)

    assert business_time_between(ny(3, 8, 0), ny(3, 9, 0), calendar) == H
    assert business_time_between(ny(3, 9, 0), ny(3, 10, 0), calendar) == 1.5 * H


def test_clocks_changing_at_midnight_keep_each_days_hours_apart() -> None:
    # Havana skips 00:00-01:00 on 8 March 2026; Santiago repeats 23:00-24:00 on 4 April.
    havana, santiago = ZoneInfo("America/Havana"), ZoneInfo("America/Santiago")
    early = BusinessCalendar.daily(hours("00:00-02:00"), havana)
    late = BusinessCalendar.daily(hours("22:00-24:00"), santiago)

    def day(zone: ZoneInfo, month: int, number: int) -> tuple[datetime, datetime]:
        return datetime(2026, month, number, tzinfo=zone), datetime(
            2026, month, number + 1, tzinfo=zone
        )

    assert business_time_between(*day(havana, 3, 8), early) == H
    assert business_time_between(*day(santiago, 4, 4), late) == 3 * H
    # Santiago, 23:30 the second time round: what is left of the window is still open.
    second = datetime(2026, 4, 5, 3, 30, tzinfo=UTC)
    assert add_business_time(second, timedelta(minutes=30), late) == datetime(
        2026, 4, 5, 4, tzinfo=UTC
    )


def test_wall_clock_counts_real_time_across_dst() -> None:
    calendar = BusinessCalendar(zone=NEW_YORK)

    due = add_business_time(ny(3, 7, 12), 24 * H, calendar)

    assert due == ny(3, 8, 13)  # 24 real hours; the wall clock moved 25


# -- long allowances, limits and mistakes -------------------------------------------------


def test_a_year_of_office_hours_lands_on_the_same_weekday_and_hour() -> None:
    # 52 weeks x 5 days x 9 hours, from Monday 09:00: due on a Friday's close a year on.
    due = add_business_time(sh(2, 9), 52 * 45 * H, OFFICE)

    assert due == datetime(2027, 2, 26, 18, tzinfo=SHANGHAI)
    assert business_time_between(sh(2, 9), due, OFFICE) == 52 * 45 * H


def test_calendar_without_any_working_time_is_refused() -> None:
    with pytest.raises(ValueError, match="no working time at all"):
        BusinessCalendar(zone=SHANGHAI, week=((),) * 7)


def test_allowance_beyond_the_few_make_up_days_raises_a_clear_error() -> None:
    calendar = BusinessCalendar(
        week=((),) * 7,
        extra_working_days=frozenset({date(2026, 3, 7)}),
        extra_day_hours=hours("09:00-10:00"),
    )

    assert add_business_time(sh(1, 0), H, calendar) == datetime(2026, 3, 7, 10, tzinfo=UTC)
    with pytest.raises(CalendarError, match="less than 2:00:00 of working time"):
        add_business_time(sh(1, 0), 2 * H, calendar)


def test_zero_allowance_is_due_at_once_even_outside_hours() -> None:
    assert add_business_time(sh(2, 23), timedelta(0), DOUYIN) == sh(2, 23)


@pytest.mark.parametrize(
    "call",
    [
        lambda: add_business_time(datetime(2026, 3, 2, 9), H, DOUYIN),
        lambda: add_business_time(sh(2, 9), -H, DOUYIN),
        lambda: business_time_between(sh(2, 9), datetime(2026, 3, 2, 9), DOUYIN),
    ],
    ids=["naive start", "negative allowance", "naive end"],
)
def test_naive_times_and_negative_allowances_are_refused(call: Callable[[], object]) -> None:
    with pytest.raises(ValueError, match=r"timezone-aware|negative"):
        call()


def test_date_on_both_holiday_and_working_lists_is_refused() -> None:
    with pytest.raises(ValueError, match="both as a holiday and as an extra working day"):
        BusinessCalendar(
            holidays=frozenset({date(2026, 1, 1)}),
            extra_working_days=frozenset({date(2026, 1, 1)}),
        )


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("09:00-21:00", 9 * H, 21 * H),
        ("00:00-24:00", timedelta(0), 24 * H),
        ("13:30-21:00", 13.5 * H, 21 * H),
        (" 09:00-12:00 ", 9 * H, 12 * H),
    ],
)
def test_window_reads_hh_mm_ranges(text: str, start: timedelta, end: timedelta) -> None:
    assert Window.parse(text) == Window(start, end)


@pytest.mark.parametrize(
    "text", ["9-21", "21:00-09:00", "09:00-09:00", "09:60-10:00", "24:00-24:00", "00:00-24:30"]
)
def test_window_refuses_what_is_not_a_range_within_one_day(text: str) -> None:
    with pytest.raises(ValueError, match="is not a window"):
        Window.parse(text)


def test_overlapping_windows_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        BusinessCalendar.daily(hours("09:00-12:00", "11:00-13:00"))
