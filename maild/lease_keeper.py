"""Keeps one instance's mailbox leases while the daemon runs (PostgreSQL only).

Every third of the lease period a round (:func:`maild.store.leases.renew`) renews
what this instance holds and takes its share of what is free; the daemon is then
told which mailboxes to run. A mailbox above the fair share is released only after
the daemon has stopped its folders, so two instances never sync one folder at once.
When the database cannot be reached until the leases have run out, the daemon is
told it owns nothing: another instance may have taken them by then.
"""

__all__ = ["LeaseKeeper", "OwnershipChange", "instance_name"]

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Collection
from datetime import datetime, timedelta
from functools import partial
from typing import TypeVar

from maild.errors import MaildError
from maild.ingest.sync import Clock
from maild.store import Store
from maild.store import leases as rows
from maild.tasks import sleep_unless

log = logging.getLogger(__name__)

T = TypeVar("T")

OwnershipChange = Callable[[frozenset[str]], Awaitable[None]]


def instance_name(configured: str | None) -> str:
    """This instance's name in the lease rows: the configured one, or host:pid."""
    return configured or f"{socket.gethostname()}:{os.getpid()}"


class LeaseKeeper:
    def __init__(self, store: Store, me: str, period_s: float, clock: Clock) -> None:
        self._store = store
        self.me = me
        self._period = timedelta(seconds=period_s)
        self._clock = clock
        self._owned: frozenset[str] = frozenset()

    async def _db(self, work: Callable[..., T]) -> T:
        return await asyncio.to_thread(self._store.run, work)

    async def run(
        self, stop: asyncio.Event, configured: Callable[[], Collection[str]], own: OwnershipChange
    ) -> None:
        """Renew and rebalance until ``stop``; ``own`` gets the mailboxes to run each round."""
        valid_until: datetime | None = None
        while not stop.is_set():
            now = self._clock()
            try:
                found = await self._db(
                    partial(
                        rows.renew,
                        me=self.me,
                        mailboxes=list(configured()),
                        now=now,
                        period=self._period,
                    )
                )
            except MaildError as exc:
                log.error("lease renewal failed instance=%s error=%s", self.me, exc)
                if valid_until is not None and self._clock() >= valid_until:
                    log.error("leases expired instance=%s; stopping every mailbox", self.me)
                    await self._hand_over(frozenset(), own)
                    valid_until = None
            else:
                valid_until = now + self._period
                await self._hand_over(found.owned - found.release, own, live=found.live)
                if found.release:
                    await self._db(partial(rows.release, me=self.me, mailboxes=found.release))
            await sleep_unless(stop, self._period.total_seconds() / 3)

    async def _hand_over(
        self, owned: frozenset[str], own: OwnershipChange, live: int | None = None
    ) -> None:
        if owned != self._owned:
            log.info(
                "leases changed instance=%s owned=%d taken=%s released=%s live_instances=%s",
                self.me,
                len(owned),
                ",".join(sorted(owned - self._owned)) or "-",
                ",".join(sorted(self._owned - owned)) or "-",
                live,
            )
        self._owned = owned
        await own(owned)

    async def leave(self) -> None:
        """Release every lease at a clean stop, so the others need not wait for expiry."""
        try:
            await self._db(partial(rows.leave, me=self.me))
        except MaildError as exc:
            log.error("leases not released instance=%s error=%s; they expire", self.me, exc)
