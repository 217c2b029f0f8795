"""The outbox's rows: queue, claim, record each attempt, find what a reply answers.

Every state change is a conditional update (``WHERE state = <the state read>``), so
two senders (two maild processes on one database, or a ``maild retry`` meeting the
daemon) can never both move one message: the second finds the row changed and
leaves it. Marking a message sent also stores it as the seller's outbound message
(direction "out"), in the same transaction, so processing threads it into its
conversation, which turns answered (and loses a spam flag) like any seller reply.
"""

from __future__ import annotations

__all__ = [
    "OrderContext",
    "OutboxRow",
    "ReplyContext",
    "apply",
    "due",
    "enqueue",
    "find",
    "interrupted",
    "listing",
    "mark_copied",
    "mark_sent",
    "order_context",
    "raw",
    "record_refusal",
    "reply_context",
    "stored_out",
    "uncopied",
]

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from maild.errors import MaildError, StoreError
from maild.ingest.identity import message_key
from maild.outbound.outbox import OutboxEntry, State
from maild.store.tables import core_table
from maild.store.types import UTCDateTime

_OUTBOX = core_table("outbox")
_MAILBOX = core_table("mailbox")
_MESSAGE = core_table("message")
_THREAD = core_table("thread")
_THREAD_ORDER = core_table("thread_order")
_MESSAGE_THREAD = core_table("message_thread")
_MESSAGE_ORDER = core_table("message_order")
_REFUSAL = core_table("policy_refusal")


@dataclass(frozen=True, slots=True)
class ReplyContext:
    """What a reply to a conversation needs: whom it answers, and the template's facts."""

    thread_id: int
    mailbox: str
    subject: str | None
    customer_name: str | None
    order_ids: tuple[str, ...]
    sub_order_ids: tuple[str, ...]
    # The customer's latest message (a person's, not an auto-reply), which the reply answers.
    answers: str | None
    references: tuple[str, ...]
    reply_to: str | None


@dataclass(frozen=True, slots=True)
class OrderContext:
    """An order's conversation, if it has one: a proactive message joins it."""

    thread_id: int | None
    customer_name: str | None
    sub_order_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    mailbox: str
    thread_id: int | None
    message_id: str
    sender: str
    recipients: tuple[str, ...]
    subject: str | None
    created_at: datetime
    entry: OutboxEntry
    copied_at: datetime | None


def reply_context(session: Session, thread_id: int) -> ReplyContext | None:
    t = _THREAD.c
    thread = session.execute(
        select(t.id, t.subject, t.customer_name, _MAILBOX.c.name)
        .join(_MAILBOX, _MAILBOX.c.id == t.mailbox_id)
        .where(t.id == thread_id)
    ).one_or_none()
    if thread is None:
        return None
    m = _MESSAGE.c
    at = func.coalesce(m.internaldate, m.landed_at, type_=UTCDateTime())
    latest = session.execute(
        select(m.message_id, m.reference_ids, m.reply_to, m.from_addr)
        .join(_MESSAGE_THREAD, _MESSAGE_THREAD.c.message_pk == m.id)
        .where(
            _MESSAGE_THREAD.c.thread_id == thread_id,
            m.direction == "in",
            m.machine_kind.is_(None),
            m.state == "processed",
        )
        .order_by(at.desc(), m.id.desc())
        .limit(1)
    ).one_or_none()
    orders = session.execute(
        select(_THREAD_ORDER.c.order_id)
        .where(_THREAD_ORDER.c.thread_id == thread_id)
        .order_by(_THREAD_ORDER.c.id)
    ).scalars()
    return ReplyContext(
        thread_id=thread_id,
        mailbox=thread.name,
        subject=thread.subject,
        customer_name=thread.customer_name,
        order_ids=tuple(orders),
        sub_order_ids=_sub_orders(session, _MESSAGE_THREAD.c.thread_id == thread_id),
        answers=None if latest is None else latest.message_id,
        references=tuple(latest.reference_ids or ()) if latest is not None else (),
        reply_to=None if latest is None else (latest.reply_to or latest.from_addr),
    )


def _sub_orders(session: Session, where: ColumnElement[bool]) -> tuple[str, ...]:
    found = session.execute(
        select(_MESSAGE_ORDER.c.sub_order_id)
        .join(_MESSAGE_THREAD, _MESSAGE_THREAD.c.message_pk == _MESSAGE_ORDER.c.message_pk)
        .where(where, _MESSAGE_ORDER.c.sub_order_id.is_not(None))
        .distinct()
    ).scalars()
    return tuple(sorted(s for s in found if s is not None))


