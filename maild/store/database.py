"""The store: the only place maild reads or writes its database.

Methods are synchronous (SQLAlchemy sessions); the daemon calls them through
``asyncio.to_thread`` so the event loop never waits on disk.
"""

__all__ = ["MailboxStats", "Stats", "Store"]

import logging
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar, overload

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlalchemy.pool import QueuePool
from sqlmodel import Session, col
from sqlmodel import select as select_rows

from maild.classify.flagging import Reason
from maild.domain import (
    Direction,
    FolderState,
    LandedMessage,
    LandResult,
    ProcessOutcome,
    RawMessage,
)
from maild.errors import StoreError
from maild.store import conversations, flags, processed, schema, sla_feed, thread_views
from maild.store.engine import make_engine
from maild.store.flags import FeedbackMessage, FlagChange
from maild.store.quarantine import QuarantinedMessage, quarantined_messages
from maild.store.sla_feed import Change, Counted, Cursors, FirstResponseRow, Judge
from maild.store.tables import Folder, Mailbox, Thread, core_table
from maild.store.thread_views import ShownMessage, ThreadQuery, ThreadRow
from maild.store.types import RAW_CODEC, decode_raw

log = logging.getLogger(__name__)

#: How long :meth:`Store.close` waits for connections still in use by other threads.
CLOSE_WAIT_S = 10.0

T = TypeVar("T")

_MESSAGE = core_table("message")
_LOCATION = core_table("message_location")
_MAILBOX = core_table("mailbox")
_THREAD = core_table("thread")
_FOLDER = core_table("folder")
_MESSAGE_THREAD = core_table("message_thread")
_OUTBOX = core_table("outbox")


@dataclass(frozen=True, slots=True)
class MailboxStats:
    messages: int
    quarantined: int
    outbound: int
    machine: int
    folders: tuple[FolderState, ...]


@dataclass(frozen=True, slots=True)
class Stats:
    messages: int
    quarantined: int
    threads: int
    mailboxes: dict[str, MailboxStats]


