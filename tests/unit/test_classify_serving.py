"""Serving scores with numpy alone: the same columns and scores as scikit-learn and scipy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp  # type: ignore[import-untyped]  # no stubs
from sklearn.feature_extraction import FeatureHasher
from sklearn.preprocessing import normalize

from maild.classify.corpus import load_examples
from maild.classify.default import DEFAULT_MODEL
from maild.classify.features import DENSITY_NAMES, STRUCT_NAMES, featurize_counts
from maild.classify.message import Link, MessageText
from maild.classify.model import Classifier, arbitrate, decide, load_model
from maild.classify.vectorize import STRUCT_WEIGHT, damped, feature_rows, hashed_columns, reweighed

ROOT = Path(__file__).parents[2]
DATA = ROOT / "tests" / "data" / "classify"
PHISHING = b"""\
From: "Security" <alert@secure-bank.example>
To: support@shop.example
Subject: Urgent: verify your account

<html><body><p>Your account is suspended. <a href="http://198.51.100.7/login">
https://www.paypal.com/verify</a> now or lose access.</p></body></html>
"""


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    return load_model(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def messages() -> list[MessageText]:
    examples = load_examples([DATA / "messages.jsonl", DATA / "raw.jsonl.gz"], lambda _s: True)
    extra = [MessageText(), MessageText(subject="你好", body="请问蓝色的水壶还有货吗？😀")]
    return [ex.message for ex in examples] + extra


def _reference(model: Classifier, messages: list[MessageText]) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities, and the arbiter's log-odds of fraud, computed the way scikit-learn
    and scipy computed them before."""
    done = [featurize_counts(m) for m in messages]
    hasher = FeatureHasher(n_features=model.n_hash, input_type="dict", alternate_sign=False)
    text = hasher.transform(counts for counts, _struct in done).tocsr()
    text.data = np.log1p(text.data)
    text = normalize(normalize(text).multiply(model.idf).tocsr())
    struct = np.array([s for _c, s in done]).reshape(len(done), len(STRUCT_NAMES))
    # A row with n distinct terms: its word shares count sqrt(n / (n + prior)).
    terms = text.getnnz(axis=1)
    scale = np.sqrt(terms / (terms + model.length_prior))[:, np.newaxis]
    shares = [STRUCT_NAMES.index(name) for name in DENSITY_NAMES]
    struct[:, shares] *= scale
    matrix = sp.hstack([text, sp.csr_matrix(struct * STRUCT_WEIGHT)], format="csr")
    raw = matrix @ model.coef.T.astype(np.float64) + model.intercept
    z = raw @ model.cal_coef.T + model.cal_intercept
    e = np.exp(z - z.max(axis=1, keepdims=True))
    logits = text @ model.arbiter_coef.astype(np.float64) + model.arbiter_intercept
    return e / e.sum(axis=1, keepdims=True), logits


def test_tokens_hash_to_the_columns_scikit_learn_gives_them(messages: list[MessageText]) -> None:
    tokens = sorted({t for m in messages for t in featurize_counts(m)[0]})
    assert any(not t.isascii() for t in tokens)
    for n_features in (2**19, 1000):
        hasher = FeatureHasher(n_features=n_features, input_type="string", alternate_sign=False)
        want = hasher.transform([t] for t in tokens).indices.tolist()
        assert hashed_columns(tokens, n_features).tolist() == want


# A width of 7 puts many tokens of a row, with different counts, into one column.
@pytest.mark.parametrize("n_hash", [2**19, 7])
def test_the_feature_rows_are_the_scipy_matrix_training_fits_on(
    messages: list[MessageText], n_hash: int
) -> None:
    rows = feature_rows(messages, n_hash)
    done = [featurize_counts(m) for m in messages]
    hasher = FeatureHasher(n_features=n_hash, input_type="dict", alternate_sign=False)
    text = hasher.transform(counts for counts, _struct in done).tocsr()
    text.data = np.log1p(text.data)
    struct = np.array([s for _c, s in done]) * STRUCT_WEIGHT
    want = sp.hstack([normalize(text), sp.csr_matrix(struct)], format="csr")
    got = rows.tocsr()
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.diff(got.indptr), np.diff(want.indptr))
    assert abs(got - want).max() < 1e-12


