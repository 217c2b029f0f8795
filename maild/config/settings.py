"""The validated shape of maild.toml, as frozen pydantic models.

The models are the single description of what a config may contain: the loader
relies on ``extra="forbid"`` to catch typos and on ``strict=True`` so that a TOML
type mistake (``port = "993"``, ``idle = 1``) is reported instead of coerced.
Passwords and tokens arrive here already resolved (see :mod:`maild.config.credentials`),
so their fields (in :mod:`maild.config.login`) accept only a :class:`Secret`, never a string.
"""

from __future__ import annotations

__all__ = [
    "PRESETS",
    "DatabaseSettings",
    "ImapSettings",
    "MailboxSettings",
    "MetricsSettings",
    "OrderPatternSettings",
    "OutboundSettings",
    "OutboxSettings",
    "PatternKind",
    "Preset",
    "Security",
    "Settings",
    "SlaSettings",
    "SmtpSettings",
    "split_listen",
]

import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Final, Literal, get_args
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    model_validator,
)

from maild.config.gateway import GatewaySettings
from maild.config.locate import Loc
from maild.config.login import LoginSettings
from maild.config.order_regex import check_order_regex, compile_order_regex
from maild.outbound.model import (
    DEFAULT_ATTACHMENT_TYPES,
    DEFAULT_MAX_ATTACHMENT_BYTES,
    ContactKind,
    Rule,
)
from maild.sla.schema import SLA_PRESETS, PolicyName, PolicySettings

Security = Literal["tls", "starttls", "none"]
Preset = Literal["generic", "walmart", "amazon", "douyin", "xiaohongshu"]
PatternKind = Literal["order", "sub_order", "either"]  # "either": the keyword before decides
PRESETS: Final[tuple[str, ...]] = get_args(Preset)

IMAP_PORTS: Final[Mapping[str, int]] = {"tls": 993, "starttls": 143, "none": 143}
SMTP_PORTS: Final[Mapping[str, int]] = {"tls": 465, "starttls": 587, "none": 25}

_MAILBOX_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_DOMAIN_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_HOST_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_LOCAL_PART = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}")
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_PATTERN_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_HEADER_NAME = re.compile(r"[!-9;-~]{1,76}")  # RFC 5322 field-name, within a line


def shown(value: str, limit: int = 40) -> str:
    """Quote a user's value for a message, cut short so one typo cannot flood it."""
    return repr(value if len(value) <= limit else value[: limit - 1] + "…")


def _mailbox_name(name: str) -> str:
    if not _MAILBOX_NAME.fullmatch(name):
        raise ValueError(
            f"mailbox name {shown(name)} is not allowed: use 1-63 lower-case letters, digits,"
            " '-' or '_', starting with a letter or digit (the name is a Prometheus label and"
            " a database key, so it must be short, plain and stable)"
        )
    return name


