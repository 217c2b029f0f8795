"""Keeps the reply-deadline gauges current: every half minute and after processing.

A scrape only reads gauges (ARCHITECTURE invariant 4); the database is read here, on
a ticker. First-response times are observed when a conversation that was waiting at
the last tick has been answered since: a reply that lands while maild is stopped is
stored and threaded as always, but not in the histogram.
"""

__all__ = ["SLA_TICK_S", "SlaTicker"]

import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from maild.metrics import Metrics
from maild.sla.policy import SlaPolicy
from maild.sla.snapshot import Waiting, snapshot
from maild.sla.state import deadlines, first_response
from maild.store import Store

log = logging.getLogger(__name__)

SLA_TICK_S = 30.0
# Walmart's score is over the last 30 days; older replies leave the ratio.
_SCORE_WINDOW = timedelta(days=30)


@dataclass
class SlaTicker:
    store: Store
    metrics: Metrics
    policies: Mapping[str, SlaPolicy | None]
    _waiting: dict[int, Waiting] = field(default_factory=dict)
    _replies: dict[str, deque[tuple[datetime, bool]]] = field(default_factory=dict)

    def configure(self, policies: Mapping[str, SlaPolicy | None]) -> None:
        """Use a reloaded config's policies; every mailbox with one gets its series at 0."""
        self.policies = policies
        for mailbox, policy in policies.items():
            if policy is not None:
                self.metrics.sla_configured(mailbox, policy.kinds)

    def tick(self, now: datetime) -> None:
        rows = self.store.awaiting()
        waiting = {thread: Waiting(mailbox, since, tags) for thread, mailbox, since, tags in rows}
        self.metrics.sla_snapshot(snapshot(waiting.values(), self.policies, now))
        answered = [t for t in self._waiting if t not in waiting]
        if answered:
            replies = self.store.replied(answered)
            for thread in answered:
                replied_at = replies.get(thread)
                if replied_at is not None:
                    self._observe(self._waiting[thread], replied_at, now)
        self._waiting = waiting

    def _observe(self, item: Waiting, replied_at: datetime, now: datetime) -> None:
        policy = self.policies.get(item.mailbox)
        if policy is None or replied_at < item.since:
            return
        platform = deadlines(item.since, item.tags, policy)[0]
        seconds = first_response(item.since, replied_at, platform.calendar)
        self.metrics.first_response(item.mailbox, platform.kind, seconds)
        replies = self._replies.setdefault(item.mailbox, deque())
        replies.append((replied_at, replied_at <= platform.due))
        while replies and replies[0][0] < now - _SCORE_WINDOW:
            replies.popleft()
        in_time = sum(1 for _, ok in replies if ok)
        self.metrics.answered_in_time(item.mailbox, in_time / len(replies))
        log.info(
            "first reply mailbox=%s kind=%s business_s=%.0f in_time=%s",
            item.mailbox,
            platform.kind,
            seconds,
            replied_at <= platform.due,
        )
