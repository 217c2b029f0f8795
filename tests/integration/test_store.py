"""The store keeps every message unaltered and exactly once, on SQLite and PostgreSQL."""

import gc
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, event, inspect, text
from sqlmodel import Session, SQLModel

from maild.domain import AttachmentInfo, ParsedMail, ProcessOutcome, RawMessage
from maild.errors import StoreError
from maild.ingest.identity import message_key
from maild.store import Store, schema
from maild.store.engine import make_engine

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def raw_message(uid: int, raw: bytes) -> RawMessage:
    key = message_key(raw)
    return RawMessage(uid=uid, raw=raw, message_id=key.message_id, digest=key.digest)


def mail(n: int) -> bytes:
    return (
        f"Message-ID: <m{n}@shop.example>\r\nSubject: order 123-1234567-{n:07d}\r\n\r\n"
        f"Where is my parcel number {n}?\r\n"
    ).encode()


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = Store.open(database_url)
    opened.ensure_mailboxes({"walmart-us": "support@shop.example"}, NOW)
    yield opened
    opened.close()


def message_count(store: Store) -> int:
    return store.stats().messages


def location_count(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM message_location")).scalar_one())


def test_stored_message_reads_back_byte_identical(store: Store) -> None:
    raw = (
        b"Message-ID: <bytes@shop.example>\r\nSubject: =?gb2312?B?xOO6ww==?=\r\n"
        b"Content-Type: text/plain; charset=gb2312\r\n\r\n"
        + bytes(range(256))
        + b"\n\nbare LF line\r\ntrailing spaces   \r\n"
    )
    store.land("walmart-us", "INBOX", 1, [raw_message(1, raw)], last_uid=1, now=NOW)
    [pk] = store.message_pks("walmart-us")
    assert store.raw_message(pk) == raw


def test_same_uidvalidity_and_uid_twice_keeps_one_row(store: Store) -> None:
    first = store.land("walmart-us", "INBOX", 7, [raw_message(1, mail(1))], 1, NOW)
    again = store.land("walmart-us", "INBOX", 7, [raw_message(1, mail(1))], 1, NOW)
    assert (first.stored, again.stored, again.duplicates) == (1, 0, 1)
    assert message_count(store) == 1
    assert location_count(store) == 1


def test_same_message_id_and_digest_twice_keeps_one_row(store: Store) -> None:
    same = [raw_message(1, mail(1)), raw_message(2, mail(1))]
    result = store.land("walmart-us", "INBOX", 7, same, 2, NOW)
    store.land("walmart-us", "Archive", 3, [raw_message(9, mail(1))], 9, NOW)
    assert (result.stored, result.duplicates) == (1, 1)
    assert message_count(store) == 1
    assert location_count(store) == 3


def test_same_message_id_with_other_content_keeps_both(store: Store) -> None:
    edited = mail(1).replace(b"parcel", b"package")
    store.land("walmart-us", "INBOX", 7, [raw_message(1, mail(1)), raw_message(2, edited)], 2, NOW)
    assert message_count(store) == 2


def test_landing_advances_the_folder_position_with_the_messages(store: Store) -> None:
    batch = [raw_message(uid, mail(uid)) for uid in range(1, 51)]
    store.land("walmart-us", "INBOX", 7, batch, last_uid=60, now=NOW)
    state = store.folder_state("walmart-us", "INBOX")
    assert (state.uidvalidity, state.last_uid, state.last_sync) == (7, 60, NOW)
    assert message_count(store) == 50


def test_failed_landing_stores_nothing_and_keeps_the_position(store: Store) -> None:
    store.land("walmart-us", "INBOX", 7, [raw_message(1, mail(1))], 1, NOW)
    broken = RawMessage(uid=3, raw=mail(3), message_id="<m3@shop.example>", digest=None)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="database error"):
        store.land("walmart-us", "INBOX", 7, [raw_message(2, mail(2)), broken], 3, NOW)
    assert store.folder_state("walmart-us", "INBOX").last_uid == 1
    assert message_count(store) == 1


def test_uidvalidity_change_is_counted_and_adds_no_duplicates(store: Store) -> None:
    batch = [raw_message(uid, mail(uid)) for uid in range(1, 11)]
    store.land("walmart-us", "INBOX", 7, batch, 10, NOW)
    renumbered = [raw_message(uid + 100, mail(uid)) for uid in range(1, 12)]
    renumbered.append(raw_message(200, mail(11)))
    result = store.land("walmart-us", "INBOX", 8, renumbered, 200, NOW)
    state = store.folder_state("walmart-us", "INBOX")
    assert result.uidvalidity_changed
    assert (result.stored, state.uidvalidity, state.uidvalidity_changes) == (1, 8, 1)
    assert message_count(store) == 11


