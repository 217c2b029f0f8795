"""The daemon in-process against real Dovecot: push, supervision, faults and the Sent folder."""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import text

from maild.backoff import Backoff
from maild.config import Settings, load_config
from maild.daemon import Daemon
from maild.metrics import Metrics
from maild.store import Store
from tests.support.config_files import mailbox_table, password_variable, write_config
from tests.support.dovecot import DovecotServer, ImapAccount
from tests.support.imap_session import imap_session
from tests.support.mailgen import make_message, make_messages
from tests.support.waiting import until

pytestmark = pytest.mark.dovecot

QUICK = Backoff(initial_s=0.05, factor=2.0, cap_s=0.5, jitter=0.25)


def utcnow() -> datetime:
    return datetime.now(UTC)


def settings_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *tables: tuple[str, ImapAccount, str]
) -> Settings:
    """Settings for (name, account, extra imap keys) mailboxes, passwords in the environment."""
    rendered = []
    for name, account, extra in tables:
        table = mailbox_table(account, name, fetch_batch=50)
        rendered.append(table + extra)
        monkeypatch.setenv(password_variable(name), account.password)
    return load_config(write_config(tmp_path, *rendered))


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[Daemon, Store, Metrics]]:
    store = Store.open(settings.database.url)
    store.ensure_mailboxes({n: m.address for n, m in settings.mailboxes.items()}, utcnow())
    metrics = Metrics(CollectorRegistry())
    daemon = Daemon(settings, store, utcnow, metrics, backoff=QUICK)
    task = asyncio.create_task(daemon.run())
    try:
        yield daemon, store, metrics
    finally:
        daemon.stop()
        async with asyncio.timeout(15):
            await task
        store.close()


def count(store: Store, sql: str) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(text(sql)).scalar_one())


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def append(account: ImapAccount, message: bytes, folder: str = "INBOX") -> None:
    async with imap_session(account) as client, asyncio.timeout(10):
        response = await client.append(message, mailbox=folder)
        assert response.result == "OK", response


async def create_folder(account: ImapAccount, folder: str) -> None:
    async with imap_session(account) as client, asyncio.timeout(10):
        response = await client.create(folder)
        assert response.result == "OK", response


