"""Bring a database to the schema this maild expects, in place, never destructively.

Alembic runs the revisions in ``migrations/versions``. A database that holds
tables but no maild revision, or a revision this maild does not know (written
by a newer maild), is refused: guessing there is how data gets dropped.
"""

__all__ = ["HEAD", "current_revision", "head_revision", "upgrade"]

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel

import maild.store.tables  # noqa: F401  (registers the tables on SQLModel.metadata)
from maild.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (with mako and pygments) is imported where a migration is read or run, not
# with this module: parse workers open the store through it and never migrate, and
# each would spend about a tenth of a second of its start-up importing it.

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).with_name("migrations")
#: The newest revision in ``migrations/versions``; a test checks that Alembic agrees, so
#: a new revision that does not move it fails the suite.
HEAD = "0013"
# Alembic's record of a database's revision, as Alembic itself creates it.
_VERSION = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)
# Several instances may start together against one PostgreSQL: one migrates, the rest wait.
_PG_MIGRATION_LOCK = 0x6D61696C64


def _config() -> "Config":
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise StoreError(f"no schema migrations found in {_MIGRATIONS}")
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return _revision(connection)


def _revision(connection: Connection) -> str | None:
    """The revision ``connection``'s database is at; None when it has none (yet)."""
    if not inspect(connection).has_table(_VERSION.name):
        return None
    found = connection.execute(select(_VERSION.c.version_num)).scalars().all()
    if len(found) > 1:
        raise StoreError(f"the database records several schema revisions: {sorted(found)}")
    return found[0] if found else None


def _check(connection: Connection, found: str | None, known: set[str]) -> None:
    if found is None and inspect(connection).get_table_names():
        raise StoreError(
            "the database has tables but no maild schema revision; "
            "refusing to touch it (point database.url at an empty or maild database)"
        )
    if found is not None and found not in known:
        raise StoreError(
            f"the database schema revision {found!r} is newer than this maild "
            "understands; upgrade maild instead of opening it with an older one"
        )


@contextmanager
def _one_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection whose every statement, DDL included, commits together or not at all.

    Python's sqlite3 commits before each CREATE or ALTER on its own, so a maild killed
    mid-migration left tables without a revision, which the next start refuses. On
    SQLite the driver's own transaction handling is switched off and one BEGIN
    IMMEDIATE spans the whole upgrade. PostgreSQL's DDL is transactional already; its
    advisory lock makes instances that start together migrate one at a time.
    """
    with engine.connect() as base:
        if base.dialect.name != "sqlite":
            with base.begin():
                lock = text("SELECT pg_advisory_xact_lock(:key)")
                base.execute(lock, {"key": _PG_MIGRATION_LOCK})
                yield base
            return
        connection = base.execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.exec_driver_sql("ROLLBACK")
            raise
        connection.exec_driver_sql("COMMIT")


def upgrade(engine: Engine, target: str = "head") -> None:
    """Upgrade to ``target`` (tests pass an older revision to build old databases).

    With the default target, two cases skip Alembic, whose import and reading of every
    revision took 0.1 s of every maild command's start: a database already at
    :data:`HEAD` (every start but the first after an upgrade) is left as it is, and an
    empty one is built from the tables in code and stamped HEAD, as Alembic's own recipe
    for a new database does (0.17 -> 0.04 s, every test's store included).
    tests/integration/test_store.py checks that both ways build the same schema; rows a
    revision writes (none so far: they only fill columns of rows that exist) would have
    to be written by :func:`_build` as well.
    """
    if target == "head" and current_revision(engine) == HEAD:
        return
    try:
        with _one_transaction(engine) as connection:
            # Read again under the lock: another instance may have upgraded it meanwhile.
            found = _revision(connection)
            empty = found is None and not inspect(connection).get_table_names()
            if target == "head" and empty:
                _build(connection)
            elif target != "head" or found != HEAD:
                _migrate(connection, found, target)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot upgrade the database schema: {exc}") from exc
    after = current_revision(engine)
    if after != found:
        log.info("schema upgraded from=%s to=%s", found, after)


def _build(connection: Connection) -> None:
    SQLModel.metadata.create_all(connection)
    _VERSION.create(connection)
    connection.execute(_VERSION.insert().values(version_num=HEAD))


def _migrate(connection: Connection, found: str | None, target: str) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    config = _config()
    _check(
        connection,
        found,
        {r.revision for r in ScriptDirectory.from_config(config).walk_revisions()},
    )
    config.attributes["connection"] = connection
    command.upgrade(config, target)
