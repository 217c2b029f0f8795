"""Order patterns tried only where their bare form matches find what a full scan finds."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from maild.config.order_regex import compile_bare_order_regex, compile_order_regex
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
# Runs of digits of every length, with what may stand around an ID.
TEXT = st.lists(
    st.integers(1, 20).map(lambda n: "4" * n)
    | st.text(alphabet="0123456789-- PpDdOoxX.#\n订", max_size=6),
    max_size=30,
).map("".join)


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
