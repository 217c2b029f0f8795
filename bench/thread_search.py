"""Conversation search over a large store: by order ID and by subject, medians of many runs.

Builds a SQLite store with --messages messages (default 100,000) through maild's own
path: landing (Store.land), processing on the worker pool (parse, order IDs, Amazon
preset) and threading. Messages reuse a pool of orders, so conversations have several
messages each. Then times `Store.threads` for --queries random order IDs, sub-string
subject searches, and the default views, and reports medians and p95 in ms. The
first page of All is also timed with the Spam rule as it was before the ``hidden``
column (a subquery on labels and orders per conversation), side by side.

    PYTHONPATH=. .venv/bin/python bench/thread_search.py [--messages 100000]
"""

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, select

from maild.domain import RawMessage
from maild.ingest.identity import message_key
from maild.ingest.pipeline import Processor
from maild.ingest.rules import MailboxRules
from maild.store import Store
from maild.store.tables import core_table
from maild.store.thread_marks import spam_rule
from maild.store.thread_views import ThreadQuery
from maild.threads.presets import load_preset
from tests.support.mailgen import make_message, order_id

RESULTS = Path(__file__).with_name("results")
BATCH = 1000


def now() -> datetime:
    return datetime.now(UTC)


def build(store: Store, messages: int, orders: list[str]) -> float:
    start = time.perf_counter()
    rng = random.Random(7)
    for first in range(1, messages + 1, BATCH):
        batch = []
        for i in range(first, min(messages + 1, first + BATCH)):
            raw = make_message(i, seed=11, order_id=rng.choice(orders))
            key = message_key(raw)
            batch.append(RawMessage(i, raw, key.message_id, key.digest))
        store.land("shop", "INBOX", 1, batch, batch[-1].uid, now())
    rules = {"shop": MailboxRules(load_preset("amazon"))}
    processor = Processor(store, now, rules=rules, batch=500)
    try:
        report = asyncio.run(processor.run())
    finally:
        processor.close()
    assert report.processed == messages, report
    return time.perf_counter() - start


def first_page(store: Store, shown: ColumnElement[bool]) -> None:
    """The All view's first page as find_threads sorts it, with ``shown`` as its filter."""
    t = core_table("thread").c
    with store.engine.connect() as connection:
        connection.execute(
            select(t.id)
            .where(shown)
            .order_by(t.awaiting_since.is_(None), t.awaiting_since, t.last_message_at.desc(), t.id)
            .limit(200)
        ).all()


def timed(run: Callable[[], Any], repeats: int) -> dict[str, float]:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "median_ms": statistics.median(samples),
        "p95_ms": samples[int(0.95 * (len(samples) - 1))],
        "max_ms": samples[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=30_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(3)
    orders = [order_id(rng) for _ in range(args.orders)]
    with tempfile.TemporaryDirectory(prefix="maild-bench-") as tmp:
        store = Store.open(f"sqlite:///{Path(tmp) / 'maild.db'}")
        store.ensure_mailboxes({"shop": "support@shop.example"}, now())
        built = build(store, args.messages, orders)
        stats = store.stats()
        print(f"built {stats.messages} messages, {stats.threads} conversations in {built:.1f}s")
        wanted = iter([rng.choice(orders) for _ in range(args.queries)])
        by_order = timed(lambda: store.threads(ThreadQuery(order_id=next(wanted))), args.queries)
        words = iter(
            [rng.choice(["where is my", "return", "wrong item", "订单", "退货"]) for _ in range(50)]
        )
        by_subject = timed(lambda: store.threads(ThreadQuery(subject=next(words))), 50)
        views = iter(["all", "unread", "response-needed"] * 10)
        by_view = timed(lambda: store.threads(ThreadQuery(view=next(views))), 30)  # type: ignore[arg-type]
        hidden = core_table("thread").c.hidden
        by_rule = timed(lambda: first_page(store, ~spam_rule()), 30)
        by_column = timed(lambda: first_page(store, hidden.is_(False)), 30)
        found = store.threads(ThreadQuery(order_id=orders[0]))
        store.close()
    figures = {
        "messages": args.messages,
        "conversations": stats.threads,
        "build_s": built,
        "build_msgs_per_s": args.messages / built,
        "order_id_search": by_order,
        "subject_search": by_subject,
        "view_first_page": by_view,
        "all_first_page_spam_by_label_rule": by_rule,
        "all_first_page_spam_by_column": by_column,
        "sample_hit": [t.order_ids for t in found],
    }
    print(json.dumps(figures, indent=2, ensure_ascii=False))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"thread-search-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
