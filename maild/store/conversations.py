"""Putting processed messages into conversations: the database side of maild.threads.

Threading runs in whichever parse worker finishes a batch, so it takes a lock first:
an update of the mailbox's row, which makes the transaction a writer at once (SQLite
serialises writers; PostgreSQL holds the row lock until commit). Conversations are
thus resolved by one worker at a time, in landing order, each seeing the last one's
commits. Lookups are batched: one query per kind of fact, not one per message.
The update also counts the change (maild.store.thread_marks), and every conversation
the batch touched is stamped with it, its Spam flag and its answered waits kept.
"""

__all__ = [
    "THREAD_BATCH",
    "Held",
    "summarize_threads",
    "thread_pending",
    "update_messages",
    "waiting_mailboxes",
]

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import ColumnDefault, Select, bindparam, func, select, tuple_
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
from maild.threads.summary import Event, ThreadMessage, ThreadSummary, summarize

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
# Message rows processing made and left for threading to write, by key.
Held = Mapping[int, dict[str, Any]]
# Keeps each IN (...) list well under SQLite's bound-parameter limit.
_CHUNK = 500


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def waiting_mailboxes(session: Session, held: Held) -> list[int]:
    """The mailboxes with messages to thread, stored or ``held``, by id."""
    m = _MESSAGE.c
    found = set(
        session.execute(
            select(m.mailbox_id).where(m.state == "processed", m.thread_id.is_(None)).distinct()
        ).scalars()
    )
    for chunk in _chunks(sorted(held)):
        found.update(session.execute(select(m.mailbox_id).where(m.id.in_(chunk))).scalars())
    return sorted(found)


def thread_pending(
    session: Session, mailbox_id: int, now: datetime, held: Held | None = None
) -> int:
    """Thread up to THREAD_BATCH processed messages of one mailbox; how many it threaded.

    ``held``: rows processing left unwritten (maild.store.processed), by key, of any
    mailbox; this mailbox's are written here, each with its thread.
    """
    seq = thread_marks.lock(session, mailbox_id)
    held = held or {}
    pending = _pending(session, mailbox_id, held)
    if not pending:
        session.commit()
        return 0
    incoming = [i for i, _ in pending]
    threader = Threader(_known(session, mailbox_id, incoming))
    actions = [action for message in incoming for action in threader.place(message)]
    members = {i.pk: m for i, m in pending}
    touched, answers = _apply(session, mailbox_id, actions, members, now, seq, held)
    fresh = set(answers)
    answers.update(_resummarize(session, touched - fresh, now))
    thread_marks.keep_answers(session, mailbox_id, answers, new=fresh)
    # Only a message threaded before can carry a flag (maild.store.flags), and those
    # of the conversations inserted with their summary were not.
    unflag_answered(session, touched - fresh, now)
    thread_marks.mark(session, touched, seq)
    session.commit()
    return len(incoming)


def _pending(session: Session, mailbox_id: int, held: Held) -> list[tuple[Incoming, ThreadMessage]]:
    """The messages to thread, each also as a member of its conversation-to-be.

    The stored ones, and this mailbox's ``held`` ones: the same columns, read from the
    row processing made and what landing stored. Together they are as many as fit in a
    batch, or the held ones are written now, to be threaded in their turn.
    """
    rows = _stored_pending(session, mailbox_id)
    unwritten = _unwritten(session, mailbox_id, held)
    if len(rows) + len(unwritten) > THREAD_BATCH:
        update_messages(session, [held[row.id] for row in unwritten])
        rows, unwritten = _stored_pending(session, mailbox_id), []
    rows = sorted([*rows, *unwritten], key=lambda row: int(row.id))
    return [
        (
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
            ),
            _member(row, None),  # events are read when a new conversation is summarized
        )
        for row in rows
    ]


# What threading reads of a message besides what :func:`_member` reads.
_PENDING_COLUMNS = (_MESSAGE.c.in_reply_to, _MESSAGE.c.reference_ids, _MESSAGE.c.order_ids)
# Of what threading reads, what landing wrote; processing writes the rest.
_LANDED = ("at", "direction")


def _stored_pending(session: Session, mailbox_id: int) -> list[Any]:
    m = _MESSAGE.c
    return list(
        session.execute(
            select(m.id, m.message_id, *_PENDING_COLUMNS, *_MEMBER_COLUMNS)
            .where(m.mailbox_id == mailbox_id, m.state == "processed", m.thread_id.is_(None))
            .order_by(m.id)
            .limit(THREAD_BATCH)
        )
    )


