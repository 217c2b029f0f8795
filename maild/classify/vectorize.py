"""Feature matrix for a batch of messages: hashed text tokens next to structure columns.

Hashing (not a fitted vocabulary) keeps the model file a few plain arrays, makes
vectorizing stateless, and lets training featurize a corpus once and re-fit on any
subset of its rows (source-aware validation re-fits many times).
"""

from __future__ import annotations

__all__ = ["N_HASH", "STRUCT_WEIGHT", "reweigh", "term_weights", "vectorize"]

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from maild.classify.features import STRUCT_NAMES, featurize_counts
from maild.classify.message import MessageText

if TYPE_CHECKING:
    import scipy.sparse as sp  # type: ignore[import-untyped]  # scipy ships no type stubs

#: Width of the hashed text part. 2**19 buckets keep collisions rare for the
#: vocabulary of the shared corpora while the weights stay a ~8 MB array.
N_HASH = 2**19
#: Scale of the structure columns relative to the l2-normalised text part: large
#: enough that the linear model can use them without huge weights, small enough
#: that they cannot outvote the text on their own.
STRUCT_WEIGHT = 0.5


def vectorize(messages: Sequence[MessageText], n_hash: int = N_HASH) -> sp.csr_matrix:
    """Rows of sublinear-tf, l2-normalised hashed tokens, then the structure columns."""
    # Imported on first use: scipy and scikit-learn take about a second to import, which
    # maild's main process (it only checks that model files load) never needs to spend.
    import scipy.sparse as sp
    from sklearn.feature_extraction import FeatureHasher

    done = [featurize_counts(m) for m in messages]
    hasher = FeatureHasher(n_features=n_hash, input_type="dict", alternate_sign=False)
    text = hasher.transform(counts for counts, _struct in done).tocsr()
    text.data = np.log1p(text.data)
    norms = np.sqrt(np.asarray(text.multiply(text).sum(axis=1)).ravel())
    norms[norms == 0.0] = 1.0
    text = sp.diags(1.0 / norms) @ text
    struct = np.asarray([struct for _toks, struct in done], dtype=np.float64).reshape(
        len(messages), len(STRUCT_NAMES)
    )
    return sp.hstack([text, sp.csr_matrix(struct * STRUCT_WEIGHT)], format="csr")


def term_weights(matrix: sp.csr_matrix, n_hash: int) -> npt.NDArray[np.float32]:
    """Smoothed inverse document frequency of every hashed text column over ``matrix``.

    Why: a word that most messages of the training corpora use (a greeting, "the", a
    list footer's "unsubscribe" in every SpamAssassin mail) says little about a message
    from a source the model has not seen, yet with plain term frequencies it takes as
    much of a row's length as a rare, telling word. With bitext held out, 6.0% -> 1.5%
    of its ham was flagged; leave-one-source-out macro-F1 0.786 -> 0.795
    (bench/classify_notes.md, step 6).
    Rounded to half precision, as stored, so that training and serving use one value.
    """
    df = np.bincount(matrix.tocsr().indices, minlength=matrix.shape[1])[:n_hash]
    idf = np.log((1.0 + matrix.shape[0]) / (1.0 + df)) + 1.0
    out: npt.NDArray[np.float32] = idf.astype(np.float16).astype(np.float32)
    return out


def reweigh(matrix: sp.csr_matrix, idf: npt.NDArray[np.float32], n_hash: int) -> sp.csr_matrix:
    """``matrix`` (from :func:`vectorize`) with its text columns times ``idf`` and each
    row's text part l2-normalised again; structure columns unchanged. Empty ``idf``
    (a model trained before term weights existed) leaves the matrix as it is.
    """
    if not len(idf):
        return matrix
    out = matrix.tocsr(copy=True).astype(np.float64)
    text = out.indices < n_hash
    data = out.data
    data[text] *= idf[out.indices[text]]
    row = np.repeat(np.arange(out.shape[0]), np.diff(out.indptr))
    norms = np.sqrt(np.bincount(row[text], weights=data[text] ** 2, minlength=out.shape[0]))
    norms[norms == 0.0] = 1.0
    data[text] /= norms[row[text]]
    return out
