"""Boundaries, parameters, transfer encodings and HTML text, one behaviour per test."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maild.ingest import mime, params, payload
from maild.ingest.fields import FieldSet
from maild.ingest.htmltext import MAX_HTML_CHARS, read_html
from maild.ingest.notes import Notes
from maild.ingest.params import Param, filename, media_type, parameters
from maild.ingest.parse import parse

HEAD = b"From: a@b.example\r\nSubject: s\r\n"
BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def parts_of(body: bytes, boundary: bytes = b"B") -> tuple[list[bytes], bool]:
    ranges, closed = mime.split(body, 0, len(body), boundary)
    return [body[start:end] for start, end in ranges], closed


def test_split_basic_with_preamble_epilogue_and_padding() -> None:
    body = b"preamble\r\n--B\r\none\r\n--B  \t\r\ntwo\n\n--B--\r\nepilogue --B\r\n"
    assert parts_of(body) == ([b"one", b"two\n"], True)


def test_split_ignores_longer_boundaries_and_mid_line_matches() -> None:
    body = b"--B\r\n--B-inner\r\nx --B\r\n--B\r\nlast\r\n--B--"
    assert parts_of(body) == ([b"--B-inner\r\nx --B", b"last"], True)


def test_split_truncated_and_limited() -> None:
    assert parts_of(b"--B\r\nhalf a part") == ([b"half a part"], False)
    body = b"".join(b"--B\r\n%d\r\n" % i for i in range(10))
    ranges, closed = mime.split(body, 0, len(body), b"B", limit=3)
    assert (len(ranges), closed) == (3, True)


def test_digest_parts_default_to_attached_messages() -> None:
    raw = (
        HEAD + b"Content-Type: multipart/digest; boundary=D\r\n\r\n--D\r\n\r\n"
        b"Subject: inner\r\n\r\nforwarded text\r\n--D--\r\n"
    )
    parsed = parse(raw)
    assert [a.content_type for a in parsed.attachments] == ["message/rfc822"]
    assert parsed.text == ""


@pytest.mark.parametrize(
    ("part", "text", "attachments"),
    [
        (b"Content-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nfile", "", 1),
        (b'Content-Type: text/plain; name="notes.txt"\r\n\r\nfile', "", 1),
        (b"Content-Type: text/plain\r\nContent-Disposition: inline\r\n\r\nfile", "file", 0),
        (b"Content-Type: text/rfc822-headers\r\n\r\nSubject: 113-1111111-1111111", "", 1),
        (b"Content-Type: message/delivery-status\r\n\r\nStatus: 5.1.1", "", 1),
        (b"Content-Type: text/plain\r\nfile", "file", 0),  # no blank line after the headers
        (b"Not a header\r\nfile", "Not a header\nfile", 0),  # no headers at all
        (b"\r\nfile", "file", 0),
    ],
)
def test_which_parts_are_text(part: bytes, text: str, attachments: int) -> None:
    raw = HEAD + b"Content-Type: multipart/mixed; boundary=M\r\n\r\n--M\r\n" + part + b"\r\n--M--"
    parsed = parse(raw)
    assert (parsed.text, len(parsed.attachments)) == (text, attachments)


def test_top_level_attachment_and_plain_preferred_over_html() -> None:
    pdf = parse(HEAD + b"Content-Type: application/pdf\r\n\r\n%PDF")
    assert (pdf.text, [a.size for a in pdf.attachments]) == ("", [4])
    alt = parse(
        HEAD + b"Content-Type: multipart/alternative; boundary=A\r\n\r\n--A\r\n"
        b"Content-Type: text/html\r\n\r\n<p>html words</p>\r\n--A\r\n"
        b"Content-Type: text/plain\r\n\r\nplain words\r\n--A--"
    )
    assert (alt.text, alt.html) == ("plain words", True)


def test_media_type_and_parameters() -> None:
    assert media_type(b"Text/HTML ; charset=x", "text/plain") == "text/html"
    assert media_type(b"garbage", "text/plain") == "text/plain"
    assert media_type(None, "message/rfc822") == "message/rfc822"
    params = parameters(b'text/plain; Charset="utf-8"; name="a \\"b\\";c"; x=1;;broken')
    assert params["charset"] == Param(b"utf-8")
    assert params["name"] == Param(b'a "b";c')
    assert parameters(b'a/b; name="unclosed') == {"name": Param(b"unclosed")}


@pytest.mark.parametrize(
    ("disposition", "expected"),
    [
        (b"attachment; filename*=UTF-8''%E5%8F%91%E7%A5%A8.pdf", "发票.pdf"),
        (b"attachment; filename*0*=gb2312''%B7%A2; filename*1*=%C6%B1.pdf", "发票.pdf"),
        (b"attachment; filename*1=b.txt; filename*0=a", "ab.txt"),
        (b'attachment; filename="=?GBK?B?t6LGsQ==?=.pdf"', "发票.pdf"),
        (b"attachment; filename*=''plain.txt", "plain.txt"),
        ('attachment; filename="发票.pdf"'.encode("gbk"), "发票.pdf"),
        (b"attachment", None),
    ],
)
def test_filenames(disposition: bytes, expected: str | None) -> None:
    assert filename(parameters(disposition), {}, Notes()) == expected


def body(encoded: bytes, encoding: str) -> payload.Body:
    return payload.Body(encoded, 0, len(encoded), encoding)


@pytest.mark.parametrize(
    ("encoded", "decoded", "damaged"),
    [
        (b"aGVsbG8=", b"hello", False),
        (b"aGVs\r\nbG8=\r\n", b"hello", False),
        (b"aGVsbG8", b"hello", True),  # padding missing
        (b"aGV!!sbG8=", b"hello", True),  # junk
        (b"aGVsbG8=aGk=", b"hello", False),  # padding ends the data
        (b"aGVsbG8gx", b"hello ", True),  # half a byte at the end
    ],
)
def test_base64(encoded: bytes, decoded: bytes, damaged: bool) -> None:
    part = body(encoded, "base64")
    assert payload.read(part, 100) == (decoded, False)
    assert part.damaged is damaged


def base64_reference(encoded: bytes) -> tuple[bytes, bool]:
    """Damaged base64 read as the payload docstring says, in one piece: junk and what
    follows the padding are dropped, a missing padding or a half byte are damage."""
    kept = bytes(c for c in encoded if c not in b" \t\r\n")
    clean = bytes(c for c in kept if c in BASE64_ALPHABET)
    pad = clean.find(b"=")
    data = clean if pad < 0 else clean[:pad]
    damaged = len(clean) != len(kept) or (pad < 0 and len(data) % 4 != 0)
    if len(data) % 4 == 1:
        damaged, data = True, data[:-1]
    return base64.b64decode(data + b"=" * (-len(data) % 4)), damaged


PIECES = [*(bytes([c]) for c in BASE64_ALPHABET), b"\r\n", b" ", b"!", b"\xff"]


@settings(max_examples=500)
@given(st.lists(st.sampled_from(PIECES)), st.integers(1, 40))
def test_base64_reads_as_the_reference_in_any_windows(pieces: list[bytes], window: int) -> None:
    encoded = b"".join(pieces)
    part = body(encoded, "base64")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(payload, "_WINDOW", window)  # many windows, cut anywhere
        assert payload.read(part, len(encoded) + 1) == (base64_reference(encoded)[0], False)
    assert part.damaged is base64_reference(encoded)[1]


def test_windows_do_not_split_encodings() -> None:
    data = hashlib.sha512(b"x").digest() * 50_000  # 3.2 MB: several 1 MiB windows
    assert payload.measure(body(base64.encodebytes(data), "base64")) == (
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    qp = binascii.b2a_qp(data)
    assert payload.read(body(qp, "quoted-printable"), len(data) + 1) == (data, False)


def test_quoted_printable_without_line_breaks() -> None:
    data = bytes(range(256)) * 8000  # 2 MB on one encoded line: windows cut at no newline
    encoded = binascii.b2a_qp(data).replace(b"=\n", b"")
    assert payload.read(body(encoded, "quoted-printable"), len(data) + 1) == (data, False)


def test_empty_plain_alternative_falls_back_to_html() -> None:
    parsed = parse(
        HEAD + b"Content-Type: multipart/alternative; boundary=A\r\n\r\n--A\r\n"
        b"Content-Type: text/plain\r\n\r\n \r\n--A\r\n"
        b"Content-Type: text/html\r\n\r\n<p>only in html</p>\r\n--A--"
    )
    assert parsed.text == "only in html"


def test_read_limit() -> None:
    assert payload.read(body(b"x" * 10, "7bit"), 4) == (b"xxxx", True)


@pytest.mark.parametrize("encoding", ["", "7bit", "8bit", "binary", "x-unknown"])
@pytest.mark.parametrize("limit", [0, 9, 10, 11])
def test_a_body_read_whole_is_what_its_windows_join_to(encoding: str, limit: int) -> None:
    part = body(b"ab=3D\r\nxyz", encoding)  # 10 bytes: the limit is below, at and above it
    whole = b"".join(part.chunks())
    assert payload.read(part, limit) == (whole[:limit], len(whole) > limit)


def test_html_is_read_as_the_text_a_reader_sees() -> None:
    html = (
        "<!DOCTYPE html><html><head><title>T</title><style>p{}</style></head><body>"
        "<div>Hi,</div><div><br></div><div>the <b>lamp</b>&nbsp;&amp; cable</div>"
        "<table><tr><td>Item</td><td>Qty</td></tr><tr><td>Lamp</td><td>1</td></tr></table>"
        "<p>para</p><p>two<br>lines</p><ul><li>a</li><li>b</li></ul>"
        '<img src="x" alt="[logo]"> a < b <script>if (a<b) x()</script>end<!-- note'
    )
    page = read_html(html)
    assert (page.text, page.cut) == (
        "Hi,\n\nthe lamp & cable\nItem Qty\nLamp 1\npara\n\ntwo\nlines\n\na\nb\n[logo] a < b end",
        False,
    )


@pytest.mark.parametrize(
    "html",
    ["<a " * 300_000, "<" * 500_000, "< " * 300_000 + ">", "<a b='" * 150_000, "<p>" * 200_000],
    ids=["unclosed-tags", "lt-run", "lt-space-run", "open-quotes", "many-blocks"],
)
def test_html_that_stalls_html_parser_is_linear_here(html: str) -> None:
    page = read_html(html)
    assert isinstance(page.text, str)
    assert page.cut is (len(html) > MAX_HTML_CHARS)


def spellings(name: str) -> list[str]:
    """The usual spellings of a field name (which FieldSet looks up) and odd ones."""
    title = name.title()
    return [name, name.upper(), title, title.replace("-Id", "-ID"), name.capitalize(), "sUbJeCt"]


@settings(max_examples=200)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["subject", "message-id", "content-type", "x-other"]).flatmap(
                lambda name: st.sampled_from(spellings(name))
            ),
            st.sampled_from(["v", "w x", ""]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_field_names_are_read_in_any_spelling_as_lower_case(
    lines: list[tuple[str, str]],
) -> None:
    names = ("subject", "message-id", "content-type")
    raw = b"".join(f"{name}: {value}\r\n".encode() for name, value in lines)
    expected: dict[str, bytes] = {}
    for name, value in lines:
        if name.lower() in names:
            expected.setdefault(name.lower(), value.encode())
    for start in (0, 2):  # the first line starting the data, and a block after a blank line
        data = b"\r\n"[:start] + raw
        found = FieldSet(names).read(data, start, len(data), Notes())
        assert found == expected
        assert list(found) == list(expected)


# The parameter pattern as it was before its quoted value was unrolled: the reference.
_PARAM_BY_CHARACTER = re.compile(
    rb';[ \t]*([^\s=;"]+)[ \t]*=[ \t]*("(?:[^"\\]|\\.)*"?|[^;]*)', re.DOTALL
)


@settings(max_examples=1000)
@given(st.text(alphabet="ab0.-*9/", max_size=12))
def test_parameter_names_split_as_the_lazy_pattern_split_them(name: str) -> None:
    lazy = re.compile(r"([a-z0-9._-]+?)(?:\*([0-9]{1,3}))?(\*?)").fullmatch(name)
    found = params._NAME.fullmatch(name)
    assert (found and found.groups()) == (lazy and lazy.groups())


@settings(max_examples=2000)
@given(
    st.lists(
        st.sampled_from([b";", b"=", b'"', b"\\", b" ", b"\t", b"\n", b"a", b"*0*", b"'"]),
        max_size=30,
    ).map(b"".join)
)
def test_parameters_are_split_as_the_per_character_pattern_split_them(value: bytes) -> None:
    def found(pattern: re.Pattern[bytes]) -> list[tuple[tuple[int, int], bytes, bytes]]:
        return [(m.span(), m[1], m[2]) for m in pattern.finditer(value)]

    assert found(params._PARAM) == found(_PARAM_BY_CHARACTER)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(b'a/b; name="x\\"y"', b'x"y'), (b'a/b; name="xy"', b"xy"), (b'a/b; name="x\\', b"x")],
    ids=["escape", "no-escape", "trailing-backslash"],
)
def test_quoted_values_with_and_without_escapes(value: bytes, expected: bytes) -> None:
    assert parameters(value)["name"] == Param(expected)
