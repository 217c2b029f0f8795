"""Each package of an order: how many messages name it, and whether its after-sales case is open."""

from datetime import UTC, datetime, timedelta

from maild.domain import Direction
from maild.threads.suborders import SubOrderMessage, SubOrderStatus, sub_order_statuses

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def msg(hours: float, direction: Direction, *subs: str, machine: bool = False) -> SubOrderMessage:
    return SubOrderMessage(T0 + timedelta(hours=hours), direction, machine, subs)


def test_a_customer_message_opens_a_packages_case_and_a_reply_naming_it_answers_it() -> None:
    found = sub_order_statuses(
        [msg(0, "in", "A"), msg(1, "out", "A"), msg(2, "in", "B"), msg(3, "out", "C")]
    )
    assert found == (
        SubOrderStatus("A", 2, "answered"),
        SubOrderStatus("B", 1, "open"),
        SubOrderStatus("C", 1, "none"),
    )


def test_a_new_customer_message_reopens_and_machine_mail_only_counts() -> None:
    found = sub_order_statuses(
        [msg(0, "in", "A"), msg(1, "out", "A"), msg(2, "in", "A"), msg(3, "in", "A", machine=True)]
    )
    assert found == (SubOrderStatus("A", 4, "open"),)


def test_messages_arriving_out_of_order_are_read_in_time_order() -> None:
    assert sub_order_statuses([msg(1, "out", "A"), msg(0, "in", "A", "A")]) == (
        SubOrderStatus("A", 2, "answered"),
    )
