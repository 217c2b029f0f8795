# Chinese text uses fullwidth punctuation (U+FF0C, U+FF1F, U+FF01) on purpose.
"""Realistic marketplace customer-service mail, generated deterministically.

Benchmarks and ingest tests need many messages that look like what sellers really get:
buyer questions in English and Chinese, order IDs in the subject and body, a text plus
an HTML part (about 13 KB in all), and the trace a delivered message carries: a chain
of ``Received`` headers as long as real mail's (:data:`HOPS`). The same ``(i, seed)``
always gives the same bytes, so a failing test can be replayed. The messages are
assembled as text, not with the ``email`` package: at about 0.2 ms a message, 50,000
are built in about ten seconds.
"""

from __future__ import annotations

import base64
import binascii
import random
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Literal, TypedDict, Unpack

__all__ = ["MessageOverrides", "make_message", "make_messages", "order_id"]

Language = Literal["en", "zh"]

EPOCH = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
#: How many ``Received`` headers a message carries, and how often: the counts in the
#: 9,948 ham messages with full headers in ``shared/corpora/dev.jsonl.gz`` (median 4,
#: mean 5.0; none is counted as one, twelve or more as twelve). A parser that reads
#: every trace header (mail-parser does) pays for each, so benchmark mail with a single
#: hop would flatter it.
HOPS: dict[int, int] = {
    1: 844, 2: 731, 3: 2945, 4: 455, 5: 861, 6: 1251,
    7: 1206, 8: 410, 9: 653, 10: 186, 11: 47, 12: 359,
}  # fmt: skip
# Hops before the marketplace's relay handed the message to the seller's server (the
# first Received header), newest first; {n} varies the host, {id} the queue ID, {ip} the
# last octet of a documentation address (RFC 5737, RFC 3849).
RELAYS = [
    "from out{n}.relay.marketplace.example (out{n}.relay.marketplace.example "
    "[203.0.113.{ip}])\n\tby mx{n}.marketplace.example with ESMTPS id {id}\n\t"
    "(version=TLS1_3 cipher=TLS_AES_128_GCM_SHA256)",
    "from localhost (localhost [127.0.0.1])\n\tby relay{n}.marketplace.example (Postfix) "
    "with ESMTP id {id}",
    "from filter{n}.marketplace.example (filter{n}.marketplace.example [198.51.100.{ip}])"
    "\n\tby relay{n}.marketplace.example (Postfix) with ESMTPS id {id}",
    "from mail-{n}.outbound.mailhost.example (mail-{n}.outbound.mailhost.example "
    "[192.0.2.{ip}])\n\tby filter1.marketplace.example (8.15.2/8.15.2) with ESMTPS id {id}"
    "\n\t(envelope-from <buyer@buyers.example>)",
    "by 2001:db8:{n}::{ip} with SMTP id {id}",
]
FIRST_NAMES = ["Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Ethan", "Zoe", "Omar"]
LAST_NAMES = ["Smith", "Garcia", "Müller", "Johnson", "Brown", "Rossi", "Kim", "Nguyen", "Ali"]
ZH_NAMES = ["王伟", "李娜", "张敏", "刘洋", "陈静", "杨磊", "赵丽", "黄强"]
PRODUCTS = [
    "Stainless Steel Water Bottle 750 ml",
    "Wireless Earbuds with Charging Case",
    "Ceramic Non-Stick Frying Pan 28 cm",
    "USB-C Fast Charger 65 W",
    "Memory Foam Pillow (Set of 2)",
    "LED Desk Lamp with Dimmer",
]
EN_SUBJECTS = [
    "Where is my order {oid}?",
    "Return request for order {oid}",
    "Item arrived damaged - Order {oid}",
    "Refund not received ({oid})",
    "Re: Your question about order {oid}",
    "Wrong item received, order #{oid}",
    "Question about a product",
    "Buyer message: can you ship faster?",
]
ZH_SUBJECTS = [
    "订单 {oid} 什么时候发货？",
    "关于订单 {oid} 的退货申请",
    "商品破损，订单号 {oid}",
    "还没有收到退款 {oid}",
    "请问这个商品有其他颜色吗？",
]
EN_LINES = [
    "I placed order {oid} on {day} and the tracking page has not changed for five days.",
    "The {product} arrived today but the box was crushed and the item does not work.",
    "Could you please tell me when I can expect the refund to appear on my card?",
    "I would like to return the {product} because it is not what the listing described.",
    "Please send a replacement instead of a refund if that is possible.",
    "I have attached photos of the packaging and the serial number label.",
    "My address is correct in the order, so I do not understand why it was returned.",
    "Thank you for your help, I have been a happy customer of your shop for years.",
]
ZH_LINES = [
    "我在{day}下的订单 {oid}，物流信息已经五天没有更新了。",
    "今天收到的{product}包装破损，商品无法正常使用。",
    "请问退款大概什么时候能退回到我的银行卡？",
    "商品和页面描述不符，我想申请退货退款。",
    "如果可以的话，请给我补发一个新的，不需要退款。",
    "我已经附上了包装和序列号标签的照片。",
    "订单里的地址是正确的，不明白为什么包裹被退回了。",
    "谢谢你们的帮助，我一直是你们店铺的老顾客。",
]
SELLER_LINES = [
    "Thank you for contacting us about order {oid}. We are sorry for the inconvenience.",
    "Our warehouse confirmed that the parcel left on time; the carrier is investigating.",
    "We have issued a prepaid return label, which you will find in your order history.",
    "Refunds are processed within 3-5 business days after the return is scanned.",
    "If the item is damaged, please reply with a photo and we will send a replacement.",
    "Please do not open a claim yet; we will resolve this for you within 48 hours.",
]
FOOTER = (
    "This message was sent through the marketplace Buyer-Seller Messaging service. "
    "Replies to this message are delivered to the buyer; do not include links, "
    "personal contact details or payment requests. Messages are screened for fraud."
)


