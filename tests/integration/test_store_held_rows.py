"""Threading writes the rows processing left it: the same rows as writing them first.

``Store.save_and_thread`` leaves the rows of newly processed messages to threading, which
writes each once, with its thread. Every table must end as it does when the results are
written first and threaded after (``save_processed`` then ``thread_pending``): with
processed, unthreaded messages already waiting, replies, shared orders, two mailboxes,
reprocessing, and a batch larger than threading takes at once.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlmodel import SQLModel

from maild.domain import ProcessOutcome, RawMessage
from maild.ingest.identity import message_key
from maild.ingest.rules import MailboxRules
from maild.ingest.workers import parse_batch
from maild.store import Store, conversations
from maild.threads.presets import load_preset
from tests.support.mailgen import make_message

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)
MAILBOXES = {"shop": "support@seller.example", "other": "help@seller.example"}


def mail() -> dict[str, list[bytes]]:
    """Customer mail, follow-ups naming other orders, and one order's messages apart."""
    first = [make_message(i, 7, message_id=f"m{i}@x") for i in range(8)]
    replies = [make_message(20 + i, 7, in_reply_to=f"m{i}@x") for i in range(4)]
    shared = [make_message(40 + i, 7, order_id="111-0000001-0000001") for i in range(3)]
    return {"shop": first + replies + shared, "other": [make_message(60 + i, 7) for i in range(3)]}


def land(store: Store) -> list[int]:
    for mailbox, raws in mail().items():
        messages = []
        for uid, raw in enumerate(raws, start=1):
            key = message_key(raw)
            messages.append(RawMessage(uid, raw, key.message_id, key.digest))
        store.land(mailbox, "INBOX", 1, messages, len(messages), NOW)
    return store.pending(limit=100)


def outcomes(store: Store, pks: list[int]) -> list[ProcessOutcome]:
    rules = MailboxRules(load_preset("amazon"), None)
    return parse_batch(store.raw_messages(pks), {name: rules for name in MAILBOXES})


def run(url: str, *, hold: bool) -> dict[str, list[Any]]:
    """Process and thread everything, then reprocess it; every table's rows."""
    store = Store.open(url)
    store.ensure_mailboxes(MAILBOXES, NOW)
    pks = land(store)
    store.save_processed(outcomes(store, pks[:3]), NOW)  # processed, waiting to be threaded
    for at in (NOW, NOW + timedelta(hours=1)):
        results = outcomes(store, pks[3:])
        if hold:
            store.save_and_thread(results, at)
        else:
            store.save_processed(results, at)
            store.thread_pending(at)
    with store.engine.connect() as connection:
        tables = {
            table.name: list(connection.execute(select(table).order_by(*table.primary_key)))
            for table in SQLModel.metadata.sorted_tables
        }
    store.close()
    return tables


def empty(url: str) -> None:
    engine = create_engine(url)
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    engine.dispose()


@pytest.fixture(params=[conversations.THREAD_BATCH, 4], ids=["one-pass", "passes"])
def thread_batch(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setattr(conversations, "THREAD_BATCH", request.param)
    yield request.param


def test_rows_held_for_threading_end_as_rows_written_first(
    database_url: str, thread_batch: int
) -> None:
    written_first = run(database_url, hold=False)
    empty(database_url)
    held = run(database_url, hold=True)
    assert len(written_first["message"]) == 18
    assert all(row.thread_id is not None for row in written_first["message"])
    assert held == written_first
