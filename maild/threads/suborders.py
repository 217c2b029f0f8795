"""Each sub-order (package) of a conversation: its messages and its after-sales state; pure.

DOMAIN.md: one order can have several packages, an after-sales case can concern one
of them, and a seller must see how many have a case open. A sub-order's case is
``open`` while the last message naming it that a person wrote is the customer's,
``answered`` once a seller message naming it followed, and ``none`` when no customer
message names it (the seller wrote about it first, or only machine mail did).
Machine mail counts as a message but, as for the reply clock, moves no state.
"""

from __future__ import annotations

__all__ = ["AfterSales", "SubOrderMessage", "SubOrderStatus", "sub_order_statuses"]

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from maild.domain import Direction

AfterSales = Literal["open", "answered", "none"]


@dataclass(frozen=True, slots=True)
class SubOrderMessage:
    at: datetime
    direction: Direction
    machine: bool
    sub_orders: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubOrderStatus:
    id: str
    messages: int
    after_sales: AfterSales


def sub_order_statuses(messages: Iterable[SubOrderMessage]) -> tuple[SubOrderStatus, ...]:
    """Every sub-order the messages name, sorted by ID."""
    counts: dict[str, int] = {}
    states: dict[str, AfterSales] = {}
    # At the same instant the question comes before the answer, as for the reply clock.
    for message in sorted(messages, key=lambda m: (m.at, m.direction != "in")):
        for sub in dict.fromkeys(message.sub_orders):
            counts[sub] = counts.get(sub, 0) + 1
            state = states.setdefault(sub, "none")
            if message.machine:
                continue
            if message.direction == "in":
                states[sub] = "open"
            elif state == "open":
                states[sub] = "answered"
    return tuple(SubOrderStatus(sub, counts[sub], states[sub]) for sub in sorted(counts))
