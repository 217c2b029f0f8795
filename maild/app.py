"""The composition root: builds the store's companions and runs maild's jobs.

Only this module wires adapters together. ``run_once`` syncs and processes
everything once; ``run_forever`` repeats that every poll interval until SIGTERM
or SIGINT, exporting metrics meanwhile (push, per-folder supervision and reload
replace this loop as the daemon grows); ``reprocess`` re-runs processing over
stored messages without touching any server.
"""

__all__ = ["OnceReport", "reprocess", "run_forever", "run_once"]

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, start_http_server

from maild.config import Settings
from maild.ingest.mailbox import MailboxSyncReport, record_metrics, sync_all
from maild.ingest.pipeline import Processor, ProcessReport
from maild.ingest.sync import Clock
from maild.metrics import Metrics
from maild.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OnceReport:
    mailboxes: list[MailboxSyncReport]
    processing: ProcessReport

    @property
    def ok(self) -> bool:
        return all(report.ok for report in self.mailboxes)


async def _cancel_and_wait(task: "asyncio.Task[object]") -> None:
    """Cancel a child task and wait for it, without swallowing our own cancellation."""
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise


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
            await _cancel_and_wait(sync)
    record_metrics(metrics, reports)
    return OnceReport(reports, totals + await processor.run())


async def run_once(settings: Settings, store: Store, clock: Clock) -> OnceReport:
    metrics = _metrics(settings, CollectorRegistry())
    processor = Processor(store, clock, metrics)
    try:
        return await _sync_and_process(settings, store, processor, metrics, clock)
    finally:
        processor.close()


async def reprocess(
    store: Store, clock: Clock, *, states: Sequence[str], mailbox: str | None
) -> ProcessReport:
    processor = Processor(store, clock)
    try:
        return await processor.run(states=states, mailbox=mailbox)
    finally:
        processor.close()


async def run_forever(settings: Settings, store: Store, clock: Clock) -> None:
    registry = CollectorRegistry()
    metrics = _metrics(settings, registry)
    server, _thread = start_http_server(
        settings.metrics.port, addr=settings.metrics.host, registry=registry
    )
    processor = Processor(store, clock, metrics)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    interval = min((m.imap.poll_interval_s for m in settings.mailboxes.values()), default=60.0)
    log.info(
        "maild running mailboxes=%d poll_interval_s=%s metrics=%s",
        len(settings.mailboxes),
        interval,
        settings.metrics.listen,
    )
    try:
        while not stop.is_set():
            cycle = asyncio.create_task(
                _sync_and_process(settings, store, processor, metrics, clock)
            )
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({cycle, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if cycle.done():
                cycle.result()
            else:
                # What has landed is safe; the batch in flight is fetched again next start.
                await _cancel_and_wait(cycle)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        processor.close()
        server.shutdown()
    log.info("maild stopped")