def _is_domain(name: str) -> bool:
    labels = name.split(".")
    return (
        len(name) <= 253
        and len(labels) >= 2
        and all(_DOMAIN_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )


def _domain(name: str) -> str:
    lowered = name.lower()
    if not _is_domain(lowered):
        raise ValueError(
            f"{shown(name)} is not a domain name (expected something like walmart.com;"
            " write international names in their xn-- form)"
        )
    return lowered


def _address(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if at and _LOCAL_PART.fullmatch(local) and _is_domain(domain.lower()):
        return value
    hint = " without a display name or <>" if "<" in value else ""
    raise ValueError(
        f"{shown(value)} is not an e-mail address (expected something like"
        f" support@shop.example{hint})"
    )


def _is_host(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        name = value.removesuffix(".")
        labels = name.split(".")
        return 0 < len(name) <= 253 and all(_HOST_LABEL.fullmatch(label) for label in labels)
    return True


def _host(value: str) -> str:
    if not _is_host(value):
        raise ValueError(f"{shown(value)} is not a host name or IP address")
    return value


def _line(value: str) -> str:
    # CR/LF in a value sent on an IMAP or SMTP command line would inject commands.
    if not value:
        raise ValueError("must not be empty")
    if "\r" in value or "\n" in value:
        raise ValueError("must not contain line breaks")
    return value


def _optional_line(value: str) -> str:
    # "" is meaningful (sent_folder: do not keep a copy), so only non-empty is checked.
    return value and _line(value)


def _unique_folders(folders: tuple[str, ...]) -> tuple[str, ...]:
    # INBOX is case-insensitive in IMAP (RFC 3501 5.1); other names are not.
    seen: set[str] = set()
    for folder in folders:
        key = "INBOX" if folder.upper() == "INBOX" else folder
        if key in seen:
            raise ValueError(f"folder {shown(folder)} is listed twice")
        seen.add(key)
    return folders


def split_listen(value: str) -> tuple[str, int]:
    """Split ``host:port`` / ``[v6]:port``; raise ValueError with an operator's message."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{shown(value)} is not host:port (e.g. 127.0.0.1:9464 or [::1]:9464)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{shown(host)} in brackets is not an IPv6 address") from None
    elif ":" in host:
        raise ValueError(f"put an IPv6 address in brackets, like [::1]:9464 (got {shown(value)})")
    elif not _is_host(host):
        raise ValueError(f"{shown(host)} is not a host name or IP address")
    if not port_text.isascii() or not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"port {shown(port_text)} is not a number from 0 to 65535")
    return host, int(port_text)


def _listen(value: str) -> str:
    split_listen(value)
    return value


def _database_url(value: str) -> str:
    if not _URL_SCHEME.match(value):
        raise ValueError(
            "expected a database URL such as sqlite:////var/lib/maild/maild.db"
            " or postgresql+psycopg://maild@db.example/maild"
        )
    try:
        password = urlsplit(value).password
    except ValueError:
        password = None
    if password is not None:
        # Never echo the URL: it holds the very secret we refuse.
        raise ValueError(
            "the URL contains a password, and secrets are never written in the config;"
            " drop it from the URL and give it to libpq via PGPASSFILE or a ~/.pgpass file"
        )
    return value


def _pattern_name(name: str) -> str:
    if not _PATTERN_NAME.fullmatch(name):
        raise ValueError(
            f"pattern name {shown(name)} is not allowed: use 1-40 lower-case letters, digits,"
            " '-' or '_', starting with a letter or digit"
        )
    return name


def _header_name(name: str) -> str:
    if not _HEADER_NAME.fullmatch(name):
        raise ValueError(f"{shown(name)} is not a header name (e.g. X-Order-Id, without ':')")
    return name.lower()


def _own_policy_name(name: str) -> str:
    if name in SLA_PRESETS:
        raise ValueError(
            f"{name!r} is the name of a shipped SLA policy; give yours another name"
            f' (extends = "{name}" builds on the shipped one)'
        )
    return name


MailboxName = Annotated[str, AfterValidator(_mailbox_name)]
OwnPolicyName = Annotated[PolicyName, AfterValidator(_own_policy_name)]
DomainName = Annotated[str, AfterValidator(_domain)]
HostName = Annotated[str, AfterValidator(_host)]
Port = Annotated[int, Field(ge=1, le=65535)]
Line = Annotated[str, AfterValidator(_line)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _with_standard_port(data: object, ports: Mapping[str, int], default: str) -> object:
    """Fill ``port`` from ``security`` before field validation, so ``port`` is a plain int."""
    if not isinstance(data, dict) or "port" in data:
        return data
    security = data.get("security", default)
    # An invalid security is reported on its own; any port keeps "port" out of it.
    port = ports.get(security, ports[default]) if isinstance(security, str) else ports[default]
    return {**data, "port": port}


class DatabaseSettings(_Model):
    """Where the store lives; the loader supplies the default from the environment."""

    url: Annotated[str, AfterValidator(_database_url)]
    # Several `maild run` on one PostgreSQL database share its mailboxes through leases:
    # this instance's name in them (None: host:pid) and how long one lasts unrenewed.
    instance: Annotated[str, Field(max_length=255), AfterValidator(_line)] | None = None
    lease_period_s: Annotated[float, Field(ge=1, le=3600, allow_inf_nan=False)] = 30.0


class MetricsSettings(_Model):
    """The Prometheus exporter's listening socket."""

    listen: Annotated[str, AfterValidator(_listen)] = "127.0.0.1:9464"

    @property
    def host(self) -> str:
        """The address to bind, without IPv6 brackets."""
        return split_listen(self.listen)[0]

    @property
    def port(self) -> int:
        """The port to bind; 0 asks the kernel for a free one (tests use that)."""
        return split_listen(self.listen)[1]


class ImapSettings(LoginSettings):
    """How to reach and read one mailbox over IMAP; the login keys come from LoginSettings."""

    host: HostName
    port: Port
    security: Security = "tls"
    tls_verify: bool = True
    username: Line
    folders: Annotated[tuple[Line, ...], Field(min_length=1), AfterValidator(_unique_folders)] = (
        "INBOX",
    )
    sent_folder: Annotated[str, AfterValidator(_optional_line)] = "auto"
    idle: bool = True
    # Set \Seen on the server when `maild show` prints a conversation (off: never touch it).
    mark_seen: bool = False
    poll_interval_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 60.0
    fetch_batch: Annotated[int, Field(ge=1, le=1000)] = 250

    @model_validator(mode="before")
    @classmethod
    def _standard_port(cls, data: object) -> object:
        return _with_standard_port(data, IMAP_PORTS, "tls")


class SmtpSettings(LoginSettings):
    """How to send one mailbox's replies; login is optional (e.g. a local relay)."""

    host: HostName
    port: Port
    security: Security = "starttls"
    tls_verify: bool = True
    username: Line | None = None

    @model_validator(mode="before")
    @classmethod
    def _standard_port(cls, data: object) -> object:
        return _with_standard_port(data, SMTP_PORTS, "starttls")


class OrderPatternSettings(_Model):
    """One order-ID pattern, as a marketplace preset or a mailbox's ``order_patterns`` has it.

    A bare string in ``order_patterns`` is shorthand for a table holding only ``regex``.
    """

    name: Annotated[str, AfterValidator(_pattern_name)] = "custom"
    regex: Annotated[str, AfterValidator(check_order_regex)]
    kind: PatternKind = "order"
    where: tuple[Literal["subject", "body"], ...] = ("subject", "body")
    headers: tuple[Annotated[str, AfterValidator(_header_name)], ...] = ()
    needs_keyword: bool = False
    strip: Annotated[str, Field(max_length=10)] = ""
    upper: bool = True

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: object) -> object:
        return {"regex": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _consistent(self) -> OrderPatternSettings:
        if not self.where and not self.headers:
            raise ValueError("the pattern looks nowhere: give 'where' or 'headers' a value")
        if "parent" in compile_order_regex(self.regex).groupindex and self.kind == "order":
            raise ValueError(
                "a 'parent' group names a sub-order's parent order, so kind must be"
                ' "sub_order" or "either"'
            )
        return self


def _phrase(value: str) -> str:
    words = value.split()
    if not words or len(value) > 80:
        raise ValueError("a phrase must have 1 to 80 characters and not be only spaces")
    return " ".join(words)


def _extension(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9]{1,10}", value):
        raise ValueError(f"{shown(value)} is not a file extension (lower case, without the dot)")
    return value


def _region(value: str) -> str:
    import phonenumbers  # only when a region is given: every command loads the config

    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{shown(value)} is not a region code (two capitals, like US or CN)")
    return value


def _unique(values: tuple[str, ...]) -> tuple[str, ...]:
    twice = sorted({value for value in values if values.count(value) > 1})
    if twice:
        raise ValueError(f"{twice[0]!r} is listed twice")
    return values


class OutboundSettings(_Model):
    """What a mailbox may send besides the default deny (CONVENTIONS 18)."""

    disabled_rules: Annotated[tuple[Rule, ...], AfterValidator(_unique)] = ()
    marketing_phrases: tuple[Annotated[str, AfterValidator(_phrase)], ...] = ()
    allowed_contacts: Annotated[tuple[ContactKind, ...], AfterValidator(_unique)] = ()
    attachment_types: Annotated[
        tuple[Annotated[str, AfterValidator(_extension)], ...], AfterValidator(_unique)
    ] = DEFAULT_ATTACHMENT_TYPES
    max_attachment_bytes: Annotated[int, Field(ge=0)] = DEFAULT_MAX_ATTACHMENT_BYTES
    phone_regions: Annotated[
        tuple[Annotated[str, AfterValidator(_region)], ...], AfterValidator(_unique)
    ] = ("US", "CN")
    # What {shop_name} in a reply template becomes; None: a template using it is refused.
    shop_name: Line | None = None
    # With a classifier_model: a draft the model scores at least this likely spam is
    # refused as marketing, besides the phrase list.
    spam_threshold: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] = 0.9


class OutboxSettings(_Model):
    """How replies are sent: templates, and how long temporary failures are retried."""

    # Reply templates (*.md); relative to this file. None: the templates shipped with maild.
    templates_dir: Line | None = None
    # Attempts before a message that keeps failing for now (4xx, network) is failed.
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    retry_initial_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 30.0
    retry_max_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 3600.0
    # How often the daemon looks for messages queued by `maild reply` in another process.
    poll_interval_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 5.0


class MailboxSettings(_Model):
    """One customer-service mailbox; its table key in [mailboxes] is its name."""

    address: Annotated[str, AfterValidator(_address)]
    preset: Preset = "generic"
    # Tried after the preset's own patterns; see config/maild.example.toml.
    order_patterns: tuple[OrderPatternSettings, ...] = ()
    # Links may go to these and their subdomains; nothing else (empty: no links at all).
    allowed_domains: tuple[DomainName, ...] = ()
    outbound: OutboundSettings = OutboundSettings()
    # A model file from `maild train`; None: the shipped model, if built.
    classifier_model: Annotated[str, AfterValidator(_line)] | None = None
    imap: ImapSettings
    smtp: SmtpSettings | None = None
    # maild as the agents' SMTP submission server (maild.gateway); None: no listener.
    gateway: GatewaySettings | None = None
    # None: no reply deadline. Defaults to the SLA policy named like the preset, if any.
    sla_policy: PolicyName | None = None
    # The seller's shop is paused on the marketplace. Deadlines keep running (Walmart's
    # 48 hours count while a shop is paused); only maild_mailbox_info shows it.
    paused: bool = False

    @model_validator(mode="before")
    @classmethod
    def _default_sla_policy(cls, data: object) -> object:
        """Give a mailbox its marketplace's deadlines unless it says otherwise ("" = none)."""
        if not isinstance(data, dict):
            return data
        if "sla_policy" not in data:
            preset = data.get("preset", "generic")
            return {**data, "sla_policy": preset if preset in SLA_PRESETS else None}
        return {**data, "sla_policy": None if data["sla_policy"] == "" else data["sla_policy"]}


class SlaSettings(_Model):
    """Reply-deadline policies of this installation, beside the shipped ones."""

    policies: Mapping[OwnPolicyName, PolicySettings] = Field(default_factory=dict)


class Settings(_Model):
    """Everything maild.toml says, validated and with secrets resolved."""

    database: DatabaseSettings
    metrics: MetricsSettings = MetricsSettings()
    sla: SlaSettings = SlaSettings()
    outbox: OutboxSettings = OutboxSettings()
    # A dict in file order, typed read-only: a MappingProxyType would be safer at
    # run time but cannot be copied, pickled or dumped by pydantic.
    mailboxes: Mapping[MailboxName, MailboxSettings] = Field(default_factory=dict)

    # Not a field: the file may not set where it came from.
    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        """The absolute path the settings were loaded from (None if built in code)."""
        return self._source

    def sla_problems(self) -> list[tuple[Loc, str]]:
        """Mailboxes whose ``sla_policy`` names no policy.

        Checked once the whole file is validated, because a mailbox's table cannot
        see the [sla] table that may define the name.
        """
        known = (*SLA_PRESETS, *self.sla.policies)
        return [
            (
                ("mailboxes", name, "sla_policy"),
                f"no SLA policy {mailbox.sla_policy!r}: expected one of {', '.join(known)}"
                ' (or "" for no reply deadline)',
            )
            for name, mailbox in self.mailboxes.items()
            if mailbox.sla_policy is not None and mailbox.sla_policy not in known
        ]

    def warnings(self) -> list[str]:
        """Legal but probably unintended choices, for ``check-config`` to mention."""
        found: list[str] = []
        if not self.mailboxes:
            found.append("no mailboxes are configured: maild will only export metrics")
        for name, mailbox in self.mailboxes.items():
            for kind, server in (("imap", mailbox.imap), ("smtp", mailbox.smtp)):
                if server is None or server.security != "none":
                    continue
                secret = "access token" if server.auth == "xoauth2" else "password"
                if server.auth == "xoauth2" or server.password is not None:
                    found.append(
                        f'mailboxes.{name}.{kind}: security = "none" sends the {secret} unencrypted'
                    )
        return found