class Store:
    """A maild database, upgraded to the current schema when opened."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @classmethod
    def open(cls, url: str) -> "Store":
        engine = make_engine(url)
        try:
            schema.upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    @classmethod
    def attach(cls, url: str) -> "Store":
        """Open a database that another process of this maild has already opened.

        For parse workers: the parent upgraded the schema, so they skip the migration
        check (and its lock) and start writing at once.
        """
        return cls(make_engine(url))

    @property
    def url(self) -> str:
        """The URL to :meth:`attach` to from another process (config refuses passwords in it)."""
        return self._engine.url.render_as_string(hide_password=False)

    @property
    def shareable(self) -> bool:
        """False for an in-memory SQLite database, which no other process can open."""
        url = self._engine.url
        return url.get_backend_name() != "sqlite" or url.database not in (None, "", ":memory:")

    @property
    def leased(self) -> bool:
        """Whether instances share out its mailboxes by lease: PostgreSQL, where several
        may run; a SQLite file has one, which owns everything at no cost."""
        return self._engine.url.get_backend_name() == "postgresql"

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        """Close the database's connections, once work in other threads has given back
        the ones it uses (for at most :data:`CLOSE_WAIT_S`).

        Stopping cancels the tasks that wait for store work in a thread, not the threads:
        a connection given back after the pool is disposed of would stay open until the
        garbage collector found it.
        """
        pool = self._engine.pool
        if isinstance(pool, QueuePool):
            deadline = time.monotonic() + CLOSE_WAIT_S
            while pool.checkedout() and time.monotonic() < deadline:
                time.sleep(0.01)
            if pool.checkedout():
                log.warning("store closed with connections in use count=%d", pool.checkedout())
        self._engine.dispose()

    def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a session, for the store modules beside this class (the outbox)."""
        with self._session() as session:
            return work(session)

    def ensure_mailboxes(self, mailboxes: dict[str, str], now: datetime) -> None:
        """Create rows for configured mailboxes (name -> address); existing ones keep their id.

        Instances starting together on one PostgreSQL database may create the same row:
        the one that loses that race reads the winner's row and tries again.
        """
        with self._session() as session:
            for attempt in (1, 2, 3):
                try:
                    existing = {m.name: m for m in session.exec(select_rows(Mailbox))}
                    for name, address in mailboxes.items():
                        row = existing.get(name)
                        if row is None:
                            session.add(Mailbox(name=name, address=address, created_at=now))
                        elif row.address != address:
                            row.address = address
                    session.commit()
                    return
                except IntegrityError:
                    session.rollback()
                    if attempt == 3:
                        raise

    def folder_state(self, mailbox: str, folder: str) -> FolderState:
        with self._session() as session:
            row = self._folder(session, mailbox, folder, create=False)
            if row is None:
                return FolderState(mailbox, folder, None, 0, None, None, 0)
            return _folder_state(mailbox, row)

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
        """Store fetched messages and advance the folder's position in one transaction.

        A crash before the commit leaves both untouched, so the next run fetches
        the same UIDs again; after it, both are there. Messages already stored
        (same Message-ID and digest, e.g. after a UIDVALIDITY change) only gain a
        location, never a second copy. Bytes come compressed (``prepare_batch``, off the
        event loop); a message given without its compressed form is stored as it came,
        and processing compresses it. ``direction`` is "out" for a Sent folder: the
        seller's own replies.
        """
        with self._session() as session:
            row = self._folder(session, mailbox, folder, create=True)
            changed = row.uidvalidity is not None and row.uidvalidity != uidvalidity
            if changed:
                log.warning(
                    "uidvalidity changed mailbox=%s folder=%s old=%s new=%s; resyncing",
                    mailbox,
                    folder,
                    row.uidvalidity,
                    uidvalidity,
                )
                row.uidvalidity_changes += 1
                row.last_uid = 0
            stored, ids = self._insert_messages(session, row.mailbox_id, messages, now, direction)
            self._insert_locations(session, _pk(row.id), uidvalidity, messages, ids)
            row.uidvalidity = uidvalidity
            row.last_uid = max(row.last_uid, last_uid)
            row.last_sync = now
            row.last_error = None
            session.commit()
        return LandResult(
            stored=stored, duplicates=len(messages) - stored, uidvalidity_changed=changed
        )

    def record_error(self, mailbox: str, folder: str, error: str) -> None:
        with self._session() as session:
            row = self._folder(session, mailbox, folder, create=True)
            row.last_error = error
            session.commit()

    def pending(
        self,
        *,
        states: Sequence[str] = ("landed",),
        after_pk: int = 0,
        limit: int = 200,
        mailboxes: Collection[str] | None = None,
    ) -> list[int]:
        """Keys of messages in ``states`` after ``after_pk``, oldest first (of ``mailboxes``).

        Only keys: the bytes are read by whoever parses them (a worker process), so
        they never pass through the process that lands mail.
        """
        with self._session() as session:
            return processed.pending(
                session, states=states, after_pk=after_pk, limit=limit, mailboxes=mailboxes
            )

    def raw_messages(self, pks: Sequence[int]) -> list[LandedMessage]:
        """Each message in ``pks`` that exists, with its bytes, in key order."""
        with self._session() as session:
            return processed.raw_messages(session, pks)

    def save_processed(self, outcomes: Sequence[ProcessOutcome], now: datetime) -> None:
        with self._session() as session:
            processed.save_processed(session, outcomes, now)
            session.commit()

    def save_and_thread(self, outcomes: Sequence[ProcessOutcome], now: datetime) -> int:
        """Write a batch's results and thread what is ready; how many were threaded.

        The first threading pass shares the batch's transaction, and writes the rows
        processing made with their threads: each message's row is written once, not once
        for its results and again for its thread.
        """
        with self._session() as session:
            held = processed.save_processed(session, outcomes, now, hold=True)
            return self._thread_all(session, now, held)

    def threads(self, query: ThreadQuery) -> list[ThreadRow]:
        with self._session() as session:
            return thread_views.find_threads(session, query)

    def show_thread(
        self, thread_id: int, now: datetime
    ) -> tuple[ThreadRow, list[ShownMessage]] | None:
        """A conversation with its messages, now read: it leaves the Unread view."""
        with self._session() as session:
            found = thread_views.find_threads(session, ThreadQuery(thread_id=thread_id))
            if not found:
                return None
            messages = thread_views.thread_messages(session, thread_id)
            session.execute(
                _THREAD.update().where(_THREAD.c.id == thread_id).values(shown_at=now, unread=False)
            )
            session.commit()
        return found[0], messages

    def flag(self, ref: str, reason: Reason, now: datetime) -> FlagChange:
        """Flag a message (THREAD_ID:N or Message-ID) if DOMAIN.md's rules allow it."""
        with self._session() as session:
            return flags.flag(session, ref, reason, now)

    def unflag(self, ref: str, now: datetime) -> FlagChange:
        with self._session() as session:
            return flags.unflag(session, ref, now)

    def feedback(self) -> list[FeedbackMessage]:
        """Every message a person flagged or unflagged, labelled by the latest verdict."""
        with self._session() as session:
            return flags.feedback_messages(session)

    def load_waiting(self) -> tuple[Cursors, list[Change]]:
        """Every conversation waiting for a reply, and the change counts that covers."""
        with self._session() as session:
            return sla_feed.load_waiting(session)

    def sla_changes(self, seen: Cursors) -> tuple[Cursors, list[Change]]:
        """Conversations changed since the counts ``seen``, and the counts now."""
        with self._session() as session:
            return sla_feed.changes_since(session, seen)

    def count_first_responses(self, mailboxes: Collection[str], judge: Judge) -> list[Counted]:
        """Claim and judge the first responses no daemon has counted yet."""
        with self._session() as session:
            return sla_feed.count_first_responses(session, mailboxes, judge)

    def answered_since(
        self, cutoff: datetime, mailboxes: Collection[str]
    ) -> list[FirstResponseRow]:
        with self._session() as session:
            return sla_feed.answered_since(session, cutoff, mailboxes)

    def count_feedback(self) -> list[tuple[str, str, str]]:
        """Claim the flags and unflags no daemon has counted yet: (mailbox, action, reason)."""
        with self._session() as session:
            return sla_feed.count_feedback(session)

    def count_escalations(self) -> list[str]:
        """Claim the hand-offs no daemon counted yet, one mailbox name each (sla_feed)."""
        with self._session() as session:
            return sla_feed.count_escalations(session)

    def escalation_shares(self, cutoff: datetime) -> dict[str, float]:
        """Each mailbox's share of handed-off conversations active since ``cutoff``."""
        with self._session() as session:
            return sla_feed.escalation_shares(session, cutoff)

    def count_refusals(self) -> list[tuple[str, str]]:
        """Claim the policy refusals no daemon has counted yet: (mailbox, rule)."""
        with self._session() as session:
            return sla_feed.count_refusals(session)

    def inbound_locations(self, thread_id: int) -> dict[str, tuple[int, list[int]]]:
        """Where a conversation's inbound messages are: folder -> (UIDVALIDITY, UIDs)."""
        found: dict[str, tuple[int, list[int]]] = {}
        with self._session() as session:
            rows = session.execute(
                select(_FOLDER.c.name, _LOCATION.c.uidvalidity, _LOCATION.c.uid)
                .join(_FOLDER, _FOLDER.c.id == _LOCATION.c.folder_id)
                .join(_MESSAGE, _MESSAGE.c.id == _LOCATION.c.message_pk)
                .join(_MESSAGE_THREAD, _MESSAGE_THREAD.c.message_pk == _MESSAGE.c.id)
                .where(
                    _MESSAGE_THREAD.c.thread_id == thread_id,
                    _MESSAGE.c.direction == "in",
                    # Only the folder's current UIDVALIDITY names messages that exist.
                    _LOCATION.c.uidvalidity == _FOLDER.c.uidvalidity,
                )
            )
            for folder, uidvalidity, uid in rows:
                found.setdefault(folder, (uidvalidity, []))[1].append(uid)
        return found

    def thread_pending(self, now: datetime) -> int:
        """Put every processed, unthreaded message into its conversations; how many."""
        with self._session() as session:
            return self._thread_all(session, now)

    @staticmethod
    def _thread_all(session: Session, now: datetime, held: conversations.Held | None = None) -> int:
        """Thread every processed message, and write the rows processing ``held``."""
        total = 0
        for mailbox_id in conversations.waiting_mailboxes(session, held or {}):
            first: conversations.Held | None = held
            while True:
                # A mailbox's held rows are all written by its first pass.
                done = conversations.thread_pending(session, mailbox_id, now, first)
                first = None
                total += done
                if done < conversations.THREAD_BATCH:
                    break
        session.commit()
        return total

    def quarantined(self, pks: Sequence[int] | None = None) -> list[QuarantinedMessage]:
        """Quarantined messages (among ``pks``), newest first, with where each was fetched."""
        with self._session() as session:
            return quarantined_messages(session, pks)

    def raw_message(self, message_pk: int) -> bytes:
        with self._session() as session:
            found = session.execute(
                select(_MESSAGE.c.raw_blob, _MESSAGE.c.raw_codec).where(_MESSAGE.c.id == message_pk)
            ).one_or_none()
        if found is None:
            raise StoreError(f"no message with id {message_pk}")
        try:
            return decode_raw(found.raw_blob, found.raw_codec)
        except StoreError as exc:
            raise StoreError(f"message {message_pk}: {exc}") from exc

    def message_pks(self, mailbox: str) -> list[int]:
        with self._session() as session:
            return list(
                session.execute(
                    select(_MESSAGE.c.id)
                    .join(_MAILBOX, _MAILBOX.c.id == _MESSAGE.c.mailbox_id)
                    .where(_MAILBOX.c.name == mailbox)
                    .order_by(_MESSAGE.c.id)
                ).scalars()
            )

    def stats(self) -> Stats:
        with self._session() as session:
            names = {m.id: m.name for m in session.exec(select_rows(Mailbox))}
            # messages, quarantined, outbound (the seller's), machine mail
            counts: dict[str, list[int]] = {name: [0, 0, 0, 0] for name in names.values()}
            machine = _MESSAGE.c.machine_kind.is_not(None)
            for mailbox_id, state, direction, is_machine, n in session.execute(
                select(
                    _MESSAGE.c.mailbox_id,
                    _MESSAGE.c.state,
                    _MESSAGE.c.direction,
                    machine,
                    func.count(),
                ).group_by(_MESSAGE.c.mailbox_id, _MESSAGE.c.state, _MESSAGE.c.direction, machine)
            ):
                row = counts[names[mailbox_id]]
                row[0] += n
                row[1] += n if state == "quarantined" else 0
                row[2] += n if direction == "out" else 0
                row[3] += n if is_machine else 0
            folders: dict[str, list[FolderState]] = {name: [] for name in names.values()}
            for folder in session.exec(select_rows(Folder).order_by(col(Folder.id))):
                name = names[folder.mailbox_id]
                folders[name].append(_folder_state(name, folder))
            threads = session.execute(select(func.count()).select_from(Thread)).scalar_one()
        mailboxes = {
            name: MailboxStats(
                messages=counts[name][0],
                quarantined=counts[name][1],
                outbound=counts[name][2],
                machine=counts[name][3],
                folders=tuple(folders[name]),
            )
            for name in names.values()
        }
        return Stats(
            messages=sum(m.messages for m in mailboxes.values()),
            quarantined=sum(m.quarantined for m in mailboxes.values()),
            threads=threads,
            mailboxes=mailboxes,
        )

    @contextmanager
    def _session(self) -> Iterator[Session]:
        """A session whose database errors surface as StoreError, after a rollback."""
        try:
            with Session(self._engine, expire_on_commit=False) as session:
                yield session
        except SQLAlchemyError as exc:
            cause = exc.orig if isinstance(exc, DBAPIError) else exc
            raise StoreError(f"database error: {cause}") from exc

    @overload
    @staticmethod
    def _folder(
        session: Session, mailbox: str, folder: str, *, create: Literal[True]
    ) -> Folder: ...

    @overload
    @staticmethod
    def _folder(
        session: Session, mailbox: str, folder: str, *, create: Literal[False]
    ) -> Folder | None: ...

    @staticmethod
    def _folder(session: Session, mailbox: str, folder: str, *, create: bool) -> Folder | None:
        box = session.exec(select_rows(Mailbox).where(col(Mailbox.name) == mailbox)).one_or_none()
        if box is None:
            raise StoreError(f"mailbox {mailbox!r} is not in the database")
        row = session.exec(
            select_rows(Folder).where(
                col(Folder.mailbox_id) == _pk(box.id), col(Folder.name) == folder
            )
        ).one_or_none()
        if row is None and create:
            row = Folder(mailbox_id=_pk(box.id), name=folder)
            session.add(row)
            session.flush()
        return row

    @staticmethod
    def _insert_messages(
        session: Session,
        mailbox_id: int,
        messages: Sequence[RawMessage],
        now: datetime,
        direction: Direction,
    ) -> tuple[int, dict[tuple[str, str], int]]:
        keys = {(m.message_id, m.digest) for m in messages}
        ids = _existing_ids(session, mailbox_id, keys)
        if direction == "out":
            ids.update(_copies_of_sent(session, mailbox_id, keys - ids.keys()))
        fresh: dict[tuple[str, str], RawMessage] = {}
        for m in messages:
            key = (m.message_id, m.digest)
            if key not in ids:
                fresh.setdefault(key, m)
        if fresh:
            rows = [_message_row(mailbox_id, m, now, direction) for m in fresh.values()]
            session.execute(_MESSAGE.insert(), rows)
            ids.update(_existing_ids(session, mailbox_id, set(fresh)))
        return len(fresh), ids

    @staticmethod
    def _insert_locations(
        session: Session,
        folder_id: int,
        uidvalidity: int,
        messages: Iterable[RawMessage],
        ids: dict[tuple[str, str], int],
    ) -> None:
        rows = [
            {
                "message_pk": ids[(m.message_id, m.digest)],
                "folder_id": folder_id,
                "uidvalidity": uidvalidity,
                "uid": m.uid,
                "flags": list(m.flags),
            }
            for m in messages
        ]
        if not rows:
            return
        uids = [r["uid"] for r in rows]
        seen = set(
            session.execute(
                select(_LOCATION.c.uid).where(
                    _LOCATION.c.folder_id == folder_id,
                    _LOCATION.c.uidvalidity == uidvalidity,
                    _LOCATION.c.uid.in_(uids),
                )
            ).scalars()
        )
        new_rows = [r for r in rows if r["uid"] not in seen]
        if new_rows:
            session.execute(_LOCATION.insert(), new_rows)


