"""Known campaigns: the spam and phishing a model was trained on, kept as short rows.

Why: spam and phishing are sent in campaigns, and a campaign reaches many mailboxes in
the same words (the idea behind Razor, Pyzor and DCC). In the shared corpora that holds
even between corpora: with its own corpus left out, 64% of SpamAssassin's spam, 29-46%
of Enron's and 93-96% of two of the Nazario phishing sets are within cosine
:data:`MIN_SIMILARITY` of a spam or phishing message of *another* corpus, while at most
0.07% of any corpus's ham is (bench/classify_notes.md, step 11). The linear model's
thresholds have to be strict, because ham of a source it never saw can score high; a
message that also lies close to a known campaign is judged with the lower thresholds
:mod:`maild.classify.fit` chooses for that case, on held-out scores like the others.

An exemplar keeps only its :data:`KEEP_TERMS` heaviest terms after term weighting: the
rare words that tell one campaign from another. That keeps the model file small and
makes a message's similarity a short walk over an inverted index. Pure numpy, so that
serving stays free of scipy.
"""

from __future__ import annotations

__all__ = ["KEEP_TERMS", "MIN_SIMILARITY", "NEAR_LABELS", "Exemplars", "build_exemplars"]

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from maild.classify.message import LABELS
from maild.classify.vectorize import FloatArray, SparseRows, row_numbers, spans

#: Labels whose training messages are kept. Abuse (``inappropriate``) is left out: it is
#: no campaign, and no offensive comment of one corpus was this close to another's.
NEAR_LABELS: Final = (LABELS.index("spam"), LABELS.index("fraud"))
KEEP_TERMS: Final = 48
#: The similarity of the finding above. A model records the one its training chose
#: (``near_similarity`` in its manifest); this is the default of a model built in code.
MIN_SIMILARITY: Final = 0.5
#: Bound on one step's dense block of similarities (rows times exemplars).
_BLOCK: Final = 1 << 22

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Exemplars:
    """Exemplars as an inverted index: the exemplars using text column ``c`` are
    ``members[colptr[c]:colptr[c+1]]``, with the term's value in ``weights``.
    Exemplars are numbered in label order; ``labels[e]`` is exemplar ``e``'s label.
    """

    colptr: npt.NDArray[np.int32]
    members: npt.NDArray[np.int32]
    weights: npt.NDArray[np.float32]
    labels: npt.NDArray[np.int8]

    @property
    def n_hash(self) -> int:
        return len(self.colptr) - 1

    def closeness(self, matrix: SparseRows, values: FloatArray, n_labels: int) -> FloatArray:
        """Per row of ``matrix`` and per label, the highest cosine similarity to an
        exemplar of that label (0 where none shares a term).

        ``values`` are the matrix's values after term weighting
        (:func:`~maild.classify.vectorize.reweighed`), whose text part has unit length.
        """
        n_rows, n_ex = matrix.shape[0], len(self.labels)
        out = np.zeros((n_rows, n_labels))
        if not n_ex or not n_rows:
            return out
        bounds = np.searchsorted(self.labels, np.arange(n_labels + 1))
        text = matrix.indices < self.n_hash
        rows = row_numbers(matrix)[text]
        columns = matrix.indices[text]
        weights = values[text]
        step = max(1, _BLOCK // n_ex)
        for first in range(0, n_rows, step):
            part = (rows >= first) & (rows < first + step)
            starts = self.colptr[columns[part]]
            lengths = self.colptr[columns[part] + 1] - starts
            at = spans(starts, lengths)
            keys = np.repeat(rows[part] - first, lengths) * n_ex + self.members[at]
            terms = np.repeat(weights[part], lengths) * self.weights[at]
            block = min(step, n_rows - first)
            sims = np.bincount(keys, weights=terms, minlength=block * n_ex).reshape(block, n_ex)
            for k in range(n_labels):
                if bounds[k + 1] > bounds[k]:
                    out[first : first + block, k] = sims[:, bounds[k] : bounds[k + 1]].max(axis=1)
        return out

    def check(self) -> str | None:
        """What is inconsistent in the arrays (a file may be damaged), or None."""
        n_ex, nnz = len(self.labels), len(self.members)
        if self.colptr[0] != 0 or self.colptr[-1] != nnz or np.any(np.diff(self.colptr) < 0):
            return "its column pointers do not index its members"
        if len(self.weights) != nnz:
            return "it has a different number of weights and members"
        if nnz and (self.members.min() < 0 or self.members.max() >= n_ex):
            return "a member is not one of its exemplars"
        if np.any(np.diff(self.labels) < 0) or not np.isin(self.labels, NEAR_LABELS).all():
            return "its labels are out of order or not spam and fraud"
        if not np.isfinite(self.weights).all():
            return "a weight is not a finite number"
        return None


def build_exemplars(
    matrix: SparseRows, values: FloatArray, y: IntArray, n_hash: int, rows: IntArray | None = None
) -> Exemplars:
    """Exemplars of the rows of ``matrix`` (the given ``rows``, default all) whose label
    is in :data:`NEAR_LABELS`, each cut to its :data:`KEEP_TERMS` heaviest text terms
    and scaled back to unit length. ``values`` as for :meth:`Exemplars.closeness`.
    """
    row_of = row_numbers(matrix)
    chosen = np.zeros(matrix.shape[0], dtype=bool)
    chosen[np.arange(matrix.shape[0]) if rows is None else rows] = True
    chosen &= np.isin(y, NEAR_LABELS)
    keep = chosen[row_of] & (matrix.indices < n_hash) & (values > 0)
    r, c, v = row_of[keep], matrix.indices[keep].astype(np.int64), values[keep]
    order = np.lexsort((c, -v, r))
    r, c, v = r[order], c[order], v[order]
    rank = np.arange(len(r)) - np.searchsorted(r, r)
    top = rank < KEEP_TERMS
    r, c, v = r[top], c[top], v[top]
    norms = np.sqrt(np.bincount(r, weights=v * v, minlength=matrix.shape[0]))
    v = v / norms[r]
    kept = np.unique(r)
    numbered = kept[np.lexsort((kept, y[kept]))]
    number = np.empty(matrix.shape[0], dtype=np.int64)
    number[numbered] = np.arange(len(numbered))
    members = number[r]
    by_column = np.lexsort((members, c))
    counts = np.bincount(c, minlength=n_hash)
    return Exemplars(
        colptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int32),
        members=members[by_column].astype(np.int32),
        weights=v[by_column].astype(np.float32),
        labels=y[numbered].astype(np.int8),
    )
