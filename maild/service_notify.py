"""systemd's service notifications (sd_notify(3)), written to ``$NOTIFY_SOCKET`` directly.

The protocol is one datagram of ``KEY=VALUE`` lines on a Unix socket, so it needs no C
library. Under ``Type=notify`` systemd waits for READY=1 before it calls the service
started, sees RELOADING=1 ... READY=1 around a reload, STOPPING=1 at shutdown, and with
``WatchdogSec=`` restarts maild when WATCHDOG=1 stops arriving. The watchdog pings come
from a task on maild's own event loop, so a wedged loop goes silent and gets restarted.
Without ``$NOTIFY_SOCKET`` (not under systemd) every notification is a no-op, and a
failure to send is logged, never raised: notifying must not stop mail.
"""

__all__ = ["ServiceNotifier", "watchdog_interval_s"]

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Callable, Mapping

from maild.tasks import sleep_unless

log = logging.getLogger(__name__)


def watchdog_interval_s(environ: Mapping[str, str], pid: int) -> float | None:
    """Half the watchdog period systemd set for this process, or None when there is none.

    systemd sets WATCHDOG_PID to the main process; a child that inherited the variables
    (a parse worker) must not ping on the main process's behalf. Half the period, as
    sd_watchdog_enabled(3) advises, leaves room for a ping that runs late.
    """
    owner = environ.get("WATCHDOG_PID")
    if owner and owner != str(pid):
        return None
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    return usec / 2_000_000 if usec > 0 else None


def _address(value: str) -> str | None:
    """A socket path, or an abstract-namespace name given with a leading '@'."""
    if value.startswith("@"):
        return "\0" + value[1:]
    return value if value.startswith("/") else None


class ServiceNotifier:
    """Sends maild's life-cycle states to the service manager that started it."""

    def __init__(
        self,
        socket_path: str | None,
        watchdog_s: float | None = None,
        *,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self._address = _address(socket_path) if socket_path else None
        self.watchdog_s = watchdog_s
        self._monotonic_ns = monotonic_ns
        self._stopping = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "ServiceNotifier":
        return cls(environ.get("NOTIFY_SOCKET"), watchdog_interval_s(environ, os.getpid()))

    def ready(self) -> None:
        # A reload cancelled by the shutdown must not announce the service ready again.
        if not self._stopping:
            self._send("READY=1\nSTATUS=running")

    @contextlib.asynccontextmanager
    async def reloading(self) -> AsyncIterator[None]:
        """RELOADING=1 for the time of a reload, then READY=1 whether it applied or not."""
        # systemd 253+ wants the time of the reload request, to tell it from an older one.
        usec = self._monotonic_ns() // 1000
        self._send(f"RELOADING=1\nMONOTONIC_USEC={usec}\nSTATUS=reloading the configuration")
        try:
            yield
        finally:
            self.ready()

    def stopping(self) -> None:
        self._stopping = True
        self._send("STOPPING=1\nSTATUS=stopping")

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")

    async def watchdog_forever(self, stop: asyncio.Event) -> None:
        """Ping at half the watchdog period until ``stop``; nothing to do without one."""
        if self.watchdog_s is None or self._address is None:
            return
        while not stop.is_set():
            self.watchdog()
            await sleep_unless(stop, self.watchdog_s)

    def _send(self, state: str) -> None:
        if self._address is None:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK) as sock:
                sock.sendto(state.encode(), self._address)
        except OSError as exc:
            kind = state.split("=", 1)[0]
            log.error("service notification not sent state=%s error=%s", kind, exc)
