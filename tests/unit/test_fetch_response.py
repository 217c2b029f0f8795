"""FETCH responses become messages; unsolicited updates never pass for mail."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from maild.ingest.fetch_response import parse_fetch_lines, parse_internaldate
from maild.ingest.imap import uid_set


def test_each_fetched_message_keeps_uid_flags_date_and_exact_bytes() -> None:
    lines: list[bytes | bytearray] = [
        b'1 FETCH (UID 7 FLAGS (\\Seen $Label1) INTERNALDATE "23-Nov-2026 09:30:00 +0800" '
        b"BODY[] {12}",
        bytearray(b"Subject: (\r\n"),
        b")",
        b"2 FETCH (UID 9 BODY[] {5}",
        bytearray(b"hello"),
        b' FLAGS () INTERNALDATE " 3-Jan-2026 01:02:03 +0000")',
        b"Fetch completed (0.001 + 0.000 secs).",
    ]
    first, second = parse_fetch_lines(lines)
    assert (first.uid, first.raw, first.flags) == (7, b"Subject: (\r\n", ("\\Seen", "$Label1"))
    assert first.internaldate == datetime(2026, 11, 23, 1, 30, tzinfo=UTC)
    assert (second.uid, second.raw, second.flags) == (9, b"hello", ())
    assert second.internaldate == datetime(2026, 1, 3, 1, 2, 3, tzinfo=UTC)


def test_unsolicited_flag_updates_are_not_messages() -> None:
    lines: list[bytes | bytearray] = [
        b"4 FETCH (FLAGS (\\Seen))",
        b"5 FETCH (UID 11 BODY[] {3}",
        bytearray(b"abc"),
        b")",
        b"6 FETCH (UID 12 FLAGS (\\Deleted))",
    ]
    assert [m.uid for m in parse_fetch_lines(lines)] == [11]


def test_empty_message_is_still_a_message() -> None:
    lines: list[bytes | bytearray] = [b"1 FETCH (UID 3 BODY[] {0}", bytearray(b""), b")"]
    [message] = parse_fetch_lines(lines)
    assert (message.uid, message.raw) == (3, b"")


def test_mangled_internaldate_is_none_not_an_error() -> None:
    assert parse_internaldate("yesterday") is None
    assert parse_internaldate("01-Feb-2026 10:00:00 -0500") == datetime(
        2026, 2, 1, 10, tzinfo=timezone(timedelta(hours=-5))
    )


def test_uid_sets_are_compressed_into_ranges() -> None:
    assert uid_set([1, 2, 3, 7, 9, 10]) == "1:3,7,9:10"
    assert uid_set([5]) == "5"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (" 7-Jul-2026 02:44:25 -0700", datetime(2026, 7, 7, 9, 44, 25, tzinfo=UTC)),
        ("07-jul-2026 02:44:25 +0530", datetime(2026, 7, 6, 21, 14, 25, tzinfo=UTC)),
        ("29-Feb-2028 23:59:59 +0000", datetime(2028, 2, 29, 23, 59, 59, tzinfo=UTC)),
    ],
)
def test_internaldate_is_read_with_its_zone(value: str, expected: datetime) -> None:
    assert parse_internaldate(value) == expected


@pytest.mark.parametrize(
    "value",
    ["31-Feb-2026 12:00:00 +0000", "12-Foo-2026 12:00:00 +0000", "1-Jan-2026 25:00:00 +0000"],
)
def test_impossible_internaldate_is_none(value: str) -> None:
    assert parse_internaldate(value) is None
