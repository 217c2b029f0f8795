"""The ``[mailboxes.NAME.gateway]`` table: maild as the SMTP submission server of a mailbox.

Agents keep their mail client and send through maild, which checks every message
against the mailbox's outbound policy before it is queued. Each agent logs in with
its own password, referenced like every other secret (``password_env``,
``password_file``, ``password_credential``), never written in the file; the loader
resolves it into ``password``.
"""

from __future__ import annotations

__all__ = ["AgentSettings", "GatewaySettings", "TlsMode"]

import re
from collections.abc import Mapping
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from maild.config.secret import Secret

TlsMode = Literal["starttls", "implicit"]
# RFC 8314: 465 speaks TLS from the first byte; RFC 6409: 587 upgrades with STARTTLS.
GATEWAY_PORTS: Final[Mapping[str, int]] = {"starttls": 587, "implicit": 465}
# What Gmail and Microsoft 365 accept; big enough for a photo or two of a damaged parcel.
DEFAULT_MAX_MESSAGE_BYTES: Final = 25 * 1024 * 1024
_ADDRESS = re.compile(r"[^@\s<>\"]{1,64}@[A-Za-z0-9.-]{1,253}")
_LOGIN = re.compile(r"[^\s\x00-\x1f]{1,128}")


def _address(value: str) -> str:
    if not _ADDRESS.fullmatch(value):
        raise ValueError(f"{value[:60]!r} is not an e-mail address (like alice@shop.example)")
    return value.lower()


def _login(value: str) -> str:
    if not _LOGIN.fullmatch(value):
        raise ValueError("an agent's login name has 1-128 characters and no spaces")
    return value


def _listen(value: str) -> str:
    from maild.config.settings import split_listen  # settings imports this module

    split_listen(value)
    return value


def _file(value: str) -> str:
    if not value or "\n" in value or "\x00" in value:
        raise ValueError("must be a file path")
    return value


class AgentSettings(BaseModel):
    """One agent who may send through the gateway; its table key is its login name."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    password: Secret | None = None
    password_env: str | None = None
    password_file: str | None = None
    password_credential: str | None = None
    # Envelope and From addresses the agent may use besides the mailbox's own address.
    senders: tuple[Annotated[str, AfterValidator(_address)], ...] = ()
    # Messages accepted from the agent per hour; the next one is deferred with 450.
    max_per_hour: Annotated[int, Field(ge=1, le=100_000)] = 200


class GatewaySettings(BaseModel):
    """Where the submission listener binds, its certificate and its limits."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    listen: Annotated[str, AfterValidator(_listen)]
    tls: TlsMode = "starttls"
    cert_file: Annotated[str, AfterValidator(_file)]
    key_file: Annotated[str, AfterValidator(_file)]
    max_message_bytes: Annotated[int, Field(ge=1024, le=200 * 1024 * 1024)] = (
        DEFAULT_MAX_MESSAGE_BYTES
    )
    # Failed logins from one address within auth_window_s before AUTH is refused (454).
    max_auth_failures: Annotated[int, Field(ge=1, le=1000)] = 5
    auth_window_s: Annotated[float, Field(gt=0, le=86400, allow_inf_nan=False)] = 600.0
    agents: Mapping[Annotated[str, AfterValidator(_login)], AgentSettings] = Field(min_length=1)

    def secrets(self) -> tuple[Secret, ...]:
        """Every agent's password, for the log redactor."""
        return tuple(a.password for a in self.agents.values() if a.password is not None)

    @model_validator(mode="before")
    @classmethod
    def _standard_port(cls, data: object) -> object:
        """``listen = "0.0.0.0"`` takes the port of the TLS mode (587 or 465)."""
        if not isinstance(data, dict) or not isinstance(data.get("listen"), str):
            return data
        listen: str = data["listen"]
        if listen.endswith("]") or ":" not in listen:
            mode = data.get("tls", "starttls")
            port = GATEWAY_PORTS.get(mode, 587) if isinstance(mode, str) else 587
            return {**data, "listen": f"{listen}:{port}"}
        return data
