"""Properties of the business-time clock over random calendars, zones and times."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from hypothesis import assume, given
from hypothesis import strategies as st

from maild.sla import (
    ALL_DAY,
    BusinessCalendar,
    Window,
    add_business_time,
    business_time_between,
)

QUARTER = timedelta(minutes=15)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
# Zones with DST, with transitions at midnight (Havana, Santiago), a 30-minute DST
# (Lord Howe), and without DST, including a fixed offset.
DST_ZONES = ("America/New_York", "Europe/London", "America/Havana", "America/Santiago")
STEADY_ZONES: tuple[tzinfo, ...] = (
    UTC,
    ZoneInfo("Asia/Shanghai"),
    timezone(-timedelta(hours=3, minutes=30)),
)
ZONES: tuple[tzinfo, ...] = (
    *STEADY_ZONES,
    *(ZoneInfo(name) for name in (*DST_ZONES, "Australia/Lord_Howe")),
)
FIRST, LAST = date(2025, 12, 1), date(2027, 3, 1)


@st.composite
def day_hours(draw: st.DrawFn) -> tuple[Window, ...]:
    """0 to 3 windows on quarter hours, in order and apart."""
    cuts = sorted(draw(st.sets(st.integers(0, 96), max_size=6)))
    return tuple(
        Window(start * QUARTER, end * QUARTER)
        for start, end in zip(cuts[::2], cuts[1::2], strict=False)
    )


@st.composite
def calendars(draw: st.DrawFn, zones: tuple[tzinfo, ...] = ZONES) -> BusinessCalendar:
    """Calendars open 3 hours a week or more, so that every allowance drawn here fits
    well within the ten years the clock looks ahead (a calendar that cannot hold one
    raises CalendarError, a case of its own in test_sla_business_time)."""
    week = tuple(draw(day_hours()) for _ in range(7))
    assume(sum((window.length for day in week for window in day), timedelta(0)) >= 3 * HOUR)
    holidays = draw(st.frozensets(st.dates(FIRST, LAST), max_size=8))
    return BusinessCalendar(
        zone=draw(st.sampled_from(zones)),
        week=week,
        holidays=holidays,
        extra_working_days=draw(st.frozensets(st.dates(FIRST, LAST), max_size=4)) - holidays,
        extra_day_hours=draw(st.none() | day_hours()),
    )


def instant(moment: datetime) -> datetime:
    """Sort key: datetimes of one zone compare by wall clock, wrong in a repeated hour."""
    return moment.astimezone(UTC)


times = st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31), timezones=st.sampled_from(ZONES))
allowances = st.timedeltas(timedelta(0), 300 * HOUR)


@given(calendars(), times, allowances)
def test_time_between_start_and_due_is_the_allowance(
    calendar: BusinessCalendar, start: datetime, allowance: timedelta
) -> None:
    due = add_business_time(start, allowance, calendar)

    assert business_time_between(start, due, calendar) == allowance


@given(calendars(), times, allowances, allowances)
def test_more_allowance_is_never_due_earlier(
    calendar: BusinessCalendar, start: datetime, a: timedelta, b: timedelta
) -> None:
    small, large = sorted((a, b))

    assert add_business_time(start, small, calendar) <= add_business_time(start, large, calendar)


@given(calendars(), times, times, allowances)
def test_later_arrival_is_never_due_earlier(
    calendar: BusinessCalendar, a: datetime, b: datetime, allowance: timedelta
) -> None:
    early, late = sorted((a, b), key=instant)

    assert add_business_time(early, allowance, calendar) <= add_business_time(
        late, allowance, calendar
    )


@given(calendars(), times, times, times)
def test_time_between_adds_up_over_consecutive_intervals(
    calendar: BusinessCalendar, a: datetime, b: datetime, c: datetime
) -> None:
    first, middle, last = sorted((a, b, c), key=instant)

    assert business_time_between(first, middle, calendar) + business_time_between(
        middle, last, calendar
    ) == business_time_between(first, last, calendar)


@given(st.sampled_from(ZONES), times, allowances, times)
def test_calendar_open_all_day_every_day_is_the_wall_clock(
    zone: tzinfo, start: datetime, allowance: timedelta, end: datetime
) -> None:
    # A holiday far away keeps the calendar off the wall-clock shortcut, so this
    # checks the day-by-day walk itself against plain addition.
    walked = BusinessCalendar(
        zone=zone, week=(ALL_DAY,) * 7, holidays=frozenset({date(2099, 1, 1)})
    )
    assert not walked.is_wall_clock

    due = add_business_time(start, allowance, walked)

    assert due.astimezone(UTC) == start.astimezone(UTC) + allowance
    assert business_time_between(start, end, walked) == end.astimezone(UTC) - start.astimezone(UTC)


def _open(calendar: BusinessCalendar, instant: datetime) -> bool:
    """The obvious reading of a calendar, valid where clocks never change."""
    local = instant.astimezone(calendar.zone)
    offset = local - local.replace(hour=0, minute=0, second=0, microsecond=0)
    return any(w.start <= offset < w.end for w in calendar.hours_on(local.date()))


@given(
    calendars(zones=STEADY_ZONES),
    st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31)),
    st.integers(0, 3 * 24 * 60),
)
def test_time_between_matches_counting_minute_by_minute(
    calendar: BusinessCalendar, start: datetime, minutes: int
) -> None:
    begin = start.replace(second=0, microsecond=0, tzinfo=UTC)
    counted = sum(_open(calendar, begin + step * MINUTE) for step in range(minutes))

    assert business_time_between(begin, begin + minutes * MINUTE, calendar) == counted * MINUTE
