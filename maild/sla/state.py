"""A conversation's reply deadlines and SLA state at a given instant; pure.

The clock starts at ``awaiting_since``, the first customer message not yet
answered (:func:`maild.threads.summary.summarize` finds it, leaving out machine
mail and the seller's own messages); ``None`` means nothing waits. Each clock of
the policy gives a due time, and the conversation follows whichever comes first:
a team whose internal target falls before the platform's deadline is warned by its
own target. ``now`` is a parameter, so the daemon's ticker, the CLI and the tests
all compute the same answer for the same instant.
"""

from __future__ import annotations

__all__ = [
    "Allowance",
    "ClockState",
    "Deadline",
    "SlaState",
    "StateName",
    "allowances",
    "deadlines",
    "due_times",
    "evaluate",
    "first_response",
    "state_at",
]

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from maild.sla.business_time import (
    BusinessCalendar,
    add_business_time,
    business_time_between,
)
from maild.sla.policy import ClockName, SlaPolicy

StateName = Literal["ok", "due-soon", "overdue", "answered"]
ClockStateName = Literal["ok", "due-soon", "overdue"]


@dataclass(frozen=True, slots=True)
class Deadline:
    """When one clock's allowance runs out (``due``, a UTC instant) and for which kind."""

    clock: ClockName
    kind: str
    allowance: timedelta
    due: datetime
    calendar: BusinessCalendar


@dataclass(frozen=True, slots=True)
class ClockState:
    """One clock at ``now``: its deadline and the time left, negative once overdue.

    ``business_left`` is counted on the clock's calendar (what the marketplace's
    indicator shows); ``wall_left`` is plain elapsed time (what an alert fires on).
    """

    deadline: Deadline
    state: ClockStateName
    business_left: timedelta
    wall_left: timedelta


@dataclass(frozen=True, slots=True)
class SlaState:
    """The conversation's state, from the clock that comes first; no clocks once answered."""

    state: StateName
    clocks: tuple[ClockState, ...] = ()

    @property
    def first(self) -> ClockState | None:
        """The clock whose deadline comes first (the platform's on a tie), if any runs."""
        return min(self.clocks, key=lambda c: c.deadline.due, default=None)

    @property
    def due(self) -> datetime | None:
        first = self.first
        return None if first is None else first.deadline.due


@dataclass(frozen=True, slots=True)
class Allowance:
    """What one clock of a policy allows a conversation of some kinds, on its calendar."""

    clock: ClockName
    kind: str
    allowance: timedelta
    calendar: BusinessCalendar


def allowances(kinds: Iterable[str], policy: SlaPolicy) -> tuple[Allowance, ...]:
    """Each clock's allowance for a conversation with these kinds (tags), platform first.

    The same for every conversation with the same tags: the SLA ticker keeps them.
    """
    tags = tuple(kinds)
    found: list[Allowance] = []
    for name, clock in policy.clocks:
        kind, allowance = clock.allowance_for(tags)
        found.append(Allowance(name, kind, allowance, clock.calendar))
    return tuple(found)


def due_times(received: datetime, found: Iterable[Allowance]) -> tuple[Deadline, ...]:
    """The deadlines of a conversation waiting since ``received`` under ``found``."""
    return tuple(
        Deadline(
            a.clock,
            a.kind,
            a.allowance,
            add_business_time(received, a.allowance, a.calendar),
            a.calendar,
        )
        for a in found
    )


def deadlines(received: datetime, kinds: Iterable[str], policy: SlaPolicy) -> tuple[Deadline, ...]:
    """Every clock's deadline for a conversation waiting since ``received``, platform first."""
    return due_times(received, allowances(kinds, policy))


def evaluate(
    awaiting_since: datetime | None, kinds: Iterable[str], policy: SlaPolicy, now: datetime
) -> SlaState:
    """The SLA state at ``now``: ``answered`` if nothing waits, else from the first deadline."""
    if awaiting_since is None:
        _aware(now)
        return SlaState("answered")
    return state_at(deadlines(awaiting_since, kinds, policy), policy.due_soon_ratio, now)


def state_at(found: Sequence[Deadline], due_soon_ratio: float, now: datetime) -> SlaState:
    """The state at ``now`` of deadlines computed earlier with :func:`deadlines`.

    Deadlines stay put while a conversation waits, so a ticker can keep them and
    compute only the time left on each pass. A clock is ``overdue`` once ``now`` is
    past its due time (a reply at the due instant is on time) and ``due-soon`` when
    at most ``due_soon_ratio`` of its allowance is left, in business time.
    """
    _aware(now)
    if not found:
        raise ValueError("a waiting conversation has at least one deadline")
    clocks = tuple(_clock_state(deadline, due_soon_ratio, now) for deadline in found)
    first = min(clocks, key=lambda c: c.deadline.due)
    return SlaState(first.state, clocks)


def _aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got {now.isoformat()}")


def _clock_state(deadline: Deadline, due_soon_ratio: float, now: datetime) -> ClockState:
    business_left = business_time_between(now, deadline.due, deadline.calendar)
    wall_left = deadline.due.astimezone(UTC) - now.astimezone(UTC)
    state: ClockStateName
    if wall_left < timedelta(0):
        state = "overdue"
    elif business_left <= deadline.allowance * due_soon_ratio:
        state = "due-soon"
    else:
        state = "ok"
    return ClockState(deadline, state, business_left, wall_left)


def first_response(
    awaiting_since: datetime, replied_at: datetime, calendar: BusinessCalendar
) -> float:
    """Seconds of business time the customer waited for the seller's first reply.

    A reply stamped before the question (clocks of two mail servers disagree) waited
    no time at all, rather than a negative time no histogram can hold.
    """
    waited = business_time_between(awaiting_since, replied_at, calendar)
    return max(waited, timedelta(0)).total_seconds()
