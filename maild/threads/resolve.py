"""Which conversation a message belongs to; pure, one message at a time in landing order.

Agents think in orders, so orders decide first; replies and subjects only connect
what names no order. The rules, in order:

1. An order has one conversation per mailbox; a message belongs to the conversation
   of every order it names. A sub-order counts as its parent order once a message
   has named the parent; until then it stands for itself, and the message that
   reveals the parent merges the sub-order's conversation into the parent's.
2. Its *context* is the conversation of the message it replies to (In-Reply-To,
   then References from the newest), else the conversation of the same customer
   with the same subject (Re:/Fwd:/回复: and ticket tags stripped) whose last message
   is within 30 days. A subject match never joins a conversation about other orders
   (a customer's many "Question" mails about different orders stay apart).
3. A context without orders is the same conversation as the orders': it merges into
   the first named order's conversation, or, if none of the named orders has one
   yet, it takes them (the message that finally names the order).
4. Named orders still without a conversation share one new conversation: a message
   naming two new orders starts one conversation for both, never two halves.
5. A reply whose context holds other orders is in both: the conversation it answers
   and its orders' own. Conversations with orders never merge with each other.
6. IDs found only in quoted text are second-hand: a reply's context wins over them,
   they never merge conversations, and they give a new conversation its orders only
   when nothing else places the message.
7. Anything else starts a new conversation.

Outgoing messages (the seller's, from the Sent folder) thread by the same rules.
"""

from __future__ import annotations

__all__ = [
    "SUBJECT_WINDOW",
    "Action",
    "AddOrders",
    "Incoming",
    "Known",
    "Link",
    "Merge",
    "NewThread",
    "Threader",
]

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from maild.domain import ConversationFacts

SUBJECT_WINDOW = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Incoming:
    """A processed message waiting to be threaded."""

    pk: int
    message_id: str
    in_reply_to: str | None
    references: tuple[str, ...]
    at: datetime
    facts: ConversationFacts


@dataclass
class Known:
    """The part of the database a batch needs, kept current as the batch is threaded.

    Thread ids are the database's; threads made in this batch get negative ids until
    the store inserts them.
    """

    order_threads: dict[str, int] = field(default_factory=dict)
    thread_orders: dict[int, set[str]] = field(default_factory=dict)
    message_threads: dict[str, int] = field(default_factory=dict)
    subject_threads: dict[tuple[str, str], tuple[int, datetime]] = field(default_factory=dict)
    sub_order_parents: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NewThread:
    thread: int
    key: str


@dataclass(frozen=True, slots=True)
class AddOrders:
    thread: int
    orders: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Merge:
    """Every message and order of ``source`` moves to ``target``; ``source`` goes."""

    source: int
    target: int


@dataclass(frozen=True, slots=True)
class Link:
    """``message`` is in ``threads``; the first is its main conversation."""

    message: int
    threads: tuple[int, ...]


Action = NewThread | AddOrders | Merge | Link


def _unique(items: list[int]) -> list[int]:
    return list(dict.fromkeys(items))


class Threader:
    def __init__(self, known: Known, window: timedelta = SUBJECT_WINDOW) -> None:
        self.known = known
        self._window = window
        self._next = -1
        self._actions: list[Action] = []

    def place(self, message: Incoming) -> list[Action]:
        """The actions that put ``message`` in its conversations (see the module's rules)."""
        self._actions = []
        orders = self._orders(message)
        context, by_reply = self._context(message, orders)
        if message.facts.from_quote and orders:
            threads = self._quoted(message, orders, context)
        else:
            threads = self._placed(message, orders, context, by_reply)
        self._actions.append(Link(message.pk, tuple(threads)))
        self._remember(message, threads[0])
        return self._actions

    def _orders(self, message: Incoming) -> list[str]:
        """The orders that thread the message, learning (and merging) sub-order parents."""
        known = self.known
        orders = list(message.facts.order_ids)
        for sub, parent in message.facts.sub_orders:
            if parent is None:
                orders.append(known.sub_order_parents.get(sub, sub))
                continue
            known.sub_order_parents[sub] = parent
            alias = known.order_threads.get(sub)
            if alias is not None and not message.facts.from_quote:
                target = known.order_threads.get(parent)
                if target is None:
                    self._add_orders(alias, [parent])
                elif target != alias:
                    self._merge(alias, target)
        return list(dict.fromkeys(orders))

    def _context(self, message: Incoming, orders: list[str]) -> tuple[int | None, bool]:
        for ref in (message.in_reply_to, *reversed(message.references)):
            if ref and ref in self.known.message_threads:
                return self.known.message_threads[ref], True
        key = self._subject_key(message)
        if key is None or key not in self.known.subject_threads:
            return None, False
        thread, last = self.known.subject_threads[key]
        if abs(message.at - last) > self._window:
            return None, False
        if orders and self.known.thread_orders.get(thread):
            return None, False
        return thread, False

    def _quoted(self, message: Incoming, orders: list[str], context: int | None) -> list[int]:
        if context is not None:
            return [context]
        existing = _unique([t for o in orders if (t := self.known.order_threads.get(o))])
        return existing or [self._new_thread(message, orders)]

    def _placed(
        self, message: Incoming, orders: list[str], context: int | None, by_reply: bool
    ) -> list[int]:
        known = self.known
        threads = _unique([t for o in orders if (t := known.order_threads.get(o)) is not None])
        missing = [o for o in orders if o not in known.order_threads]
        if context is not None and not known.thread_orders.get(context) and orders:
            if threads:
                if context != threads[0]:
                    self._merge(context, threads[0])
            else:
                threads = [context]
            context = None
        if missing:
            if threads:
                # Rule 4 keeps new orders together; with known ones they join the first.
                self._add_orders(threads[0], missing)
            else:
                threads = [self._new_thread(message, missing)]
        if context is not None and context not in threads and (by_reply or not threads):
            threads.append(context)
        return threads or [self._new_thread(message, [])]

    def _subject_key(self, message: Incoming) -> tuple[str, str] | None:
        facts = message.facts
        if not facts.subject_key or not facts.customer_address:
            return None
        return (facts.customer_address, facts.subject_key)

    def _new_thread(self, message: Incoming, orders: list[str]) -> int:
        thread, self._next = self._next, self._next - 1
        key = f"order:{orders[0]}" if orders else f"message:{message.pk}"
        self._actions.append(NewThread(thread, key))
        self.known.thread_orders[thread] = set()
        if orders:
            self._add_orders(thread, orders)
        return thread

    def _add_orders(self, thread: int, orders: list[str]) -> None:
        self._actions.append(AddOrders(thread, tuple(orders)))
        self.known.thread_orders.setdefault(thread, set()).update(orders)
        for order in orders:
            self.known.order_threads[order] = thread

    def _merge(self, source: int, target: int) -> None:
        known = self.known
        self._actions.append(Merge(source, target))
        known.thread_orders.setdefault(target, set()).update(known.thread_orders.pop(source, set()))
        for mapping in (known.order_threads, known.message_threads):
            for key, value in mapping.items():
                if value == source:
                    mapping[key] = target
        for subject, (value, last) in known.subject_threads.items():
            if value == source:
                known.subject_threads[subject] = (target, last)

    def _remember(self, message: Incoming, thread: int) -> None:
        self.known.message_threads[message.message_id] = thread
        key = self._subject_key(message)
        if key is None:
            return
        previous = self.known.subject_threads.get(key)
        if previous is None or previous[1] <= message.at:
            self.known.subject_threads[key] = (thread, message.at)
