"""Open a database by URL with the settings maild relies on.

SQLite runs in WAL mode so readers (the CLI, the metrics ticker) never block
the writer, with foreign keys on and a busy timeout instead of instant
"database is locked" errors when two processes meet.
"""

__all__ = ["make_engine"]

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from maild.errors import StoreError
from maild.store.types import json_text

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
)


def _apply_sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def make_engine(url: str) -> Engine:
    """Build an engine for ``url``; a bad URL or a missing directory is a StoreError."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"database.url is not a valid database URL: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(
            f"database.url: unsupported database {backend!r}; use sqlite:///PATH or "
            "postgresql+psycopg://USER@HOST/DB"
        )
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
        directory = Path(str(parsed.database)).parent
        if not directory.is_dir():
            raise StoreError(f"database.url: directory {directory} does not exist")
    try:
        engine = create_engine(
            parsed, pool_pre_ping=backend == "postgresql", json_serializer=json_text
        )
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"database.url: no driver for {parsed.drivername}: {exc}") from exc
    if backend == "sqlite":
        event.listen(engine, "connect", _apply_sqlite_pragmas)
    return engine