class MessageOverrides(TypedDict, total=False):
    """Fields a test may pin instead of taking the generated ones."""

    subject: str
    sender: str  # a full From value, e.g. '"Emma Smith" <emma@buyers.example>'
    recipient: str
    message_id: str  # without angle brackets
    date: datetime
    order_id: str
    language: Language
    in_reply_to: str  # a Message-ID without angle brackets
    headers: Mapping[str, str]  # extra headers, ASCII, added as given (may replace ours)
    one_hop: bool  # only the relay's Received header, as this generator made before HOPS


def order_id(rng: random.Random) -> str:
    """An Amazon-style order ID such as ``123-1234567-1234567``."""
    return f"{rng.randrange(10**3):03d}-{rng.randrange(10**7):07d}-{rng.randrange(10**7):07d}"


def make_message(i: int, seed: int = 0, **overrides: Unpack[MessageOverrides]) -> bytes:
    """Message number ``i`` of the stream for ``seed``, as CRLF-terminated bytes."""
    rng = random.Random(f"maild-mailgen:{seed}:{i}")
    # Every default is drawn even when overridden, so overriding one field leaves the
    # others as they were (except "language", which changes all the text).
    language: Language = overrides.get("language", "zh" if rng.random() < 0.2 else "en")
    oid = overrides.get("order_id", order_id(rng))
    date = overrides.get("date", EPOCH + timedelta(minutes=7 * i, seconds=rng.randrange(420)))
    template = rng.choice(ZH_SUBJECTS if language == "zh" else EN_SUBJECTS)
    subject = overrides.get("subject", template.format(oid=oid))
    sender = overrides.get("sender", _sender(rng, language, i))
    message_id = overrides.get("message_id", f"{seed}.{i}.{rng.getrandbits(48):012x}@mail.example")
    paragraphs = _paragraphs(rng, language, oid, date)
    boundary = f"=_maild_{seed}_{i}_{rng.getrandbits(32):08x}"

    headers = {
        "Return-Path": f"<bounce-{i}@marketplace.example>",
        "Received": f"from mx{rng.randrange(1, 9)}.marketplace.example (mx.marketplace.example "
        f"[192.0.2.{rng.randrange(1, 255)}])\n\tby mail.seller.example with ESMTPS id "
        f"{rng.getrandbits(40):010X};\n\t{format_datetime(date)}",
        "From": sender,
        "To": overrides.get("recipient", "Seller Support <support@seller.example>"),
        "Subject": _encode_header(subject),
        "Date": format_datetime(date),
        "Message-ID": f"<{message_id}>",
        "MIME-Version": "1.0",
        "Content-Type": f'multipart/alternative; boundary="{boundary}"',
    }
    if "in_reply_to" in overrides:
        headers["In-Reply-To"] = headers["References"] = f"<{overrides['in_reply_to']}>"
    headers.update(overrides.get("headers", {}))

    quoted = _quoted_reply(rng, date, oid)
    quote = "\n".join(f"> {line}" for line in quoted)
    text = "\n\n".join([*paragraphs, quote, FOOTER])
    html = _html(rng, paragraphs, quoted, oid)
    lines = [f"{name}: {value}" for name, value in headers.items()]
    if not overrides.get("one_hop", False):
        lines[2:2] = _trace(seed, i, date)  # below the newest hop, the relay's
    lines += ["", "This is a multi-part message in MIME format.", ""]
    lines += _part(boundary, "text/plain", text) + _part(boundary, "text/html", html)
    lines += [f"--{boundary}--", ""]
    return "\n".join(lines).replace("\n", "\r\n").encode("ascii")


def make_messages(n: int, seed: int = 0, *, one_hop: bool = False) -> Iterator[bytes]:
    """The first ``n`` messages of the stream for ``seed``, built lazily."""
    return (make_message(i, seed, one_hop=one_hop) for i in range(n))


