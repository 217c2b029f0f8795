"""Sync every watched folder of a mailbox, keeping one folder's failure from the others.

A failure is recorded on the folder (``maild stats`` shows it) and reported,
never raised past the mailbox: one bad folder or one unreachable account must
not stop the rest of the sync.
"""

__all__ = ["MailboxSyncReport", "endpoint_for", "record_metrics", "sync_all", "sync_mailbox"]

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from maild.config.settings import ImapSettings, MailboxSettings
from maild.errors import MaildError, PermanentError
from maild.ingest.imap import ImapClient, ImapEndpoint
from maild.ingest.sync import Clock, FolderSyncResult, sync_folder
from maild.metrics import Metrics
from maild.store import Store

log = logging.getLogger(__name__)

# Enough to overlap network waits across accounts without opening hundreds of sockets.
_PARALLEL_MAILBOXES = 8


@dataclass(frozen=True, slots=True)
class MailboxSyncReport:
    mailbox: str
    folders: list[FolderSyncResult] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    permanent: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.errors


def endpoint_for(imap: ImapSettings) -> ImapEndpoint:
    return ImapEndpoint(
        host=imap.host,
        port=imap.port,
        security=imap.security,
        tls_verify=imap.tls_verify,
        username=imap.username,
        password=imap.password,
    )


def _failed(report: MailboxSyncReport, folders: tuple[str, ...], exc: MaildError) -> None:
    report.errors.update(dict.fromkeys(folders, str(exc)))
    if isinstance(exc, PermanentError):
        report.permanent.update(folders)


def record_metrics(metrics: Metrics, reports: list[MailboxSyncReport]) -> None:
    for report in reports:
        for result in report.folders:
            metrics.landed(report.mailbox, result.stored, result.duplicates)
            if result.uidvalidity_changed:
                metrics.uidvalidity_changed(report.mailbox, result.folder)
        for folder in report.errors:
            kind = "permanent" if folder in report.permanent else "transient"
            metrics.sync_failed(report.mailbox, kind)


async def _record(store: Store, name: str, folders: tuple[str, ...], error: str) -> None:
    for folder in folders:
        await asyncio.to_thread(store.record_error, name, folder, error)


async def sync_mailbox(
    name: str,
    settings: MailboxSettings,
    store: Store,
    clock: Clock,
    on_landed: Callable[[], None] | None = None,
) -> MailboxSyncReport:
    report = MailboxSyncReport(name)
    folders = settings.imap.folders
    try:
        async with ImapClient(endpoint_for(settings.imap)) as imap:
            for folder in folders:
                try:
                    result = await sync_folder(
                        imap, store, name, folder, settings.imap.fetch_batch, clock, on_landed
                    )
                except MaildError as exc:
                    log.error("folder sync failed mailbox=%s folder=%s error=%s", name, folder, exc)
                    _failed(report, (folder,), exc)
                    await _record(store, name, (folder,), str(exc))
                else:
                    report.folders.append(result)
    except MaildError as exc:
        log.error("mailbox sync failed mailbox=%s error=%s", name, exc)
        pending = tuple(f for f in folders if f not in report.errors)
        _failed(report, pending, exc)
        await _record(store, name, pending, str(exc))
    return report


async def sync_all(
    mailboxes: dict[str, MailboxSettings],
    store: Store,
    clock: Clock,
    on_landed: Callable[[], None] | None = None,
) -> list[MailboxSyncReport]:
    gate = asyncio.Semaphore(_PARALLEL_MAILBOXES)

    async def one(name: str, settings: MailboxSettings) -> MailboxSyncReport:
        async with gate:
            return await sync_mailbox(name, settings, store, clock, on_landed)

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(n, s)) for n, s in mailboxes.items()]
    return [task.result() for task in tasks]