def test_landing_into_an_unknown_mailbox_is_a_clear_error(store: Store) -> None:
    with pytest.raises(StoreError, match="mailbox 'nope' is not in the database"):
        store.land("nope", "INBOX", 1, [raw_message(1, mail(1))], 1, NOW)


def test_stats_count_messages_per_mailbox_and_folder(store: Store) -> None:
    store.ensure_mailboxes({"amazon-eu": "eu@shop.example"}, NOW)
    store.land("walmart-us", "INBOX", 7, [raw_message(u, mail(u)) for u in range(1, 4)], 3, NOW)
    store.land("amazon-eu", "INBOX", 2, [raw_message(1, mail(9))], 1, NOW)
    store.record_error("amazon-eu", "Support", "login refused")
    stats = store.stats()
    assert (stats.messages, stats.quarantined, stats.threads) == (4, 0, 0)
    assert stats.mailboxes["walmart-us"].messages == 3
    folders = {f.folder: f for f in stats.mailboxes["amazon-eu"].folders}
    assert folders["INBOX"].last_uid == 1
    assert folders["Support"].last_error == "login refused"


def test_schema_built_by_migrations_matches_the_tables_in_code(database_url: str) -> None:
    engine = make_engine(database_url)
    schema.upgrade(engine, target=schema.HEAD)  # named: "head" would build an empty one
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    engine.dispose()
    assert differences == []


def _schema(database_url: str) -> dict[str, dict[str, Any]]:
    """Every table as the database describes it: what a migration or a build decides."""
    engine = make_engine(database_url)
    found = inspect(engine)
    tables = {
        table: {
            "columns": {
                c["name"]: (str(c["type"]), c["nullable"], c.get("default"))
                for c in found.get_columns(table)
            },
            "primary key": found.get_pk_constraint(table),
            "indexes": sorted(
                (i["name"], i["column_names"], i["unique"]) for i in found.get_indexes(table)
            ),
            "unique": sorted(
                (u["name"] or "", u["column_names"]) for u in found.get_unique_constraints(table)
            ),
            "foreign keys": sorted(
                (f["name"] or "", f["constrained_columns"], f["referred_table"])
                for f in found.get_foreign_keys(table)
            ),
        }
        for table in found.get_table_names()
    }
    engine.dispose()
    return tables


def test_a_new_database_is_built_as_the_migrations_would_build_it(database_url: str) -> None:
    engine = make_engine(database_url)
    schema.upgrade(engine, target=schema.HEAD)
    migrated = _schema(database_url)
    SQLModel.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    assert inspect(engine).get_table_names() == []
    schema.upgrade(engine)
    engine.dispose()
    built = _schema(database_url)
    assert len(built) == len(SQLModel.metadata.tables) + 1
    assert built == migrated


def test_head_is_the_newest_migration() -> None:
    assert schema.head_revision() == schema.HEAD


def test_opening_a_database_at_head_does_not_load_the_migrations(tmp_path: Path) -> None:
    """Importing Alembic and reading every revision was 0.1 s of every maild start."""
    url = f"sqlite:///{tmp_path / 'maild.db'}"
    Store.open(url).close()
    opened = (
        "import sys; from maild.store import Store; "
        f"Store.open({url!r}).close(); print(sorted(m for m in sys.modules if 'alembic' in m))"
    )
    done = subprocess.run(
        [sys.executable, "-c", opened], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
    assert schema.current_revision(make_engine(url)) == schema.HEAD


def test_old_database_is_upgraded_in_place_keeping_its_messages(database_url: str) -> None:
    engine = make_engine(database_url)
    schema.upgrade(engine, target="0001")
    old = mail(7)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO mailbox (name, address, created_at) VALUES ('old', '', :now)"),
            {"now": NOW.replace(tzinfo=None)},
        )
        connection.execute(
            text(
                "INSERT INTO message (mailbox_id, message_id, digest, direction, raw_zlib,"
                " raw_size, landed_at, state, degraded) VALUES (1, '<m7@shop.example>', 'd',"
                " 'in', :blob, :size, :now, 'landed', false)"
            ),
            {"blob": zlib.compress(old), "size": len(old), "now": NOW.replace(tzinfo=None)},
        )
    engine.dispose()
    store = Store.open(database_url)
    store.land("old", "INBOX", 1, [raw_message(1, mail(1))], 1, NOW)
    assert schema.current_revision(store.engine) == schema.head_revision()
    assert [store.raw_message(pk) for pk in store.message_pks("old")] == [old, mail(1)]
    store.close()


def test_database_from_a_newer_maild_is_refused(database_url: str) -> None:
    Store.open(database_url).close()
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    with pytest.raises(StoreError, match="'9999' is newer than this maild"):
        Store.open(database_url)


