"""The model maild ships: where it lives and the one recipe that builds it.

It is built, not committed: the file is ~8 MB of weights that every retraining
rewrites whole, which git cannot store as a small change, and the build is
reproducible (fixed seed, fixed zip timestamps, a digest of the training data in the
manifest), so the artefact adds nothing the recipe and the corpora do not already
pin. ``maild train --shipped-from CORPORA --out DEFAULT_MODEL`` runs the recipe.

The recipe follows the corpora's licences (see ``shared/corpora/README.md``): only
sources that allow a distributed model (:func:`~maild.classify.corpus.is_shippable`),
plus the clean rows of the two abuse corpora as contrast ham
(:mod:`maild.classify.upstream`).
"""

from __future__ import annotations

__all__ = ["DEFAULT_MODEL", "SHIPPED_CORPORA", "train_shipped"]

import tempfile
from pathlib import Path
from typing import Final

from maild.classify.train import Progress, TrainReport, train
from maild.classify.upstream import write_contrast_ham

#: Inside the package, so an installed maild and a source checkout find it alike.
DEFAULT_MODEL: Final = Path(__file__).resolve().with_name("default_model.npz")
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
