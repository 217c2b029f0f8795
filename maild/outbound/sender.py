"""The outbox sender: send what is queued, retry what failed for now, file copies in Sent.

One message at a time, each through the moves of :mod:`maild.outbound.outbox`:
``sending`` is committed before SMTP, ``sent`` (with the message stored as the
seller's, so its conversation turns answered) right after the server's 250, under
``asyncio.shield`` so a shutdown cannot split the two. Then the copy is APPENDed
to the mailbox's Sent folder; a copy that fails is tried again later and never
holds up sending. The policy is checked again before each send: the config may
have changed since the message was queued, and a message the mailbox may no
longer send is failed with the reasons instead.

Interrupted attempts (``sending`` rows a dead maild left) are recovered, not
resent blindly: see :mod:`maild.outbound.outbox` for the protocol and its window.
The daemon recovers them all when it starts, and later (like ``run --once``) only
those started more than ``STALE_ATTEMPT`` ago, so it never takes another maild's live
attempt for a dead one. Instances sharing a PostgreSQL database each send only for the
mailboxes they own (maild.leases); a mailbox changes owner only between two attempts
(:meth:`Sender.own`), so its new owner recovers at once what a dead owner left.
"""

from __future__ import annotations

__all__ = ["STALE_ATTEMPT", "SendReport", "Sender"]

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Final, TypeVar

from maild.backoff import Backoff
from maild.config.settings import MailboxSettings, Settings
from maild.errors import MaildError, PermanentError, TransientError
from maild.ingest.imap import ImapClient
from maild.ingest.mailbox import FolderSpec, endpoint_for, resolve_folder
from maild.ingest.sync import Clock
from maild.metrics import Metrics
from maild.oauth import TokenProvider, token_provider
from maild.outbound import smtp
from maild.outbound.drafts import read_draft
from maild.outbound.mailbox_check import check_draft
from maild.outbound.model import Violation
from maild.outbound.outbox import (
    OutboxEntry,
    RetryPolicy,
    accepted,
    claim,
    failed_attempt,
    recovered,
)
from maild.store import Store
from maild.store import outbox as rows
from maild.store.outbox import OutboxRow

log = logging.getLogger(__name__)

T = TypeVar("T")

# Longer than any one attempt can take: connect, login and DATA each time out at 60 s.
STALE_ATTEMPT: Final = timedelta(minutes=10)
# How often copies that could not be filed in Sent are tried again.
COPY_RETRY: Final = timedelta(minutes=10)


@dataclass
class SendReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    recovered: int = 0
    copied: int = 0
    errors: list[str] = field(default_factory=list)