def _pk(value: int | None) -> int:
    """A primary key of a row that was flushed; ``None`` there is a bug, not bad input."""
    if value is None:
        raise StoreError("row has no primary key after flush")
    return value


def _existing_ids(
    session: Session, mailbox_id: int, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    if not keys:
        return {}
    found: dict[tuple[str, str], int] = {}
    message_ids = sorted({k[0] for k in keys})
    for start in range(0, len(message_ids), 500):
        chunk = message_ids[start : start + 500]
        for pk, message_id, digest in session.execute(
            select(_MESSAGE.c.id, _MESSAGE.c.message_id, _MESSAGE.c.digest).where(
                _MESSAGE.c.mailbox_id == mailbox_id, _MESSAGE.c.message_id.in_(chunk)
            )
        ):
            if (message_id, digest) in keys:
                found[(message_id, digest)] = pk
    return found


def _copies_of_sent(
    session: Session, mailbox_id: int, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """Sent-folder copies, in other bytes, of messages maild itself sent (by Message-ID).

    A mail client sending through the gateway may file its own copy in Sent, with
    headers of its own: it is the reply maild stored when it sent it, not a second one.
    """
    if not keys:
        return {}
    outbox = _OUTBOX
    rows = session.execute(
        select(_MESSAGE.c.id, _MESSAGE.c.message_id)
        .join(
            outbox,
            (outbox.c.mailbox_id == _MESSAGE.c.mailbox_id)
            & (outbox.c.message_id == _MESSAGE.c.message_id),
        )
        .where(
            _MESSAGE.c.mailbox_id == mailbox_id,
            _MESSAGE.c.direction == "out",
            _MESSAGE.c.message_id.in_(sorted({k[0] for k in keys})),
        )
    ).all()
    sent = {message_id: pk for pk, message_id in rows}
    return {key: sent[key[0]] for key in keys if key[0] in sent}


def _message_row(
    mailbox_id: int, m: RawMessage, now: datetime, direction: Direction
) -> dict[str, Any]:
    return {
        "mailbox_id": mailbox_id,
        "message_id": m.message_id,
        "digest": m.digest,
        "direction": direction,
        "raw_blob": m.raw if m.compressed is None else m.compressed,
        "raw_codec": "none" if m.compressed is None else RAW_CODEC,
        "raw_size": len(m.raw),
        "internaldate": m.internaldate,
        "landed_at": now,
        "state": "landed",
        "degraded": False,
    }


def _folder_state(mailbox: str, row: Folder) -> FolderState:
    return FolderState(
        mailbox=mailbox,
        folder=row.name,
        uidvalidity=row.uidvalidity,
        last_uid=row.last_uid,
        last_sync=row.last_sync,
        last_error=row.last_error,
        uidvalidity_changes=row.uidvalidity_changes,
    )
