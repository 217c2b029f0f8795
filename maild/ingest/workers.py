"""Code that runs inside parse worker processes; kept light so workers start fast.

Workers are forked at the start of a run that syncs and exits, spawned otherwise
(``Processor.start_workers``), and die with maild: if maild is killed outright
(SIGKILL, OOM), nothing is left behind parsing for a dead parent. They
also run at a lower CPU priority than maild itself, so that landing (what makes
a message safe) is never slowed by parsing, which may lag.

A worker reads the messages it is given from the database, parses them and
writes the results itself: maild's own process only hands out message keys, so
its time (and its GIL) stays with landing while a large folder is synced.
"""

__all__ = [
    "BatchReport",
    "parse_batch",
    "process_batch",
    "process_in_worker",
    "warm_up",
    "worker_init",
]

import ctypes
import dataclasses
import functools
import gc
import os
import signal
import sys
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from maild.classify.tags import notice_tags, outbound_tags, tags_for
from maild.domain import LandedMessage, ProcessOutcome
from maild.errors import ParseError
from maild.ingest.autoreply import detect
from maild.ingest.parse import Parts, parse_parts
from maild.ingest.rules import MailboxRules
from maild.store import Store
from maild.store.types import compress_raw
from maild.threads.facts import conversation_facts
from maild.threads.orderids import OrderRefs, SubOrder
from maild.threads.presets import load_preset

if TYPE_CHECKING:
    from maild.classify.message import MessageText
    from maild.classify.model import Classifier

_PR_SET_PDEATHSIG = 1
_NICENESS = 10
# Allocations (less deallocations) between two collections of the youngest objects;
# CPython's default is 700.
_YOUNG_COLLECTION = 7_000

_stores: dict[str, Store] = {}


@dataclass(frozen=True, slots=True)
class BatchReport:
    """What a processed batch came to: small enough to send back from a worker."""

    processed: int
    quarantined: tuple[tuple[int, str], ...]
    classified: tuple[tuple[str, int], ...] = ()


def worker_init(parent: int) -> None:
    """Lower this worker's priority; ask Linux to SIGKILL it when maild goes."""
    os.nice(_NICENESS)
    if sys.platform == "linux":
        # The C library is loaded already: no find_library, which runs ldconfig in a
        # subprocess (a fork of this whole process) in every new worker.
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


@functools.cache
def _generic() -> MailboxRules:
    return MailboxRules(load_preset("generic"))


def _classifier(path: str, digest: str | None) -> "Classifier":
    # Imported here: numpy adds to every worker's start, and a mailbox without a model
    # never needs it.
    from maild.classify.shared import shared_model

    return shared_model(path, digest)


def warm_up(models: Collection[tuple[str, str | None]]) -> None:
    """Get a new worker ready to classify: load each model and classify one empty
    message, which imports what classifying needs.

    A process pool starts its processes one submission at a time, each when no other
    is idle; handed this first, every worker of a new pool starts and gets ready at
    once, instead of the second one starting only after the first one's first batch.

    What is loaded by then (modules, presets, models) lives as long as the worker, so it
    is moved out of the garbage collector's sight: otherwise every full collection walks
    all of it again (bench/ingest_stages.py: full collections 0.22 -> 0.10 s of CPU
    over 3,000 messages). Young objects are collected less often, too: a batch makes
    and drops millions of objects, nearly all freed as soon as they are dropped, so a
    collection every 700 allocations mostly walks what is about to be freed anyway
    (at 7,000: 473 -> 198 collections, 0.11 -> 0.06 s over the same messages).
    """
    from maild.classify.message import MessageText

    for path, digest in models:
        _classifier(path, digest).predict([MessageText()])
    gc.freeze()
    gc.set_threshold(_YOUNG_COLLECTION, *gc.get_threshold()[1:])


