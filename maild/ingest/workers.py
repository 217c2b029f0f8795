"""Code that runs inside parse worker processes; kept light so workers start fast.

Workers are started with ``spawn`` and die with maild: if maild is killed
outright (SIGKILL, OOM), nothing is left behind parsing for a dead parent. They
also run at a lower CPU priority than maild itself, so that landing (what makes
a message safe) is never slowed by parsing, which may lag.
"""

__all__ = ["parse_batch", "worker_init"]

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Sequence

from maild.domain import ProcessOutcome
from maild.errors import ParseError
from maild.ingest.parse import parse
from maild.store.types import compress_raw

_PR_SET_PDEATHSIG = 1
_NICENESS = 10


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
            outcomes.append(ProcessOutcome(pk, parse(raw), compressed=compressed))
        except ParseError as exc:
            outcomes.append(ProcessOutcome(pk, None, f"unparseable: {exc}", compressed))
        except Exception as exc:  # a parser bug must cost one message, not the mailbox
            reason = f"parser failed: {type(exc).__name__}: {exc}"
            outcomes.append(ProcessOutcome(pk, None, reason, compressed))
    return outcomes
