"""Thread resolution: orders decide, replies and subjects connect what names no order."""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from maild.domain import ConversationFacts
from maild.threads.resolve import AddOrders, Incoming, Known, Link, Merge, NewThread, Threader

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
BUYER = "buyer@relay.example"


@dataclass
class Conversations:
    """Applies a Threader's actions the way the store does, in memory."""

    threader: Threader = field(default_factory=lambda: Threader(Known()))
    members: dict[int, set[int]] = field(default_factory=dict)
    orders: dict[int, set[str]] = field(default_factory=dict)

    def add(self, message: Incoming) -> None:
        for action in self.threader.place(message):
            match action:
                case NewThread(thread=thread):
                    self.members[thread] = set()
                    self.orders[thread] = set()
                case AddOrders(thread=thread, orders=orders):
                    self.orders[thread].update(orders)
                case Merge(source=source, target=target):
                    self.members[target] |= self.members.pop(source)
                    self.orders[target] |= self.orders.pop(source)
                case Link(message=pk, threads=threads):
                    for thread in threads:
                        self.members[thread].add(pk)

    def groups(self) -> list[set[int]]:
        return sorted((m for m in self.members.values() if m), key=min)

    def orders_of(self, pk: int) -> set[str]:
        return {o for t, m in self.members.items() if pk in m for o in self.orders[t]}


def message(
    pk: int,
    *,
    orders: tuple[str, ...] = (),
    subs: tuple[tuple[str, str | None], ...] = (),
    reply_to: int | None = None,
    subject: str = "",
    customer: str | None = BUYER,
    hours: float = 0,
    quoted: bool = False,
) -> Incoming:
    return Incoming(
        pk=pk,
        message_id=f"<{pk}@mail.example>",
        in_reply_to=f"<{reply_to}@mail.example>" if reply_to else None,
        references=(),
        at=T0 + timedelta(hours=hours),
        facts=ConversationFacts(
            order_ids=orders,
            sub_orders=subs,
            from_quote=quoted,
            subject_key=subject,
            customer_address=customer,
        ),
    )


def thread(*messages: Incoming) -> Conversations:
    conversations = Conversations()
    for m in messages:
        conversations.add(m)
    return conversations


def test_reply_without_order_id_joins_the_order_conversation_it_answers() -> None:
    c = thread(message(1, orders=("A",)), message(2, reply_to=1))
    assert c.groups() == [{1, 2}]


def test_same_customer_and_subject_within_30_days_is_one_conversation() -> None:
    c = thread(message(1, subject="where is it"), message(2, subject="where is it", hours=48))
    assert c.groups() == [{1, 2}]


def test_same_subject_after_the_window_starts_a_new_conversation() -> None:
    c = thread(message(1, subject="where is it"), message(2, subject="where is it", hours=31 * 24))
    assert c.groups() == [{1}, {2}]


def test_same_subject_from_another_customer_is_another_conversation() -> None:
    c = thread(
        message(1, subject="hello"), message(2, subject="hello", customer="other@mail.example")
    )
    assert c.groups() == [{1}, {2}]


def test_conversation_without_order_merges_when_a_reply_names_a_known_order() -> None:
    c = thread(
        message(1, orders=("A",)),
        message(2, subject="broken lid"),
        message(3, reply_to=2),
        message(4, reply_to=3, orders=("A",)),
    )
    assert c.groups() == [{1, 2, 3, 4}]


def test_conversation_without_order_takes_the_order_its_reply_first_names() -> None:
    c = thread(message(1, subject="broken lid"), message(2, reply_to=1, orders=("A",)))
    later = message(3, orders=("A",), subject="another question")
    c.add(later)
    assert c.groups() == [{1, 2, 3}]
    assert c.orders_of(3) == {"A"}


def test_message_naming_two_new_orders_starts_one_conversation_for_both() -> None:
    c = thread(message(1, orders=("A", "B")), message(2, orders=("B",)))
    assert c.groups() == [{1, 2}]
    assert c.orders_of(2) == {"A", "B"}


def test_message_naming_two_orders_with_conversations_is_in_both_and_merges_neither() -> None:
    c = thread(message(1, orders=("A",)), message(2, orders=("B",)), message(3, orders=("A", "B")))
    assert c.groups() == [{1, 3}, {2, 3}]


def test_reply_in_one_orders_conversation_about_another_order_is_in_both() -> None:
    c = thread(
        message(1, orders=("A",)), message(2, orders=("B",)), message(3, reply_to=1, orders=("B",))
    )
    assert c.groups() == [{1, 3}, {2, 3}]


def test_same_subject_never_joins_a_conversation_about_another_order() -> None:
    c = thread(
        message(1, orders=("A",), subject="question"), message(2, orders=("B",), subject="question")
    )
    assert c.groups() == [{1}, {2}]


def test_follow_up_without_order_id_on_the_same_subject_joins_the_order_conversation() -> None:
    c = thread(
        message(1, orders=("A",), subject="question"), message(2, subject="question", hours=5)
    )
    assert c.groups() == [{1, 2}]


def test_sub_order_joins_its_parent_order_conversation() -> None:
    c = thread(message(1, orders=("P",)), message(2, orders=("P",), subs=(("S1", "P"),)))
    assert c.groups() == [{1, 2}]


def test_sub_order_named_alone_joins_the_parent_learnt_from_an_earlier_message() -> None:
    c = thread(message(1, orders=("P",), subs=(("S1", "P"),)), message(2, subs=(("S1", None),)))
    assert c.groups() == [{1, 2}]


def test_parent_revealed_later_merges_the_sub_orders_conversation_into_the_parents() -> None:
    c = thread(
        message(1, orders=("P",)),
        message(2, subs=(("S1", None),)),
        message(3, orders=("P",), subs=(("S1", "P"),)),
    )
    assert c.groups() == [{1, 2, 3}]


def test_order_ids_only_in_quoted_text_never_override_the_reply_context() -> None:
    c = thread(
        message(1, orders=("A",)),
        message(2, subject="other matter"),
        message(3, reply_to=2, orders=("A",), quoted=True),
    )
    assert c.groups() == [{1}, {2, 3}]


def test_quoted_order_ids_find_the_existing_conversation_when_nothing_else_does() -> None:
    c = thread(message(1, orders=("A",)), message(2, orders=("A",), quoted=True, customer=None))
    assert c.groups() == [{1, 2}]


def test_message_with_nothing_to_go_by_starts_its_own_conversation() -> None:
    c = thread(message(1, customer=None), message(2, customer=None))
    assert c.groups() == [{1}, {2}]


def test_a_merge_moves_later_replies_to_the_surviving_conversation() -> None:
    c = thread(
        message(1, orders=("A",)),
        message(2, subject="lid"),
        message(3, reply_to=2, orders=("A",)),
        message(4, reply_to=2),
    )
    assert c.groups() == [{1, 2, 3, 4}]
