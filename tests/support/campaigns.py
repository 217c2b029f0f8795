"""A model with one known campaign, so tests can see a label that only closeness gives."""

from __future__ import annotations

__all__ = ["CAMPAIGN", "with_campaign"]

from dataclasses import replace

import numpy as np

from maild.classify.exemplars import build_exemplars
from maild.classify.message import LABELS, MessageText
from maild.classify.model import NEVER, Classifier
from maild.classify.vectorize import feature_rows, reweighed

CAMPAIGN = MessageText(
    subject="Your parcel is waiting",
    body="Pay the customs fee of 2.99 at parcel-release-desk today or the parcel "
    "goes back to the sender. Tracking 88812 release desk customs office.",
)


def with_campaign(model: Classifier, near: float) -> Classifier:
    """``model`` with usual thresholds nothing reaches and one known spam campaign,
    :data:`CAMPAIGN` itself, judged at ``near``; without its arbiter, so that a label
    from the campaign stays the campaign's (a customs-fee demand reads as phishing)."""
    matrix = feature_rows([CAMPAIGN], model.n_hash)
    values = reweighed(matrix, model.idf, model.n_hash)
    exemplars = build_exemplars(matrix, values, np.array([LABELS.index("spam")]), model.n_hash)
    near_t = np.array([NEVER, near, NEVER, NEVER])
    strict = np.array([0.0, 1.0 + 1e-9, 1.0 + 1e-9, 1.0 + 1e-9])
    return replace(
        model,
        thresholds=strict,
        cjk_thresholds=strict,
        exemplars=exemplars,
        near_thresholds=near_t,
        near_similarity=0.5,
        arbiter_coef=np.zeros(0, dtype=np.float32),
    )
