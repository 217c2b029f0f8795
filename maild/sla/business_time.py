"""Business time: the part of a stretch of time that a reply deadline counts.

Marketplaces and support teams count an allowance only while they are open: Douyin
counts 09:00-21:00 in Asia/Shanghai, so a ticket that arrives at 20:00 with 12 hours
is due at 20:00 the next day; Walmart counts every hour. A :class:`BusinessCalendar`
says when time counts, and two pure functions answer the two questions a deadline
asks: when an allowance runs out (:func:`add_business_time`) and how much of it an
interval used (:func:`business_time_between`).

Opening hours are wall-clock times in the calendar's zone, but what counts is real
elapsed time: a window 00:00-06:00 holds 5 hours on the night clocks spring forward
and 7 on the night they fall back. A window boundary inside the skipped hour is the
instant the clocks jump; one inside the repeated hour is its first occurrence. So a
day's windows never overlap the next day's, and a calendar open 24 hours every day
is exactly the wall clock.

Both functions walk whole days, never minutes: an ordinary day (no holiday, no
make-up day, no change of UTC offset) is taken in one step from its weekday's total,
and only the days where the answer lies are split into windows. The walk is bounded:
an allowance that ten years of the calendar cannot hold raises :class:`CalendarError`.
"""

from __future__ import annotations

__all__ = [
    "ALL_DAY",
    "WALL_CLOCK",
    "BusinessCalendar",
    "CalendarError",
    "Window",
    "add_business_time",
    "business_time_between",
    "sorted_hours",
]

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from itertools import pairwise
from typing import Final

from maild.errors import MaildError
from maild.sla.public_holidays import PublicHolidays

_DAY: Final = timedelta(days=1)
_NONE: Final = timedelta(0)
_HORIZON_DAYS: Final = 3_660  # ten years: far beyond any reply allowance
_WINDOW: Final = re.compile(r"([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})")
_WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class CalendarError(MaildError):
    """An allowance cannot be placed on a calendar (it has too little working time)."""


@dataclass(frozen=True, slots=True, order=True)
class Window:
    """Opening hours within one day, as offsets from local midnight (end up to 24:00)."""

    start: timedelta
    end: timedelta

    def __post_init__(self) -> None:
        if not _NONE <= self.start < self.end <= _DAY:
            raise ValueError(f"{self} is not a window: 00:00 <= start < end <= 24:00")

    @classmethod
    def parse(cls, text: str) -> Window:
        """Read ``HH:MM-HH:MM`` (``24:00`` ends a window at midnight)."""
        match = _WINDOW.fullmatch(text.strip())
        hint = "expected HH:MM-HH:MM with 00:00 <= start < end <= 24:00, such as '09:00-21:00'"
        if match is None:
            raise ValueError(f"{text!r} is not a window: {hint}")
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        if max(m1, m2) > 59 or h1 > 23 or h2 > 24 or (h2 == 24 and m2):
            raise ValueError(f"{text!r} is not a window: {hint}")
        try:
            return cls(timedelta(hours=h1, minutes=m1), timedelta(hours=h2, minutes=m2))
        except ValueError:
            raise ValueError(f"{text!r} is not a window: {hint}") from None

    @property
    def length(self) -> timedelta:
        return self.end - self.start

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


