"""Timestamps keep their instant through the database, whatever zone they came in."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime, create_engine

from maild.store.engine import make_engine
from maild.store.types import UTCDateTime, json_text

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


# What a JSON column may be given: nested lists and dicts of text (any code point, lone
# surrogates included), numbers, booleans and None, with keys JSON turns into text.
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text() | st.integers() | st.booleans() | st.none() | st.floats(), inner, max_size=4
        )
    ),
    max_leaves=20,
)


@given(JSON_VALUES)
def test_json_text_is_what_json_dumps_makes(value: object) -> None:
    assert json_text(value) == json.dumps(value)


def test_json_text_refuses_what_json_dumps_refuses() -> None:
    for value in (datetime(2026, 11, 24), {(1, 2): 3}, b"bytes"):
        with pytest.raises(TypeError):
            json.dumps(value)
        with pytest.raises(TypeError):
            json_text(value)


def test_the_engine_writes_json_with_json_text() -> None:
    assert make_engine("sqlite://").dialect._json_serializer is json_text
