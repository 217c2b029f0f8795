"""Folding skips the steps that would change nothing, and still folds as NFKC and the tables do."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from maild.threads import charfold
from maild.threads.charfold import fold

CHARS = (
    "订单号１２３４５６７８９０，：？！（）＃Ｐｐ－\u3000…￥＄"
    "\u200b\u00ad\u2013\u2212\ufe58\u2011〇一二三四五六七八九零e\u0301ﬁ①㎡ｶﾞ"
)


NUMERAL_RUN = re.compile(f"[{charfold._NUMERAL_CHARS}]{{6,}}")


def reference(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).translate(charfold._TABLE)
    return NUMERAL_RUN.sub(lambda run: run.group().translate(charfold._NUMERALS), folded)


@settings(max_examples=500)
@given(text=st.text(alphabet=CHARS + "abc 12-\n", max_size=60) | st.text(max_size=60))
def test_a_text_folds_as_nfkc_then_the_tables_fold_it(text: str) -> None:
    assert fold(text, 1000) == reference(text)


def test_full_width_text_with_an_ellipsis_folds_to_ascii() -> None:
    assert fold("订单号：１１３－４５６７８９０…", 100) == "订单号:113-4567890..."


@settings(max_examples=300)
@given(text=st.text(alphabet="’“é\u00a0½ﬁ\ufe58〇一二三四五六abc 1\n", max_size=60))
def test_a_text_with_nothing_wide_invisible_or_dashed_folds_as_the_reference(text: str) -> None:
    # No-break spaces and ligatures change under NFKC only, U+FE58 becomes a dash there.
    assert fold(text, 1000) == reference(text)


def test_no_wide_characters_decomposition_holds_a_character_that_folding_changes() -> None:
    # Narrowing replaces one wide character after another, and the characters the table
    # changes are found before it: this makes the order moot, and that finding still true.
    changed = set(charfold._NARROW) | set(charfold._INVISIBLE) | set(charfold._DASHES)
    assert not any(char in changed for value in charfold._NARROW.values() for char in value)
