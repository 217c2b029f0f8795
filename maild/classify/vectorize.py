"""Feature matrix for a batch of messages: hashed text tokens next to structure columns.

Hashing (not a fitted vocabulary) keeps the model file a few plain arrays, makes
vectorizing stateless, and lets training featurize a corpus once and re-fit on any
subset of its rows (source-aware validation re-fits many times).

The matrix is built as the three arrays of compressed sparse rows with numpy alone
(:func:`feature_rows`), and serving scores those arrays directly: importing scipy and
scikit-learn costs each process that classifies about 0.8 s of CPU. Training wraps the
same arrays into a scipy matrix (:func:`vectorize`), so both read one featurization.
"""

from __future__ import annotations

__all__ = [
    "N_HASH",
    "STRUCT_WEIGHT",
    "FeatureRows",
    "SparseRows",
    "damp",
    "damped",
    "feature_rows",
    "hashed_columns",
    "reweigh",
    "reweighed",
    "row_numbers",
    "select_rows",
    "spans",
    "term_weights",
    "vectorize",
]

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Any, Protocol

import mmh3
import numpy as np
import numpy.typing as npt

from maild.classify.features import DENSITY_NAMES, STRUCT_NAMES, featurize_counts
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
#: Per structure column: is it a share of the message's words (see :func:`damped`)?
_IS_SHARE = np.array([name in DENSITY_NAMES for name in STRUCT_NAMES])

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.int32]
ColumnArray = npt.NDArray[np.int64]


class SparseRows(Protocol):
    """What scoring reads of a feature matrix: :class:`FeatureRows` or a scipy CSR matrix
    (training and the benches score the matrices they fitted on)."""

    @property
    def data(self) -> npt.NDArray[Any]: ...
    @property
    def indices(self) -> npt.NDArray[Any]: ...
    @property
    def indptr(self) -> npt.NDArray[Any]: ...
    @property
    def shape(self) -> tuple[int, int]: ...


@dataclass(frozen=True, slots=True)
class FeatureRows:
    """A feature matrix as compressed sparse rows: row ``i`` holds ``data[indptr[i]:indptr[i+1]]``
    at columns ``indices[indptr[i]:indptr[i+1]]``."""

    data: FloatArray
    indices: IndexArray
    indptr: IndexArray
    shape: tuple[int, int]

    def tocsr(self) -> sp.csr_matrix:
        """The same matrix for scipy and scikit-learn (training only)."""
        import scipy.sparse as sp

        return sp.csr_matrix((self.data, self.indices, self.indptr), shape=self.shape)


def hashed_columns(tokens: Iterable[str], n_hash: int) -> ColumnArray:
    """The column of each token: scikit-learn's ``FeatureHasher`` (``alternate_sign=False``)
    column, the absolute signed 32-bit MurmurHash3 (seed 0) of its UTF-8 bytes modulo
    ``n_hash``, so that models trained with it keep their meaning.

    For the hash -2**31 scikit-learn computes ``(2**31 - n_hash) % n_hash``, which is
    ``2**31 % n_hash``: what ``abs`` and ``%`` in 64 bits give. The hashes are taken by a
    ``map`` and folded into columns by numpy for a whole batch at once, which spends no
    Python bytecode per token (27 -> 18 us a message, bench/ingest_stages.py mail). No
    cache of columns: with the vocabulary of the shared corpora a lookup saves less than
    a miss costs.
    """
    hashes = np.fromiter(map(mmh3.hash, tokens), dtype=np.int64)
    columns: ColumnArray = np.abs(hashes) % n_hash
    return columns


def row_numbers(matrix: SparseRows) -> npt.NDArray[np.intp]:
    """The row of every stored value of ``matrix``."""
    return np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))


def spans(starts: npt.NDArray[Any], lengths: npt.NDArray[Any]) -> npt.NDArray[np.int64]:
    """Positions ``starts[i], ..., starts[i] + lengths[i] - 1`` for every ``i``, in order:
    the stored values of chosen rows, or the postings of chosen columns, in one gather."""
    ends = np.cumsum(lengths)
    out: npt.NDArray[np.int64] = np.arange(int(ends[-1]) if len(ends) else 0) + np.repeat(
        starts - ends + lengths, lengths
    )
    return out


