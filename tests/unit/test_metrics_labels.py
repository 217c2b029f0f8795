"""Metrics stay bounded: label names from an allowlist, values never order IDs or people,
and the number of series grows with mailboxes, never with messages (CONVENTIONS 3-5)."""

import re
from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from maild.metrics import Metrics
from maild.sla.policy import ClockPolicy, SlaPolicy
from maild.sla.snapshot import Waiting, snapshot

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
ALLOWED = {
    "mailbox",
    "folder",
    "direction",
    "kind",
    "state",
    "due_bucket",
    "label",
    "rule",
    "outcome",
    "reason",
    "version",
    "paused",
    "owner",
    "le",
}
POLICY = SlaPolicy(
    "test",
    ClockPolicy(
        {
            "default": timedelta(hours=24),
            "urgent": timedelta(hours=2),
            "customer-care": timedelta(hours=12),
        }
    ),
)
LOOKS_PERSONAL = re.compile(r"@|\d{3}-\d{7}-\d{7}|\d{10,}|\s")


def exported(mailboxes: int, conversations: int) -> list[tuple[str, dict[str, str]]]:
    metrics = Metrics(CollectorRegistry())
    names = [f"shop-{n}" for n in range(mailboxes)]
    for index, name in enumerate(names):
        metrics.mailbox_configured(name, ("INBOX", "Support"), paused=index % 2 == 0)
        metrics.sla_configured(name, POLICY.kinds)
        metrics.folder_synced(name, "INBOX", NOW.timestamp())
        metrics.oauth_token_obtained(name, NOW.timestamp())
    metrics.leases("db1.example:4242", {n: ("INBOX", "Support") for n in names}, names[::2])
    waiting = [
        Waiting(names[i % mailboxes], NOW - timedelta(minutes=7 * i), ("urgent",) if i % 5 else ())
        for i in range(conversations)
    ]
    metrics.sla_snapshot(snapshot(waiting, {n: POLICY for n in names}, NOW))
    for i in range(conversations):
        metrics.landed(names[i % mailboxes], 1, 0)
        metrics.ingest_lag(names[i % mailboxes], (float(i % 90),))
        metrics.first_response(names[i % mailboxes], "default", float(i * 60))
    metrics.escalated([names[i % mailboxes] for i in range(0, conversations, 7)])
    metrics.escalated_shares({name: 0.1 for name in names})
    metrics.classified({"ham": conversations, "spam": 3})
    metrics.processed(conversations, 2)
    text = generate_latest(metrics.registry).decode()
    return [
        (sample.name, dict(sample.labels))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def test_every_label_name_is_in_the_allowlist() -> None:
    names = {label for _, labels in exported(3, 200) for label in labels}
    assert names <= ALLOWED, names - ALLOWED


def test_no_label_value_looks_like_an_order_id_an_address_or_a_subject() -> None:
    for name, labels in exported(3, 200):
        for key, value in labels.items():
            assert not LOOKS_PERSONAL.search(value), (name, key, value)


def test_series_grow_with_mailboxes_never_with_conversations() -> None:
    few, many = exported(4, 20), exported(4, 5_000)
    assert len(many) == len(few)
    assert len(exported(8, 20)) > len(few)
    assert len(many) <= 4 * 120  # a budget per mailbox
