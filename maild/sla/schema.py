"""The TOML shape of an SLA policy, shared by the shipped presets and maild.toml.

A preset file (``config/sla/NAME.toml``) and a ``[sla.policies.NAME]`` table in
maild.toml are the same :class:`PolicySettings`, so an operator learns one format
and gets the same messages for the same mistakes. The models are strict and closed
like the rest of the configuration (:mod:`maild.config.settings` embeds them), and
they import nothing from :mod:`maild.config`, which imports them.

Durations are strings with units (``"48h"``, ``"1h30m"``) because a bare number
would leave the unit to guess; dates are TOML dates (``2026-10-01``).
"""

from __future__ import annotations

__all__ = [
    "SLA_PRESETS",
    "CalendarSettings",
    "ClockSettings",
    "PolicyName",
    "PolicySettings",
    "parse_duration",
]

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Annotated, Final, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from maild.sla.business_time import ALL_DAY, BusinessCalendar, Window, sorted_hours
from maild.sla.policy import DEFAULT_KIND, ClockPolicy, SlaPolicy
from maild.sla.public_holidays import PublicHolidays

ShippedPolicy = Literal["amazon", "douyin", "walmart"]
SLA_PRESETS: Final[tuple[str, ...]] = get_args(ShippedPolicy)
"""The policies in ``config/sla/`` (a test keeps the two in step)."""

_DURATION: Final = re.compile(r"(?:([0-9]{1,4})h)?(?:([0-9]{1,6})m)?(?:([0-9]{1,8})s)?")
_MAX_ALLOWANCE: Final = timedelta(days=365)
_NAME: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_KIND: Final = re.compile(r"[a-z0-9][a-z0-9:_-]{0,39}")


def parse_duration(text: str) -> timedelta:
    """Read ``"48h"``, ``"90m"``, ``"1h30m"`` or ``"45s"``: positive, at most a year."""
    match = _DURATION.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f'{text!r} is not a duration (expected e.g. "48h", "2h", "1h30m")')
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    duration = timedelta(hours=hours, minutes=minutes, seconds=seconds)
    if not timedelta(0) < duration <= _MAX_ALLOWANCE:
        raise ValueError(f"{text!r} must be more than 0 and at most 8760h (a year)")
    return duration


def _duration(value: object) -> timedelta:
    if not isinstance(value, str):
        raise ValueError(f'expected a duration with its unit, such as "48h", got {value!r}')
    return parse_duration(value[:40])


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is not a time zone (expected an IANA name such as 'Asia/Shanghai')"
        ) from None
    return name


def _window(text: str) -> Window:
    return Window.parse(text)


def _day(value: object) -> date:
    # A TOML date; tomllib reads 2026-10-01 as a date and 2026-10-01T00:00 as a datetime.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise ValueError(f"expected a date such as 2026-10-01 (no quotes), got {value!r}")


def _days(days: tuple[date, ...]) -> tuple[date, ...]:
    twice = sorted({day for day in days if days.count(day) > 1})
    if twice:
        raise ValueError(f"{twice[0]} is listed twice")
    return days


def _region(region: str) -> str:
    PublicHolidays.parse(region)
    return region


def _name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"policy name {name[:40]!r} is not allowed: use 1-40 lower-case letters, digits,"
            " '-' or '_', starting with a letter or digit"
        )
    return name


def _kind(kind: str) -> str:
    if not _KIND.fullmatch(kind):
        raise ValueError(
            f"kind {kind[:40]!r} is not a tag: use lower-case letters, digits, '-', '_' and"
            " ':', such as default, urgent, customer-care or ticket:product"
        )
    return kind


Duration = Annotated[timedelta, BeforeValidator(_duration)]
Hours = Annotated[
    tuple[Annotated[Window, BeforeValidator(_window)], ...], AfterValidator(sorted_hours)
]
Day = Annotated[date, BeforeValidator(_day)]
Days = Annotated[tuple[Day, ...], AfterValidator(_days)]
PolicyName = Annotated[str, AfterValidator(_name)]
Kind = Annotated[str, AfterValidator(_kind)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class CalendarSettings(_Strict):
    """When a clock counts; without a calendar a clock counts every hour (wall clock)."""

    timezone: Annotated[str, StringConstraints(max_length=64), AfterValidator(_zone)] = "UTC"
    hours: Hours = ALL_DAY
    mon: Hours | None = None
    tue: Hours | None = None
    wed: Hours | None = None
    thu: Hours | None = None
    fri: Hours | None = None
    sat: Hours | None = None
    sun: Hours | None = None
    holidays: Days = ()
    extra_working_days: Days = ()
    extra_day_hours: Hours | None = None
    public_holidays: (
        Annotated[str, StringConstraints(max_length=12), AfterValidator(_region)] | None
    ) = None

    @model_validator(mode="after")
    def _usable(self) -> CalendarSettings:
        self.to_calendar()  # raises ValueError for no working time, a date on both lists
        return self

    def to_calendar(self) -> BusinessCalendar:
        week = tuple(
            self.hours if day is None else day
            for day in (self.mon, self.tue, self.wed, self.thu, self.fri, self.sat, self.sun)
        )
        return BusinessCalendar(
            zone=ZoneInfo(self.timezone),
            week=week,
            holidays=frozenset(self.holidays),
            extra_working_days=frozenset(self.extra_working_days),
            extra_day_hours=self.extra_day_hours,
            public=None
            if self.public_holidays is None
            else PublicHolidays.parse(self.public_holidays),
        )


class ClockSettings(_Strict):
    """One clock of a policy: allowances per kind (``default`` required) and a calendar."""

    allowances: Mapping[Kind, Duration]
    calendar: CalendarSettings = CalendarSettings()

    @model_validator(mode="after")
    def _has_default(self) -> ClockSettings:
        if DEFAULT_KIND not in self.allowances:
            raise ValueError(
                f'allowances needs a "{DEFAULT_KIND}" entry, for conversations of no other kind'
            )
        return self

    def to_clock(self) -> ClockPolicy:
        return ClockPolicy(dict(self.allowances), self.calendar.to_calendar())


class PolicySettings(_Strict):
    """A policy as written in ``config/sla/NAME.toml`` or ``[sla.policies.NAME]``.

    ``extends`` (maild.toml only) starts from a shipped preset and replaces the
    top-level keys it sets, whole: the usual use is a preset's platform clock plus a
    team's own ``[internal]`` clock.
    """

    description: str = ""
    extends: ShippedPolicy | None = None
    due_soon_ratio: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] = 0.25
    platform: ClockSettings | None = None
    internal: ClockSettings | None = None

    @model_validator(mode="after")
    def _has_platform(self) -> PolicySettings:
        if self.platform is None and self.extends is None:
            raise ValueError(
                "a policy needs a [platform] clock (or extends = a shipped preset's name)"
            )
        return self

    def over(self, base: PolicySettings) -> PolicySettings:
        """This policy's keys laid over ``base`` (the preset it extends)."""
        update = {key: getattr(self, key) for key in self.model_fields_set - {"extends"}}
        return base.model_copy(update=update)

    def to_policy(self, name: str) -> SlaPolicy:
        if self.platform is None:
            raise ValueError(f"policy {name!r} extends a preset: lay it over the preset first")
        return SlaPolicy(
            name=name,
            platform=self.platform.to_clock(),
            internal=None if self.internal is None else self.internal.to_clock(),
            due_soon_ratio=self.due_soon_ratio,
            description=self.description,
        )
