"""Scrape time with many open conversations: the gauges are kept by a ticker, not a scrape.

Fills a SQLite store with --conversations open conversations (default 100,000) spread
over --mailboxes mailboxes (Amazon's 24 h policy), every tenth one tagged urgent, then
times SLA ticks side by side: a full recount (a ticker's first tick, which reads every
waiting conversation), an incremental tick 30 s later with --changed conversations
changed through the store's own stamping, and a quiet tick 30 s after that. Then
--scrapes HTTP scrapes of /metrics from maild's own endpoint. Medians and p95 in ms.

    PYTHONPATH=. .venv/bin/python bench/scrape.py [--conversations 100000]
"""

import argparse
import json
import statistics
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy.orm import Session

from maild.http_endpoints import serve
from maild.metrics import Metrics
from maild.sla.presets import load_sla_preset
from maild.sla_ticker import SlaTicker
from maild.store import Store, thread_marks
from maild.store.tables import core_table

RESULTS = Path(__file__).with_name("results")
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def fill(store: Store, mailboxes: list[str], conversations: int) -> None:
    store.ensure_mailboxes({name: f"{name}@shop.example" for name in mailboxes}, NOW)
    ids = {name: n + 1 for n, name in enumerate(mailboxes)}
    thread, label = core_table("thread"), core_table("label")
    message, link = core_table("message"), core_table("message_thread")
    with store.engine.begin() as connection:
        connection.execute(
            thread.insert(),
            [
                {
                    "mailbox_id": ids[mailboxes[i % len(mailboxes)]],
                    "key": f"bench:{i}",
                    "unread": True,
                    "messages": 1,
                    "awaiting_since": NOW - timedelta(minutes=(i * 7) % (60 * 48)),
                    "last_message_at": NOW,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
                for i in range(conversations)
            ],
        )
        urgent = range(0, conversations, 10)
        connection.execute(
            message.insert(),
            [
                {
                    "mailbox_id": ids[mailboxes[i % len(mailboxes)]],
                    "message_id": f"<{i}@bench>",
                    "digest": f"{i:064d}",
                    "raw_blob": b"",
                    "raw_size": 0,
                    "landed_at": NOW,
                    "thread_id": i + 1,
                }
                for i in urgent
            ],
        )
        connection.execute(
            link.insert(), [{"message_pk": n + 1, "thread_id": i + 1} for n, i in enumerate(urgent)]
        )
        connection.execute(
            label.insert(),
            [
                {"message_pk": n + 1, "name": "urgent", "source": "rule", "created_at": NOW}
                for n, _ in enumerate(urgent)
            ],
        )


def change(store: Store, conversations: int, mailboxes: int, changed: int, at: datetime) -> None:
    """Move ``changed`` conversations' waits to ``at`` the way threading does: lock, stamp."""
    thread = core_table("thread")
    ids = list(range(1, conversations + 1, max(1, conversations // changed)))[:changed]
    with Session(store.engine) as session:
        for mailbox_id in sorted({(i - 1) % mailboxes + 1 for i in ids}):
            seq = thread_marks.lock(session, mailbox_id)
            mine = [i for i in ids if (i - 1) % mailboxes + 1 == mailbox_id]
            session.execute(thread.update().where(thread.c.id.in_(mine)).values(awaiting_since=at))
            thread_marks.mark(session, mine, seq)
        session.commit()


def ticked(ticker: SlaTicker, at: datetime) -> float:
    start = time.perf_counter()
    ticker.tick(at)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--mailboxes", type=int, default=20)
    parser.add_argument("--scrapes", type=int, default=100)
    parser.add_argument("--changed", type=int, default=100)
    args = parser.parse_args()
    mailboxes = [f"shop-{n:02d}" for n in range(args.mailboxes)]
    with tempfile.TemporaryDirectory(prefix="maild-bench-") as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'maild.db'}")
        fill(store, mailboxes, args.conversations)
        metrics = Metrics(CollectorRegistry())
        for name in mailboxes:
            metrics.mailbox_configured(name, ("INBOX",))
        policy = load_sla_preset("amazon")
        ticker = SlaTicker(store, metrics, {})
        ticker.configure(dict.fromkeys(mailboxes, policy))
        full_ms = ticked(ticker, NOW)
        later = NOW + timedelta(seconds=30)
        change(store, args.conversations, args.mailboxes, args.changed, later)
        incremental_ms = ticked(ticker, later)
        quiet_ms = ticked(ticker, later + timedelta(seconds=30))
        server = serve("127.0.0.1", 0, metrics.registry, lambda: [])
        port = server.server_address[1]
        samples = []
        size = 0
        for _ in range(args.scrapes):
            start = time.perf_counter()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as reply:
                size = len(reply.read())
            samples.append((time.perf_counter() - start) * 1000)
        server.shutdown()
        server.server_close()
        store.close()
    samples.sort()
    figures = {
        "conversations": args.conversations,
        "mailboxes": args.mailboxes,
        "sla_tick_full_recount_ms": full_ms,
        "sla_tick_incremental_ms": incremental_ms,
        "sla_tick_incremental_changed": args.changed,
        "sla_tick_quiet_ms": quiet_ms,
        "scrape_median_ms": statistics.median(samples),
        "scrape_p95_ms": samples[int(0.95 * (len(samples) - 1))],
        "scrape_bytes": size,
    }
    print(json.dumps(figures, indent=2))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"scrape-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(figures, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
