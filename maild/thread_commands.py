"""``maild threads``, ``maild show``, ``maild flag`` and ``unflag``: the conversation views.

Flag and unflag name a message the way ``maild show`` prints it (``ref``
THREAD_ID:N), or by its Message-ID, and refuse with the rule's name and reason
what DOMAIN.md does not allow (maild.classify.flagging).
"""

__all__ = ["HANDLERS", "add_parsers"]

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from maild.classify.flagging import REASONS
from maild.clock import utcnow
from maild.config import Loader, Settings
from maild.errors import MaildError
from maild.ingest.seen import mark_seen_on_server
from maild.sla.presets import mailbox_policies
from maild.sla.state import SlaState, evaluate
from maild.store import Store
from maild.store.flags import FlagChange
from maild.store.thread_views import VIEWS, ThreadQuery, ThreadRow
from maild.views import (
    States,
    conversation_as_json,
    thread_as_text,
    threads_as_json,
    threads_as_table,
)

EX_OK = 0
EX_PROBLEMS = 1


def _since(value: str) -> datetime:
    """An ISO 8601 date or time; without a zone it is UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO 8601 date or time (e.g. 2026-11-01 or 2026-11-01T09:00)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def add_parsers(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    threads = commands.add_parser(
        "threads",
        help="list conversations: a view, optionally searched",
        description="List conversations, longest-waiting first. Unread ones are marked *. "
        "Search terms combine (all must match).",
    )
    threads.add_argument("--view", choices=VIEWS, default="all", help="which view (default all)")
    threads.add_argument("--order-id", metavar="ID", help="an order or sub-order ID, exactly")
    threads.add_argument("--subject", metavar="TEXT", help="subject contains TEXT (any case)")
    threads.add_argument(
        "--customer", metavar="TEXT", help="customer name or address contains TEXT"
    )
    threads.add_argument("--mailbox", metavar="NAME", help="only this mailbox")
    threads.add_argument(
        "--since", metavar="WHEN", type=_since, help="last message at or after WHEN"
    )
    threads.add_argument("--limit", type=int, default=200, help="at most this many (default 200)")
    threads.add_argument("--json", action="store_true", help="print JSON for programs")
    show = commands.add_parser(
        "show",
        help="print one conversation with all its messages",
        description="Print a conversation: each message's direction, time, labels and text. "
        "It then counts as read (it leaves the Unread view).",
    )
    show.add_argument("thread_id", type=int, metavar="THREAD_ID")
    show.add_argument("--json", action="store_true", help="print JSON for programs")
    ref_help = "THREAD_ID:N as maild show prints it (ref), or the message's Message-ID"
    flag = commands.add_parser(
        "flag",
        help="flag a customer's unanswered pre-sale message as spam, fraud or inappropriate",
        description="Flag a message: its conversation leaves the All and Unread views for "
        "Spam until a seller reply follows it. Refused, with the rule, for the seller's own "
        "or machine mail, a Customer Care message, a message tied to an order and an "
        "answered message. Every flag is kept as feedback for maild train.",
    )
    flag.add_argument("ref", metavar="MESSAGE_REF", help=ref_help)
    flag.add_argument("--reason", required=True, choices=REASONS, help="why it is flagged")
    unflag = commands.add_parser(
        "unflag",
        help="take a spam, fraud or inappropriate label off a message",
        description="Take the flag, or the classifier's label, off a message: its "
        "conversation returns to All unless another message keeps it in Spam. Kept as "
        "feedback (the message is ham) for maild train.",
    )
    unflag.add_argument("ref", metavar="MESSAGE_REF", help=ref_help)


def _store(settings: Settings) -> Store:
    return Store.open(settings.database.url)


def _threads(settings: Settings, args: argparse.Namespace, _load: Loader) -> int:
    if args.mailbox is not None and args.mailbox not in settings.mailboxes:
        raise MaildError(f"no mailbox {args.mailbox!r} in {settings.source}")
    query = ThreadQuery(
        view=args.view,
        order_id=args.order_id,
        subject=args.subject,
        customer=args.customer,
        mailbox=args.mailbox,
        since=args.since,
        limit=max(1, args.limit),
    )
    store = _store(settings)
    try:
        rows = store.threads(query)
    finally:
        store.close()
    now = utcnow()
    states = _states(settings, rows, now)
    # Soonest deadline first, then the latest message (DOMAIN.md: every view shows the
    # time left); conversations nothing is due for follow.
    rows.sort(key=lambda r: (_due_key(states.get(r.id)), _latest_first(r)))
    print(threads_as_json(rows, states) if args.json else threads_as_table(rows, states, now))
    return EX_OK


def _states(settings: Settings, rows: Sequence[ThreadRow], now: datetime) -> States:
    policies = mailbox_policies(settings)
    states: dict[int, SlaState | None] = {}
    for row in rows:
        policy = policies.get(row.mailbox)
        states[row.id] = (
            None if policy is None else evaluate(row.awaiting_since, row.labels, policy, now)
        )
    return states


def _due_key(state: SlaState | None) -> tuple[bool, float]:
    due = None if state is None else state.due
    return (due is None, 0.0 if due is None else due.timestamp())


def _latest_first(row: ThreadRow) -> float:
    return -(row.last_message_at.timestamp() if row.last_message_at else 0.0)


def _show(settings: Settings, args: argparse.Namespace, _load: Loader) -> int:
    store = _store(settings)
    try:
        found = store.show_thread(args.thread_id, utcnow())
        mailbox = settings.mailboxes.get(found[0].mailbox) if found else None
        locations = store.inbound_locations(args.thread_id) if mailbox else {}
    finally:
        store.close()
    if found is None:
        raise MaildError(f"no conversation {args.thread_id}")
    row, messages = found
    state = _states(settings, [row], utcnow()).get(row.id)
    if mailbox is not None and mailbox.imap.mark_seen and locations:
        try:
            asyncio.run(mark_seen_on_server(row.mailbox, mailbox, locations, utcnow))
        except MaildError as exc:  # the conversation was shown; only the server flag failed
            print(f"maild: warning: could not mark it seen on the server: {exc}", file=sys.stderr)
    shown = (
        conversation_as_json(row, state, messages)
        if args.json
        else thread_as_text(row, state, messages)
    )
    print(shown)
    return EX_OK


def _flag(settings: Settings, args: argparse.Namespace, _load: Loader) -> int:
    store = _store(settings)
    try:
        change = store.flag(args.ref, args.reason, utcnow())
    finally:
        store.close()
    replaced = f" (replacing {', '.join(change.removed)})" if change.removed else ""
    return _said(change, f"flagged {change.message_id} as {args.reason}{replaced}")


def _unflag(settings: Settings, args: argparse.Namespace, _load: Loader) -> int:
    store = _store(settings)
    try:
        change = store.unflag(args.ref, utcnow())
    finally:
        store.close()
    return _said(change, f"unflagged {change.message_id} (was {', '.join(change.removed)})")


def _said(change: FlagChange, done: str) -> int:
    """Print what a flag or unflag did, or the rule that refused it (exit 1)."""
    if change.refusal is not None:
        print(f"maild: {change.message_id}: {change.refusal}", file=sys.stderr)
        return EX_PROBLEMS
    where = "in the Spam view" if change.in_spam else "in All"
    print(f"{done}; conversation {change.thread_id} is {where}")
    return EX_OK


HANDLERS: dict[str, Callable[[Settings, argparse.Namespace, Loader], int]] = {
    "threads": _threads,
    "show": _show,
    "flag": _flag,
    "unflag": _unflag,
}
