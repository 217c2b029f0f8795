"""Throwaway PostgreSQL databases on the machine's server.

The store must behave the same on PostgreSQL as on SQLite, so some tests need a real
server. Each test session gets a database of its own, named at random so parallel runs
and leftovers of a crashed run never collide, and dropped at the end.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

__all__ = ["throwaway_database"]

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
PORT = 5432
USER = "postgres"
INSTALL_HINT = "run scripts/install-system-deps"


@contextmanager
def throwaway_database(host: str = HOST, port: int = PORT, user: str = USER) -> Iterator[str]:
    """Create ``maild_test_<hex>``, yield its SQLAlchemy URL, drop it afterwards."""
    name = f"maild_test_{secrets.token_hex(6)}"
    with _admin_connection(host, port, user) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    log.info("created PostgreSQL database %s", name)
    try:
        yield f"postgresql+psycopg://{user}@{host}:{port}/{name}"
    finally:
        with _admin_connection(host, port, user) as admin:
            # A test that forgot to dispose of its engine must not make the drop fail.
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
        log.info("dropped PostgreSQL database %s", name)


def _admin_connection(host: str, port: int, user: str) -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection to ``postgres``: CREATE/DROP DATABASE refuse transactions."""
    try:
        return psycopg.connect(
            host=host, port=port, user=user, dbname="postgres", autocommit=True, connect_timeout=10
        )
    except psycopg.OperationalError as exc:
        raise RuntimeError(
            f"PostgreSQL is not reachable at {host}:{port} as {user} ({exc}): {INSTALL_HINT}"
        ) from exc
