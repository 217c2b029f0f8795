"""Where one message's time goes, stage by stage: CPU time on one core, in-process.

    PYTHONPATH=. .venv/bin/python bench/ingest_stages.py [--count 3000] [--preset amazon]

``bench/ingest.py`` measures the whole path against mbsync and a naive stack; this
says which stage the time is spent in. It lands ``--count`` generated ~13 KB messages
(``tests/support/mailgen``) in a fresh SQLite file through ``prepare_batch`` and
``Store.land`` (landing, as ``maild run`` does it, without the IMAP transfer), then
runs the real ``process_batch`` over them in batches of 250, with each stage's
function wrapped in a CPU-time counter. CPU time of this thread (``thread_time``)
is reported rather than wall time: the machines are shared, and CPU time is what a
stage costs however busy the other cores are. The shipped classifier counts when it
ships (``maild/classify/default_model.npz``); ``--no-model`` leaves it out. Loading it
(numpy, the arrays) happens once per worker process and is reported
apart from the per-message figures.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support.mailgen


from maild.ingest import workers
from maild.ingest.fetch_response import FetchedMessage
from maild.ingest.rules import MailboxRules
from maild.ingest.sync import prepare_batch
from maild.store import Store
from maild.threads.presets import load_preset
from tests.support.mailgen import make_messages

NOW = datetime(2026, 11, 24, tzinfo=UTC)
Spent = defaultdict[str, float]  # CPU seconds by stage
BATCH = 250
# (label, owner, attribute): each is the function the pipeline itself calls.
STAGES: tuple[tuple[str, Any, str], ...] = (
    ("read stored bytes", Store, "raw_messages"),
    ("parse (MIME, headers, text)", workers, "parse_parts"),
    ("machine-mail detection", workers, "detect"),
    ("conversation facts (order IDs)", workers, "conversation_facts"),
    ("tags", workers, "tags_for"),
    ("classifier", workers, "_classified"),
    ("save results + threading", Store, "save_and_thread"),
)


@contextmanager
def counted(spent: Spent) -> Iterator[None]:
    """Wrap every stage so that its CPU time adds up under its label."""
    originals = [(owner, name, getattr(owner, name)) for _, owner, name in STAGES]
    for (label, owner, name), (_, _, original) in zip(STAGES, originals, strict=True):
        setattr(owner, name, _timed(label, original, spent))
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def _timed(label: str, function: Callable[..., Any], spent: Spent) -> Callable[..., Any]:
    @functools.wraps(function)
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] += time.thread_time() - start

    return timed


def land(store: Store, raws: list[bytes]) -> float:
    """Hash, compress and store ``raws`` as landing does; the CPU seconds it took."""
    start = time.thread_time()
    for first in range(0, len(raws), BATCH):
        chunk = raws[first : first + BATCH]
        fetched = [FetchedMessage(first + i + 1, raw, NOW, ()) for i, raw in enumerate(chunk)]
        batch = prepare_batch(fetched, first + len(chunk))
        store.land("shop", "INBOX", 1, batch.messages, batch.last_uid, NOW)
    return time.thread_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--preset", default="amazon")
    parser.add_argument("--no-model", action="store_true")
    parser.add_argument(
        "--one-hop", action="store_true", help="mail with one Received header (see bench/ingest.py)"
    )
    args = parser.parse_args()
    raws = list(make_messages(args.count, seed=args.count, one_hop=args.one_hop))
    model = Path(workers.__file__).parents[1] / "classify" / "default_model.npz"
    use_model = model.is_file() and not args.no_model
    rules = {"shop": MailboxRules(load_preset(args.preset), str(model) if use_model else None)}
    with tempfile.TemporaryDirectory(prefix="maild-stages-") as tmp:
        store = Store.open(f"sqlite:///{tmp}/maild.db")
        store.ensure_mailboxes({"shop": "support@shop.example"}, NOW)
        landing = land(store, raws)
        loading = time.thread_time()
        # What a worker does once before its first batch: load the arrays and import what
        # classifying needs (reported apart), and set the garbage collector as it runs.
        workers.warm_up([(str(model), None)] if use_model else [])
        loading = time.thread_time() - loading
        pks = store.pending(limit=args.count)
        spent: Spent = defaultdict(float)
        start = time.thread_time()
        with counted(spent):
            for first in range(0, len(pks), BATCH):
                workers.process_batch(store, pks[first : first + BATCH], NOW, rules)
        processing = time.thread_time() - start
        store.close()
    per = 1e6 / args.count
    print(f"{args.count} messages, preset {args.preset}, classifier {'on' if use_model else 'off'}")
    print(f"  {'landing (hash, compress, store)':34} {landing * per:7.0f} us/msg")
    if use_model:
        print(f"  {'(classifier ready, once a worker)':34} {loading * 1e3:7.0f} ms")
    for label, _, _ in STAGES:
        print(f"  {label:34} {spent[label] * per:7.0f} us/msg")
    rest = processing - sum(spent.values())
    print(f"  {'rest of processing':34} {rest * per:7.0f} us/msg")
    print(f"  {'processing in all':34} {processing * per:7.0f} us/msg")


if __name__ == "__main__":
    main()
