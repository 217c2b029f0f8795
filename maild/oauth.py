"""OAuth2 access tokens for XOAUTH2 logins, shared by IMAP and SMTP.

Two sources behind one call, ``await provider.token()``: a bearer token that
another program keeps fresh (read again when a server rejects it), or maild's own
refresh-token flow (RFC 6749 section 6), which asks the provider's token endpoint
for a new access token shortly before the old one expires, and writes a rotated
refresh token back to its file atomically so a restart never reuses a dead one.
After a server refuses a token, ``token(rejected=that_token)`` gives a newer one
if there is any; several logins that fail together cause a single refresh.

Failures leave as TransientError (endpoint unreachable, 5xx, a garbled answer:
the next attempt may work) or PermanentError (``invalid_grant``, a rejected
client: an operator must authorise maild again), each naming the mailbox. The
HTTP call is the stdlib's ``urllib`` in a worker thread: one form POST an hour per
mailbox does not justify a dependency.
"""

from __future__ import annotations

__all__ = [
    "RENEW_MARGIN_S",
    "BearerToken",
    "RefreshGrant",
    "RefreshTokenFlow",
    "TokenProvider",
    "token_provider",
]

import asyncio
import contextlib
import http.client
import json
import logging
import os
import stat
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final, Protocol
from urllib.parse import urlencode

from maild.config.credentials import SecretUnavailable, read_secret
from maild.config.login import LoginSettings
from maild.config.secret import Secret
from maild.errors import PermanentError, TransientError

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
OnNewToken = Callable[[datetime], None]
"""Told when a new access token was obtained, e.g. to export the token's age."""

RENEW_MARGIN_S: Final = 300.0
"""Refresh this long before expiry (at most half the lifetime): a login that starts
just before expiry must not carry a token that dies during the handshake."""
_TIMEOUT_S: Final = 30.0
_MAX_ANSWER: Final = 64 * 1024
_RETRY_LATER: Final = frozenset({408, 425, 429})


class TokenProvider(Protocol):
    async def token(self, *, rejected: Secret | None = None) -> Secret:
        """A token to log in with; with ``rejected``, one newer than that if possible."""
        ...


def token_provider(
    mailbox: str, login: LoginSettings, clock: Clock, *, on_new_token: OnNewToken | None = None
) -> TokenProvider | None:
    """The provider a server table asks for with ``auth = "xoauth2"``; None for passwords.

    Create one per mailbox and keep it for as long as the settings hold: its cached
    token and its one refresh in flight are what every connection shares.
    """
    if login.auth != "xoauth2":
        return None
    if login.token_url and login.client_id and login.refresh_token_file:
        grant = RefreshGrant(
            login.token_url,
            login.client_id,
            login.client_secret,
            Path(login.refresh_token_file),
            login.scope,
        )
        return RefreshTokenFlow(mailbox, grant, clock, on_new_token=on_new_token)
    source = login.token_source
    if source is None:
        raise PermanentError(f"mailbox {mailbox}: auth = xoauth2 but no token is configured")
    return BearerToken(mailbox, *source, clock, on_new_token=on_new_token)


class BearerToken:
    """An access token kept fresh by another program in a file, variable or credential."""

    def __init__(
        self,
        mailbox: str,
        key: str,
        reference: str,
        clock: Clock,
        *,
        environ: Mapping[str, str] | None = None,
        on_new_token: OnNewToken | None = None,
    ) -> None:
        self._mailbox = mailbox
        self._key = key
        self._reference = reference
        self._clock = clock
        self._environ = environ
        self._on_new_token = on_new_token
        self._value: Secret | None = None

    async def token(self, *, rejected: Secret | None = None) -> Secret:
        value = self._value
        if value is None or value == rejected:
            value = await asyncio.to_thread(self._read)
            if value != self._value:
                self._value = value
                log.info("oauth token read mailbox=%s source=%s", self._mailbox, self._key)
                if self._on_new_token is not None:
                    self._on_new_token(self._clock())
        return value

    def _read(self) -> Secret:
        environ = os.environ if self._environ is None else self._environ
        try:
            return read_secret(self._key, self._reference, environ, Path())
        except SecretUnavailable as exc:
            raise PermanentError(f"mailbox {self._mailbox}: {self._key}: {exc}") from None


@dataclass(frozen=True, slots=True)
class RefreshGrant:
    """What a refresh request needs; the refresh token itself lives in its file."""

    token_url: str
    client_id: str
    client_secret: Secret | None
    refresh_token_file: Path
    scope: str | None = None


@dataclass(frozen=True, slots=True)
class _Issued:
    value: Secret
    renew_at: datetime | None  # None: the endpoint gave no lifetime; use until rejected


