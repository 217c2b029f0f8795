"""The OAuth2 token provider against a real local token endpoint: when it refreshes, how
it fails, and what it keeps. The XOAUTH2 logins themselves are in test_oauth_imap.py,
against a Dovecot that accepts them; the one here has no XOAUTH2 at all."""

import asyncio
import logging
import shutil
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from maild.config import Secret
from maild.config.login import LoginSettings
from maild.errors import PermanentError, TransientError
from maild.ingest.imap import ImapClient, ImapEndpoint
from maild.metrics import Metrics
from maild.oauth import BearerToken, RefreshGrant, RefreshTokenFlow, token_provider
from tests.support.dovecot import ImapAccount
from tests.support.oauth_server import CLIENT_ID, CLIENT_SECRET, OAuthServer, oauth_server

USER = "support@shop.example"
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def oauth() -> Iterator[OAuthServer]:
    with oauth_server() as server:
        yield server


def grant_file(directory: Path, refresh_token: str) -> Path:
    path = directory / "shop.refresh-token"
    path.write_text(refresh_token + "\n")
    return path


def flow(
    path: Path,
    clock: FakeClock,
    token_url: str,
    *,
    client_secret: str = CLIENT_SECRET,
) -> RefreshTokenFlow:
    grant = RefreshGrant(token_url, CLIENT_ID, Secret(client_secret), path)
    return RefreshTokenFlow("shop", grant, clock)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("lifetime_s", "renew_after_s"),
    [(3600, 3300), (60, 30)],
    ids=["five-minute-margin", "half-of-a-short-life"],
)
async def test_a_token_is_reused_until_a_margin_before_it_expires(
    tmp_path: Path, lifetime_s: int, renew_after_s: int
) -> None:
    clock = FakeClock()
    with oauth_server(lifetime_s=lifetime_s) as oauth:
        tokens = flow(grant_file(tmp_path, oauth.grant(USER)), clock, oauth.token_url)
        first = await tokens.token()
        clock.now += timedelta(seconds=renew_after_s - 1)
        assert await tokens.token() == first
        assert len(oauth.token_requests) == 1

        clock.now += timedelta(seconds=1)
        assert await tokens.token() != first
        assert len(oauth.token_requests) == 2


