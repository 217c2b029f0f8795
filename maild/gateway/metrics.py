"""The submission gateway's own Prometheus series, on the daemon's registry.

Apart from :mod:`maild.metrics` so the gateway can be added to (or left out of) a
registry on its own. Labels: the mailbox (a config key) and, for refusals, the rule
(an enum of code: the policy's rules, ``sender``, ``rate-limit``, ``unreadable``).
Every configured gateway's series exist at 0 from its start (CONVENTIONS 4).
"""

from __future__ import annotations

__all__ = ["REFUSAL_RULES", "GatewayMetrics"]

import contextlib
from typing import Final

from prometheus_client import CollectorRegistry, Counter

from maild.outbound.model import ALL_RULES

REFUSAL_RULES: Final = (*ALL_RULES, "sender", "rate-limit", "unreadable")


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._connections = Counter(
            "maild_gateway_connections_total",
            "SMTP connections the submission gateway took, per mailbox.",
            ["mailbox"],
            registry=registry,
        )
        self._auth_failures = Counter(
            "maild_gateway_auth_failures_total",
            "Failed or throttled logins at the submission gateway, per mailbox.",
            ["mailbox"],
            registry=registry,
        )
        self._accepted = Counter(
            "maild_gateway_accepted_total",
            "Messages the submission gateway queued in the outbox, per mailbox.",
            ["mailbox"],
            registry=registry,
        )
        self._refused = Counter(
            "maild_gateway_refused_total",
            "Messages the submission gateway refused, per mailbox and rule.",
            ["mailbox", "rule"],
            registry=registry,
        )

    def configured(self, mailbox: str) -> None:
        for counter in (self._connections, self._auth_failures, self._accepted):
            counter.labels(mailbox)
        for rule in REFUSAL_RULES:
            self._refused.labels(mailbox, rule)

    def removed(self, mailbox: str) -> None:
        with contextlib.suppress(KeyError):
            for counter in (self._connections, self._auth_failures, self._accepted):
                counter.remove(mailbox)
            for rule in REFUSAL_RULES:
                self._refused.remove(mailbox, rule)

    def connection(self, mailbox: str) -> None:
        self._connections.labels(mailbox).inc()

    def auth_failed(self, mailbox: str) -> None:
        self._auth_failures.labels(mailbox).inc()

    def accepted(self, mailbox: str) -> None:
        self._accepted.labels(mailbox).inc()

    def refused(self, mailbox: str, rules: tuple[str, ...]) -> None:
        for rule in rules:
            self._refused.labels(mailbox, rule).inc()
