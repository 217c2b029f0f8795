"""A conversation's summary: who waits since when, counted from people's messages only."""

from datetime import UTC, datetime, timedelta

from maild.domain import Direction
from maild.threads.summary import Event, ThreadMessage, summarize

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def msg(
    hours: float,
    direction: Direction = "in",
    *,
    machine: bool = False,
    customer: str | None = "buyer@relay.example",
    name: str | None = None,
    subs: tuple[str, ...] = (),
    event: Event | None = None,
) -> ThreadMessage:
    return ThreadMessage(
        at=T0 + timedelta(hours=hours),
        direction=direction,
        machine=machine,
        subject=f"subject at {hours}",
        subject_key=f"subject at {hours}",
        customer_address=customer,
        customer_name=name,
        sub_orders=subs,
        event=event,
    )


def test_unanswered_customer_message_waits_since_it_arrived() -> None:
    summary = summarize([msg(0), msg(2)])
    assert summary.awaiting_since == T0
    assert summary.last_inbound_at == T0 + timedelta(hours=2)


def test_seller_reply_ends_the_wait_and_a_new_question_starts_another() -> None:
    assert summarize([msg(0), msg(1, "out")]).awaiting_since is None
    assert summarize([msg(0), msg(1, "out"), msg(5)]).awaiting_since == T0 + timedelta(hours=5)


def test_each_wait_a_reply_ends_is_kept_from_its_first_question_to_the_reply() -> None:
    messages = [msg(0), msg(1), msg(2, "out"), msg(3, "out"), msg(4, "out", machine=True), msg(5)]
    hours = [(asked - T0, replied - T0) for asked, replied in summarize(messages).answered]
    # The second reply ends no wait; an auto-reply ends none; the last question waits.
    assert hours == [(timedelta(0), timedelta(hours=2))]
    assert summarize([*messages, msg(7, "out")]).answered[1] == (
        T0 + timedelta(hours=5),
        T0 + timedelta(hours=7),
    )


def test_auto_replies_neither_start_nor_stop_the_wait() -> None:
    assert summarize([msg(0), msg(1, "out", machine=True)]).awaiting_since == T0
    assert summarize([msg(0, "out"), msg(1, machine=True)]).awaiting_since is None


def test_order_of_arrival_does_not_matter() -> None:
    messages = [msg(3, "out"), msg(1), msg(6)]
    assert summarize(messages) == summarize(list(reversed(messages)))
    assert summarize(messages).awaiting_since == T0 + timedelta(hours=6)


def test_reply_at_the_same_instant_as_the_question_answers_it() -> None:
    assert summarize([msg(0, "out"), msg(0)]).awaiting_since is None


def test_customer_is_who_wrote_in_first_not_a_bounce_or_the_seller() -> None:
    summary = summarize(
        [
            msg(0, "out", customer="first-recipient@mail.example"),
            msg(1, machine=True, customer="mailer-daemon@mx.example"),
            msg(2, customer="buyer@relay.example", name="Ann Lee"),
        ]
    )
    assert (summary.customer_address, summary.customer_name) == ("buyer@relay.example", "Ann Lee")
    assert summary.subject == "subject at 0"


def test_sub_orders_counted_once_and_after_sale_only_from_the_customer() -> None:
    summary = summarize(
        [msg(0, subs=("S1",)), msg(1, subs=("S1", "S2")), msg(2, "out", subs=("S3",))]
    )
    assert (summary.sub_orders, summary.after_sale_sub_orders) == (3, 2)
    assert summary.messages == 3


def test_a_hand_off_takes_the_conversation_off_the_clock_for_good() -> None:
    summary = summarize([msg(0), msg(1, event="handoff"), msg(3), msg(4, "out"), msg(5)])
    assert (summary.lifecycle, summary.awaiting_since) == ("escalated", None)
    assert summary.escalated_at == T0 + timedelta(hours=1)
    assert summary.answered == ()  # the platform's service answered, not the seller


def test_a_returned_ticket_waits_for_the_platform_and_its_next_message_restarts_the_clock() -> None:
    returned = summarize([msg(0), msg(1, "out", event="returned")])
    assert (returned.lifecycle, returned.awaiting_since) == ("returned", None)
    assert returned.answered == ((T0, T0 + timedelta(hours=1)),)
    again = summarize([msg(0), msg(1, "out", event="returned"), msg(6)])
    assert (again.lifecycle, again.awaiting_since) == (None, T0 + timedelta(hours=6))


def test_a_closing_notice_closes_and_only_a_later_message_reopens() -> None:
    closed = summarize([msg(0), msg(2), msg(3, event="closed")])
    assert (closed.lifecycle, closed.awaiting_since) == ("closed", None)
    reopened = summarize([msg(0), msg(3, event="closed"), msg(9)])
    assert (reopened.lifecycle, reopened.awaiting_since) == (None, T0 + timedelta(hours=9))


def test_an_ordinary_reply_does_not_return_a_ticket() -> None:
    assert summarize([msg(0), msg(1, "out")]).lifecycle is None


def test_an_automatic_hand_off_notice_still_hands_off_but_other_machine_mail_moves_nothing() -> (
    None
):
    automatic = summarize([msg(0), msg(1, machine=True, event="handoff"), msg(2)])
    assert (automatic.lifecycle, automatic.awaiting_since) == ("escalated", None)
    assert automatic.last_inbound_at == T0 + timedelta(hours=2)
    auto_reply = summarize([msg(0), msg(1, machine=True)])
    assert (auto_reply.lifecycle, auto_reply.awaiting_since) == (None, T0)
