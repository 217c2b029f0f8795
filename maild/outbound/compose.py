"""Build the exact bytes of an outgoing message; pure (the token and the time are given).

The bytes built here are what the outbox stores, what SMTP carries and what the
Sent folder keeps, unaltered, so that all three copies are the same message for
audit: CRLF line ends throughout (SMTP would otherwise rewrite them) and a body in
UTF-8 with a transfer encoding any server takes. In-Reply-To names the customer's
message being answered and References carries its chain, so the customer's mail
client, the marketplace's relay and maild's own threading put the reply in the
conversation it answers.
"""

from __future__ import annotations

__all__ = ["TICKET_HEADER", "Outgoing", "compose", "make_message_id", "reply_subject"]

import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Final

# Enough of a long chain for threading; RFC 5322 3.6.4 allows trimming the middle.
MAX_REFERENCES: Final = 20
#: A reply that returns a marketplace ticket for clarification carries ``return`` here;
#: processing reads it back, from the Sent folder's copy, as the tag ``ticket-returned``.
TICKET_HEADER: Final = "X-Maild-Ticket"
_REPLY_PREFIX = re.compile(r"^\s*(re|回复|答复)\s*[:：]", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z0-9._-]{8,64}")


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message as the outbox is asked to send it, before it has an identity."""

    sender: str
    to: tuple[str, ...]
    subject: str
    body: str
    sender_name: str | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    # The template's ticket action ("return"), if it has one.
    ticket: str | None = None


def reply_subject(subject: str | None) -> str:
    """``Re: subject``, without stacking prefixes on a subject that has one already."""
    text = " ".join((subject or "").split())
    return text if _REPLY_PREFIX.match(text) else f"Re: {text}".rstrip()


def make_message_id(sender: str, token: str) -> str:
    """A Message-ID in the sender's own domain, unique by ``token`` (random, from the edge)."""
    if not _TOKEN.fullmatch(token):
        raise ValueError(f"message-id token {token!r} is not 8-64 letters, digits, '.', '_', '-'")
    return f"<{token}@{sender.rpartition('@')[2].lower()}>"


def _references(message: Outgoing) -> list[str]:
    chain = [ref for ref in message.references if ref != message.in_reply_to]
    if message.in_reply_to is not None:
        chain.append(message.in_reply_to)
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1) :]]
    return chain


def compose(message: Outgoing, message_id: str, now: datetime) -> bytes:
    """The message's bytes: CRLF lines, ending in CRLF, ready for SMTP and APPEND."""
    email = EmailMessage(policy=SMTP)
    email["From"] = Address(message.sender_name or "", addr_spec=message.sender)
    email["To"] = ", ".join(message.to)
    email["Subject"] = message.subject
    email["Date"] = format_datetime(now)
    email["Message-ID"] = message_id
    if message.in_reply_to is not None:
        email["In-Reply-To"] = message.in_reply_to
    references = _references(message)
    if references:
        email["References"] = " ".join(references)
    if message.ticket is not None:
        email[TICKET_HEADER] = message.ticket
    body = message.body.replace("\r\n", "\n").replace("\r", "\n")
    email.set_content(body if body.endswith("\n") else body + "\n", charset="utf-8")
    return email.as_bytes()
