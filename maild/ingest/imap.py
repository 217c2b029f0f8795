"""The IMAP edge: one authenticated connection to one account, over aioimaplib.

Every command runs under an outer ``asyncio.timeout`` (aioimaplib can leave a
command waiting forever), and every library or socket failure leaves this
module as a TransientError (try again later) or a PermanentError (an operator
must act: credentials, certificate, missing folder). The server's mailbox is
only read: messages are fetched with ``BODY.PEEK[]``, so no ``\\Seen`` flag
is set and nothing is moved or deleted; the one addition is the copy of a reply
maild sent, APPENDed to the Sent folder.
"""

__all__ = ["ImapClient", "ImapEndpoint", "SelectedFolder", "uid_set"]

import asyncio
import logging
import re
import ssl
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NoReturn, TypeVar

from aioimaplib import aioimaplib

from maild.config.secret import Secret
from maild.errors import PermanentError, TransientError
from maild.ingest.fetch_response import FetchedMessage, parse_fetch_lines
from maild.ingest.imap_auth import authenticate_xoauth2
from maild.ingest.imap_protocol import LinearFetchCommand, LinearIMAP4
from maild.ingest.mailbox_name import ListedFolder, parse_list_line, quote_mailbox
from maild.oauth import TokenProvider

log = logging.getLogger(__name__)

T = TypeVar("T")

_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d+)\]")
_UIDNEXT = re.compile(rb"\[UIDNEXT (\d+)\]")
_EXISTS = re.compile(rb"^(\d+) EXISTS")
_FETCH_ITEMS = "(UID FLAGS INTERNALDATE BODY.PEEK[])"
# What a server pushes during IDLE when mail arrives; flag changes and expunges do not
# bring anything to land.
_NEW_MAIL = re.compile(rb"^\d+ (?:EXISTS|RECENT)")
# Codes after which retrying cannot help (RFC 5530).
_PERMANENT_CODES = (b"[AUTHENTICATIONFAILED]", b"[AUTHORIZATIONFAILED]", b"[NONEXISTENT]")


@dataclass(frozen=True, slots=True)
class ImapEndpoint:
    """Where and as whom to log in: with a password, or with ``tokens`` (XOAUTH2)."""

    host: str
    port: int
    security: Literal["tls", "starttls", "none"]
    tls_verify: bool
    username: str
    password: Secret | None
    timeout_s: float = 60.0
    tokens: TokenProvider | None = None

    def __post_init__(self) -> None:
        if (self.password is None) == (self.tokens is None):
            raise ValueError(f"{self.describe()}: give exactly one of a password and tokens")

    def describe(self) -> str:
        return f"imap://{self.username}@{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class SelectedFolder:
    name: str
    uidvalidity: int
    uidnext: int | None
    exists: int


def uid_set(uids: Sequence[int]) -> str:
    """Compress sorted UIDs into an IMAP sequence set (``1:3,7,9:10``) to keep commands short."""
    parts: list[str] = []
    start = prev = uids[0]
    for uid in uids[1:]:
        if uid == prev + 1:
            prev = uid
            continue
        parts.append(f"{start}:{prev}" if prev != start else str(start))
        start = prev = uid
    parts.append(f"{start}:{prev}" if prev != start else str(start))
    return ",".join(parts)