def _hhmm(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


ALL_DAY: Final = (Window(_NONE, _DAY),)


def sorted_hours(windows: Iterable[Window]) -> tuple[Window, ...]:
    """A day's windows in order; ValueError if two overlap (touching is fine)."""
    ordered = tuple(sorted(windows))
    for before, after in pairwise(ordered):
        if after.start < before.end:
            raise ValueError(f"windows {before} and {after} overlap")
    return ordered


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """When time counts: opening hours per weekday in a zone, minus holidays, plus make-up days.

    ``week`` has seven entries, Monday first; ``()`` is a day off. A date in
    ``extra_working_days`` (China's make-up working days, 调休, fall on weekends) is
    open for ``extra_day_hours``, by default Monday's hours. ``public`` adds a
    country's holidays and make-up days; the explicit sets win over it. The default
    calendar is the wall clock: every hour of every day counts.
    """

    zone: tzinfo = UTC
    week: tuple[tuple[Window, ...], ...] = (ALL_DAY,) * 7
    holidays: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()
    extra_day_hours: tuple[Window, ...] | None = None
    public: PublicHolidays | None = None
    _nominal: tuple[timedelta, ...] = field(init=False, repr=False, compare=False)
    _wall: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise ValueError(f"a week has 7 days, got {len(self.week)}")
        for name, windows in (
            *zip(_WEEKDAYS, self.week, strict=True),
            ("extra_day_hours", self.make_up_hours),
        ):
            if sorted_hours(windows) != windows:
                raise ValueError(f"{name}: the windows must be in order")
        both = sorted(self.holidays & self.extra_working_days)
        if both:
            raise ValueError(f"{both[0]} is listed both as a holiday and as an extra working day")
        if not any(self.week) and not (
            self.make_up_hours and (self.extra_working_days or self.public)
        ):
            raise ValueError("the calendar has no working time at all: give some day opening hours")
        totals = tuple(sum((w.length for w in day), _NONE) for day in self.week)
        object.__setattr__(self, "_nominal", totals)
        # Asked for every deadline the SLA ticker computes: answered once.
        wall = all(day == ALL_DAY for day in self.week) and not self.holidays and not self.public
        object.__setattr__(self, "_wall", wall)

    @classmethod
    def daily(cls, windows: Sequence[Window], zone: tzinfo = UTC) -> BusinessCalendar:
        """The same opening hours every day of the week, no holidays."""
        return cls(zone=zone, week=(tuple(windows),) * 7)

    @property
    def make_up_hours(self) -> tuple[Window, ...]:
        """The hours of an extra working day."""
        return self.week[0] if self.extra_day_hours is None else self.extra_day_hours

    @property
    def is_wall_clock(self) -> bool:
        """Whether every instant counts, so business time is plain elapsed time."""
        return self._wall

    def hours_on(self, day: date) -> tuple[Window, ...]:
        """The opening hours of one date, after holidays and make-up days."""
        special = self._special(day)
        return self.week[day.weekday()] if special is None else special

    def _special(self, day: date) -> tuple[Window, ...] | None:
        """The hours of a date that differs from its weekday, else None."""
        if day in self.extra_working_days:
            return self.make_up_hours
        if day in self.holidays:
            return ()
        if self.public is not None:
            if day in self.public.working_days(day.year):
                return self.make_up_hours
            if day in self.public.days_off(day.year):
                return ()
        return None

    def _whole_day(self, day: date, begin: datetime, end: datetime) -> timedelta | None:
        """The business time of an ordinary day in one step, or None if it must be split.

        A day is ordinary when it is neither a holiday nor a make-up day and has one
        UTC offset throughout (see :meth:`_spans`).
        """
        if end - begin != _DAY or self._special(day) is not None:
            return None
        return self._nominal[day.weekday()]

    def _spans(
        self, day: date, begin: datetime, end: datetime
    ) -> Iterator[tuple[datetime, datetime]]:
        """The day's opening hours as UTC intervals, in order and never overlapping.

        ``begin`` and ``end`` are the day's midnight and the next. A day 24 hours long
        has one UTC offset throughout (zones change their offset at most once a day),
        so a window opens at midnight plus its start; only the two days a year when
        the clocks change need each boundary converted.
        """
        steady = end - begin == _DAY
        for window in self.hours_on(day):
            if steady:
                yield begin + window.start, begin + window.end
                continue
            opens = _instant(day, window.start, self.zone)
            closes = _instant(day, window.end, self.zone)
            if opens < closes:  # a window wholly inside a skipped hour does not exist that day
                yield opens, closes

    def _midnight(self, day: date) -> datetime:
        return _instant(day, _NONE, self.zone)

    def _first_day(self, instant: datetime) -> date:
        # Every window of an earlier day has closed by this day's midnight, which is
        # never after ``instant``: that is how _instant places midnight, even where the
        # clocks fall back across it.
        return instant.astimezone(self.zone).date()


WALL_CLOCK: Final = BusinessCalendar()
"""Every instant counts (Walmart's and Amazon's deadlines)."""


# Memoised: the SLA ticker evaluates every open conversation against the same few
# dates, and converting a wall-clock time through a zone is most of the cost.
@lru_cache(maxsize=4096)
def _instant(day: date, offset: timedelta, zone: tzinfo) -> datetime:
    """The first instant whose wall-clock time in ``zone`` is at least ``day`` + ``offset``."""
    wall = datetime.combine(day, datetime.min.time()) + offset
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first  # it exists; fold=0 is its first occurrence if it is repeated
    # Skipped by a spring-forward: find the jump between the two readings of ``wall``,
    # to the second (offsets and transitions are whole seconds).
    readings = (first, wall.replace(tzinfo=zone, fold=1).astimezone(UTC))
    low, high = sorted(int(reading.timestamp()) for reading in readings)
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= wall:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment.isoformat()}")
    return moment.astimezone(UTC)


def add_business_time(
    start: datetime, allowance: timedelta, calendar: BusinessCalendar
) -> datetime:
    """When ``allowance`` of business time after ``start`` runs out, as a UTC instant.

    UTC, not the calendar's zone, because Python compares two datetimes of the same
    zone by their wall-clock reading: in the hour repeated when clocks fall back,
    01:00 the second time would sort before 01:30 the first time. Convert for display.

    An allowance that runs out exactly when a window closes is due at the close, not
    at the next opening; a start outside the hours counts from the next opening.
    """
    moment = _utc(start, "start")
    if allowance < _NONE:
        raise ValueError(f"the allowance must not be negative, got {allowance}")
    if not allowance or calendar.is_wall_clock:
        return moment + allowance
    left = allowance
    day = calendar._first_day(moment)
    begin = calendar._midnight(day)
    for _ in range(_HORIZON_DAYS):
        end = calendar._midnight(day + _DAY)
        whole = calendar._whole_day(day, begin, end)
        if whole is not None and moment <= begin and left > whole:
            left -= whole
        else:
            for opens, closes in calendar._spans(day, begin, end):
                if closes <= moment:
                    continue
                opens = max(opens, moment)
                if left <= closes - opens:
                    return opens + left
                left -= closes - opens
        day, begin = day + _DAY, end
    raise CalendarError(
        f"the calendar has less than {allowance} of working time in the ten years after"
        f" {start.isoformat()}"
    )


def business_time_between(a: datetime, b: datetime, calendar: BusinessCalendar) -> timedelta:
    """The business time from ``a`` to ``b``; negative when ``b`` is earlier (time overdue)."""
    start, stop = _utc(a, "a"), _utc(b, "b")
    if stop < start:
        return -business_time_between(b, a, calendar)
    if calendar.is_wall_clock:
        return stop - start
    total = _NONE
    day = calendar._first_day(start)
    begin = calendar._midnight(day)
    while begin < stop:
        end = calendar._midnight(day + _DAY)
        whole = calendar._whole_day(day, begin, end)
        if whole is not None and start <= begin and end <= stop:
            total += whole
        else:
            for opens, closes in calendar._spans(day, begin, end):
                total += max(_NONE, min(closes, stop) - max(opens, start))
        day, begin = day + _DAY, end
    return total
