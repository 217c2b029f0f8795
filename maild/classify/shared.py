"""One loaded copy of each model file per process.

Parse workers and the outbound check judge every message of a mailbox with the same few
megabytes of weights; each loading them on its own would read and verify the file again.
Kept apart from :mod:`maild.classify.model`, whose source is part of the shipped model's
recipe digest.
"""

from __future__ import annotations

__all__ = ["digest_of", "keep", "shared_model"]

import threading
from pathlib import Path

from maild.classify.model import Classifier, load_model

# A few models at most: mailboxes share one, and reloads that point elsewhere are rare.
_KEPT = 8
# By path and the digest of the file wanted (None: whichever was checked last).
_loaded: dict[tuple[str, str | None], Classifier] = {}
_lock = threading.Lock()


def shared_model(path: str, digest: str | None = None) -> Classifier:
    """The model at ``path``, loaded once per process: the copy maild checked last, or,
    given its ``digest``, the file as it was when maild checked that one.

    A worker is handed each mailbox's model path and digest with every batch. Keyed by
    the digest too, a worker that outlives a reload of a retrained model at the same
    path reads the file again once, instead of classifying with the old weights until
    it is restarted.
    """
    with _lock:
        model = _loaded.get((path, digest))
    if model is None:
        model = load_model(Path(path))
        _remember((path, digest), model)
    return model


def digest_of(model: Classifier) -> str:
    return str(model.manifest.get("digest", ""))


def keep(path: str, model: Classifier) -> None:
    """Make ``model``, just loaded from ``path``, the one this process shares.

    maild checks each configured model by loading it at start and on reload; kept, the
    check serves the outbound check too, and workers forked afterwards (``run --once``)
    start with it instead of reading and verifying the file again, about 50 ms of CPU
    each. A reload that loads a replaced file replaces the shared copy with it.
    """
    _remember((path, None), model)
    _remember((path, digest_of(model)), model)


def _remember(key: tuple[str, str | None], model: Classifier) -> None:
    with _lock:
        _loaded.pop(key, None)
        _loaded[key] = model
        while len(_loaded) > _KEPT:
            del _loaded[next(iter(_loaded))]
