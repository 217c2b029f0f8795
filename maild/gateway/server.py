"""One mailbox's submission listener: aiosmtpd sessions, logins, limits, drain on stop.

STARTTLS mode takes no command but EHLO, STARTTLS, NOOP and QUIT before the upgrade,
so AUTH (PLAIN or LOGIN, the two every client offers) only ever travels encrypted;
implicit TLS is encrypted from the first byte. Mail needs a login; the agent may
send only as the mailbox's address or its own ``senders``; its messages per hour and
a peer's failed logins are limited. A stop takes no new connection, lets a DATA
being checked finish (its 250 or 550 is sent), then answers 421 to every other
session, so no message is ever half-accepted.

On PostgreSQL, where several maild instances share the mailboxes (maild.leases),
every instance runs every gateway, and one that queues a message for a mailbox
another instance owns is fine: the outbox is shared. Instances on one host share the
port (SO_REUSEPORT, the kernel spreads the connections); on SQLite there is one
maild, and a second process on the port is an error to show, not to share with.
"""

from __future__ import annotations

__all__ = ["Listener"]

import asyncio
import hmac
import logging
import socket
import ssl
import time
import weakref
from collections.abc import Callable
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

from maild.config.gateway import AgentSettings, GatewaySettings
from maild.config.gateway_check import tls_context
from maild.config.settings import Settings, split_listen
from maild.errors import MaildError
from maild.gateway.limits import Window
from maild.gateway.metrics import GatewayMetrics
from maild.gateway.replies import sender_allowed, sender_refusal
from maild.gateway.submission import Accepted, Submission, submit
from maild.store import Store

log = logging.getLogger(__name__)

SHUTTING_DOWN = "421 4.3.2 maild is shutting down; send again in a minute"
#: Recipients of one message: RFC 5321 4.5.3.1.8's minimum. More get 452, and a client
#: sends them in another transaction; without a cap, one message to thousands of
#: addresses would pass the hourly limit, which counts messages.
MAX_RECIPIENTS = 100
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients; send the rest in another message"
_HOUR_S = 3600.0