def test_serving_scores_match_the_scipy_matrix_product(
    messages: list[MessageText], shipped: Classifier
) -> None:
    assert shipped.length_prior > 0
    want, logits = _reference(shipped, messages)
    got = shipped.proba(messages)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    cjk = np.array([featurize_counts(m)[1][0] >= 0.2 for m in messages])
    thresholds = np.where(cjk[:, np.newaxis], shipped.cjk_thresholds, shipped.thresholds)
    chosen = decide(want, thresholds)
    labels = [shipped.labels[k] for k in arbitrate(chosen, logits)]
    predictions = shipped.predict(messages)
    assert [p.label for p in predictions] == labels
    assert cjk.any() and len(set(labels)) > 1
    assert (arbitrate(chosen, logits) != chosen).any(), "no message here tests the arbiter"
    for prediction, row in zip(predictions, got, strict=True):
        assert prediction.scores == dict(zip(shipped.labels, map(float, row), strict=True))
        assert all(type(score) is float for score in prediction.scores.values())


def test_a_word_share_counts_less_in_a_short_message(shipped: Classifier) -> None:
    short = MessageText(body="delete account")  # 3 terms: two words and their bigram
    words = [f"w{a}{b}" for a in "abcdefghij" for b in "klmnop"]  # 60 distinct words
    long = MessageText(body=" ".join(words) + " delete account")
    rows = feature_rows([short, long], shipped.n_hash)
    values = reweighed(rows, shipped.idf, shipped.n_hash)
    out = damped(rows, values, shipped.n_hash, 30.0)
    text = rows.indices < shipped.n_hash
    np.testing.assert_array_equal(out[text], values[text])
    share = rows.indices == shipped.n_hash + STRUCT_NAMES.index("credential_terms")
    first, second = np.flatnonzero(share)
    n_long = int(text[rows.indptr[1] :].sum())
    assert n_long > 100
    assert out[first] == pytest.approx(values[first] * np.sqrt(3 / 33))
    assert out[second] == pytest.approx(values[second] * np.sqrt(n_long / (n_long + 30)))
    # The same account word: as a share of two words it now weighs less than of 120.
    assert out[first] < values[first] and out[first] / values[first] < out[second] / values[second]


def test_exact_facts_keep_their_value_in_a_short_message(shipped: Classifier) -> None:
    message = MessageText(
        subject="Verify your account",
        body="Suspended. Log in now.",
        links=(Link("http://198.51.100.7/login", "https://www.paypal.com/verify"),),
    )
    rows = feature_rows([message], shipped.n_hash)
    values = reweighed(rows, shipped.idf, shipped.n_hash)
    out = damped(rows, values, shipped.n_hash, 30.0)
    struct = rows.indices >= shipped.n_hash
    names = [STRUCT_NAMES[c - shipped.n_hash] for c in rows.indices[struct]]
    assert "ip_link" in names and "credential_terms" in names
    kept = np.isin(names, DENSITY_NAMES, invert=True)
    np.testing.assert_array_equal(out[struct][kept], values[struct][kept])
    assert (out[struct][~kept] < values[struct][~kept]).all()
    np.testing.assert_array_equal(damped(rows, values, shipped.n_hash, 0.0), values)


_WORKER = f"""
import json, sys
from pathlib import Path
from maild.config import load_config
from maild.classify.mime import message_from_raw
from maild.classify.shared import shared_model
from maild.ingest.rules import rules_for
from maild.ingest.workers import warm_up

rules = rules_for(load_config(Path(sys.argv[1])))
models = sorted({{(r.model, r.model_digest) for r in rules.values() if r.model}})
warm_up(models)
[prediction] = shared_model(*models[0]).predict([message_from_raw({PHISHING!r})])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("sklearn", "scipy"))
print(json.dumps({{"models": models, "label": prediction.label, "heavy": heavy}}))
"""


def test_loading_the_model_and_classifying_imports_neither_scikit_learn_nor_scipy(
    tmp_path: Path,
) -> None:
    config = tmp_path / "maild.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "maild.db"}"\n\n'
        '[mailboxes.shop]\naddress = "support@shop.example"\npreset = "generic"\n\n'
        '[mailboxes.shop.imap]\nhost = "127.0.0.1"\nport = 143\nsecurity = "none"\n'
        'username = "shop"\npassword_env = "MAILD_TEST_SHOP_PASSWORD"\n'
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MAILD_TEST_SHOP_PASSWORD": "pw"}
    done = subprocess.run(
        [sys.executable, "-c", _WORKER, str(config)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    out = json.loads(done.stdout)
    assert [path for path, _digest in out["models"]] == [str(DEFAULT_MODEL)]
    assert out["label"] in ("spam", "fraud")
    assert out["heavy"] == []
