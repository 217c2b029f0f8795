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
    "thread_pending",
    "update_messages",
    "waiting_mailboxes",
]

from collections import namedtuple
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, tuple_
from sqlalchemy.orm import Session

from maild.domain import ConversationFacts
from maild.store import thread_marks
from maild.store.bulk import execute_many, insert_many
from maild.store.flags import unflag_answered
from maild.store.key_sets import among
from maild.store.tables import core_table
from maild.store.thread_summaries import (
    MEMBER_COLUMNS,
    UNSUMMARIZED,
    Answers,
    chunks,
    member,
    new_summaries,
    resummarize,
    summary_values,
    thread_default,
)
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
from maild.threads.summary import ThreadMessage

_MESSAGE = core_table("message")
_THREAD = core_table("thread")
_THREAD_ORDER = core_table("thread_order")
_MESSAGE_THREAD = core_table("message_thread")
_MESSAGE_ORDER = core_table("message_order")

_UPDATE_MESSAGE = _MESSAGE.update().where(_MESSAGE.c.id == bindparam("_pk"))

# The stamp of a conversation no change has touched.
_UNSTAMPED = thread_default("change_seq")

THREAD_BATCH = 1000
# Message rows processing made and left for threading to write, by key.
Held = Mapping[int, dict[str, Any]]


def waiting_mailboxes(session: Session, held: Held) -> list[int]:
    """The mailboxes with messages to thread, stored or ``held``, by id."""
    m = _MESSAGE.c
    found = set(
        session.execute(
            select(m.mailbox_id).where(m.state == "processed", m.thread_id.is_(None)).distinct()
        ).scalars()
    )
    for chunk in chunks(sorted(held)):
        found.update(session.execute(select(m.mailbox_id).where(among(m.id, chunk))).scalars())
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
    answers.update(resummarize(session, touched - fresh, now))
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
            member(row, None),  # events are read when a new conversation is summarized
        )
        for row in rows
    ]


# What threading reads of a message besides what :func:`member` reads.
_PENDING_COLUMNS = (_MESSAGE.c.in_reply_to, _MESSAGE.c.reference_ids, _MESSAGE.c.order_ids)
# Of what threading reads, what landing wrote; processing writes the rest.
_LANDED = ("at", "direction")


def _stored_pending(session: Session, mailbox_id: int) -> list[Any]:
    m = _MESSAGE.c
    return list(
        session.execute(
            select(m.id, m.message_id, *_PENDING_COLUMNS, *MEMBER_COLUMNS)
            .where(m.mailbox_id == mailbox_id, m.state == "processed", m.thread_id.is_(None))
            .order_by(m.id)
            .limit(THREAD_BATCH)
        )
    )


# What threading reads of a message: as landing wrote it, and as processing makes it.
_LANDED_READ = (
    _MESSAGE.c.id,
    _MESSAGE.c.message_id,
    *(c for c in MEMBER_COLUMNS if c.name in _LANDED),
)
_MADE = tuple(c.name for c in (*_PENDING_COLUMNS, *MEMBER_COLUMNS) if c.name not in _LANDED)
# A held message as :func:`_stored_pending` reads a stored one (the same names); a
# named tuple rather than a namespace, which cost more to make for every message.
_HeldRow = namedtuple("_HeldRow", [*(c.name for c in _LANDED_READ), *_MADE])  # type: ignore[misc]


def _unwritten(session: Session, mailbox_id: int, held: Held) -> list[Any]:
    """This mailbox's ``held`` rows as :func:`_stored_pending` would read them once written:
    what processing made from the rows it holds, the rest as landing stored it."""
    if not held:
        return []
    found = []
    for chunk in chunks(sorted(held)):
        query = select(*_LANDED_READ).where(
            among(_MESSAGE.c.id, chunk), _MESSAGE.c.mailbox_id == mailbox_id
        )
        for row in session.execute(query).all():
            values = held[row.id]
            found.append(_HeldRow(*row, *(values[name] for name in _MADE)))
    return found


def update_messages(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Set the columns each row names on the message its "_pk" names."""
    # executemany needs one set of keys: rows go by theirs (with new bytes or without,
    # with a thread or without), in their order.
    by_keys: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        by_keys.setdefault(tuple(row), []).append(row)
    for same_keys in by_keys.values():
        execute_many(session, _UPDATE_MESSAGE, same_keys)


def _known(session: Session, mailbox_id: int, incoming: list[Incoming]) -> Known:
    known = Known()
    subs = sorted({s for i in incoming for s, _ in i.facts.sub_orders})
    for chunk in chunks(subs):
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
    for chunk in chunks(orders):
        for order, thread in session.execute(
            select(_THREAD_ORDER.c.order_id, _THREAD_ORDER.c.thread_id).where(
                _THREAD_ORDER.c.mailbox_id == mailbox_id, _THREAD_ORDER.c.order_id.in_(chunk)
            )
        ):
            known.order_threads[order] = thread
    refs = sorted({r for i in incoming for r in (i.in_reply_to, *i.references) if r})
    for chunk in chunks(refs):
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
    for chunk in chunks(threads):
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
    for chunk in chunks(pairs):
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
    session: Session,
    mailbox_id: int,
    actions: list[Action],
    members: Mapping[int, ThreadMessage],
    now: datetime,
    seq: int,
) -> tuple[dict[int, int], Answers]:
    """Insert every conversation the batch starts, at once: their ids by temporary id,
    and the answered waits of those inserted with their summary.

    One a message is linked to is touched, so stamped with ``seq`` by the batch's
    :func:`thread_marks.mark`: it is inserted stamped, which that update then skips.
    """
    keys = {a.thread: a.key for a in actions if isinstance(a, NewThread)}
    if not keys:
        return {}, {}
    summaries = new_summaries(session, actions, keys, members)
    linked = {t for a in actions if isinstance(a, Link) for t in a.threads}
    insert_many(
        session,
        _THREAD,
        [
            {
                "mailbox_id": mailbox_id,
                "key": key,
                "created_at": now,
                "updated_at": now,
                "change_seq": seq if temp in linked else _UNSTAMPED,
                **(summary_values(summaries[temp], None) if temp in summaries else UNSUMMARIZED),
            }
            for temp, key in keys.items()
        ],
    )
    by_key: dict[str, int] = {}
    for chunk in chunks(sorted(keys.values())):
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
            insert_many(session, _THREAD_ORDER, self.orders)
        if self.links:
            insert_many(session, _MESSAGE_THREAD, self.links)
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
    ids, answers = _new_threads(session, mailbox_id, actions, members, now, seq)
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
