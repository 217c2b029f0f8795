"""The model maild ships: committed, built by this code, and safe on Chinese mail."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from maild.classify.corpus import is_shippable
from maild.classify.default import DEFAULT_MODEL
from maild.classify.fit import cjk_thresholds
from maild.classify.message import MessageText
from maild.classify.model import Classifier, load_model
from maild.classify.train import recipe_digest
from tests.support.tables import table_rows

CHINESE_HAM = Path(__file__).parents[1] / "data" / "classify" / "chinese_ham.toml"


@pytest.fixture(scope="module")
def shipped() -> Classifier:
    return load_model(DEFAULT_MODEL)


def test_the_committed_model_was_built_by_the_code_in_this_tree(shipped: Classifier) -> None:
    rebuild = "maild train --shipped-from ../shared/corpora --out maild/classify/default_model.npz"
    assert shipped.manifest["recipe_digest"] == recipe_digest(), (
        f"the classifier code changed since default_model.npz was built; run: {rebuild}"
    )


def test_the_committed_model_learnt_only_from_licence_clean_sources(shipped: Classifier) -> None:
    assert shipped.manifest["shippable_only"] is True
    assert all(is_shippable(s) for s in shipped.manifest["sources"])
    assert "trec06c-subset" not in shipped.manifest["sources"]


def test_chinese_messages_are_judged_at_least_as_strictly(shipped: Classifier) -> None:
    assert (shipped.cjk_thresholds[1:] >= shipped.thresholds[1:]).all()
    assert shipped.cjk_thresholds[3] > shipped.thresholds[3]


@pytest.mark.parametrize(
    "case", table_rows(CHINESE_HAM, {"id", "subject", "body"}), ids=lambda c: str(c["id"])
)
def test_chinese_customer_and_personal_mail_stays_ham(
    shipped: Classifier, case: dict[str, str]
) -> None:
    message = MessageText(subject=case["subject"], body=case["body"], lang="zh")
    [prediction] = shipped.predict([message])
    assert prediction.label == "ham", prediction.scores


def test_a_chinese_message_is_judged_by_the_chinese_thresholds(shipped: Classifier) -> None:
    never = np.array([0.0, 2.0, 2.0, 2.0])
    model = replace(shipped, thresholds=np.zeros(4), cjk_thresholds=never)
    english = MessageText(subject="Hello", body="Is the blue kettle in stock?", lang="en")
    chinese = MessageText(subject="你好", body="请问蓝色的水壶还有货吗？", lang="zh")
    labels = [p.label for p in model.predict([english, chinese])]
    assert labels[0] != "ham"  # every label reaches 0
    assert labels[1] == "ham"  # no label reaches 2


def test_chinese_contrast_ham_raises_only_the_labels_it_reaches() -> None:
    # Columns: ham, spam, fraud, inappropriate. Four Chinese contrast rows, one Latin.
    proba = np.array(
        [
            [0.9, 0.0, 0.0, 0.1],
            [0.8, 0.0, 0.0, 0.2],
            [0.1, 0.0, 0.0, 0.9],
            [0.5, 0.0, 0.0, 0.5],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )
    cjk = np.array([True, True, True, True, False])
    contrast = np.ones(5, dtype=bool)
    base = np.array([0.0, 0.9, 0.5, 0.4])
    out = cjk_thresholds(proba, base, cjk, contrast, fpr=0.25)
    assert out[1:3].tolist() == [0.9, 0.5]  # no contrast row reaches spam or fraud
    assert 0.5 < out[3] < 0.9  # one of four Chinese rows (25%) may stay above it
    assert (proba[cjk, 3] >= out[3]).sum() == 1
