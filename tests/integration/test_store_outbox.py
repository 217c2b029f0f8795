"""The outbox's rows on SQLite and PostgreSQL: queue, claim once, record sent once."""

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest

from maild.outbound.compose import Outgoing, compose
from maild.outbound.outbox import TransitionError, accepted, claim, requeued
from maild.store import Store
from maild.store import outbox as rows

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
MESSAGE_ID = "<0123abcd@shop.example>"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    opened.ensure_mailboxes({"shop": "support@shop.example"}, NOW)
    yield opened
    opened.close()


def queue(store: Store) -> bytes:
    raw = compose(
        Outgoing("support@shop.example", ("b@buyers.example",), "Re: lamp", "Yes, in red."),
        MESSAGE_ID,
        NOW,
    )
    store.run(
        partial(
            rows.enqueue,
            mailbox="shop",
            thread_id=None,
            order_id="A-1",
            message_id=MESSAGE_ID,
            raw=raw,
            sender="support@shop.example",
            recipients=("b@buyers.example",),
            subject="Re: lamp",
            now=NOW,
        )
    )
    return raw


def test_a_queued_message_is_claimed_by_one_sender_only(store: Store) -> None:
    queue(store)
    [row] = store.run(partial(rows.due, now=NOW))
    claimed = claim(row.entry, NOW)

    first = store.run(partial(rows.apply, row=row, entry=claimed))
    second = store.run(partial(rows.apply, row=row, entry=claimed))

    assert (first, second) == (True, False)
    assert store.run(partial(rows.due, now=NOW)) == []
    [stuck] = store.run(partial(rows.interrupted, started_before=None))
    assert (stuck.entry.state, stuck.entry.attempts, stuck.recipients) == (
        "sending",
        1,
        ("b@buyers.example",),
    )
    assert store.run(partial(rows.interrupted, started_before=NOW)) == []
    later = NOW + timedelta(minutes=11)
    assert len(store.run(partial(rows.interrupted, started_before=later))) == 1


def test_sent_stores_the_message_as_the_sellers_once_and_keeps_its_bytes(store: Store) -> None:
    raw = queue(store)
    [row] = store.run(partial(rows.due, now=NOW))
    claimed = claim(row.entry, NOW)
    assert store.run(partial(rows.apply, row=row, entry=claimed))
    sending = replace(row, entry=claimed)
    done = accepted(claimed, NOW, "250 queued as 7")

    assert store.run(partial(rows.mark_sent, row=sending, entry=done, raw=raw))
    assert not store.run(partial(rows.mark_sent, row=sending, entry=done, raw=raw))

    assert store.message_pks("shop") and store.raw_message(store.message_pks("shop")[0]) == raw
    assert len(store.message_pks("shop")) == 1
    assert store.run(partial(rows.raw, row=row)) == raw
    [sent] = store.run(partial(rows.uncopied, mailboxes=["shop"]))
    assert (sent.entry.state, sent.entry.smtp_reply) == ("sent", "250 queued as 7")
    assert store.run(partial(rows.find, ref="0123abcd@shop.example")).id == row.id
    with pytest.raises(TransitionError, match="cannot retry a message that is sent"):
        requeued(sent.entry, NOW)
