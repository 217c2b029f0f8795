"""The SLA gauges kept up to date by changes and by the clock, not by recounting; pure.

A waiting conversation's deadline does not move while it waits, so everything the
gauges show about it is a step function of time with known steps: it enters each
due-within bucket at ``due - bucket``, turns due-soon when the business time left
reaches the policy's share (an instant :func:`add_business_time` gives once) and
overdue just after ``due``. The book keeps each conversation's current place in
the counts and a heap of the next step of each (items a change made stale are
skipped when they come up); moving the clock pops only the
conversations whose step has come, and a change touches only that conversation.
:func:`maild.sla.snapshot.snapshot` is the definition: the book equals it at every
instant (tests replay random changes and clock moves against it).
"""

from __future__ import annotations

__all__ = ["SlaBook"]

import heapq
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import NamedTuple

from maild.sla.business_time import add_business_time
from maild.sla.policy import SlaPolicy
from maild.sla.snapshot import DUE_BUCKETS, Snapshot, Waiting
from maild.sla.state import Allowance, allowances, due_times

_TICK = timedelta(microseconds=1)  # overdue is strictly after the due instant
_NO_BUCKET = len(DUE_BUCKETS)
# Rebuild a heap once stale items outnumber live ones by this factor (plus a floor).
_SLACK = 2
_FLOOR = 1024


class _Entry(NamedTuple):
    """A tuple of str and datetimes: the garbage collector stops tracking it, which
    keeps a full load of 100,000 conversations from paying for repeated collections."""

    mailbox: str
    since: datetime
    kind: str
    due: datetime
    # From this instant on the first clock is due soon (unless it is overdue).
    soon: datetime


# (state, index of the smallest due-within bucket it is in, or _NO_BUCKET)
_Place = tuple[str, int]
# (instant, conversation): live while the conversation's entry still says that instant.
_Item = tuple[datetime, int]


def _entry(item: Waiting, rules: tuple[Allowance, ...], due_soon_ratio: float) -> _Entry:
    first = min(due_times(item.since, rules), key=lambda d: d.due)
    share = first.allowance - first.allowance * due_soon_ratio
    soon = add_business_time(item.since, share, first.calendar)
    return _Entry(item.mailbox, item.since, first.kind, first.due, soon)


def _place(entry: _Entry, now: datetime) -> _Place:
    if now > entry.due:
        return "overdue", _NO_BUCKET
    left = entry.due - now
    bucket = next((i for i, (_, within) in enumerate(DUE_BUCKETS) if left <= within), _NO_BUCKET)
    return ("due-soon" if now >= entry.soon else "ok"), bucket


def _next_step(entry: _Entry, now: datetime) -> datetime | None:
    steps = [entry.due - within for _, within in DUE_BUCKETS]
    steps += [entry.soon, entry.due + _TICK]
    return min((step for step in steps if step > now), default=None)


