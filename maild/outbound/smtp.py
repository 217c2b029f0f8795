"""The SMTP edge: hand one stored message to a mailbox's SMTP server, over aiosmtplib.

One connection per message. The outbox sends customer-service replies one at a
time, a few a minute at the busiest, so a connection's handshake costs little,
and in return every failure belongs to exactly one message, and no idle
connection can be dropped by the server between two replies.

The bytes go out as stored: the outbox keeps the exact message for audit, so a
message that SMTP would alter on the wire (bare CR or LF line ends, no final
CRLF) is refused instead of being rewritten. Every library or socket failure
leaves as a TransientError (4xx, network, timeout) or a PermanentError (5xx,
login refused, untrusted certificate), naming the server and the SMTP code.
aiosmtplib logs nothing and puts only the server's replies in its errors, so a
password or token can reach neither a log line nor an exception from here.
"""

from __future__ import annotations

__all__ = ["Accepted", "SmtpEndpoint", "endpoint_for", "send"]

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

import aiosmtplib
from aiosmtplib.protocol import normalize_message_line_endings

from maild.config.secret import Secret
from maild.config.settings import Security, SmtpSettings
from maild.errors import MaildError, PermanentError, TransientError
from maild.oauth import TokenProvider

log = logging.getLogger(__name__)

T = TypeVar("T")

_QUIT_TIMEOUT_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class SmtpEndpoint:
    """Where to send and how to log in: not at all (a relay), a password, or ``tokens``."""

    host: str
    port: int
    security: Security
    tls_verify: bool
    username: str | None = None
    password: Secret | None = None
    tokens: TokenProvider | None = None
    timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if self.password is not None and self.tokens is not None:
            raise ValueError(f"{self.describe()}: give a password or tokens, not both")
        if (self.username is None) != (self.password is None and self.tokens is None):
            raise ValueError(
                f"{self.describe()}: a login needs both a username and a password or tokens"
            )

    def describe(self) -> str:
        user = f"{self.username}@" if self.username is not None else ""
        return f"smtp://{user}{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Accepted:
    """The server took the message; the outbox records this with it.

    ``reply`` often carries the server's queue ID, which ties the outbox's record to
    the server's log. ``refused`` maps the recipients the server turned down while it
    took the others to its answer for each: the message counts as sent (a retry
    would reach the others twice), so these are for an operator to see.
    """

    reply: str
    refused: Mapping[str, str]


def endpoint_for(smtp: SmtpSettings, tokens: TokenProvider | None = None) -> SmtpEndpoint:
    """The endpoint of a mailbox's SMTP table; ``tokens`` is required for auth = "xoauth2".

    Pass the mailbox's long-lived ``token_provider`` (see :mod:`maild.oauth`); when the
    [smtp] table names the same refresh token as [imap], pass the same provider, so
    that one rotation is not undone by another.
    """
    if (smtp.auth == "xoauth2") != (tokens is not None):
        raise ValueError(f'{smtp.host}: tokens go with auth = "xoauth2" and only with it')
    return SmtpEndpoint(
        host=smtp.host,
        port=smtp.port,
        security=smtp.security,
        tls_verify=smtp.tls_verify,
        username=smtp.username,
        password=smtp.password,
        tokens=tokens,
    )


async def send(
    endpoint: SmtpEndpoint, message: bytes, sender: str, recipients: Sequence[str]
) -> Accepted:
    """Send ``message`` exactly as given; return once the server has accepted it.

    Nothing after the acceptance can fail the call (a QUIT that goes wrong is only
    logged), since the outbox would take a failure for "not sent" and send again.
    """
    where = endpoint.describe()
    if normalize_message_line_endings(message) != message:
        raise PermanentError(
            f"{where}: message not sent: its line ends are not all CRLF or it does not end"
            " with one, and SMTP would change the bytes that the outbox keeps"
        )
    if not recipients:
        raise PermanentError(f"{where}: message not sent: it has no recipients")
    client = aiosmtplib.SMTP(
        hostname=endpoint.host,
        port=endpoint.port,
        use_tls=endpoint.security == "tls",
        start_tls=endpoint.security == "starttls",
        validate_certs=endpoint.tls_verify,
        timeout=endpoint.timeout_s,
    )
    try:
        await _step(endpoint, "connect", client.connect())
        await _login(client, endpoint)
        refused, reply = await _step(endpoint, "send", client.sendmail(sender, recipients, message))
    except BaseException:
        # No QUIT: the exchange may have stopped mid-command, where it would be read as data.
        client.close()
        raise
    await _quit(client, endpoint)
    log.info(
        "smtp message accepted server=%s bytes=%d recipients=%d refused=%d reply=%s",
        where,
        len(message),
        len(recipients),
        len(refused),
        reply,
    )
    return Accepted(
        reply=f"250 {reply}",
        refused={rcpt: f"{answer.code} {answer.message}" for rcpt, answer in refused.items()},
    )


