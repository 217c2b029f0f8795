"""Random byte mutations of real messages never crash the parser or break its invariants.

Mutations flip, insert (random bytes or MIME/RFC 2047 syntax, which finds far more
edge cases than random bytes alone), delete, duplicate and truncate. The only error
allowed is ParseError, and only for input left with no header field at all.
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maild.domain import ParsedMail
from maild.errors import ParseError
from maild.ingest.mime import Content
from maild.ingest.notes import Notes
from maild.ingest.parse import SELECTED_HEADERS, _text, parse
from tests.support.mailgen import make_message

MAIL = Path(__file__).resolve().parents[1] / "data" / "mail"
SEEDS = [path.read_bytes() for path in sorted(MAIL.glob("*.eml")) if path.stat().st_size]
SEEDS += [make_message(i, seed=7) for i in range(3)]
SYNTAX = [
    b"\r\n",
    b"\n",
    b"\r\n\r\n",
    b"--",
    b"=?",
    b"?=",
    b"=?gb2312?B?",
    b"?Q?",
    b";",
    b'"',
    b"=",
    b"<",
    b">",
    b"\x00",
    b"\xff\xfe",
    b"\x1b$B",
    b"boundary=",
    b"Content-Type: multipart/mixed; boundary=x\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"charset=",
    b"*0*=utf-8''%",
    b"<!--",
    b"<script>",
]
SHA256 = re.compile(r"[0-9a-f]{64}")

Mutation = tuple[int, int, int, bytes]
mutations = st.lists(
    st.tuples(
        st.integers(0, 4),  # operation
        st.integers(0, 2**20),  # position, taken modulo the length
        st.integers(1, 300),  # length
        st.one_of(st.sampled_from(SYNTAX), st.binary(min_size=1, max_size=8)),
    ),
    min_size=1,
    max_size=8,
)


def mutate(data: bytes, steps: list[Mutation]) -> bytes:
    buffer = bytearray(data)
    for operation, position, length, insert in steps:
        at = position % (len(buffer) + 1)
        if operation == 0 and at < len(buffer):
            buffer[at] = insert[0]
        elif operation == 1:
            buffer[at:at] = insert
        elif operation == 2:
            del buffer[at : at + length]
        elif operation == 3:
            buffer[at:at] = buffer[at : at + length]
        else:
            del buffer[at:]
    return bytes(buffer)


def check_invariants(parsed: ParsedMail) -> None:
    assert isinstance(parsed.text, str) and isinstance(parsed.subject, str)
    strings = [parsed.text, parsed.subject, parsed.from_name or "", parsed.from_addr or ""]
    strings += [item for pair in (*parsed.to, *parsed.cc) for item in pair]
    strings += [*parsed.headers.values(), *parsed.references, *parsed.degraded_reasons]
    strings += [parsed.message_id or "", parsed.in_reply_to or "", parsed.reply_to or ""]
    strings += [a.filename or "" for a in parsed.attachments]
    for text in strings:
        text.encode("utf-8")  # no lone surrogates: every database can store it
        assert "\x00" not in text
    assert parsed.date is None or parsed.date.utcoffset() is not None
    for attachment in parsed.attachments:
        assert attachment.size >= 0 and SHA256.fullmatch(attachment.sha256)
    assert parsed.degraded is bool(parsed.degraded_reasons)
    assert set(parsed.headers) <= set(SELECTED_HEADERS)
    assert parsed.from_addr is None or parsed.from_addr == parsed.from_addr.lower()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.sampled_from(SEEDS), steps=mutations)
def test_mutated_messages_parse_or_raise_parse_error(seed: bytes, steps: list[Mutation]) -> None:
    raw = mutate(seed, steps)
    try:
        parsed = parse(raw)
    except ParseError as error:
        assert str(error) in ("empty message", "no header fields")
        head = re.split(rb"\n\r?\n", re.sub(rb"^(?:[ \t]*\r?\n)*", b"", raw), maxsplit=1)[0]
        assert not re.search(rb"^[!-9;-~]+[ \t]*:", head, re.MULTILINE)
        return
    check_invariants(parsed)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes(raw: bytes) -> None:
    try:
        check_invariants(parse(b"From: a@b.example\r\nSubject: x\r\n" + raw))
    except ParseError as error:  # pragma: no cover - a header is always present
        raise AssertionError(raw) from error


def test_unmutated_seeds_are_clean() -> None:
    for seed in SEEDS[-3:]:
        parsed = parse(seed)
        check_invariants(parsed)
        assert not parsed.degraded


@settings(max_examples=1000)
@given(
    st.lists(st.sampled_from(["\r", "\n", "\r\n", "a", " ", "\u4e2d"]), max_size=30).map("".join)
)
def test_line_breaks_become_what_two_replacements_made_them(text: str) -> None:
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    assert _text(Content(plain=[text]), [], Notes()) == expected
