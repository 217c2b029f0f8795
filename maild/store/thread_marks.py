"""Facts kept on a conversation when it changes, so views and the SLA ticker read columns.

Every writer that changes what a conversation shows (threading, a flag, reprocessing)
first takes its mailbox's lock with :func:`lock`, which also counts the change in
``mailbox.change_seq``; then :func:`mark` stamps the conversations it touched with
that count and recomputes ``hidden``. The lock is held until commit (SQLite has one
writer; PostgreSQL holds the row lock), so a mailbox's stamps commit in order and
a reader that saw count N has seen every change up to N (maild.store.sla_feed).

``hidden`` is the Spam view's rule, kept as a column so views filter on an index
instead of a subquery per conversation: a message of it carries a spam, fraud or
inappropriate label given by a person (a flag), or by the model while nobody has
replied and the conversation is about no order (DOMAIN.md: those are never spam).
A reply takes a conversation out of Spam, and a reply after a flagged message
takes the flag off (maild.store.flags.unflag_answered).
"""

__all__ = ["SPAM_LABELS", "keep_answers", "lock", "mark", "merged", "spam_rule"]

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import Session

from maild.store.bulk import insert_many
from maild.store.key_sets import among
from maild.store.tables import core_table

# A message labelled with one of these is out of All and Unread and in the Spam view.
SPAM_LABELS = ("spam", "fraud", "inappropriate")

_MAILBOX = core_table("mailbox")
_THREAD = core_table("thread")
_THREAD_ORDER = core_table("thread_order")
_MESSAGE_THREAD = core_table("message_thread")
_LABEL = core_table("label")
_REMOVED = core_table("thread_removed")
_FIRST = core_table("first_response")
_CHUNK = 500


def lock(session: Session, mailbox_id: int) -> int:
    """Take the mailbox's lock until commit; the stamp of the change being made."""
    m = _MAILBOX.c
    session.execute(_MAILBOX.update().where(m.id == mailbox_id).values(change_seq=m.change_seq + 1))
    seq: int = session.execute(select(m.change_seq).where(m.id == mailbox_id)).scalar_one()
    return seq


def spam_rule() -> ColumnElement[bool]:
    """Whether a conversation belongs in the Spam view, from its messages' labels."""
    t = _THREAD.c
    about_order = exists(
        select(_THREAD_ORDER.c.id).where(_THREAD_ORDER.c.thread_id == t.id).correlate(_THREAD)
    )
    return exists(
        select(_LABEL.c.id)
        .join(_MESSAGE_THREAD, _MESSAGE_THREAD.c.message_pk == _LABEL.c.message_pk)
        .where(
            _MESSAGE_THREAD.c.thread_id == t.id,
            _LABEL.c.name.in_(SPAM_LABELS),
            or_(_LABEL.c.source == "flag", and_(t.last_outbound_at.is_(None), ~about_order)),
        )
    )


def mark(session: Session, threads: Collection[int], seq: int) -> None:
    """Recompute ``hidden`` of ``threads`` and stamp them with ``seq``.

    A conversation that already holds both is left unwritten: those threading inserts
    come stamped (maild.store.conversations), and rewriting each row and two of its
    index entries to the same values was most of what this update cost.
    """
    ordered = sorted(threads)
    hidden = spam_rule()
    t = _THREAD.c
    for start in range(0, len(ordered), _CHUNK):
        session.execute(
            _THREAD.update()
            .where(
                among(t.id, ordered[start : start + _CHUNK]),
                or_(t.change_seq != seq, t.hidden != hidden),
            )
            .values(hidden=hidden, change_seq=seq)
        )


def merged(session: Session, mailbox_id: int, source: int, target: int, seq: int) -> None:
    """Before ``source`` is merged into ``target`` and deleted: keep what it counted.

    Its counted first responses move to ``target`` (one already there at the same
    instant stays); the rest are rebuilt from ``target``'s messages by
    :func:`keep_answers`. The ticker learns from ``thread_removed`` that it is gone.
    A hand-off it counted stays counted in ``target``, which holds its messages now.
    """
    t = _THREAD.c
    counted = select(t.escalation_counted).where(t.id == source).scalar_subquery()
    session.execute(
        _THREAD.update().where(t.id == target, counted == true()).values(escalation_counted=True)
    )
    f = _FIRST.c
    in_target = select(f.replied_at).where(f.thread_id == target).scalar_subquery()
    session.execute(
        _FIRST.delete().where(
            f.thread_id == source, or_(f.counted == false(), f.replied_at.in_(in_target))
        )
    )
    session.execute(_FIRST.update().where(f.thread_id == source).values(thread_id=target))
    session.execute(
        _REMOVED.insert().values(thread_id=source, mailbox_id=mailbox_id, change_seq=seq)
    )


def keep_answers(
    session: Session,
    mailbox_id: int,
    answers: Mapping[int, Sequence[tuple[datetime, datetime]]],
    new: Collection[int] = (),
) -> None:
    """Make ``first_response`` hold each conversation's answered waits, as recomputed now.

    A wait not yet counted is replaced (a question threaded late may have moved its
    start); a counted one stays as it was counted, so a re-summary never counts
    a reply twice. Conversations in ``new`` were inserted in this transaction, so
    they have no waits yet to replace or keep.
    """
    f = _FIRST.c
    ordered = sorted(answers)
    earlier = [thread for thread in ordered if thread not in new]
    counted: set[tuple[int, datetime]] = set()
    for start in range(0, len(earlier), _CHUNK):
        chunk = earlier[start : start + _CHUNK]
        session.execute(_FIRST.delete().where(f.thread_id.in_(chunk), f.counted == false()))
        counted.update(
            (thread, at)
            for thread, at in session.execute(
                select(f.thread_id, f.replied_at).where(f.thread_id.in_(chunk))
            )
        )
    rows = [
        {
            "mailbox_id": mailbox_id,
            "thread_id": thread,
            "asked_at": asked,
            "replied_at": replied,
            "counted": False,
        }
        for thread in ordered
        for asked, replied in answers[thread]
        if (thread, replied) not in counted
    ]
    if rows:
        insert_many(session, _FIRST, rows)
