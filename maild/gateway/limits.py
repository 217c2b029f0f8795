"""Sliding-window counters for the gateway: failed logins per peer, messages per agent.

Pure: the caller passes the time (monotonic seconds), so tests need no clock.
Windows forget keys with no recent events, so a scan of many addresses cannot grow
the table without bound for longer than one window.
"""

from __future__ import annotations

__all__ = ["Window"]

from collections import deque


class Window:
    """At most ``limit`` events per key within any ``span_s`` seconds."""

    def __init__(self, limit: int, span_s: float) -> None:
        self.limit = limit
        self.span_s = span_s
        self._events: dict[str, deque[float]] = {}

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
        self._recent(key, now)
        self._events.setdefault(key, deque()).append(now)

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until ``key`` may have an event again (0: now)."""
        events = self._recent(key, now)
        if len(events) < self.limit:
            return 0.0
        return max(0.0, events[len(events) - self.limit] + self.span_s - now)
