"""Bring one folder's new messages into the database: the landing stage.

A batch is fetched, then landed together with the folder's new position in one
transaction, so a crash anywhere repeats at most the batch in flight and the
store's unique keys absorb the repeat. Landing does no parsing: a message is
safe as soon as its bytes are stored; processing happens later and separately.
"""

__all__ = ["FolderSyncResult", "land_batch", "sync_folder"]

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from maild.domain import RawMessage
from maild.ingest.fetch_response import FetchedMessage
from maild.ingest.identity import message_key
from maild.ingest.imap import ImapClient
from maild.store import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class FolderSyncResult:
    mailbox: str
    folder: str
    fetched: int
    stored: int
    duplicates: int
    uidvalidity_changed: bool


def land_batch(
    store: Store,
    mailbox: str,
    folder: str,
    uidvalidity: int,
    fetched: Sequence[FetchedMessage],
    last_uid: int,
    now: datetime,
) -> tuple[int, int, bool]:
    """Hash and land one batch; runs in a worker thread so the event loop keeps reading."""
    raws = []
    for message in fetched:
        key = message_key(message.raw)
        raws.append(
            RawMessage(
                uid=message.uid,
                raw=message.raw,
                message_id=key.message_id,
                digest=key.digest,
                internaldate=message.internaldate,
                flags=message.flags,
            )
        )
    result = store.land(mailbox, folder, uidvalidity, raws, last_uid, now)
    return result.stored, result.duplicates, result.uidvalidity_changed


async def _fetch_complete(imap: ImapClient, uids: Sequence[int]) -> list[FetchedMessage]:
    """Fetch ``uids``; ask once more for any the server skipped, so none is passed over.

    A UID still missing after that was expunged between SEARCH and FETCH.
    """
    fetched = await imap.fetch(uids)
    missing = sorted(set(uids) - {m.uid for m in fetched})
    if missing:
        fetched += await imap.fetch(missing)
        gone = sorted(set(missing) - {m.uid for m in fetched})
        if gone:
            log.warning("uids vanished during fetch count=%d first=%d", len(gone), gone[0])
    return fetched


async def sync_folder(
    imap: ImapClient,
    store: Store,
    mailbox: str,
    folder: str,
    batch: int,
    clock: Clock,
    on_landed: Callable[[], None] | None = None,
) -> FolderSyncResult:
    """Fetch batch n+1 while batch n lands, in UID order; ``on_landed`` wakes processing."""
    selected = await imap.select(folder)
    state = await asyncio.to_thread(store.folder_state, mailbox, folder)
    same_validity = state.uidvalidity == selected.uidvalidity
    first = state.last_uid + 1 if same_validity else 1
    uids = await imap.uids_from(first) if selected.exists else []
    totals = [0, 0, 0]
    changed = False
    landing: asyncio.Task[tuple[int, int, bool]] | None = None

    async def settle() -> None:
        nonlocal changed, landing
        if landing is not None:
            task, landing = landing, None
            stored, duplicates, validity_changed = await task
            totals[1] += stored
            totals[2] += duplicates
            changed = changed or validity_changed
            if on_landed is not None:
                on_landed()

    try:
        for start in range(0, len(uids), batch):
            chunk = uids[start : start + batch]
            fetched = await _fetch_complete(imap, chunk)
            totals[0] += len(fetched)
            await settle()
            landing = asyncio.create_task(
                asyncio.to_thread(
                    land_batch,
                    store,
                    mailbox,
                    folder,
                    selected.uidvalidity,
                    fetched,
                    chunk[-1],
                    clock(),
                )
            )
    finally:
        # A batch already fetched still lands, even when the next fetch failed.
        await settle()
    if not uids:
        # Record the visit (and a new UIDVALIDITY) even when nothing is new.
        _, _, changed = await asyncio.to_thread(
            land_batch, store, mailbox, folder, selected.uidvalidity, [], first - 1, clock()
        )
    log.info(
        "folder synced mailbox=%s folder=%s fetched=%d stored=%d duplicates=%d",
        mailbox,
        folder,
        *totals,
    )
    return FolderSyncResult(mailbox, folder, totals[0], totals[1], totals[2], changed)
