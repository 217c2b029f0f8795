"""The long-running mode of ``maild run``: sync every mailbox, wait, repeat, stop cleanly.

This is the polling loop; push (IDLE), per-folder supervision and reload
replace it as the daemon grows. SIGTERM and SIGINT only set an event: the sync
in flight finishes its current transaction and the loop exits.
"""

__all__ = ["run_polling"]

import asyncio
import contextlib
import logging
import signal

from maild.config import Settings
from maild.ingest.mailbox import sync_all
from maild.ingest.sync import Clock
from maild.store import Store

log = logging.getLogger(__name__)


async def run_polling(settings: Settings, store: Store, clock: Clock) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    interval = min((m.imap.poll_interval_s for m in settings.mailboxes.values()), default=60.0)
    log.info("maild running mailboxes=%d poll_interval_s=%s", len(settings.mailboxes), interval)
    try:
        while not stop.is_set():
            sync = asyncio.create_task(sync_all(dict(settings.mailboxes), store, clock))
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({sync, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not sync.done():
                # Let the transaction in flight land, then stop.
                sync.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sync
            stopped.cancel()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("maild stopped")
