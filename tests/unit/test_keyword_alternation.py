"""Keywords grouped by first character find what one flat alternation of them finds."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from maild.threads.keywords import KeywordIndex, lowered

KEYWORDS = {
    "order": ("order", "order #", "order id", "order no.", "订单", "订单号", "PO#", "#"),
    "sub_order": ("子订单号", "sub order", "package"),
    "other": ("tracking", "tracking #", "tel", "ticket", "工单号", "o"),
}
PIECES = st.sampled_from(
    [w for words in KEYWORDS.values() for w in words] + [" ", "s", "x", "1234", "\n", ":"]
)


def reference(keywords: dict[str, tuple[str, ...]]) -> re.Pattern[str]:
    """One branch per keyword, longest first, as KeywordIndex wrote it before grouping."""
    spellings = {" ".join(lowered(w).split()) for words in keywords.values() for w in words}
    ordered = sorted(spellings, key=lambda word: (-len(word), word))
    branches = []
    for word in ordered:
        body = r"\s{0,3}".join(re.escape(part) for part in word.split())
        first = re.escape(word[0])
        before = r"(?<![a-z].)" if word[0].isascii() and word[0].isalpha() else ""
        after = r"s?(?![a-z])" if word[-1].isascii() and word[-1].isalpha() else ""
        branches.append(first + before + body[len(first) :] + after)
    return re.compile("|".join(branches))


@settings(max_examples=500)
@given(
    text=st.lists(PIECES, max_size=16).map("".join).map(lowered),
    cut=st.tuples(st.integers(0, 40), st.integers(0, 40)),
)
def test_the_grouped_alternation_finds_what_the_flat_one_finds(
    text: str, cut: tuple[int, int]
) -> None:
    index = KeywordIndex.build(KEYWORDS)  # type: ignore[arg-type]
    assert index.regex is not None
    start, end = min(cut), max(cut)  # nearest_role searches a window of the text
    grouped = [(m.span(), m.group()) for m in index.regex.finditer(text, start, end)]
    flat = reference(KEYWORDS).finditer(text, start, end)
    assert grouped == [(m.span(), m.group()) for m in flat]


INDEX = KeywordIndex.build(KEYWORDS)  # type: ignore[arg-type]  # one, so its answers are reused


def scanned_role(index: KeywordIndex, text: str, end: int, window: int) -> str | None:
    """The role as nearest_role gave it before it kept answers: the window scanned."""
    assert index.regex is not None
    found = list(index.regex.finditer(text, max(0, end - window), end))
    if not found:
        return None
    key = "".join(found[-1].group().split())
    return index.roles.get(key) or index.roles.get(key.removesuffix("s"))


@settings(max_examples=500)
@given(
    text=st.lists(PIECES, max_size=16).map("".join).map(lowered),
    end=st.integers(0, 80),
    window=st.sampled_from([1, 4, 8, 40]),
)
def test_the_nearest_role_is_that_of_the_last_keyword_in_the_window(
    text: str, end: int, window: int
) -> None:
    end = min(end, len(text))
    for _ in range(2):  # found, then known
        assert INDEX.nearest_role(text, end, window) == scanned_role(INDEX, text, end, window)


def test_a_known_window_is_told_apart_by_the_character_before_it() -> None:
    # The same six characters before the ID, "order "; only the one before them differs.
    assert INDEX.nearest_role(" order 12", 7, 6) == "order"
    assert INDEX.nearest_role("xorder 12", 7, 6) is None  # "xorder" is no keyword
    assert INDEX.nearest_role(" order 12", 7, 6) == "order"
