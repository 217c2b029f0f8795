"""Charsets, encoded words, 8-bit headers and addresses, one behaviour per row."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from maild.ingest import charsets, words
from maild.ingest.addresses import read_people
from maild.ingest.notes import Notes

ORDER = "订单号 201-7788990-1122334，喆镕"  # the last two are GBK-only, not in GB2312


def b64word(text: str, codec: str, label: str) -> bytes:
    return b"=?%s?B?%s?=" % (label.encode(), base64.b64encode(text.encode(codec)))


DECODE_CASES = [
    # (bytes, declared label, expected text, expected reasons)
    (ORDER.encode("gbk"), "gb2312", ORDER, ()),
    (ORDER.encode("gb18030"), "x-gbk", ORDER, ()),
    (ORDER.encode("gbk"), "cp936", ORDER, ()),
    ("訂單 €".encode("cp950"), "big5", "訂單 €", ()),
    ("注文番号".encode("iso2022_jp"), "iso-2022-jp", "注文番号", ()),
    (b"\x93quoted\x94 caf\xe9", "iso-8859-1", "“quoted” café", ()),
    ("café".encode(), "iso-8859-1", "café", ("body: declared iso-8859-1 but content is utf-8",)),
    (ORDER.encode("gbk"), "utf-8", ORDER, ("body: declared utf-8 does not fit, read as gb18030",)),
    (
        "好的订单".encode() + b"\xff",
        "utf-8",
        "好的订单\ufffd",
        ("body: invalid utf-8 bytes replaced",),
    ),
    ("好".encode(), "x-user-defined", "好", ("body: unknown charset x-user-defined",)),
    (b"+ZeVnLIqe-", "utf-7", "+ZeVnLIqe-", ("body: unknown charset utf-7",)),  # no lone surrogates
    (ORDER.encode("gbk"), None, ORDER, ()),
    (ORDER.encode(), "us-ascii", ORDER, ()),
    ("注文".encode("iso2022_jp"), None, "注文", ()),
    ("订单".encode("utf-16"), "utf-16", "订单", ()),
]


@pytest.mark.parametrize(
    ("data", "label", "text", "reasons"),
    DECODE_CASES,
    ids=lambda value: repr(value)[:30],
)
def test_decode(data: bytes, label: str | None, text: str, reasons: tuple[str, ...]) -> None:
    notes = Notes()
    assert charsets.decode(data, charsets.declared(label), "body", notes) == text
    assert tuple(notes.reasons) == reasons


def test_declared_labels_are_normalised_and_safe() -> None:
    assert charsets.declared(' "GB2312" ') == "gb2312"
    assert charsets.declared("utf-8*en") == "utf-8"
    assert charsets.declared("") is None
    assert charsets.declared("evil\nlabel; drop table") == "invalid"


def test_cut_text_drops_a_partial_last_character() -> None:
    notes = Notes()
    data = "订单".encode()[:-1]
    assert charsets.decode(data, "utf-8", "body", notes, cut=True) == "订"
    assert notes.reasons == []


def test_lying_label_with_undecodable_bytes_is_replaced() -> None:
    notes = Notes()
    text = charsets.decode(b"\x81\x8d\x8f\x90\x9d" * 3, "utf-8", "body", notes)
    assert "\ufffd" in text
    assert notes.reasons == ["body: undecodable bytes replaced"]


HEADER_CASES = [
    (b"Plain subject", "Plain subject"),
    (b"=?UTF-8?B?6K6i5Y2V?==?utf-8?b?5Y+3?= 123", "订单号 123"),  # glued words
    (b"=?utf-8?Q?Re:_=E8=AE=A2=E5=8D=95?=  =?utf-8?q?_ok?=", "Re: 订单 ok"),
    (b"Re: =?gb2312?B?" + base64.b64encode("喆".encode("gbk")) + b"?= x", "Re: 喆 x"),
    ("订单 退款".encode(), "订单 退款"),  # RFC 6532 raw UTF-8
    ("订单 退款".encode("gbk"), "订单 退款"),  # legacy raw GBK
    (b"Folded\r\n  subject\r\n\tline", "Folded subject line"),
    (b"tab\tand\x00nul", "tab and nul"),
]


@pytest.mark.parametrize(("raw", "text"), HEADER_CASES)
def test_header_text(raw: bytes, text: str) -> None:
    assert words.header_text(raw, "subject", Notes()) == text


def test_multibyte_character_split_across_words() -> None:
    data = "陈喆的订单".encode("gbk")
    raw = b"=?gbk?B?%s?= =?GBK?B?%s?=" % (base64.b64encode(data[:3]), base64.b64encode(data[3:]))
    assert words.header_text(raw, "subject", Notes()) == "陈喆的订单"


def test_bad_word_payload_never_raises() -> None:
    notes = Notes()
    assert isinstance(words.header_text(b"=?utf-8?B?////?= =?x-bogus?Q?=FF?=", "s", notes), str)
    assert "subject" not in notes.reasons


def test_address_header_rewritten_for_mail_parser() -> None:
    notes = Notes()
    raw = b'"' + b64word("杨磊", "gbk", "gb2312") + b'" <y@x.cn>, =?utf-8?q?a=2C_b?= <ab@x.cn>'
    rewritten = words.for_address_parser(raw, "to", notes)
    assert "=?utf-8?b?" in rewritten and "gb2312" not in rewritten
    assert ", " in rewritten  # structure kept; the decoded comma stays inside a word
    assert notes.charsets == ["gb2312", "utf-8"]


def people(**headers: bytes) -> tuple[object, ...]:
    found = read_people({k.replace("_", "-"): v for k, v in headers.items()}, Notes())
    return (found.from_name, found.from_addr, found.to, found.reply_to, found.date)


ADDRESS_CASES = [
    ({"from_": b"buyer@example.com (Emma Smith)"}, ("Emma Smith", "buyer@example.com")),
    ({"from_": b'"Smith, Emma" <Emma@Example.COM>'}, ("Smith, Emma", "emma@example.com")),
    ({"from_": "王伟 <wang@x.cn>".encode("gbk")}, ("王伟", "wang@x.cn")),
    ({"from_": b'"' + b64word("王伟", "utf-8", "utf-8") + b'" <w@x.cn>'}, ("王伟", "w@x.cn")),
    ({"from_": b"Emma Smith <emma@x.com"}, ("Emma Smith", "emma@x.com")),  # unclosed angle
    ({"from_": b"Undisclosed recipients:;"}, ("Undisclosed recipients", None)),
    ({"from_": b"<@>"}, (None, None)),
]


@pytest.mark.parametrize(("headers", "sender"), ADDRESS_CASES, ids=lambda v: repr(v)[:40])
def test_sender(headers: dict[str, bytes], sender: tuple[str | None, str | None]) -> None:
    assert people(**{"from": headers["from_"]})[:2] == sender


def test_recipients_groups_and_reply_to() -> None:
    _, _, to, reply_to, _ = people(
        to=b"team: A@B.example, d@e.example;, Solo <Solo@X.example>",
        reply_to=b"Replies <Replies@Buyer.example>",
    )
    assert to == (("", "a@b.example"), ("", "d@e.example"), ("Solo", "solo@x.example"))
    assert reply_to == "replies@buyer.example"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"Mon, 4 Mar 2024 10:00:00 +0800 (CST)", datetime(2024, 3, 4, 2, tzinfo=UTC)),
        (b"Mon, 4 Mar 2024 10:00:00 +08:00", datetime(2024, 3, 4, 2, tzinfo=UTC)),
        (b"Mon, 4 Mar 2024 10:00:00 -08:30 (PST)", datetime(2024, 3, 4, 18, 30, tzinfo=UTC)),
        (b"4 Mar 24 10:00 GMT", datetime(2024, 3, 4, 10, tzinfo=UTC)),
        (b"2024-03-04 10:00:00", None),
        (b"Mon, 31 Feb 2024 10:00:00 +0800", None),
        (b"\xe6\x98\x9f\xe6\x9c\x9f\xe4\xb8\x80", None),
    ],
)
def test_date(raw: bytes, expected: datetime | None) -> None:
    assert people(date=raw)[4] == expected
