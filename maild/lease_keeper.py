"""Keeps one instance's mailbox leases while the daemon runs (PostgreSQL only).

Two loops. Every third of the lease period a round (:func:`maild.store.leases.renew`)
renews what this instance holds and takes its share of what is free; it runs on a
thread of its own, so busy landing and processing threads never delay it past the
leases' expiry. The hand-over loop tells the daemon which mailboxes to run, which
can take seconds (a folder lands the batch it fetched before it stops); rounds go on
meanwhile. A mailbox above the fair share is released by the next round only once
the daemon has stopped it, so two instances never sync one folder at once. When the
database cannot be reached until the leases have run out, the daemon is told it
owns nothing: another instance may have taken them by then.
"""

__all__ = ["LeaseKeeper", "OwnershipChange", "instance_name"]

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

from maild.errors import MaildError
from maild.ingest.sync import Clock
from maild.store import Store
from maild.store import leases as rows
from maild.store.leases import Round
from maild.tasks import sleep_unless

log = logging.getLogger(__name__)

T = TypeVar("T")

OwnershipChange = Callable[[frozenset[str]], Awaitable[None]]
_NOTHING = Round(frozenset(), frozenset(), 0)


def instance_name(configured: str | None) -> str:
    """This instance's name in the lease rows: the configured one, or host:pid."""
    return configured or f"{socket.gethostname()}:{os.getpid()}"


class LeaseKeeper:
    def __init__(self, store: Store, me: str, period_s: float, clock: Clock) -> None:
        self._store = store
        self.me = me
        self._period = timedelta(seconds=period_s)
        self._clock = clock
        # The latest round not yet handed over, and what the daemon may be running.
        self._wanted: Round | None = None
        self._wake = asyncio.Event()
        self._running: frozenset[str] = frozenset()
        self._releasable: frozenset[str] = frozenset()
        self._thread: ThreadPoolExecutor | None = None

    async def run(
        self, stop: asyncio.Event, configured: Callable[[], Collection[str]], own: OwnershipChange
    ) -> None:
        """Renew and rebalance until ``stop``; ``own`` is told the mailboxes to run."""
        try:
            with ThreadPoolExecutor(1, thread_name_prefix="maild-leases") as self._thread:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._hand_over_forever(stop, own))
                    try:
                        await self._renew_forever(stop, configured)
                    finally:
                        self._wake.set()
        finally:
            self._thread = None

    async def _db(self, work: Callable[..., T]) -> T:
        """On the keeper's own thread (or, before ``run`` made it, a shared one)."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._store.run, work)

    async def _renew_forever(
        self, stop: asyncio.Event, configured: Callable[[], Collection[str]]
    ) -> None:
        valid_until: datetime | None = None
        # The first round only beats the heart: instances started together then see each
        # other before they take anything, instead of the first taking all and giving back.
        first = True
        while not stop.is_set():
            now = self._clock()
            try:
                await self._release()
                found = await self._db(
                    partial(
                        rows.renew,
                        me=self.me,
                        mailboxes=[] if first else list(configured()),
                        now=now,
                        period=self._period,
                    )
                )
            except MaildError as exc:
                log.error("lease renewal failed instance=%s error=%s", self.me, exc)
                if valid_until is not None and self._clock() >= valid_until:
                    log.error("leases expired instance=%s; stopping every mailbox", self.me)
                    self._want(_NOTHING)
                    valid_until = None
            else:
                valid_until = now + self._period
                self._want(found)
                first = False
            await sleep_unless(stop, self._period.total_seconds() / 3)

    async def _release(self) -> None:
        """Give up the surplus mailboxes the daemon has stopped (and not started again)."""
        done = self._releasable - self._running
        if not done:
            return
        await self._db(partial(rows.release, me=self.me, mailboxes=done))
        self._releasable -= done
        if self._wanted is not None:  # read before the release: it must not start them
            self._wanted = replace(self._wanted, owned=self._wanted.owned - done)

    def _want(self, found: Round) -> None:
        self._wanted = found
        self._wake.set()

    async def _hand_over_forever(self, stop: asyncio.Event, own: OwnershipChange) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if stop.is_set():
                return
            found, self._wanted = self._wanted, None
            if found is None:
                continue
            owned = found.owned - found.release
            if owned != self._running:
                log.info(
                    "leases changed instance=%s owned=%d taken=%s released=%s live_instances=%d",
                    self.me,
                    len(owned),
                    ",".join(sorted(owned - self._running)) or "-",
                    ",".join(sorted(self._running - owned)) or "-",
                    found.live,
                )
            self._running |= owned
            await own(owned)
            self._running = owned
            self._releasable |= found.release

    async def leave(self) -> None:
        """Release every lease at a clean stop, so the others need not wait for expiry."""
        try:
            await self._db(partial(rows.leave, me=self.me))
        except MaildError as exc:
            log.error("leases not released instance=%s error=%s", self.me, exc)