def select_rows(matrix: SparseRows, rows: npt.NDArray[np.intp]) -> FeatureRows:
    """The given rows of ``matrix``, in that order, as a new :class:`FeatureRows`."""
    starts = np.asarray(matrix.indptr)[rows]
    lengths = np.asarray(matrix.indptr)[rows + 1] - starts
    at = spans(starts, lengths)
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return FeatureRows(
        np.asarray(matrix.data, dtype=np.float64)[at],
        np.asarray(matrix.indices, dtype=np.int32)[at],
        indptr,
        (len(rows), matrix.shape[1]),
    )


def _text_part(
    columns: ColumnArray, counts: ColumnArray, lengths: list[int], n_hash: int
) -> tuple[IndexArray, IndexArray, FloatArray]:
    """Indptr, columns and sublinear-tf, l2-normalised values of the hashed text part.

    Columns of a row come in descending order: the order the scipy construction this
    replaces left them in. A fit visits a row's values in stored order, and floating
    point sums depend on it, so keeping it keeps the shipped model byte for byte.
    """
    n_rows = len(lengths)
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), lengths)
    # Each count rides in the low bits of its key, so that one sort of plain integers
    # orders both: no argsort and no gathers (this function 19.3 -> 17.0 us a message,
    # bench/ingest_stages.py mail). The counts of tokens that share a key are summed as
    # integers, in any order to the same total. A count is at most the number of tokens
    # in MAX_CHARS characters (11 bits) and a key of a million rows takes 39 bits.
    shift = int(counts.max(initial=0)).bit_length()
    packed = np.sort(((rows * n_hash + columns) << shift) | counts)
    keys = packed >> shift
    # Tokens of a row that hash to one column share it: their counts add up.
    first = np.flatnonzero(np.diff(keys, prepend=-1))
    summed = np.add.reduceat(packed & ((1 << shift) - 1), first)
    keys = keys[first]
    rows = keys // n_hash
    indptr = np.zeros(n_rows + 1, dtype=np.int32)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    data = np.log1p(summed)
    # Row sums with ``np.add.reduceat`` over ascending columns, as scipy sums rows.
    squares = np.zeros(n_rows)
    filled = np.flatnonzero(np.diff(indptr))
    if len(filled):
        squares[filled] = np.add.reduceat(data * data, indptr[filled])
    norms = np.sqrt(squares)
    norms[norms == 0.0] = 1.0
    data = data * (1.0 / norms)[rows]
    # Reverse each row: the value at ``p`` moves to ``start + end - 1 - p``.
    flipped = indptr[rows] + indptr[rows + 1] - 1 - np.arange(len(keys))
    out_columns = np.empty(len(keys), dtype=np.int32)
    out_columns[flipped] = keys - rows * n_hash
    out_data = np.empty(len(keys))
    out_data[flipped] = data
    return indptr, out_columns, out_data


def feature_rows(messages: Sequence[MessageText], n_hash: int = N_HASH) -> FeatureRows:
    """Rows of sublinear-tf, l2-normalised hashed tokens, then the nonzero structure
    columns (times :data:`STRUCT_WEIGHT`)."""
    counted: list[Counter[str]] = []
    struct = np.zeros((len(messages), len(STRUCT_NAMES)))
    for i, message in enumerate(messages):
        tokens, struct[i] = featurize_counts(message)
        counted.append(tokens)
    columns = hashed_columns(chain.from_iterable(counted), n_hash)
    counts = np.fromiter(chain.from_iterable(tokens.values() for tokens in counted), np.int64)
    lengths = list(map(len, counted))
    text_indptr, text_columns, text_data = _text_part(columns, counts, lengths, n_hash)
    struct *= STRUCT_WEIGHT
    struct_rows, struct_columns = np.nonzero(struct)
    struct_indptr = np.zeros(len(messages) + 1, dtype=np.int32)
    np.cumsum(np.bincount(struct_rows, minlength=len(messages)), out=struct_indptr[1:])
    # Each row: its text values, then its structure values.
    text_rows = np.repeat(np.arange(len(messages)), np.diff(text_indptr))
    text_at = np.arange(len(text_data)) + struct_indptr[text_rows]
    struct_at = np.arange(len(struct_rows)) + text_indptr[struct_rows + 1]
    size = len(text_data) + len(struct_rows)
    indices = np.empty(size, dtype=np.int32)
    data = np.empty(size)
    indices[text_at], data[text_at] = text_columns, text_data
    indices[struct_at] = n_hash + struct_columns
    data[struct_at] = struct[struct_rows, struct_columns]
    width = n_hash + len(STRUCT_NAMES)
    return FeatureRows(data, indices, text_indptr + struct_indptr, (len(messages), width))