class SlaBook:
    """Waiting conversations by id, counted per mailbox, kind, state and bucket."""

    def __init__(self, policies: Mapping[str, SlaPolicy | None], now: datetime) -> None:
        self._policies = policies
        self._now = now
        self._rules: dict[tuple[str, tuple[str, ...]], tuple[Allowance, ...]] = {}
        self._waiting: dict[int, Waiting] = {}
        self._entries: dict[int, _Entry] = {}
        self._places: dict[int, _Place] = {}
        self._next: dict[int, datetime] = {}
        self._states: Counter[tuple[str, str, str]] = Counter()
        self._buckets: Counter[tuple[str, int]] = Counter()
        self._steps: list[_Item] = []
        self._oldest: dict[str, list[_Item]] = {}
        self._soonest: dict[str, list[_Item]] = {}
        # How many conversations the last advance recounted (what a tick costs).
        self.recounted = 0

    def configure(self, policies: Mapping[str, SlaPolicy | None]) -> None:
        """New policies: every deadline is computed again."""
        self._policies = policies
        self._rules = {}
        self._rebuild()

    def put(self, thread: int, item: Waiting | None) -> None:
        """The conversation waits as ``item`` says, or (None) no longer waits."""
        if self._waiting.get(thread) == item:
            return
        self._drop(thread)
        if item is None:
            return
        self._waiting[thread] = item
        policy = self._policies.get(item.mailbox)
        if policy is not None:
            key = (item.mailbox, item.tags)
            rules = self._rules.get(key)
            if rules is None:
                rules = self._rules[key] = allowances(item.tags, policy)
            self._add(thread, _entry(item, rules, policy.due_soon_ratio))

    def advance(self, now: datetime) -> None:
        """Move the clock to ``now``: only conversations with a step due are recounted."""
        if now < self._now:
            self._now = now
            self._rebuild()
            self.recounted = len(self._entries)
            return
        self._now = now
        self._compact()
        self.recounted = 0
        while self._steps and self._steps[0][0] <= now:
            at, thread = heapq.heappop(self._steps)
            if self._next.get(thread) == at:
                entry = self._entries[thread]
                self._count(thread, entry, -1)
                self._count_at_now(thread, entry)
                self.recounted += 1

    def snapshot(self) -> Snapshot:
        shot = Snapshot()
        shot.awaiting = {key: n for key, n in self._states.items() if n}
        for (mailbox, first), n in self._buckets.items():
            for index in range(first, _NO_BUCKET):
                if n:
                    key = (mailbox, DUE_BUCKETS[index][0])
                    shot.due_within[key] = shot.due_within.get(key, 0) + n
        for mailbox, heap in self._oldest.items():
            top = _top(heap, self._waits_since)
            if top is not None:
                shot.oldest[mailbox] = top
        for mailbox, heap in self._soonest.items():
            top = _top(heap, self._due_ahead)
            if top is not None:
                shot.next_deadline[mailbox] = top
        return shot

    def _waits_since(self, item: _Item) -> bool:
        entry = self._entries.get(item[1])
        return entry is not None and entry.since == item[0]

    def _due_ahead(self, item: _Item) -> bool:
        entry = self._entries.get(item[1])
        return entry is not None and entry.due == item[0] and item[0] >= self._now

    def _steps_next(self, item: _Item) -> bool:
        return self._next.get(item[1]) == item[0]

    def _rebuild(self) -> None:
        waiting = self._waiting
        self._waiting, self._entries, self._places, self._next = {}, {}, {}, {}
        self._states.clear()
        self._buckets.clear()
        self._steps, self._oldest, self._soonest = [], {}, {}
        for thread, item in waiting.items():
            self.put(thread, item)

    def _add(self, thread: int, entry: _Entry) -> None:
        self._entries[thread] = entry
        heapq.heappush(self._oldest.setdefault(entry.mailbox, []), (entry.since, thread))
        heapq.heappush(self._soonest.setdefault(entry.mailbox, []), (entry.due, thread))
        self._count_at_now(thread, entry)

    def _count_at_now(self, thread: int, entry: _Entry) -> None:
        self._places[thread] = _place(entry, self._now)
        self._count(thread, entry, +1)
        step = _next_step(entry, self._now)
        if step is None:
            self._next.pop(thread, None)
        else:
            self._next[thread] = step
            heapq.heappush(self._steps, (step, thread))

    def _count(self, thread: int, entry: _Entry, sign: int) -> None:
        state, bucket = self._places[thread]
        self._states[(entry.mailbox, entry.kind, state)] += sign
        if bucket != _NO_BUCKET:
            self._buckets[(entry.mailbox, bucket)] += sign

    def _drop(self, thread: int) -> None:
        self._waiting.pop(thread, None)
        self._next.pop(thread, None)
        entry = self._entries.pop(thread, None)
        if entry is not None:
            self._count(thread, entry, -1)
            del self._places[thread]

    def _compact(self) -> None:
        """Drop stale heap items once they outnumber live ones (changes leave them behind)."""
        limit = _SLACK * len(self._entries) + _FLOOR
        heaps = [(self._steps, self._steps_next)]
        heaps += [(heap, self._waits_since) for heap in self._oldest.values()]
        heaps += [(heap, self._due_ahead) for heap in self._soonest.values()]
        for heap, live in heaps:
            if len(heap) > limit:
                heap[:] = sorted({item for item in heap if live(item)})


def _top(heap: list[_Item], live: Callable[[_Item], bool]) -> datetime | None:
    """The heap's least live instant; stale items met on the way are dropped."""
    while heap:
        if live(heap[0]):
            return heap[0][0]
        heapq.heappop(heap)
    return None
