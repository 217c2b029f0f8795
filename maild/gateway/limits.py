"""Sliding-window counters for the gateway: failed logins per peer, messages per agent.

Pure: the caller passes the time (monotonic seconds), so tests need no clock.
A key whose events have all aged out is dropped when it is next asked about, and
all such keys whenever the table has doubled since the last sweep (from ``PRUNE_AT``
keys), so a scan from many addresses holds at most about twice the addresses seen
within one window.
"""

from __future__ import annotations

__all__ = ["PRUNE_AT", "Window"]

from collections import deque
from typing import Final

PRUNE_AT: Final = 1024


class Window:
    """At most ``limit`` events per key within any ``span_s`` seconds."""

    def __init__(self, limit: int, span_s: float) -> None:
        self.limit = limit
        self.span_s = span_s
        self._events: dict[str, deque[float]] = {}
        self._prune_at = PRUNE_AT

    def _recent(self, key: str, now: float) -> deque[float]:
        events = self._events.get(key)
        if events is None:
            return deque()
        while events and events[0] <= now - self.span_s:
            events.popleft()
        if not events:
            del self._events[key]
        return events

    def full(self, key: str, now: float) -> bool:
        """Whether another event for ``key`` now would exceed the limit."""
        return len(self._recent(key, now)) >= self.limit

    def add(self, key: str, now: float) -> None:
        if len(self._events) >= self._prune_at:
            for stale in list(self._events):
                self._recent(stale, now)
            # Twice what is left: pruning stays amortised O(1) per event.
            self._prune_at = max(PRUNE_AT, 2 * len(self._events))
        self._recent(key, now)
        self._events.setdefault(key, deque()).append(now)

    def __len__(self) -> int:
        """Keys held now (for the bound on memory)."""
        return len(self._events)

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until ``key`` may have an event again (0: now)."""
        events = self._recent(key, now)
        if len(events) < self.limit:
            return 0.0
        return max(0.0, events[len(events) - self.limit] + self.span_s - now)
