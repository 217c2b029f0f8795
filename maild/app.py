"""The composition root: builds the store's companions and runs maild's jobs.

Only this module wires adapters together. ``run_once`` syncs and processes
everything once; ``run_forever`` runs the daemon (``maild.daemon``) with its
metrics exported; ``reprocess`` re-runs processing over stored messages without
touching any server.
"""

__all__ = ["OnceReport", "reprocess", "run_forever", "run_once"]

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, start_http_server

from maild.config import Settings
from maild.daemon import Daemon, Loader
from maild.ingest.mailbox import MailboxSyncReport, record_metrics, sync_all
from maild.ingest.pipeline import Processor, ProcessReport
from maild.ingest.rules import rules_for
from maild.ingest.sync import Clock
from maild.metrics import Metrics
from maild.store import Store
from maild.tasks import cancel_and_wait

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OnceReport:
    mailboxes: list[MailboxSyncReport]
    processing: ProcessReport

    @property
    def ok(self) -> bool:
        return all(report.ok for report in self.mailboxes)


def _metrics(settings: Settings, registry: CollectorRegistry) -> Metrics:
    metrics = Metrics(registry)
    for name, mailbox in settings.mailboxes.items():
        metrics.mailbox_configured(name, mailbox.imap.folders)
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
    try:
        return await _sync_and_process(settings, store, processor, metrics, clock)
    finally:
        processor.close()


async def reprocess(
    settings: Settings, store: Store, clock: Clock, *, states: Sequence[str], mailbox: str | None
) -> ProcessReport:
    processor = Processor(store, clock, rules=rules_for(settings))
    try:
        return await processor.run(states=states, mailbox=mailbox)
    finally:
        processor.close()


async def run_forever(
    settings: Settings, store: Store, clock: Clock, load: Loader | None = None
) -> None:
    """The daemon, with its metrics exported for as long as it runs."""
    registry = CollectorRegistry()
    metrics = _metrics(settings, registry)
    server, _thread = start_http_server(
        settings.metrics.port, addr=settings.metrics.host, registry=registry
    )
    log.info("metrics listening address=%s", settings.metrics.listen)
    try:
        await Daemon(settings, store, clock, metrics, load=load).run()
    finally:
        server.shutdown()
