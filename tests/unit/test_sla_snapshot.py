"""The SLA gauges' numbers: per mailbox, kind and state, with cumulative due buckets."""

from datetime import UTC, datetime, timedelta

from maild.sla.policy import ClockPolicy, SlaPolicy
from maild.sla.snapshot import Waiting, snapshot

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
POLICY = SlaPolicy(
    "test", ClockPolicy({"default": timedelta(hours=24), "urgent": timedelta(hours=2)})
)


def ago(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


def test_each_waiting_conversation_is_counted_once_by_kind_and_state() -> None:
    shot = snapshot(
        [
            Waiting("shop", ago(30)),
            Waiting("shop", ago(20)),
            Waiting("shop", ago(1)),
            Waiting("shop", ago(1.5), ("urgent",)),
        ],
        {"shop": POLICY},
        NOW,
    )
    assert shot.awaiting == {
        ("shop", "default", "overdue"): 1,
        ("shop", "default", "due-soon"): 1,
        ("shop", "default", "ok"): 1,
        ("shop", "urgent", "due-soon"): 1,
    }
    assert shot.due_within == {
        ("shop", "1h"): 1,
        ("shop", "4h"): 2,
        ("shop", "12h"): 2,
        ("shop", "24h"): 3,
        ("shop", "48h"): 3,
    }
    assert shot.oldest == {"shop": ago(30)}
    assert shot.next_deadline == {"shop": ago(1.5) + timedelta(hours=2)}


def test_a_mailbox_without_a_policy_counts_nothing() -> None:
    shot = snapshot([Waiting("other", ago(30))], {"other": None}, NOW)
    assert (shot.awaiting, shot.due_within, shot.oldest) == ({}, {}, {})
