"""The SLA ticker on a real store (SQLite and PostgreSQL): incremental ticks, stored first
responses counted once across restarts, flags counted from another process, and the
Spam view's column kept equal to its label rule."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import select, text

from maild.domain import (
    ConversationFacts,
    Direction,
    ParsedMail,
    ProcessOutcome,
    RawMessage,
    Verdict,
)
from maild.ingest.identity import message_key
from maild.metrics import Metrics
from maild.sla.presets import load_sla_preset
from maild.sla_ticker import SlaTicker
from maild.store import Store, schema
from maild.store import outbox as outbox_rows
from maild.store.engine import make_engine
from maild.store.tables import core_table
from maild.store.thread_marks import spam_rule
from maild.store.thread_views import ThreadQuery

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
AMAZON = load_sla_preset("amazon")  # 24 h of wall-clock time
GAUGES = ("maild_conversations_", "maild_oldest_", "maild_next_deadline_")
# Counted and read from the store, not deadline gauges (tests/integration/test_handoff.py).
ESCALATION = "maild_conversations_escalated_"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    opened.ensure_mailboxes({"shop": "support@shop.example", "other": "x@shop.example"}, T0)
    yield opened
    opened.close()


def arrive(
    store: Store,
    n: int,
    at: datetime,
    *,
    out: bool = False,
    order: str | None = None,
    reply_to: int | None = None,
    tags: tuple[str, ...] = (),
    verdict: str | None = None,
    mailbox: str = "shop",
    reprocess: int | None = None,
) -> int:
    """Land, process and thread message ``n`` as the pipeline would; its key.

    ``reprocess``: the key of message ``n``, stored already; only process it again.
    """
    raw = f"Message-ID: <m{n}@sla.test>\r\nSubject: question {n}\r\n\r\nhello {n}\r\n".encode()
    key = message_key(raw)
    pk = reprocess
    if pk is None:
        direction: Direction = "out" if out else "in"
        message = RawMessage(n, raw, key.message_id, key.digest)
        store.land(mailbox, "Sent" if out else "INBOX", 1, [message], n, at, direction)
        pk = max(store.message_pks(mailbox))
    customer = f"buyer{n if reply_to is None else reply_to}@mail.example"
    parsed = ParsedMail(
        message_id=key.message_id,
        subject=f"question {n}",
        from_name=None,
        from_addr="support@shop.example" if out else customer,
        in_reply_to=None if reply_to is None else f"<m{reply_to}@sla.test>",
        text=f"hello {n}",
    )
    facts = ConversationFacts(
        order_ids=(order,) if order else (),
        subject_key=f"question {n if reply_to is None else reply_to}",
        customer_address=customer,
    )
    outcome = ProcessOutcome(
        pk,
        parsed,
        facts=facts,
        tags=tags,
        verdict=Verdict(verdict, {verdict: 0.9}, "v1") if verdict else None,
    )
    store.save_processed([outcome], at)
    store.thread_pending(at)
    return pk


def ticker(store: Store, *, counts: bool = True) -> SlaTicker:
    metrics = Metrics(CollectorRegistry())
    for mailbox in ("shop", "other"):
        metrics.mailbox_configured(mailbox, ("INBOX", "Sent"))
    made = SlaTicker(store, metrics, {}, counts=counts)
    made.configure({"shop": AMAZON, "other": load_sla_preset("douyin")})
    return made


def gauges(running: SlaTicker) -> list[str]:
    text = generate_latest(running.metrics.registry).decode()
    return [
        line
        for line in text.splitlines()
        if line.startswith(GAUGES) and not line.startswith(ESCALATION)
    ]


def value(running: SlaTicker, name: str, **labels: str) -> float | None:
    return running.metrics.registry.get_sample_value(name, labels)


def test_incremental_ticks_show_what_a_full_recount_shows_through_every_kind_of_change(
    store: Store,
) -> None:
    running = ticker(store)
    steps: list[Callable[[], object]] = [
        lambda: arrive(store, 1, T0, order="111-0000001-0000001"),
        lambda: arrive(store, 2, T0 + timedelta(hours=1)),
        lambda: arrive(store, 3, T0 + timedelta(hours=2), order="111-0000003-0000003"),
        lambda: arrive(store, 4, T0 + timedelta(hours=2), tags=("urgent",), mailbox="other"),
        lambda: arrive(store, 5, T0 + timedelta(hours=3), verdict="spam"),  # hidden by the model
        lambda: arrive(store, 6, T0 + timedelta(hours=4), out=True, reply_to=1),
        # A reply naming an order merges the question's conversation into the order's.
        lambda: arrive(
            store, 7, T0 + timedelta(hours=5), out=True, reply_to=2, order="111-0000003-0000003"
        ),
        lambda: store.flag("<m3@sla.test>", "spam", T0),  # refused: about an order
        lambda: store.flag("<m8@sla.test>", "fraud", T0) if arrive(store, 8, T0) else None,
        lambda: store.unflag("<m5@sla.test>", T0),
        lambda: arrive(store, 9, T0 + timedelta(hours=6), tags=("urgent",)),
    ]
    now = T0 + timedelta(hours=6)
    for step in steps:
        step()
        now += timedelta(minutes=47)
        running.tick(now)
        fresh = ticker(store, counts=False)
        fresh.tick(now)
        assert gauges(running) == gauges(fresh), now
    for hours in (3, 9, 14, 20, 30):  # buckets and states change with time alone
        running.tick(now + timedelta(hours=hours))
        fresh = ticker(store, counts=False)
        fresh.tick(now + timedelta(hours=hours))
        assert gauges(running) == gauges(fresh), hours
    with store.engine.connect() as connection:
        merged = connection.execute(select(core_table("thread_removed").c.thread_id)).all()
    assert len(merged) == 1
    # 5 (unflagged) and 9 still wait; 1 and 2+3 were answered, 8 is flagged.
    waiting = 'maild_conversations_awaiting{kind="default",mailbox="shop",state="overdue"} 2.0'
    assert waiting in gauges(running)


def test_a_reply_stored_while_no_daemon_ran_is_counted_once_and_the_score_survives_restarts(
    store: Store,
) -> None:
    arrive(store, 1, T0)
    arrive(store, 2, T0 + timedelta(hours=2), out=True, reply_to=1)  # no daemon running
    first = ticker(store)
    first.tick(T0 + timedelta(hours=3))
    first.tick(T0 + timedelta(hours=4))
    count = "maild_first_response_business_seconds_count"
    ratio = "maild_platform_answered_in_time_ratio"
    assert value(first, count, mailbox="shop", kind="default") == 1.0
    assert (
        value(first, "maild_first_response_business_seconds_sum", mailbox="shop", kind="default")
        == 7200.0
    )
    assert value(first, ratio, mailbox="shop") == 1.0

    # Answered after 30 h, late for Amazon's 24 h; maild restarted meanwhile.
    arrive(store, 3, T0 + timedelta(hours=5))
    arrive(store, 4, T0 + timedelta(hours=35), out=True, reply_to=3)
    looking = ticker(store, counts=False)  # maild metrics: shows the score, claims nothing
    looking.tick(T0 + timedelta(hours=36))
    restarted = ticker(store)
    restarted.tick(T0 + timedelta(hours=36))

    assert value(looking, ratio, mailbox="shop") == 0.5
    assert value(looking, count, mailbox="shop", kind="default") is None
    assert value(restarted, count, mailbox="shop", kind="default") == 1.0
    assert value(restarted, ratio, mailbox="shop") == 0.5
    # 30 days after the first reply it leaves the score; after the second, so does the score.
    restarted.tick(T0 + timedelta(days=30, hours=3))
    assert value(restarted, ratio, mailbox="shop") == 0.0
    restarted.tick(T0 + timedelta(days=31, hours=12))
    assert value(restarted, ratio, mailbox="shop") is None


def test_flags_from_another_process_are_counted_once_by_the_daemon(store: Store) -> None:
    arrive(store, 1, T0)
    running = ticker(store)
    running.tick(T0)
    assert store.flag("<m1@sla.test>", "fraud", T0).refusal is None  # maild flag
    running.tick(T0 + timedelta(seconds=30))
    arrive(store, 2, T0 + timedelta(hours=1), out=True, reply_to=1)  # takes the flag off
    running.tick(T0 + timedelta(seconds=60))
    restarted = ticker(store)
    restarted.tick(T0 + timedelta(seconds=90))

    flagged, unflagged = "maild_messages_flagged_total", "maild_messages_unflagged_total"
    assert value(running, flagged, mailbox="shop", reason="fraud") == 1.0
    assert value(running, unflagged, mailbox="shop", reason="fraud") == 1.0
    assert value(running, flagged, mailbox="shop", reason="spam") == 0.0
    assert value(restarted, flagged, mailbox="shop", reason="fraud") == 0.0


def test_policy_refusals_from_another_process_are_counted_once_by_the_daemon(
    store: Store,
) -> None:
    def refuse(rules: set[str], origin: str) -> None:  # as maild reply / the sender do
        store.run(
            partial(
                outbox_rows.record_refusal,
                mailbox="shop",
                rules=rules,
                origin=origin,
                thread_id=None,
                now=T0,
            )
        )

    refuse({"external-link", "marketing"}, "agent")
    running = ticker(store)
    running.tick(T0)
    refuse({"external-link"}, "sender")
    running.tick(T0 + timedelta(seconds=30))
    restarted = ticker(store)
    restarted.tick(T0 + timedelta(seconds=60))

    blocked = "maild_outbound_blocked_total"
    assert value(running, blocked, mailbox="shop", rule="external-link") == 2.0
    assert value(running, blocked, mailbox="shop", rule="marketing") == 1.0
    assert value(restarted, blocked, mailbox="shop", rule="external-link") is None


def test_the_spam_column_matches_the_label_rule_in_every_view(store: Store) -> None:
    arrive(store, 1, T0, verdict="spam")  # hidden: the model, no order, no reply
    arrive(store, 2, T0, verdict="fraud", order="111-0000002-0000002")  # about an order
    arrive(store, 3, T0, verdict="spam")
    arrive(store, 4, T0 + timedelta(hours=1), out=True, reply_to=3)  # a reply shows it
    arrive(store, 5, T0)
    store.flag("<m5@sla.test>", "inappropriate", T0)
    arrive(store, 6, T0, verdict="fraud")
    store.unflag("<m6@sla.test>", T0)
    seven = arrive(store, 7, T0)
    arrive(store, 7, T0, verdict="spam", reprocess=seven)  # maild reprocess, a new model
    thread = core_table("thread")
    with store.engine.connect() as connection:
        by_rule = set(connection.execute(select(thread.c.id).where(spam_rule())).scalars())
        by_column = set(
            connection.execute(select(thread.c.id).where(thread.c.hidden.is_(True))).scalars()
        )
        waiting = set(
            connection.execute(
                select(thread.c.id).where(thread.c.awaiting_since.is_not(None))
            ).scalars()
        )
        every = set(connection.execute(select(thread.c.id)).scalars())

    def view(name: str) -> set[int]:
        return {row.id for row in store.threads(ThreadQuery(view=name))}  # type: ignore[arg-type]

    assert by_column == by_rule and len(by_rule) == 3
    assert view("spam") == by_rule
    assert view("all") == every - by_rule
    assert view("response-needed") == waiting - by_rule


def test_an_upgraded_database_keeps_its_spam_view_and_counts_no_old_flag(database_url: str) -> None:
    engine = make_engine(database_url)
    schema.upgrade(engine, target="0006")
    at = {"at": T0.replace(tzinfo=None), "yes": True, "no": False}
    with engine.begin() as connection:
        for sql in (
            "INSERT INTO mailbox (id, name, address, created_at) VALUES (1, 'shop', '', :at)",
            "INSERT INTO thread (id, mailbox_id, key, unread, messages, sub_orders,"
            " after_sale_sub_orders, created_at, updated_at) VALUES"
            " (1, 1, 'a', :yes, 1, 0, 0, :at, :at), (2, 1, 'b', :yes, 1, 0, 0, :at, :at)",
            "INSERT INTO message (id, mailbox_id, message_id, digest, direction, raw_blob,"
            " raw_codec, raw_size, landed_at, state, degraded, thread_id) VALUES"
            " (1, 1, '<a>', 'a', 'in', '', 'none', 0, :at, 'processed', :no, 1),"
            " (2, 1, '<b>', 'b', 'in', '', 'none', 0, :at, 'processed', :no, 2)",
            "INSERT INTO message_thread (message_pk, thread_id) VALUES (1, 1), (2, 2)",
            "INSERT INTO label (message_pk, name, source, created_at)"
            " VALUES (1, 'spam', 'flag', :at)",
            "INSERT INTO feedback (message_pk, action, reason, origin, created_at)"
            " VALUES (1, 'flag', 'spam', 'agent', :at)",
        ):
            connection.execute(text(sql), at)
    engine.dispose()

    store = Store.open(database_url)
    try:
        assert [row.id for row in store.threads(ThreadQuery(view="spam"))] == [1]
        assert [row.id for row in store.threads(ThreadQuery(view="all"))] == [2]
        assert store.count_feedback() == []
    finally:
        store.close()
