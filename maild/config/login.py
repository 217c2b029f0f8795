"""How maild logs in to an IMAP or SMTP server: a password, or an OAuth2 access token.

Gmail and Microsoft 365 have turned password-only IMAP and SMTP off for most accounts,
so a server table may say ``auth = "xoauth2"`` and give either a bearer token that
another program keeps fresh, or what maild needs to refresh one itself (the token
endpoint, the client and a refresh token file). Which keys go together is checked by
:mod:`maild.config.credentials` on the raw table, where the problems can be reported
by key; the model holds the result, with every secret already a :class:`Secret`.
"""

from __future__ import annotations

__all__ = ["Auth", "LoginSettings"]

import ipaddress
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from maild.config.credentials import TOKEN_SOURCES
from maild.config.secret import Secret

Auth = Literal["password", "xoauth2"]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _token_url(value: str) -> str:
    # The value is never echoed: its user part is where a client secret would be pasted.
    not_a_url = "expected an http(s) URL such as https://oauth2.googleapis.com/token"
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(not_a_url) from None
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "the URL must not contain credentials; give the client secret with"
            " client_secret_env, client_secret_file or client_secret_credential"
        )
    if parts.scheme not in {"https", "http"} or not host:
        raise ValueError(not_a_url)
    if parts.scheme == "http" and not _is_loopback(host):
        raise ValueError(
            "use https: a token request carries the refresh token and the client secret"
            " (plain http is allowed only to this machine: localhost, 127.0.0.1, ::1)"
        )
    return value


class LoginSettings(BaseModel):
    """The login keys shared by the [imap] and [smtp] tables of a mailbox.

    ``password``, ``token``, ``client_secret`` and ``refresh_token`` are filled by the
    loader from their references. ``token`` and ``refresh_token`` are the values at load
    time; at run time the token provider reads their files again, since another program
    (for ``token_file``) or maild itself (a rotated refresh token) may have replaced them.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    auth: Auth = "password"
    password: Secret | None = None
    password_env: str | None = None
    password_file: str | None = None
    password_credential: str | None = None
    token: Secret | None = None
    token_env: str | None = None
    token_file: str | None = None
    token_credential: str | None = None
    token_url: Annotated[str, AfterValidator(_token_url)] | None = None
    client_id: Annotated[str, Field(min_length=1)] | None = None
    client_secret: Secret | None = None
    client_secret_env: str | None = None
    client_secret_file: str | None = None
    client_secret_credential: str | None = None
    refresh_token: Secret | None = None
    refresh_token_file: str | None = None
    scope: Annotated[str, Field(min_length=1)] | None = None

    @property
    def token_source(self) -> tuple[str, str] | None:
        """The key and reference of the bearer token's source, to read it again."""
        for key in TOKEN_SOURCES:
            reference: str | None = getattr(self, key)
            if reference is not None:
                return key, reference
        return None

    def secrets(self) -> tuple[Secret, ...]:
        """Every resolved secret, for the log redactor."""
        values = (self.password, self.token, self.client_secret, self.refresh_token)
        return tuple(secret for secret in values if secret is not None)
