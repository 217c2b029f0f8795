"""Tag words found through their parts find what each word's own expression finds."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from maild.classify import tags
from maild.classify.tagwords import ESCALATED_TERMS, URGENT_EXCEPTIONS, URGENT_TERMS

WORDS = sorted({*URGENT_TERMS, *ESCALATED_TERMS, *URGENT_EXCEPTIONS, "wi-fi fire", "12315"})
ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def plain(word: str) -> re.Pattern[str]:
    """The word's rule as written in tags: edges that touch no letter or digit, a plural."""
    parts = tags._normal(word, 80).split()
    first, last = parts[0][0], parts[-1][-1]
    return re.compile(
        (r"(?<![0-9a-z])" if first in ALNUM else "")
        + r"[\s-]{1,3}".join(re.escape(part) for part in parts)
        + ("s?" if last in ALNUM and last.isalpha() else "")
        + (r"(?![0-9a-z])" if last in ALNUM else "")
    )


PLAIN = [plain(word) for word in WORDS]
# Pieces that make words overlap: 不安全 + 隐患 holds 安全隐患 too.
PIECES = st.sampled_from([*WORDS, " ", "-", "s", "x", "an", "\n", "隐患", "局", "9", ". "])


@settings(max_examples=300)
@given(text=st.lists(PIECES, max_size=12).map("".join).map(str.casefold))
@example(text="不安全隐患")
def test_the_spans_are_those_of_every_words_own_expression(text: str) -> None:
    expected = sorted(m.span() for regex in PLAIN for m in regex.finditer(text))

    assert tags._terms(WORDS).spans(text) == expected
