"""Store fixtures: every store test runs on a fresh SQLite file and a fresh PostgreSQL schema."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text


def _reset_postgres(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'maild.db'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    _reset_postgres(url)
    yield url


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> str:
    """The session's PostgreSQL database, emptied: for what only PostgreSQL does (leases)."""
    _reset_postgres(postgres_url)
    return postgres_url
