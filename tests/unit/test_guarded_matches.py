"""Order patterns tried only where their bare form matches find what a full scan finds."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from maild.config.order_regex import (
    compile_bare_order_regex,
    compile_lowered_bare_order_regex,
    compile_order_regex,
)
from maild.threads.guarded import guarded_matches

PATTERNS = [
    "[0-9]{3}-[0-9]{7}-[0-9]{7}",
    "D[0-9]{2}-[0-9]{7}-[0-9]{7}",
    "[0-9]{10,12}",
    "(?:PO)?(?P<id>[0-9]{13,15})",
    "(?P<parent>P[0-9]{4})-[0-9]{1,2}",
    "(?=[A-Z-]{0,29}[0-9])[A-Z0-9][A-Z0-9-]{2,28}[A-Z0-9]",
    "[0-9]{4}(?: [0-9]{4}){1,2}",
    "#?[0-9]{6}",
    "(?<=#)(?:[0-9]{6})?",  # matches nothing, after a "#"
]


def texts(alphabet: str, longest_run: int) -> st.SearchStrategy[str]:
    """Runs of digits of every length, with what may stand around an ID."""
    pieces = st.integers(1, longest_run).map(lambda n: "4" * n) | st.text(alphabet, max_size=6)
    return st.lists(pieces, max_size=30).map("".join)


TEXT = texts("0123456789-- PpDdOoxX.#\n订", 20)


@pytest.mark.parametrize("pattern", PATTERNS)
@settings(max_examples=200)
@given(text=TEXT)
@example(text="x#444444 #-")
def test_the_matches_are_those_of_a_full_scan(pattern: str, text: str) -> None:
    guarded, bare = compile_order_regex(pattern), compile_bare_order_regex(pattern)

    found = [(m.span(), m.groupdict()) for m in guarded_matches(guarded, bare, text)]

    assert found == [(m.span(), m.groupdict()) for m in guarded.finditer(text)]


def test_a_long_run_the_bare_form_keeps_matching_falls_back_to_the_full_scan() -> None:
    pattern = "[0-9]{10}"
    text = "9" * 500 + " 1234567890 " + "8" * 30

    found = list(
        guarded_matches(compile_order_regex(pattern), compile_bare_order_regex(pattern), text)
    )

    assert [m.group() for m in found] == ["1234567890"]


LETTER_FIRST = ["D[0-9]{2}-[0-9]{7}", "P[0-9]{4}", "LP[0-9]{3}", "wm-[a-z0-9]{3}", "x[^a-z]{2}"]
# Upper- and lower-case letters, and letters whose full lower case is ASCII (İ, K).
MIXED_CASE_TEXT = texts("0123456789- DdPpLlWwMmXxİKé.#\n", 12)


@pytest.mark.parametrize("pattern", LETTER_FIRST)
@settings(max_examples=200)
@given(text=MIXED_CASE_TEXT)
@example(text="xİ4 xK4")
def test_a_letter_first_pattern_found_in_the_lower_cased_text_finds_a_full_scans_matches(
    pattern: str, text: str
) -> None:
    guarded, lowered = compile_order_regex(pattern), compile_lowered_bare_order_regex(pattern)
    assert lowered is not None
    scanned = text.encode("utf-8").lower().decode("utf-8")

    found = [m.span() for m in guarded_matches(guarded, lowered, text, scanned)]

    assert found == [m.span() for m in guarded.finditer(text)]


@pytest.mark.parametrize(
    "pattern", ["[0-9]{3}", "(?:D)[0-9]{2}", "D+", "D{2}[0-9]", "Dx|[0-9]{3}", "\\d{3}"]
)
def test_only_a_pattern_that_starts_with_one_letter_has_a_lowered_bare_form(pattern: str) -> None:
    assert compile_lowered_bare_order_regex(pattern) is None


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("[0-9]{3}-[0-9]{2}", "12-34 123-45 1234-56"),
        ("[0-9]{2,4}x", "1x 12x 1234x 12345x"),
        ("\\d{1}x", "1x x 22x"),
        ("[]0-9]{2}", "]1 1]"),
        ("[0-9]{2}|x[0-9]", "x1 12"),
    ],
)
def test_a_leading_repeat_written_apart_matches_what_the_pattern_matches(
    pattern: str, text: str
) -> None:
    plain = re.compile(pattern, re.ASCII | re.IGNORECASE)

    found = [m.span() for m in compile_bare_order_regex(pattern).finditer(text)]

    assert found == [m.span() for m in plain.finditer(text)]