async def _login(client: aiosmtplib.SMTP, endpoint: SmtpEndpoint) -> None:
    if endpoint.username is None:
        return  # a relay that takes mail without a login
    if endpoint.tokens is not None:
        await _login_xoauth2(client, endpoint, endpoint.username, endpoint.tokens)
    elif endpoint.password is not None:
        # aiosmtplib tries the mechanisms the server offers (PLAIN, LOGIN, ...) in turn.
        await _step(endpoint, "login", client.login(endpoint.username, endpoint.password.reveal()))


async def _login_xoauth2(
    client: aiosmtplib.SMTP, endpoint: SmtpEndpoint, username: str, tokens: TokenProvider
) -> None:
    """Log in with an access token; if it is refused, once more with a newer one.

    As on IMAP: a token can die before its announced expiry (revoked, or a clock
    ahead of ours), so one refusal asks the provider for a fresh token; a second
    refusal, or a source with nothing newer, is for an operator to look at.
    aiosmtplib's ``auth_xoauth2`` answers the server's error challenge with an empty
    line, so a refusal arrives as the server's 535 at once, not after a timeout.
    """
    if client.is_ehlo_or_helo_needed:
        await _step(endpoint, "ehlo", client.ehlo())
    if "xoauth2" not in client.server_auth_methods:
        raise PermanentError(f"{endpoint.describe()}: the server does not offer AUTH XOAUTH2")
    token = await tokens.token()
    refusal = await _try_xoauth2(client, endpoint, username, token)
    if refusal is None:
        return
    renewed = await tokens.token(rejected=token)
    if renewed == token:
        raise PermanentError(f"{refusal} (no newer token to retry with)") from refusal
    log.info("smtp xoauth2 token refused; retrying with a newer one server=%s", endpoint.describe())
    refusal = await _try_xoauth2(client, endpoint, username, renewed)
    if refusal is not None:
        raise PermanentError(f"{refusal} (also with a renewed token)") from refusal


async def _try_xoauth2(
    client: aiosmtplib.SMTP, endpoint: SmtpEndpoint, username: str, token: Secret
) -> PermanentError | None:
    """None when the server took the token; its refusal when it turned the token down."""
    try:
        await _step(endpoint, "xoauth2 login", client.auth_xoauth2(username, token.reveal()))
    except PermanentError as exc:
        # 535 is how Gmail and Microsoft 365 refuse a token; nothing else is retried.
        cause = exc.__cause__
        if isinstance(cause, aiosmtplib.SMTPAuthenticationError) and cause.code == 535:
            return exc
        raise
    return None


async def _quit(client: aiosmtplib.SMTP, endpoint: SmtpEndpoint) -> None:
    try:
        async with asyncio.timeout(_QUIT_TIMEOUT_S):
            await client.quit()
    except (TimeoutError, OSError, aiosmtplib.SMTPException) as exc:
        log.debug("smtp quit failed server=%s error=%s", endpoint.describe(), exc)
    finally:
        client.close()


async def _step(endpoint: SmtpEndpoint, what: str, operation: Awaitable[T]) -> T:
    """Run one exchange under the endpoint's timeout, translating every failure."""
    try:
        async with asyncio.timeout(endpoint.timeout_s):
            return await operation
    except (aiosmtplib.SMTPException, OSError, ValueError) as exc:
        raise _failure(endpoint, what, exc) from exc


def _failure(endpoint: SmtpEndpoint, what: str, exc: Exception) -> MaildError:
    """The maild error for a library or socket failure: retry later, or an operator's turn."""
    where = endpoint.describe()
    untrusted = _certificate_error(exc)
    if untrusted is not None:
        return PermanentError(f"{where}: TLS certificate not trusted: {untrusted.verify_message}")
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        return _all_refused(where, exc.recipients)
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return _refused(f"{where}: {what} refused:", exc.code, exc.message)
    if isinstance(exc, TimeoutError):  # aiosmtplib's own timeouts are TimeoutErrors too
        return TransientError(f"{where}: {what} timed out after {endpoint.timeout_s}s")
    if isinstance(exc, OSError):  # refused, reset or lost connections included
        return TransientError(f"{where}: {what} failed: {exc or type(exc).__name__}")
    # No STARTTLS or AUTH where the config expects one, an address SMTP cannot carry:
    # the same message would fail the same way every time.
    return PermanentError(f"{where}: {what} failed: {exc}")


def _refused(prefix: str, code: int, text: str) -> MaildError:
    error = PermanentError if 500 <= code < 600 else TransientError
    return error(f"{prefix} {code} {' '.join(text.split())}")


def _all_refused(where: str, refusals: Sequence[aiosmtplib.SMTPRecipientRefused]) -> MaildError:
    # A retry may get through to those refused for now (4xx); the 5xx ones fail again
    # then and are reported with the message that finally goes.
    answers = "; ".join(f"{r.code} {' '.join(r.message.split())}" for r in refusals)
    prefix = f"{where}: all {len(refusals)} recipients refused:"
    if any(400 <= r.code < 500 for r in refusals):
        return TransientError(f"{prefix} {answers}")
    return PermanentError(f"{prefix} {answers}")


def _certificate_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    """The certificate failure behind ``exc``; aiosmtplib wraps it for implicit TLS only."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen
        seen = seen.__cause__
    return None
