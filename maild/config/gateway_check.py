"""What the gateway tables need beyond their own validation: agent secrets, certificates.

Agent tables are login tables like ``[imap]``: their password references are resolved
(and literal passwords refused) by :mod:`maild.config.credentials`. The certificate and
key are loaded once at check time, so a wrong path or a key that does not match the
certificate is a config error naming the key, not a listener that fails at start; two
mailboxes may not listen on one address.
"""

from __future__ import annotations

__all__ = ["gateway_login_tables", "gateway_problems", "is_agent_secret", "tls_context"]

import ssl
from pathlib import Path

from maild.config.credentials import SECRET_SLOTS
from maild.config.gateway import GatewaySettings
from maild.config.locate import Loc
from maild.config.settings import Settings, split_listen


def gateway_login_tables(
    mailbox: dict[str, object], where: Loc
) -> list[tuple[dict[str, object], Loc, bool]]:
    """Each agent table of a mailbox's raw gateway table, with its location; all log in."""
    gateway = mailbox.get("gateway")
    agents = gateway.get("agents") if isinstance(gateway, dict) else None
    if not isinstance(agents, dict):
        return []
    return [
        (table, (*where, "agents", login), True)
        for login, table in agents.items()
        if isinstance(table, dict)
    ]


def is_agent_secret(loc: Loc) -> bool:
    """Whether a validation error is about an agent's secret slot (the resolver's to report)."""
    return len(loc) == 6 and loc[2:4] == ("gateway", "agents") and loc[5] in SECRET_SLOTS


def tls_context(gateway: GatewaySettings, base_dir: Path) -> ssl.SSLContext:
    """A server context with the gateway's certificate; relative paths from ``base_dir``.

    Raises OSError or ssl.SSLError for a file that cannot be read or a key that does
    not fit the certificate.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(base_dir / gateway.cert_file, base_dir / gateway.key_file)
    return context


def gateway_problems(settings: Settings, base_dir: Path) -> list[tuple[Loc, str]]:
    found: list[tuple[Loc, str]] = []
    bound: dict[tuple[str, int], str] = {}
    for name, mailbox in settings.mailboxes.items():
        gateway = mailbox.gateway
        if gateway is None:
            continue
        where: Loc = ("mailboxes", name, "gateway")
        try:
            tls_context(gateway, base_dir)
        except (OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
            found.append(
                (
                    (*where, "cert_file"),
                    f"cannot use the certificate {gateway.cert_file} with the key"
                    f" {gateway.key_file}: {reason}",
                )
            )
        host, port = split_listen(gateway.listen)
        other = bound.setdefault((host, port), name)
        if other != name and port != 0:
            found.append(
                ((*where, "listen"), f"mailbox {other!r} listens on {gateway.listen} already")
            )
    return found
