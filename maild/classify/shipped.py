"""The model maild ships: the one recipe that builds it, and its check.

It is committed (:data:`~maild.classify.default.DEFAULT_MODEL`, about 4 MB), not built at
install time: building needs the shared corpora, which a fresh machine does not have,
and 1.5 minutes of two cores. So a fresh clone or wheel classifies out of the box, and
tests never depend on what a developer built locally.

The file can be checked against the code, so a committed model never silently drifts
from the recipe:

* it is reproducible byte for byte: ``maild train --shipped-from CORPORA --out FILE``
  with the same corpora and seed writes the same bytes (fixed seed, fixed timestamps
  in the zip, deterministic fitting); ``scripts/check-shipped-model`` rebuilds it and
  compares;
* its manifest records :func:`~maild.classify.train.recipe_digest`, a SHA-256 of the
  classifier code that turns corpora into weights; a test compares it with the code in
  the tree, so a change to features, fitting or corpus handling fails until the model
  is rebuilt with it.

The recipe follows the corpora's licences (see ``shared/corpora/README.md``): only
sources that allow a distributed model (:func:`~maild.classify.corpus.is_shippable`),
plus the clean rows of the two abuse corpora as contrast ham
(:mod:`maild.classify.upstream`).
"""

from __future__ import annotations

__all__ = ["SHIPPED_CORPORA", "train_shipped"]

import tempfile
from pathlib import Path
from typing import Final

from maild.classify.train import Progress, TrainReport, train
from maild.classify.upstream import write_contrast_ham

#: The normalized files of ``shared/corpora`` the shipped model learns from.
SHIPPED_CORPORA: Final = ("dev.jsonl.gz", "ecommerce-ham.jsonl.gz")


def train_shipped(corpora: Path, out: Path, seed: int, progress: Progress) -> TrainReport:
    """Build the shipped model from the shared corpora directory ``corpora`` into ``out``."""
    with tempfile.TemporaryDirectory(prefix="maild-train-") as tmp:
        contrast = Path(tmp) / "contrast-ham.jsonl.gz"
        progress("writing contrast ham (COLD safe, Davidson neither)")
        write_contrast_ham(corpora, contrast)
        paths = [corpora / name for name in SHIPPED_CORPORA] + [contrast]
        return train(paths, out, seed, progress, shippable_only=True)
