"""The processing stage: landed messages are parsed on a pool of worker processes.

Landing never waits for this stage: a message is safe once its bytes are stored.
Processing reads landed rows, parses them on every core (parsing is most of the
work and holds the GIL), and writes the results back in batches. The same code
re-runs over stored bytes for ``maild reprocess``, without touching the server.
A message that cannot be parsed, or that makes the parser fail, is quarantined
with the reason; it never stops the rest.
"""

__all__ = ["ALL_STATES", "LANDED", "ProcessReport", "Processor"]

import asyncio
import logging
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass

from maild.domain import ProcessOutcome
from maild.ingest.sync import Clock
from maild.ingest.workers import parse_batch, worker_init
from maild.metrics import Metrics
from maild.store import Store

log = logging.getLogger(__name__)

LANDED: tuple[str, ...] = ("landed",)
ALL_STATES: tuple[str, ...] = ("landed", "processed", "quarantined")


@dataclass(frozen=True, slots=True)
class ProcessReport:
    processed: int = 0
    quarantined: int = 0

    def __add__(self, other: "ProcessReport") -> "ProcessReport":
        return ProcessReport(self.processed + other.processed, self.quarantined + other.quarantined)


class Processor:
    """Owns the worker pool, started on the first full batch; ``close()`` shuts it down.

    A trickle of mail (the daemon's usual case) is parsed in a thread: starting
    worker processes costs more than parsing a few messages.
    """

    def __init__(
        self,
        store: Store,
        clock: Clock,
        metrics: Metrics | None = None,
        *,
        workers: int | None = None,
        batch: int = 100,
    ) -> None:
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._workers = workers or os.cpu_count() or 1
        self._batch = batch
        self._pool: Executor | None = None

    def _executor(self, rows: int) -> Executor | None:
        if self._pool is None and rows >= self._batch:
            # spawn: forking a process that runs an event loop and threads is unsafe, and a
            # forkserver outlives a killed maild with its workers.
            self._pool = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=worker_init,
                initargs=(os.getpid(),),
            )
        return self._pool

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    async def run(
        self, *, states: Sequence[str] = LANDED, mailbox: str | None = None
    ) -> ProcessReport:
        """Process every message currently in ``states`` (optionally of one mailbox)."""
        loop = asyncio.get_running_loop()
        in_flight: set[asyncio.Future[list[ProcessOutcome]]] = set()
        processed = quarantined = 0
        after = 0
        while True:
            rows = await asyncio.to_thread(
                self._store.pending,
                states=states,
                after_pk=after,
                limit=self._batch,
                mailbox=mailbox,
            )
            if rows:
                after = rows[-1][0]
                in_flight.add(loop.run_in_executor(self._executor(len(rows)), parse_batch, rows))
            if not in_flight:
                break
            if rows and len(in_flight) < 2 * self._workers:
                continue
            done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                p, q = await self._save(future.result())
                processed, quarantined = processed + p, quarantined + q
        return ProcessReport(processed, quarantined)

    async def _save(self, outcomes: list[ProcessOutcome]) -> tuple[int, int]:
        await asyncio.to_thread(self._store.save_processed, outcomes, self._clock())
        quarantined = sum(1 for o in outcomes if o.parsed is None)
        for outcome in outcomes:
            if outcome.parsed is None:
                log.warning("message quarantined pk=%d reason=%s", outcome.pk, outcome.error)
        if self._metrics is not None:
            self._metrics.processed(len(outcomes) - quarantined, quarantined)
        return len(outcomes) - quarantined, quarantined
