"""One message from a mail client: check it as ``maild reply`` would, then queue or refuse.

Runs in a worker thread (parsing, the policy, perhaps the classifier, the database).
The message is kept as the client wrote it, threading headers included; only a
missing Message-ID or Date is added in front, as RFC 6409 8.2-8.3 lets a submission
server do, so the Message-ID the outbox, the upstream server and the Sent folder see
is one. A Bcc field is taken out (RFC 5322 3.6.3): its addresses get the message by
the envelope, and the buyer must not see who else got a blind copy. A refusal is
recorded (one ``policy_refusal`` row per rule, origin "gateway"), which the SLA ticker
counts in ``maild_outbound_blocked_total``; the body is never logged.
"""

from __future__ import annotations

__all__ = ["Accepted", "Refused", "Submission", "submit"]

import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import format_datetime, getaddresses
from functools import partial

from sqlalchemy.orm import Session

from maild.config.settings import Settings
from maild.errors import MaildError
from maild.gateway.replies import policy_refusal, sender_allowed, sender_refusal
from maild.ingest import fields
from maild.ingest.identity import message_key
from maild.outbound.compose import make_message_id
from maild.outbound.drafts import read_draft
from maild.outbound.mailbox_check import check_draft
from maild.store import Store
from maild.store import outbox as rows
from maild.store.submissions import queued_already, thread_answered

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Submission:
    """What the SMTP conversation gathered for one message."""

    mailbox: str
    agent: str
    mail_from: str
    recipients: tuple[str, ...]
    raw: bytes
    senders: tuple[str, ...]  # the addresses this agent may send as


@dataclass(frozen=True, slots=True)
class Accepted:
    outbox_id: int
    message_id: str
    again: bool  # the client had submitted this Message-ID already


@dataclass(frozen=True, slots=True)
class Refused:
    reply: str
    # Metrics label: a policy rule, "sender" or "unreadable".
    rules: tuple[str, ...]


_BCC = re.compile(rb"bcc[ \t]*:", re.IGNORECASE)


def _without_bcc(raw: bytes) -> bytes:
    """``raw`` without its Bcc fields, their folded continuation lines included."""
    block = fields.find_block(raw, 0, len(raw), strict_end=False)
    kept: list[bytes] = []
    dropping = False
    for line in raw[block.start : block.end].splitlines(keepends=True):
        if not line.startswith((b" ", b"\t")):
            dropping = _BCC.match(line) is not None
        if not dropping:
            kept.append(line)
    return raw[: block.start] + b"".join(kept) + raw[block.end :]


def _with_identity(raw: bytes, headers: Message, sender: str, now: datetime) -> bytes:
    """``raw`` with a Message-ID and a Date in front where ``headers`` (its own, read
    once by the caller) lack them."""
    added = b""
    if headers["Message-ID"] is None or message_key(raw).synthetic:
        message_id = make_message_id(sender, secrets.token_hex(16))
        added += f"Message-ID: {message_id}\r\n".encode()
    if headers["Date"] is None:
        added += f"Date: {format_datetime(now)}\r\n".encode()
    return added + raw


def _ids(value: str | None) -> list[str]:
    return [f"<{part.split('>')[0]}>" for part in (value or "").split("<")[1:] if ">" in part]


def submit(
    settings: Settings, store: Store, submission: Submission, now: datetime
) -> Accepted | Refused:
    """Queue ``submission`` in the outbox (committed) or say why not; never both."""
    mailbox = settings.mailboxes[submission.mailbox]
    headers = BytesHeaderParser().parsebytes(submission.raw)
    authors = [address for _, address in getaddresses(headers.get_all("From", []))]
    for address in authors or [""]:
        if not sender_allowed(address, submission.senders):
            return Refused(sender_refusal(address, submission.senders), ("sender",))
    sender = submission.mail_from or authors[0]
    raw = _with_identity(_without_bcc(submission.raw), headers, sender, now)
    message_id = message_key(raw).message_id
    replied = [*_ids(headers["In-Reply-To"]), *reversed(_ids(headers["References"]))]

    def look_up(session: Session) -> tuple[int | None, int | None]:
        return (
            queued_already(session, submission.mailbox, message_id),
            thread_answered(session, submission.mailbox, replied),
        )

    previous, thread_id = store.run(look_up)
    if previous is not None:
        return Accepted(previous, message_id, again=True)
    try:
        draft = read_draft(raw, "eml")
    except MaildError as exc:
        return Refused(f"550 5.6.0 The message cannot be read: {exc}", ("unreadable",))
    found = check_draft(settings, mailbox, draft)
    if found:
        rules = tuple(sorted({v.rule for v in found}))
        store.run(
            partial(
                rows.record_refusal,
                mailbox=submission.mailbox,
                rules=rules,
                origin="gateway",
                thread_id=thread_id,
                now=now,
            )
        )
        log.info(
            "gateway refused mailbox=%s agent=%s rules=%s violations=%d",
            submission.mailbox,
            submission.agent,
            ",".join(rules),
            len(found),
        )
        return Refused(policy_refusal(found), rules)
    outbox_id = store.run(
        partial(
            rows.enqueue,
            mailbox=submission.mailbox,
            thread_id=thread_id,
            order_id=None,
            message_id=message_id,
            raw=raw,
            sender=submission.mail_from,
            recipients=submission.recipients,
            subject=str(headers["Subject"] or ""),
            now=now,
        )
    )
    return Accepted(outbox_id, message_id, again=False)