class Sender:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Clock,
        metrics: Metrics | None = None,
        *,
        on_sent: Callable[[], None] | None = None,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._on_sent = on_sent
        self._draw = draw
        self._tokens: dict[tuple[str, str], TokenProvider | None] = {}
        self._copies_due = clock()
        self._due = asyncio.Event()
        # None: every mailbox (one instance); else those this instance owns.
        self._owned: frozenset[str] | None = None
        self._fresh: frozenset[str] = frozenset()
        self._sending = asyncio.Lock()

    def configure(self, settings: Settings) -> None:
        """Use a reloaded config from the next message on."""
        self._settings = settings
        self._tokens.clear()

    async def own(self, owned: frozenset[str]) -> None:
        """Send only for ``owned`` from now on; waits for an attempt in flight to end.

        The attempts interrupted in a newly owned mailbox are recovered at the next
        flush, whatever their age: its last owner has stopped, or died.
        """
        async with self._sending:
            before = frozenset() if self._owned is None else self._owned
            self._fresh |= owned - before
            self._owned = owned

    @property
    def _retry(self) -> RetryPolicy:
        outbox = self._settings.outbox
        backoff = Backoff(outbox.retry_initial_s, 2.0, outbox.retry_max_s, 0.25)
        return RetryPolicy(outbox.max_attempts, backoff)

    def wake(self) -> None:
        """Look for due messages now: this process has just queued one (the gateway)."""
        self._due.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Recover, then send until ``stop``, looking for new messages every poll interval."""
        await self._recover(SendReport(), started_before=None, mailboxes=self._owned)
        while not stop.is_set():
            self._due.clear()
            try:
                await self.flush(SendReport())  # each line of the log says what it did
            except MaildError as exc:
                log.error("outbox flush failed error=%s", exc)
            except Exception:  # a bug must not end sending for the daemon's lifetime
                log.exception("outbox flush crashed")
            waits = [asyncio.ensure_future(event.wait()) for event in (stop, self._due)]
            await asyncio.wait(
                waits,
                timeout=self._settings.outbox.poll_interval_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            for wait in waits:
                wait.cancel()

    async def flush_once(self) -> SendReport:
        """``run --once``: recover stale attempts, send what is due, file copies."""
        report = SendReport()
        await self.flush(report)
        return report

    async def flush(self, report: SendReport) -> None:
        # Stale ones only: an attempt of another maild on this database may be live. This
        # also picks up an attempt this process could not record (a database error).
        if self._fresh:
            fresh, self._fresh = self._fresh, frozenset()
            await self._recover(report, started_before=None, mailboxes=fresh)
        stale = self._clock() - STALE_ATTEMPT
        await self._recover(report, started_before=stale, mailboxes=self._owned)
        # Due by the time this pass began: a reply that failed in it waits for the next
        # pass (the next run), however short its backoff, instead of being retried at once.
        began = self._clock()
        while True:
            due = await self._db(partial(rows.due, now=began, mailboxes=self._owned))
            if not due:
                break
            for row in due:
                await self._attempt(row, report)
        if report.sent or self._clock() >= self._copies_due:
            await self._copy_all(report)
            self._copies_due = self._clock() + COPY_RETRY

    async def _db(self, work: Callable[..., T]) -> T:
        return await asyncio.to_thread(self._store.run, work)

    def _provider(self, name: str, kind: str, mailbox: MailboxSettings) -> TokenProvider | None:
        login = mailbox.smtp if kind == "smtp" else mailbox.imap
        if login is None:
            return None
        key = (name, kind)
        if key not in self._tokens:
            self._tokens[key] = token_provider(name, login, self._clock)
        return self._tokens[key]

    def _violations(self, mailbox: MailboxSettings, raw: bytes) -> list[Violation]:
        return check_draft(self._settings, mailbox, read_draft(raw, "eml"))

    async def _move(self, row: OutboxRow, entry: OutboxEntry) -> bool:
        return await self._db(partial(rows.apply, row=row, entry=entry))

    async def _attempt(self, row: OutboxRow, report: SendReport) -> None:
        async with self._sending:
            if self._owned is None or row.mailbox in self._owned:
                await self._send(row, report)

    async def _send(self, row: OutboxRow, report: SendReport) -> None:
        mailbox = self._settings.mailboxes.get(row.mailbox)
        raw = await self._db(partial(rows.raw, row=row))
        claimed = claim(row.entry, self._clock())
        if not await self._move(row, claimed):
            return  # another sender took it
        row = replace(row, entry=claimed)
        try:
            if mailbox is None or mailbox.smtp is None:
                raise PermanentError(f"mailbox {row.mailbox!r} can no longer send (no [smtp])")
            # In a thread: a mailbox's classifier may be asked (see mailbox_check).
            found = await asyncio.to_thread(self._violations, mailbox, raw)
            if found:
                # Counted in maild_outbound_blocked_total by the SLA ticker, as the
                # refusals of `maild reply` and `maild send` are.
                await self._db(
                    partial(
                        rows.record_refusal,
                        mailbox=row.mailbox,
                        rules={v.rule for v in found},
                        origin="sender",
                        thread_id=row.thread_id,
                        now=self._clock(),
                    )
                )
                blocked = "; ".join(f"{v.rule}: {v.text!r}" for v in found)
                raise PermanentError(f"refused by the outbound policy: {blocked}")
            endpoint = smtp.endpoint_for(mailbox.smtp, self._provider(row.mailbox, "smtp", mailbox))
            answer = await smtp.send(endpoint, raw, row.sender, row.recipients)
        except (TransientError, PermanentError) as exc:
            await self._failed(row, exc, report)
            return
        reply = answer.reply
        if answer.refused:
            reply += "; refused: " + "; ".join(f"{r} {a}" for r, a in answer.refused.items())
        done = accepted(claimed, self._clock(), reply)
        # Shielded: once the server has it, "sent" must be recorded even during shutdown.
        await asyncio.shield(self._db(partial(rows.mark_sent, row=row, entry=done, raw=raw)))
        report.sent += 1
        log.info("outbox sent id=%d mailbox=%s attempts=%d", row.id, row.mailbox, done.attempts)
        if self._metrics is not None:
            self._metrics.outbound_sent(row.mailbox)
        if self._on_sent is not None:
            self._on_sent()

    async def _failed(self, row: OutboxRow, exc: MaildError, report: SendReport) -> None:
        entry = failed_attempt(
            row.entry,
            self._clock(),
            str(exc),
            permanent=isinstance(exc, PermanentError),
            policy=self._retry,
            draw=self._draw(),
        )
        await self._move(row, entry)
        if entry.state == "failed":
            report.failed += 1
            if self._metrics is not None:
                self._metrics.outbound_failed(row.mailbox)
        else:
            report.retrying += 1
        log.warning(
            "outbox attempt failed id=%d mailbox=%s attempts=%d state=%s error=%s",
            row.id,
            row.mailbox,
            entry.attempts,
            entry.state,
            exc,
        )

    def _sent_folder(self, name: str) -> MailboxSettings | None:
        mailbox = self._settings.mailboxes.get(name)
        return mailbox if mailbox is not None and mailbox.imap.sent_folder else None

    async def _sent_folder_session(
        self,
        name: str,
        mailbox: MailboxSettings,
        work: Callable[[ImapClient, str], Awaitable[None]],
    ) -> None:
        """Run ``work`` with a connection to the mailbox's Sent folder, if it has one."""
        tokens = self._provider(name, "imap", mailbox)
        async with ImapClient(endpoint_for(mailbox.imap, tokens)) as imap:
            folder = await resolve_folder(imap, FolderSpec(mailbox.imap.sent_folder, "out"))
            if folder is not None:
                await work(imap, folder)

    async def _recover(
        self,
        report: SendReport,
        started_before: datetime | None,
        mailboxes: frozenset[str] | None,
    ) -> None:
        stuck = await self._db(
            partial(rows.interrupted, started_before=started_before, mailboxes=mailboxes)
        )
        for row in stuck:
            try:
                found = await self._db(partial(rows.stored_out, row=row))
                if not found:
                    found = await self._in_sent_folder(row)
            except (TransientError, PermanentError) as exc:
                # Undecided stays undecided: sending now could be the duplicate.
                report.errors.append(f"{row.message_id}: cannot check the Sent folder: {exc}")
                log.error("outbox recovery postponed id=%d error=%s", row.id, exc)
                continue
            entry = recovered(row.entry, self._clock(), in_sent_folder=found)
            if found:
                raw = await self._db(partial(rows.raw, row=row))
                await self._db(partial(rows.mark_sent, row=row, entry=entry, raw=raw))
            else:
                await self._move(row, entry)
            report.recovered += 1
            log.warning(
                "outbox interrupted attempt recovered id=%d found_in_sent=%s", row.id, found
            )

    async def _in_sent_folder(self, row: OutboxRow) -> bool:
        mailbox = self._sent_folder(row.mailbox)
        if mailbox is None:
            return False
        found = False

        async def look(imap: ImapClient, folder: str) -> None:
            nonlocal found
            found = await imap.holds_message_id(folder, row.message_id)

        await self._sent_folder_session(row.mailbox, mailbox, look)
        return found

    async def _copy_all(self, report: SendReport) -> None:
        names = [
            n
            for n in self._settings.mailboxes
            if self._sent_folder(n) is not None and (self._owned is None or n in self._owned)
        ]
        pending = await self._db(partial(rows.uncopied, mailboxes=names))
        by_mailbox: dict[str, list[OutboxRow]] = {}
        for row in pending:
            by_mailbox.setdefault(row.mailbox, []).append(row)
        for name, waiting in by_mailbox.items():
            mailbox = self._sent_folder(name)
            if mailbox is None:
                continue

            async def copy(
                imap: ImapClient, folder: str, waiting: list[OutboxRow] = waiting
            ) -> None:
                for row in waiting:
                    # A crash between APPEND and its record must not file a second copy.
                    if not await imap.holds_message_id(folder, row.message_id):
                        await imap.append(folder, await self._db(partial(rows.raw, row=row)))
                    await self._db(partial(rows.mark_copied, row=row, now=self._clock()))
                    report.copied += 1

            try:
                await self._sent_folder_session(name, mailbox, copy)
            except (TransientError, PermanentError) as exc:
                report.errors.append(f"{name}: copy to Sent failed: {exc}")
                log.error("outbox copy to sent failed mailbox=%s error=%s", name, exc)
