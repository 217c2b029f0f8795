"""The Date shortcut gives mail-parser's answer for every text, and reads the usual form
without it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mailparser.dates import parse_mail_date

from maild.ingest import addresses

_MONTHS = ["Jan", "feb", "MAR", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_WEEKDAYS = ["", "Mon, ", "tue, ", "WED, ", "Thu, ", "Fri, ", "Sat, ", "Sun, "]


def _two(limit: int) -> st.SearchStrategy[str]:
    return st.integers(0, limit).map(lambda n: f"{n:02d}")


def _date(
    odd: bool,
    weekdays: st.SearchStrategy[str],
    days: st.SearchStrategy[str],
    years: st.SearchStrategy[str],
    zones: st.SearchStrategy[str],
) -> st.SearchStrategy[str]:
    """Dates in the usual form, each field in or just out of range; with ``odd``, now
    and then a field spelled or spaced another way."""

    def field(usual: st.SearchStrategy[str], *spellings: str) -> st.SearchStrategy[str]:
        return st.one_of(usual, st.sampled_from(spellings)) if odd else usual

    space = field(st.just(" "), "  ", "\t", "", " \r\n ")
    return st.builds(
        lambda weekday, day, s1, month, s2, year, s3, hour, minute, second, s4, zone, note: (
            f"{weekday}{day}{s1}{month}{s2}{year}{s3}{hour}:{minute}{second}{s4}{zone}{note}"
        ),
        field(weekdays, "Thu,", "Fri ,", "Xyz, "),
        field(days, "00", "123", "x"),
        space,
        field(st.sampled_from(_MONTHS), "Foo", "Sept"),
        space,
        field(years, "99", "049", "10000"),
        space,
        field(_two(24), "30", "7"),
        field(_two(59), "60", "99"),
        field(_two(60).map(lambda s: f":{s}"), "", ":61", ": 05"),
        space,
        field(zones, "+0060", "+9999", "0000", "+000", "GMT", "EST", "x"),
        field(st.sampled_from(["", " (UTC)", " (CEST)"]), "(UTC)", " (a b)", " (Coordinated)"),
    )


_FIELDS = (
    st.sampled_from(_WEEKDAYS),
    st.one_of(_two(32), st.integers(1, 9).map(str)),
    st.one_of(st.integers(1890, 2100).map(str), st.integers(0, 9999).map(lambda n: f"{n:04d}")),
    st.builds(lambda sign, n: f"{sign}{n:04d}", st.sampled_from("+-"), st.integers(0, 2359)),
)
_DATES = st.one_of(_date(False, *_FIELDS), _date(True, *_FIELDS))


def _by_mail_parser(text: str) -> datetime | None:
    value = parse_mail_date(text).value
    return value if isinstance(value, datetime) else None


@settings(max_examples=3000)
@given(_DATES)
def test_a_date_reads_as_mail_parser_reads_it(text: str) -> None:
    assert addresses.mail_date(text) == _by_mail_parser(text)


@settings(max_examples=300)
@given(st.text(alphabet="0123456789 :+-(),aFMnorJGTu\t", max_size=40))
def test_any_text_reads_as_mail_parser_reads_it(text: str) -> None:
    assert addresses.mail_date(text) == _by_mail_parser(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Fri, 01 Mar 2024 08:05:06 +0000", datetime(2024, 3, 1, 8, 5, 6, tzinfo=UTC)),
        ("1 mar 2024 08:05:06 -0130 (EST)", datetime(2024, 3, 1, 9, 35, 6, tzinfo=UTC)),
    ],
)
def test_the_usual_form_is_read_without_mail_parser(
    text: str, expected: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(text: str) -> None:
        raise AssertionError(f"mail-parser was asked about {text!r}")

    monkeypatch.setattr(addresses, "parse_mail_date", refuse)
    assert addresses.mail_date(text) == expected
