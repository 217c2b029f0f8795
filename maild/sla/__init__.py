"""Reply deadlines (SLA): business-time clocks, policies and a conversation's state; pure.

Nothing here reads a clock or does I/O: the current time is always a parameter.
Loading the shipped policies and maild.toml's own is in :mod:`maild.sla.presets`
(imported on its own, because :mod:`maild.config` imports this package's schema),
the ``maild sla`` command in :mod:`maild.sla.commands`.
"""

__all__ = [
    "ALL_DAY",
    "DEFAULT_KIND",
    "WALL_CLOCK",
    "BusinessCalendar",
    "CalendarError",
    "ClockName",
    "ClockPolicy",
    "ClockState",
    "Deadline",
    "PublicHolidays",
    "SlaPolicy",
    "SlaState",
    "StateName",
    "Window",
    "add_business_time",
    "business_time_between",
    "deadlines",
    "evaluate",
    "first_response",
    "state_at",
]

from maild.sla.business_time import (
    ALL_DAY,
    WALL_CLOCK,
    BusinessCalendar,
    CalendarError,
    Window,
    add_business_time,
    business_time_between,
)
from maild.sla.policy import DEFAULT_KIND, ClockName, ClockPolicy, SlaPolicy
from maild.sla.public_holidays import PublicHolidays
from maild.sla.state import (
    ClockState,
    Deadline,
    SlaState,
    StateName,
    deadlines,
    evaluate,
    first_response,
    state_at,
)
