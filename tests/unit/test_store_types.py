"""Timestamps keep their instant through the database, whatever zone they came in."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime, create_engine

from maild.store.types import UTCDateTime

DIALECT = create_engine("sqlite://").dialect
SHANGHAI = timezone(timedelta(hours=8))


def test_a_timestamp_is_stored_as_naive_utc_to_the_microsecond() -> None:
    stored = UTCDateTime().process_bind_param(
        datetime(2026, 11, 24, 9, 30, 15, 123456, tzinfo=SHANGHAI), DIALECT
    )
    assert stored == datetime(2026, 11, 24, 1, 30, 15, 123456)
    assert stored is not None and stored.tzinfo is None


def test_a_stored_timestamp_comes_back_utc_aware() -> None:
    read = UTCDateTime().process_result_value(datetime(2026, 11, 24, 1, 30, 15, 123456), DIALECT)
    assert read == datetime(2026, 11, 24, 1, 30, 15, 123456, tzinfo=UTC)
    assert read is not None and read.tzinfo is UTC


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="time-zone-aware"):
        UTCDateTime().process_bind_param(datetime(2026, 11, 24), DIALECT)


def test_nothing_stays_nothing() -> None:
    assert UTCDateTime().process_bind_param(None, DIALECT) is None
    assert UTCDateTime().process_result_value(None, DIALECT) is None


SQLITE_DATETIME = DateTime().dialect_impl(DIALECT).bind_processor(DIALECT)


@given(st.datetimes(timezones=st.timezones()))
def test_sqlite_stores_the_text_its_datetime_type_makes_of_the_utc_time(value: datetime) -> None:
    """UTCDateTime makes SQLite's text in one step: the same as its two steps made."""
    store = UTCDateTime().dialect_impl(DIALECT).bind_processor(DIALECT)
    assert store is not None and SQLITE_DATETIME is not None
    assert store(value) == SQLITE_DATETIME(UTCDateTime().process_bind_param(value, DIALECT))


def test_sqlite_refuses_a_naive_timestamp_and_stores_nothing_as_null() -> None:
    store = UTCDateTime().dialect_impl(DIALECT).bind_processor(DIALECT)
    assert store is not None
    assert store(None) is None
    with pytest.raises(ValueError, match="time-zone-aware"):
        store(datetime(2026, 11, 24))
