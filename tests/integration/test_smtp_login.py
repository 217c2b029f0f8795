"""maild's SMTP logins against a real aiosmtpd submission server on loopback.

The server checks logins as Gmail's does: PLAIN or LOGIN with a password, XOAUTH2 by
asking the local authorization server whether the token is live, with the error
challenge and 535 when it is not. So the refresh flow, a token that dies early and a
revoked grant all meet a real peer, and the logs are read at DEBUG for secrets.
"""

import base64
import logging
import traceback
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from maild.config import Secret
from maild.errors import MaildError, PermanentError
from maild.oauth import BearerToken, RefreshGrant, RefreshTokenFlow
from maild.outbound.smtp import send
from tests.support.oauth_server import CLIENT_ID, CLIENT_SECRET, OAuthServer, oauth_server
from tests.support.smtp import RecordingSMTPServer
from tests.support.smtp_submission import (
    PASSWORD,
    REPLY,
    USERNAME,
    SubmissionHandler,
    sender_endpoint,
    submission_server,
    xoauth2_response,
)

MAILBOX = "walmart-us"
BUYER = "buyer@buyers.example"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def oauth() -> Iterator[OAuthServer]:
    with oauth_server() as server:
        yield server


@pytest.fixture
def handler(oauth: OAuthServer) -> SubmissionHandler:
    return SubmissionHandler(oauth.introspection_url)


@pytest.fixture
async def server(handler: SubmissionHandler) -> AsyncIterator[RecordingSMTPServer]:
    async with submission_server(handler) as running:
        yield running


def refresh_flow(tmp_path: Path, oauth: OAuthServer, refresh_token: str) -> RefreshTokenFlow:
    path = tmp_path / "walmart-us.refresh-token"
    path.write_text(refresh_token + "\n")
    grant = RefreshGrant(oauth.token_url, CLIENT_ID, Secret(CLIENT_SECRET), path)
    return RefreshTokenFlow(MAILBOX, grant, lambda: NOW)


def told(error: pytest.ExceptionInfo[MaildError]) -> str:
    """Everything a log line with the traceback would show, causes included."""
    return "".join(traceback.format_exception(error.value))


def assert_not_shown(text: str, *secrets: str) -> None:
    """No secret, nor any SASL response that would carry it, is in ``text``."""
    for secret in secrets:
        for form in (
            secret,
            base64.b64encode(secret.encode()).decode(),  # AUTH LOGIN
            base64.b64encode(f"\0{USERNAME}\0{secret}".encode()).decode(),  # AUTH PLAIN
            xoauth2_response(USERNAME, secret),
        ):
            assert form not in text


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
async def test_a_password_login_sends_the_message_byte_for_byte(
    handler: SubmissionHandler, mechanism: str
) -> None:
    async with submission_server(handler, offer=[mechanism]) as server:
        accepted = await send(sender_endpoint(server, password=PASSWORD), REPLY, USERNAME, [BUYER])

    [received] = handler.received
    assert received.content == REPLY
    assert (received.mail_from, received.rcpt_tos) == (USERNAME, (BUYER,))
    assert handler.logins == [mechanism]
    assert accepted.reply == "250 2.0.0 OK: queued"
    assert accepted.refused == {}


async def test_a_relay_that_needs_no_login_takes_the_message_without_one(
    server: RecordingSMTPServer, handler: SubmissionHandler
) -> None:
    await send(sender_endpoint(server), REPLY, USERNAME, [BUYER])

    assert [m.content for m in handler.accepted] == [REPLY]
    assert handler.logins == []


async def test_xoauth2_with_the_refresh_flow_sends_the_message(
    server: RecordingSMTPServer, handler: SubmissionHandler, oauth: OAuthServer, tmp_path: Path
) -> None:
    tokens = refresh_flow(tmp_path, oauth, oauth.grant(USERNAME))
    asked = len(oauth.token_requests)

    await send(sender_endpoint(server, tokens=tokens), REPLY, USERNAME, [BUYER])

    assert [m.content for m in handler.accepted] == [REPLY]
    assert handler.logins == ["XOAUTH2"]
    assert len(oauth.token_requests) - asked == 1


async def test_a_token_the_server_calls_expired_is_refreshed_and_the_send_succeeds(
    server: RecordingSMTPServer, handler: SubmissionHandler, oauth: OAuthServer, tmp_path: Path
) -> None:
    tokens = refresh_flow(tmp_path, oauth, oauth.grant(USERNAME))
    asked, checked = len(oauth.token_requests), oauth.introspections
    await send(sender_endpoint(server, tokens=tokens), REPLY, USERNAME, [BUYER])

    # Revoked early, as providers do: by maild's clock the token has most of an hour left.
    oauth.expire(USERNAME)
    await send(sender_endpoint(server, tokens=tokens), REPLY, USERNAME, [BUYER])

    assert [m.content for m in handler.accepted] == [REPLY, REPLY]
    assert handler.logins == ["XOAUTH2", "XOAUTH2"]
    assert len(oauth.token_requests) - asked == 2
    assert oauth.introspections - checked == 3  # live, refused, the renewed one live


