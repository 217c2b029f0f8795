"""Reply deadlines end to end: dated mail in Dovecot, the daemon on an injected clock, a scrape."""

import asyncio
import subprocess
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from maild.app import run_forever
from maild.cli import main
from maild.config import load_config
from maild.store import Store
from tests.support.config_files import mailbox_table, password_variable, write_config
from tests.support.dovecot import ImapAccount
from tests.support.imap_session import imap_session
from tests.support.smtp import free_port
from tests.support.waiting import until

pytestmark = pytest.mark.dovecot

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def question(n: int, order: str, extra: str = "") -> bytes:
    return (
        f"From: buyer{n}@mail.example\r\nTo: support@shop.example\r\n"
        f"Subject: Order {order}\r\nMessage-ID: <q{n}@sla.test>\r\n{extra}\r\n"
        f"Hello, where is order {order}?\r\n"
    ).encode()


async def append(account: ImapAccount, folder: str, raw: bytes, at: datetime) -> None:
    async with imap_session(account) as client, asyncio.timeout(10):
        response = await client.append(raw, mailbox=folder, date=at)
        assert response.result == "OK", response


REPLY = (
    b"From: support@shop.example\r\nTo: buyer1@mail.example\r\n"
    b"Subject: Re: Order 113-0000001-0000001\r\nMessage-ID: <r1@sla.test>\r\n"
    b"In-Reply-To: <q1@sla.test>\r\n\r\nIt ships today.\r\n"
)


async def create_sent(account: ImapAccount) -> None:
    async with imap_session(account) as client, asyncio.timeout(10):
        await client.create("Sent")


def amazon_table(account: ImapAccount) -> str:
    """The mailbox's config table on Amazon's preset: 24 hours of wall-clock time."""
    return mailbox_table(account, preset="amazon")


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except urllib.error.URLError:
        return 0, ""  # not listening yet


def sample(text: str, line: str) -> bool:
    return any(row == line for row in text.splitlines())


