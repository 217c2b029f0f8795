"""Bring one folder's new messages into the database: the landing stage.

A batch is fetched, then landed together with the folder's new position in one
transaction, so a crash anywhere repeats at most the batch in flight and the
store's unique keys absorb the repeat. Landing does no parsing: a message is
safe as soon as its bytes are stored; processing happens later and separately.
"""

__all__ = ["FolderSyncResult", "PreparedBatch", "prepare_batch", "sync_folder"]

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from maild.domain import Direction, RawMessage
from maild.ingest.fetch_response import FetchedMessage
from maild.ingest.identity import message_key
from maild.ingest.imap import ImapClient
from maild.store import Store
from maild.store.types import compress_raw

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
    direction: Direction = "in"
    # Seconds from arrival on the server to landing, for mail new since the last sync;
    # empty on a first sync or a resync, where it would measure the mailbox's age.
    lags: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class PreparedBatch:
    """A fetched batch with its identities, ready for one transaction."""

    messages: list[RawMessage]
    last_uid: int


def prepare_batch(fetched: Sequence[FetchedMessage], last_uid: int) -> PreparedBatch:
    """Hash and compress outside the transaction and the event loop.

    Both release the GIL, and run while the batch before is being committed; the
    commit then writes a third of the bytes, and SQLite's writing is what bounds landing.
    """
    messages = []
    for message in fetched:
        key = message_key(message.raw)
        messages.append(
            RawMessage(
                uid=message.uid,
                raw=message.raw,
                message_id=key.message_id,
                digest=key.digest,
                internaldate=message.internaldate,
                flags=message.flags,
                compressed=compress_raw(message.raw),
            )
        )
    return PreparedBatch(messages, last_uid)


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


def _lags(messages: Sequence[RawMessage], landed_at: datetime) -> list[float]:
    return [
        (landed_at - m.internaldate).total_seconds() for m in messages if m.internaldate is not None
    ]


def _batches(uids: list[int], size: int, stop: asyncio.Event | None) -> Iterator[list[int]]:
    for start in range(0, len(uids), size):
        if stop is not None and stop.is_set():
            log.info("folder sync stopped before uid=%d", uids[start])
            return
        yield uids[start : start + size]


async def sync_folder(
    imap: ImapClient,
    store: Store,
    mailbox: str,
    folder: str,
    batch: int,
    clock: Clock,
    on_landed: Callable[[], None] | None = None,
    *,
    direction: Direction = "in",
    stop: asyncio.Event | None = None,
) -> FolderSyncResult:
    """Three stages overlap: fetch batch n+2, prepare n+1, commit n, in UID order.

    ``on_landed`` is called after each commit, to wake processing. When ``stop`` is
    set, no further batch is fetched; those already fetched still land, so a shutdown
    loses nothing and the next start goes on from there.
    """
    selected = await imap.select(folder)
    state = await asyncio.to_thread(store.folder_state, mailbox, folder)
    same_validity = state.uidvalidity == selected.uidvalidity
    first = state.last_uid + 1 if same_validity else 1
    uids = await imap.uids_from(first) if selected.exists else []
    totals = [0, 0, 0]
    changed = False
    incremental = same_validity and state.last_uid > 0
    lags: list[float] = []

    async def land(prepared: PreparedBatch) -> None:
        nonlocal changed
        result = await asyncio.to_thread(
            store.land,
            mailbox,
            folder,
            selected.uidvalidity,
            prepared.messages,
            prepared.last_uid,
            clock(),
            direction,
        )
        totals[1] += result.stored
        totals[2] += result.duplicates
        lags.extend(_lags(prepared.messages, clock()) if incremental else ())
        changed = changed or result.uidvalidity_changed
        if on_landed is not None:
            on_landed()

    async def stage(
        fetched: list[FetchedMessage], last: int, before: asyncio.Task[None] | None
    ) -> None:
        prepared = await asyncio.to_thread(prepare_batch, fetched, last)
        if before is not None:
            # Never commit past a batch that failed: its UIDs would be skipped for good.
            await before
        await land(prepared)

    in_flight: deque[asyncio.Task[None]] = deque()
    try:
        for chunk in _batches(uids, batch, stop):
            fetched = await _fetch_complete(imap, chunk)
            totals[0] += len(fetched)
            # Two batches in flight at most, so memory stays bounded for any folder size.
            while len(in_flight) >= 2:
                await in_flight.popleft()
            before = in_flight[-1] if in_flight else None
            in_flight.append(asyncio.create_task(stage(fetched, chunk[-1], before)))
    except BaseException:
        # Batches already fetched still land (in order) even when a later fetch failed.
        await asyncio.gather(*in_flight, return_exceptions=True)
        raise
    for task in in_flight:
        await task
    if not uids:
        # Record the visit (and a new UIDVALIDITY) even when nothing is new.
        await land(PreparedBatch([], first - 1))
    log.info(
        "folder synced mailbox=%s folder=%s fetched=%d stored=%d duplicates=%d",
        mailbox,
        folder,
        *totals,
    )
    return FolderSyncResult(
        mailbox, folder, totals[0], totals[1], totals[2], changed, direction, tuple(lags)
    )
