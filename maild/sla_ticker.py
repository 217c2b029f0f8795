"""Keeps the reply-deadline gauges current: every half minute and after processing.

A scrape only reads gauges (ARCHITECTURE invariant 4); the database is read here, on
a ticker, and only for what changed: the first tick loads every waiting conversation
into a :class:`SlaBook`, later ticks read the conversations changed since (the store
stamps each change) and move the book's clock, which recounts only conversations
that crossed a bucket or state boundary.

First responses come from the database, where threading keeps every answered wait
however the reply arrived (from the Sent folder, a later ``run --once``, while maild
was stopped). A daemon's ticker claims each once and observes it in the histogram;
the 30-day in-time ratio is read from the stored history, so a restart keeps it.
Flags and unflags, given by ``maild flag`` in another process, are counted the
same way from their feedback rows, and hand-offs to the platform from their
conversations; the 30-day share of hand-offs is read from the store on each tick (an
aggregate over the conversations active in the window, through an index).
"""

__all__ = ["SLA_TICK_S", "SlaTicker"]

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from maild.metrics import Metrics
from maild.sla.book import SlaBook
from maild.sla.policy import SlaPolicy
from maild.sla.score import SCORE_WINDOW, InTimeWindow, Judgement, judge
from maild.sla.snapshot import Waiting
from maild.store import Store
from maild.store.sla_feed import Counted, Cursors, FirstResponseRow

log = logging.getLogger(__name__)

SLA_TICK_S = 30.0


@dataclass
class SlaTicker:
    store: Store
    metrics: Metrics
    policies: Mapping[str, SlaPolicy | None]
    # A daemon counts stored first responses and flags (once each, for good);
    # ``maild metrics`` only reads.
    counts: bool = True
    _book: SlaBook | None = None
    _cursors: Cursors = field(default_factory=dict)
    _window: InTimeWindow | None = None
    _reconfigured: bool = False

    def configure(self, policies: Mapping[str, SlaPolicy | None]) -> None:
        """Use a reloaded config's policies from the next tick (which may be running now)."""
        self.policies = policies
        self._reconfigured = True
        for mailbox, policy in policies.items():
            if policy is not None:
                self.metrics.sla_configured(mailbox, policy.kinds)

    def tick(self, now: datetime) -> None:
        if self._reconfigured:
            self._reconfigured = False
            self._window = None
            if self._book is not None:
                self._book.configure(self.policies)
        self._deadlines(now)
        self._first_responses(now)
        if self.counts:
            self.metrics.flags_changed(self.store.count_feedback())
            self.metrics.outbound_blocked(self.store.count_refusals())
            self.metrics.escalated(self.store.count_escalations())
        self.metrics.escalated_shares(self.store.escalation_shares(now - SCORE_WINDOW))

    def _deadlines(self, now: datetime) -> None:
        if self._book is None:
            cursors, changes = self.store.load_waiting()
            self._book = SlaBook(self.policies, now)
        else:
            cursors, changes = self.store.sla_changes(self._cursors)
            self._book.advance(now)
        for change in changes:
            waiting = None
            if change.since is not None:
                waiting = Waiting(change.mailbox, change.since, change.tags)
            self._book.put(change.thread_id, waiting)
        self._cursors = cursors
        self.metrics.sla_snapshot(self._book.snapshot())

    def _first_responses(self, now: datetime) -> None:
        judged = {mailbox: policy for mailbox, policy in self.policies.items() if policy}

        def verdict(row: FirstResponseRow) -> Judgement:
            return judge(row.asked_at, row.replied_at, row.tags, judged[row.mailbox])

        counted: list[Counted] = []
        if self.counts:
            counted = self.store.count_first_responses(judged, verdict)
        recent = [c for c in counted if c.row.replied_at >= now - SCORE_WINDOW]
        for c in recent:
            self.metrics.first_response(
                c.row.mailbox, c.judgement.kind, c.judgement.business_seconds
            )
            log.info(
                "first reply mailbox=%s kind=%s business_s=%.0f in_time=%s",
                c.row.mailbox,
                c.judgement.kind,
                c.judgement.business_seconds,
                c.judgement.in_time,
            )
        if self._window is None:
            # Read after counting: what was just counted is stored judged, and read here.
            self._window = InTimeWindow()
            for row in self.store.answered_since(now - SCORE_WINDOW, judged):
                in_time = verdict(row).in_time if row.in_time is None else row.in_time
                self._window.add(row.mailbox, row.replied_at, in_time)
        else:
            for c in recent:
                self._window.add(c.row.mailbox, c.row.replied_at, c.judgement.in_time)
        for mailbox, ratio in self._window.ratios(now).items():
            self.metrics.answered_in_time(mailbox, ratio)
