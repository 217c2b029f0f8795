"""XOAUTH2 against a real Dovecot whose oauth2 passdb asks a local introspection endpoint.

The same local authorization server issues the tokens (its ``/token`` endpoint) and
tells Dovecot whether they are still good (``/introspect``), so an expired token is
really refused by the IMAP server and really refreshed by maild.
"""

import asyncio
import base64
import json
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from maild.cli import EX_PROBLEMS, main
from maild.config import Secret, load_config
from maild.daemon import Daemon
from maild.errors import PermanentError
from maild.ingest.imap import ImapClient, ImapEndpoint
from maild.metrics import Metrics
from maild.oauth import BearerToken, RefreshGrant, RefreshTokenFlow, TokenProvider
from maild.store import Store
from tests.support.config_files import write_config
from tests.support.dovecot import DovecotError, DovecotServer, ImapAccount
from tests.support.mailgen import make_messages
from tests.support.oauth_server import CLIENT_ID, CLIENT_SECRET, OAuthServer, oauth_server
from tests.support.waiting import until

pytestmark = pytest.mark.dovecot

MAILBOX = "walmart-us"
SECRET_VARIABLE = "MAILD_TEST_CLIENT_SECRET"
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def oauth() -> Iterator[OAuthServer]:
    with oauth_server() as server:
        yield server


@pytest.fixture(scope="module")
def dovecot(oauth: OAuthServer) -> Iterator[DovecotServer]:
    """Overrides the session's Dovecot here: this one also checks XOAUTH2 tokens at ``oauth``.

    ``imap_account`` and the log attached to a failed test follow the override.
    """
    server = DovecotServer(oauth2_introspection_url=oauth.introspection_url)
    try:
        try:
            server.start()
        except DovecotError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield server
    finally:
        server.cleanup()


def refresh_token_file(directory: Path, refresh_token: str) -> Path:
    path = directory / "walmart-us.refresh-token"
    path.write_text(refresh_token + "\n")
    path.chmod(0o600)
    return path


def refresh_flow(path: Path, oauth: OAuthServer, clock: FakeClock) -> RefreshTokenFlow:
    grant = RefreshGrant(oauth.token_url, CLIENT_ID, Secret(CLIENT_SECRET), path)
    return RefreshTokenFlow(MAILBOX, grant, clock)


def endpoint(account: ImapAccount, tokens: TokenProvider) -> ImapEndpoint:
    return ImapEndpoint(
        account.host, account.port, "none", True, account.username, None, tokens=tokens
    )


async def messages_in_inbox(account: ImapAccount, tokens: TokenProvider) -> int:
    async with ImapClient(endpoint(account, tokens)) as imap:
        return (await imap.select("INBOX")).exists


def xoauth2_config(directory: Path, account: ImapAccount, **keys: str) -> Path:
    table = "\n".join(
        [
            f"[mailboxes.{MAILBOX}]",
            'address = "support@shop.example"',
            "",
            f"[mailboxes.{MAILBOX}.imap]",
            f'host = "{account.host}"',
            f"port = {account.port}",
            'security = "none"',
            f'username = "{account.username}"',
            'auth = "xoauth2"',
            *(f"{key} = {json.dumps(value)}" for key, value in keys.items()),
            "",
        ]
    )
    return write_config(directory, table)


def refresh_flow_config(directory: Path, account: ImapAccount, oauth: OAuthServer) -> Path:
    return xoauth2_config(
        directory,
        account,
        token_url=oauth.token_url,
        client_id=CLIENT_ID,
        client_secret_env=SECRET_VARIABLE,
        refresh_token_file="walmart-us.refresh-token",
    )


def assert_no_token_in(text: str, oauth: OAuthServer, *secrets: str) -> None:
    for secret in (*oauth.access_tokens, *secrets):
        assert secret not in text
        assert base64.b64encode(secret.encode()).decode() not in text