async def test_message_appended_by_another_client_is_stored_within_two_seconds_by_idle(
    imap_account: ImapAccount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    imap_account.deliver(make_messages(3, seed=51))
    # Polling once an hour: only IDLE can bring the new message in time.
    settings = settings_for(
        tmp_path, monkeypatch, ("shop", imap_account, "poll_interval_s = 3600\n")
    )
    async with running(settings) as (_daemon, store, metrics):
        await until(lambda: count(store, "SELECT count(*) FROM message") == 3)
        await until(
            lambda: (
                sample(
                    metrics,
                    "maild_folder_last_sync_timestamp_seconds",
                    mailbox="shop",
                    folder="INBOX",
                )
                > 0
            )
        )
        await asyncio.sleep(0.3)  # let the folder task enter IDLE after its first sync
        appended = time.monotonic()
        await append(imap_account, make_message(7, seed=52))
        await until(lambda: count(store, "SELECT count(*) FROM message") == 4, limit=10)
        latency = time.monotonic() - appended
    print(f"IDLE: appended message landed after {latency:.3f}s")
    assert latency < 2.0, f"new mail took {latency:.2f}s to land"


async def test_wrong_password_mailbox_fails_alone_and_keeps_retrying(
    dovecot: DovecotServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good, bad = dovecot.new_account(), dovecot.new_account()
    good.deliver(make_messages(200, seed=53))
    settings = settings_for(tmp_path, monkeypatch, ("good", good, ""), ("bad", bad, ""))
    monkeypatch.setenv(password_variable("bad"), "not-the-password")
    settings = load_config(tmp_path / "maild.toml")
    async with running(settings) as (_daemon, store, metrics):
        await until(lambda: count(store, "SELECT count(*) FROM message") == 200)
        await until(
            lambda: sample(metrics, "maild_sync_errors_total", mailbox="bad", kind="permanent") >= 2
        )
        # Both folder tasks count a failure; INBOX's is recorded just after its count.
        await until(lambda: any(f.last_error for f in store.stats().mailboxes["bad"].folders))
        stats = store.stats().mailboxes
    assert stats["good"].messages == 200
    assert stats["bad"].messages == 0
    errors = [f.last_error for f in stats["bad"].folders]
    assert errors and all(e and "login refused" in e for e in errors), errors


@pytest.fixture
def own_dovecot() -> Iterator[DovecotServer]:
    """A Dovecot of the test's own, which it may stop and start again."""
    server = DovecotServer()
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


async def test_server_restart_mid_sync_is_survived_with_nothing_lost_or_doubled(
    own_dovecot: DovecotServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = own_dovecot
    account = server.new_account()
    account.deliver(make_messages(6000, seed=54))
    settings = settings_for(tmp_path, monkeypatch, ("shop", account, "poll_interval_s = 0.2\n"))
    async with running(settings) as (_daemon, store, metrics):
        await until(lambda: count(store, "SELECT count(*) FROM message") >= 200)
        await asyncio.to_thread(server.stop)
        landed_while_down = count(store, "SELECT count(*) FROM message")
        await until(
            lambda: (
                sample(metrics, "maild_sync_errors_total", mailbox="shop", kind="transient") >= 1
            )
        )
        await asyncio.to_thread(server.start)
        await until(lambda: count(store, "SELECT count(*) FROM message") == 6000, limit=60)
        distinct = count(store, "SELECT count(DISTINCT message_id) FROM message")
        locations = count(store, "SELECT count(*) FROM message_location")
    assert landed_while_down < 6000, "the sync finished before the server went down"
    assert (distinct, locations) == (6000, 6000)


async def test_reply_appended_to_sent_by_another_client_is_ingested_as_outbound(
    imap_account: ImapAccount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    imap_account.deliver(make_messages(2, seed=55))
    await create_folder(imap_account, "Sent")
    # sent_folder is left at its default, "auto": found by the server's \Sent marking.
    settings = settings_for(
        tmp_path, monkeypatch, ("shop", imap_account, "poll_interval_s = 0.2\n")
    )
    async with running(settings) as (_daemon, store, _metrics):
        await until(lambda: count(store, "SELECT count(*) FROM message") == 2)
        await append(imap_account, make_message(8, seed=56), folder="Sent")
        await until(lambda: count(store, "SELECT count(*) FROM message") == 3)
        stats = store.stats().mailboxes["shop"]
    assert (stats.messages, stats.outbound) == (3, 1)
    assert {f.folder for f in stats.folders} == {"INBOX", "Sent"}


async def test_server_gone_during_idle_ends_the_wait_at_once_and_mail_after_its_return_lands(
    own_dovecot: DovecotServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = own_dovecot
    account = server.new_account()
    account.deliver(make_messages(2, seed=55))
    # Polling once an hour and IDLE renewed every five minutes: only noticing the
    # dropped connection can end the wait within this test's limits.
    settings = settings_for(tmp_path, monkeypatch, ("shop", account, "poll_interval_s = 3600\n"))
    async with running(settings) as (_daemon, store, metrics):
        await until(lambda: count(store, "SELECT count(*) FROM message") == 2)
        await asyncio.sleep(0.3)  # the folder task is now in IDLE
        await asyncio.to_thread(server.stop)
        await until(
            lambda: (
                sample(metrics, "maild_sync_errors_total", mailbox="shop", kind="transient") >= 1
            ),
            limit=10,
        )
        await asyncio.to_thread(server.start)
        await append(account, make_message(9, seed=56))
        await until(lambda: count(store, "SELECT count(*) FROM message") == 3, limit=30)
