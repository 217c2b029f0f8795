"""Extraction rules that the preset tables cannot show: pattern options of a mailbox's own."""

from __future__ import annotations

import dataclasses
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maild.config.settings import OrderPatternSettings
from maild.threads import Preset, extract_order_ids, load_preset
from maild.threads.charfold import fold
from maild.threads.keywords import KeywordIndex, lowered


@cache
def generic() -> Preset:
    return load_preset("generic")


def with_pattern(**settings: object) -> Preset:
    return generic().with_patterns([OrderPatternSettings.model_validate(settings)])


def test_a_header_pattern_reads_the_named_header_in_any_case() -> None:
    preset = with_pattern(regex="[0-9]{10}", where=(), headers=("X-Order-Id",))

    refs = extract_order_ids("", "", {"x-ORDER-id": "4500012345", "X-Other": "4500099999"}, preset)

    assert refs.order_ids == ("4500012345",)


def test_a_header_pattern_does_not_read_subject_or_body() -> None:
    preset = with_pattern(regex="[0-9]{10}", where=(), headers=("X-Order-Id",))

    assert extract_order_ids("4500012345", "4500012346", {}, preset).order_ids == ()


def test_subject_comes_before_body_and_body_before_headers() -> None:
    preset = with_pattern(regex="Z[0-9]{6}", headers=("X-Ref",))

    refs = extract_order_ids("Z000001", "Z000002 Z000001", {"X-Ref": "Z000003"}, preset)

    assert refs.order_ids == ("Z000001", "Z000002", "Z000003")


def test_a_subject_only_pattern_ignores_the_body() -> None:
    preset = with_pattern(regex="Z[0-9]{6}", where=("subject",))

    assert extract_order_ids("Re: Z000001", "Z000002", {}, preset).order_ids == ("Z000001",)


def test_phone_shaped_ids_need_an_order_keyword() -> None:
    preset = with_pattern(regex="[0-9]{11}")

    assert extract_order_ids("", "Call 13812345678", {}, preset).order_ids == ()
    assert extract_order_ids("", "13812345678", {}, preset).order_ids == ()
    assert extract_order_ids("", "Order # 13812345678", {}, preset).order_ids == ("13812345678",)
    assert extract_order_ids("", "45678901234", {}, preset).order_ids == ("45678901234",)


def test_date_shaped_ids_need_an_order_keyword() -> None:
    preset = with_pattern(regex="[0-9]{8}")

    assert extract_order_ids("", "since 20240323", {}, preset).order_ids == ()
    assert extract_order_ids("", "订单号 20240323", {}, preset).order_ids == ("20240323",)


def test_normaliser_strips_what_it_is_told_and_keeps_case_when_asked() -> None:
    preset = with_pattern(regex="ab-[0-9]{3} [0-9]{3}", strip=" -", upper=False)

    assert extract_order_ids("", "ab-123 456", {}, preset).order_ids == ("ab123456",)


def test_an_id_group_takes_the_id_out_of_a_longer_match() -> None:
    preset = with_pattern(regex="REF:(?P<id>[0-9]{6})")

    assert extract_order_ids("", "REF:123456", {}, preset).order_ids == ("123456",)


def test_a_sub_order_pattern_without_parent_group_uses_the_only_order() -> None:
    douyin = load_preset("douyin").with_patterns(
        [OrderPatternSettings(regex="S[0-9]{8}", kind="sub_order")]
    )

    refs = extract_order_ids("订单 4921837465102938475", "S12345678", {}, douyin)

    assert refs.order_ids == ("4921837465102938475",)
    assert [(sub.id, sub.parent) for sub in refs.sub_orders] == [
        ("S12345678", "4921837465102938475")
    ]


def test_without_the_only_order_rule_a_sub_order_keeps_no_parent() -> None:
    preset = with_pattern(regex="S[0-9]{8}", kind="sub_order")

    refs = extract_order_ids("Order # 1001", "S12345678", {}, preset)

    assert refs.order_ids == ("1001",)
    assert [(sub.id, sub.parent) for sub in refs.sub_orders] == [("S12345678", None)]


def test_overlapping_matches_keep_the_longer_one() -> None:
    preset = with_pattern(regex="Z[0-9]{6}(?:-[0-9]{2})?")

    assert extract_order_ids("", "Z123456-01", {}, preset).order_ids == ("Z123456-01",)


@pytest.mark.parametrize(
    "text",
    [
        "$12999",
        "¥ 12999",
        "￥12999",
        "USD 12999",
        "12999元",
        "12999 dollars",
        "12999.50",
        "0.12999",
        "12999,000",
        "+86 12999",
        "12999@shop.example",
        "1/12999",
    ],
)
def test_what_touches_a_number_can_make_it_something_else(text: str) -> None:
    preset = with_pattern(regex="[0-9]{5}")

    assert extract_order_ids("", f"Ref {text} thanks", {}, preset).order_ids == ()


def test_the_same_number_alone_is_an_id() -> None:
    preset = with_pattern(regex="[0-9]{5}")

    assert extract_order_ids("", "Ref 12999 thanks", {}, preset).order_ids == ("12999",)


@pytest.mark.parametrize("keyword", ["ORDER NUMBER:", "Order number:", "order   NUMBER:"])
def test_an_order_keyword_vouches_in_any_case_and_spacing(keyword: str) -> None:
    preset = with_pattern(regex="[0-9]{11}")

    assert extract_order_ids("", f"{keyword} 13812345678", {}, preset).order_ids == ("13812345678",)


def test_a_keyword_inside_a_longer_word_does_not_vouch() -> None:
    preset = with_pattern(regex="[0-9]{11}")

    assert extract_order_ids("", "Reorder number: 13812345678", {}, preset).order_ids == ()


def test_a_mailboxs_own_keyword_with_accented_capitals_matches_in_any_case() -> None:
    keywords = KeywordIndex.build({"order": ["Número de pedido"]})
    preset = dataclasses.replace(with_pattern(regex="[0-9]{11}"), keywords=keywords)

    refs = extract_order_ids("", "NÚMERO DE PEDIDO 13812345678", {}, preset)

    assert refs.order_ids == ("13812345678",)


def test_lower_casing_keeps_every_character_at_its_index() -> None:
    every = "".join(chr(c) for c in range(0x30000) if not 0xD800 <= c <= 0xDFFF)

    assert len(lowered(every)) == len(every)
    assert lowered("İSTANBUL ORDER") == "istanbul order"


@settings(max_examples=300)
@given(st.text())
def test_ascii_text_folds_the_same_with_or_without_the_ascii_shortcut(text: str) -> None:
    ascii_text = text.encode("ascii", "ignore").decode("ascii")
    # A soft hyphen (which folding drops) sends the same text down the full path.
    assert fold(ascii_text, 10_000) == fold("\u00ad" + ascii_text, 10_000) == ascii_text