async def test_access_tokens_stay_out_of_debug_logs_even_when_one_is_refused(
    server: RecordingSMTPServer,
    oauth: OAuthServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = refresh_flow(tmp_path, oauth, oauth.grant(USERNAME))
    await send(sender_endpoint(server, tokens=tokens), REPLY, USERNAME, [BUYER])
    oauth.expire(USERNAME)

    await send(sender_endpoint(server, tokens=tokens), REPLY, USERNAME, [BUYER])

    assert "smtp xoauth2 token refused; retrying with a newer one" in caplog.text
    assert_not_shown(caplog.text, *oauth.access_tokens)


async def test_a_refused_bearer_token_with_nothing_newer_is_a_permanent_error(
    server: RecordingSMTPServer, handler: SubmissionHandler, oauth: OAuthServer, tmp_path: Path
) -> None:
    path = tmp_path / "access-token"
    path.write_text(oauth.issue(USERNAME))
    oauth.expire(USERNAME)
    tokens = BearerToken(MAILBOX, "token_file", str(path), lambda: NOW)

    with pytest.raises(PermanentError) as error:
        await send(sender_endpoint(server, tokens=tokens), REPLY, USERNAME, [BUYER])

    assert str(error.value) == (
        f"smtp://{USERNAME}@{server.host}:{server.port}: xoauth2 login refused:"
        " 535 5.7.8 Authentication credentials invalid (no newer token to retry with)"
    )
    assert handler.received == []


async def test_a_renewed_token_the_server_refuses_too_is_a_permanent_error(
    oauth: OAuthServer, tmp_path: Path
) -> None:
    tokens = refresh_flow(tmp_path, oauth, oauth.grant(USERNAME))
    asked = len(oauth.token_requests)
    refusing = SubmissionHandler()  # it cannot ask about tokens, so it takes none

    async with submission_server(refusing) as server:
        with pytest.raises(PermanentError) as error:
            await send(sender_endpoint(server, tokens=tokens), REPLY, USERNAME, [BUYER])

    assert str(error.value) == (
        f"smtp://{USERNAME}@{server.host}:{server.port}: xoauth2 login refused:"
        " 535 5.7.8 Authentication credentials invalid (also with a renewed token)"
    )
    assert len(oauth.token_requests) - asked == 2
    assert refusing.received == []


async def test_a_revoked_refresh_token_fails_permanently_naming_the_mailbox_and_no_secret(
    server: RecordingSMTPServer,
    handler: SubmissionHandler,
    oauth: OAuthServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    refresh_token = oauth.grant(USERNAME)
    oauth.revoke(refresh_token)
    tokens = refresh_flow(tmp_path, oauth, refresh_token)

    with pytest.raises(PermanentError) as error:
        await send(sender_endpoint(server, tokens=tokens), REPLY, USERNAME, [BUYER])

    assert str(error.value).startswith(f"mailbox {MAILBOX}: token endpoint")
    assert "refused the refresh token (invalid_grant" in str(error.value)
    assert handler.received == []
    assert_not_shown(caplog.text + told(error), refresh_token, CLIENT_SECRET)


async def test_a_refused_password_is_a_permanent_error_that_never_shows_it(
    server: RecordingSMTPServer, handler: SubmissionHandler, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-smtp-password"

    with pytest.raises(PermanentError) as error:
        await send(sender_endpoint(server, password=wrong), REPLY, USERNAME, [BUYER])

    assert str(error.value) == (
        f"smtp://{USERNAME}@{server.host}:{server.port}: login refused:"
        " 535 5.7.8 Authentication credentials invalid"
    )
    assert handler.received == []
    assert_not_shown(caplog.text + told(error), wrong)


async def test_a_password_login_keeps_the_password_out_of_debug_logs(
    server: RecordingSMTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    await send(sender_endpoint(server, password=PASSWORD), REPLY, USERNAME, [BUYER])

    assert "smtp message accepted" in caplog.text
    assert_not_shown(caplog.text, PASSWORD)


async def test_a_server_without_xoauth2_fails_permanently_before_a_token_is_fetched(
    handler: SubmissionHandler, oauth: OAuthServer, tmp_path: Path
) -> None:
    tokens = refresh_flow(tmp_path, oauth, oauth.grant(USERNAME))
    asked = len(oauth.token_requests)

    async with submission_server(handler, offer=["PLAIN", "LOGIN"]) as server:
        with pytest.raises(PermanentError, match="the server does not offer AUTH XOAUTH2"):
            await send(sender_endpoint(server, tokens=tokens), REPLY, USERNAME, [BUYER])

    assert len(oauth.token_requests) == asked
    assert handler.received == []
