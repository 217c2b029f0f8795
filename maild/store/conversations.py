"""Putting processed messages into conversations: the database side of maild.threads.

Threading runs in whichever parse worker finishes a batch, so it takes a lock first:
an update of the mailbox's row, which makes the transaction a writer at once (SQLite
serialises writers; PostgreSQL holds the row lock until commit). Conversations are
thus resolved by one worker at a time, in landing order, each seeing the last one's
commits. Lookups are batched: one query per kind of fact, not one per message.
The update also counts the change (maild.store.thread_marks), and every conversation
the batch touched is stamped with it, its Spam flag and its answered waits kept.
"""

__all__ = ["THREAD_BATCH", "summarize_threads", "thread_pending"]

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, tuple_
from sqlalchemy.orm import Session

from maild.classify.tags import HANDED_OFF, TICKET_CLOSED, TICKET_RETURNED
from maild.domain import ConversationFacts
from maild.store import thread_marks
from maild.store.flags import unflag_answered
from maild.store.tables import core_table
from maild.store.types import UTCDateTime
from maild.threads.resolve import (
    SUBJECT_WINDOW,
    Action,
    AddOrders,
    Incoming,
    Known,
    Link,
    Merge,
    NewThread,
    Threader,
)
from maild.threads.summary import Event, ThreadMessage, summarize

_MESSAGE = core_table("message")
_THREAD = core_table("thread")
_THREAD_ORDER = core_table("thread_order")
_MESSAGE_THREAD = core_table("message_thread")
_MESSAGE_ORDER = core_table("message_order")
_LABEL = core_table("label")

# The rule tags that move a conversation's lifecycle (maild.threads.summary).
_EVENTS: dict[str, Event] = {
    HANDED_OFF: "handoff",
    TICKET_RETURNED: "returned",
    TICKET_CLOSED: "closed",
}

THREAD_BATCH = 1000
# Keeps each IN (...) list well under SQLite's bound-parameter limit.
_CHUNK = 500


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def thread_pending(session: Session, mailbox_id: int, now: datetime) -> int:
    """Thread up to THREAD_BATCH processed messages of one mailbox; how many it threaded."""
    seq = thread_marks.lock(session, mailbox_id)
    incoming = _pending(session, mailbox_id)
    if not incoming:
        session.commit()
        return 0
    threader = Threader(_known(session, mailbox_id, incoming))
    actions = [action for message in incoming for action in threader.place(message)]
    touched = _apply(session, mailbox_id, actions, now, seq)
    summarize_threads(session, mailbox_id, touched, now)
    unflag_answered(session, touched, now)
    thread_marks.mark(session, touched, seq)
    session.commit()
    return len(incoming)


def _pending(session: Session, mailbox_id: int) -> list[Incoming]:
    m = _MESSAGE.c
    rows = session.execute(
        select(
            m.id,
            m.message_id,
            m.in_reply_to,
            m.reference_ids,
            func.coalesce(m.internaldate, m.landed_at, type_=UTCDateTime()).label("at"),
            m.order_ids,
            m.sub_orders,
            m.subject_key,
            m.customer_address,
            m.customer_name,
        )
        .where(m.mailbox_id == mailbox_id, m.state == "processed", m.thread_id.is_(None))
        .order_by(m.id)
        .limit(THREAD_BATCH)
    )
    return [
        Incoming(
            pk=row.id,
            message_id=row.message_id,
            in_reply_to=row.in_reply_to,
            references=tuple(row.reference_ids or ()),
            at=row.at,
            facts=ConversationFacts(
                order_ids=tuple(row.order_ids or ()),
                sub_orders=tuple((s, p) for s, p in row.sub_orders or ()),
                subject_key=row.subject_key or "",
                customer_address=row.customer_address,
                customer_name=row.customer_name,
            ),
        )
        for row in rows
    ]


