"""Turn an agent's reply into a queued outbox message: fill, check, compose, store.

The policy is checked on exactly what will be sent (the filled template, the
subject) before anything is stored, so a violating message is refused with the
reasons and exists nowhere as sendable. An accepted one gets its Message-ID,
In-Reply-To and References here and is committed as ``queued``; no network I/O
happens in this module: the daemon (or ``maild run --once``) sends it.
"""

from __future__ import annotations

__all__ = ["Body", "PolicyRefusal", "Queued", "queue_proactive", "queue_reply"]

import secrets
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from functools import partial

from maild.config.settings import MailboxSettings, Settings
from maild.errors import MaildError
from maild.outbound.compose import Outgoing, compose, make_message_id, reply_subject
from maild.outbound.mailbox_check import check_draft
from maild.outbound.model import Draft, Violation
from maild.outbound.template_files import load_template, template_dir
from maild.outbound.templates import FilledTemplate, fill
from maild.store import Store
from maild.store import outbox as rows


class PolicyRefusal(MaildError):
    """The message breaks the mailbox's outbound rules; nothing was stored."""

    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        rules = ", ".join(sorted({v.rule for v in violations}))
        super().__init__(f"refused by the outbound policy ({rules}); nothing was queued")


@dataclass(frozen=True, slots=True)
class Body:
    """The text to send: a template with variables, or a finished text."""

    template: str | None = None
    variables: tuple[tuple[str, str], ...] = ()
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Queued:
    outbox_id: int
    message_id: str
    mailbox: str
    recipients: tuple[str, ...]
    subject: str


def _sending_mailbox(settings: Settings, name: str) -> MailboxSettings:
    mailbox = settings.mailboxes.get(name)
    if mailbox is None:
        known = ", ".join(settings.mailboxes) or "none"
        raise MaildError(f"no mailbox {name!r} in the configuration (configured: {known})")
    if mailbox.smtp is None:
        raise MaildError(f"mailbox {name!r} has no [smtp] table, so it cannot send")
    return mailbox


def _text(settings: Settings, body: Body, facts: dict[str, str | None]) -> FilledTemplate:
    """The body to send, with the template's subject and ticket action if it has them."""
    if body.text is not None:
        if not body.text.strip():
            raise MaildError("the message has no text; nothing was queued")
        return FilledTemplate(None, body.text)
    if body.template is None:
        raise MaildError("give a template or a body")
    template = load_template(template_dir(settings), body.template)
    values = {k: v for k, v in facts.items() if v is not None}
    values.update(body.variables)
    return fill(template, values)


def _queue(
    settings: Settings,
    store: Store,
    mailbox_name: str,
    message: Outgoing,
    *,
    thread_id: int | None,
    order_id: str | None,
    now: datetime,
) -> Queued:
    mailbox = _sending_mailbox(settings, mailbox_name)
    found = check_draft(settings, mailbox, Draft(message.body, subject=message.subject))
    if found:
        store.run(
            partial(
                rows.record_refusal,
                mailbox=mailbox_name,
                rules={v.rule for v in found},
                origin="agent",
                thread_id=thread_id,
                now=now,
            )
        )
        raise PolicyRefusal(found)
    message_id = make_message_id(message.sender, secrets.token_hex(16))
    raw = compose(message, message_id, now)
    outbox_id = store.run(
        partial(
            rows.enqueue,
            mailbox=mailbox_name,
            thread_id=thread_id,
            order_id=order_id,
            message_id=message_id,
            raw=raw,
            sender=message.sender,
            recipients=message.to,
            subject=message.subject,
            now=now,
        )
    )
    return Queued(outbox_id, message_id, mailbox_name, message.to, message.subject)


def _one(values: tuple[str, ...]) -> str | None:
    """A fact a template can use only when it is unambiguous."""
    return values[0] if len(values) == 1 else None


def queue_reply(
    settings: Settings,
    store: Store,
    thread_id: int,
    body: Body,
    now: datetime,
    subject: str | None = None,
) -> Queued:
    """Queue a reply to the customer's latest message in conversation ``thread_id``."""
    context = store.run(partial(rows.reply_context, thread_id=thread_id))
    if context is None:
        raise MaildError(f"no conversation {thread_id}")
    if context.reply_to is None or context.answers is None:
        raise MaildError(f"conversation {thread_id} has no customer message to reply to")
    mailbox = _sending_mailbox(settings, context.mailbox)
    facts = {
        "order_id": _one(context.order_ids),
        "customer_name": context.customer_name,
        "shop_name": mailbox.outbound.shop_name,
        "sub_order_id": _one(context.sub_order_ids),
    }
    filled = _text(settings, body, facts)
    message = Outgoing(
        sender=mailbox.address,
        to=(context.reply_to,),
        subject=subject or reply_subject(context.subject),
        body=filled.body,
        sender_name=mailbox.outbound.shop_name,
        in_reply_to=context.answers,
        references=context.references,
        ticket=filled.ticket,
    )
    return _queue(
        settings,
        store,
        context.mailbox,
        message,
        thread_id=thread_id,
        order_id=_one(context.order_ids),
        now=now,
    )


def queue_proactive(
    settings: Settings,
    store: Store,
    mailbox_name: str,
    to: str,
    order_id: str,
    body: Body,
    now: datetime,
    subject: str | None = None,
) -> Queued:
    """Queue a first message to a buyer about an order (DOMAIN.md: a proactive message)."""
    mailbox = _sending_mailbox(settings, mailbox_name)
    _, address = parseaddr(to)
    if not address or address != to.strip() or "@" not in address:
        raise MaildError(f"--to {to!r} is not one e-mail address (give it without a name or <>)")
    context = store.run(partial(rows.order_context, mailbox=mailbox_name, order_id=order_id))
    facts = {
        "order_id": order_id,
        "customer_name": context.customer_name,
        "shop_name": mailbox.outbound.shop_name,
        "sub_order_id": _one(context.sub_order_ids),
    }
    filled = _text(settings, body, facts)
    chosen = subject or filled.subject
    if not chosen:
        raise MaildError("a proactive message needs a subject: give --subject")
    message = Outgoing(
        sender=mailbox.address,
        to=(address,),
        subject=chosen,
        body=filled.body,
        sender_name=mailbox.outbound.shop_name,
        ticket=filled.ticket,
    )
    return _queue(
        settings,
        store,
        mailbox_name,
        message,
        thread_id=context.thread_id,
        order_id=order_id,
        now=now,
    )
