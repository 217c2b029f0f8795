"""Processing classifies a message from what parsing already read; the classifier must
see exactly what its own reader of the raw bytes (the one training used) sees."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maild.classify.mime import message_from_parts, message_from_raw
from maild.errors import ParseError
from maild.ingest.parse import parse_parts
from tests.support.mailgen import make_message

DATA = Path(__file__).resolve().parents[1] / "data"
REAL = sorted(p for p in (DATA / "mail").rglob("*") if p.is_file()) + sorted(
    p for p in (DATA / "autoreply").rglob("*.eml")
)


def both_readers_agree(raw: bytes) -> None:
    try:
        _, parts = parse_parts(raw)
    except ParseError:
        return  # quarantined: never classified
    if parts.from_start:
        expected = message_from_raw(raw)
        # As processing passes them: with what parsing read besides (subject, HTML pages).
        subject, pages = parts.subject, parts.pages
        read = message_from_parts(
            parts.headers, parts.content, parts.people, subject=subject, pages=pages
        )
        assert read == expected
        assert message_from_parts(parts.headers, parts.content) == expected


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.name)
def test_a_parsed_message_gives_the_classifier_what_its_bytes_give(path: Path) -> None:
    both_readers_agree(path.read_bytes())


@settings(max_examples=200)
@given(st.integers(0, 10_000), st.integers(0, 3))
def test_generated_mail_gives_the_classifier_what_its_bytes_give(index: int, seed: int) -> None:
    both_readers_agree(make_message(index, seed))


def test_a_header_after_blank_lines_is_left_to_the_classifiers_own_reader() -> None:
    _, parts = parse_parts(b"\r\n\r\nSubject: late\r\n\r\nbody\r\n")
    assert not parts.from_start


@settings(max_examples=300)
@given(st.sampled_from(REAL), st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=3))))
def test_damaged_real_mail_gives_the_classifier_what_its_bytes_give(
    path: Path, edits: list[tuple[int, bytes]]
) -> None:
    raw = bytearray(path.read_bytes())
    for where, new in edits:
        at = where % (len(raw) + 1)
        raw[at : at + len(new)] = new
    both_readers_agree(bytes(raw))
