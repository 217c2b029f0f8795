"""Fixtures that give every test real peers: Dovecot, an SMTP sink and PostgreSQL.

Nothing here skips: a missing server is a broken test machine, and a skipped test would
hide that. ``scripts/install-system-deps`` sets a machine up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Generator, Iterator

import pytest

from tests.support.dovecot import DovecotError, DovecotServer, ImapAccount
from tests.support.postgres import throwaway_database
from tests.support.smtp import RecordingSMTPServer, recording_smtp_server

LOG_LINES_ON_FAILURE = 40


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """One Dovecot for the whole session: users are cheap, so tests share the server."""
    server = DovecotServer()
    try:
        try:
            server.start()
        except DovecotError as exc:  # the message says what to do; the traceback does not
            pytest.fail(str(exc), pytrace=False)
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def imap_account(dovecot: DovecotServer) -> ImapAccount:
    """A fresh mailbox per test, so no test sees another's mail."""
    return dovecot.new_account()


@pytest.fixture
async def smtp_server() -> AsyncIterator[RecordingSMTPServer]:
    """A recording SMTP server in the test's own event loop."""
    async with recording_smtp_server() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a database that exists for this session only."""
    with throwaway_database() as url:
        yield url


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the end of Dovecot's log to a failed test that used it: logins, auth
    failures and mailbox errors are often the real cause of an IMAP test failing."""
    report = yield
    server = getattr(item, "funcargs", {}).get("dovecot")
    if report.failed and isinstance(server, DovecotServer):
        try:
            tail = server.read_log().splitlines()[-LOG_LINES_ON_FAILURE:]
        except DovecotError:  # already cleaned up
            return report
        report.sections.append(("Dovecot log (end)", "\n".join(tail)))
    return report
