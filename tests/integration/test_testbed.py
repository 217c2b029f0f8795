"""The test bed is real: each peer is exercised the way maild's adapters will use it.

If one of these fails, every integration test built on these fixtures fails for a reason
unrelated to maild, so on a new machine run this file first.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from email import message_from_bytes

import aiosmtplib
import pytest
import sqlalchemy as sa

from tests.support.dovecot import DovecotServer, ImapAccount
from tests.support.imap_session import imap_connection, imap_session
from tests.support.mailgen import make_message, make_messages
from tests.support.smtp import RecordingSMTPServer, threaded_smtp_server

COMMAND_TIMEOUT = 10.0  # aioimaplib 2.0.3 can hang on a command: bound each one


def literal_after(lines: Sequence[bytes | bytearray], marker: bytes) -> bytes:
    """The ``{n}`` literal that follows the response line containing ``marker``."""
    for index, line in enumerate(lines[:-1]):
        size = re.search(rb"\{(\d+)\}$", line)
        if marker in line and size:
            literal = bytes(lines[index + 1])
            assert len(literal) == int(size.group(1))
            return literal
    raise AssertionError(f"no literal after {marker!r} in {lines[:6]!r}")


def exists_count(lines: Sequence[bytes | bytearray]) -> int:
    counts = [int(m.group(1)) for line in lines if (m := re.fullmatch(rb"(\d+) EXISTS", line))]
    assert len(counts) == 1, lines
    return counts[0]


def message_id(raw: bytes) -> str:
    return str(message_from_bytes(raw)["Message-ID"])


@pytest.mark.dovecot
@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
async def test_dovecot_serves_imap_login_append_and_fetch(
    imap_account: ImapAccount, tls: bool
) -> None:
    message = make_message(7, seed=1, language="zh")
    async with imap_session(imap_account, tls=tls) as client:
        async with asyncio.timeout(COMMAND_TIMEOUT):
            appended = await client.append(message, mailbox="INBOX")
        assert appended.result == "OK", appended
        uid = re.search(rb"\[APPENDUID \d+ (\d+)\]", appended.lines[-1])
        assert uid, appended

        async with asyncio.timeout(COMMAND_TIMEOUT):
            selected = await client.select("INBOX")
        assert selected.result == "OK"
        assert exists_count(selected.lines) == 1

        async with asyncio.timeout(COMMAND_TIMEOUT):
            fetched = await client.uid("fetch", uid.group(1).decode(), "(BODY.PEEK[])")
        assert fetched.result == "OK", fetched
        assert literal_after(fetched.lines, b"BODY[]") == message


@pytest.mark.dovecot
async def test_deliver_loads_2000_messages_seen_by_select_in_delivery_order(
    imap_account: ImapAccount,
) -> None:
    messages = list(make_messages(2000, seed=2))
    assert imap_account.deliver(messages) == 2000

    async with imap_session(imap_account) as client:
        async with asyncio.timeout(COMMAND_TIMEOUT):
            selected = await client.select("INBOX")
        assert exists_count(selected.lines) == 2000

        for uid, expected in ((1, messages[0]), (2000, messages[-1])):
            async with asyncio.timeout(COMMAND_TIMEOUT):
                fetched = await client.uid("fetch", str(uid), "(BODY.PEEK[])")
            assert literal_after(fetched.lines, b"BODY[]") == expected


@pytest.mark.dovecot
async def test_deliver_to_a_folder_creates_it(imap_account: ImapAccount) -> None:
    assert imap_account.deliver(make_messages(3, seed=3), folder="Orders") == 3

    async with imap_session(imap_account) as client:
        async with asyncio.timeout(COMMAND_TIMEOUT):
            selected = await client.select("Orders")
        assert selected.result == "OK", selected
        assert exists_count(selected.lines) == 3


@pytest.mark.dovecot
async def test_dovecot_refuses_a_wrong_password(imap_account: ImapAccount) -> None:
    async with imap_connection(imap_account) as client:
        async with asyncio.timeout(COMMAND_TIMEOUT):
            response = await client.login(imap_account.username, "not-the-password")
    assert response.result == "NO"
    assert any(b"AUTHENTICATIONFAILED" in line for line in response.lines), response


@pytest.mark.dovecot
async def test_dovecot_restart_keeps_port_users_and_mail() -> None:
    server = DovecotServer()
    try:
        server.start()
        account = server.new_account()
        account.deliver([make_message(0, seed=4)])
        port = server.port
        server.restart()
        assert server.port == port
        async with imap_session(account) as client:
            async with asyncio.timeout(COMMAND_TIMEOUT):
                selected = await client.select("INBOX")
            assert exists_count(selected.lines) == 1
    finally:
        server.cleanup()  # raises if a Dovecot process outlives the stop


async def test_smtp_server_records_message_byte_for_byte(
    smtp_server: RecordingSMTPServer,
) -> None:
    message = make_message(3, seed=5)
    async with aiosmtplib.SMTP(
        hostname=smtp_server.host,
        port=smtp_server.port,
        start_tls=False,
        local_hostname="localhost",
        timeout=COMMAND_TIMEOUT,
    ) as client:
        await client.sendmail("support@seller.example", ["buyer@buyers.example"], message)

    [received] = smtp_server.handler.received
    assert received.accepted
    assert received.mail_from == "support@seller.example"
    assert received.rcpt_tos == ("buyer@buyers.example",)
    assert received.content == message
    assert message_id(received.content) == message_id(message)


async def test_smtp_server_answers_451_when_told_then_accepts(
    smtp_server: RecordingSMTPServer,
) -> None:
    smtp_server.handler.fail_next(1, "451 4.3.0 Try again later")
    message = make_message(4, seed=5)
    async with aiosmtplib.SMTP(
        hostname=smtp_server.host,
        port=smtp_server.port,
        start_tls=False,
        local_hostname="localhost",
        timeout=COMMAND_TIMEOUT,
    ) as client:
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await client.sendmail("support@seller.example", ["buyer@buyers.example"], message)
        await client.sendmail("support@seller.example", ["buyer@buyers.example"], message)

    assert refused.value.code == 451
    assert [m.accepted for m in smtp_server.handler.received] == [False, True]
    assert [m.content for m in smtp_server.handler.accepted] == [message]


async def test_threaded_smtp_server_records_for_out_of_loop_senders() -> None:
    message = make_message(5, seed=5)
    with threaded_smtp_server() as server:
        await aiosmtplib.send(
            message,
            sender="support@seller.example",
            recipients=["buyer@buyers.example"],
            hostname=server.host,
            port=server.port,
            start_tls=False,
            local_hostname="localhost",
            timeout=COMMAND_TIMEOUT,
        )
        [received] = await asyncio.to_thread(server.handler.wait_for, 1, COMMAND_TIMEOUT)
    assert received.content == message


@pytest.mark.postgres
def test_postgres_fixture_yields_a_database_you_can_create_a_table_in(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("CREATE TABLE probe (id integer PRIMARY KEY, body text)"))
            connection.execute(sa.text("INSERT INTO probe VALUES (1, 'hello')"))
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT body FROM probe")).scalar_one() == "hello"
            database = connection.execute(sa.text("SELECT current_database()")).scalar_one()
        assert database.startswith("maild_test_")
    finally:
        engine.dispose()
