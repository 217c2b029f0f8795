"""Daemons in-process sharing mailboxes by lease on PostgreSQL; alone on SQLite they own all."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import create_engine, text

from maild.config import Settings, load_config
from maild.daemon import Daemon
from maild.metrics import Metrics
from maild.store import Store
from tests.support.config_files import mailbox_table, password_variable
from tests.support.dovecot import DovecotServer, ImapAccount
from tests.support.mailgen import make_messages
from tests.support.waiting import until

pytestmark = pytest.mark.dovecot

LEASE_S = 6.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def settings_for(
    directory: Path,
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    instance: str,
    accounts: list[ImapAccount],
) -> Settings:
    tables = []
    for n, account in enumerate(accounts):
        tables.append(mailbox_table(account, f"shop-{n}", fetch_batch=50))
        monkeypatch.setenv(password_variable(f"shop-{n}"), account.password)
    directory.mkdir()
    path = directory / "maild.toml"
    path.write_text(
        f'[database]\nurl = "{url}"\ninstance = "{instance}"\nlease_period_s = {LEASE_S}\n\n'
        + "\n".join(tables)
    )
    return load_config(path)


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[Daemon, Metrics]]:
    store = Store.open(settings.database.url)
    store.ensure_mailboxes({n: m.address for n, m in settings.mailboxes.items()}, utcnow())
    metrics = Metrics(CollectorRegistry())
    daemon = Daemon(settings, store, utcnow, metrics)
    task = asyncio.create_task(daemon.run())
    try:
        yield daemon, metrics
    finally:
        daemon.stop()
        async with asyncio.timeout(20):
            await task
        store.close()


def owned(metrics: Metrics, owner: str, mailboxes: int) -> set[str]:
    """Mailboxes whose INBOX ``maild_lease_owned`` shows 1 for ``owner``."""
    return {
        f"shop-{n}"
        for n in range(mailboxes)
        if metrics.registry.get_sample_value(
            "maild_lease_owned", {"mailbox": f"shop-{n}", "folder": "INBOX", "owner": owner}
        )
        == 1
    }


def unprocessed(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            query = "SELECT count(*) FROM message WHERE state = 'landed'"
            return int(connection.execute(text(query)).scalar_one())
    finally:
        engine.dispose()


def synced(metrics: Metrics, mailbox: str) -> float | None:
    return metrics.registry.get_sample_value(
        "maild_folder_last_sync_timestamp_seconds", {"mailbox": mailbox, "folder": "INBOX"}
    )


async def test_a_lone_daemon_on_sqlite_owns_every_mailbox_and_says_so(
    dovecot: DovecotServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = [dovecot.new_account() for _ in range(2)]
    url = f"sqlite:///{tmp_path / 'maild.db'}"
    settings = settings_for(tmp_path / "solo", monkeypatch, url, "solo", accounts)
    async with running(settings) as (_daemon, metrics):
        await until(lambda: owned(metrics, "solo", 2) == {"shop-0", "shop-1"})
        await until(lambda: all(synced(metrics, f"shop-{n}") for n in range(2)))


@pytest.mark.postgres
async def test_two_daemons_split_the_mailboxes_and_a_clean_stop_hands_them_over_at_once(
    dovecot: DovecotServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fresh_postgres_url: str,
) -> None:
    accounts = [dovecot.new_account() for _ in range(4)]
    for n, account in enumerate(accounts):
        account.deliver(make_messages(20, seed=700 + n))
    a = settings_for(tmp_path / "a", monkeypatch, fresh_postgres_url, "a", accounts)
    b = settings_for(tmp_path / "b", monkeypatch, fresh_postgres_url, "b", accounts)
    async with running(b) as (_b, b_metrics):
        async with running(a) as (_a, a_metrics):

            def split() -> bool:
                mine, theirs = owned(a_metrics, "a", 4), owned(b_metrics, "b", 4)
                return len(mine) == len(theirs) == 2 and not mine & theirs

            await until(split, 30)
            for me, metrics in (("a", a_metrics), ("b", b_metrics)):
                mine = owned(metrics, me, 4)
                await until(lambda: all(synced(metrics, box) for box in mine))  # noqa: B023
                others = {f"shop-{n}" for n in range(4)} - mine
                assert all(synced(metrics, box) is None for box in others)
            # Stopped with a parse thread busy, a daemon would leave it a connection to
            # the store this test closes next.
            await until(lambda: unprocessed(fresh_postgres_url) == 0, 30)
        # Released at the clean stop: taken long before the leases would have expired.
        stopped = time.monotonic()
        await until(lambda: len(owned(b_metrics, "b", 4)) == 4, LEASE_S / 2)
        print(f"handed over {time.monotonic() - stopped:.1f}s after a clean stop")
        await until(lambda: all(synced(b_metrics, f"shop-{n}") for n in range(4)))
