"""Code that runs inside parse worker processes; kept light so workers start fast.

Workers are started with ``spawn`` and die with maild: if maild is killed
outright (SIGKILL, OOM), nothing is left behind parsing for a dead parent. They
also run at a lower CPU priority than maild itself, so that landing (what makes
a message safe) is never slowed by parsing, which may lag.

A worker reads the messages it is given from the database, parses them and
writes the results itself: maild's own process only hands out message keys, so
its time (and its GIL) stays with landing while a large folder is synced.
"""

__all__ = ["BatchReport", "parse_batch", "process_batch", "process_in_worker", "worker_init"]

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from maild.domain import ProcessOutcome
from maild.errors import ParseError
from maild.ingest.autoreply import detect
from maild.ingest.parse import parse
from maild.store import Store
from maild.store.types import compress_raw

_PR_SET_PDEATHSIG = 1
_NICENESS = 10

_stores: dict[str, Store] = {}


@dataclass(frozen=True, slots=True)
class BatchReport:
    """What a processed batch came to: small enough to send back from a worker."""

    processed: int
    quarantined: tuple[tuple[int, str], ...]


def worker_init(parent: int) -> None:
    """Lower this worker's priority; ask Linux to SIGKILL it when maild goes."""
    os.nice(_NICENESS)
    if sys.platform == "linux":
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(1)


def parse_batch(rows: Sequence[tuple[int, bytes]]) -> list[ProcessOutcome]:
    """Parse and compress a batch; one message's failure becomes its own quarantine reason."""
    outcomes = []
    for pk, raw in rows:
        compressed = compress_raw(raw)
        try:
            parsed = parse(raw)
            machine = detect(parsed)
            kind = None if machine is None else machine.kind.value
            outcomes.append(ProcessOutcome(pk, parsed, compressed=compressed, machine_kind=kind))
        except ParseError as exc:
            outcomes.append(ProcessOutcome(pk, None, f"unparseable: {exc}", compressed))
        except Exception as exc:  # a parser bug must cost one message, not the mailbox
            reason = f"parser failed: {type(exc).__name__}: {exc}"
            outcomes.append(ProcessOutcome(pk, None, reason, compressed))
    return outcomes


def process_batch(store: Store, pks: Sequence[int], now: datetime) -> BatchReport:
    """Read, parse and write back one batch, in whichever process or thread runs it."""
    outcomes = parse_batch(store.raw_messages(pks))
    store.save_processed(outcomes, now)
    quarantined = tuple((o.pk, o.error or "") for o in outcomes if o.parsed is None)
    return BatchReport(len(outcomes) - len(quarantined), quarantined)


def process_in_worker(url: str, pks: Sequence[int], now: datetime) -> BatchReport:
    """:func:`process_batch` in a worker process, on that process's own connection."""
    store = _stores.get(url)
    if store is None:
        store = _stores[url] = Store.attach(url)
    return process_batch(store, pks, now)
