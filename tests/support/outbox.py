"""A mailbox that can send: Dovecot for IMAP (INBOX and Sent), a recording SMTP server.

Shared by the outbox's integration and system tests: one customer message about an
Amazon order waits in INBOX, the config points the mailbox's [smtp] at the test
server, and helpers read back what maild stored, queued and filed.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.support.config_files import mailbox_table, write_config
from tests.support.dovecot import ImapAccount
from tests.support.imap_session import imap_session
from tests.support.smtp import RecordingSMTPServer

__all__ = [
    "BUYER",
    "CUSTOMER_ID",
    "ORDER",
    "SHOP",
    "append_to_sent",
    "outbox_config",
    "parsed",
    "query",
    "seed_customer_message",
    "sent_folder_ids",
]

ORDER = "112-1234567-1234567"
SHOP = "support@shop.example"
BUYER = "alice@buyers.example"
CUSTOMER_ID = "<c1@buyers.example>"
_CUSTOMER = (
    f"From: Alice Buyer <{BUYER}>\r\nTo: {SHOP}\r\nSubject: Where is my order {ORDER}?\r\n"
    f"Message-ID: {CUSTOMER_ID}\r\nReferences: <c0@buyers.example>\r\n"
    "Date: Mon, 01 Jun 2026 02:00:00 +0000\r\nMIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    f"Hello, my order {ORDER} has not arrived yet. Can you check?\r\n"
).encode()


def seed_customer_message(account: ImapAccount, message: bytes = _CUSTOMER) -> None:
    """A customer's question in INBOX (by default about ORDER), and a Sent folder."""

    async def seed() -> None:
        async with imap_session(account) as client, asyncio.timeout(20):
            await client.create("Sent")  # NO when it exists already: that is fine
            when = datetime(2026, 6, 1, 2, tzinfo=UTC)
            response = await client.append(message, mailbox="INBOX", date=when)
            assert response.result == "OK", response

    asyncio.run(seed())


def outbox_config(
    account: ImapAccount, smtp: RecordingSMTPServer, directory: Path, *, metrics_port: int = 0
) -> Path:
    """maild.toml for one Amazon mailbox that sends through ``smtp``, retrying at once."""
    table = mailbox_table(account, preset="amazon")
    table += (
        f'\n[mailboxes.shop.smtp]\nhost = "{smtp.host}"\nport = {smtp.port}\nsecurity = "none"\n'
        '\n[mailboxes.shop.outbound]\nshop_name = "Lamp Shop"\n'
        "\n[outbox]\nretry_initial_s = 0.01\npoll_interval_s = 0.2\n"
        f'\n[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n'
    )
    return write_config(directory, table)


def query(directory: Path, sql: str) -> list[tuple[object, ...]]:
    """The rows of ``sql`` on the test's database; an UPDATE is committed."""
    engine = create_engine(f"sqlite:///{directory / 'maild.db'}")
    try:
        with engine.begin() as connection:
            result = connection.execute(text(sql))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def parsed(content: bytes) -> EmailMessage:
    message = message_from_bytes(content, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def append_to_sent(account: ImapAccount, raw: bytes) -> None:
    """File ``raw`` in Sent as a server does with what it was given to send."""

    async def append() -> None:
        async with imap_session(account) as client, asyncio.timeout(20):
            response = await client.append(raw, mailbox="Sent")
            assert response.result == "OK", response

    asyncio.run(append())


def sent_folder_ids(account: ImapAccount) -> list[str]:
    """The Message-ID of every message in the Sent folder, in order."""

    async def read() -> list[str]:
        async with imap_session(account) as client, asyncio.timeout(20):
            await client.select("Sent")
            response = await client.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            if response.result != "OK":  # an empty folder has no message 1
                return []
            lines = [line for line in response.lines if isinstance(line, bytes | bytearray)]
            return [
                bytes(line).decode().split(":", 1)[1].strip()
                for line in lines
                if bytes(line).lower().startswith(b"message-id:")
            ]

    return asyncio.run(read())
