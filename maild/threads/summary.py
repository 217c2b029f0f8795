"""A conversation's summary, from its messages; pure.

Recomputed from all of a conversation's messages whenever one joins, rather than
updated step by step, so it is right whatever order messages arrive in (a reply
from the Sent folder may be threaded before the question it answers) and after
merges. Machine mail (auto-replies, bounces) is counted as a message but never as
the customer's or the seller's word: it neither starts nor stops the wait (a
platform's automatic hand-off or closing notice still has its effect, below).

Marketplace notices and ticket returns move a conversation off the seller's clock
(DOMAIN.md, service tickets; issue 12):

* a platform hand-off (``handoff``) makes it ``escalated``: the platform's own
  service answers from then on, and later messages start no wait (until a closing
  notice, after which a new message is a new consultation);
* the seller's "please clarify" return of a ticket (``returned``) makes it
  ``returned`` until the platform writes again, which starts a new wait;
* the platform's closing notice (``closed``) makes it ``closed``; a later message
  opens it again with a new wait. A customer's "never mind" is an ordinary message:
  a ticket cannot be withdrawn, so the wait goes on until the seller answers.
"""

from __future__ import annotations

__all__ = ["Event", "Lifecycle", "ThreadMessage", "ThreadSummary", "summarize"]

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from maild.domain import Direction

# What a message does to the conversation's lifecycle, beside starting or ending a wait.
Event = Literal["handoff", "returned", "closed"]
# None: open, on the seller's clock while a customer message waits.
Lifecycle = Literal["escalated", "returned", "closed"]


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    at: datetime
    direction: Direction
    machine: bool
    subject: str | None
    subject_key: str | None
    customer_address: str | None
    customer_name: str | None
    sub_orders: tuple[str, ...] = ()
    event: Event | None = None


@dataclass(frozen=True, slots=True)
class ThreadSummary:
    messages: int
    last_message_at: datetime | None
    last_inbound_at: datetime | None
    last_outbound_at: datetime | None
    awaiting_since: datetime | None
    subject: str | None
    subject_key: str | None
    customer_address: str | None
    customer_name: str | None
    sub_orders: int
    after_sale_sub_orders: int
    # Every wait a seller reply ended: (when the customer's first unanswered message
    # arrived, when the reply went out), oldest first. What the SLA histogram counts.
    answered: tuple[tuple[datetime, datetime], ...] = ()
    lifecycle: Lifecycle | None = None
    # When the platform first took the conversation over (a hand-off), if it did.
    escalated_at: datetime | None = None


def _customer(message: ThreadMessage) -> bool:
    return message.direction == "in" and not message.machine


def summarize(messages: Sequence[ThreadMessage]) -> ThreadSummary:
    # At the same instant the question comes before the answer.
    ordered = sorted(messages, key=lambda m: (m.at, m.direction != "in"))
    people = [m for m in ordered if not m.machine]
    awaiting: datetime | None = None
    answered: list[tuple[datetime, datetime]] = []
    lifecycle: Lifecycle | None = None
    escalated_at: datetime | None = None
    # A platform's notice sent as machine mail still hands off or closes.
    for message in (m for m in ordered if not m.machine or m.event is not None):
        # A customer message starts the wait (unless one already waits); a reply ends it.
        if message.direction == "in" and message.event == "handoff":
            lifecycle, awaiting = "escalated", None
            escalated_at = escalated_at or message.at
        elif message.direction == "in" and message.event == "closed":
            lifecycle, awaiting = "closed", None
        elif message.direction == "in":
            if lifecycle != "escalated":
                lifecycle = None
                awaiting = awaiting or message.at
        else:
            if awaiting is not None:
                answered.append((awaiting, message.at))
            awaiting = None
            if message.event == "returned" and lifecycle is None:
                lifecycle = "returned"
    inbound = [m.at for m in people if m.direction == "in"]
    outbound = [m.at for m in people if m.direction == "out"]
    # The customer is who wrote in first; a conversation the seller opened, who it went to.
    who = next((m for m in ordered if _customer(m) and m.customer_address), None) or next(
        (m for m in ordered if m.customer_address), None
    )
    first = ordered[0] if ordered else None
    return ThreadSummary(
        messages=len(ordered),
        last_message_at=ordered[-1].at if ordered else None,
        last_inbound_at=max(inbound, default=None),
        last_outbound_at=max(outbound, default=None),
        awaiting_since=awaiting,
        subject=first.subject if first else None,
        subject_key=first.subject_key if first else None,
        customer_address=who.customer_address if who else None,
        customer_name=next(
            (m.customer_name for m in ordered if _customer(m) and m.customer_name), None
        )
        or (who.customer_name if who else None),
        sub_orders=len({s for m in ordered for s in m.sub_orders}),
        after_sale_sub_orders=len({s for m in ordered if _customer(m) for s in m.sub_orders}),
        answered=tuple(answered),
        lifecycle=lifecycle,
        escalated_at=escalated_at,
    )
