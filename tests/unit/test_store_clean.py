"""Cleaning text for storage keeps what a plain walk of every value kept, however nested.

The cleaning in maild.store.processed skips the walk where it can (a list or a dict's keys
checked in one pass); the reference below walks every value, as maild did before, and
both must give the same values for anything a row may hold: text with NULs, lone or
paired surrogates and non-ASCII characters, inside lists and dicts, beside values that
hold no text.
"""

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from maild.store.processed import _clean


def reference(value: Any) -> Any:
    """Every value walked: NUL becomes U+FFFD, a surrogate "?"."""
    if isinstance(value, str):
        if not value.isascii():
            value = value.encode("utf-8", "replace").decode("utf-8")
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [reference(item) for item in value]
    if isinstance(value, dict):
        return {reference(key): reference(item) for key, item in value.items()}
    return value


# Mostly clean text, to reach the paths that keep it, and sometimes each kind of dirt.
TEXT = st.one_of(
    st.text(st.characters(max_codepoint=0x7F, blacklist_characters="\x00"), max_size=8),
    st.text(st.sampled_from("ab \x00é€😀\ud800\udc00\udfff"), max_size=8),
    st.text(max_size=8),
)
SCALARS = st.one_of(
    TEXT,
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.binary(max_size=8),
    st.just(datetime(2026, 11, 24, tzinfo=UTC)),
    st.tuples(TEXT),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(TEXT, inner, max_size=5)),
    max_leaves=30,
)


def shape(value: Any) -> Any:
    """``value`` with each container and scalar's type, so that equal means stored alike."""
    if isinstance(value, list):
        return ["list", [shape(item) for item in value]]
    if isinstance(value, dict):
        return ["dict", [(shape(key), shape(item)) for key, item in value.items()]]
    return [type(value).__name__, value]


@given(VALUES)
def test_cleaning_gives_what_walking_every_value_gave(value: Any) -> None:
    assert shape(_clean(value)) == shape(reference(value))


@given(st.dictionaries(TEXT, TEXT, max_size=6))
def test_keys_that_clean_alike_merge_as_they_did(value: dict[str, str]) -> None:
    assert list(_clean(value).items()) == list(reference(value).items())


def test_each_kind_of_dirt_goes() -> None:
    row = {"subject": "a\x00b", "headers": {"x\ud800": ["é\x00", "\udfff"]}, "n": 1}
    assert _clean(row) == {"subject": "a\ufffdb", "headers": {"x?": ["é\ufffd", "?"]}, "n": 1}
