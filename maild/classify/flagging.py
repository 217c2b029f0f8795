"""Whether a seller may flag a message as spam, fraud or inappropriate, and why not.

DOMAIN.md lets a seller flag an *unanswered pre-sale* message, and a flag takes the
conversation out of the All and Unread views. A real customer question hidden there
misses its reply deadline, which costs the seller more than a spam message left in
view, so every rule here refuses when in doubt:

* only a customer's own message: never the seller's, never machine mail (auto-replies,
  bounces), never the marketplace's Customer Care staff, whose messages are due fast;
* only before a purchase: a message tied to an order, by its own order or sub-order
  IDs or by the conversation it is in, is refused for every reason, not just spam
  ("must not be flagged as spam"): fraud or abuse about an order is the marketplace's
  dispute to settle, and its conversation must stay where its deadline is seen;
* only unanswered: a seller reply at or after it (auto-replies do not count) means
  the seller already treated it as a customer's message.

Unflagging only makes mail visible again, so it is refused only when there is
nothing to take off. Pure: the store gathers the facts, this decides.
"""

__all__ = ["REASONS", "MessageFacts", "Reason", "Refusal", "flag_refusal", "unflag_refusal"]

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from maild.classify.tags import CUSTOMER_CARE
from maild.domain import Direction

Reason = Literal["spam", "fraud", "inappropriate"]
REASONS: tuple[Reason, ...] = ("spam", "fraud", "inappropriate")


@dataclass(frozen=True, slots=True)
class MessageFacts:
    """What the rules need to know about one stored message."""

    direction: Direction
    # The machine-mail kind (auto-reply, bounce...), None for mail a person wrote.
    machine_kind: str | None
    # Processed and in a conversation: before that nothing below is known.
    threaded: bool
    # Orders and sub-orders it names, plus those of its conversations.
    orders: tuple[str, ...]
    # A seller reply (not an auto-reply) came at or after it in one of its conversations.
    answered: bool
    # Its labels, name -> source ("rule", "model", "flag").
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Refusal:
    """The rule that refuses, by a stable name scripts can match, and its explanation."""

    rule: str
    explanation: str

    def __str__(self) -> str:
        return f"refused ({self.rule}): {self.explanation}"


_NOT_THREADED = Refusal(
    "not-threaded",
    "maild has not processed this message into a conversation yet; "
    "let the daemon (or maild run --once) catch up, then try again",
)


def flag_refusal(facts: MessageFacts, reason: Reason) -> Refusal | None:
    """Why ``facts``' message may not be flagged as ``reason``; None: it may."""
    if not facts.threaded:
        return _NOT_THREADED
    if facts.direction == "out":
        return Refusal("outbound", "the seller sent this message; only a customer's can be flagged")
    if facts.machine_kind is not None:
        return Refusal(
            "machine-mail",
            f"this is machine mail ({facts.machine_kind}), not a customer message; "
            "it never waits for a reply and needs no flag",
        )
    if facts.orders:
        orders = ", ".join(facts.orders)
        rule = (
            "messages tied to an order must not be flagged as spam"
            if reason == "spam"
            else "only pre-sale messages (no order ID) may be flagged"
        )
        return Refusal(
            "order",
            f"{rule}; this one is tied to order {orders}, so its conversation stays in view "
            "with its deadline (report fraud or abuse about an order to the marketplace)",
        )
    if CUSTOMER_CARE in facts.labels:
        return Refusal(
            "customer-care",
            "a Customer Care message comes from the marketplace's own staff and must be "
            "answered promptly; it cannot be flagged",
        )
    if facts.answered:
        return Refusal(
            "answered",
            "a message that has been answered cannot be flagged; a seller reply followed it",
        )
    if facts.labels.get(reason) == "flag":
        return Refusal("already-flagged", f"it is already flagged as {reason}")
    return None


def unflag_refusal(facts: MessageFacts) -> Refusal | None:
    """Why ``facts``' message cannot be unflagged; None: it carries a label to take off."""
    if not facts.threaded:
        return _NOT_THREADED
    if any(name in REASONS for name in facts.labels):
        return None
    return Refusal("not-flagged", "it is not labelled spam, fraud or inappropriate")
