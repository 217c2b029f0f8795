"""``maild threads`` and ``maild show``: the conversation views, one command away."""

__all__ = ["HANDLERS", "add_parsers"]

import argparse
import asyncio
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from maild.config import Settings
from maild.daemon import Loader
from maild.errors import MaildError
from maild.ingest.seen import mark_seen_on_server
from maild.store import Store
from maild.store.thread_views import VIEWS, ThreadQuery
from maild.views import conversation_as_json, thread_as_text, threads_as_json, threads_as_table

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
    print(threads_as_json(rows) if args.json else threads_as_table(rows, datetime.now(UTC)))
    return EX_OK


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _show(settings: Settings, args: argparse.Namespace, _load: Loader) -> int:
    store = _store(settings)
    try:
        found = store.show_thread(args.thread_id, _utcnow())
        mailbox = settings.mailboxes.get(found[0].mailbox) if found else None
        locations = store.inbound_locations(args.thread_id) if mailbox else {}
    finally:
        store.close()
    if found is None:
        raise MaildError(f"no conversation {args.thread_id}")
    row, messages = found
    if mailbox is not None and mailbox.imap.mark_seen and locations:
        try:
            asyncio.run(mark_seen_on_server(row.mailbox, mailbox, locations, _utcnow))
        except MaildError as exc:  # the conversation was shown; only the server flag failed
            print(f"maild: warning: could not mark it seen on the server: {exc}", file=sys.stderr)
    print(conversation_as_json(row, messages) if args.json else thread_as_text(row, messages))
    return EX_OK


HANDLERS: dict[str, Callable[[Settings, argparse.Namespace, Loader], int]] = {
    "threads": _threads,
    "show": _show,
}