def test_run_once_logs_in_with_a_bearer_token_file_and_stores_the_mail(
    imap_account: ImapAccount,
    oauth: OAuthServer,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    imap_account.deliver(make_messages(3, seed=41))
    (tmp_path / "access-token").write_text(oauth.issue(imap_account.username) + "\n")
    config = xoauth2_config(tmp_path, imap_account, token_file="access-token")

    code = main(["--config", str(config), "--log-level", "debug", "run", "--once"])

    out, err = capfd.readouterr()
    assert code == 0, out + err
    assert f"{MAILBOX}: ok, fetched 3, stored 3 new" in out
    assert_no_token_in(out + err, oauth)


def test_run_once_refreshes_a_token_with_the_refresh_flow_and_stores_the_mail(
    imap_account: ImapAccount,
    oauth: OAuthServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    imap_account.deliver(make_messages(2, seed=42))
    refresh_token = oauth.grant(imap_account.username)
    refresh_token_file(tmp_path, refresh_token)
    monkeypatch.setenv(SECRET_VARIABLE, CLIENT_SECRET)
    config = refresh_flow_config(tmp_path, imap_account, oauth)
    asked = len(oauth.token_requests)

    code = main(["--config", str(config), "--log-level", "debug", "run", "--once"])

    out, err = capfd.readouterr()
    assert code == 0, out + err
    assert f"{MAILBOX}: ok, fetched 2, stored 2 new" in out
    [request] = oauth.token_requests[asked:]
    assert request == {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    assert_no_token_in(out + err, oauth, refresh_token, CLIENT_SECRET)


async def test_a_token_the_server_calls_expired_is_refreshed_and_the_login_succeeds(
    imap_account: ImapAccount, oauth: OAuthServer, tmp_path: Path
) -> None:
    imap_account.deliver(make_messages(1, seed=43))
    path = refresh_token_file(tmp_path, oauth.grant(imap_account.username))
    tokens = refresh_flow(path, oauth, FakeClock())
    asked = len(oauth.token_requests)
    assert await messages_in_inbox(imap_account, tokens) == 1

    # Revoked early, as providers do: by maild's clock the token has most of an hour left.
    oauth.expire(imap_account.username)

    assert await messages_in_inbox(imap_account, tokens) == 1
    assert len(oauth.token_requests) - asked == 2


async def test_a_token_near_its_expiry_is_refreshed_before_the_login(
    imap_account: ImapAccount, oauth: OAuthServer, tmp_path: Path
) -> None:
    path = refresh_token_file(tmp_path, oauth.grant(imap_account.username))
    clock = FakeClock()
    tokens = refresh_flow(path, oauth, clock)
    await messages_in_inbox(imap_account, tokens)
    asked, checked = len(oauth.token_requests), oauth.introspections

    clock.now += timedelta(seconds=3600 - 299)  # the endpoint's lifetime, less the margin
    await messages_in_inbox(imap_account, tokens)

    assert len(oauth.token_requests) - asked == 1
    assert oauth.introspections - checked == 1  # no login was refused on the way


async def test_a_rotated_refresh_token_replaces_its_file_atomically_and_keeps_its_mode(
    imap_account: ImapAccount, oauth: OAuthServer, tmp_path: Path
) -> None:
    first = oauth.grant(imap_account.username, rotating=True)
    path = refresh_token_file(tmp_path, first)
    before = path.stat()

    await messages_in_inbox(imap_account, refresh_flow(path, oauth, FakeClock()))

    rotated = path.read_text().removesuffix("\n")
    after = path.stat()
    assert rotated != first
    assert oauth.is_current(rotated) and not oauth.is_current(first)
    assert after.st_ino != before.st_ino  # renamed over the old file, not rewritten in place
    assert stat.S_IMODE(after.st_mode) == 0o600
    assert os.listdir(tmp_path) == [path.name]  # no temporary file left behind
    # A restarted maild starts from the file, and the provider accepts what it holds.
    assert await messages_in_inbox(imap_account, refresh_flow(path, oauth, FakeClock())) == 0


async def test_a_bearer_token_replaced_in_its_file_is_read_again_after_a_refusal(
    imap_account: ImapAccount, oauth: OAuthServer, tmp_path: Path
) -> None:
    path = tmp_path / "access-token"
    path.write_text(oauth.issue(imap_account.username))
    tokens = BearerToken(MAILBOX, "token_file", str(path), FakeClock())
    await messages_in_inbox(imap_account, tokens)

    oauth.expire(imap_account.username)
    path.write_text(oauth.issue(imap_account.username))  # another program refreshed it

    assert await messages_in_inbox(imap_account, tokens) == 0


async def test_a_refused_bearer_token_with_nothing_newer_is_a_permanent_error(
    imap_account: ImapAccount, oauth: OAuthServer, tmp_path: Path
) -> None:
    path = tmp_path / "access-token"
    path.write_text(oauth.issue(imap_account.username))
    oauth.expire(imap_account.username)
    tokens = BearerToken(MAILBOX, "token_file", str(path), FakeClock())

    with pytest.raises(PermanentError, match=r"no newer token.*AUTHENTICATIONFAILED"):
        await messages_in_inbox(imap_account, tokens)


def test_a_revoked_refresh_token_fails_the_mailbox_permanently_without_showing_secrets(
    imap_account: ImapAccount,
    oauth: OAuthServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    refresh_token = oauth.grant(imap_account.username)
    oauth.revoke(refresh_token)
    refresh_token_file(tmp_path, refresh_token)
    monkeypatch.setenv(SECRET_VARIABLE, CLIENT_SECRET)
    config = refresh_flow_config(tmp_path, imap_account, oauth)

    code = main(["--config", str(config), "--log-level", "debug", "run", "--once"])

    out, err = capfd.readouterr()
    assert code == EX_PROBLEMS
    assert f"{MAILBOX}: FAILED" in out
    message = (
        f"mailbox {MAILBOX}: token endpoint {oauth.token_url!r} refused the refresh token"
        " (invalid_grant: Token has been expired or revoked.); it was revoked, has expired"
        " or was replaced: authorise maild again and write the new refresh token to"
        f" {tmp_path / 'walmart-us.refresh-token'}"
    )
    assert f"  INBOX: {message}\n" in out
    assert f"mailbox sync failed mailbox={MAILBOX} error={message}\n" in err
    assert_no_token_in(out + err, oauth, refresh_token, CLIENT_SECRET)


async def test_the_daemon_logs_in_with_the_refresh_flow_and_exports_when_it_got_the_token(
    imap_account: ImapAccount,
    oauth: OAuthServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    imap_account.deliver(make_messages(4, seed=47))
    refresh_token_file(tmp_path, oauth.grant(imap_account.username))
    monkeypatch.setenv(SECRET_VARIABLE, CLIENT_SECRET)
    settings = load_config(refresh_flow_config(tmp_path, imap_account, oauth))
    store = Store.open(settings.database.url)
    store.ensure_mailboxes({MAILBOX: "support@shop.example"}, START)
    metrics = Metrics(CollectorRegistry())
    daemon = Daemon(settings, store, lambda: datetime.now(UTC), metrics)
    task = asyncio.create_task(daemon.run())
    try:
        await until(lambda: store.stats().messages == 4)
    finally:
        daemon.stop()
        async with asyncio.timeout(15):
            await task
        store.close()
    obtained = metrics.registry.get_sample_value(
        "maild_oauth_token_obtained_timestamp_seconds", {"mailbox": MAILBOX}
    )
    assert obtained is not None
    assert abs(obtained - datetime.now(UTC).timestamp()) < 60