def _process_one(
    message: LandedMessage, rules: MailboxRules
) -> tuple[ProcessOutcome, Parts | None]:
    if message.unreadable is not None:
        return ProcessOutcome(message.pk, None, message.unreadable), None
    compressed = None if message.compressed else compress_raw(message.raw)
    try:
        parsed, parts = parse_parts(message.raw)
    except ParseError as exc:
        return ProcessOutcome(message.pk, None, f"unparseable: {exc}", compressed), None
    machine = detect(parsed)
    facts = conversation_facts(parsed, message.direction, rules.preset)
    tags: tuple[str, ...] = ()
    if message.direction == "in" and machine is None:
        refs = OrderRefs(
            facts.order_ids, tuple(SubOrder(s, p) for s, p in facts.sub_orders), facts.from_quote
        )
        found = tags_for(
            parsed.subject,
            parsed.text,
            parsed.headers,
            parsed.from_addr,
            refs,
            rules.preset,
            from_name=parsed.from_name,
        )
        tags = tuple(sorted(found))
    elif message.direction == "in":
        found = notice_tags(
            parsed.subject, parsed.text, parsed.headers, parsed.from_addr, rules.preset
        )
        tags = tuple(sorted(found))
    elif machine is None:
        tags = tuple(sorted(outbound_tags(parsed.headers)))
    outcome = ProcessOutcome(
        message.pk,
        parsed,
        compressed=compressed,
        machine_kind=None if machine is None else machine.kind.value,
        facts=facts,
        tags=tags,
    )
    return outcome, parts


def _classified(
    outcomes: list[ProcessOutcome],
    messages: Sequence[LandedMessage],
    parts: Sequence[Parts | None],
    rules: Sequence[MailboxRules],
) -> list[ProcessOutcome]:
    """Add the classifier's verdict to inbound mail a person wrote, one model call per model.

    The classifier reads the header and parts parsing already read, with its own reader
    of them, so what it sees is exactly what it was trained on; a message whose header
    did not start at its first byte is read again from its bytes, as training read it.
    """
    wanted: dict[tuple[str, str | None], list[int]] = {}
    for index, (outcome, rule) in enumerate(zip(outcomes, rules, strict=True)):
        # Inbound mail a person wrote is what the model judges.
        person = messages[index].direction == "in" and outcome.machine_kind is None
        if rule.model and outcome.parsed is not None and person:
            wanted.setdefault((rule.model, rule.model_digest), []).append(index)
    if not wanted:
        return outcomes
    from maild.classify.mime import message_from_parts, message_from_raw

    def text_of(index: int) -> "MessageText":
        read = parts[index]
        if read is None or not read.from_start:
            return message_from_raw(messages[index].raw)
        return message_from_parts(
            read.headers, read.content, read.people, subject=read.subject, pages=read.pages
        )

    for (model, digest), indexes in wanted.items():
        classifier = _classifier(model, digest)
        texts = [text_of(i) for i in indexes]
        for i, verdict in zip(indexes, classifier.predict(texts), strict=True):
            outcomes[i] = dataclasses.replace(outcomes[i], verdict=verdict)
    return outcomes


def parse_batch(
    messages: Sequence[LandedMessage], rules: Mapping[str, MailboxRules]
) -> list[ProcessOutcome]:
    """Parse, compress, tag, classify and read the conversation facts of a batch.

    One message's failure becomes its own quarantine reason. ``rules`` holds each
    mailbox's preset and model; a mailbox no longer configured gets the generic preset.
    """
    outcomes = []
    parts: list[Parts | None] = []
    chosen = [rules.get(message.mailbox) or _generic() for message in messages]
    for message, rule in zip(messages, chosen, strict=True):
        try:
            outcome, read = _process_one(message, rule)
        except Exception as exc:  # a bug must cost one message, not the mailbox
            reason = f"parser failed: {type(exc).__name__}: {exc}"
            again = None if message.compressed else compress_raw(message.raw)
            outcome, read = ProcessOutcome(message.pk, None, reason, again), None
        outcomes.append(outcome)
        parts.append(read)
    return _classified(outcomes, messages, parts, chosen)


def process_batch(
    store: Store, pks: Sequence[int], now: datetime, rules: Mapping[str, MailboxRules]
) -> BatchReport:
    """Read, parse and write back one batch, then thread whatever is ready.

    Runs in whichever process or thread is free; threading takes a lock in the
    database, so conversations are resolved by one worker at a time, in landing order.
    """
    outcomes = parse_batch(store.raw_messages(pks), rules)
    store.save_and_thread(outcomes, now)
    quarantined = tuple((o.pk, o.error or "") for o in outcomes if o.parsed is None)
    labels = Counter(o.verdict.label for o in outcomes if o.verdict is not None)
    return BatchReport(len(outcomes) - len(quarantined), quarantined, tuple(labels.items()))


def process_in_worker(
    url: str, pks: Sequence[int], now: datetime, rules: Mapping[str, MailboxRules]
) -> BatchReport:
    """:func:`process_batch` in a worker process, on that process's own connection."""
    store = _stores.get(url)
    if store is None:
        store = _stores[url] = Store.attach(url)
    return process_batch(store, pks, now, rules)
