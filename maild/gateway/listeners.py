"""Every mailbox's submission listener, started, reloaded and stopped with the daemon.

A listener that cannot bind (the port is taken, a certificate went missing) is
logged and named by :meth:`Gateways.problems`, which readiness reports; the other
mailboxes and the rest of maild go on. A reload starts, stops or rebinds listeners
whose address or TLS mode changed, and hands everything else (agents, senders,
limits, a renewed certificate) to the running ones.
"""

from __future__ import annotations

__all__ = ["Gateways"]

import asyncio
import logging
import ssl
from collections.abc import Callable
from datetime import datetime

from maild.config.settings import Settings
from maild.gateway.metrics import GatewayMetrics
from maild.gateway.server import Listener
from maild.store import Store

log = logging.getLogger(__name__)


def _binding(settings: Settings, name: str) -> tuple[str, str] | None:
    gateway = settings.mailboxes[name].gateway if name in settings.mailboxes else None
    return None if gateway is None else (gateway.listen, gateway.tls)


class Gateways:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clock: Callable[[], datetime],
        metrics: GatewayMetrics,
        *,
        on_queued: Callable[[], None],
        on_refused: Callable[[], None] | None = None,
        grace_s: float,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._on_queued = on_queued
        self._on_refused = on_refused
        self._grace_s = grace_s
        self._listeners: dict[str, Listener] = {}
        self._broken: dict[str, str] = {}
        self._problems: tuple[str, ...] = ()

    @property
    def listeners(self) -> dict[str, Listener]:
        return dict(self._listeners)

    def problems(self) -> list[str]:
        """Why a configured listener is not listening, one line each (for /readyz).

        Called from the HTTP thread: it reads a tuple the loop replaces whole.
        """
        return list(self._problems)

    def _noted(self) -> None:
        self._problems = tuple(f"gateway {n}: {why}" for n, why in sorted(self._broken.items()))

    async def start(self) -> None:
        await self._start_all(self._wanted(self._settings))

    async def stop(self) -> None:
        await asyncio.gather(*(self._stop(name) for name in list(self._listeners)))

    async def configure(self, new: Settings) -> None:
        old = self._settings
        self._settings = new
        wanted = self._wanted(new)
        moved = {n for n in wanted if _binding(old, n) != _binding(new, n)}
        gone = (self._listeners.keys() | self._broken.keys()) - wanted.keys()
        await asyncio.gather(*(self._stop(n) for n in (gone | moved) if n in self._listeners))
        for name in gone | moved:
            self._broken.pop(name, None)
        self._noted()
        for name in gone:
            self._metrics.removed(name)
        for name, listener in self._listeners.items():
            try:
                listener.configure(new)
            except (OSError, ssl.SSLError) as exc:
                log.error("gateway reload kept the old certificate mailbox=%s error=%s", name, exc)
        await self._start_all({n: new for n in wanted if n not in self._listeners})

    def _wanted(self, settings: Settings) -> dict[str, Settings]:
        return {n: settings for n, m in settings.mailboxes.items() if m.gateway is not None}

    async def _start_all(self, wanted: dict[str, Settings]) -> None:
        for name, settings in wanted.items():
            self._metrics.configured(name)
            try:
                listener = Listener(
                    name,
                    settings,
                    self._store,
                    self._clock,
                    self._metrics,
                    on_queued=self._on_queued,
                    on_refused=self._on_refused,
                )
                await listener.start()
            except (OSError, ssl.SSLError) as exc:
                self._broken[name] = f"not listening: {exc}"
                log.error("gateway cannot listen mailbox=%s error=%s", name, exc)
            else:
                self._broken.pop(name, None)
                self._listeners[name] = listener
            self._noted()

    async def _stop(self, name: str) -> None:
        await self._listeners.pop(name).stop(self._grace_s)