def _tls_context(verify: bool) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class ImapClient:
    """A connection to one account; use as ``async with ImapClient(endpoint) as imap``."""

    def __init__(self, endpoint: ImapEndpoint) -> None:
        self._endpoint = endpoint
        self._imap: LinearIMAP4 | None = None
        # Resolved when the connection drops: aioimaplib never fails the commands then
        # waiting, so every wait races this instead of sitting out its timeout.
        self._lost: asyncio.Future[None] | None = None

    async def __aenter__(self) -> "ImapClient":
        try:
            await self.connect()
        except BaseException:
            await self.logout()
            raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.logout()

    async def connect(self) -> None:
        ep = self._endpoint
        context = _tls_context(ep.tls_verify) if ep.security != "none" else None
        loop = asyncio.get_running_loop()
        imap = LinearIMAP4(
            host=ep.host,
            port=ep.port,
            loop=loop,
            timeout=ep.timeout_s,
            ssl_context=context if ep.security == "tls" else None,
        )
        # Set on the protocol: IMAP4_SSL's constructor does not take the callback.
        imap.protocol.conn_lost_cb = self._connection_lost
        self._lost = loop.create_future()
        self._imap = imap
        await self._run("connect", imap.wait_hello_from_server())
        if ep.security == "starttls":
            await self._starttls(imap, _tls_context(ep.tls_verify))
        if ep.tokens is not None:
            await self._login_xoauth2(imap, ep.tokens)
        elif ep.password is not None:
            response = await self._run("login", imap.login(ep.username, ep.password.reveal()))
            if response.result != "OK":
                self._fail("login", response, default_permanent=True)
        log.info("imap connected account=%s security=%s", ep.describe(), ep.security)

    async def select(self, folder: str) -> SelectedFolder:
        imap = self._require()
        response = await self._run(f"select {folder}", imap.select(quote_mailbox(folder)))
        if response.result != "OK":
            self._fail(f"select {folder!r}", response, default_permanent=True)
        uidvalidity = uidnext = exists = None
        for line in response.lines:
            if not isinstance(line, bytes):
                continue
            if m := _UIDVALIDITY.search(line):
                uidvalidity = int(m.group(1))
            if m := _UIDNEXT.search(line):
                uidnext = int(m.group(1))
            if m := _EXISTS.match(line):
                exists = int(m.group(1))
        if uidvalidity is None:
            raise PermanentError(f"{self._endpoint.describe()}: {folder!r} has no UIDVALIDITY")
        return SelectedFolder(folder, uidvalidity, uidnext, exists or 0)

    async def uids_from(self, first_uid: int) -> list[int]:
        """UIDs at or above ``first_uid``; ``N:*`` also names the last UID, so filter it."""
        uids = await self._uid_search(f"UID {first_uid}:*")
        return [uid for uid in uids if uid >= first_uid]

    async def _uid_search(self, criteria: str) -> list[int]:
        imap = self._require()
        response = await self._run("uid search", imap.uid_search(criteria, charset=None))
        if response.result != "OK":
            self._fail("uid search", response, default_permanent=False)
        uids: set[int] = set()
        # aioimaplib strips the "SEARCH" keyword; the tagged completion text is the last line.
        for line in response.lines[:-1]:
            tokens = line.split() if isinstance(line, bytes) else []
            if tokens and tokens[0] == b"SEARCH":
                tokens = tokens[1:]
            uids.update(int(tok) for tok in tokens if tok.isdigit())
        return sorted(uids)

    async def holds_message_id(self, folder: str, message_id: str) -> bool:
        """Whether ``folder`` has a message with this Message-ID (the outbox's Sent check)."""
        await self.select(folder)
        quoted = message_id.replace("\\", "\\\\").replace('"', '\\"')
        return bool(await self._uid_search(f'HEADER Message-ID "{quoted}"'))

    async def append(self, folder: str, message: bytes) -> None:
        """Add ``message`` to ``folder``, marked read: a copy of a reply maild sent.

        The one write maild makes besides \\Seen, and only to the Sent folder.
        """
        imap = self._require()
        response = await self._run(
            f"append {folder}",
            imap.append(message, mailbox=quote_mailbox(folder), flags="(\\Seen)"),
        )
        if response.result != "OK":
            self._fail(f"append to {folder!r}", response, default_permanent=False)

    async def fetch(self, uids: Sequence[int]) -> list[FetchedMessage]:
        imap = self._require()
        command = LinearFetchCommand(
            imap.protocol.new_tag(),
            uid_set(uids),
            _FETCH_ITEMS,
            prefix="UID",
            loop=imap.protocol.loop,
        )
        response = await self._run("uid fetch", imap.protocol.execute(command))
        if response.result != "OK":
            self._fail("uid fetch", response, default_permanent=False)
        return parse_fetch_lines(response.lines)

    def describe(self) -> str:
        return self._endpoint.describe()

    @property
    def supports_idle(self) -> bool:
        return self._imap is not None and "IDLE" in self._imap.protocol.capabilities

    async def wait_for_mail(self, renew_after: float, stop: asyncio.Event) -> bool:
        """IDLE in the selected folder until new mail, ``stop``, or ``renew_after`` seconds.

        True when the server announced new mail. IDLE is ended cleanly (DONE, then
        the server's OK) in every case, so the connection can go on or log out. A
        dropped connection ends the wait at once with a TransientError.
        """
        imap = self._require()
        queue = imap.protocol.idle_queue
        while not queue.empty():
            queue.get_nowait()  # pushes left over from an earlier IDLE
        idle = await self._run(
            "idle", imap.idle_start(timeout=renew_after + self._endpoint.timeout_s)
        )
        new_mail = False
        halted = asyncio.ensure_future(stop.wait())
        try:
            async with asyncio.timeout(renew_after):
                while not new_mail and not stop.is_set():
                    pushed = asyncio.ensure_future(
                        self._unless_lost("idle", imap.wait_server_push(timeout=None))
                    )
                    try:
                        done, _ = await asyncio.wait(
                            {pushed, halted}, return_when=asyncio.FIRST_COMPLETED
                        )
                    finally:
                        if not pushed.done():
                            pushed.cancel()
                    if pushed not in done:
                        break
                    # A dropped connection raises TransientError here.
                    new_mail = any(
                        _NEW_MAIL.match(line) for line in pushed.result() if isinstance(line, bytes)
                    )
        except TimeoutError:
            pass
        finally:
            halted.cancel()
        if imap.has_pending_idle():
            imap.idle_done()
        response = await self._run("idle done", idle)
        if response.result != "OK":
            self._fail("idle", response, default_permanent=False)
        return new_mail

    async def folder_with(self, attribute: str) -> str | None:
        """The folder the server marks with a special-use ``attribute`` (RFC 6154), if any."""
        imap = self._require()
        response = await self._run("list", imap.list('""', "*"))
        if response.result != "OK":
            self._fail("list", response, default_permanent=False)
        wanted = attribute.lower()
        for line in response.lines:
            text = line.decode("utf-8", "replace") if isinstance(line, bytes) else ""
            listed: ListedFolder | None = parse_list_line(text)
            if listed is not None and wanted in listed.attributes:
                return listed.name
        return None

    def _connection_lost(self, exc: Exception | None) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)

    async def _unless_lost(self, what: str, operation: Awaitable[T]) -> T:
        task = asyncio.ensure_future(operation)
        if self._lost is None:
            return await task
        waiters: set[asyncio.Future[Any]] = {task, self._lost}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not task.done():
                task.cancel()
        if task.cancelled():
            raise TransientError(f"{self.describe()}: {what} failed: connection lost")
        return task.result()

    async def mark_seen(self, uids: Sequence[int]) -> None:
        """Set \\Seen on ``uids`` of the selected folder: the one change maild may make."""
        if not uids:
            return
        imap = self._require()
        response = await self._run(
            "uid store", imap.uid("store", uid_set(sorted(uids)), "+FLAGS.SILENT (\\Seen)")
        )
        if response.result != "OK":
            self._fail("uid store", response, default_permanent=False)

    async def logout(self) -> None:
        imap, self._imap = self._imap, None
        if imap is None:
            return
        try:
            async with asyncio.timeout(5):
                await imap.logout()
        except (TimeoutError, OSError, aioimaplib.AioImapException) as exc:
            log.debug("imap logout failed account=%s error=%s", self._endpoint.describe(), exc)
        finally:
            transport = imap.protocol.transport
            if transport is not None:
                transport.close()

    async def _login_xoauth2(self, imap: LinearIMAP4, tokens: TokenProvider) -> None:
        """Log in with an access token; if it is refused, once more with a newer one.

        A token can die before its announced expiry (revoked, or a clock ahead of
        ours), so one refusal asks the provider for a fresh token; a second refusal,
        or a source that has nothing newer, is for an operator to look at.
        """
        where = self._endpoint.describe()
        if "AUTH=XOAUTH2" not in imap.protocol.capabilities:
            raise PermanentError(f"{where}: the server does not offer AUTH=XOAUTH2")
        token = await tokens.token()
        response = await self._run(
            "xoauth2 login", authenticate_xoauth2(imap.protocol, self._endpoint.username, token)
        )
        if response.result == "OK":
            return
        renewed = await tokens.token(rejected=token)
        if renewed == token:
            self._fail(
                "xoauth2 login (no newer token to retry with)", response, default_permanent=True
            )
        log.info("imap xoauth2 token refused; retrying with a newer one account=%s", where)
        response = await self._run(
            "xoauth2 login", authenticate_xoauth2(imap.protocol, self._endpoint.username, renewed)
        )
        if response.result != "OK":
            self._fail("xoauth2 login with a renewed token", response, default_permanent=True)

    async def _starttls(self, imap: LinearIMAP4, context: ssl.SSLContext) -> None:
        protocol = imap.protocol
        if "STARTTLS" not in protocol.capabilities:
            raise PermanentError(f"{self._endpoint.describe()}: server does not offer STARTTLS")
        command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
        response = await self._run("starttls", protocol.execute(command))
        if response.result != "OK":
            self._fail("starttls", response, default_permanent=True)
        upgraded = await self._run(
            "starttls handshake",
            protocol.loop.start_tls(
                protocol.transport, protocol, context, server_hostname=self._endpoint.host
            ),
        )
        protocol.transport = upgraded
        await self._run("capability", protocol.capability())

    def _require(self) -> LinearIMAP4:
        if self._imap is None:
            raise TransientError(f"{self._endpoint.describe()}: not connected")
        return self._imap

    async def _run(self, what: str, operation: Awaitable[T]) -> T:
        where = self._endpoint.describe()
        try:
            async with asyncio.timeout(self._endpoint.timeout_s):
                return await self._unless_lost(what, operation)
        except TimeoutError as exc:
            raise TransientError(
                f"{where}: {what} timed out after {self._endpoint.timeout_s}s"
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            raise PermanentError(
                f"{where}: TLS certificate not trusted: {exc.verify_message}"
            ) from exc
        except (OSError, aioimaplib.AioImapException, EOFError) as exc:
            raise TransientError(
                f"{where}: {what} failed: {exc or exc.__class__.__name__}"
            ) from exc

    def _fail(self, what: str, response: Any, *, default_permanent: bool) -> NoReturn:
        text = b" ".join(line for line in response.lines if isinstance(line, bytes))
        permanent = default_permanent or any(code in text for code in _PERMANENT_CODES)
        if b"[UNAVAILABLE]" in text or b"[INUSE]" in text:
            permanent = False
        detail = text.decode("utf-8", "replace")
        message = f"{self._endpoint.describe()}: {what} refused: {response.result} {detail}"
        raise (PermanentError if permanent else TransientError)(message)
