"""The bytes of an outgoing message: threading headers, CRLF, exactly what SMTP carries."""

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
from aiosmtplib.protocol import normalize_message_line_endings

from maild.classify.tags import TICKET_RETURNED, outbound_tags
from maild.ingest.identity import message_key
from maild.ingest.parse import parse
from maild.outbound.compose import (
    MAX_REFERENCES,
    TICKET_HEADER,
    Outgoing,
    compose,
    make_message_id,
    reply_subject,
)

NOW = datetime(2026, 6, 1, 8, 30, tzinfo=UTC)


def test_reply_threads_under_the_customer_message_and_keeps_its_chain() -> None:
    message = Outgoing(
        "support@shop.example",
        ("buyer@buyers.example",),
        "Re: 订单 112-1234567-1234567",
        "您好，\n.您的订单已发货。",
        sender_name="灯具店",
        in_reply_to="<c2@b>",
        references=("<c1@b>", "<c2@b>"),
    )
    raw = compose(message, "<abcdef12@shop.example>", NOW)
    parsed = message_from_bytes(raw, policy=policy.default)
    assert normalize_message_line_endings(raw) == raw  # SMTP will not change a byte
    assert parsed["In-Reply-To"] == "<c2@b>"
    assert parsed["References"].split() == ["<c1@b>", "<c2@b>"]
    assert parsed["Subject"] == "Re: 订单 112-1234567-1234567"
    assert parsed["From"].addresses[0].display_name == "灯具店"
    assert parsed.get_content().replace("\r\n", "\n") == "您好，\n.您的订单已发货。\n"
    assert message_key(raw).message_id == "<abcdef12@shop.example>"


def test_a_long_reference_chain_keeps_the_first_and_the_latest() -> None:
    chain = tuple(f"<m{i}@b>" for i in range(40))
    message = Outgoing(
        "s@shop.example", ("b@b.example",), "s", "x", in_reply_to="<m39@b>", references=chain
    )
    raw = compose(message, "<id12345@s>", NOW)
    kept = message_from_bytes(raw, policy=policy.default)["References"].split()
    assert len(kept) == MAX_REFERENCES and kept[0] == "<m0@b>" and kept[-1] == "<m39@b>"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Where is it?", "Re: Where is it?"),
        ("RE: Where", "RE: Where"),
        ("回复：发货", "回复：发货"),
    ],
)
def test_reply_subject_adds_one_prefix(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


def test_message_id_is_in_the_senders_domain_and_refuses_odd_tokens() -> None:
    assert make_message_id("Support@Shop.Example", "0123abcd") == "<0123abcd@shop.example>"
    with pytest.raises(ValueError, match="token"):
        make_message_id("s@shop.example", "a>b\r\nBcc: x")


def test_a_reply_that_returns_a_ticket_says_so_in_a_header_processing_reads_back() -> None:
    returned = Outgoing(
        "s@shop.example", ("p@platform.example",), "Re: 工单", "请补充说明", ticket="return"
    )
    plain = Outgoing("s@shop.example", ("p@platform.example",), "Re: 工单", "已处理")
    raw = compose(returned, "<abcdef12@shop.example>", NOW)
    assert message_from_bytes(raw, policy=policy.default)[TICKET_HEADER] == "return"
    assert outbound_tags(parse(raw).headers) == {TICKET_RETURNED}
    assert outbound_tags(parse(compose(plain, "<abcdef13@shop.example>", NOW)).headers) == set()