def _known(session: Session, mailbox_id: int, incoming: list[Incoming]) -> Known:
    known = Known()
    subs = sorted({s for i in incoming for s, _ in i.facts.sub_orders})
    for chunk in _chunks(subs):
        for sub, parent in session.execute(
            select(_MESSAGE_ORDER.c.sub_order_id, _MESSAGE_ORDER.c.order_id)
            .join(_MESSAGE, _MESSAGE.c.id == _MESSAGE_ORDER.c.message_pk)
            .where(
                _MESSAGE.c.mailbox_id == mailbox_id,
                _MESSAGE_ORDER.c.sub_order_id.in_(chunk),
                _MESSAGE_ORDER.c.order_id != _MESSAGE_ORDER.c.sub_order_id,
            )
        ):
            known.sub_order_parents[sub] = parent
    orders = sorted(
        {o for i in incoming for o in i.facts.order_ids}
        | set(subs)
        | set(known.sub_order_parents.values())
    )
    for chunk in _chunks(orders):
        for order, thread in session.execute(
            select(_THREAD_ORDER.c.order_id, _THREAD_ORDER.c.thread_id).where(
                _THREAD_ORDER.c.mailbox_id == mailbox_id, _THREAD_ORDER.c.order_id.in_(chunk)
            )
        ):
            known.order_threads[order] = thread
    refs = sorted({r for i in incoming for r in (i.in_reply_to, *i.references) if r})
    for chunk in _chunks(refs):
        for message_id, thread in session.execute(
            select(_MESSAGE.c.message_id, _MESSAGE.c.thread_id).where(
                _MESSAGE.c.mailbox_id == mailbox_id,
                _MESSAGE.c.message_id.in_(chunk),
                _MESSAGE.c.thread_id.is_not(None),
            )
        ):
            known.message_threads[message_id] = thread
    _known_subjects(session, mailbox_id, incoming, known)
    threads = sorted(
        set(known.order_threads.values())
        | set(known.message_threads.values())
        | {t for t, _ in known.subject_threads.values()}
    )
    for chunk in _chunks(threads):
        for order, thread in session.execute(
            select(_THREAD_ORDER.c.order_id, _THREAD_ORDER.c.thread_id).where(
                _THREAD_ORDER.c.thread_id.in_(chunk)
            )
        ):
            known.thread_orders.setdefault(thread, set()).add(order)
    return known


def _known_subjects(
    session: Session, mailbox_id: int, incoming: list[Incoming], known: Known
) -> None:
    pairs = sorted(
        {
            (i.facts.customer_address, i.facts.subject_key)
            for i in incoming
            if i.facts.customer_address and i.facts.subject_key
        }
    )
    earliest = min(i.at for i in incoming) - SUBJECT_WINDOW
    t = _THREAD.c
    for chunk in _chunks(pairs):
        for thread, address, key, last in session.execute(
            select(t.id, t.customer_address, t.subject_key, t.last_message_at)
            .where(
                t.mailbox_id == mailbox_id,
                tuple_(t.customer_address, t.subject_key).in_(chunk),
                t.last_message_at >= earliest,
            )
            .order_by(t.last_message_at)
        ):
            known.subject_threads[(address, key)] = (thread, last)


def _new_threads(
    session: Session, mailbox_id: int, actions: list[Action], now: datetime
) -> dict[int, int]:
    """Insert every conversation the batch starts, at once; their ids by temporary id."""
    keys = {a.thread: a.key for a in actions if isinstance(a, NewThread)}
    if not keys:
        return {}
    session.execute(
        _THREAD.insert(),
        [
            {"mailbox_id": mailbox_id, "key": key, "created_at": now, "updated_at": now}
            for key in keys.values()
        ],
    )
    by_key: dict[str, int] = {}
    for chunk in _chunks(sorted(keys.values())):
        rows = session.execute(
            select(_THREAD.c.key, _THREAD.c.id).where(
                _THREAD.c.mailbox_id == mailbox_id, _THREAD.c.key.in_(chunk)
            )
        )
        by_key.update((key, thread) for key, thread in rows)
    return {temp: by_key[key] for temp, key in keys.items()}


@dataclass
class _Pending:
    """Rows written in batches; flushed before a merge, which must move them too."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, int]] = field(default_factory=list)
    primary: list[dict[str, int]] = field(default_factory=list)

    def flush(self, session: Session) -> None:
        if self.orders:
            session.execute(_THREAD_ORDER.insert(), self.orders)
        if self.links:
            session.execute(_MESSAGE_THREAD.insert(), self.links)
            session.execute(
                _MESSAGE.update().where(_MESSAGE.c.id == bindparam("_pk")), self.primary
            )
        self.orders, self.links, self.primary = [], [], []


def _apply(
    session: Session, mailbox_id: int, actions: list[Action], now: datetime, seq: int
) -> set[int]:
    """Carry out the threader's actions; the threads whose summary must be redone."""
    ids = _new_threads(session, mailbox_id, actions, now)
    touched: set[int] = set()
    pending = _Pending()

    def real(thread: int) -> int:
        return ids.get(thread, thread)

    for action in actions:
        match action:
            case AddOrders(thread=thread, orders=orders):
                pending.orders += [
                    {"mailbox_id": mailbox_id, "order_id": o, "thread_id": real(thread)}
                    for o in orders
                ]
            case Merge(source=source, target=target):
                pending.flush(session)
                thread_marks.merged(session, mailbox_id, real(source), real(target), seq)
                _merge(session, real(source), real(target))
                touched.discard(real(source))
                touched.add(real(target))
            case Link(message=pk, threads=threads):
                pending.links += [{"message_pk": pk, "thread_id": real(t)} for t in threads]
                pending.primary.append({"_pk": pk, "thread_id": real(threads[0])})
                touched.update(real(t) for t in threads)
    pending.flush(session)
    return touched


