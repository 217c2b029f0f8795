"""Offline training entry point behind ``maild train``; never imported on the daemon path.

``train(paths, out)`` reads corpora in the shared JSONL schema, fits the model (see
:mod:`maild.classify.fit`) and writes the model file. ``shippable_only=True`` keeps
only the sources whose licences allow a model that maild distributes; that is how the
default model is built.
"""

from __future__ import annotations

__all__ = [
    "RECIPE_FILES",
    "TrainReport",
    "data_digest",
    "prepare",
    "recipe_digest",
    "train",
    "train_examples",
]

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Final

import numpy as np

from maild.classify.corpus import CONTRAST_SOURCES, Example, is_shippable, load_examples
from maild.classify.features import clean_text, normalize
from maild.classify.fit import FitConfig, IntArray, fit_classifier, macro_f1
from maild.classify.message import LABELS
from maild.classify.model import Classifier, listed_thresholds, save_model
from maild.classify.vectorize import vectorize

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

#: The modules of this package whose code decides a model's bytes from its corpora.
RECIPE_FILES: Final = (
    "artifact.py",
    "corpus.py",
    "exemplars.py",
    "features.py",
    "fit.py",
    "message.py",
    "mime.py",
    "model.py",
    "shipped.py",
    "train.py",
    "upstream.py",
    "vectorize.py",
)


def recipe_digest() -> str:
    """SHA-256 over the recipe's source files, by name, as they are in this tree.

    The ingest modules that :mod:`maild.classify.mime` reads messages with are not in
    it (they change for reasons of their own); ``scripts/check-shipped-model`` catches
    a change there by rebuilding the shipped model and comparing bytes.
    """
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for name in RECIPE_FILES:
        h.update(f"\0{name}\0".encode())
        h.update((here / name).read_bytes())
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class TrainReport:
    """What ``maild train`` tells the operator, and ``--json`` prints."""

    model_path: str
    version: str
    digest: str
    data_digest: str
    examples: int
    per_label: dict[str, int]
    per_source: dict[str, int]
    thresholds: dict[str, float]
    cjk_thresholds: dict[str, float]
    #: Thresholds for messages close to a known campaign; only the labels that have them.
    near_thresholds: dict[str, float]
    near_similarity: float
    campaign_messages: int
    cv_macro_f1: float
    cv_ham_fpr: float
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def data_digest(examples: Iterable[Example]) -> str:
    """SHA-256 of what the model learnt from (ids, labels and text, in order)."""
    h = hashlib.sha256()
    for ex in examples:
        for part in (ex.id, ex.label, ex.source, ex.message.subject, ex.message.body):
            h.update(part.encode("utf-8", "surrogatepass"))
            h.update(b"\0")
    return h.hexdigest()


def _group_key(ex: Example) -> str:
    """Same text -> same group, so duplicates across sources never straddle a split."""
    if ex.group != ex.id:
        return ex.group
    text = normalize(clean_text(ex.message))
    return hashlib.blake2b(" ".join(text.split()).encode(), digest_size=12).hexdigest()


def prepare(examples: Sequence[Example]) -> tuple[Any, IntArray, list[str], list[str]]:
    """Feature matrix, label indices, sources and split groups for ``examples``."""
    x = vectorize([ex.message for ex in examples])
    y = np.array([LABELS.index(ex.label) for ex in examples], dtype=np.int64)
    return x, y, [ex.source for ex in examples], [_group_key(ex) for ex in examples]


def train_examples(
    examples: Sequence[Example], cfg: FitConfig, progress: Progress | None = None
) -> tuple[Classifier, IntArray, IntArray]:
    """Fit on in-memory examples; return the model, its cross-fitted labels and y."""
    say = progress or (lambda _msg: None)
    say(f"featurizing {len(examples)} messages")
    x, y, sources, groups = prepare(examples)
    guarded = np.array([not s.startswith(CONTRAST_SOURCES) for s in sources])
    model, pred = fit_classifier(x, y, sources, groups, cfg, say, guarded)
    return model, pred, y


def train(
    paths: Sequence[Path],
    out: Path,
    seed: int = 0,
    progress: Progress | None = None,
    *,
    shippable_only: bool = False,
    config: FitConfig | None = None,
    extra: Sequence[Example] = (),
) -> TrainReport:
    """Train on every record of ``paths`` (or only licence-clean sources) and save to ``out``.

    ``extra`` adds examples that come from elsewhere than a corpus file: the sellers'
    flags and unflags (``maild train --include-feedback``).
    """
    say = progress or (lambda _msg: None)
    started = time.monotonic()
    cfg = config or FitConfig(seed=seed)
    keep = is_shippable if shippable_only else (lambda _s: True)
    examples = load_examples(paths, keep, lambda n: say(f"loaded {n} messages")) + list(extra)
    digest_of_data = data_digest(examples)
    model, pred, y = train_examples(examples, cfg, say)
    recipe = recipe_digest()
    # Data, code and seed: a retrained model is told apart from the one before it.
    version = f"clf1-{digest_of_data[:10]}-{recipe[:6]}-s{cfg.seed}"
    model = replace(model, version=version)
    per_label = dict(Counter(ex.label for ex in examples))
    per_source = dict(sorted(Counter(ex.source for ex in examples).items()))
    ham = (y == 0) & np.array([not ex.source.startswith(CONTRAST_SOURCES) for ex in examples])
    manifest = {
        "data_digest": digest_of_data,
        "seed": cfg.seed,
        "per_label": per_label,
        "sources": sorted(per_source),
        "shippable_only": shippable_only,
        "recipe_digest": recipe,
    }
    file_digest = save_model(model, out, manifest)
    listed = listed_thresholds(model)
    report = TrainReport(
        model_path=str(out),
        version=version,
        digest=file_digest,
        data_digest=digest_of_data,
        examples=len(examples),
        per_label=per_label,
        per_source=per_source,
        thresholds=listed["thresholds"],
        cjk_thresholds=listed["cjk_thresholds"],
        near_thresholds=listed.get("near_thresholds", {}),
        near_similarity=model.near_similarity,
        campaign_messages=len(model.exemplars.labels) if model.exemplars is not None else 0,
        cv_macro_f1=macro_f1(y, pred, len(LABELS)),
        cv_ham_fpr=float((pred[ham] != 0).mean()) if ham.any() else 0.0,
        seconds=round(time.monotonic() - started, 1),
    )
    log.info(
        "trained examples=%d version=%s cv_macro_f1=%.4f cv_ham_fpr=%.4f seconds=%.1f",
        report.examples,
        version,
        report.cv_macro_f1,
        report.cv_ham_fpr,
        report.seconds,
    )
    return report
