"""Subject normalisation for threading by subject when nothing better is known."""

from __future__ import annotations

import pytest

from maild.threads import strip_subject, subject_key

STRIPPED = [
    ("Re: Where is my order?", "Where is my order?"),
    ("RE: FW: Fwd: Re: Where is my order?", "Where is my order?"),
    ("Re:Re:Where is my order?", "Where is my order?"),
    ("Re[2]: Where is my order?", "Where is my order?"),
    ("Re(3): Where is my order?", "Where is my order?"),
    ("Re^2: Where is my order?", "Where is my order?"),
    ("RE : Where is my order?", "Where is my order?"),
    ("AW: WG: Lieferung", "Lieferung"),
    ("Antw: Levering", "Levering"),
    ("SV: VS: Leverans", "Leverans"),
    ("TR: RV: Livraison", "Livraison"),
    ("回复：催发货", "催发货"),
    ("回复: 转发: 答复：催发货", "催发货"),
    ("回覆：轉寄：催發貨", "催發貨"),
    ("[Ticket #123] Re: Missing part", "Missing part"),
    ("Re: [Ticket #123] Re: Missing part", "Missing part"),
    ("Fwd: [Case 00123456] [Important] Delivery", "Delivery"),
    ("【工单提醒】GD20240323000123 物流问题（紧急）", "GD20240323000123 物流问题(紧急)"),
    ("回复：【工单】 售后", "售后"),
    ("  Re:   Where   is\tmy\r\n order?  ", "Where is my order?"),
    ("Ｒｅ：Ｗｈｅｒｅ　ｉｓ　ｍｙ　ｏｒｄｅｒ？", "Where is my order?"),
    ("Reorder: blue mugs", "Reorder: blue mugs"),
    ("Return request", "Return request"),
    ("Fwd", "Fwd"),
    ("Re: Re: ", ""),
    ("[Important]", ""),
    ("", ""),
]


@pytest.mark.parametrize(("subject", "expected"), STRIPPED, ids=[s for s, _ in STRIPPED])
def test_reply_prefixes_and_ticket_tags_are_stripped(subject: str, expected: str) -> None:
    assert strip_subject(subject) == expected


def test_subjects_of_one_conversation_share_a_key() -> None:
    keys = {
        subject_key(subject)
        for subject in (
            "Where is my ORDER?",
            "Re: where is my order?",
            "回复：RE: [Ticket #9] Where  is my order？",
            "Fwd: Re[2]: WHERE IS MY ORDER?",
        )
    }

    assert keys == {"where is my order?"}


def test_different_subjects_keep_different_keys() -> None:
    assert subject_key("Re: Missing part") != subject_key("Re: Missing parts list")


def test_a_hostile_subject_is_cut_and_still_stripped() -> None:
    subject = "Re: " * 10_000 + "[x]" * 10_000 + "Hello"

    assert strip_subject(subject) == ""
    assert strip_subject("Re: " * 100 + "Hello") == "Hello"
