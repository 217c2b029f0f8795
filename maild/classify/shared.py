"""One loaded copy of each model file per process.

Parse workers and the outbound check judge every message of a mailbox with the same few
megabytes of weights; each loading them on its own would read and verify the file again.
Kept apart from :mod:`maild.classify.model`, whose source is part of the shipped model's
recipe digest.
"""

from __future__ import annotations

__all__ = ["keep", "shared_model"]

import threading
from pathlib import Path

from maild.classify.model import Classifier, load_model

# A few models at most: mailboxes share one, and reloads that point elsewhere are rare.
_KEPT = 8
_loaded: dict[str, Classifier] = {}
_lock = threading.Lock()


def shared_model(path: str) -> Classifier:
    with _lock:
        model = _loaded.get(path)
    if model is None:
        model = load_model(Path(path))
        keep(path, model)
    return model


def keep(path: str, model: Classifier) -> None:
    """Make ``model``, just loaded from ``path``, the one this process shares.

    maild checks each configured model by loading it at start and on reload; kept, the
    check serves the outbound check too, and workers forked afterwards (``run --once``)
    start with it instead of reading and verifying the file again, about 50 ms of CPU
    each. A reload that loads a replaced file replaces the shared copy with it.
    """
    with _lock:
        _loaded.pop(path, None)
        _loaded[path] = model
        while len(_loaded) > _KEPT:
            del _loaded[next(iter(_loaded))]
