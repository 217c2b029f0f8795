"""Every message gets a stable identity, with or without a usable Message-ID."""

import hashlib
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maild.ingest.identity import message_key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"Message-ID: <a@b>\r\n\r\nbody", "<a@b>"),
        (b"message-id:   <a@b>  \n\nbody", "<a@b>"),
        (b"Subject: x\r\nMessage-Id:\r\n <folded@b>\r\n\r\n", "<folded@b>"),
        (b"Message-ID: <a@b> (comment)\r\n\r\n", "<a@b>"),
        (b"Message-ID: no-angle-brackets@b\r\n\r\n", "no-angle-brackets@b"),
    ],
    ids=["crlf", "lf-and-case", "folded", "comment", "bare"],
)
def test_message_id_is_read_from_the_header(raw: bytes, expected: str) -> None:
    key = message_key(raw)
    assert (key.message_id, key.synthetic) == (expected, False)


@pytest.mark.parametrize(
    "raw",
    [
        b"Subject: no id\r\n\r\nbody",
        b"Message-ID:\r\n\r\nbody",
        b"Subject: x\r\n\r\nMessage-ID: <in-body@b>\r\n",
        b"",
        b"Message-ID: <" + b"x" * 2000 + b">\r\n\r\n",
    ],
    ids=["missing", "empty", "only-in-body", "empty-message", "too-long"],
)
def test_message_without_usable_id_gets_a_synthetic_one_from_its_digest(raw: bytes) -> None:
    key = message_key(raw)
    digest = hashlib.sha256(raw).hexdigest()
    assert key == type(key)(f"<{digest}@maild.invalid>", digest, synthetic=True)
    assert message_key(raw) == key


def test_same_id_with_different_bytes_gives_different_digests() -> None:
    first = message_key(b"Message-ID: <a@b>\r\n\r\none")
    second = message_key(b"Message-ID: <a@b>\r\n\r\ntwo")
    assert first.message_id == second.message_id
    assert first.digest != second.digest


_LINE_ENDS = st.lists(st.sampled_from([b"\r", b"\n", b"x", b"\r\n"]), max_size=6).map(b"".join)


@given(_LINE_ENDS, _LINE_ENDS)
def test_the_message_id_counts_only_above_the_first_blank_line_whatever_its_line_breaks(
    before: bytes, between: bytes
) -> None:
    above = b"Subject: s" + before + b"\n"
    raw = above + b"Message-ID: <a@b>" + between + b"\r\nbody"
    in_header = re.search(rb"\r?\n\r?\n", above) is None
    assert message_key(raw).synthetic is not in_header