class RefreshTokenFlow:
    """Access tokens from the provider's token endpoint, refreshed before they expire."""

    def __init__(
        self,
        mailbox: str,
        grant: RefreshGrant,
        clock: Clock,
        *,
        timeout_s: float = _TIMEOUT_S,
        on_new_token: OnNewToken | None = None,
    ) -> None:
        self._mailbox = mailbox
        self._grant = grant
        self._clock = clock
        self._timeout_s = timeout_s
        self._on_new_token = on_new_token
        self._issued: _Issued | None = None
        self._refreshing: asyncio.Task[_Issued] | None = None
        # Read from the file on first use, then kept: after a rotation the new value
        # is authoritative even if writing it back failed.
        self._refresh_token: Secret | None = None

    async def token(self, *, rejected: Secret | None = None) -> Secret:
        issued = self._issued
        if issued is not None and issued.value != rejected and not self._due(issued):
            return issued.value
        if self._refreshing is None:
            # One refresh at a time, owned here, which callers join: a rotated refresh
            # token must reach its file even if the caller that started it is cancelled
            # (SIGTERM mid-login), or the mailbox would need a new consent.
            self._refreshing = asyncio.ensure_future(self._refresh())
            self._refreshing.add_done_callback(self._refreshed)
        return (await asyncio.shield(self._refreshing)).value

    def _due(self, issued: _Issued) -> bool:
        return issued.renew_at is not None and self._clock() >= issued.renew_at

    def _refreshed(self, task: asyncio.Task[_Issued]) -> None:
        self._refreshing = None
        # exception() also marks a failure as seen when every caller was cancelled.
        if not task.cancelled() and task.exception() is None:
            self._issued = task.result()

    async def _refresh(self) -> _Issued:
        grant = self._grant
        if self._refresh_token is None:
            self._refresh_token = await asyncio.to_thread(self._read_refresh_token)
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self._refresh_token.reveal(),
            "client_id": grant.client_id,
        }
        if grant.client_secret is not None:
            form["client_secret"] = grant.client_secret.reveal()
        if grant.scope is not None:
            form["scope"] = grant.scope
        try:
            status, body = await asyncio.to_thread(
                _post_form, grant.token_url, form, self._timeout_s
            )
        except (OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or str(exc) or type(exc).__name__
            raise TransientError(f"{self._where} could not be reached: {reason}") from exc
        answer = _json_object(body)
        if status != 200:
            raise self._refused(status, answer)
        access = answer.get("access_token")
        if not isinstance(access, str) or not access:
            raise TransientError(f"{self._where} answered without an access_token")
        now = self._clock()
        lifetime = _lifetime_s(answer.get("expires_in"))
        await self._keep_rotated(answer.get("refresh_token"))
        if self._on_new_token is not None:
            self._on_new_token(now)
        log.info("oauth token refreshed mailbox=%s expires_in_s=%s", self._mailbox, lifetime)
        if lifetime is None:
            return _Issued(Secret(access), None)
        margin = min(RENEW_MARGIN_S, lifetime / 2)
        return _Issued(Secret(access), now + timedelta(seconds=lifetime - margin))

    @property
    def _where(self) -> str:
        # Quoted: a URL ending in /token followed by ":" would look like a secret to
        # the log redactor, which would then mask the next word.
        return f"mailbox {self._mailbox}: token endpoint {self._grant.token_url!r}"

    def _read_refresh_token(self) -> Secret:
        path = str(self._grant.refresh_token_file)
        try:
            return read_secret("refresh_token_file", path, {}, Path())
        except SecretUnavailable as exc:
            raise PermanentError(f"mailbox {self._mailbox}: {exc}") from None

    async def _keep_rotated(self, rotated: object) -> None:
        """Adopt a new refresh token and write it back before anything can lose it."""
        if not isinstance(rotated, str) or not rotated or self._refresh_token == Secret(rotated):
            return
        self._refresh_token = Secret(rotated)
        path = self._grant.refresh_token_file
        try:
            await asyncio.to_thread(_replace_file, path, rotated + "\n")
        except OSError as exc:
            log.error(
                "oauth refresh token rotated but not saved mailbox=%s file=%s error=%s;"
                " maild goes on with the new one, but after a restart the file's old one"
                " may be refused",
                self._mailbox,
                path,
                exc.strerror or exc,
            )
            return
        log.info("oauth refresh token rotated and saved mailbox=%s file=%s", self._mailbox, path)

    def _refused(
        self, status: int, answer: Mapping[str, object]
    ) -> TransientError | PermanentError:
        error = answer.get("error")
        description = answer.get("error_description")
        detail = error if isinstance(error, str) else f"HTTP {status}"
        if isinstance(description, str) and description:
            detail += f": {description[:200]}"
        if status >= 500 or status in _RETRY_LATER:
            return TransientError(f"{self._where} is unavailable (HTTP {status}, {detail})")
        if error == "invalid_grant":
            return PermanentError(
                f"{self._where} refused the refresh token ({detail}); it was revoked,"
                " has expired or was replaced: authorise maild again and write the new"
                f" refresh token to {self._grant.refresh_token_file}"
            )
        if error in {"invalid_client", "unauthorized_client"}:
            return PermanentError(
                f"{self._where} refused client {self._grant.client_id} ({detail});"
                " check client_id and the client secret"
            )
        return PermanentError(f"{self._where} refused the token request ({detail})")


def _post_form(url: str, form: Mapping[str, str], timeout_s: float) -> tuple[int, bytes]:
    """POST a form and return the status and (the start of) the body, errors included."""
    request = urllib.request.Request(  # noqa: S310 - token_url is an http(s) URL (config)
        url,
        data=urlencode(form).encode("ascii"),
        headers={"Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            return int(response.status), response.read(_MAX_ANSWER)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read(_MAX_ANSWER)


def _json_object(body: bytes) -> dict[str, object]:
    """The answer as a JSON object; {} for anything else (a proxy's HTML error page)."""
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _lifetime_s(expires_in: object) -> float | None:
    """Seconds the token lives (RFC 6749 5.1); None when not given as a positive number."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        return None
    return float(expires_in) if expires_in > 0 else None


def _replace_file(path: Path, text: str) -> None:
    """Replace ``path`` so that a crash at any instant leaves the old or the new file whole.

    The new file is written beside the old one, flushed to disk, renamed over it,
    and the directory entry flushed too. It keeps the old file's permission bits
    (0600 when there is none), and mkstemp makes it private while it is written.
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = 0o600
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
