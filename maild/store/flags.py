"""A seller's flags in the database: ``maild flag`` and ``maild unflag``, and their feedback.

A flag is a ``label`` row with source "flag" named after its reason; the Spam view
follows it (the conversation's ``hidden``, see maild.store.thread_marks). Each change
first takes the lock threading takes (maild.store.thread_marks.lock), then reads
the facts the rules need: a reply being threaded at the same moment is either seen
by the rules, or threaded after the flag and takes it off (:func:`unflag_answered`).
So no flag ever stays on an answered message. Every change, the automatic one
included, is kept in ``feedback`` for audit and for ``maild train --include-feedback``.
"""

__all__ = [
    "FeedbackMessage",
    "FlagChange",
    "feedback_messages",
    "find_message",
    "flag",
    "unflag",
    "unflag_answered",
]

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from maild.classify.flagging import MessageFacts, Reason, Refusal, flag_refusal, unflag_refusal
from maild.classify.message import HAM
from maild.errors import MaildError, StoreError
from maild.store import thread_marks
from maild.store.tables import core_table
from maild.store.thread_marks import SPAM_LABELS
from maild.store.thread_views import in_view, thread_messages
from maild.store.types import UTCDateTime, decode_raw

log = logging.getLogger(__name__)

_MESSAGE = core_table("message")
_MAILBOX = core_table("mailbox")
_THREAD = core_table("thread")
_MESSAGE_THREAD = core_table("message_thread")
_THREAD_ORDER = core_table("thread_order")
_LABEL = core_table("label")
_FEEDBACK = core_table("feedback")

# THREAD_ID:N, as thread_views.message_ref writes it.
_POSITIONAL = re.compile(r"(\d+):(\d+)")
_CHUNK = 500
_AT = func.coalesce(_MESSAGE.c.internaldate, _MESSAGE.c.landed_at, type_=UTCDateTime())


@dataclass(frozen=True, slots=True)
class FlagChange:
    """What a flag or an unflag did to one message, or the rule that refused it."""

    message_id: str
    # The message's (first) conversation; None before it is threaded.
    thread_id: int | None
    # Spam, fraud or inappropriate labels taken off (the model's, or an earlier flag).
    removed: tuple[str, ...] = ()
    refusal: Refusal | None = None
    # Whether the conversation is in the Spam view afterwards.
    in_spam: bool = False


@dataclass(frozen=True, slots=True)
class FeedbackMessage:
    """A message a person judged, with the label their latest verdict gives it."""

    pk: int
    label: str
    raw: bytes


def find_message(session: Session, ref: str) -> int:
    """The message ``ref`` names: THREAD_ID:N as ``maild show`` prints it, or a Message-ID."""
    text = ref.strip()
    positional = _POSITIONAL.fullmatch(text)
    if positional:
        thread_id, position = int(positional.group(1)), int(positional.group(2))
        messages = thread_messages(session, thread_id)
        if not messages:
            raise MaildError(f"no conversation {thread_id}")
        if not 1 <= position <= len(messages):
            raise MaildError(
                f"conversation {thread_id} has messages 1 to {len(messages)}; no message {position}"
            )
        return messages[position - 1].pk
    bare = text.removeprefix("<").removesuffix(">")
    mailboxes = list(session.execute(select(_MAILBOX.c.id)).scalars())
    # Mailbox first: (mailbox_id, message_id, digest) is the index there is.
    pks: list[int] = list(
        session.execute(
            select(_MESSAGE.c.id).where(
                _MESSAGE.c.mailbox_id.in_(mailboxes), _MESSAGE.c.message_id.in_((f"<{bare}>", bare))
            )
        ).scalars()
    )
    if not pks:
        raise MaildError(f"no message with Message-ID <{bare}>")
    if len(pks) > 1:
        raise MaildError(
            f"{len(pks)} stored messages have Message-ID <{bare}>; name one by the "
            "THREAD_ID:N reference maild show prints"
        )
    return pks[0]


