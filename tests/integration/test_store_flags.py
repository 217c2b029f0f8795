"""Flags in the store on SQLite and PostgreSQL: flag, reprocess, a reply threaded after."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from maild.domain import (
    ConversationFacts,
    Direction,
    ParsedMail,
    ProcessOutcome,
    RawMessage,
    Verdict,
)
from maild.ingest.identity import message_key
from maild.store import Store

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
BUYER = "buyer@mail.example"
QUESTION = b"Message-ID: <q1@mail.example>\r\nSubject: refund\r\n\r\nVerify your card now\r\n"
REPLY = (
    b"Message-ID: <r1@shop.example>\r\nIn-Reply-To: <q1@mail.example>\r\n"
    b"Subject: Re: refund\r\n\r\nWhich order is it about?\r\n"
)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    opened.ensure_mailboxes({"shop": "support@shop.example"}, NOW)
    yield opened
    opened.close()


def arrive(store: Store, raw: bytes, folder: str, at: datetime) -> int:
    """Land and process one message as a person's mail, then thread; its key."""
    key = message_key(raw)
    direction: Direction = "out" if folder == "Sent" else "in"
    store.land(
        "shop", folder, 1, [RawMessage(1, raw, key.message_id, key.digest)], 1, at, direction
    )
    pk = max(store.message_pks("shop"))
    process(store, pk, raw, at)
    store.thread_pending(at)
    return pk


def process(store: Store, pk: int, raw: bytes, at: datetime) -> None:
    """What the pipeline saves for it; inbound mail gets the model's verdict "fraud"."""
    inbound = b"In-Reply-To" not in raw
    parsed = ParsedMail(
        message_id=message_key(raw).message_id,
        subject="refund",
        from_name=None,
        from_addr=BUYER if inbound else "support@shop.example",
        in_reply_to=None if inbound else "<q1@mail.example>",
        text="text",
    )
    outcome = ProcessOutcome(
        pk,
        parsed,
        facts=ConversationFacts(subject_key="refund", customer_address=BUYER),
        tags=("pre-sale",) if inbound else (),
        verdict=Verdict("fraud", {"fraud": 0.9}, "v1") if inbound else None,
    )
    store.save_processed([outcome], at)


def rows(store: Store, sql: str) -> list[tuple[object, ...]]:
    with store.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def test_flag_replaces_the_models_label_and_reprocessing_does_not_bring_it_back(
    store: Store,
) -> None:
    pk = arrive(store, QUESTION, "INBOX", NOW)

    change = store.flag("q1@mail.example", "spam", NOW)
    again = store.flag("q1@mail.example", "spam", NOW)
    process(store, pk, QUESTION, NOW)

    assert (change.refusal, change.removed, change.in_spam) == (None, ("fraud",), True)
    assert again.refusal is not None and again.refusal.rule == "already-flagged"
    assert rows(store, "SELECT name, source FROM label WHERE source <> 'rule'") == [
        ("spam", "flag")
    ]
    assert [(m.pk, m.label) for m in store.feedback()] == [(pk, "spam")]


def test_feedback_skips_a_message_whose_stored_bytes_are_damaged_and_keeps_the_rest(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    pk = arrive(store, QUESTION, "INBOX", NOW)
    other = arrive(store, QUESTION.replace(b"q1@", b"q2@"), "INBOX", NOW)
    store.flag("q1@mail.example", "spam", NOW)
    store.flag("q2@mail.example", "fraud", NOW)
    with store.engine.begin() as connection:
        connection.execute(
            text("UPDATE message SET raw_blob = :junk, raw_codec = 'zlib' WHERE id = :pk"),
            {"junk": b"not zlib", "pk": pk},
        )
    assert [(m.pk, m.label) for m in store.feedback()] == [(other, "fraud")]
    assert f"feedback message skipped pk={pk} reason=stored bytes are damaged" in caplog.text


def test_reply_threaded_after_a_flag_takes_it_off_and_is_kept_as_feedback(store: Store) -> None:
    pk = arrive(store, QUESTION, "INBOX", NOW)
    assert store.flag("<q1@mail.example>", "fraud", NOW).refusal is None

    arrive(store, REPLY, "Sent", NOW + timedelta(hours=1))

    assert rows(store, "SELECT count(*) FROM label WHERE source = 'flag'") == [(0,)]
    assert rows(store, "SELECT action, reason, origin FROM feedback ORDER BY id") == [
        ("flag", "fraud", "agent"),
        ("unflag", "fraud", "reply"),
    ]
    [judged] = store.feedback()
    assert (judged.pk, judged.label, judged.raw) == (pk, "ham", QUESTION)
    refused = store.flag("q1@mail.example", "fraud", NOW)
    assert refused.refusal is not None and refused.refusal.rule == "answered"
