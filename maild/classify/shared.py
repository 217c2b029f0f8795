"""One loaded copy of each model file per process.

Parse workers and the outbound check judge every message of a mailbox with the same few
megabytes of weights; each loading them on its own would read and verify the file again.
Kept apart from :mod:`maild.classify.model`, whose source is part of the shipped model's
recipe digest.
"""

from __future__ import annotations

__all__ = ["shared_model"]

import functools
from pathlib import Path

from maild.classify.model import Classifier, load_model


@functools.lru_cache(maxsize=8)
def shared_model(path: str) -> Classifier:
    return load_model(Path(path))
