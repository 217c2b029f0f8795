"""A recording SMTP peer (aiosmtpd) for tests of maild's outbound path.

It keeps every message it is given, byte for byte, and can be told to refuse the next
messages with a 4xx or 5xx reply, which is how retries and permanent failures are tested
against a real SMTP conversation instead of a mock.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import ssl
import threading
from collections import deque
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

__all__ = [
    "HoldingHandler",
    "ReceivedMessage",
    "RecordingHandler",
    "RecordingSMTPServer",
    "free_port",
    "recording_smtp_server",
    "threaded_smtp_server",
]

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
# Passed to aiosmtpd so it does not call socket.getfqdn(), which can wait on DNS.
SERVER_NAME = "localhost"
ACCEPT = "250 2.0.0 OK: queued"


@dataclass(frozen=True)
class ReceivedMessage:
    """One DATA transaction as the server saw it, including what it answered."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    reply: str

    @property
    def accepted(self) -> bool:
        return self.reply.startswith("2")


class RecordingHandler:
    """aiosmtpd handler that records each envelope and answers with queued failures first.

    Thread-safe, because with the threaded server the hook runs in aiosmtpd's thread while
    the test reads from its own.
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._received: list[ReceivedMessage] = []
        self._replies: deque[str] = deque()

    @property
    def received(self) -> list[ReceivedMessage]:
        """Every DATA transaction so far, refused ones included, in arrival order."""
        with self._lock:
            return list(self._received)

    @property
    def accepted(self) -> list[ReceivedMessage]:
        return [message for message in self.received if message.accepted]

    def fail_next(self, count: int, reply: str = "451 4.3.0 Try again later") -> None:
        """Answer the next ``count`` messages with ``reply`` (e.g. 451 or 550) instead of 250."""
        if not re.fullmatch(r"[45]\d\d( .*)?", reply):
            raise ValueError(f"a failure reply needs a 4xx or 5xx code, not {reply!r}")
        with self._lock:
            self._replies.extend([reply] * count)

    def wait_for(self, count: int, timeout: float) -> list[ReceivedMessage]:
        """Block until ``count`` messages arrived; for the threaded server only.

        maild running as a subprocess sends when it likes, so a test waits for the
        message itself rather than for a guessed delay.
        """
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._received) >= count, timeout):
                raise TimeoutError(f"{len(self._received)} of {count} messages after {timeout}s")
            return list(self._received)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """aiosmtpd's hook, called once per message after the final dot."""
        content = envelope.original_content or b""
        with self._lock:
            reply = self._replies.popleft() if self._replies else ACCEPT
            self._received.append(
                ReceivedMessage(
                    mail_from=envelope.mail_from or "",
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    content=content,
                    reply=reply,
                )
            )
            self._lock.notify_all()
        log.debug("SMTP DATA from %s, %d bytes -> %s", session.peer, len(content), reply)
        return reply


class HoldingHandler(RecordingHandler):
    """Holds the first RCPT TO until released: maild is then mid-exchange, row `sending`."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if not self.holding.is_set():
            self.holding.set()
            await asyncio.to_thread(self.release.wait, 30)
        envelope.rcpt_tos.append(address)
        return "250 OK"


@dataclass(frozen=True)
class RecordingSMTPServer:
    """Where a running recording server listens, and its handler."""

    host: str
    port: int
    handler: RecordingHandler


@asynccontextmanager
async def recording_smtp_server(
    handler: RecordingHandler | None = None,
    *,
    implicit_tls: ssl.SSLContext | None = None,
    **session_options: Any,
) -> AsyncIterator[RecordingSMTPServer]:
    """Serve SMTP in the running event loop on a free loopback port.

    In-loop (as aiosmtplib's own tests do) so an in-process client and the server share
    one loop and a test needs no threads or waits. ``implicit_tls`` makes it speak TLS
    from the first byte (port 465 style); ``session_options`` go to each aiosmtpd
    session (STARTTLS, AUTH).
    """
    loop = asyncio.get_running_loop()
    handler = handler or RecordingHandler()
    sessions: list[SMTP] = []

    def new_session() -> SMTP:
        # An explicit loop and hostname: otherwise aiosmtpd looks both up itself.
        session = SMTP(handler, hostname=SERVER_NAME, loop=loop, **session_options)
        sessions.append(session)
        return session

    server = await loop.create_server(new_session, HOST, 0, ssl=implicit_tls)
    try:
        port: int = server.sockets[0].getsockname()[1]
        yield RecordingSMTPServer(HOST, port, handler)
    finally:
        server.close()
        if _close_transports(sessions):
            # Let the closes run now: a socket still open when the test's loop is closed
            # is a ResourceWarning, which filterwarnings=error turns into a failure.
            await asyncio.sleep(0)
        await server.wait_closed()


class _LoopBoundController(Controller):
    """aiosmtpd's Controller, with two fixes for tests that treat warnings as errors.

    Each SMTP session gets the controller's loop explicitly: otherwise aiosmtpd finds it
    with ``asyncio.get_event_loop()`` inside ``warnings.catch_warnings()``, which swaps the
    process-wide warning filters from its thread while the test thread runs. And on stop,
    connections still open are closed: Controller.stop() only cancels tasks and closes the
    loop, leaving sockets for the garbage collector to warn about in some later test.
    """

    def __init__(self, handler: RecordingHandler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._sessions: list[SMTP] = []

    def factory(self) -> SMTP:
        session = SMTP(self.handler, loop=self.loop, **self.SMTP_kwargs)
        self._sessions.append(session)
        return session

    def cancel_tasks(self, stop_loop: bool = True) -> None:
        # Runs in the controller's loop; the loop runs once more after it, to close the
        # listening socket, and that also completes these closes.
        _close_transports(self._sessions)
        super().cancel_tasks(stop_loop)


@contextmanager
def threaded_smtp_server(
    handler: RecordingHandler | None = None, *, ready_timeout: float = 10.0
) -> Iterator[RecordingSMTPServer]:
    """Serve SMTP from a thread, for tests where maild runs as a separate process."""
    handler = handler or RecordingHandler()
    controller = _LoopBoundController(
        handler,
        hostname=HOST,
        port=free_port(),
        server_hostname=SERVER_NAME,
        ready_timeout=ready_timeout,
    )
    controller.start()
    try:
        yield RecordingSMTPServer(HOST, controller.port, handler)
    finally:
        controller.stop()


def _close_transports(sessions: list[SMTP]) -> bool:
    """Close the connections of sessions still open; True if there were any."""
    open_transports = [s.transport for s in sessions if s.transport is not None]
    for transport in open_transports:
        transport.close()
    return bool(open_transports)


def free_port() -> int:
    """A free loopback port; Controller needs a number before it binds."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port