def order_context(session: Session, mailbox: str, order_id: str) -> OrderContext:
    found = session.execute(
        select(_THREAD.c.id, _THREAD.c.customer_name)
        .join(_THREAD_ORDER, _THREAD_ORDER.c.thread_id == _THREAD.c.id)
        .join(_MAILBOX, _MAILBOX.c.id == _THREAD.c.mailbox_id)
        .where(_MAILBOX.c.name == mailbox, func.upper(_THREAD_ORDER.c.order_id) == order_id.upper())
    ).first()
    if found is None:
        return OrderContext(None, None, ())
    subs = _sub_orders(session, _MESSAGE_THREAD.c.thread_id == found.id)
    return OrderContext(found.id, found.customer_name, subs)


def _mailbox_id(session: Session, name: str) -> int:
    found = session.execute(select(_MAILBOX.c.id).where(_MAILBOX.c.name == name)).scalar()
    if found is None:
        raise StoreError(f"mailbox {name!r} is not in the database")
    return int(found)


def record_refusal(
    session: Session,
    *,
    mailbox: str,
    rules: Collection[str],
    origin: str,
    thread_id: int | None,
    now: datetime,
) -> None:
    """Keep that a reply was refused, one row per rule; commits."""
    mailbox_id = _mailbox_id(session, mailbox)
    session.execute(
        _REFUSAL.insert(),
        [
            {
                "mailbox_id": mailbox_id,
                "thread_id": thread_id,
                "rule": rule[:32],
                "origin": origin,
                "created_at": now,
                "counted": False,
            }
            for rule in sorted(rules)
        ],
    )
    session.commit()


def enqueue(
    session: Session,
    *,
    mailbox: str,
    thread_id: int | None,
    order_id: str | None,
    message_id: str,
    raw: bytes,
    sender: str,
    recipients: tuple[str, ...],
    subject: str,
    now: datetime,
) -> int:
    """Store a message as queued, due now; its id in the outbox."""
    key = session.execute(
        _OUTBOX.insert()
        .returning(_OUTBOX.c.id)
        .values(
            mailbox_id=_mailbox_id(session, mailbox),
            thread_id=thread_id,
            order_id=order_id,
            message_id=message_id,
            raw=raw,
            state="queued",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            sender=sender,
            recipients=list(recipients),
            subject=subject,
        )
    ).scalar_one()
    session.commit()
    return int(key)


def _rows(session: Session, *where: ColumnElement[bool], limit: int = 100) -> list[OutboxRow]:
    o = _OUTBOX.c
    found = session.execute(
        select(_OUTBOX, _MAILBOX.c.name.label("mailbox_name"))
        .join(_MAILBOX, _MAILBOX.c.id == o.mailbox_id)
        .where(*where)
        .order_by(o.id)
        .limit(limit)
    ).all()
    return [_row(row) for row in found]


def _row(row: Any) -> OutboxRow:
    return OutboxRow(
        id=row.id,
        mailbox=row.mailbox_name,
        thread_id=row.thread_id,
        message_id=row.message_id,
        sender=row.sender,
        recipients=tuple(row.recipients or ()),
        subject=row.subject,
        created_at=row.created_at,
        entry=OutboxEntry(
            state=row.state,
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
            sent_at=row.sent_at,
            smtp_reply=row.smtp_reply,
            attempted_at=row.attempted_at,
        ),
        copied_at=row.copied_at,
    )


def _of(mailboxes: Collection[str] | None) -> list[ColumnElement[bool]]:
    """Only the rows of ``mailboxes`` (those this instance owns); None: every row."""
    return [] if mailboxes is None else [_MAILBOX.c.name.in_(list(mailboxes))]


def due(
    session: Session, now: datetime, limit: int = 100, mailboxes: Collection[str] | None = None
) -> list[OutboxRow]:
    o = _OUTBOX.c
    return _rows(
        session,
        o.state == "queued",
        or_(o.next_attempt_at.is_(None), o.next_attempt_at <= now),
        *_of(mailboxes),
        limit=limit,
    )


def interrupted(
    session: Session, started_before: datetime | None, mailboxes: Collection[str] | None = None
) -> list[OutboxRow]:
    """Rows left in ``sending`` by a maild that stopped mid-attempt.

    ``started_before``: only attempts that began before it (None: all), so that a
    ``run --once`` beside a daemon never takes the daemon's live attempt for a dead one.
    """
    o = _OUTBOX.c
    started = [] if started_before is None else [o.attempted_at < started_before]
    return _rows(session, o.state == "sending", *started, *_of(mailboxes))