async def test_scrape_counts_conversations_per_deadline_state_and_a_reply_lands_in_the_histogram(
    imap_account: ImapAccount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_sent(imap_account)
    # Amazon: 24 hours of wall-clock time. At NOW: overdue, 4 h left (due soon), 23 h left.
    await append(
        imap_account, "INBOX", question(1, "113-0000001-0000001"), NOW - timedelta(hours=30)
    )
    await append(
        imap_account, "INBOX", question(2, "113-0000002-0000002"), NOW - timedelta(hours=20)
    )
    await append(
        imap_account, "INBOX", question(3, "113-0000003-0000003"), NOW - timedelta(hours=1)
    )
    port = free_port()
    table = amazon_table(imap_account)
    config = write_config(tmp_path, table + f'\n[metrics]\nlisten = "127.0.0.1:{port}"\n')
    monkeypatch.setenv(password_variable("shop"), imap_account.password)
    settings = load_config(config)
    store = Store.open(settings.database.url)
    store.ensure_mailboxes({"shop": "support@shop.example"}, NOW)
    daemon = asyncio.create_task(run_forever(settings, store, lambda: NOW))
    try:
        awaiting = 'maild_conversations_awaiting{kind="default",mailbox="shop",state="%s"} %s'
        await until(lambda: sample(get(port, "/metrics")[1], awaiting % ("overdue", "1.0")))
        scrape = get(port, "/metrics")[1]
        assert sample(scrape, awaiting % ("due-soon", "1.0"))
        assert sample(scrape, awaiting % ("ok", "1.0"))
        within = 'maild_conversations_due_within{due_bucket="%s",mailbox="shop"} %s'
        assert [
            sample(scrape, within % (b, n))
            for b, n in (("1h", "0.0"), ("4h", "1.0"), ("24h", "2.0"))
        ] == [True] * 3
        oldest = 'maild_oldest_awaiting_timestamp_seconds{mailbox="shop"} '
        [value] = [float(r[len(oldest) :]) for r in scrape.splitlines() if r.startswith(oldest)]
        assert value == (NOW - timedelta(hours=30)).timestamp()
        checked = await asyncio.to_thread(
            subprocess.run,
            ["promtool", "check", "metrics"],
            input=scrape,
            capture_output=True,
            text=True,
        )
        assert (checked.returncode, checked.stdout + checked.stderr) == (0, "")
        assert get(port, "/healthz") == (200, "ok\n")
        assert get(port, "/readyz") == (200, "ready\n")

        await append(imap_account, "Sent", REPLY, NOW - timedelta(hours=28))

        count = 'maild_first_response_business_seconds_count{kind="default",mailbox="shop"} 1.0'
        await until(lambda: sample(get(port, "/metrics")[1], count), limit=30)
        scrape = get(port, "/metrics")[1]
        assert sample(scrape, awaiting % ("overdue", "0.0"))
        # Answered 2 h after the question, within Amazon's 24 h: in the 2 h bucket and on time.
        assert sample(
            scrape,
            "maild_first_response_business_seconds_bucket"
            '{kind="default",le="7200.0",mailbox="shop"} 1.0',
        )
        assert sample(scrape, 'maild_platform_answered_in_time_ratio{mailbox="shop"} 1.0')
    finally:
        daemon.cancel()
        with pytest.raises(asyncio.CancelledError):
            await daemon
        store.close()


def metrics_after_one_question(
    account: ImapAccount,
    table: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> str:
    """What `maild metrics` prints after `run --once` stored one unanswered question."""
    asyncio.run(append(account, "INBOX", question(1, "113-0000001-0000001"), NOW))
    config = str(write_config(tmp_path, table))
    monkeypatch.setenv(password_variable("shop"), account.password)
    assert main(["--config", config, "run", "--once"]) == 0
    capsys.readouterr()
    assert main(["--config", config, "metrics"]) == 0
    return capsys.readouterr().out


def test_maild_metrics_prints_the_deadline_gauges_from_the_database(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = metrics_after_one_question(
        imap_account, amazon_table(imap_account), tmp_path, monkeypatch, capsys
    )
    # The message arrived at NOW; by the real clock (later) 24 h of wall time have not
    # passed only if this test runs within a day of NOW, so only "waiting" is asserted.
    states = [
        line
        for line in out.splitlines()
        if line.startswith('maild_conversations_awaiting{kind="default",mailbox="shop"')
        and line.endswith(" 1.0")
    ]
    assert len(states) == 1
    assert 'maild_folder_last_sync_timestamp_seconds{folder="INBOX",mailbox="shop"} 0.0' not in out


async def test_a_reply_stored_by_run_once_is_counted_by_the_next_daemon_and_not_again_after(
    imap_account: ImapAccount, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await create_sent(imap_account)
    await append(
        imap_account, "INBOX", question(1, "113-0000001-0000001"), NOW - timedelta(hours=30)
    )
    await append(imap_account, "Sent", REPLY, NOW - timedelta(hours=27))
    table = amazon_table(imap_account)
    ports = [free_port(), free_port()]
    config = write_config(tmp_path, table + f'\n[metrics]\nlisten = "127.0.0.1:{ports[0]}"\n')
    monkeypatch.setenv(password_variable("shop"), imap_account.password)
    # No daemon runs: the reply is fetched from Sent, stored and threaded only.
    assert await asyncio.to_thread(main, ["--config", str(config), "run", "--once"]) == 0

    count = 'maild_first_response_business_seconds_count{kind="default",mailbox="shop"} 1.0'
    ratio = 'maild_platform_answered_in_time_ratio{mailbox="shop"} 1.0'
    scrapes = []
    for port in ports:  # the daemon, then the daemon restarted
        config.write_text(config.read_text().replace(str(ports[0]), str(port)))
        settings = load_config(config)
        store = Store.open(settings.database.url)
        daemon = asyncio.create_task(run_forever(settings, store, lambda: NOW))
        try:
            await until(lambda: sample(get(port, "/metrics")[1], ratio))  # noqa: B023 (awaited at once)
            scrapes.append(get(port, "/metrics")[1])
        finally:
            daemon.cancel()
            with pytest.raises(asyncio.CancelledError):
                await daemon
            store.close()

    # Answered after 3 h: counted once, in the 4 h bucket, by the first daemon only.
    assert sample(scrapes[0], count)
    assert sample(
        scrapes[0],
        "maild_first_response_business_seconds_bucket"
        '{kind="default",le="14400.0",mailbox="shop"} 1.0',
    )
    assert not any(
        line.startswith("maild_first_response_business_seconds_count")
        for line in scrapes[1].splitlines()
    )
    assert sample(scrapes[1], ratio)


def test_a_paused_shop_keeps_its_clock_and_only_its_info_metric_says_paused(
    imap_account: ImapAccount,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    table = mailbox_table(imap_account, preset="walmart", keys="paused = true\n")
    out = metrics_after_one_question(imap_account, table, tmp_path, monkeypatch, capsys)
    assert sample(out, 'maild_mailbox_info{mailbox="shop",paused="true"} 1.0')
    assert 'paused="false"' not in out
    # Walmart's 48 hours run while the shop is paused: the customer still waits.
    waiting = [
        line
        for line in out.splitlines()
        if line.startswith("maild_conversations_awaiting{") and 'mailbox="shop"' in line
    ]
    assert sum(float(line.rsplit(" ", 1)[1]) for line in waiting) == 1
