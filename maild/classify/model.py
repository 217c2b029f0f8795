"""The trained classifier: linear scores, calibration, per-label thresholds.

Everything a model needs at serving time is a handful of arrays, so it is stored with
:mod:`maild.classify.artifact` (no code runs on load) and loads in well under a second.
``predict`` is CPU-bound; the daemon calls it through ``asyncio.to_thread``.
"""

from __future__ import annotations

__all__ = [
    "FRAUD",
    "NEVER",
    "Classifier",
    "arbiter_logits",
    "arbitrate",
    "decide",
    "listed_thresholds",
    "load_model",
    "lowered",
    "mostly_chinese",
    "save_model",
    "unsolicited",
]

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from maild.classify.artifact import ModelError, read_artifact, write_artifact
from maild.classify.exemplars import MIN_SIMILARITY, Exemplars
from maild.classify.features import STRUCT_NAMES
from maild.classify.message import LABELS, MessageText
from maild.classify.vectorize import (
    STRUCT_WEIGHT,
    SparseRows,
    damped,
    feature_rows,
    reweighed,
    row_numbers,
    select_rows,
)
from maild.domain import Verdict

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
_ARRAYS = (
    "coef",
    "intercept",
    "cal_coef",
    "cal_intercept",
    "thresholds",
    "cjk_thresholds",
    "idf",
)
#: The known campaigns (:mod:`maild.classify.exemplars`) and the thresholds for
#: messages close to one: all present or all absent.
_NEAR = ("near_colptr", "near_members", "near_weights", "near_labels", "near_thresholds")
#: The arbiter between spam and fraud (:func:`arbitrate`): both or neither.
_ARBITER = ("arbiter_coef", "arbiter_intercept")
#: Files written before term weights existed have every array but this one; files
#: written before known campaigns, none of :data:`_NEAR`; files written before the
#: arbiter, neither of :data:`_ARBITER`.
_OPTIONAL = frozenset({"idf"})
_SPAM = LABELS.index("spam")
#: Column of fraud, the label the arbiter's log-odds are for.
FRAUD = LABELS.index("fraud")
#: A near threshold no probability reaches: the label is never judged more leniently.
NEVER = 2.0
#: A message whose cleaned text is at least this share of Chinese characters is
#: judged with :attr:`Classifier.cjk_thresholds`.
CJK_MESSAGE = 0.2


def mostly_chinese(matrix: SparseRows, n_hash: int) -> npt.NDArray[np.bool_]:
    """Rows of a :func:`~maild.classify.vectorize.feature_rows` matrix whose text is at
    least :data:`CJK_MESSAGE` Chinese (read from the ``cjk_fraction`` structure column,
    the first after the hashed text)."""
    held = matrix.indices == n_hash
    column = np.zeros(matrix.shape[0])
    column[row_numbers(matrix)[held]] = matrix.data[held]
    out: npt.NDArray[np.bool_] = column >= CJK_MESSAGE * STRUCT_WEIGHT
    return out


def _softmax(z: FloatArray) -> FloatArray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: FloatArray = e / e.sum(axis=1, keepdims=True)
    return out


def decide(proba: FloatArray, thresholds: FloatArray) -> npt.NDArray[np.int64]:
    """Label index per row: the likeliest non-ham label whose probability reaches its
    threshold, else ham (column 0). The ham threshold (``thresholds[0]``) is unused.
    ``thresholds`` is one row for all messages or one row per message.
    """
    above = proba >= np.broadcast_to(thresholds, proba.shape)
    above[:, 0] = False
    masked = np.where(above, proba, -1.0)
    best = masked.argmax(axis=1)
    out: npt.NDArray[np.int64] = np.where(above.any(axis=1), best, 0).astype(np.int64)
    return out


def arbiter_logits(
    matrix: SparseRows, values: FloatArray, coef: npt.NDArray[np.float32], intercept: float
) -> FloatArray:
    """Log-odds of fraud against spam per row, read from the hashed text columns alone
    (``values``: the matrix's stored values after term weights; structure columns, at
    ``len(coef)`` and beyond, are left out)."""
    text = matrix.indices < len(coef)
    terms = values[text] * coef[matrix.indices[text]]
    rows = row_numbers(matrix)[text]
    out: FloatArray = np.full(matrix.shape[0], intercept)
    out += np.bincount(rows, weights=terms, minlength=matrix.shape[0])
    return out


