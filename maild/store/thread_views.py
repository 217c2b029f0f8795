"""The conversation views and searches of DOMAIN.md, as indexed queries.

Views filter on the summary kept on each conversation (``thread``), so none reads
messages; search by order ID goes through ``thread_order`` and
``message_order.sub_order_id`` (both indexed), by subject through the
conversation's case-folded subject key.
"""

__all__ = [
    "VIEWS",
    "ShownMessage",
    "ThreadQuery",
    "ThreadRow",
    "find_threads",
    "in_view",
    "message_ref",
    "thread_messages",
]

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select, true
from sqlalchemy.orm import Session

from maild.domain import Verdict
from maild.store.tables import core_table
from maild.store.types import UTCDateTime

View = Literal[
    "all",
    "unread",
    "response-needed",
    "customer-care",
    "failed",
    "spam",
    "escalated",
    "returned",
    "closed",
]
VIEWS: tuple[View, ...] = get_args(View)
# Views of a conversation's lifecycle (maild.threads.summary): off the seller's clock.
_LIFECYCLE_VIEWS: frozenset[str] = frozenset({"escalated", "returned", "closed"})

_THREAD = core_table("thread")
_MAILBOX = core_table("mailbox")
_MESSAGE = core_table("message")
_MESSAGE_THREAD = core_table("message_thread")
_THREAD_ORDER = core_table("thread_order")
_MESSAGE_ORDER = core_table("message_order")
_LABEL = core_table("label")
_OUTBOX = core_table("outbox")


@dataclass(frozen=True, slots=True)
class ThreadQuery:
    view: View = "all"
    order_id: str | None = None
    subject: str | None = None
    customer: str | None = None
    mailbox: str | None = None
    since: datetime | None = None
    limit: int = 200
    # One conversation by its id, whatever view it is in.
    thread_id: int | None = None


@dataclass(frozen=True, slots=True)
class ThreadRow:
    id: int
    mailbox: str
    order_ids: tuple[str, ...]
    sub_order_ids: tuple[str, ...]
    customer: str | None
    customer_address: str | None
    subject: str | None
    messages: int
    labels: tuple[str, ...]
    state: str
    unread: bool
    awaiting_since: datetime | None
    last_message_at: datetime | None
    sub_orders: int
    after_sale_sub_orders: int


@dataclass(frozen=True, slots=True)
class ShownMessage:
    pk: int
    # What ``maild flag`` and ``maild unflag`` accept for it (see message_ref).
    ref: str
    direction: str
    at: datetime
    sender: str | None
    subject: str | None
    labels: tuple[str, ...]
    machine_kind: str | None
    text: str
    # The sub-orders (packages) it names.
    sub_orders: tuple[str, ...] = ()
    # The classifier's verdict; None for mail it does not judge (the seller's own,
    # machine mail) or that was stored before classification.
    verdict: Verdict | None = None


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _labelled(names: Sequence[str]) -> ColumnElement[bool]:
    """The conversation has a message carrying one of ``names``."""
    return exists(
        select(_LABEL.c.id)
        .join(_MESSAGE_THREAD, _MESSAGE_THREAD.c.message_pk == _LABEL.c.message_pk)
        .where(_MESSAGE_THREAD.c.thread_id == _THREAD.c.id, _LABEL.c.name.in_(names))
    )


def _view_filter(view: View) -> ColumnElement[bool]:
    t = _THREAD.c
    # ``hidden`` is the Spam view's rule, kept by every writer (maild.store.thread_marks).
    if view == "spam":
        return t.hidden == true()
    if view == "unread":
        return and_(t.unread.is_(True), t.hidden == false())
    if view == "response-needed":
        return and_(t.awaiting_since.is_not(None), t.hidden == false())
    if view == "customer-care":
        return _labelled(("customer-care",))
    if view == "failed":
        return exists(
            select(_OUTBOX.c.id).where(_OUTBOX.c.thread_id == t.id, _OUTBOX.c.state == "failed")
        )
    if view in _LIFECYCLE_VIEWS:
        return t.lifecycle == view
    return t.hidden == false()


def _search_filters(query: ThreadQuery) -> list[ColumnElement[bool]]:
    t = _THREAD.c
    if query.thread_id is not None:
        return [t.id == query.thread_id]
    filters: list[ColumnElement[bool]] = [_view_filter(query.view)]
    if query.order_id:
        wanted = query.order_id.strip().upper()
        by_order = select(_THREAD_ORDER.c.thread_id).where(
            func.upper(_THREAD_ORDER.c.order_id) == wanted
        )
        by_sub_order = (
            select(_MESSAGE_THREAD.c.thread_id)
            .join(_MESSAGE_ORDER, _MESSAGE_ORDER.c.message_pk == _MESSAGE_THREAD.c.message_pk)
            .where(_MESSAGE_ORDER.c.sub_order_id == query.order_id.strip())
        )
        filters.append(or_(t.id.in_(by_order), t.id.in_(by_sub_order)))
    if query.subject:
        filters.append(t.subject_key.like(_like(query.subject.casefold()), escape="\\"))
    if query.customer:
        pattern = _like(query.customer.casefold())
        filters.append(
            or_(
                func.lower(t.customer_name).like(pattern, escape="\\"),
                func.lower(t.customer_address).like(pattern, escape="\\"),
            )
        )
    if query.mailbox:
        filters.append(_MAILBOX.c.name == query.mailbox)
    if query.since:
        filters.append(t.last_message_at >= query.since)
    return filters


