"""Conversation summaries: what a conversation's messages say about it, and rewriting it.

A summary (maild.threads.summary) is computed from a conversation's members, read
here from their message rows with the lifecycle events their rule tags carry. Threading
(maild.store.conversations) writes the summaries of the conversations a batch starts
with their insert and rewrites those a batch adds to; processing again rewrites those
whose messages' tags changed.
"""

__all__ = [
    "MEMBER_COLUMNS",
    "UNSUMMARIZED",
    "Answers",
    "chunks",
    "member",
    "new_summaries",
    "resummarize",
    "summarize_threads",
    "summary_values",
    "thread_default",
]

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnDefault, Select, bindparam, func, select
from sqlalchemy.orm import Session

from maild.classify.tags import HANDED_OFF, TICKET_CLOSED, TICKET_RETURNED
from maild.store import thread_marks
from maild.store.bulk import execute_many
from maild.store.key_sets import among
from maild.store.tables import core_table
from maild.store.types import UTCDateTime
from maild.threads.resolve import Action, Link, Merge
from maild.threads.summary import Event, ThreadMessage, ThreadSummary, summarize

_MESSAGE = core_table("message")
_THREAD = core_table("thread")
_MESSAGE_THREAD = core_table("message_thread")
_LABEL = core_table("label")

_UPDATE_THREAD = _THREAD.update().where(_THREAD.c.id == bindparam("_id"))

# Keeps each IN (...) list well under SQLite's bound-parameter limit.
_CHUNK = 500


def chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    """``values`` in slices short enough for one IN (...) list."""
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


# The rule tags that move a conversation's lifecycle (maild.threads.summary).
_EVENTS: dict[str, Event] = {
    HANDED_OFF: "handoff",
    TICKET_RETURNED: "returned",
    TICKET_CLOSED: "closed",
}

# What :func:`member` reads of a message row.
MEMBER_COLUMNS = (
    func.coalesce(_MESSAGE.c.internaldate, _MESSAGE.c.landed_at, type_=UTCDateTime()).label("at"),
    _MESSAGE.c.direction,
    _MESSAGE.c.machine_kind,
    _MESSAGE.c.subject,
    _MESSAGE.c.subject_key,
    _MESSAGE.c.customer_address,
    _MESSAGE.c.customer_name,
    _MESSAGE.c.sub_orders,
)


def member(row: Any, event: Event | None) -> ThreadMessage:
    """A message as its conversation's summary reads it (a row of :data:`MEMBER_COLUMNS`)."""
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


def thread_default(column: str) -> Any:
    """What an insert that leaves ``column`` out gives a conversation."""
    default = _THREAD.c[column].default
    return default.arg if isinstance(default, ColumnDefault) else None


UNSUMMARIZED = {column: thread_default(column) for column in _SUMMARY_COLUMNS}

Answers = dict[int, tuple[tuple[datetime, datetime], ...]]


def summary_values(summary: ThreadSummary, shown_at: datetime | None) -> dict[str, Any]:
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


def new_summaries(
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
    for chunk in chunks(pks):
        events.update(_events(session, _EVENT_LABELS.where(among(_LABEL.c.message_pk, chunk))))
    # A member comes without its event; most have none, and copying one to say so cost
    # 1.6 us, 40% of summarizing a one-message conversation.
    return {
        thread: summarize(
            [replace(members[pk], event=events[pk]) if pk in events else members[pk] for pk in pks]
        )
        for thread, pks in linked.items()
        if pks
    }


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
    thread_marks.keep_answers(session, mailbox_id, resummarize(session, threads, now))


def resummarize(session: Session, threads: set[int], now: datetime) -> Answers:
    """Write the summaries of ``threads`` from the stored messages; their answered waits."""
    if not threads:
        return {}
    m = _MESSAGE.c
    members: dict[int, list[ThreadMessage]] = {t: [] for t in threads}
    for chunk in chunks(sorted(threads)):
        events = _events(
            session,
            _EVENT_LABELS.join(
                _MESSAGE_THREAD, _MESSAGE_THREAD.c.message_pk == _LABEL.c.message_pk
            ).where(_MESSAGE_THREAD.c.thread_id.in_(chunk)),
        )
        rows = session.execute(
            select(_MESSAGE_THREAD.c.thread_id, m.id, *MEMBER_COLUMNS)
            .join(_MESSAGE, m.id == _MESSAGE_THREAD.c.message_pk)
            .where(_MESSAGE_THREAD.c.thread_id.in_(chunk))
        )
        for row in rows:
            members[row.thread_id].append(member(row, events.get(row.id)))
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
            {"_id": thread, **summary_values(summary, shown.get(thread)), "updated_at": now}
        )
    execute_many(session, _UPDATE_THREAD, updates)
    return answers
