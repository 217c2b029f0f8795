"""Term weights (inverse document frequency) and the length prior that damps short
messages: set in training, kept in the model file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp  # type: ignore[import-untyped]  # no stubs

from maild.classify.artifact import ModelError, read_artifact, write_artifact
from maild.classify.fit import FitConfig
from maild.classify.message import MessageText
from maild.classify.model import Classifier, load_model, save_model
from maild.classify.train import train
from maild.classify.vectorize import reweigh, term_weights, vectorize

DATA = Path(__file__).parents[1] / "data" / "classify"
CONFIG = FitConfig(seed=7, folds=3, n_jobs=1, by_source=False)


def _matrix() -> sp.csr_matrix:
    # Three text columns and one structure column; column 0 is in every row.
    return sp.csr_matrix(
        np.array(
            [
                [0.6, 0.8, 0.0, 0.5],
                [0.6, 0.0, 0.8, 0.0],
                [1.0, 0.0, 0.0, 0.25],
            ]
        )
    )


def test_a_word_every_message_uses_weighs_less_than_a_rare_one() -> None:
    idf = term_weights(_matrix(), n_hash=3)
    assert idf.shape == (3,)
    assert idf[0] < idf[1] == idf[2]
    assert (idf >= 1.0).all()


def test_reweighing_keeps_rows_unit_length_and_structure_as_it_was() -> None:
    x = _matrix()
    out = reweigh(x, term_weights(x, 3), 3).toarray()
    np.testing.assert_allclose(np.linalg.norm(out[:, :3], axis=1), 1.0)
    np.testing.assert_array_equal(out[:, 3], x.toarray()[:, 3])
    assert out[0, 1] > x.toarray()[0, 1]  # the rare word gained share of its row
    assert reweigh(x, np.zeros(0, dtype=np.float32), 3) is x


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Classifier:
    out = tmp_path_factory.mktemp("weights") / "model.npz"
    train([DATA / "messages.jsonl", DATA / "raw.jsonl.gz"], out, seed=7, config=CONFIG)
    return load_model(out)


def test_the_model_file_keeps_its_term_weights_and_scores_with_them(model: Classifier) -> None:
    assert model.idf.shape == (model.n_hash,)
    messages = [MessageText(subject="free prize", body="claim your free prize now")]
    x = vectorize(messages, model.n_hash)
    plain = replace(model, idf=np.zeros(0, dtype=np.float32))
    assert not np.allclose(model.raw_scores(x), plain.raw_scores(x))


def test_a_model_without_term_weights_still_loads_and_scores_plain(
    model: Classifier, tmp_path: Path
) -> None:
    plain = replace(model, idf=np.zeros(0, dtype=np.float32))
    path = tmp_path / "plain.npz"
    save_model(plain, path)
    again = load_model(path)
    assert again.idf.shape == (0,)
    messages = [MessageText(subject="hello", body="is the kettle in stock?")]
    np.testing.assert_array_equal(again.proba(messages), plain.proba(messages))


def _rewritten(path: Path, out: Path, **changes: object) -> Path:
    """The model file at ``path`` written again with its manifest changed (``None``
    drops a key): a file that passes the digest check, as its builder wrote it."""
    manifest, arrays = read_artifact(path)
    for key, value in changes.items():
        manifest.pop(key, None)
        if value is not None:
            manifest[key] = value
    write_artifact(out, manifest, arrays)
    return out


def test_the_length_prior_is_kept_and_an_older_file_without_it_damps_nothing(
    model: Classifier, tmp_path: Path
) -> None:
    assert model.length_prior == CONFIG.length_prior > 0
    path = tmp_path / "model.npz"
    save_model(model, path)
    assert load_model(path).length_prior == model.length_prior
    older = load_model(_rewritten(path, tmp_path / "older.npz", length_prior=None))
    assert older.length_prior == 0.0
    messages = [MessageText(body="delete account")]
    plain = replace(model, length_prior=0.0)
    np.testing.assert_array_equal(older.proba(messages), plain.proba(messages))
    assert not np.allclose(model.proba(messages), plain.proba(messages))


@pytest.mark.parametrize("value", ["thirty", -1, True, float("nan")])
def test_a_length_prior_that_is_not_a_number_of_0_or_more_is_refused(
    model: Classifier, tmp_path: Path, value: object
) -> None:
    path = tmp_path / "model.npz"
    save_model(model, path)
    with pytest.raises(ModelError, match=r"manifest length_prior is .* not a number of 0 or more"):
        load_model(_rewritten(path, tmp_path / "bad.npz", length_prior=value))
