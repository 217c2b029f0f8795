"""The gateway's pure parts: sliding-window limits and the replies a mail client shows."""

from __future__ import annotations

from maild.gateway.limits import Window
from maild.gateway.replies import MAX_LINES, policy_refusal, sender_allowed, sender_refusal
from maild.outbound.model import Violation


def test_a_window_allows_the_limit_then_refuses_until_the_oldest_event_ages_out() -> None:
    window = Window(limit=3, span_s=60.0)
    for at in (0.0, 10.0, 20.0):
        assert not window.full("peer", at)
        window.add("peer", at)
    assert window.full("peer", 30.0)
    assert window.retry_after("peer", 30.0) == 30.0
    assert not window.full("other", 30.0)
    assert not window.full("peer", 60.0)  # the event at 0 is a full span old
    assert window.retry_after("peer", 60.0) == 0.0


def test_a_window_forgets_keys_without_recent_events() -> None:
    window = Window(limit=1, span_s=10.0)
    for n in range(5000):
        window.add(f"peer-{n}", n / 1000)  # five seconds of a scan from 5000 addresses
    assert len(window) == 5000  # all within one window: nothing to forget
    for n in range(5000):
        window.add(f"late-{n}", 100.0 + n / 1000)
    assert len(window) == 5000  # the first addresses were swept when the table doubled
    assert window.full("late-4999", 105.0) and not window.full("peer-1", 105.0)


LINK = Violation(
    "external-link",
    (22, 46),
    "shop-tracking[.]com/p/112",
    "a disguised link to shop-tracking.com; remove it or use the order page",
)
PHONE = Violation("contact-info", (3, 18), "+1 415-555-2671", "remove the phone number", "subject")


def test_a_policy_refusal_is_550_5_7_1_with_one_line_per_violation() -> None:
    reply = policy_refusal([LINK, PHONE])
    lines = reply.split("\r\n")
    assert [line[:10] for line in lines] == ["550-5.7.1 ", "550-5.7.1 ", "550 5.7.1 "]
    assert "(2 problems)" in lines[0]
    assert lines[1] == (
        '550-5.7.1 external-link: external link "shop-tracking[.]com/p/112" (the text,'
        " characters 23-46) is not allowed; a disguised link to shop-tracking.com; remove it"
        " or use the order page"
    )
    assert lines[2].endswith(
        '"+1 415-555-2671" (the subject, characters 4-18) is not allowed; remove the phone number'
    )
    assert all(len(line.encode()) <= 510 for line in lines)


def test_an_attachment_is_named_by_its_place() -> None:
    exe = Violation("attachment", (1, 2), "setup.exe", "send a pdf instead", "attachments")
    assert '"setup.exe" (attachment 2) is not allowed' in policy_refusal([exe])


def test_a_refusal_keeps_a_handful_of_lines_and_cuts_long_text() -> None:
    many = [Violation("marketing", (i, i + 1), "优惠券" * 100, "x" * 900) for i in range(20)]
    lines = policy_refusal(many).split("\r\n")
    assert len(lines) == MAX_LINES + 2
    assert lines[-1] == f"550 5.7.1 ... and {20 - MAX_LINES} more of the same kinds"
    assert all(len(line.encode()) <= 510 for line in lines)
    assert all("\n" not in line and "\r" not in line for line in lines)


def test_sender_addresses_compare_without_case_and_the_refusal_lists_the_allowed() -> None:
    allowed = ("support@shop.example", "alice@shop.example")
    assert sender_allowed("Support@Shop.Example", allowed)
    assert not sender_allowed("boss@shop.example", allowed)
    assert sender_refusal("boss@shop.example", allowed) == (
        "550 5.7.1 You may not send as boss@shop.example; use support@shop.example or"
        " alice@shop.example (ask the operator to add the address to your agent's senders)"
    )
