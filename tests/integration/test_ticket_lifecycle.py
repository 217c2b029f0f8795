"""Platform hand-offs and the service-ticket lifecycle, from real-looking notifications.

The notifications in tests/data/lifecycle go through the same processing as fetched
mail (parse, tags from the shipped presets, threading) on SQLite and PostgreSQL; the
SLA ticker then shows what the seller's clock and the hand-off counter make of them.
"""

import dataclasses
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from maild.classify.tagrules import NoticeMarkers
from maild.domain import Direction, RawMessage
from maild.ingest.identity import message_key
from maild.ingest.rules import MailboxRules
from maild.ingest.workers import process_batch
from maild.metrics import Metrics
from maild.outbound.compose import Outgoing, compose, reply_subject
from maild.outbound.template_files import SHIPPED_TEMPLATES, load_template
from maild.outbound.templates import fill
from maild.sla.presets import load_sla_preset
from maild.sla_ticker import SlaTicker
from maild.store import Store
from maild.store.thread_views import ThreadQuery, ThreadRow, View
from maild.threads import load_preset

DATA = Path(__file__).resolve().parents[1] / "data" / "lifecycle"
DOUYIN, XHS = "douyin-shop", "xhs-shop"
ORDER = "4921837465102938475"
# 10:00 in Shanghai: inside Douyin's 09:00-21:00 business hours.
T0 = datetime(2026, 11, 23, 2, tzinfo=UTC)
RULES = {DOUYIN: MailboxRules(load_preset("douyin")), XHS: MailboxRules(load_preset("xiaohongshu"))}


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    opened.ensure_mailboxes(
        {DOUYIN: "kefu@lamp-shop.example", XHS: "service@lamp-shop.example"}, T0
    )
    yield opened
    opened.close()


def ticker(store: Store) -> SlaTicker:
    metrics = Metrics(CollectorRegistry())
    for mailbox in (DOUYIN, XHS):
        metrics.mailbox_configured(mailbox, ("INBOX", "Sent"))
    made = SlaTicker(store, metrics, {})
    made.configure({DOUYIN: load_sla_preset("douyin"), XHS: None})
    return made


def deliver(
    store: Store,
    mailbox: str,
    raw: bytes,
    at: datetime,
    direction: Direction = "in",
    rules: Mapping[str, MailboxRules] = RULES,
) -> None:
    """Land one message as a sync would, then process and thread it as the daemon does."""
    key = message_key(raw)
    folder = "INBOX" if direction == "in" else "Sent"
    uid = len(store.message_pks(mailbox)) + 1
    message = RawMessage(uid, raw, key.message_id, key.digest, internaldate=at)
    store.land(mailbox, folder, 1, [message], uid, at, direction)
    process_batch(store, [max(store.message_pks(mailbox))], at, rules)


def notification(name: str) -> bytes:
    return (DATA / name).read_bytes()


def clarify_reply(at: datetime) -> bytes:
    """The seller's return of the ticket, from the shipped template, as `maild reply` writes it."""
    template = load_template(SHIPPED_TEMPLATES, "ticket-clarify-zh")
    filled = fill(
        template,
        {
            "order_id": ORDER,
            "question": "请问是灯泡不亮还是整个台灯不通电？",
            "shop_name": "灯具小店",
        },
    )
    message = Outgoing(
        sender="kefu@lamp-shop.example",
        to=("notice@service.jinritemai.com",),
        subject=reply_subject("【工单提醒】GD20261123000123 商品质量问题"),
        body=filled.body,
        in_reply_to="<gd20261123000123.1@service.jinritemai.com>",
        ticket=filled.ticket,
    )
    return compose(message, "<clarify-0001@lamp-shop.example>", at)


def conversation(store: Store, mailbox: str) -> ThreadRow:
    (row,) = store.threads(ThreadQuery(mailbox=mailbox))
    return row


def in_view(store: Store, view: View) -> list[int]:
    return [row.id for row in store.threads(ThreadQuery(view=view))]


def awaiting(running: SlaTicker, mailbox: str) -> float:
    registry = running.metrics.registry
    return sum(
        sample.value
        for family in registry.collect()
        if family.name == "maild_conversations_awaiting"
        for sample in family.samples
        if sample.labels["mailbox"] == mailbox
    )


def test_a_ticket_returned_for_clarification_leaves_the_clock_until_the_platform_writes_again(
    store: Store,
) -> None:
    running = ticker(store)
    deliver(store, DOUYIN, notification("douyin-ticket.eml"), T0)
    running.tick(T0)
    assert conversation(store, DOUYIN).awaiting_since == T0
    assert awaiting(running, DOUYIN) == 1

    deliver(store, DOUYIN, clarify_reply(T0 + timedelta(hours=1)), T0 + timedelta(hours=1), "out")
    running.tick(T0 + timedelta(hours=1))
    row = conversation(store, DOUYIN)
    assert (row.state, row.awaiting_since) == ("returned", None)
    assert "ticket-returned" in row.labels
    assert in_view(store, "returned") == [row.id]
    assert in_view(store, "response-needed") == []
    assert awaiting(running, DOUYIN) == 0

    clarified = T0 + timedelta(hours=4)
    deliver(store, DOUYIN, notification("douyin-ticket-clarified.eml"), clarified)
    running.tick(clarified)
    row = conversation(store, DOUYIN)
    assert (row.state, row.awaiting_since) == ("response-needed", clarified)
    assert in_view(store, "returned") == []
    assert awaiting(running, DOUYIN) == 1