def _lock(session: Session, pk: int) -> int:
    """Take threading's lock on the message's mailbox, held until commit; the change's stamp."""
    owner = session.execute(select(_MESSAGE.c.mailbox_id).where(_MESSAGE.c.id == pk)).scalar_one()
    return thread_marks.lock(session, owner)


def _facts(session: Session, pk: int) -> tuple[MessageFacts, FlagChange]:
    """The rules' facts about a message, and a change that names it and changes nothing."""
    m = _MESSAGE.c
    row = session.execute(
        select(
            m.message_id,
            m.direction,
            m.machine_kind,
            m.thread_id,
            m.order_ids,
            m.sub_orders,
            _AT.label("at"),
        ).where(m.id == pk)
    ).one()
    threads = session.execute(
        select(_THREAD.c.id, _THREAD.c.last_outbound_at)
        .join(_MESSAGE_THREAD, _MESSAGE_THREAD.c.thread_id == _THREAD.c.id)
        .where(_MESSAGE_THREAD.c.message_pk == pk)
    ).all()
    orders = {*(row.order_ids or ()), *(o for pair in row.sub_orders or () for o in pair if o)}
    orders.update(
        session.execute(
            select(_THREAD_ORDER.c.order_id).where(
                _THREAD_ORDER.c.thread_id.in_([t.id for t in threads])
            )
        ).scalars()
    )
    labels = session.execute(
        select(_LABEL.c.name, _LABEL.c.source).where(_LABEL.c.message_pk == pk)
    ).all()
    facts = MessageFacts(
        direction="out" if row.direction == "out" else "in",
        machine_kind=row.machine_kind,
        threaded=row.thread_id is not None and bool(threads),
        orders=tuple(sorted(orders)),
        answered=any(_answers(t.last_outbound_at, row.at) for t in threads),
        labels={name: source for name, source in labels},
    )
    return facts, FlagChange(row.message_id, row.thread_id)


def _judge(session: Session, ref: str) -> tuple[int, int, MessageFacts, FlagChange]:
    """The message, the stamp of this change, the rules' facts and an empty change."""
    pk = find_message(session, ref)
    seq = _lock(session, pk)
    return pk, seq, *_facts(session, pk)


def _refused(session: Session, change: FlagChange, refusal: Refusal) -> FlagChange:
    session.rollback()  # releases the lock; nothing was written
    return replace(change, refusal=refusal)


def _answers(reply_at: datetime | None, message_at: datetime) -> bool:
    """A reply at the same instant answers too, as the conversation summary counts it."""
    return reply_at is not None and reply_at >= message_at


def _feedback(pk: int, action: str, reason: str, origin: str, now: datetime) -> dict[str, Any]:
    return {
        "message_pk": pk,
        "action": action,
        "reason": reason,
        "origin": origin,
        "created_at": now,
    }


def _take_off(session: Session, pk: int, facts: MessageFacts) -> tuple[str, ...]:
    """Remove the message's spam, fraud and inappropriate labels, whoever gave them."""
    names = tuple(sorted(name for name in facts.labels if name in SPAM_LABELS))
    if names:
        session.execute(_LABEL.delete().where(_LABEL.c.message_pk == pk, _LABEL.c.name.in_(names)))
    return names


def _done(
    session: Session, pk: int, seq: int, change: FlagChange, removed: tuple[str, ...]
) -> FlagChange:
    threads = session.execute(
        select(_MESSAGE_THREAD.c.thread_id).where(_MESSAGE_THREAD.c.message_pk == pk)
    ).scalars()
    thread_marks.mark(session, set(threads), seq)
    in_spam = change.thread_id is not None and in_view(session, change.thread_id, "spam")
    session.commit()
    return replace(change, removed=removed, in_spam=in_spam)