async def test_a_token_without_a_lifetime_is_used_until_a_server_refuses_it(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    with oauth_server(lifetime_s=0) as oauth:
        tokens = flow(grant_file(tmp_path, oauth.grant(USER)), clock, oauth.token_url)
        first = await tokens.token()
        clock.now += timedelta(days=30)
        assert await tokens.token() == first

        assert await tokens.token(rejected=first) != first
        assert len(oauth.token_requests) == 2


async def test_logins_refused_together_cause_one_refresh(
    tmp_path: Path, oauth: OAuthServer
) -> None:
    tokens = flow(grant_file(tmp_path, oauth.grant(USER)), FakeClock(), oauth.token_url)
    first = await tokens.token()

    renewed = await asyncio.gather(*(tokens.token(rejected=first) for _ in range(3)))

    assert len(set(renewed)) == 1
    assert first not in renewed
    assert len(oauth.token_requests) == 2


async def test_a_failing_token_endpoint_is_transient_and_the_next_attempt_recovers(
    tmp_path: Path, oauth: OAuthServer
) -> None:
    tokens = flow(grant_file(tmp_path, oauth.grant(USER)), FakeClock(), oauth.token_url)
    oauth.fail_next(503)

    with pytest.raises(
        TransientError, match=r"^mailbox shop: token endpoint .* is unavailable \(HTTP 503"
    ):
        await tokens.token()
    assert await tokens.token()


async def test_an_unreachable_token_endpoint_is_transient_and_names_the_mailbox(
    tmp_path: Path,
) -> None:
    url = f"http://127.0.0.1:{closed_port()}/token"
    tokens = flow(grant_file(tmp_path, "rt-unused"), FakeClock(), url)

    with pytest.raises(TransientError, match=r"^mailbox shop: .* could not be reached: "):
        await tokens.token()


async def test_a_refused_client_is_a_permanent_error_that_says_what_to_check(
    tmp_path: Path, oauth: OAuthServer
) -> None:
    path = grant_file(tmp_path, oauth.grant(USER))
    tokens = flow(path, FakeClock(), oauth.token_url, client_secret="wrong")

    with pytest.raises(PermanentError) as caught:
        await tokens.token()

    assert str(caught.value) == (
        f"mailbox shop: token endpoint {oauth.token_url!r} refused client {CLIENT_ID}"
        " (invalid_client: Unknown client.); check client_id and the client secret"
    )


async def test_a_missing_refresh_token_file_is_a_permanent_error(tmp_path: Path) -> None:
    tokens = flow(tmp_path / "absent", FakeClock(), "http://127.0.0.1:9/token")

    with pytest.raises(PermanentError, match=r"^mailbox shop: cannot read refresh token file "):
        await tokens.token()


async def test_a_rotated_refresh_token_that_cannot_be_saved_is_kept_and_used(
    tmp_path: Path, oauth: OAuthServer, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "state"
    directory.mkdir()
    path = grant_file(directory, oauth.grant(USER, rotating=True))
    tokens = flow(path, FakeClock(), oauth.token_url)
    first = await tokens.token()
    shutil.rmtree(directory)  # the rotated token can no longer be written back

    with caplog.at_level(logging.ERROR, logger="maild.oauth"):
        second = await tokens.token(rejected=first)
        third = await tokens.token(rejected=second)  # only the kept token is still valid

    assert len({first, second, third}) == 3
    assert "refresh token rotated but not saved mailbox=shop" in caplog.text


async def test_a_refresh_whose_caller_is_cancelled_still_saves_the_rotated_token(
    tmp_path: Path, oauth: OAuthServer
) -> None:
    path = grant_file(tmp_path, oauth.grant(USER, rotating=True))
    tokens = flow(path, FakeClock(), oauth.token_url)
    oauth.hold()
    caller = asyncio.create_task(tokens.token())
    assert await asyncio.to_thread(oauth.wait_for_held_request)

    caller.cancel()  # e.g. SIGTERM while a login waits for its token
    oauth.release()

    with pytest.raises(asyncio.CancelledError):
        await caller
    assert await tokens.token()  # joins the refresh still in flight
    assert len(oauth.token_requests) == 1
    assert oauth.is_current(path.read_text().removesuffix("\n"))


async def test_the_time_a_token_was_obtained_is_exported_for_each_mailbox(
    tmp_path: Path, oauth: OAuthServer
) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    login = LoginSettings(
        auth="xoauth2",
        token_url=oauth.token_url,
        client_id=CLIENT_ID,
        client_secret=Secret(CLIENT_SECRET),
        refresh_token_file=str(grant_file(tmp_path, oauth.grant(USER))),
    )
    clock = FakeClock()
    tokens = token_provider(
        "shop",
        login,
        clock,
        on_new_token=lambda at: metrics.oauth_token_obtained("shop", at.timestamp()),
    )
    assert tokens is not None

    await tokens.token()

    sample = registry.get_sample_value(
        "maild_oauth_token_obtained_timestamp_seconds", {"mailbox": "shop"}
    )
    assert sample == START.timestamp()


def test_a_password_login_has_no_token_provider() -> None:
    assert token_provider("shop", LoginSettings(password=Secret("pw")), FakeClock()) is None


async def test_an_unreadable_bearer_token_is_a_permanent_error_naming_the_mailbox(
    tmp_path: Path,
) -> None:
    tokens = BearerToken("shop", "token_file", str(tmp_path / "absent"), FakeClock())

    with pytest.raises(PermanentError, match=r"^mailbox shop: token_file: cannot read token file "):
        await tokens.token()


@pytest.mark.dovecot
async def test_a_server_that_does_not_offer_xoauth2_is_a_permanent_error(
    imap_account: ImapAccount, tmp_path: Path
) -> None:
    (tmp_path / "token").write_text("at-never-sent")
    tokens = BearerToken("shop", "token_file", str(tmp_path / "token"), FakeClock())
    endpoint = ImapEndpoint(
        imap_account.host, imap_account.port, "none", True, imap_account.username, None, 60, tokens
    )

    with pytest.raises(PermanentError, match=r"the server does not offer AUTH=XOAUTH2$"):
        async with ImapClient(endpoint):
            pass
