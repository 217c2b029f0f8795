"""An SMTP submission peer that wants a login, as Gmail's and Microsoft 365's do.

It is the recording server of :mod:`tests.support.smtp` with a login: PLAIN and LOGIN
with one test password, and XOAUTH2 checked by asking the local authorization server's
introspection endpoint (:mod:`tests.support.oauth_server`) whether the bearer token is
live for that user, so a test sees the whole path of a Gmail send: a refresh, AUTH
XOAUTH2, the server asking about the token, and the error challenge when it is
refused. It speaks plain SMTP, STARTTLS or implicit TLS with a throwaway trustme
certificate, and can refuse chosen recipients or the QUIT.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import ssl
import urllib.request
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import trustme
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, LoginPassword, Session

from maild.config import Secret
from maild.config.settings import Security
from maild.oauth import TokenProvider
from maild.outbound.smtp import SmtpEndpoint
from tests.support.smtp import HOST, RecordingHandler, RecordingSMTPServer, recording_smtp_server

__all__ = [
    "MECHANISMS",
    "PASSWORD",
    "REPLY",
    "USERNAME",
    "SubmissionHandler",
    "ThrowawayTls",
    "sender_endpoint",
    "submission_server",
    "throwaway_tls",
    "xoauth2_response",
]

USERNAME = "support@shop.example"
PASSWORD = "smtp-test-password"  # a test value, not a credential
MECHANISMS = ("PLAIN", "LOGIN", "XOAUTH2")
# A reply as the outbox stores it: CRLF lines, an 8-bit UTF-8 body, and a line that
# starts with a dot, which SMTP must stuff on the wire and the server unstuff.
REPLY = (
    "From: Shop Support <support@shop.example>\r\n"
    "To: buyer@buyers.example\r\n"
    "Subject: Re: Where is my order 112-1234567-1234567?\r\n"
    "Message-ID: <reply-1@shop.example>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
    "Content-Transfer-Encoding: 8bit\r\n"
    "\r\n"
    "您好，您的订单 112-1234567-1234567 已发货。\r\n"
    ".A line that starts with a dot.\r\n"
).encode()
# The error challenge for a refused token, in the shape Google documents (base64 on the wire).
_REFUSAL = {"status": "401", "schemes": "bearer", "scope": "https://mail.google.com/"}


def xoauth2_response(username: str, token: str) -> str:
    """The base64 client response of XOAUTH2 (Google's format), to look for it in logs."""
    sasl = f"user={username}\x01auth=Bearer {token}\x01\x01"
    return base64.b64encode(sasl.encode()).decode()


@dataclass(frozen=True)
class ThrowawayTls:
    """A CA that a client can be told to trust, and a server context with its certificate."""

    ca_pem: Path
    server_context: ssl.SSLContext


def throwaway_tls(directory: Path) -> ThrowawayTls:
    ca = trustme.CA()
    ca_pem = directory / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", HOST).configure_cert(context)
    return ThrowawayTls(ca_pem, context)


class SubmissionHandler(RecordingHandler):
    """A recording handler that checks logins and can refuse chosen recipients or the QUIT.

    aiosmtpd offers each ``auth_<MECHANISM>`` method of a handler as a mechanism, next to
    its own PLAIN and LOGIN, which call :meth:`authenticate`.
    """

    def __init__(self, introspection_url: str | None = None) -> None:
        super().__init__()
        self._introspection_url = introspection_url
        self._logins: list[str] = []
        self._refusals: dict[str, str] = {}
        self._quit_reply: str | None = None

    @property
    def logins(self) -> list[str]:
        """The mechanism of every login the server accepted, in order."""
        with self._lock:
            return list(self._logins)

    def refuse_recipient(self, address: str, reply: str) -> None:
        """Answer RCPT TO for ``address`` with ``reply`` (e.g. 550 or 450) from now on."""
        with self._lock:
            self._refusals[address] = reply

    def refuse_quit(self, reply: str) -> None:
        """Answer QUIT with ``reply`` instead of 221, after taking the message."""
        with self._lock:
            self._quit_reply = reply

    async def handle_QUIT(self, server: SMTP, session: Session, envelope: Envelope) -> Any:
        """aiosmtpd's hook; MISSING lets it answer 221 as usual."""
        with self._lock:
            return MISSING if self._quit_reply is None else self._quit_reply

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        """aiosmtpd's hook; with it present, adding the recipient is the hook's job."""
        with self._lock:
            refusal = self._refusals.get(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """aiosmtpd's authenticator, which its built-in PLAIN and LOGIN call."""
        ok = isinstance(data, LoginPassword) and data == (USERNAME.encode(), PASSWORD.encode())
        if ok:
            self._logged_in(mechanism)
        return AuthResult(success=ok, handled=False)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        """XOAUTH2 as Gmail does it: an error challenge for a refused token, then 535."""
        if len(args) != 2:
            return AuthResult(success=False, handled=False, message="501 5.5.2 Initial response")
        user, token = _parse_xoauth2(args[1])
        if user is not None and await asyncio.to_thread(self._token_is_live, user, token):
            self._logged_in("XOAUTH2")
            return AuthResult(success=True)
        # The client must answer the challenge with an empty line; then comes the 535.
        answer = await server.challenge_auth(json.dumps(_REFUSAL))
        return AuthResult(success=False, handled=answer is MISSING)

    def _token_is_live(self, user: str, token: str) -> bool:
        """RFC 7662 introspection, as the test Dovecot does it for IMAP."""
        if self._introspection_url is None:
            return False
        request = urllib.request.Request(  # noqa: S310 - the local test endpoint
            self._introspection_url, data=urlencode({"token": token}).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            answer = json.load(response)
        return bool(answer.get("active")) and answer.get("username") == user

    def _logged_in(self, mechanism: str) -> None:
        with self._lock:
            self._logins.append(mechanism)


def _parse_xoauth2(response: str) -> tuple[str | None, str]:
    try:
        text = base64.b64decode(response, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, ""
    fields = dict(part.split("=", 1) for part in text.split("\x01") if "=" in part)
    return fields.get("user"), fields.get("auth", "").removeprefix("Bearer ")


def sender_endpoint(
    server: RecordingSMTPServer,
    security: Security = "none",
    *,
    tls_verify: bool = True,
    password: str | None = None,
    tokens: TokenProvider | None = None,
) -> SmtpEndpoint:
    """maild's endpoint for ``server``: logged in as USERNAME if given a password or tokens."""
    login = password is not None or tokens is not None
    return SmtpEndpoint(
        server.host,
        server.port,
        security,
        tls_verify,
        username=USERNAME if login else None,
        password=Secret(password) if password is not None else None,
        tokens=tokens,
        timeout_s=10.0,
    )


@asynccontextmanager
async def submission_server(
    handler: SubmissionHandler,
    *,
    security: Security = "none",
    tls: ThrowawayTls | None = None,
    offer: Sequence[str] = MECHANISMS,
) -> AsyncIterator[RecordingSMTPServer]:
    """A submission server in the running loop, offering the mechanisms in ``offer``.

    With STARTTLS it takes no AUTH and no mail before the upgrade, so a login that
    works proves the connection was encrypted. aiosmtpd cannot tell that an implicit
    TLS connection is encrypted, so that one offers AUTH from the start.
    """
    options: dict[str, Any] = {
        "authenticator": handler.authenticate,
        "auth_exclude_mechanism": [m for m in MECHANISMS if m not in offer],
        "auth_require_tls": security == "starttls",
    }
    implicit_tls = None
    if security != "none":
        if tls is None:
            raise ValueError(f"security = {security!r} needs a certificate")
        if security == "starttls":
            options.update(tls_context=tls.server_context, require_starttls=True)
        else:
            implicit_tls = tls.server_context
    async with recording_smtp_server(handler, implicit_tls=implicit_tls, **options) as server:
        yield server
