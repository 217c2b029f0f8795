"""Known campaigns: messages close to trained spam or phishing get lower thresholds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from maild.classify.artifact import ModelError
from maild.classify.exemplars import KEEP_TERMS, Exemplars, build_exemplars
from maild.classify.fit import FitConfig, near_thresholds
from maild.classify.message import LABELS, MessageText
from maild.classify.model import NEVER, Classifier, load_model, lowered, save_model
from maild.classify.train import train
from maild.classify.vectorize import FeatureRows, select_rows
from tests.support.campaigns import CAMPAIGN, with_campaign

DATA = Path(__file__).parents[1] / "data" / "classify"
CONFIG = FitConfig(seed=7, folds=3, n_jobs=1, by_source=False)
SPAM, FRAUD = LABELS.index("spam"), LABELS.index("fraud")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Classifier:
    out = tmp_path_factory.mktemp("campaigns") / "model.npz"
    train([DATA / "messages.jsonl", DATA / "raw.jsonl.gz"], out, seed=7, config=CONFIG)
    return load_model(out)


def _random_rows(rng: np.random.Generator, n_rows: int, n_hash: int) -> FeatureRows:
    lengths = rng.integers(1, 90, n_rows)
    indices = np.concatenate(
        [np.sort(rng.choice(n_hash, size=k, replace=False)) for k in lengths]
    ).astype(np.int32)
    data = rng.random(len(indices)) + 0.01
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    return FeatureRows(data, indices, indptr, (n_rows, n_hash))


def _dense(rows: FeatureRows) -> npt.NDArray[np.float64]:
    out = np.zeros(rows.shape)
    for i in range(rows.shape[0]):
        a, b = rows.indptr[i], rows.indptr[i + 1]
        out[i, rows.indices[a:b]] = rows.data[a:b]
    return out


def test_closeness_is_the_cosine_to_the_nearest_pruned_exemplar_of_each_label() -> None:
    rng = np.random.default_rng(3)
    n_hash = 160
    train_rows, queries = _random_rows(rng, 40, n_hash), _random_rows(rng, 25, n_hash)
    y = rng.choice([0, SPAM, FRAUD, 3], size=40)
    exemplars = build_exemplars(train_rows, train_rows.data, y, n_hash)
    # by hand: each spam/fraud row cut to its KEEP_TERMS heaviest values, unit length
    pruned = _dense(train_rows)
    for row in pruned:
        row[np.argsort(-row, kind="stable")[KEEP_TERMS:]] = 0.0
        row /= np.linalg.norm(row)
    sims = _dense(queries) @ pruned.T
    got = exemplars.closeness(queries, queries.data, len(LABELS))
    for k in range(len(LABELS)):
        want = sims[:, y == k].max(axis=1) if k in (SPAM, FRAUD) else np.zeros(25)
        np.testing.assert_allclose(got[:, k], want, rtol=1e-5, atol=1e-6)
    assert len(exemplars.labels) == int(np.isin(y, (SPAM, FRAUD)).sum())
    assert exemplars.check() is None


def test_select_rows_takes_whole_rows_in_the_order_asked() -> None:
    rows = _random_rows(np.random.default_rng(5), 12, 200)
    picked = select_rows(rows, np.array([7, 2, 7, 11]))
    np.testing.assert_array_equal(_dense(picked), _dense(rows)[[7, 2, 7, 11]])


def test_a_message_close_to_a_known_campaign_is_judged_with_the_lower_threshold(
    model: Classifier,
) -> None:
    resent = replace(CAMPAIGN, body=CAMPAIGN.body.replace("88812", "90417"))
    (score,) = model.predict([resent])
    near = with_campaign(model, near=score.scores["spam"] / 2)
    far = MessageText(subject="Order 4471", body="Could you tell me when my lamp ships?")
    predictions = near.predict([resent, far])
    assert [(p.label, p.known_campaign) for p in predictions] == [("spam", True), ("ham", False)]
    assert predictions[0].as_dict()["known_campaign"] is True
    assert replace(near, exemplars=None).predict([resent])[0].label == "ham"


def test_a_label_the_usual_thresholds_give_is_not_put_down_to_a_campaign(
    model: Classifier,
) -> None:
    lenient = replace(with_campaign(model, near=0.0), thresholds=np.zeros(4))
    (prediction,) = lenient.predict([CAMPAIGN])
    assert prediction.label != "ham" and not prediction.known_campaign


def test_closeness_alone_flags_nothing_below_the_near_threshold(model: Classifier) -> None:
    (score,) = model.predict([CAMPAIGN])
    near = with_campaign(model, near=min(1.0, score.scores["spam"] * 1.5 + 1e-6))
    (held,) = near.predict([CAMPAIGN])
    assert held.label == "ham" and not held.known_campaign
    assert held.scores == score.scores


def test_the_known_campaigns_survive_saving_and_loading(model: Classifier, tmp_path: Path) -> None:
    assert model.exemplars is not None
    assert len(model.exemplars.labels) > 0
    assert model.manifest["near_similarity"] == model.near_similarity
    path = tmp_path / "m.npz"
    saved = with_campaign(model, near=0.2)
    save_model(saved, path)
    again = load_model(path)
    assert again.exemplars is not None and saved.exemplars is not None
    np.testing.assert_array_equal(again.exemplars.members, saved.exemplars.members)
    np.testing.assert_allclose(again.exemplars.weights, saved.exemplars.weights, rtol=1e-3)
    assert again.near_thresholds.tolist() == [NEVER, 0.2, NEVER, NEVER]


def test_inconsistent_campaign_arrays_are_refused_though_the_digest_matches(
    model: Classifier, tmp_path: Path
) -> None:
    good = with_campaign(model, near=0.2).exemplars
    assert good is not None
    broken = Exemplars(good.colptr, good.members + 5, good.weights, good.labels)
    save_model(replace(model, exemplars=broken), tmp_path / "bad.npz")
    with pytest.raises(ModelError, match="known campaigns are inconsistent"):
        load_model(tmp_path / "bad.npz")


def test_a_model_without_known_campaigns_loads_and_decides_as_before(
    model: Classifier, tmp_path: Path
) -> None:
    plain = replace(model, exemplars=None, near_thresholds=np.zeros(0))
    save_model(plain, tmp_path / "plain.npz")
    again = load_model(tmp_path / "plain.npz")
    assert again.exemplars is None
    messages = [CAMPAIGN, MessageText(body="Where is my order 5512?")]
    assert again.predict(messages) == plain.predict(messages)


def test_near_thresholds_stay_within_the_ham_budget() -> None:
    # 100 spam at p(spam)=0.5, all close to a campaign; 1,000 ham at 0.4, 10 of them close.
    # Flagging close messages from 0.4 would flag 1% of ham; the budget is 0.5%.
    n_spam, n_ham = 100, 1000
    proba = np.zeros((n_spam + n_ham, 4))
    proba[:n_spam] = [0.5, 0.5, 0.0, 0.0]
    proba[n_spam:] = [0.6, 0.4, 0.0, 0.0]
    y = np.array([SPAM] * n_spam + [0] * n_ham)
    sims = np.zeros(proba.shape)
    sims[: n_spam + 10, SPAM] = 0.9
    base = np.array([0.0, 0.95, 0.95, 0.95])
    ham_w = np.where(y == 0, 1.0 / n_ham, 0.0)
    similarity, t = near_thresholds(proba, y, base, sims, 0.005, ham_w)
    assert 0.4 < t[SPAM] <= 0.5
    assert t[FRAUD] == NEVER
    assert similarity <= 0.9


def test_closeness_never_raises_a_threshold() -> None:
    base = np.array([[0.0, 0.3, 0.9, 0.9], [0.0, 0.9, 0.9, 0.9]])
    close = np.array([[False, True, True, False], [False, True, False, False]])
    near = np.array([NEVER, 0.5, 0.2, 0.1])
    assert lowered(base, close, near).tolist() == [[0.0, 0.3, 0.2, 0.9], [0.0, 0.5, 0.9, 0.9]]