class Listener:
    """The submission server of mailbox ``name``; :meth:`configure` applies a reload."""

    def __init__(
        self,
        name: str,
        settings: Settings,
        store: Store,
        clock: Callable[[], datetime],
        metrics: GatewayMetrics,
        *,
        on_queued: Callable[[], None],
        on_refused: Callable[[], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._store = store
        self._clock = clock
        self._metrics = metrics
        self._on_queued = on_queued
        self._on_refused = on_refused
        self._monotonic = monotonic
        self._server: asyncio.Server | None = None
        self._sessions: weakref.WeakSet[SMTP] = weakref.WeakSet()
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self._sent: dict[str, Window] = {}
        self._failures = Window(0, 0.0)
        self._tls: ssl.SSLContext | None = None
        self.configure(settings)

    @property
    def gateway(self) -> GatewaySettings:
        gateway = self._settings.mailboxes[self.name].gateway
        assert gateway is not None  # noqa: S101 - Gateways only makes listeners for these
        return gateway

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens (the bound port, if the config asked for 0)."""
        if self._server is None or not self._server.sockets:
            return split_listen(self.gateway.listen)
        host, port = self._server.sockets[0].getsockname()[:2]
        return str(host), int(port)

    @property
    def checking(self) -> int:
        """Messages being checked and queued now (their client waits for the answer)."""
        return self._busy

    def configure(self, settings: Settings) -> None:
        """New agents, senders and limits apply to the next command; the certificate too."""
        self._settings = settings
        gateway = self.gateway
        if (self._failures.limit, self._failures.span_s) != (
            gateway.max_auth_failures,
            gateway.auth_window_s,
        ):
            self._failures = Window(gateway.max_auth_failures, gateway.auth_window_s)
        base = settings.source.parent if settings.source else Path.cwd()
        checked = tls_context(gateway, base)  # raises, leaving the running one as it was
        if self._tls is None:
            self._tls = checked
        else:  # in place: a running implicit-TLS server keeps this context object
            self._tls.load_cert_chain(base / gateway.cert_file, base / gateway.key_file)

    async def start(self) -> None:
        gateway = self.gateway
        host, port = split_listen(gateway.listen)
        implicit = self._tls if gateway.tls == "implicit" else None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._session, host, port, ssl=implicit, reuse_port=self._store.leased
        )
        log.info(
            "gateway listening mailbox=%s address=%s:%d tls=%s",
            self.name,
            *self.address,
            gateway.tls,
        )

    async def stop(self, grace_s: float) -> None:
        """Take nothing new, let a DATA being checked finish, then 421 the rest."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        try:
            async with asyncio.timeout(grace_s):
                await self._idle.wait()
        except TimeoutError:
            log.warning("gateway stop: a message was still being checked mailbox=%s", self.name)
        for session in list(self._sessions):
            transport = session.transport
            if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
                transport.write(SHUTTING_DOWN.encode() + b"\r\n")
                transport.close()
        if self._server is not None:
            await self._server.wait_closed()
        log.info("gateway stopped mailbox=%s", self.name)

    def _session(self) -> SMTP:
        gateway = self.gateway
        starttls = gateway.tls == "starttls"
        session = SMTP(
            _Handler(self),
            hostname=socket.gethostname(),
            loop=asyncio.get_running_loop(),
            data_size_limit=gateway.max_message_bytes,
            enable_SMTPUTF8=True,
            tls_context=self._tls if starttls else None,
            require_starttls=starttls,
            # aiosmtpd cannot see that an implicit-TLS connection is encrypted, and warns
            # when a login is required without TLS; there, MAIL FROM asks for the login.
            auth_required=starttls,
            auth_require_tls=starttls,
            authenticator=self._authenticate,
        )
        self._sessions.add(session)
        self._metrics.connection(self.name)
        return session

    def _agent(self, session: Session) -> tuple[str, AgentSettings] | None:
        """The agent logged in on ``session`` (the login name and its current settings)."""
        login = session.auth_data
        if not isinstance(login, str):
            return None
        agent = self.gateway.agents.get(login)
        return None if agent is None else (login, agent)

    def senders(self, agent: AgentSettings) -> tuple[str, ...]:
        return (self._settings.mailboxes[self.name].address, *agent.senders)

    def throttled(self, session: Session) -> str | None:
        """The 454 reply for a peer with too many failed logins, or None."""
        peer = _peer(session)
        wait = self._failures.retry_after(peer, self._monotonic())
        if not wait:
            return None
        self._metrics.auth_failed(self.name)
        log.warning("gateway login throttled mailbox=%s peer=%s", self.name, peer)
        return f"454 4.7.0 Too many failed logins from your address; try again in {wait:.0f} s"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if isinstance(data, LoginPassword):
            login = data.login.decode("utf-8", "replace")
            agent = self.gateway.agents.get(login)
            password = agent.password if agent is not None else None
            given = data.password
            if password is not None and hmac.compare_digest(given, password.reveal().encode()):
                log.info("gateway login mailbox=%s agent=%s", self.name, login)
                return AuthResult(success=True, auth_data=login)
        peer = _peer(session)
        self._failures.add(peer, self._monotonic())
        self._metrics.auth_failed(self.name)
        log.warning(
            "gateway login failed mailbox=%s peer=%s mechanism=%s", self.name, peer, mechanism
        )
        return AuthResult(success=False, handled=False)

    def mail_from(self, session: Session, address: str) -> str | None:
        """The refusal of MAIL FROM ``address``, or None to take it."""
        if self._stopping:
            return SHUTTING_DOWN
        found = self._agent(session)
        if found is None:  # not logged in (implicit TLS), or removed by a reload since
            return "530 5.7.0 Authentication required"
        login, agent = found
        allowed = self.senders(agent)
        if not sender_allowed(address, allowed):
            self._metrics.refused(self.name, ("sender",))
            log.info("gateway refused sender mailbox=%s agent=%s", self.name, login)
            return sender_refusal(address, allowed)
        window = self._window(login, agent)
        wait = window.retry_after(login, self._monotonic())
        if wait:
            self._metrics.refused(self.name, ("rate-limit",))
            log.warning("gateway rate limit mailbox=%s agent=%s", self.name, login)
            return (
                f"450 4.7.1 You have sent {agent.max_per_hour} messages in the last hour;"
                f" try again in {wait:.0f} s"
            )
        return None

    def _window(self, login: str, agent: AgentSettings) -> Window:
        window = self._sent.get(login)
        if window is None or window.limit != agent.max_per_hour:
            window = self._sent[login] = Window(agent.max_per_hour, _HOUR_S)
        return window

    async def data(self, session: Session, envelope: Envelope) -> str:
        """Check and queue one message; the reply to its final dot."""
        found = self._agent(session)
        if self._stopping:
            return SHUTTING_DOWN
        if found is None:
            return "530 5.7.0 Authentication required"
        login, agent = found
        submission = Submission(
            mailbox=self.name,
            agent=login,
            mail_from=envelope.mail_from or "",
            recipients=tuple(envelope.rcpt_tos),
            raw=envelope.original_content or b"",
            senders=self.senders(agent),
        )
        self._busy += 1
        self._idle.clear()
        try:
            outcome = await asyncio.to_thread(
                partial(submit, self._settings, self._store, submission, self._clock())
            )
        except MaildError as exc:  # the database, most likely: the client may try again
            log.error("gateway could not queue mailbox=%s agent=%s error=%s", self.name, login, exc)
            return "451 4.3.0 maild could not store the message; try again later"
        finally:
            self._busy -= 1
            if not self._busy:
                self._idle.set()
        if not isinstance(outcome, Accepted):
            self._metrics.refused(self.name, outcome.rules)
            if self._on_refused is not None:
                self._on_refused()
            return outcome.reply
        if not outcome.again:
            self._window(login, agent).add(login, self._monotonic())
            self._metrics.accepted(self.name)
            self._on_queued()
        log.info(
            "gateway queued mailbox=%s agent=%s outbox_id=%d again=%s",
            self.name,
            login,
            outcome.outbox_id,
            outcome.again,
        )
        return f"250 2.0.0 Queued as {outcome.message_id}"


class _Handler:
    """aiosmtpd's hooks, each handing over to the listener."""

    def __init__(self, listener: Listener) -> None:
        self._listener = listener

    async def handle_AUTH(
        self, server: SMTP, session: Session, envelope: Envelope, args: list[str]
    ) -> Any:
        return self._listener.throttled(session) or MISSING

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        refusal = self._listener.mail_from(session, address)
        if refusal is not None:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return TOO_MANY_RECIPIENTS
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return await self._listener.data(session, envelope)


def _peer(session: Session) -> str:
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)