def test_a_customer_withdrawal_does_not_close_the_ticket_and_the_closing_notice_does(
    store: Store,
) -> None:
    running = ticker(store)
    deliver(store, DOUYIN, notification("douyin-ticket.eml"), T0)
    deliver(store, DOUYIN, notification("douyin-ticket-withdrawal.eml"), T0 + timedelta(hours=5))
    running.tick(T0 + timedelta(hours=5))
    row = conversation(store, DOUYIN)
    # "不用处理了，工单可以关闭了": tickets cannot be withdrawn, the seller still answers.
    assert (row.state, row.awaiting_since) == ("response-needed", T0)
    assert "ticket-closed" not in row.labels
    assert awaiting(running, DOUYIN) == 1

    deliver(store, DOUYIN, notification("douyin-ticket-closed.eml"), T0 + timedelta(hours=6))
    running.tick(T0 + timedelta(hours=6))
    row = conversation(store, DOUYIN)
    assert (row.state, row.awaiting_since) == ("closed", None)
    assert in_view(store, "closed") == [row.id]
    assert awaiting(running, DOUYIN) == 0


def test_the_platforms_urgent_ticket_marker_gives_the_two_hour_clock(store: Store) -> None:
    running = ticker(store)
    arrived = T0 + timedelta(minutes=30)
    deliver(store, DOUYIN, notification("douyin-ticket-urgent.eml"), arrived)
    running.tick(arrived)
    assert "urgent" in conversation(store, DOUYIN).labels
    sample = running.metrics.registry.get_sample_value(
        "maild_conversations_awaiting", {"mailbox": DOUYIN, "kind": "urgent", "state": "ok"}
    )
    assert sample == 1
    due = running.metrics.registry.get_sample_value(
        "maild_next_deadline_timestamp_seconds", {"mailbox": DOUYIN}
    )
    assert due == (arrived + timedelta(hours=2)).timestamp()


def test_a_hand_off_tags_the_conversation_stops_its_clock_and_is_counted_once(
    store: Store,
) -> None:
    running = ticker(store)
    running.configure({DOUYIN: None, XHS: load_sla_preset("amazon")})
    deliver(store, XHS, notification("xhs-question.eml"), T0 + timedelta(hours=1))
    running.tick(T0 + timedelta(hours=1))
    assert awaiting(running, XHS) == 1
    counter = {"mailbox": XHS}
    assert (
        running.metrics.registry.get_sample_value("maild_conversations_escalated_total", counter)
        == 0
    )

    handed = T0 + timedelta(hours=2, minutes=30)
    deliver(store, XHS, notification("xhs-handoff.eml"), handed)
    running.tick(handed)
    row = conversation(store, XHS)
    assert {"escalated", "handed-off"} <= set(row.labels)
    assert (row.state, row.awaiting_since) == ("escalated", None)
    assert in_view(store, "escalated") == [row.id]
    assert awaiting(running, XHS) == 0
    registry = running.metrics.registry
    assert registry.get_sample_value("maild_conversations_escalated_total", counter) == 1
    assert registry.get_sample_value("maild_conversations_escalated_ratio", counter) == 1.0

    # A buyer writing on afterwards starts no new wait: the platform's service answers.
    later = handed + timedelta(hours=1)
    deliver(store, XHS, notification("xhs-question.eml").replace(b"q1.7f3a9c", b"q2.7f3a9c"), later)
    running.tick(later)
    assert conversation(store, XHS).awaiting_since is None
    assert registry.get_sample_value("maild_conversations_escalated_total", counter) == 1

    restarted = ticker(store)
    restarted.tick(later)
    again = restarted.metrics.registry
    assert again.get_sample_value("maild_conversations_escalated_total", counter) == 0
    assert again.get_sample_value("maild_conversations_escalated_ratio", counter) == 1.0
    assert (
        again.get_sample_value("maild_conversations_escalated_ratio", {"mailbox": DOUYIN}) is None
    )


def test_reprocessing_mail_that_landed_before_hand_offs_were_recognised_escalates_it(
    store: Store,
) -> None:
    xhs = load_preset("xiaohongshu")
    older = dataclasses.replace(xhs, tags=xhs.tags.model_copy(update={"handoff": NoticeMarkers()}))
    before = {**RULES, XHS: MailboxRules(older)}
    deliver(store, XHS, notification("xhs-question.eml"), T0, rules=before)
    deliver(store, XHS, notification("xhs-handoff.eml"), T0 + timedelta(hours=1), rules=before)
    assert conversation(store, XHS).state == "response-needed"

    process_batch(store, store.message_pks(XHS), T0 + timedelta(hours=2), RULES)
    row = conversation(store, XHS)
    assert (row.state, row.awaiting_since) == ("escalated", None)
    running = ticker(store)
    running.tick(T0 + timedelta(hours=2))
    counted = running.metrics.registry.get_sample_value(
        "maild_conversations_escalated_total", {"mailbox": XHS}
    )
    assert counted == 1


def test_a_hand_off_notice_sent_as_automatic_mail_still_escalates(store: Store) -> None:
    deliver(store, XHS, notification("xhs-question.eml"), T0)
    automatic = notification("xhs-handoff.eml").replace(
        b"MIME-Version:", b"Auto-Submitted: auto-generated\r\nMIME-Version:", 1
    )
    deliver(store, XHS, automatic, T0 + timedelta(hours=1))
    row = conversation(store, XHS)
    assert (row.state, row.awaiting_since) == ("escalated", None)
    assert {"escalated", "handed-off"} <= set(row.labels)
    shown = store.show_thread(row.id, T0 + timedelta(hours=2))
    assert shown is not None
    assert [m.machine_kind is not None for m in shown[1]] == [False, True]
