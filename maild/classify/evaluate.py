"""Scoring a model on labelled data: the figures behind ``maild evaluate``.

Ham false-positive rate is reported on its own because it is the costliest error:
a real customer question hidden as spam.
"""

from __future__ import annotations

__all__ = ["EvaluationReport", "evaluate", "evaluate_examples", "figures"]

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from maild.classify.corpus import Example, load_examples
from maild.classify.fit import IntArray, macro_f1
from maild.classify.message import LABELS
from maild.classify.model import Classifier

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    """Per-label precision/recall/F1, confusion (true -> predicted), ham FPR, macro-F1.

    ``macro_f1`` averages over the labels present in the data, so a one-label test set
    (say, one held-out source) is judged on that label alone.
    """

    n: int
    macro_f1: float
    ham_fpr: float
    per_label: dict[str, dict[str, float]]
    confusion: dict[str, dict[str, int]]
    msgs_per_s: float
    model_version: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for ``--json``."""
        return asdict(self)

    def to_text(self) -> str:
        """A plain table for the terminal."""
        lines = [f"{'label':<14}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
        for label, row in self.per_label.items():
            lines.append(
                f"{label:<14}{row['precision']:>10.4f}{row['recall']:>10.4f}"
                f"{row['f1']:>10.4f}{int(row['support']):>10d}"
            )
        lines.append("confusion (rows: true, columns: predicted)")
        lines.append(" " * 14 + "".join(f"{lab[:10]:>12}" for lab in LABELS))
        for label, counts in self.confusion.items():
            lines.append(f"{label:<14}" + "".join(f"{counts[lab]:>12d}" for lab in LABELS))
        lines.append(
            f"macro-F1 {self.macro_f1:.4f}  ham FPR {self.ham_fpr:.4%}  "
            f"messages {self.n}  {self.msgs_per_s:,.0f} msgs/s"
        )
        return "\n".join(lines)


def figures(
    y: IntArray, pred: IntArray, msgs_per_s: float = 0.0, version: str = ""
) -> EvaluationReport:
    """Build the report from true and predicted label indices."""
    n_labels = len(LABELS)
    per_label: dict[str, dict[str, float]] = {}
    for k, label in enumerate(LABELS):
        tp = int(((pred == k) & (y == k)).sum())
        support, predicted = int((y == k).sum()), int((pred == k).sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * tp / (support + predicted) if support + predicted else 0.0
        per_label[label] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": float(support),
        }
    confusion = {
        t: {p: int(((y == i) & (pred == j)).sum()) for j, p in enumerate(LABELS)}
        for i, t in enumerate(LABELS)
    }
    ham = y == 0
    return EvaluationReport(
        n=len(y),
        macro_f1=macro_f1(y, pred, n_labels),
        ham_fpr=float((pred[ham] != 0).mean()) if ham.any() else 0.0,
        per_label=per_label,
        confusion=confusion,
        msgs_per_s=msgs_per_s,
        model_version=version,
    )


def evaluate_examples(examples: Sequence[Example], model: Classifier) -> EvaluationReport:
    """Classify ``examples`` with ``model`` and score the result (timing the classifier only)."""
    y = np.array([LABELS.index(ex.label) for ex in examples], dtype=np.int64)
    started = time.perf_counter()
    predictions = model.predict([ex.message for ex in examples])
    elapsed = time.perf_counter() - started
    pred = np.array([model.labels.index(p.label) for p in predictions], dtype=np.int64)
    rate = len(examples) / elapsed if elapsed > 0 else 0.0
    report = figures(y, pred, rate, model.version)
    log.info(
        "evaluated n=%d macro_f1=%.4f ham_fpr=%.5f msgs_per_s=%.0f",
        report.n,
        report.macro_f1,
        report.ham_fpr,
        report.msgs_per_s,
    )
    return report


def evaluate(paths: Sequence[Path], model: Classifier) -> EvaluationReport:
    """``maild evaluate``: load labelled corpora and score ``model`` on all of them."""
    return evaluate_examples(load_examples(paths), model)
