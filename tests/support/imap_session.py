"""Connecting to the test Dovecot with aioimaplib, with the safety nets it lacks.

aioimaplib 2.0.3 can hang on a command forever (see DEPENDENCIES.md), and it leaves its
transport open when a test fails before LOGOUT. These helpers bound the greeting and
login with ``asyncio.timeout`` and close the connection whatever happens. Tests still
wrap their own commands in ``asyncio.timeout``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aioimaplib

from tests.support.dovecot import ImapAccount

__all__ = ["imap_connection", "imap_session"]


@asynccontextmanager
async def imap_connection(
    account: ImapAccount, *, tls: bool = False, time_limit: float = 10.0
) -> AsyncIterator[Any]:
    """A greeted but not logged-in client (``Any``: aioimaplib ships no type information).

    ``time_limit`` bounds the greeting and is aioimaplib's own per-command timeout.
    """
    if tls:
        client = aioimaplib.IMAP4_SSL(
            account.host, account.tls_port, timeout=time_limit, ssl_context=account.ssl_context()
        )
    else:
        client = aioimaplib.IMAP4(account.host, account.port, timeout=time_limit)
    closed = asyncio.get_running_loop().create_future()

    def connection_lost(exc: Exception | None) -> None:
        if not closed.done():
            closed.set_result(None)

    # Set on the protocol because IMAP4_SSL does not take a conn_lost_cb argument.
    client.protocol.conn_lost_cb = connection_lost
    try:
        async with asyncio.timeout(time_limit):
            await client.wait_hello_from_server()
        yield client
    finally:
        transport = client.protocol.transport
        if transport is not None:
            # abort, not close: a TLS close waits for the peer's close_notify, and a socket
            # still open when the test's loop ends is a ResourceWarning, i.e. an error.
            transport.abort()
            async with asyncio.timeout(time_limit):
                await closed


@asynccontextmanager
async def imap_session(
    account: ImapAccount, *, tls: bool = False, time_limit: float = 10.0
) -> AsyncIterator[Any]:
    """A logged-in client for ``account``; logs out on a clean exit."""
    async with imap_connection(account, tls=tls, time_limit=time_limit) as client:
        async with asyncio.timeout(time_limit):
            response = await client.login(account.username, account.password)
        if response.result != "OK":
            raise ConnectionError(f"IMAP login refused for {account.username}: {response}")
        yield client
        async with asyncio.timeout(time_limit):
            await client.logout()
