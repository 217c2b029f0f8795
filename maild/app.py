"""The composition root: builds the store's companions and runs maild's jobs.

Only this module wires adapters together. ``run_once`` syncs and processes
everything once; ``run_forever`` runs the daemon (``maild.daemon``) with its
metrics exported; ``reprocess`` re-runs processing over stored messages without
touching any server.
"""

__all__ = ["OnceReport", "exposition", "reprocess", "run_forever", "run_once"]

import asyncio
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from prometheus_client import CollectorRegistry, generate_latest

from maild.config import Loader, Settings
from maild.http_endpoints import Readiness, serve
from maild.ingest.mailbox import MailboxSyncReport, record_metrics, sync_all
from maild.ingest.pipeline import Processor, ProcessReport
from maild.ingest.rules import rules_for
from maild.ingest.sync import Clock
from maild.metrics import Metrics
from maild.outbound.sender import Sender, SendReport
from maild.service_notify import ServiceNotifier
from maild.sla.presets import mailbox_policies
from maild.sla_ticker import SlaTicker
from maild.store import Store
from maild.tasks import cancel_and_wait

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OnceReport:
    mailboxes: list[MailboxSyncReport]
    processing: ProcessReport
    outbox: SendReport = field(default_factory=SendReport)

    @property
    def ok(self) -> bool:
        return all(report.ok for report in self.mailboxes) and not self.outbox.errors


def _metrics(settings: Settings, registry: CollectorRegistry) -> Metrics:
    metrics = Metrics(registry)
    for name, mailbox in settings.mailboxes.items():
        metrics.mailbox_configured(name, mailbox.imap.folders, paused=mailbox.paused)
    return metrics


async def _sync_and_process(
    settings: Settings, store: Store, processor: Processor, metrics: Metrics, clock: Clock
) -> OnceReport:
    """Sync every mailbox while processing what has landed so far, then the rest.

    The two stages overlap: fetching waits on the network, parsing on the CPU.
    """
    landed = asyncio.Event()
    sync = asyncio.create_task(sync_all(dict(settings.mailboxes), store, clock, landed.set))
    totals = ProcessReport()
    try:
        while not sync.done():
            woken = asyncio.create_task(landed.wait())
            await asyncio.wait({sync, woken}, return_when=asyncio.FIRST_COMPLETED)
            woken.cancel()
            landed.clear()
            totals = totals + await processor.run()
        reports = sync.result()
    finally:
        if not sync.done():
            await cancel_and_wait(sync)
    record_metrics(metrics, reports)
    return OnceReport(reports, totals + await processor.run())


async def run_once(settings: Settings, store: Store, clock: Clock) -> OnceReport:
    metrics = _metrics(settings, CollectorRegistry())
    processor = Processor(store, clock, metrics, rules=rules_for(settings))
    processor.start_workers()
    try:
        report = await _sync_and_process(settings, store, processor, metrics, clock)
        # Then the outbox; processing threads what was sent, so its conversations answer.
        sent = await Sender(settings, store, clock, metrics).flush_once()
        return replace(report, processing=report.processing + await processor.run(), outbox=sent)
    finally:
        processor.close()


async def reprocess(
    settings: Settings, store: Store, clock: Clock, *, states: Sequence[str], mailbox: str | None
) -> ProcessReport:
    processor = Processor(store, clock, rules=rules_for(settings))
    processor.start_workers()
    try:
        return await processor.run(states=states, mailbox=mailbox)
    finally:
        processor.close()


def exposition(settings: Settings, store: Store, clock: Clock) -> bytes:
    """The metrics as a scrape would show them now, for ``maild metrics``.

    Gauges come from the database (deadline states, oldest waits, the in-time ratio);
    counters and histograms only count what a running daemon counts, so they read 0
    here (and nothing is claimed: the daemon still counts it).
    """
    registry = CollectorRegistry()
    metrics = _metrics(settings, registry)
    ticker = SlaTicker(store, metrics, {}, counts=False)
    ticker.configure(mailbox_policies(settings))
    ticker.tick(clock())
    for state in store.stats().mailboxes.values():
        for folder in state.folders:
            if folder.last_sync is not None:
                metrics.folder_synced(folder.mailbox, folder.folder, folder.last_sync.timestamp())
    return generate_latest(registry)


def _readiness(settings: Settings, store: Store, clock: Clock, idle_renew_s: float) -> Readiness:
    """Ready: the database answers and every watched folder synced recently.

    "Recently" is three poll intervals, at least ten minutes (a folder in IDLE syncs
    every ``idle_renew_s`` when nothing arrives, and at least that long is allowed).
    """

    def problems() -> list[str]:
        found: list[str] = []
        stats = store.stats()
        now = clock()
        for name, mailbox in settings.mailboxes.items():
            imap = mailbox.imap
            limit = max(600.0, 3 * imap.poll_interval_s)
            if imap.idle:
                limit = max(limit, idle_renew_s + 300.0)
            synced = (
                {f.folder: f for f in stats.mailboxes[name].folders}
                if name in stats.mailboxes
                else {}
            )
            for folder in imap.folders:
                state = synced.get(folder)
                if state is None or state.last_sync is None:
                    found.append(f"{name}/{folder}: not synced yet")
                elif (now - state.last_sync).total_seconds() > limit:
                    found.append(f"{name}/{folder}: last synced {state.last_sync.isoformat()}")
        return found

    return problems


async def run_forever(
    settings: Settings, store: Store, clock: Clock, load: Loader | None = None
) -> None:
    """The daemon, with its metrics and health endpoints served for as long as it runs."""
    # Imported here: the daemon brings the submission gateway (aiosmtpd) and the
    # instance leases, which ``run --once`` and the other commands do not use; a
    # one-off run starts that much sooner.
    from maild.daemon import IDLE_RENEW_S, Daemon

    registry = CollectorRegistry()
    metrics = _metrics(settings, registry)
    notifier = ServiceNotifier.from_environ(os.environ)
    daemon = Daemon(settings, store, clock, metrics, load=load, notifier=notifier)
    folders = _readiness(settings, store, clock, IDLE_RENEW_S)
    server = serve(
        settings.metrics.host,
        settings.metrics.port,
        registry,
        lambda: folders() + daemon.gateways.problems(),
    )
    host, port = server.server_address[:2]
    log.info("metrics listening address=%s:%s", host, port)
    try:
        await daemon.run()
    finally:
        server.shutdown()
        server.server_close()