def test_foreign_database_is_refused_untouched(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(StoreError, match="no maild schema revision"):
        Store.open(database_url)


def test_sqlite_database_runs_in_wal_mode(tmp_path: object) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/wal.db")
    with store.engine.connect() as connection:
        mode = connection.execute(text("PRAGMA journal_mode")).scalar_one()
        foreign_keys = connection.execute(text("PRAGMA foreign_keys")).scalar_one()
    store.close()
    assert (mode, foreign_keys) == ("wal", 1)


def test_sqlite_in_a_missing_directory_is_a_clear_error(tmp_path: object) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store.open(f"sqlite:///{tmp_path}/no/such/dir/maild.db")


def test_nul_and_lone_surrogates_in_parsed_text_are_storable_on_every_database(
    store: Store,
) -> None:
    raw = b"Message-ID: <nul\x00id@shop.example>\r\nSubject: x\r\n\r\nbody\r\n"
    assert message_key(raw).synthetic
    store.land("walmart-us", "INBOX", 1, [raw_message(1, raw)], 1, NOW)
    [pk] = store.message_pks("walmart-us")
    hostile = ParsedMail(
        message_id=None,
        subject="order\x00 123 \udcff",
        from_name="Bad\x00Name",
        from_addr="buyer@shop.example",
        text="body \x00 with NUL",
        headers={"x-mailer": "m\x00"},
        attachments=(AttachmentInfo("a\x00.pdf", "application/pdf", 1, "0" * 64),),
    )
    store.save_processed([ProcessOutcome(pk, hostile)], NOW)
    assert store.raw_message(pk) == raw
    with store.engine.connect() as connection:
        state, subject, body = connection.execute(
            text("SELECT state, subject, body_text FROM message")
        ).one()
    assert state == "processed"
    assert (subject, body) == ("order\ufffd 123 ?", "body \ufffd with NUL")


def _opens_after_a_kill(url: str, open_it: Callable[[], object]) -> None:
    """``open_it`` is killed at its end, as a SIGKILL there would be: nothing half-made
    may be left behind, or the next start would refuse tables without a revision."""
    with pytest.raises(KeyboardInterrupt):
        open_it()
    engine = create_engine(url)
    assert inspect(engine).get_table_names() == []
    engine.dispose()


def test_a_build_cut_short_leaves_an_empty_sqlite_database_that_opens_next_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'maild.db'}"
    real = SQLModel.metadata.create_all

    def killed_after_the_tables(bind: Any) -> None:
        real(bind)
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(SQLModel.metadata, "create_all", killed_after_the_tables)
    _opens_after_a_kill(url, lambda: Store.open(url))
    monkeypatch.undo()
    Store.open(url).close()


def test_a_migration_cut_short_leaves_an_empty_sqlite_database_that_opens_next_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'maild.db'}"
    real = command.upgrade

    def killed_after_the_last_migration(config: Any, target: str) -> None:
        real(config, target)
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(command, "upgrade", killed_after_the_last_migration)
    _opens_after_a_kill(url, lambda: schema.upgrade(make_engine(url), target=schema.HEAD))
    monkeypatch.undo()
    Store.open(url).close()


def test_finding_messages_to_thread_seeks_the_index_instead_of_scanning_threaded_mail(
    tmp_path: Path,
) -> None:
    """Threading asks this after every batch; a scan made a large sync quadratic."""
    store = Store.open(f"sqlite:///{tmp_path / 'maild.db'}")
    store.ensure_mailboxes({"walmart-us": "support@shop.example"}, NOW)
    store.land("walmart-us", "INBOX", 1, [raw_message(1, mail(1))], 1, NOW)
    [pk] = store.message_pks("walmart-us")
    parsed = ParsedMail(message_id=None, subject="x", from_name=None, from_addr=None)
    store.save_processed([ProcessOutcome(pk, parsed)], NOW)
    asked: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "thread_id IS NULL" in statement:
            asked.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", record)
    assert store.thread_pending(NOW) == 1
    event.remove(store.engine, "before_cursor_execute", record)
    with store.engine.connect() as connection:
        plans = [
            " ".join(row[-1] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {q}", p))
            for q, p in asked
        ]
    store.close()
    assert plans
    assert all("INDEX ix_message_thread (thread_id=? AND state=?" in plan for plan in plans), plans


def test_closing_waits_for_store_work_a_thread_is_still_doing(database_url: str) -> None:
    # A stopping daemon cancels the tasks awaiting store work in threads, not the
    # threads; closing under them left their connections open until garbage collection
    # (on PostgreSQL, psycopg's "deleted while still open" warning, an error here).
    store = Store.open(database_url)
    started, done = threading.Event(), threading.Event()

    def slow(session: Session) -> None:
        session.execute(text("SELECT 1"))
        started.set()
        time.sleep(0.3)
        done.set()

    worker = threading.Thread(target=store.run, args=(slow,))
    worker.start()
    assert started.wait(10)
    store.close()
    assert done.is_set()
    worker.join()
    gc.collect()
