"""``maild reply``, ``maild send``, ``maild retry`` and ``maild outbox``: the agent's side.

These only touch the database: a reply is checked, composed and queued here, and
the daemon (or ``maild run --once``) sends it. So an agent's command returns at
once and never waits on an SMTP server, and a reply refused by the policy is
reported with every violation and exit 1, having been stored nowhere.
"""

from __future__ import annotations

__all__ = ["HANDLERS", "add_parsers"]

import argparse
import json
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from maild.clock import utcnow
from maild.errors import MaildError
from maild.outbound.commands import violation_text
from maild.outbound.outbox import STATES, requeued
from maild.outbound.queueing import Body, PolicyRefusal, Queued, queue_proactive, queue_reply
from maild.report import iso
from maild.store import Store
from maild.store import outbox as rows
from maild.store.outbox import OutboxRow

if TYPE_CHECKING:
    from maild.config import Loader, Settings

_EX_OK, _EX_REFUSED = 0, 1  # maild.cli's codes; cli imports this module


def _variable(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


def _body_options(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--template", metavar="NAME", help="a reply template (see README, Replies)")
    which.add_argument("--body-file", metavar="FILE", help="the text to send (UTF-8); - is stdin")
    parser.add_argument(
        "--var",
        action="append",
        default=[],
        type=_variable,
        metavar="NAME=VALUE",
        help="a template variable (repeatable); overrides what the conversation supplies",
    )
    parser.add_argument("--subject", help="the subject (default: Re: the conversation's)")


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``reply``, ``send``, ``retry`` and ``outbox`` to ``commands``."""
    reply = commands.add_parser(
        "reply",
        help="queue a reply to a conversation (checked against the outbound policy)",
        description="Reply to the customer's latest message in a conversation. The text "
        "is checked against the mailbox's outbound rules and queued; `maild run` sends it.",
    )
    reply.add_argument("thread_id", type=int, metavar="THREAD_ID")
    _body_options(reply)
    send = commands.add_parser(
        "send",
        help="queue a first message to a buyer about an order (proactive message)",
        description="Write to a buyer first, about an order; it joins the order's "
        "conversation. Checked against the outbound rules and queued like a reply.",
    )
    send.add_argument("--mailbox", required=True, metavar="NAME", help="configured mailbox")
    send.add_argument("--to", required=True, metavar="ADDRESS", help="the buyer's address")
    send.add_argument("--order-id", required=True, metavar="ID", help="the order it is about")
    _body_options(send)
    retry = commands.add_parser(
        "retry",
        help="send a failed message again",
        description="Queue a message from the Failed view again, with fresh attempts.",
    )
    retry.add_argument("ref", metavar="MESSAGE_ID", help="its Message-ID or outbox id")
    outbox = commands.add_parser(
        "outbox",
        help="list outgoing messages and their state",
        description="Outgoing messages: queued, sending, sent or failed (with the answer).",
    )
    outbox.add_argument("--state", choices=STATES, action="append", help="only these states")
    outbox.add_argument("--json", action="store_true", help="print JSON for programs")


def _body(args: argparse.Namespace) -> Body:
    if args.template is not None:
        return Body(template=args.template, variables=tuple(args.var))
    try:
        raw = (
            sys.stdin.buffer.read() if args.body_file == "-" else Path(args.body_file).read_bytes()
        )
    except OSError as exc:
        raise MaildError(f"cannot read {args.body_file}: {exc.strerror or exc}") from exc
    return Body(text=raw.decode("utf-8", "replace"))


def _queued(settings: Settings, queue: Callable[[Store], Queued]) -> int:
    store = Store.open(settings.database.url)
    try:
        queued = queue(store)
    except PolicyRefusal as refusal:
        print("\n".join(violation_text(v) for v in refusal.violations), file=sys.stderr)
        print(f"maild: {refusal}", file=sys.stderr)
        return _EX_REFUSED
    finally:
        store.close()
    print(
        f"queued {queued.message_id} (outbox {queued.outbox_id}) from {queued.mailbox} to "
        f"{', '.join(queued.recipients)}: {queued.subject}"
    )
    return _EX_OK


def _reply(settings: Settings, args: argparse.Namespace, _load: Loader) -> int:
    body = _body(args)
    return _queued(
        settings,
        lambda store: queue_reply(settings, store, args.thread_id, body, utcnow(), args.subject),
    )


def _send(settings: Settings, args: argparse.Namespace, _load: Loader) -> int:
    body = _body(args)
    return _queued(
        settings,
        lambda store: queue_proactive(
            settings, store, args.mailbox, args.to, args.order_id, body, utcnow(), args.subject
        ),
    )


def _retry(settings: Settings, args: argparse.Namespace, _load: Loader) -> int:
    store = Store.open(settings.database.url)
    try:
        row = store.run(partial(rows.find, ref=args.ref))
        entry = requeued(row.entry, utcnow())  # a TransitionError names the state it is in
        if not store.run(partial(rows.apply, row=row, entry=entry)):
            raise MaildError(f"{row.message_id} changed meanwhile; look again with maild outbox")
    finally:
        store.close()
    print(f"requeued {row.message_id} (outbox {row.id}); maild run sends it")
    return _EX_OK


def _as_dict(row: OutboxRow) -> dict[str, object]:
    entry = row.entry
    return {
        "id": row.id,
        "message_id": row.message_id,
        "mailbox": row.mailbox,
        "thread_id": row.thread_id,
        "to": list(row.recipients),
        "subject": row.subject,
        "state": entry.state,
        "attempts": entry.attempts,
        "next_attempt_at": iso(entry.next_attempt_at),
        "last_error": entry.last_error,
        "smtp_reply": entry.smtp_reply,
        "created_at": iso(row.created_at),
        "sent_at": iso(entry.sent_at),
        "copied_at": iso(row.copied_at),
    }


def _outbox(settings: Settings, args: argparse.Namespace, _load: Loader) -> int:
    store = Store.open(settings.database.url)
    try:
        found = store.run(partial(rows.listing, states=tuple(args.state or STATES)))
    finally:
        store.close()
    if args.json:
        print(json.dumps([_as_dict(r) for r in found], ensure_ascii=False, indent=2))
        return _EX_OK
    for row in found:
        e = row.entry
        print(f"{row.id:>5} {e.state:<8} {row.mailbox} {row.message_id} {row.subject or ''}")
        if e.last_error:
            print(f"      attempts {e.attempts}: {e.last_error}")
    return _EX_OK


HANDLERS: dict[str, Callable[[Settings, argparse.Namespace, Loader], int]] = {
    "reply": _reply,
    "send": _send,
    "retry": _retry,
    "outbox": _outbox,
}