def uncopied(session: Session, mailboxes: Sequence[str]) -> list[OutboxRow]:
    """Sent messages of ``mailboxes`` whose copy has not reached their Sent folder yet."""
    return _rows(
        session,
        _OUTBOX.c.state == "sent",
        _OUTBOX.c.copied_at.is_(None),
        _MAILBOX.c.name.in_(mailboxes),
    )


def raw(session: Session, row: OutboxRow) -> bytes:
    found = session.execute(select(_OUTBOX.c.raw).where(_OUTBOX.c.id == row.id)).scalar()
    if found is None:
        raise StoreError(f"outbox message {row.id} has gone")
    return bytes(found)


def stored_out(session: Session, row: OutboxRow) -> bool:
    """Whether the message is stored as the seller's already (ingested from Sent)."""
    found = session.execute(
        select(_MESSAGE.c.id)
        .join(_MAILBOX, _MAILBOX.c.id == _MESSAGE.c.mailbox_id)
        .where(_MAILBOX.c.name == row.mailbox, _MESSAGE.c.message_id == row.message_id)
    ).first()
    return found is not None


def listing(session: Session, states: tuple[State, ...], limit: int = 200) -> list[OutboxRow]:
    return _rows(session, _OUTBOX.c.state.in_(states), limit=limit)


def find(session: Session, ref: str) -> OutboxRow:
    """The outbox message ``ref`` names: its Message-ID (with or without <>) or outbox id."""
    text = ref.strip()
    bare = text.removeprefix("<").removesuffix(">")
    o = _OUTBOX.c
    if text.isdigit():
        found = _rows(session, or_(o.id == int(text), o.message_id == f"<{bare}>"))
    else:
        found = _rows(session, o.message_id == f"<{bare}>")
    if not found:
        raise MaildError(f"no outgoing message {ref!r} (give its Message-ID or outbox id)")
    return found[0]


def _values(entry: OutboxEntry) -> dict[str, Any]:
    return {
        "state": entry.state,
        "attempts": entry.attempts,
        "next_attempt_at": entry.next_attempt_at,
        "last_error": entry.last_error,
        "sent_at": entry.sent_at,
        "smtp_reply": entry.smtp_reply,
        "attempted_at": entry.attempted_at,
    }


def _update(session: Session, row: OutboxRow, entry: OutboxEntry) -> bool:
    result = session.execute(
        _OUTBOX.update()
        .where(_OUTBOX.c.id == row.id, _OUTBOX.c.state == row.entry.state)
        .values(**_values(entry))
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def apply(session: Session, row: OutboxRow, entry: OutboxEntry) -> bool:
    """Move ``row`` to ``entry`` if nobody moved it since it was read; whether it moved."""
    moved = _update(session, row, entry)
    session.commit()
    return moved


def mark_sent(session: Session, row: OutboxRow, entry: OutboxEntry, raw: bytes) -> bool:
    """Record acceptance and store the message as the seller's, in one transaction."""
    if not _update(session, row, entry):
        session.rollback()
        return False
    key = message_key(raw)
    mailbox_id = _mailbox_id(session, row.mailbox)
    # The same bytes, or the seller's copy by Message-ID: a mail client that sent through
    # the gateway may have filed its own copy in Sent, and maild ingested it first.
    stored = session.execute(
        select(_MESSAGE.c.id).where(
            _MESSAGE.c.mailbox_id == mailbox_id,
            _MESSAGE.c.message_id == key.message_id,
            or_(_MESSAGE.c.digest == key.digest, _MESSAGE.c.direction == "out"),
        )
    ).first()
    if stored is None:
        session.execute(
            _MESSAGE.insert().values(
                mailbox_id=mailbox_id,
                message_id=key.message_id,
                digest=key.digest,
                direction="out",
                raw_blob=raw,
                raw_codec="none",
                raw_size=len(raw),
                internaldate=entry.sent_at,
                landed_at=entry.sent_at,
                state="landed",
                degraded=False,
            )
        )
    session.commit()
    return True


def mark_copied(session: Session, row: OutboxRow, now: datetime) -> None:
    session.execute(_OUTBOX.update().where(_OUTBOX.c.id == row.id).values(copied_at=now))
    session.commit()
