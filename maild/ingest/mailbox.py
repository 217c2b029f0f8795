"""Sync every watched folder of a mailbox, keeping one folder's failure from the others.

A failure is recorded on the folder (``maild stats`` shows it) and reported,
never raised past the mailbox: one bad folder or one unreachable account must
not stop the rest of the sync.
"""

__all__ = [
    "SENT_AUTO",
    "FolderSpec",
    "MailboxSyncReport",
    "endpoint_for",
    "record_error",
    "record_folder",
    "record_metrics",
    "resolve_folder",
    "sync_all",
    "sync_mailbox",
    "watched_folders",
]

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from maild.config.settings import ImapSettings, MailboxSettings
from maild.domain import Direction
from maild.errors import MaildError, PermanentError
from maild.ingest.imap import ImapClient, ImapEndpoint
from maild.ingest.sync import Clock, FolderSyncResult, sync_folder
from maild.metrics import Metrics
from maild.oauth import TokenProvider, token_provider
from maild.store import Store

log = logging.getLogger(__name__)

# Enough to overlap network waits across accounts without opening hundreds of sockets.
_PARALLEL_MAILBOXES = 8
# sent_folder's default: whichever folder the server marks \Sent (RFC 6154), if any.
SENT_AUTO = "auto"


@dataclass(frozen=True, slots=True)
class FolderSpec:
    """A folder as the config names it; ``direction`` "out" is the seller's Sent folder."""

    name: str
    direction: Direction


def watched_folders(imap: ImapSettings) -> tuple[FolderSpec, ...]:
    """The configured folders, then the Sent folder (whose mail is the seller's replies)."""
    sent = imap.sent_folder
    specs = [FolderSpec(name, "in") for name in imap.folders if name != sent]
    if sent:
        specs.append(FolderSpec(sent, "out"))
    return tuple(specs)


async def resolve_folder(imap: ImapClient, spec: FolderSpec) -> str | None:
    """The folder's name on the server; None when ``auto`` finds no Sent folder there."""
    if spec.direction == "in" or spec.name != SENT_AUTO:
        return spec.name
    found = await imap.folder_with("\\Sent")
    if found is None:
        log.info("no sent folder marked on the server account=%s", imap.describe())
    return found


@dataclass(frozen=True, slots=True)
class MailboxSyncReport:
    mailbox: str
    folders: list[FolderSyncResult] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    permanent: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.errors


def endpoint_for(imap: ImapSettings, tokens: TokenProvider | None = None) -> ImapEndpoint:
    """The endpoint of a mailbox's IMAP table; ``tokens`` is required for auth = "xoauth2".

    Pass the mailbox's one long-lived ``token_provider`` to every connection, so they
    share its token and its refreshes (see :mod:`maild.oauth`).
    """
    return ImapEndpoint(
        host=imap.host,
        port=imap.port,
        security=imap.security,
        tls_verify=imap.tls_verify,
        username=imap.username,
        password=imap.password,
        tokens=tokens,
    )


def _failed(report: MailboxSyncReport, folders: tuple[str, ...], exc: MaildError) -> None:
    report.errors.update(dict.fromkeys(folders, str(exc)))
    if isinstance(exc, PermanentError):
        report.permanent.update(folders)


def record_folder(metrics: Metrics, result: FolderSyncResult) -> None:
    metrics.landed(result.mailbox, result.stored, result.duplicates, result.direction)
    if result.uidvalidity_changed:
        metrics.uidvalidity_changed(result.mailbox, result.folder)


def record_metrics(metrics: Metrics, reports: list[MailboxSyncReport]) -> None:
    for report in reports:
        for result in report.folders:
            record_folder(metrics, result)
        for folder in report.errors:
            kind = "permanent" if folder in report.permanent else "transient"
            metrics.sync_failed(report.mailbox, kind)


async def record_error(store: Store, name: str, folders: tuple[str, ...], error: str) -> None:
    """Keep a folder's last error for ``maild stats``; a store that fails too is only logged.

    An unresolved "auto" is no folder of the account: its error is logged and reported only.
    """
    try:
        for folder in folders:
            if folder != SENT_AUTO:
                await asyncio.to_thread(store.record_error, name, folder, error)
    except MaildError as exc:
        log.error("cannot record folder error mailbox=%s error=%s", name, exc)


async def sync_mailbox(
    name: str,
    settings: MailboxSettings,
    store: Store,
    clock: Clock,
    on_landed: Callable[[], None] | None = None,
) -> MailboxSyncReport:
    report = MailboxSyncReport(name)
    specs = watched_folders(settings.imap)
    try:
        tokens = token_provider(name, settings.imap, clock)
        async with ImapClient(endpoint_for(settings.imap, tokens)) as imap:
            for spec in specs:
                try:
                    folder = await resolve_folder(imap, spec)
                    if folder is None:
                        continue
                    result = await sync_folder(
                        imap,
                        store,
                        name,
                        folder,
                        settings.imap.fetch_batch,
                        clock,
                        on_landed,
                        direction=spec.direction,
                    )
                except MaildError as exc:
                    log.error(
                        "folder sync failed mailbox=%s folder=%s error=%s", name, spec.name, exc
                    )
                    _failed(report, (spec.name,), exc)
                    await record_error(store, name, (spec.name,), str(exc))
                else:
                    report.folders.append(result)
    except MaildError as exc:
        log.error("mailbox sync failed mailbox=%s error=%s", name, exc)
        synced = {r.folder for r in report.folders}
        pending = tuple(
            s.name for s in specs if s.name not in report.errors and s.name not in synced
        )
        _failed(report, pending, exc)
        await record_error(store, name, pending, str(exc))
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