def vectorize(messages: Sequence[MessageText], n_hash: int = N_HASH) -> sp.csr_matrix:
    """:func:`feature_rows` as a scipy matrix, for training."""
    return feature_rows(messages, n_hash).tocsr()


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


def reweighed(matrix: SparseRows, idf: npt.NDArray[np.float32], n_hash: int) -> FloatArray:
    """The values of ``matrix`` (from :func:`feature_rows`) with its text columns times
    ``idf`` and each row's text part l2-normalised again; structure values unchanged."""
    data = np.array(matrix.data, dtype=np.float64)
    if not len(idf):
        return data
    text = matrix.indices < n_hash
    columns = matrix.indices[text]
    data[text] *= idf[columns]
    row = row_numbers(matrix)[text]
    norms = np.sqrt(np.bincount(row, weights=data[text] ** 2, minlength=matrix.shape[0]))
    norms[norms == 0.0] = 1.0
    data[text] /= norms[row]
    return data


def damped(matrix: SparseRows, values: FloatArray, n_hash: int, prior: float) -> FloatArray:
    """``values`` with each row's word shares (:data:`~maild.classify.features.DENSITY_NAMES`)
    scaled by ``sqrt(n / (n + prior))``, ``n`` being the row's number of distinct terms.

    Why: a share computed over two words is no evidence. "delete account" is half
    account words, as dense as a phishing mail can be, and held out of training 2.04%
    of bitext's short customer-service requests were flagged, most as fraud on that
    column alone. Damped, 0.33% were; contrast and TREC06c ham were flagged less too,
    held-out SpamAssassin ham as before (bench/classify_notes.md, step 12). The text
    part is left as it is: damping it as well moved the calibration so that long
    e-mail ham scored higher. ``prior`` 0 changes nothing.
    """
    if not prior:
        return values
    rows = row_numbers(matrix)
    text = matrix.indices < n_hash
    terms = np.bincount(rows[text], minlength=matrix.shape[0])
    scale = np.sqrt(terms / (terms + prior))
    shares = np.zeros(len(text), dtype=bool)
    shares[~text] = _IS_SHARE[matrix.indices[~text] - n_hash]
    out = np.array(values, dtype=np.float64)
    out[shares] *= scale[rows[shares]]
    return out


def damp(matrix: sp.csr_matrix, n_hash: int, prior: float) -> sp.csr_matrix:
    """:func:`damped` as a new scipy matrix, for training; it shares ``matrix``'s column
    indices and row pointers, so only the values are new."""
    values = damped(matrix, matrix.data, n_hash, prior)
    return type(matrix)((values, matrix.indices, matrix.indptr), shape=matrix.shape)


def reweigh(matrix: sp.csr_matrix, idf: npt.NDArray[np.float32], n_hash: int) -> sp.csr_matrix:
    """:func:`reweighed` as a new scipy matrix, for training. Empty ``idf`` (a model
    trained before term weights existed) leaves the matrix as it is.
    """
    if not len(idf):
        return matrix
    out = matrix.tocsr(copy=True).astype(np.float64)
    out.data = reweighed(out, idf, n_hash)
    return out
