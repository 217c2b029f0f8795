"""Batched writes (maild.store.bulk) store what SQLAlchemy's executemany stores, on SQLite
and PostgreSQL; key sets (maild.store.key_sets) select what an IN list selects."""

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    cast,
    create_engine,
    select,
)
from sqlalchemy.orm import Session

from maild.domain import RawMessage
from maild.store import Store
from maild.store.bulk import execute_many, insert_many
from maild.store.key_sets import among
from maild.store.tables import core_table

T0 = datetime(2026, 11, 24, 9, 30, 15, 123456, tzinfo=UTC)
MESSAGE = core_table("message")
THREAD = core_table("thread")
UPDATE = MESSAGE.update().where(MESSAGE.c.id == bindparam("_pk"))


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    opened.ensure_mailboxes({"shop": "support@shop.example"}, T0)
    messages = [
        RawMessage(
            n, f"Message-ID: <m{n}@bulk.test>\r\n\r\nhi\r\n".encode(), f"<m{n}@bulk.test>", f"{n}"
        )
        for n in range(1, 7)
    ]
    opened.land("shop", "INBOX", 1, messages, 6, T0)
    yield opened
    opened.close()


def _stored(store: Store, table: Table, where: Any, skip: Sequence[str]) -> list[tuple[Any, ...]]:
    """The rows as stored, JSON as its text, without the columns that tell them apart."""
    columns = [
        cast(c, Text) if c.type.__class__.__name__ == "JSON" else c
        for c in table.columns
        if c.name not in skip
    ]
    with store.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(select(*columns).where(where))]


def test_a_message_update_stores_what_executemany_stores(store: Store) -> None:
    shanghai = timezone(timedelta(hours=8))
    values: list[dict[str, Any]] = [
        {
            "state": "processed",
            "processed_at": T0,  # one object in every row: converted once
            "sent_at": datetime(2026, 11, 24, 17, 30, tzinfo=shanghai),
            "degraded": n % 2 == 0,
            "subject": "Grüße ☃ 😀",
            "to_addrs": [1] if n == 0 else [True],  # equal, but not the same JSON
            "cc_addrs": None,
            "headers": {"x": ["é", "\\u0000"], "n": 1.5, "none": None},
            "class_scores": {"spam": 0.25},
        }
        for n in range(3)
    ]
    with Session(store.engine) as session:
        execute_many(session, UPDATE, [{"_pk": n + 1, **row} for n, row in enumerate(values)])
        session.execute(UPDATE, [{"_pk": n + 4, **row} for n, row in enumerate(values)])
        session.commit()
    fast = _stored(store, MESSAGE, MESSAGE.c.id <= 3, ("id", "message_id", "digest", "raw_blob"))
    general = _stored(store, MESSAGE, MESSAGE.c.id > 3, ("id", "message_id", "digest", "raw_blob"))
    assert fast == general
    assert fast[0] != fast[1]  # [1] and [True] stayed apart


def test_an_insert_fills_the_column_defaults_executemany_fills(store: Store) -> None:
    rows = [
        {
            "mailbox_id": 1,
            "key": f"{side}:{n}",
            "last_message_at": T0 + timedelta(minutes=n),
            "unread": n == 1,
            "created_at": T0,
            "updated_at": T0,
        }
        for side in ("fast", "general")
        for n in range(2)
    ]
    with Session(store.engine) as session:
        insert_many(session, THREAD, rows[:2])
        session.execute(THREAD.insert(), rows[2:])
        session.commit()
    fast = _stored(store, THREAD, THREAD.c.key.like("fast:%"), ("id", "key"))
    general = _stored(store, THREAD, THREAD.c.key.like("general:%"), ("id", "key"))
    assert fast == general
    assert len(fast) == 2


def test_one_row_is_written_as_one_execute(store: Store) -> None:
    with Session(store.engine) as session:
        execute_many(session, UPDATE, [{"_pk": 1, "subject": "only"}])
        execute_many(session, UPDATE, [])
        session.commit()
    assert _stored(store, MESSAGE, MESSAGE.c.subject == "only", ())[0][0] == 1


def test_statements_with_work_per_row_or_per_execution_are_refused() -> None:
    per_row = Table("per_row", MetaData(), Column("id", Integer, primary_key=True))
    per_row.append_column(Column("n", Integer, default=lambda: 1))
    expanding = MESSAGE.update().where(MESSAGE.c.id.in_(bindparam("ids", expanding=True)))
    named = Table("named", MetaData(), Column("id", Integer, primary_key=True), Column("s", String))
    with Session(create_engine("sqlite://")) as session:
        with pytest.raises(ValueError, match="computed per row"):
            insert_many(session, per_row, [{"id": 1}])
        with pytest.raises(ValueError, match="per execution"):
            execute_many(session, expanding, [{"ids": [1], "subject": "x"}])
        with pytest.raises(ValueError, match="lack the value"):
            execute_many(session, named.update().where(named.c.id == bindparam("k")), [{"s": "x"}])


@pytest.mark.parametrize(
    ("keys", "rendered"),
    [([3, 1, 2], "BETWEEN"), ([2, 2, 3], "BETWEEN"), ([1, 3], "IN"), ([1, 2, 2, 4], "IN")],
    ids=["consecutive", "repeated", "a-gap", "repeated-with-a-gap"],
)
def test_keys_select_what_an_in_list_selects(store: Store, keys: list[int], rendered: str) -> None:
    condition = among(MESSAGE.c.id, keys)
    assert rendered in str(condition.compile())
    with store.engine.connect() as connection:
        found = set(connection.execute(select(MESSAGE.c.id).where(condition)).scalars())
        listed = set(
            connection.execute(select(MESSAGE.c.id).where(MESSAGE.c.id.in_(keys))).scalars()
        )
    assert found == listed == set(keys)