def unsolicited(labels: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Which of ``labels`` (indices) are spam or fraud, the two the arbiter tells apart."""
    out: npt.NDArray[np.bool_] = (labels == _SPAM) | (labels == FRAUD)
    return out


def arbitrate(chosen: npt.NDArray[np.int64], logits: FloatArray) -> npt.NDArray[np.int64]:
    """``chosen``, with every row labelled spam or fraud relabelled by the arbiter's
    ``logits`` (fraud at 0 or more), the other labels untouched.

    Why a second model: in the four-label one, the words of a phishing mail ("verify
    your account", "your password") also fill customer-service questions, so the
    weight they could give fraud is spent on telling fraud from ham, and the links
    (IP addresses, anchors naming another address) carry fraud alone. Phishing
    without links then reads as spam. A model fitted on spam and fraud only, over
    words only, has no ham to share those words with. With a source held out, text-only
    phishing labelled right 51% -> 57%, SpamAssassin mail (no phishing) labelled
    fraud 116 -> 15 times; which messages are flagged is unchanged
    (bench/classify_notes.md, step 14).
    """
    out: npt.NDArray[np.int64] = np.where(
        unsolicited(chosen), np.where(logits >= 0.0, FRAUD, _SPAM), chosen
    ).astype(np.int64)
    return out


def lowered(base: FloatArray, close: npt.NDArray[np.bool_], near: FloatArray) -> FloatArray:
    """Per-row thresholds: ``base``, lowered to ``near`` for the labels whose known
    campaigns a row is close to (``close``, one row per message and a column per label)."""
    out: FloatArray = np.where(close, np.minimum(base, near), base)
    return out


@dataclass(frozen=True)
class Classifier:
    """A loaded model. Column ``i`` of every array belongs to ``labels[i]``."""

    labels: tuple[str, ...]
    coef: npt.NDArray[np.float32]
    intercept: FloatArray
    cal_coef: FloatArray
    cal_intercept: FloatArray
    thresholds: FloatArray
    n_hash: int
    #: Thresholds for mostly-Chinese messages (see :data:`CJK_MESSAGE`). They are at
    #: least :attr:`thresholds`: the only licence-clean Chinese text that is not short
    #: questions is the abuse corpus's own clean rows, so Chinese discussion mail on
    #: everyday topics is judged more strictly (bench/classify_notes.md).
    cjk_thresholds: FloatArray = field(default_factory=lambda: np.zeros(0))
    #: Weight of every hashed text column (:func:`~maild.classify.vectorize.term_weights`),
    #: applied by :meth:`raw_scores`; empty for a model trained without them.
    idf: npt.NDArray[np.float32] = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    #: Known campaigns; ``None`` for a model trained without them.
    exemplars: Exemplars | None = None
    #: Thresholds for a message close to an exemplar of the label (:data:`NEVER` for
    #: labels without exemplars); used only where they are below the usual ones.
    near_thresholds: FloatArray = field(default_factory=lambda: np.zeros(0))
    #: Cosine similarity from which a message is close to an exemplar.
    near_similarity: float = MIN_SIMILARITY
    #: How many distinct terms a message needs before its word shares count fully
    #: (:func:`~maild.classify.vectorize.damped`); 0 for a model trained without it.
    length_prior: float = 0.0
    #: Weights over the hashed text columns of the model that decides between spam and
    #: fraud for mail flagged as either (:func:`arbitrate`), with its intercept; empty
    #: for a model trained without one, which labels by the likelier score.
    arbiter_coef: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros(0, dtype=np.float32)
    )
    arbiter_intercept: float = 0.0
    version: str = ""
    manifest: Mapping[str, Any] = field(default_factory=dict)

    def raw_scores(self, matrix: SparseRows) -> FloatArray:
        """Linear decision values for a feature matrix from
        :func:`~maild.classify.vectorize.feature_rows`.

        The model's term weights are applied here rather than when featurizing, so one
        featurized matrix serves every model (training re-fits many on one matrix).
        Each label's score is a sum over the row's stored values only: the weights of the
        columns a batch uses are gathered, never the whole weight matrix.
        """
        return self._scored(matrix)[0]

    def _scored(self, matrix: SparseRows) -> tuple[FloatArray, FloatArray]:
        """:meth:`raw_scores`, and the matrix's values after term weights, which the
        arbiter reads too."""
        weighed = reweighed(matrix, self.idf, self.n_hash)
        data = damped(matrix, weighed, self.n_hash, self.length_prior)
        rows, n_rows = row_numbers(matrix), matrix.shape[0]
        out = np.empty((n_rows, len(self.labels)))
        for k, weights in enumerate(self.coef):
            terms = data * weights[matrix.indices]
            out[:, k] = np.bincount(rows, weights=terms, minlength=n_rows)
        scores: FloatArray = out + self.intercept
        return scores, weighed

    def calibrate(self, raw: FloatArray) -> FloatArray:
        """Calibrated probabilities from raw scores (a multinomial logistic map)."""
        return _softmax(raw @ self.cal_coef.T + self.cal_intercept)

    def proba(self, items: Sequence[MessageText]) -> FloatArray:
        """Calibrated probability of every label, one row per message."""
        if not items:
            return np.zeros((0, len(self.labels)))
        return self.calibrate(self.raw_scores(feature_rows(items, self.n_hash)))

    def decide(self, matrix: SparseRows, proba: FloatArray) -> npt.NDArray[np.int64]:
        """Label index per row of ``matrix`` (from
        :func:`~maild.classify.vectorize.feature_rows`) and its ``proba``."""
        return self.decide_why(matrix, proba)[0]

    def decide_why(
        self, matrix: SparseRows, proba: FloatArray, weighed: FloatArray | None = None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """:meth:`decide`, and which rows owe their label to a known campaign.

        Closeness to known campaigns is looked up only for messages the usual
        thresholds leave as ham and whose score reaches a near threshold: a few of a
        batch, so typical mail pays nothing for it. The arbiter runs only for a batch
        with mail flagged as spam or fraud, on ``weighed`` (the matrix's values after
        term weights) when the caller has them.
        """
        chosen, by_campaign = self._thresholded(matrix, proba)
        if len(self.arbiter_coef) and unsolicited(chosen).any():
            chosen = arbitrate(chosen, self.fraud_logits(matrix, weighed))
        return chosen, by_campaign

    def fraud_logits(self, matrix: SparseRows, weighed: FloatArray | None = None) -> FloatArray:
        """The arbiter's log-odds of fraud against spam for every row of ``matrix``
        (``weighed``: its values after term weights, if the caller has them)."""
        if weighed is None:
            weighed = reweighed(matrix, self.idf, self.n_hash)
        return arbiter_logits(matrix, weighed, self.arbiter_coef, self.arbiter_intercept)

    def _thresholded(
        self, matrix: SparseRows, proba: FloatArray
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        rows = self.base_thresholds(matrix)
        chosen = decide(proba, rows)
        by_campaign = np.zeros(len(chosen), dtype=bool)
        if self.exemplars is None:
            return chosen, by_campaign
        maybe = np.flatnonzero((chosen == 0) & (proba >= self.near_thresholds).any(axis=1))
        if len(maybe):
            part = select_rows(matrix, maybe)
            values = reweighed(part, self.idf, self.n_hash)
            sims = self.exemplars.closeness(part, values, len(self.labels))
            base = np.broadcast_to(rows, proba.shape)[maybe]
            near = lowered(base, sims >= self.near_similarity, self.near_thresholds)
            chosen[maybe] = decide(proba[maybe], near)
            by_campaign[maybe] = chosen[maybe] != 0
        return chosen, by_campaign

    def base_thresholds(self, matrix: SparseRows) -> FloatArray:
        """The thresholds before known campaigns: one row, or one per message when
        mostly-Chinese messages have their own."""
        if not len(self.cjk_thresholds):
            return self.thresholds
        cjk = mostly_chinese(matrix, self.n_hash)
        out: FloatArray = np.where(cjk[:, np.newaxis], self.cjk_thresholds, self.thresholds)
        return out

    def predict(self, items: Sequence[MessageText]) -> list[Verdict]:
        """Label, every label's score and the model version, for each message."""
        if not items:
            return []
        matrix = feature_rows(items, self.n_hash)
        raw, weighed = self._scored(matrix)
        proba = self.calibrate(raw)
        chosen, by_campaign = self.decide_why(matrix, proba, weighed)
        # Python numbers first: walking numpy rows and scalars cost 2.2 us a message, this 1.3.
        return [
            Verdict(
                label=self.labels[k],
                scores=dict(zip(self.labels, row, strict=True)),
                model_version=self.version,
                known_campaign=why,
            )
            for k, row, why in zip(
                chosen.tolist(), proba.tolist(), by_campaign.tolist(), strict=True
            )
        ]


def listed_thresholds(model: Classifier) -> dict[str, Any]:
    """The thresholds by label, as the manifest and ``maild train`` show them: every
    label's usual and Chinese ones and, for a model with known campaigns, the cosine
    similarity and the near thresholds of the labels that have campaigns (the others
    are never lowered, so :data:`NEVER` is not listed)."""
    usual = (("thresholds", model.thresholds), ("cjk_thresholds", model.cjk_thresholds))
    out: dict[str, Any] = {
        name: {k: float(t) for k, t in zip(model.labels, row, strict=True)} for name, row in usual
    }
    if model.exemplars is not None:
        out["near_similarity"] = model.near_similarity
        out["near_thresholds"] = {
            k: float(t)
            for k, t in zip(model.labels, model.near_thresholds, strict=True)
            if t < NEVER
        }
    return out


def save_model(model: Classifier, path: Path, manifest: Mapping[str, Any] | None = None) -> str:
    """Write ``model`` to ``path``; return the file's digest."""
    meta = {
        **(manifest or {}),
        **model.manifest,
        "version": model.version,
        "labels": list(model.labels),
        **listed_thresholds(model),
        "n_hash": model.n_hash,
        "struct_names": list(STRUCT_NAMES),
        "length_prior": model.length_prior,
    }
    arrays = {name: np.asarray(getattr(model, name)) for name in _ARRAYS}
    if model.exemplars is not None:
        ex = model.exemplars
        arrays.update(
            near_colptr=ex.colptr,
            # Exemplar numbers fit in 16 bits for models of up to 65,536 of them.
            near_members=ex.members.astype(np.uint16 if len(ex.labels) <= 1 << 16 else np.int32),
            near_weights=ex.weights.astype(np.float16),
            near_labels=ex.labels,
            near_thresholds=np.asarray(model.near_thresholds, dtype=np.float64),
        )
    if len(model.arbiter_coef):
        arrays.update(
            arbiter_coef=model.arbiter_coef.astype(np.float16),
            arbiter_intercept=np.array([model.arbiter_intercept]),
        )
    # Half precision halves the file (the shipped one is kept in git) and moves no
    # score by more than about 1e-3 of its size; serving computes in float32.
    arrays["coef"] = arrays["coef"].astype(np.float16)
    arrays["idf"] = arrays["idf"].astype(np.float16)
    if not len(model.idf):
        del arrays["idf"]
    digest = write_artifact(Path(path), meta, arrays)
    log.info("model saved path=%s version=%s digest=%s", path, model.version, digest[:12])
    return digest


def _check_shapes(path: Path, labels: tuple[str, ...], n_hash: int, arrays: Any) -> None:
    n, width = len(labels), n_hash + len(STRUCT_NAMES)
    want = {
        "coef": (n, width),
        "intercept": (n,),
        "cal_coef": (n, n),
        "cal_intercept": (n,),
        "thresholds": (n,),
        "cjk_thresholds": (n,),
        "idf": (n_hash,),
        "near_colptr": (n_hash + 1,),
        "near_thresholds": (n,),
        "arbiter_coef": (n_hash,),
        "arbiter_intercept": (1,),
    }
    for name, shape in want.items():
        if name not in arrays:
            continue
        if arrays[name].shape != shape:
            raise ModelError(f"{path}: array {name} has shape {arrays[name].shape}, not {shape}")
        if arrays[name].dtype.kind not in "fiu":
            raise ModelError(f"{path}: array {name} holds {arrays[name].dtype}, not numbers")


def _exemplars(path: Path, arrays: Any) -> Exemplars:
    kinds = {"near_colptr": "i", "near_members": "iu", "near_weights": "f", "near_labels": "i"}
    for name, kind in kinds.items():
        if arrays[name].dtype.kind not in kind or arrays[name].ndim != 1:
            raise ModelError(f"{path}: array {name} is not a flat array of numbers")
    out = Exemplars(
        colptr=arrays["near_colptr"].astype(np.int32, copy=False),
        members=arrays["near_members"].astype(np.int32, copy=False),
        weights=arrays["near_weights"].astype(np.float32, copy=False),
        labels=arrays["near_labels"].astype(np.int8, copy=False),
    )
    problem = out.check()
    if problem:
        raise ModelError(f"{path}: the known campaigns are inconsistent: {problem}")
    return out


def _number(path: Path, manifest: Mapping[str, Any], key: str, default: float) -> float:
    """A setting of the manifest that must be a finite number, not below 0."""
    value = manifest.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < np.inf:
        raise ModelError(f"{path}: manifest {key} is {value!r}, not a number of 0 or more")
    return float(value)


def load_model(path: Path, expected_digest: str | None = None) -> Classifier:
    """Load and verify a model file written by :func:`save_model`.

    Raises :class:`~maild.classify.artifact.ModelError` for a missing, damaged,
    tampered or incompatible file (different labels, features or format).
    """
    manifest, arrays = read_artifact(Path(path), expected_digest)
    labels = tuple(str(x) for x in manifest.get("labels", ()))
    if labels != LABELS:
        raise ModelError(f"{path}: model labels {labels} differ from maild's {LABELS}")
    if manifest.get("struct_names") != list(STRUCT_NAMES):
        raise ModelError(f"{path}: built for other structure features; retrain the model")
    n_hash = int(manifest.get("n_hash", 0))
    near, arbiter = set(_NEAR) & set(arrays), set(_ARBITER) & set(arrays)
    allowed = set(_ARRAYS) | set(_NEAR) | set(_ARBITER)
    if (
        not set(_ARRAYS) - _OPTIONAL <= set(arrays) <= allowed
        or near not in (set(), set(_NEAR))
        or arbiter not in (set(), set(_ARBITER))
    ):
        raise ModelError(f"{path}: expected arrays {sorted(_ARRAYS)}, found {sorted(arrays)}")
    _check_shapes(Path(path), labels, n_hash, arrays)
    exemplars = _exemplars(Path(path), arrays) if near else None
    model = Classifier(
        labels=labels,
        coef=arrays["coef"].astype(np.float32, copy=False),
        intercept=arrays["intercept"].astype(np.float64),
        cal_coef=arrays["cal_coef"].astype(np.float64),
        cal_intercept=arrays["cal_intercept"].astype(np.float64),
        thresholds=arrays["thresholds"].astype(np.float64),
        cjk_thresholds=arrays["cjk_thresholds"].astype(np.float64),
        idf=arrays["idf"].astype(np.float32) if "idf" in arrays else np.zeros(0, np.float32),
        n_hash=n_hash,
        exemplars=exemplars,
        near_thresholds=arrays["near_thresholds"].astype(np.float64) if near else np.zeros(0),
        near_similarity=_number(path, manifest, "near_similarity", MIN_SIMILARITY),
        length_prior=_number(path, manifest, "length_prior", 0.0),
        arbiter_coef=(
            arrays["arbiter_coef"].astype(np.float32) if arbiter else np.zeros(0, np.float32)
        ),
        arbiter_intercept=float(arrays["arbiter_intercept"][0]) if arbiter else 0.0,
        version=str(manifest.get("version", "")),
        manifest=manifest,
    )
    log.info("model loaded path=%s version=%s", path, model.version)
    return model
