"""aioimaplib 2.0.3's known defects, reproduced against Dovecot, and maild's client surviving them.

Each test first shows the stock library failing (so the day upstream fixes it,
the test says the workaround can go) and then maild's ``LinearIMAP4`` doing the
same work correctly.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aioimaplib
import pytest
from aioimaplib.aioimaplib import FetchCommand

from maild.ingest.imap_protocol import LinearFetchCommand, LinearIMAP4
from tests.support.dovecot import ImapAccount

pytestmark = pytest.mark.dovecot

TINY = [b"Subject: s%d\r\n\r\nx\r\n" % i for i in range(6000)]


@asynccontextmanager
async def logged_in(client: Any, account: ImapAccount) -> AsyncIterator[Any]:
    try:
        async with asyncio.timeout(10):
            await client.wait_hello_from_server()
            await client.login(account.username, account.password)
            await client.select("INBOX")
        yield client
    finally:
        client.protocol.transport.close()


async def linear_fetch(client: Any, items: str) -> Any:
    protocol = client.protocol
    command = LinearFetchCommand(protocol.new_tag(), "1:*", items, prefix="UID")
    async with asyncio.timeout(30):
        return await protocol.execute(command)


def stock(account: ImapAccount) -> Any:
    return aioimaplib.IMAP4(account.host, account.port, timeout=30)


def linear(account: ImapAccount) -> Any:
    return LinearIMAP4(account.host, account.port, timeout=30)


async def test_flags_fetch_of_a_large_folder_hangs_stock_aioimaplib_but_not_maild(
    imap_account: ImapAccount, caplog: pytest.LogCaptureFixture
) -> None:
    imap_account.deliver(TINY)
    async with logged_in(stock(imap_account), imap_account) as client:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(2):
                await client.uid("fetch", "1:*", "(UID FLAGS)")
    assert "RecursionError" in caplog.text or "data_received" in caplog.text
    async with logged_in(linear(imap_account), imap_account) as client:
        response = await linear_fetch(client, "(UID FLAGS)")
    assert response.result == "OK"
    assert sum(1 for line in response.lines if b"FETCH (UID" in line) == len(TINY)


async def test_many_small_literals_in_one_read_break_stock_aioimaplib_but_not_maild(
    imap_account: ImapAccount, caplog: pytest.LogCaptureFixture
) -> None:
    imap_account.deliver(TINY)
    async with logged_in(stock(imap_account), imap_account) as client:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(2):
                await client.uid("fetch", "1:*", "(UID BODY.PEEK[])")
    assert "RecursionError" in caplog.text
    async with logged_in(linear(imap_account), imap_account) as client:
        response = await linear_fetch(client, "(UID BODY.PEEK[])")
    literals = [bytes(line) for line in response.lines if isinstance(line, bytearray)]
    assert sorted(literals) == sorted(TINY)


class CountingFetch(FetchCommand):  # type: ignore[misc]
    """Stock FETCH, counting the response lines its completeness check rescans."""

    scanned = 0

    def wait_data(self) -> bool:
        CountingFetch.scanned += len(self._resp_lines)
        result: bool = super().wait_data()
        return result


class CountingLinearFetch(LinearFetchCommand):
    scanned = 0

    def wait_data(self) -> bool:
        CountingLinearFetch.scanned += 1
        return super().wait_data()


async def scan_cost(account: ImapAccount, command: type[Any], count: int) -> int:
    command.scanned = 0
    async with logged_in(linear(account), account) as client:
        protocol = client.protocol
        fetch = command(protocol.new_tag(), f"1:{count}", "(UID BODY.PEEK[])", prefix="UID")
        async with asyncio.timeout(30):
            response = await protocol.execute(fetch)
    assert response.result == "OK"
    scanned: int = command.scanned
    return scanned


async def test_stock_fetch_check_grows_quadratically_and_maild_stays_linear(
    imap_account: ImapAccount,
) -> None:
    imap_account.deliver(TINY[:1600])
    stock_small = await scan_cost(imap_account, CountingFetch, 400)
    stock_large = await scan_cost(imap_account, CountingFetch, 1600)
    ours_small = await scan_cost(imap_account, CountingLinearFetch, 400)
    ours_large = await scan_cost(imap_account, CountingLinearFetch, 1600)
    # Four times the messages: stock rescans ~16x the lines, maild checks ~4x as often.
    assert stock_large / stock_small > 10
    assert ours_large / ours_small < 5
