"""The processing stage: landed messages are parsed on a pool of worker processes.

Landing never waits for this stage: a message is safe once its bytes are stored.
Processing hands batches of landed messages' keys to a pool of worker processes,
which read, parse (most of the work, and it holds the GIL) and write back the
results themselves on every core. The same code
re-runs over stored bytes for ``maild reprocess``, without touching the server.
A message that cannot be parsed, or that makes the parser fail, is quarantined
with the reason; it never stops the rest.
"""

__all__ = ["ALL_STATES", "LANDED", "ProcessReport", "Processor"]

import asyncio
import logging
import multiprocessing
import os
import threading
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass

from maild.ingest.rules import MailboxRules
from maild.ingest.sync import Clock
from maild.ingest.workers import (
    BatchReport,
    process_batch,
    process_in_worker,
    warm_up,
    worker_init,
)
from maild.metrics import Metrics
from maild.store import Store

log = logging.getLogger(__name__)

LANDED: tuple[str, ...] = ("landed",)
ALL_STATES: tuple[str, ...] = ("landed", "processed", "quarantined")
# Below this, a batch's fixed cost (its transaction, a threading pass) starts to tell.
_SMALLEST_BATCH = 25


@dataclass(frozen=True, slots=True)
class ProcessReport:
    processed: int = 0
    quarantined: int = 0

    def __add__(self, other: "ProcessReport") -> "ProcessReport":
        return ProcessReport(self.processed + other.processed, self.quarantined + other.quarantined)


def _report_warm_up(done: "Future[None]") -> None:
    """A worker that could not load a model fails its batches too; say why at once."""
    error = None if done.cancelled() else done.exception()
    if error is not None:
        log.warning("worker warm-up failed error=%s: %s", type(error).__name__, error)