def flag(session: Session, ref: str, reason: Reason, now: datetime) -> FlagChange:
    """Flag the message ``ref`` names as ``reason`` if the rules allow it.

    The flag replaces any other spam, fraud or inappropriate label (the model's, or an
    earlier flag with another reason): the person's word is the one that stands.
    """
    pk, seq, facts, change = _judge(session, ref)
    refusal = flag_refusal(facts, reason)
    if refusal is not None:
        return _refused(session, change, refusal)
    removed = _take_off(session, pk, facts)
    session.execute(
        _LABEL.insert().values(
            message_pk=pk, name=reason, source="flag", score=None, created_at=now
        )
    )
    session.execute(_FEEDBACK.insert().values(_feedback(pk, "flag", reason, "agent", now)))
    return _done(session, pk, seq, change, removed)


def unflag(session: Session, ref: str, now: datetime) -> FlagChange:
    """Take every spam, fraud or inappropriate label off the message ``ref`` names.

    The model's label too: a seller who says a message is not spam is believed, and
    a reprocessed message does not get the model's label back (maild.store.processed).
    """
    pk, seq, facts, change = _judge(session, ref)
    refusal = unflag_refusal(facts)
    if refusal is not None:
        return _refused(session, change, refusal)
    removed = _take_off(session, pk, facts)
    session.execute(
        _FEEDBACK.insert(), [_feedback(pk, "unflag", name, "agent", now) for name in removed]
    )
    return _done(session, pk, seq, change, removed)


def unflag_answered(session: Session, threads: Collection[int], now: datetime) -> None:
    """Take the flags off messages a seller reply in ``threads`` answered (DOMAIN.md).

    Called by threading, in its transaction, for every conversation a batch touched:
    a reply, or a merge that brings one in, after a flagged message unflags it, and
    the change is kept as feedback with origin "reply".
    """
    ordered = sorted(threads)
    answered: dict[int, tuple[int, str]] = {}
    for start in range(0, len(ordered), _CHUNK):
        rows = session.execute(
            select(_LABEL.c.id, _LABEL.c.message_pk, _LABEL.c.name, _AT, _THREAD.c.last_outbound_at)
            .join(_MESSAGE_THREAD, _MESSAGE_THREAD.c.message_pk == _LABEL.c.message_pk)
            .join(_THREAD, _THREAD.c.id == _MESSAGE_THREAD.c.thread_id)
            .join(_MESSAGE, _MESSAGE.c.id == _LABEL.c.message_pk)
            .where(
                _MESSAGE_THREAD.c.thread_id.in_(ordered[start : start + _CHUNK]),
                _LABEL.c.source == "flag",
                _THREAD.c.last_outbound_at.is_not(None),
            )
        )
        for label_id, pk, name, at, reply_at in rows:
            if _answers(reply_at, at):
                answered[label_id] = (pk, name)
    if not answered:
        return
    session.execute(_LABEL.delete().where(_LABEL.c.id.in_(sorted(answered))))
    session.execute(
        _FEEDBACK.insert(),
        [_feedback(pk, "unflag", name, "reply", now) for pk, name in answered.values()],
    )


def feedback_messages(session: Session) -> list[FeedbackMessage]:
    """Every judged message with its raw bytes: the latest flag gives its reason, an unflag ham."""
    latest: dict[int, str] = {}
    for pk, action, reason in session.execute(
        select(_FEEDBACK.c.message_pk, _FEEDBACK.c.action, _FEEDBACK.c.reason).order_by(
            _FEEDBACK.c.id
        )
    ):
        latest[pk] = reason if action == "flag" else HAM
    pks = sorted(latest)
    found: list[FeedbackMessage] = []
    for start in range(0, len(pks), _CHUNK):
        for pk, blob, codec in session.execute(
            select(_MESSAGE.c.id, _MESSAGE.c.raw_blob, _MESSAGE.c.raw_codec)
            .where(_MESSAGE.c.id.in_(pks[start : start + _CHUNK]))
            .order_by(_MESSAGE.c.id)
        ):
            try:
                raw = decode_raw(blob, codec)
            except StoreError as exc:  # one damaged message must not stop training
                log.warning("feedback message skipped pk=%d reason=%s", pk, exc)
                continue
            found.append(FeedbackMessage(pk, latest[pk], raw))
    return found