def find_threads(session: Session, query: ThreadQuery) -> list[ThreadRow]:
    """Conversations in ``query.view`` matching every search term, oldest wait first."""
    t = _THREAD.c
    rows = session.execute(
        select(_THREAD, _MAILBOX.c.name.label("mailbox_name"))
        .join(_MAILBOX, _MAILBOX.c.id == t.mailbox_id)
        .where(*_search_filters(query))
        # Until reply deadlines exist (SLA), the longest wait comes first, then the latest.
        .order_by(t.awaiting_since.is_(None), t.awaiting_since, t.last_message_at.desc(), t.id)
        .limit(query.limit)
    ).all()
    ids = [row.id for row in rows]
    orders = _grouped(
        session,
        select(_THREAD_ORDER.c.thread_id, _THREAD_ORDER.c.order_id),
        _THREAD_ORDER.c.thread_id,
        ids,
    )
    subs = _grouped(
        session,
        select(_MESSAGE_THREAD.c.thread_id, _MESSAGE_ORDER.c.sub_order_id)
        .join(_MESSAGE_ORDER, _MESSAGE_ORDER.c.message_pk == _MESSAGE_THREAD.c.message_pk)
        .where(_MESSAGE_ORDER.c.sub_order_id.is_not(None)),
        _MESSAGE_THREAD.c.thread_id,
        ids,
    )
    labels = _grouped(
        session,
        select(_MESSAGE_THREAD.c.thread_id, _LABEL.c.name).join(
            _LABEL, _LABEL.c.message_pk == _MESSAGE_THREAD.c.message_pk
        ),
        _MESSAGE_THREAD.c.thread_id,
        ids,
    )
    return [_row(row, orders, subs, labels) for row in rows]


def in_view(session: Session, thread_id: int, view: View) -> bool:
    """Whether the conversation is in ``view`` now, for commands that move it."""
    found = session.execute(
        select(_THREAD.c.id).where(_THREAD.c.id == thread_id, _view_filter(view))
    ).first()
    return found is not None


def _grouped(session: Session, query: Any, key: Any, ids: list[int]) -> dict[int, list[str]]:
    grouped: dict[int, list[str]] = {}
    if ids:
        for thread, value in session.execute(query.where(key.in_(ids))):
            values = grouped.setdefault(thread, [])
            if value not in values:
                values.append(value)
    return grouped


def _state(row: Any) -> str:
    if row.lifecycle is not None:
        return str(row.lifecycle)
    if row.awaiting_since is not None:
        return "response-needed"
    return "answered" if row.last_outbound_at is not None else "no-reply-needed"


def _row(
    row: Any, orders: dict[int, list[str]], subs: dict[int, list[str]], labels: dict[int, list[str]]
) -> ThreadRow:
    return ThreadRow(
        id=row.id,
        mailbox=row.mailbox_name,
        order_ids=tuple(sorted(orders.get(row.id, ()))),
        sub_order_ids=tuple(sorted(subs.get(row.id, ()))),
        customer=row.customer_name or row.customer_address,
        customer_address=row.customer_address,
        subject=row.subject,
        messages=row.messages,
        labels=tuple(sorted(labels.get(row.id, ()))),
        state=_state(row),
        unread=bool(row.unread),
        awaiting_since=row.awaiting_since,
        last_message_at=row.last_message_at,
        sub_orders=row.sub_orders,
        after_sale_sub_orders=row.after_sale_sub_orders,
    )


def _verdict(row: Any) -> Verdict | None:
    if row.class_label is None:
        return None
    return Verdict(
        row.class_label, row.class_scores or {}, row.model_version or "", row.class_campaign
    )


def message_ref(thread_id: int, position: int) -> str:
    """A message as ``maild show`` numbers it: its conversation, then its place there from 1.

    Short enough to type; the Message-ID works too (maild.store.flags.find_message).
    """
    return f"{thread_id}:{position}"


def thread_messages(session: Session, thread_id: int) -> list[ShownMessage]:
    m = _MESSAGE.c
    rows = session.execute(
        select(
            m.id,
            m.direction,
            func.coalesce(m.internaldate, m.landed_at, type_=UTCDateTime()).label("at"),
            m.from_addr,
            m.subject,
            m.machine_kind,
            m.body_text,
            m.sub_orders,
            m.class_label,
            m.class_scores,
            m.model_version,
            m.class_campaign,
        )
        .join(_MESSAGE_THREAD, _MESSAGE_THREAD.c.message_pk == m.id)
        .where(_MESSAGE_THREAD.c.thread_id == thread_id)
        .order_by("at", m.id)
    ).all()
    labels = _grouped(
        session,
        select(_LABEL.c.message_pk, _LABEL.c.name),
        _LABEL.c.message_pk,
        [r.id for r in rows],
    )
    return [
        ShownMessage(
            pk=row.id,
            ref=message_ref(thread_id, position),
            direction=row.direction,
            at=row.at,
            sender=row.from_addr,
            subject=row.subject,
            labels=tuple(sorted(labels.get(row.id, ()))),
            machine_kind=row.machine_kind,
            text=row.body_text or "",
            sub_orders=tuple(sub for sub, _ in row.sub_orders or ()),
            verdict=_verdict(row),
        )
        for position, row in enumerate(rows, 1)
    ]