def _unwritten(session: Session, mailbox_id: int, held: Held) -> list[Any]:
    """This mailbox's ``held`` rows as :func:`_stored_pending` would read them once written:
    what processing made from the rows it holds, the rest as landing stored it."""
    if not held:
        return []
    m = _MESSAGE.c
    landed = [m.id, m.message_id, *(c for c in _MEMBER_COLUMNS if c.name in _LANDED)]
    found = []
    for chunk in _chunks(sorted(held)):
        for row in session.execute(
            select(*landed).where(m.id.in_(chunk), m.mailbox_id == mailbox_id)
        ):
            values = held[row.id]
            found.append(
                SimpleNamespace(
                    **row._mapping,
                    **{c.name: values[c.name] for c in _PENDING_COLUMNS},
                    **{c.name: values[c.name] for c in _MEMBER_COLUMNS if c.name not in _LANDED},
                )
            )
    return found


def update_messages(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Set the columns each row names on the message its "_pk" names."""
    # executemany needs one set of keys: rows go by theirs (with new bytes or without,
    # with a thread or without), in their order.
    by_keys: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_keys.setdefault(tuple(row), []).append(row)
    for same_keys in by_keys.values():
        session.execute(_MESSAGE.update().where(_MESSAGE.c.id == bindparam("_pk")), same_keys)


# What :func:`_member` reads of a message row.
_MEMBER_COLUMNS = (
    func.coalesce(_MESSAGE.c.internaldate, _MESSAGE.c.landed_at, type_=UTCDateTime()).label("at"),
    _MESSAGE.c.direction,
    _MESSAGE.c.machine_kind,
    _MESSAGE.c.subject,
    _MESSAGE.c.subject_key,
    _MESSAGE.c.customer_address,
    _MESSAGE.c.customer_name,
    _MESSAGE.c.sub_orders,
)


def _member(row: Any, event: Event | None) -> ThreadMessage:
    """A message as its conversation's summary reads it (a row of :data:`_MEMBER_COLUMNS`)."""
    return ThreadMessage(
        at=row.at,
        direction="out" if row.direction == "out" else "in",
        machine=row.machine_kind is not None,
        subject=row.subject,
        subject_key=row.subject_key,
        customer_address=row.customer_address,
        customer_name=row.customer_name,
        sub_orders=tuple(s for s, _ in row.sub_orders or ()),
        event=event,
    )


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


# What a summary sets on a conversation; a new one that a summary does not fill yet
# (its messages come by a merge) gets the columns' defaults, as an insert without them would.
_SUMMARY_COLUMNS = (
    "subject",
    "subject_key",
    "customer_address",
    "customer_name",
    "messages",
    "last_message_at",
    "last_inbound_at",
    "last_outbound_at",
    "awaiting_since",
    "unread",
    "sub_orders",
    "after_sale_sub_orders",
    "lifecycle",
    "escalated_at",
)


def _default(column: str) -> Any:
    default = _THREAD.c[column].default
    return default.arg if isinstance(default, ColumnDefault) else None


_UNSUMMARIZED = {column: _default(column) for column in _SUMMARY_COLUMNS}

Answers = dict[int, tuple[tuple[datetime, datetime], ...]]


def _summary_values(summary: ThreadSummary, shown_at: datetime | None) -> dict[str, Any]:
    seen = max((t for t in (shown_at, summary.last_outbound_at) if t), default=None)
    return {
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
    }


def _new_summaries(
    session: Session,
    actions: list[Action],
    new: Iterable[int],
    members: Mapping[int, ThreadMessage],
) -> dict[int, ThreadSummary]:
    """The summaries of the new conversations that only this batch's messages make up.

    Written by their insert, rather than by an update right after it: one statement
    less per conversation, which for most batches is one per message.
    """
    merged = {t for a in actions if isinstance(a, Merge) for t in (a.source, a.target)}
    linked: dict[int, list[int]] = {t: [] for t in new if t not in merged}
    for action in actions:
        if isinstance(action, Link):
            for thread in action.threads:
                if thread in linked:
                    linked[thread].append(action.message)
    pks = sorted({pk for messages in linked.values() for pk in messages})
    events: dict[int, Event] = {}
    for chunk in _chunks(pks):
        events.update(_events(session, _EVENT_LABELS.where(_LABEL.c.message_pk.in_(chunk))))
    # A member comes without its event; most have none, and copying one to say so cost
    # 1.6 us, 40% of summarizing a one-message conversation.
    return {
        thread: summarize(
            [replace(members[pk], event=events[pk]) if pk in events else members[pk] for pk in pks]
        )
        for thread, pks in linked.items()
        if pks
    }


def _new_threads(
    session: Session,
    mailbox_id: int,
    actions: list[Action],
    members: Mapping[int, ThreadMessage],
    now: datetime,
) -> tuple[dict[int, int], Answers]:
    """Insert every conversation the batch starts, at once: their ids by temporary id,
    and the answered waits of those inserted with their summary."""
    keys = {a.thread: a.key for a in actions if isinstance(a, NewThread)}
    if not keys:
        return {}, {}
    summaries = _new_summaries(session, actions, keys, members)
    session.execute(
        _THREAD.insert(),
        [
            {
                "mailbox_id": mailbox_id,
                "key": key,
                "created_at": now,
                "updated_at": now,
                **(_summary_values(summaries[temp], None) if temp in summaries else _UNSUMMARIZED),
            }
            for temp, key in keys.items()
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
    ids = {temp: by_key[key] for temp, key in keys.items()}
    return ids, {ids[temp]: summary.answered for temp, summary in summaries.items()}


@dataclass
class _Pending:
    """Rows written in batches; flushed before a merge, which must move them too."""

    orders: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, int]] = field(default_factory=list)
    primary: list[dict[str, Any]] = field(default_factory=list)

    def flush(self, session: Session) -> None:
        if self.orders:
            session.execute(_THREAD_ORDER.insert(), self.orders)
        if self.links:
            session.execute(_MESSAGE_THREAD.insert(), self.links)
            update_messages(session, self.primary)
        self.orders, self.links, self.primary = [], [], []


def _apply(
    session: Session,
    mailbox_id: int,
    actions: list[Action],
    members: Mapping[int, ThreadMessage],
    now: datetime,
    seq: int,
    held: Held,
) -> tuple[set[int], Answers]:
    """Carry out the threader's actions: the threads touched, and the answered waits of
    those already summarized (the others' summaries must be redone). A held message's
    row is written with its thread."""
    ids, answers = _new_threads(session, mailbox_id, actions, members, now)
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
                pending.primary.append({**held.get(pk, {"_pk": pk}), "thread_id": real(threads[0])})
                touched.update(real(t) for t in threads)
    pending.flush(session)
    return touched, answers


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


# The rule labels that are lifecycle events; narrowed to some messages by the caller.
_EVENT_LABELS = select(_LABEL.c.message_pk, _LABEL.c.name).where(
    _LABEL.c.source == "rule", _LABEL.c.name.in_(sorted(_EVENTS))
)


def _events(session: Session, labels: Select[int, str]) -> dict[int, Event]:
    """The lifecycle event of each message ``labels`` finds, by message."""
    found: dict[int, Event] = {}
    for pk, name in session.execute(labels):
        found[pk] = _EVENTS[name]
    return found


def summarize_threads(session: Session, mailbox_id: int, threads: set[int], now: datetime) -> None:
    """Recompute the summary of ``threads`` from their messages, their tags included."""
    thread_marks.keep_answers(session, mailbox_id, _resummarize(session, threads, now))


def _resummarize(session: Session, threads: set[int], now: datetime) -> Answers:
    """Write the summaries of ``threads`` from the stored messages; their answered waits."""
    if not threads:
        return {}
    m = _MESSAGE.c
    members: dict[int, list[ThreadMessage]] = {t: [] for t in threads}
    for chunk in _chunks(sorted(threads)):
        events = _events(
            session,
            _EVENT_LABELS.join(
                _MESSAGE_THREAD, _MESSAGE_THREAD.c.message_pk == _LABEL.c.message_pk
            ).where(_MESSAGE_THREAD.c.thread_id.in_(chunk)),
        )
        rows = session.execute(
            select(_MESSAGE_THREAD.c.thread_id, m.id, *_MEMBER_COLUMNS)
            .join(_MESSAGE, m.id == _MESSAGE_THREAD.c.message_pk)
            .where(_MESSAGE_THREAD.c.thread_id.in_(chunk))
        )
        for row in rows:
            members[row.thread_id].append(_member(row, events.get(row.id)))
    shown = {
        thread: at
        for thread, at in session.execute(
            select(_THREAD.c.id, _THREAD.c.shown_at).where(_THREAD.c.id.in_(sorted(threads)))
        )
    }
    updates = []
    answers: Answers = {}
    for thread, messages in members.items():
        summary = summarize(messages)
        answers[thread] = summary.answered
        updates.append(
            {"_id": thread, **_summary_values(summary, shown.get(thread)), "updated_at": now}
        )
    session.execute(_THREAD.update().where(_THREAD.c.id == bindparam("_id")), updates)
    return answers