class Processor:
    """Owns the worker pool, started once a full batch is waiting (or by
    :meth:`start_workers`); ``close()`` shuts it down.

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
        batch: int = 250,
        rules: Mapping[str, MailboxRules] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._workers = workers or os.cpu_count() or 1
        self._batch = batch
        self._pool: Executor | None = None
        # Each mailbox's preset and model; replaced when a reload changes mailboxes.
        self.rules: Mapping[str, MailboxRules] = rules or {}
        # The mailboxes this instance owns, when instances share them (maild.leases);
        # None: all of them. Two instances never process one message.
        self.mailboxes: Collection[str] | None = None
        # Batches handed out and not yet done: one in a thread of this process goes on
        # using the store after the task that awaited it is cancelled (see settle()).
        self._running: set[asyncio.Future[BatchReport]] = set()

    def start_workers(self) -> None:
        """Start the worker pool now, forking this process while that is safe.

        For a run that syncs and exits (``run --once``, ``reprocess``), called before
        anything else starts a thread. A forked worker holds every module and preset
        this process has loaded: ready in milliseconds, where a spawned one spends
        about a second of CPU importing them, a second that competes with landing on
        a two-core machine. Forking is safe only while this process has no other
        thread (a lock another thread held would stay locked in the worker); with
        one, the workers are spawned as the daemon's are.
        """
        if self._pool is None and self._store.shareable:
            alone = threading.active_count() == 1
            fork = alone and "fork" in multiprocessing.get_all_start_methods()
            self._pool = self._new_pool("fork" if fork else "spawn")

    def _executor(self, waiting: int) -> Executor | None:
        if self._pool is None and waiting >= self._batch and self._store.shareable:
            # spawn: forking a process that runs an event loop and threads is unsafe, and a
            # forkserver outlives a killed maild with its workers.
            self._pool = self._new_pool("spawn")
        return self._pool

    def _new_pool(self, method: str) -> Executor:
        pool = ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context(method),
            initializer=worker_init,
            initargs=(os.getpid(),),
        )
        models = {(rule.model, rule.model_digest) for rule in self.rules.values() if rule.model}
        for _ in range(self._workers):
            pool.submit(warm_up, models).add_done_callback(_report_warm_up)
        return pool

    def _submit(self, pks: list[int], pool: Executor | None) -> "asyncio.Future[BatchReport]":
        """Hand ``pks`` to the worker ``pool``, or to a thread of this process without one."""
        loop = asyncio.get_running_loop()
        if pool is None:
            future = loop.run_in_executor(
                None, process_batch, self._store, pks, self._clock(), self.rules
            )
        else:
            future = loop.run_in_executor(
                pool, process_in_worker, self._store.url, pks, self._clock(), self.rules
            )
        self._running.add(future)
        future.add_done_callback(self._running.discard)
        return future

    async def settle(self, grace_s: float) -> None:
        """Wait up to ``grace_s`` for the batches still running after :meth:`run` was
        cancelled, so that none is left writing to a store its owner is closing."""
        if self._running:
            await asyncio.wait(set(self._running), timeout=grace_s)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    async def run(
        self, *, states: Sequence[str] = LANDED, mailbox: str | None = None
    ) -> ProcessReport:
        """Process every message currently in ``states`` (optionally of one mailbox)."""
        mailboxes = self.mailboxes if mailbox is None else (mailbox,)
        in_flight: set[asyncio.Future[BatchReport]] = set()
        total = ProcessReport()
        after = 0
        queued: list[int] = []
        window = 2 * self._workers * self._batch
        last = False  # the queue holds every message waiting, no full window more
        while True:
            if len(queued) < self._batch:
                more = await asyncio.to_thread(
                    self._store.pending,
                    states=states,
                    after_pk=after,
                    limit=window - len(queued),
                    mailboxes=mailboxes,
                )
                if more:
                    after = more[-1]
                queued += more
                last = len(queued) < window
            pool = self._executor(len(queued))
            # Only workers gain from smaller batches: threads of this process share a GIL.
            size = self._tail_batch(len(queued)) if last and pool else self._batch
            pks, queued = queued[:size], queued[size:]
            if pks:
                in_flight.add(self._submit(pks, pool))
            if not in_flight:
                return total
            if pks and len(in_flight) < 2 * self._workers:
                continue
            done, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            for future in done:
                total = total + await self._account(future.result())

    def _tail_batch(self, waiting: int) -> int:
        """The size of the next batch when ``waiting`` messages are all there is.

        Smaller and smaller, so that the workers finish together: with full batches to
        the end, one worker went on with the last one (or two) while the others had
        nothing left, a tenth of a second or more of an idle core at the end of a run
        (bench/ingest.py). Never so small that a batch's own cost (a transaction, a
        threading pass) would outweigh its messages.
        """
        share = -(-waiting // (2 * self._workers))  # ceiling
        return min(self._batch, max(_SMALLEST_BATCH, share))

    async def _account(self, batch: BatchReport) -> ProcessReport:
        if batch.quarantined:
            await self._log_quarantined(batch.quarantined)
        if self._metrics is not None:
            self._metrics.processed(batch.processed, len(batch.quarantined))
            self._metrics.classified(dict(batch.classified))
        return ProcessReport(batch.processed, len(batch.quarantined))

    async def _log_quarantined(self, quarantined: Sequence[tuple[int, str]]) -> None:
        """One warning per message, saying where it is on the server, so that an operator
        can find it there (``maild stats --quarantined`` lists them all later)."""
        found = await asyncio.to_thread(self._store.quarantined, [pk for pk, _ in quarantined])
        places = {q.pk: q for q in found}
        for pk, reason in quarantined:
            where = places.get(pk)
            if where is None:
                log.warning("message quarantined pk=%d reason=%s", pk, reason)
                continue
            log.warning(
                "message quarantined mailbox=%s folder=%s uid=%s message_id=%s pk=%d reason=%s",
                where.mailbox,
                where.folder,
                where.uid,
                where.message_id,
                pk,
                reason,
            )
