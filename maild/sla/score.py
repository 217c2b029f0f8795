"""How a first response did against the platform's deadline, and the platform's score; pure.

Walmart scores a seller by the share of customer messages answered within its
deadline over the last 30 days. maild keeps every answered wait in the database
(maild.store.thread_marks), so the score is computed from that history, not from
what one process happened to see.
"""

from __future__ import annotations

__all__ = ["SCORE_WINDOW", "InTimeWindow", "Judgement", "judge"]

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from maild.sla.policy import SlaPolicy
from maild.sla.state import deadlines, first_response

SCORE_WINDOW = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Judgement:
    """A first response on the platform's clock: its kind, business seconds, and on time."""

    kind: str
    business_seconds: float
    in_time: bool


def judge(
    asked_at: datetime, replied_at: datetime, tags: Iterable[str], policy: SlaPolicy
) -> Judgement:
    """Judged on the platform's clock, the one its score counts (a reply at the due
    instant is on time)."""
    platform = deadlines(asked_at, tags, policy)[0]
    seconds = first_response(asked_at, replied_at, platform.calendar)
    return Judgement(platform.kind, seconds, replied_at <= platform.due)


class InTimeWindow:
    """First responses of the last SCORE_WINDOW per mailbox, in reply order, and how
    many were on time (kept as they come and go, so a tick costs what changed)."""

    def __init__(self) -> None:
        self._replies: dict[str, list[tuple[datetime, bool]]] = {}
        self._in_time: dict[str, int] = {}

    def add(self, mailbox: str, replied_at: datetime, in_time: bool) -> None:
        bisect.insort(self._replies.setdefault(mailbox, []), (replied_at, in_time))
        self._in_time[mailbox] = self._in_time.get(mailbox, 0) + in_time

    def ratios(self, now: datetime) -> dict[str, float | None]:
        """Each mailbox's share answered in time; None once its window is empty."""
        cutoff = now - SCORE_WINDOW
        found: dict[str, float | None] = {}
        for mailbox, replies in self._replies.items():
            old = bisect.bisect_left(replies, (cutoff, False))
            self._in_time[mailbox] -= sum(ok for _, ok in replies[:old])
            del replies[:old]
            found[mailbox] = self._in_time[mailbox] / len(replies) if replies else None
        return found
