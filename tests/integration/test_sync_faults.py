"""A batch that fails to land stops the folder there: no later batch may skip its UIDs."""

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from maild.config.secret import Secret
from maild.domain import Direction, LandResult, RawMessage
from maild.errors import StoreError
from maild.ingest.imap import ImapClient, ImapEndpoint
from maild.ingest.sync import sync_folder
from maild.store import Store
from maild.store.engine import make_engine
from maild.store.schema import upgrade
from tests.support.dovecot import ImapAccount
from tests.support.mailgen import make_messages

pytestmark = pytest.mark.dovecot

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


class DiskFullOnce(Store):
    """A real store whose n-th landing fails, as a full disk or a lost database would."""

    def __init__(self, url: str, fail_on: int) -> None:
        engine = make_engine(url)
        upgrade(engine)
        super().__init__(engine)
        self.calls = 0
        self.fail_on = fail_on

    def land(
        self,
        mailbox: str,
        folder: str,
        uidvalidity: int,
        messages: Sequence[RawMessage],
        last_uid: int,
        now: datetime,
        direction: Direction = "in",
    ) -> LandResult:
        self.calls += 1
        if self.calls == self.fail_on:
            raise StoreError("database error: disk full")
        return super().land(mailbox, folder, uidvalidity, messages, last_uid, now, direction)


async def test_failed_landing_stops_the_folder_at_the_last_good_batch(
    imap_account: ImapAccount, tmp_path: Path
) -> None:
    imap_account.deliver(make_messages(50, seed=50))
    store = DiskFullOnce(f"sqlite:///{tmp_path / 'maild.db'}", fail_on=2)
    store.ensure_mailboxes({"shop": "support@shop.example"}, NOW)
    endpoint = ImapEndpoint(
        imap_account.host,
        imap_account.port,
        "none",
        True,
        imap_account.username,
        Secret(imap_account.password),
    )
    async with ImapClient(endpoint) as imap:
        with pytest.raises(StoreError, match="disk full"):
            await sync_folder(imap, store, "shop", "INBOX", 10, lambda: NOW)
    assert store.folder_state("shop", "INBOX").last_uid == 10
    assert store.stats().messages == 10
    async with ImapClient(endpoint) as imap:
        result = await sync_folder(imap, store, "shop", "INBOX", 10, lambda: NOW)
    assert (result.stored, store.stats().messages) == (40, 50)
    store.close()
