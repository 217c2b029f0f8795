"""Properties of extraction on generated and hostile text: it never raises, it finds
what it should, and its work is bounded and linear in the text it reads.

Work is counted, not timed: a profiler hook counts the Python and C calls extraction
makes (one per regex scan, one per candidate judged), which is deterministic where
wall time is not. What one regex call does inside is not counted; it is bounded by
construction (order patterns may only have bounded repeats, see
maild.config.order_regex, and the module's own expressions examine a bounded
stretch per position), and the megabyte inputs would trip the suite's timeout if
it were not.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Callable
from functools import cache
from types import FrameType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from maild.threads import OrderRefs, Preset, extract_order_ids, load_preset, preset_names
from maild.threads.orderids import MAX_BODY_CHARS

# Text around the IDs: CJK characters that occur in no preset keyword, spaces and
# punctuation that touches no number. Nothing here can form a keyword or a quote.
FILLER = "你我他她好的是了这大为上们来到地很也就都和要 \n,;!?()"
HOSTILE = "0123456789１２３-–.,/+$¥@#:> \n\tPpDdZz订单号子工\u200b〇一二三"
FULL_WIDTH = str.maketrans("0123456789-P", "０１２３４５６７８９－Ｐ")


@cache
def preset(name: str) -> Preset:
    return load_preset(name)


def digits(size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=size, max_size=size)


ID_SHAPES: dict[str, st.SearchStrategy[str]] = {
    "amazon": st.builds(lambda a, b, c: f"{a}-{b}-{c}", digits(3), digits(7), digits(7)),
    "douyin": st.builds(lambda a, b: a + b, st.sampled_from("456"), digits(18)),
    "xiaohongshu": st.builds(lambda d: "P" + d, digits(18)),
}


@st.composite
def message_with_ids(draw: st.DrawFn, name: str) -> tuple[str, list[str]]:
    ids = draw(st.lists(ID_SHAPES[name], min_size=1, max_size=4))
    parts = [draw(st.text(alphabet=FILLER, max_size=30))]
    for order_id in ids:
        parts += [order_id, draw(st.text(alphabet=FILLER, min_size=1, max_size=30))]
    return "".join(parts), list(dict.fromkeys(ids))


@pytest.mark.parametrize("name", sorted(ID_SHAPES))
def test_ids_in_any_surrounding_text_are_found_in_order(name: str) -> None:
    @given(message_with_ids(name))
    def check(message: tuple[str, list[str]]) -> None:
        text, ids = message
        refs = extract_order_ids("", text, {}, preset(name))
        assert refs.order_ids == tuple(ids)

    check()


@pytest.mark.parametrize("name", sorted(ID_SHAPES))
def test_full_width_text_gives_the_same_ids(name: str) -> None:
    @given(message_with_ids(name))
    def check(message: tuple[str, list[str]]) -> None:
        text, ids = message
        refs = extract_order_ids("", text.translate(FULL_WIDTH), {}, preset(name))
        assert refs.order_ids == tuple(ids)

    check()


def check_invariants(refs: OrderRefs) -> None:
    assert len(set(refs.order_ids)) == len(refs.order_ids)
    assert len(set(refs.sub_order_ids)) == len(refs.sub_order_ids)
    assert all(sub.parent in refs.order_ids for sub in refs.sub_orders if sub.parent)
    assert not refs.from_quote or refs.order_ids or refs.sub_orders


@pytest.mark.parametrize("name", preset_names())
def test_hostile_text_never_raises_and_keeps_the_invariants(name: str) -> None:
    @given(
        st.text(alphabet=HOSTILE, max_size=300),
        st.text(max_size=2000),
        st.dictionaries(st.text(max_size=20), st.text(alphabet=HOSTILE, max_size=60), max_size=3),
    )
    def check(subject: str, body: str, headers: dict[str, str]) -> None:
        check_invariants(extract_order_ids(subject, body, headers, preset(name)))
        check_invariants(extract_order_ids(body, subject + body, headers, preset(name)))

    check()


def calls_made(action: Callable[[], object]) -> int:
    """How many Python and C functions ``action`` calls: deterministic work, not time."""
    count = 0

    def profile(frame: FrameType, event: str, arg: object) -> None:
        nonlocal count
        count += event in {"call", "c_call"}

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return count


HOSTILE_UNITS = {
    "digit-run": "9",
    "dense-candidates": "4921837465102938475 ",
    "dense-grouped": "订单号 4921 8374 6510 2938 475 ",
    "keyword-soup": "订单号子订单工单order#PO ",
    "dash-soup": "1-",
    "decimal-soup": "1.2,3/4-",
    "quote-lines": "> 订单 4921837465102938475\n",
    "unfinished-attribution": "On " + "x" * 290 + "\n",
    "outlook-bait": "From: x\n" * 3 + "\n",
    "chinese-numerals": "四九二一八三七四六五一零二九三八四七五，",
    "prefix-spam": "PPPP1111",
}


def hostile(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


@pytest.mark.parametrize("unit", HOSTILE_UNITS.values(), ids=HOSTILE_UNITS.keys())
def test_work_grows_linearly_with_hostile_text(unit: str) -> None:
    douyin = preset("douyin")
    small = calls_made(lambda: extract_order_ids("", hostile(unit, 10_000), {}, douyin))
    large = calls_made(lambda: extract_order_ids("", hostile(unit, 40_000), {}, douyin))

    assert large <= 4.4 * small + 50


@pytest.mark.parametrize("unit", HOSTILE_UNITS.values(), ids=HOSTILE_UNITS.keys())
def test_a_megabyte_of_hostile_text_costs_no_more_than_the_cap(unit: str) -> None:
    douyin = preset("douyin")
    capped = calls_made(lambda: extract_order_ids("", hostile(unit, MAX_BODY_CHARS), {}, douyin))
    megabyte = calls_made(lambda: extract_order_ids("", hostile(unit, 1 << 20), {}, douyin))

    assert megabyte <= capped + 50


def test_text_beyond_the_cap_is_never_read() -> None:
    filler = "x" * (MAX_BODY_CHARS - 100)
    amazon = preset("amazon")

    inside = extract_order_ids("", filler + " 113-4567890-1234567 ", {}, amazon)
    beyond = extract_order_ids("", filler + "y" * 200 + " 113-4567890-1234567 ", {}, amazon)

    assert (inside.order_ids, beyond.order_ids) == (("113-4567890-1234567",), ())


def _without_first_search(preset: Preset) -> Preset:
    """The preset with a bare pattern that matches at the start: every pattern scans all."""
    everywhere = re.compile("")
    patterns = tuple(dataclasses.replace(p, bare=everywhere) for p in preset.patterns)
    return dataclasses.replace(preset, patterns=patterns)


# Hostile text between ID-shaped runs: dashed groups of digits, and letters before them.
_PIECES = st.lists(
    st.one_of(
        st.text(alphabet=HOSTILE + "AZaz", max_size=12),
        st.lists(st.integers(2, 12).flatmap(digits), min_size=1, max_size=4).map("-".join),
        st.sampled_from(["Order #", "订单号：", "D01-", "PO ", "Tracking: "]),
    ),
    max_size=10,
).map("".join)


@pytest.mark.parametrize("name", preset_names())
@given(text=_PIECES)
def test_searching_from_the_first_bare_match_finds_what_a_full_scan_finds(
    name: str, text: str
) -> None:
    shop = preset(name)
    assert extract_order_ids(text, text, {}, shop) == extract_order_ids(
        text, text, {}, _without_first_search(shop)
    )