def _trace(seed: int, i: int, date: datetime) -> list[str]:
    """The hops before the relay's own ``Received`` header, drawn from a random stream
    of their own, so that every other byte of a message is what it was without them."""
    rng = random.Random(f"maild-mailgen-trace:{seed}:{i}")
    (hops,) = rng.choices(list(HOPS), weights=list(HOPS.values()))
    return [
        "Received: "
        + rng.choice(RELAYS).format(
            n=rng.randrange(1, 40), ip=rng.randrange(1, 255), id=f"{rng.getrandbits(40):010X}"
        )
        + f";\n\t{format_datetime(date - timedelta(seconds=hop + 1))}"
        for hop in range(hops - 1)
    ]


def _sender(rng: random.Random, language: Language, i: int) -> str:
    if language == "zh":
        return f"{_encode_header(rng.choice(ZH_NAMES))} <buyer{i}@buyers.example.cn>"
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    # An encoded word inside a quoted string is not decoded (RFC 2047 section 5).
    display = f'"{name}"' if name.isascii() else _encode_header(name)
    return f"{display} <buyer{i}@buyers.example>"


def _paragraphs(rng: random.Random, language: Language, oid: str, date: datetime) -> list[str]:
    pool = ZH_LINES if language == "zh" else EN_LINES
    day = date.strftime("%Y-%m-%d")
    greeting = "您好，" if language == "zh" else "Hello,"
    paragraphs = [greeting]
    for _ in range(rng.randrange(9, 15)):
        product = rng.choice(PRODUCTS)
        sentences = rng.choices(pool, k=3)
        # One sentence per line keeps every line far below SMTP's 998-octet limit.
        paragraphs.append("\n".join(s.format(oid=oid, day=day, product=product) for s in sentences))
    paragraphs.append("谢谢！" if language == "zh" else "Best regards,")
    return paragraphs


def _quoted_reply(rng: random.Random, date: datetime, oid: str) -> list[str]:
    """The seller's earlier answer, quoted below the buyer's text as mail clients do."""
    when = format_datetime(date - timedelta(days=rng.randrange(1, 6)))
    picked = rng.choices(SELLER_LINES, k=4)
    return [f"On {when}, Seller Support wrote:", *(line.format(oid=oid) for line in picked)]


def _html(rng: random.Random, paragraphs: list[str], quoted: list[str], oid: str) -> str:
    """Marketplace HTML mail is mostly inline-styled table markup; so is this."""
    style = "font-family:Arial,Helvetica,sans-serif;font-size:14px;color:#111111;line-height:20px"
    cell = f'<td style="{style};padding:4px 12px 4px 12px">'
    body = "\n".join(f"<tr>{cell}{paragraph}</td></tr>" for paragraph in paragraphs)
    items = "\n".join(
        f"<tr>{cell}{product}</td>{cell}{rng.randrange(1, 4)}</td>"
        f"{cell}${rng.randrange(500, 9000) / 100:.2f}</td></tr>"
        for product in rng.sample(PRODUCTS, rng.randrange(1, 4))
    )
    quote = "<br>\n".join(quoted)
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Buyer message</title></head>
<body style="margin:0;padding:0;background:#f3f3f3">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" \
style="max-width:640px;margin:0 auto;background:#ffffff">
<tr><td style="{style};font-weight:bold;padding:12px">Order {oid}</td></tr>
{body}
<tr><td><table role="presentation" width="100%" style="border-collapse:collapse">
{items}
</table></td></tr>
<tr><td><blockquote style="{style};margin:0 0 0 12px;border-left:2px solid #cccccc;\
padding-left:8px;color:#555555">{quote}</blockquote></td></tr>
<tr><td style="{style};font-size:11px;color:#666666;padding:12px">{FOOTER}<br>
<a href="https://marketplace.example/messages/{oid}" style="color:#0066c0">View this \
conversation</a> | <a href="https://marketplace.example/help" style="color:#0066c0">Help</a>\
</td></tr>
</table>
</body></html>"""


def _part(boundary: str, content_type: str, body: str) -> list[str]:
    """One MIME part, encoded the way common mailers do: plain ASCII text as 7bit, ASCII
    HTML as quoted-printable (long lines, many '='), anything else as base64."""
    data = body.encode()
    if body.isascii() and content_type == "text/plain":
        encoding, encoded = "7bit", body
    elif body.isascii():
        encoding = "quoted-printable"
        encoded = binascii.b2a_qp(data, istext=True).decode("ascii")
    else:
        encoding = "base64"
        flat = base64.b64encode(data).decode("ascii")
        encoded = "\n".join(flat[k : k + 76] for k in range(0, len(flat), 76))
    return [
        f"--{boundary}",
        f"Content-Type: {content_type}; charset=utf-8",
        f"Content-Transfer-Encoding: {encoding}",
        "",
        encoded,
        "",
    ]


def _encode_header(value: str) -> str:
    """RFC 2047 base64 encoding for non-ASCII header text, as real mailers do."""
    if value.isascii():
        return value
    return f"=?UTF-8?B?{base64.b64encode(value.encode()).decode('ascii')}?="
