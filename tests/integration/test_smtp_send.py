"""maild's SMTP sender against a real aiosmtpd server on loopback: what it sends and how it fails.

The server records every message byte for byte, answers 4xx/5xx to a message or a
recipient on demand, and speaks STARTTLS or implicit TLS with a throwaway CA, so the
mapping to TransientError and PermanentError is shown against real SMTP replies.
The logins themselves are in test_smtp_login.py.
"""

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from maild.config.settings import Security
from maild.errors import MaildError, PermanentError, TransientError
from maild.outbound.smtp import SmtpEndpoint, send
from tests.support.smtp import HOST, RecordingSMTPServer
from tests.support.smtp_submission import (
    PASSWORD,
    REPLY,
    USERNAME,
    SubmissionHandler,
    ThrowawayTls,
    sender_endpoint,
    submission_server,
    throwaway_tls,
)

BUYER = "buyer@buyers.example"
OTHER = "other@buyers.example"


@pytest.fixture
def handler() -> SubmissionHandler:
    return SubmissionHandler()


@pytest.fixture
async def server(handler: SubmissionHandler) -> AsyncIterator[RecordingSMTPServer]:
    async with submission_server(handler) as running:
        yield running


@pytest.fixture
def tls(tmp_path: Path) -> ThrowawayTls:
    return throwaway_tls(tmp_path)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("reply", "error"),
    [("451 4.3.0 Try again later", TransientError), ("550 5.7.1 Message refused", PermanentError)],
    ids=["451-transient", "550-permanent"],
)
async def test_the_servers_answer_to_the_message_decides_transient_or_permanent(
    server: RecordingSMTPServer, handler: SubmissionHandler, reply: str, error: type[MaildError]
) -> None:
    handler.fail_next(1, reply)

    with pytest.raises(MaildError) as raised:
        await send(sender_endpoint(server, password=PASSWORD), REPLY, USERNAME, [BUYER])

    assert type(raised.value) is error
    assert str(raised.value) == (
        f"smtp://{USERNAME}@{server.host}:{server.port}: send refused: {reply}"
    )
    assert handler.accepted == []


async def test_recipients_refused_while_others_are_taken_still_count_as_sent(
    server: RecordingSMTPServer, handler: SubmissionHandler
) -> None:
    handler.refuse_recipient("gone@buyers.example", "550 5.1.1 No such user")

    accepted = await send(sender_endpoint(server), REPLY, USERNAME, [BUYER, "gone@buyers.example"])

    assert accepted.refused == {"gone@buyers.example": "550 5.1.1 No such user"}
    [received] = handler.accepted
    assert received.rcpt_tos == (BUYER,)


async def test_a_quit_that_fails_after_the_server_took_the_message_still_counts_as_sent(
    server: RecordingSMTPServer, handler: SubmissionHandler
) -> None:
    handler.refuse_quit("500 5.5.1 Not now")

    accepted = await send(sender_endpoint(server), REPLY, USERNAME, [BUYER])

    assert accepted.reply == "250 2.0.0 OK: queued"
    assert [m.content for m in handler.accepted] == [REPLY]


@pytest.mark.parametrize(
    ("second", "error"),
    [("550 5.1.1 No such user", PermanentError), ("450 4.2.1 Mailbox busy", TransientError)],
    ids=["all-5xx-permanent", "one-4xx-transient"],
)
async def test_every_recipient_refused_is_permanent_unless_one_may_take_it_later(
    server: RecordingSMTPServer, handler: SubmissionHandler, second: str, error: type[MaildError]
) -> None:
    handler.refuse_recipient(BUYER, "550 5.1.1 No such user")
    handler.refuse_recipient(OTHER, second)

    with pytest.raises(MaildError) as raised:
        await send(sender_endpoint(server), REPLY, USERNAME, [BUYER, OTHER])

    assert type(raised.value) is error
    assert str(raised.value) == (
        f"smtp://{server.host}:{server.port}: all 2 recipients refused:"
        f" 550 5.1.1 No such user; {second}"
    )
    assert handler.received == []


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_tls_is_verified_against_the_trusted_ca_and_the_login_goes_over_it(
    handler: SubmissionHandler,
    tls: ThrowawayTls,
    monkeypatch: pytest.MonkeyPatch,
    security: Security,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_pem))

    async with submission_server(handler, security=security, tls=tls) as server:
        await send(sender_endpoint(server, security, password=PASSWORD), REPLY, USERNAME, [BUYER])

    assert [m.content for m in handler.accepted] == [REPLY]
    assert handler.logins == ["PLAIN"]


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_an_untrusted_certificate_is_a_permanent_error_before_any_login(
    handler: SubmissionHandler,
    tls: ThrowawayTls,
    monkeypatch: pytest.MonkeyPatch,
    security: Security,
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)

    async with submission_server(handler, security=security, tls=tls) as server:
        with pytest.raises(PermanentError) as error:
            await send(
                sender_endpoint(server, security, password=PASSWORD), REPLY, USERNAME, [BUYER]
            )

    assert str(error.value).startswith(
        f"smtp://{USERNAME}@{server.host}:{server.port}: TLS certificate not trusted:"
    )
    assert (handler.logins, handler.received) == ([], [])


async def test_tls_verify_off_accepts_a_certificate_nobody_vouches_for(
    handler: SubmissionHandler, tls: ThrowawayTls, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)

    async with submission_server(handler, security="starttls", tls=tls) as server:
        await send(
            sender_endpoint(server, "starttls", tls_verify=False, password=PASSWORD),
            REPLY,
            USERNAME,
            [BUYER],
        )

    assert [m.content for m in handler.accepted] == [REPLY]


async def test_starttls_missing_from_the_server_is_refused_rather_than_sent_in_clear(
    server: RecordingSMTPServer, handler: SubmissionHandler
) -> None:
    with pytest.raises(PermanentError, match="STARTTLS extension not supported"):
        await send(sender_endpoint(server, "starttls", password=PASSWORD), REPLY, USERNAME, [BUYER])

    assert (handler.logins, handler.received) == ([], [])


async def test_a_refused_connection_is_a_transient_error_naming_the_server() -> None:
    port = closed_port()

    with pytest.raises(TransientError, match=rf"^smtp://{HOST}:{port}: connect failed: "):
        await send(SmtpEndpoint(HOST, port, "none", True), REPLY, USERNAME, [BUYER])


async def test_a_server_that_never_greets_times_out_as_a_transient_error() -> None:
    hung_up = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes
        writer.close()
        await writer.wait_closed()
        hung_up.set()

    listener = await asyncio.start_server(silent, HOST, 0)
    async with listener:
        port = listener.sockets[0].getsockname()[1]
        with pytest.raises(TransientError, match=r": connect timed out after 0\.2s$"):
            await send(
                SmtpEndpoint(HOST, port, "none", True, timeout_s=0.2), REPLY, USERNAME, [BUYER]
            )
        async with asyncio.timeout(10):
            await hung_up.wait()


@pytest.mark.parametrize(
    "message",
    [REPLY.replace(b"\r\n", b"\n"), REPLY.removesuffix(b"\r\n"), REPLY + b"stray\rCR\r\n"],
    ids=["bare-lf", "no-final-crlf", "bare-cr"],
)
async def test_a_message_smtp_would_alter_is_refused_before_any_connection(
    message: bytes,
) -> None:
    # Nothing listens there: trying to connect would be a TransientError instead.
    unreachable = SmtpEndpoint(HOST, closed_port(), "none", True)

    with pytest.raises(PermanentError, match="line ends are not all CRLF"):
        await send(unreachable, message, USERNAME, [BUYER])