def _merge(session: Session, source: int, target: int) -> None:
    mt = _MESSAGE_THREAD.c
    in_target = select(mt.message_pk).where(mt.thread_id == target).scalar_subquery()
    session.execute(
        _MESSAGE_THREAD.delete().where(mt.thread_id == source, mt.message_pk.in_(in_target))
    )
    session.execute(_MESSAGE_THREAD.update().where(mt.thread_id == source).values(thread_id=target))
    session.execute(
        _MESSAGE.update().where(_MESSAGE.c.thread_id == source).values(thread_id=target)
    )
    session.execute(
        _THREAD_ORDER.update().where(_THREAD_ORDER.c.thread_id == source).values(thread_id=target)
    )
    session.execute(_THREAD.delete().where(_THREAD.c.id == source))


def _events(session: Session, threads: Sequence[int]) -> dict[int, Event]:
    """The lifecycle event of each message of ``threads`` that has one, by message."""
    found: dict[int, Event] = {}
    for pk, name in session.execute(
        select(_LABEL.c.message_pk, _LABEL.c.name)
        .join(_MESSAGE_THREAD, _MESSAGE_THREAD.c.message_pk == _LABEL.c.message_pk)
        .where(
            _MESSAGE_THREAD.c.thread_id.in_(threads),
            _LABEL.c.source == "rule",
            _LABEL.c.name.in_(sorted(_EVENTS)),
        )
    ):
        found[pk] = _EVENTS[name]
    return found


def summarize_threads(session: Session, mailbox_id: int, threads: set[int], now: datetime) -> None:
    """Recompute the summary of ``threads`` from their messages, their tags included."""
    m = _MESSAGE.c
    members: dict[int, list[ThreadMessage]] = {t: [] for t in threads}
    for chunk in _chunks(sorted(threads)):
        events = _events(session, chunk)
        rows = session.execute(
            select(
                _MESSAGE_THREAD.c.thread_id,
                m.id,
                func.coalesce(m.internaldate, m.landed_at, type_=UTCDateTime()).label("at"),
                m.direction,
                m.machine_kind,
                m.subject,
                m.subject_key,
                m.customer_address,
                m.customer_name,
                m.sub_orders,
            )
            .join(_MESSAGE, m.id == _MESSAGE_THREAD.c.message_pk)
            .where(_MESSAGE_THREAD.c.thread_id.in_(chunk))
        )
        for row in rows:
            members[row.thread_id].append(
                ThreadMessage(
                    at=row.at,
                    direction="out" if row.direction == "out" else "in",
                    machine=row.machine_kind is not None,
                    subject=row.subject,
                    subject_key=row.subject_key,
                    customer_address=row.customer_address,
                    customer_name=row.customer_name,
                    sub_orders=tuple(s for s, _ in row.sub_orders or ()),
                    event=events.get(row.id),
                )
            )
    shown = {
        thread: at
        for thread, at in session.execute(
            select(_THREAD.c.id, _THREAD.c.shown_at).where(_THREAD.c.id.in_(sorted(threads)))
        )
    }
    updates = []
    answers = {}
    for thread, messages in members.items():
        summary = summarize(messages)
        answers[thread] = summary.answered
        seen = max((t for t in (shown.get(thread), summary.last_outbound_at) if t), default=None)
        updates.append(
            {
                "_id": thread,
                "subject": summary.subject,
                "subject_key": summary.subject_key,
                "customer_address": summary.customer_address,
                "customer_name": summary.customer_name,
                "messages": summary.messages,
                "last_message_at": summary.last_message_at,
                "last_inbound_at": summary.last_inbound_at,
                "last_outbound_at": summary.last_outbound_at,
                "awaiting_since": summary.awaiting_since,
                # Unread until shown or replied to: a customer wrote since either.
                "unread": summary.last_inbound_at is not None
                and (seen is None or summary.last_inbound_at > seen),
                "sub_orders": summary.sub_orders,
                "after_sale_sub_orders": summary.after_sale_sub_orders,
                "lifecycle": summary.lifecycle,
                "escalated_at": summary.escalated_at,
                "updated_at": now,
            }
        )
    if updates:
        session.execute(_THREAD.update().where(_THREAD.c.id == bindparam("_id")), updates)
    thread_marks.keep_answers(session, mailbox_id, answers)
