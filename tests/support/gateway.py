"""The submission gateway under test: a throwaway certificate, its TOML, an smtplib agent.

The certificate is issued by a trustme CA for 127.0.0.1 and written to files, since
the gateway reads its certificate and key from files like an operator's would; the
client trusts only that CA, so a test's STARTTLS is a verified TLS connection.
"""

from __future__ import annotations

import base64
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import getaddresses, parseaddr
from pathlib import Path

import trustme

from tests.support.config_files import write_config
from tests.support.smtp import HOST

__all__ = [
    "AGENT",
    "AGENT_PASSWORD",
    "AGENT_VARIABLE",
    "OTHER_SENDER",
    "Agent",
    "GatewayTls",
    "gateway_table",
    "gateway_tls",
    "reply_message",
    "send_logged_in",
    "standalone_config",
]

AGENT = "alice"
AGENT_PASSWORD = "gateway-test-password"  # a test value, not a credential
AGENT_VARIABLE = "MAILD_TEST_AGENT_ALICE_PASSWORD"
# An address of the agent's own, allowed besides the mailbox's.
OTHER_SENDER = "alice@shop.example"


@dataclass(frozen=True)
class GatewayTls:
    ca_pem: Path
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_pem))


def gateway_tls(directory: Path) -> GatewayTls:
    ca = trustme.CA()
    issued = ca.issue_cert(HOST, "localhost")
    tls = GatewayTls(directory / "ca.pem", directory / "gateway.pem", directory / "gateway.key")
    ca.cert_pem.write_to_path(str(tls.ca_pem))
    issued.cert_chain_pems[0].write_to_path(str(tls.cert))
    issued.private_key_pem.write_to_path(str(tls.key))
    return tls


def gateway_table(
    tls: GatewayTls,
    port: int,
    *,
    mailbox: str = "shop",
    mode: str = "starttls",
    extra: str = "",
    max_per_hour: int = 200,
) -> str:
    """The mailbox's [gateway] table: one agent, alice, password from AGENT_VARIABLE."""
    return (
        f'\n[mailboxes.{mailbox}.gateway]\nlisten = "{HOST}:{port}"\ntls = "{mode}"\n'
        f'cert_file = "{tls.cert}"\nkey_file = "{tls.key}"\n{extra}'
        f"\n[mailboxes.{mailbox}.gateway.agents.{AGENT}]\n"
        f'password_env = "{AGENT_VARIABLE}"\nsenders = ["{OTHER_SENDER}"]\n'
        f"max_per_hour = {max_per_hour}\n"
    )


# A mailbox that is never synced: tests of the gateway alone need no IMAP server.
STANDALONE_MAILBOX = """\
[mailboxes.{name}]
address = "support@{name}.example"
preset = "amazon"
allowed_domains = ["amazon.com"]

[mailboxes.{name}.imap]
host = "127.0.0.1"
username = "support@{name}.example"
password_env = "MAILD_TEST_UNUSED_PASSWORD"
"""


def standalone_config(
    directory: Path, tls: GatewayTls, *tables: tuple[str, int, str], max_per_hour: int = 200
) -> Path:
    """maild.toml with (mailbox name, gateway port, extra gateway keys) mailboxes.

    The caller sets AGENT_VARIABLE and MAILD_TEST_UNUSED_PASSWORD in the environment.
    """
    text = "".join(
        STANDALONE_MAILBOX.format(name=name)
        + gateway_table(tls, port, mailbox=name, extra=extra, max_per_hour=max_per_hour)
        for name, port, extra in tables
    )
    return write_config(directory, text)


def reply_message(
    text: str,
    *,
    sender: str = "support@shop.example",
    to: str = "alice@buyers.example",
    subject: str = "Re: Your question",
    in_reply_to: str | None = None,
    html: str | None = None,
) -> EmailMessage:
    """A reply as a mail client composes it (its own Message-ID, threading headers)."""
    message = EmailMessage()
    message["From"] = f"Lamp Shop <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    if in_reply_to is not None:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


class Agent:
    """An agent's mail client: smtplib, STARTTLS (or implicit TLS), AUTH, then mail."""

    def __init__(self, port: int, tls: GatewayTls, *, implicit: bool = False) -> None:
        context = tls.client_context()
        if implicit:
            self.smtp: smtplib.SMTP = smtplib.SMTP_SSL(HOST, port, context=context, timeout=30)
        else:
            self.smtp = smtplib.SMTP(HOST, port, timeout=30)
            self.smtp.starttls(context=context)
        self.smtp.ehlo()

    def login(self, password: str = AGENT_PASSWORD, user: str = AGENT) -> None:
        self.smtp.login(user, password)

    def login_plain(self, password: str, user: str = AGENT) -> int:
        """One AUTH PLAIN (smtplib's login tries every mechanism); the reply code."""
        response = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        code, _ = self.smtp.docmd("AUTH", f"PLAIN {response}")
        return code

    def send(self, message: EmailMessage, sender: str | None = None) -> tuple[int, str]:
        """(code, text) of the reply to the final dot, or to MAIL or RCPT if refused there."""
        envelope = sender or parseaddr(str(message["From"]))[1]
        code, text = self.smtp.mail(envelope)
        if code == 250:
            named = [str(v) for f in ("To", "Cc", "Bcc") for v in message.get_all(f, [])]
            for _, address in getaddresses(named):
                code, text = self.smtp.rcpt(address)
                if code != 250:
                    break
        if code != 250:
            self.smtp.rset()
            return code, text.decode()
        code, text = self.smtp.data(message.as_bytes(policy=SMTP))
        return code, text.decode()

    def close(self) -> None:
        try:
            self.smtp.quit()
        except (smtplib.SMTPServerDisconnected, OSError):
            self.smtp.close()


def send_logged_in(port: int, tls: GatewayTls, *messages: EmailMessage) -> list[tuple[int, str]]:
    """One agent's session (STARTTLS, AUTH as alice): each message's answer, in order."""
    agent = Agent(port, tls)
    agent.login()
    try:
        return [agent.send(message) for message in messages]
    finally:
        agent.close()
