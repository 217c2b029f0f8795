"""What the SLA gauges show at one instant, from the conversations still waiting; pure.

This is the definition; the daemon's ticker keeps the same numbers incrementally
(:class:`maild.sla.book.SlaBook`, tested equal to it), every half minute and on
changes, and a scrape only reads gauges, whatever the number of conversations.
"""

from __future__ import annotations

__all__ = ["DUE_BUCKETS", "STATES", "Snapshot", "Waiting", "snapshot"]

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from maild.sla.policy import SlaPolicy
from maild.sla.state import evaluate

STATES = ("ok", "due-soon", "overdue")
# Cumulative: a conversation due within 1 h is also within 4 h; overdue ones are not.
DUE_BUCKETS: tuple[tuple[str, timedelta], ...] = (
    ("1h", timedelta(hours=1)),
    ("4h", timedelta(hours=4)),
    ("12h", timedelta(hours=12)),
    ("24h", timedelta(hours=24)),
    ("48h", timedelta(hours=48)),
)


@dataclass(frozen=True, slots=True)
class Waiting:
    """A conversation waiting for a reply: since when, and its tags (which pick the kind)."""

    mailbox: str
    since: datetime
    tags: tuple[str, ...] = ()


@dataclass
class Snapshot:
    awaiting: dict[tuple[str, str, str], int] = field(default_factory=dict)
    due_within: dict[tuple[str, str], int] = field(default_factory=dict)
    oldest: dict[str, datetime] = field(default_factory=dict)
    next_deadline: dict[str, datetime] = field(default_factory=dict)


def snapshot(
    waiting: Iterable[Waiting], policies: Mapping[str, SlaPolicy | None], now: datetime
) -> Snapshot:
    """Counts per mailbox, kind and state; a mailbox without a policy counts nothing."""
    shot = Snapshot()
    for item in waiting:
        policy = policies.get(item.mailbox)
        if policy is None:
            continue
        state = evaluate(item.since, item.tags, policy, now)
        first = state.first
        if first is None:
            continue
        key = (item.mailbox, first.deadline.kind, state.state)
        shot.awaiting[key] = shot.awaiting.get(key, 0) + 1
        if state.state != "overdue":
            for bucket, within in DUE_BUCKETS:
                if first.wall_left <= within:
                    where = (item.mailbox, bucket)
                    shot.due_within[where] = shot.due_within.get(where, 0) + 1
            soonest = shot.next_deadline.get(item.mailbox)
            if soonest is None or first.deadline.due < soonest:
                shot.next_deadline[item.mailbox] = first.deadline.due
        oldest = shot.oldest.get(item.mailbox)
        if oldest is None or item.since < oldest:
            shot.oldest[item.mailbox] = item.since
    return shot
