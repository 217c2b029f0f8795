"""The classifier end to end on a tiny model trained from tests/data/classify."""

# Chinese test text uses full-width punctuation on purpose
from __future__ import annotations

import json
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from maild.classify.artifact import ModelError, write_artifact
from maild.classify.evaluate import evaluate
from maild.classify.fit import FitConfig
from maild.classify.message import LABELS, MessageText
from maild.classify.model import (
    Classifier,
    arbiter_logits,
    arbitrate,
    decide,
    load_model,
    save_model,
)
from maild.classify.train import TrainReport, train
from maild.classify.vectorize import feature_rows, reweighed
from maild.domain import Verdict
from tests.support.tiny_corpus import records, write_jsonl

DATA = Path(__file__).parents[1] / "data" / "classify"
FILES = [DATA / "messages.jsonl", DATA / "raw.jsonl.gz"]
# The fixture has one source per label and language: holding a whole source out (the
# default, see fit.source_folds) would remove a language from a label, so this tiny
# model cross-fits on plain group folds. Source folds are tested on their own.
CONFIG = FitConfig(seed=7, folds=3, n_jobs=1, by_source=False)


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, TrainReport]:
    out = tmp_path_factory.mktemp("model") / "model.npz"
    report = train(FILES, out, seed=7, config=CONFIG)
    return out, report


@pytest.fixture(scope="session")
def model(trained: tuple[Path, TrainReport]) -> Classifier:
    return load_model(trained[0])


def test_train_report_describes_the_model(trained: tuple[Path, TrainReport]) -> None:
    path, report = trained
    assert report.examples == 107
    assert set(report.per_label) == set(LABELS)
    assert report.version.startswith("clf1-") and report.version.endswith("-s7")
    assert json.loads(json.dumps(report.as_dict()))["digest"] == report.digest
    manifest = load_model(path).manifest
    assert manifest["data_digest"] == report.data_digest
    assert manifest["labels"] == list(LABELS)
    assert set(manifest["thresholds"]) == set(LABELS)


def test_training_is_reproducible_with_a_seed(
    trained: tuple[Path, TrainReport], tmp_path: Path
) -> None:
    again = train(FILES, tmp_path / "m.npz", seed=7, config=CONFIG)
    assert again.digest == trained[1].digest


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Where is my parcel? Order 8812 has not arrived and tracking is stuck.", "ham"),
        ("请问我的订单什么时候发货？快递一直没有更新。", "ham"),
        (
            "Verify your account password within 24 hours or your account will be suspended.",
            "fraud",
        ),
        ("您的银行卡涉嫌洗钱，请立即把资金转入安全账户，否则冻结。", "fraud"),
        ("Cheap replica watches and free casino bonus, click here, limited offer!!!", "spam"),
        ("代开发票，税点低，兼职日赚三百，欢迎来电咨询。", "spam"),
        ("shut up you stupid worthless idiot, go to hell", "inappropriate"),
        ("你这个白痴废物，滚远点，恶心。", "inappropriate"),
    ],
)
def test_english_and_chinese_messages_get_their_label(
    model: Classifier, text: str, label: str
) -> None:
    (pred,) = model.predict([MessageText(body=text)])
    assert max(pred.scores, key=lambda k: pred.scores[k]) == label
    assert pred.model_version == model.version


def test_round_trip_through_save_and_load_predicts_the_same(
    model: Classifier, tmp_path: Path
) -> None:
    messages = [MessageText(subject="hello", body="is the kettle in stock?"), MessageText()]
    path = tmp_path / "copy.npz"
    save_model(model, path)
    again = load_model(path)
    assert again.version == model.version
    np.testing.assert_array_equal(again.proba(messages), model.proba(messages))
    assert again.predict(messages) == model.predict(messages)


def _rewrite(src: Path, dst: Path, edit: str) -> None:
    """Copy a model file changing one thing, the way a careless or hostile editor would."""
    with np.load(src, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    if edit == "threshold":
        manifest = json.loads(arrays["manifest"].tobytes())
        manifest["thresholds"]["spam"] = 0.01
        arrays["manifest"] = np.frombuffer(json.dumps(manifest).encode(), dtype=np.uint8)
    elif edit == "weights":
        arrays["thresholds"] = arrays["thresholds"] * 0.5
    np.savez(dst, **arrays)


@pytest.mark.parametrize("edit", ["threshold", "weights"])
def test_an_edited_model_file_is_refused(
    trained: tuple[Path, TrainReport], tmp_path: Path, edit: str
) -> None:
    bad = tmp_path / "bad.npz"
    _rewrite(trained[0], bad, edit)
    with pytest.raises(ModelError, match="modified or damaged"):
        load_model(bad)


def test_damaged_or_foreign_files_are_refused(
    trained: tuple[Path, TrainReport], tmp_path: Path
) -> None:
    data = bytearray(trained[0].read_bytes())
    data[len(data) // 2] ^= 0xFF
    (tmp_path / "flipped.npz").write_bytes(bytes(data))
    with pytest.raises(ModelError):
        load_model(tmp_path / "flipped.npz")
    (tmp_path / "text.npz").write_text("not a model")
    with pytest.raises(ModelError, match="not a readable model file"):
        load_model(tmp_path / "text.npz")
    with pytest.raises(ModelError, match="no such model file"):
        load_model(tmp_path / "missing.npz")


def test_a_pickled_array_is_refused_not_executed(tmp_path: Path) -> None:
    path = tmp_path / "pickle.npz"
    with zipfile.ZipFile(path, "w") as zf, zf.open("manifest.npy", "w") as fh:
        np.lib.format.write_array(fh, np.array([object()], dtype=object), allow_pickle=True)
    with pytest.raises(ModelError, match="not a readable model file"):
        load_model(path)


def test_a_pinned_digest_must_match(trained: tuple[Path, TrainReport]) -> None:
    assert load_model(trained[0], expected_digest=trained[1].digest).version
    with pytest.raises(ModelError, match="pinned"):
        load_model(trained[0], expected_digest="0" * 64)


def test_below_threshold_a_message_stays_ham_and_keeps_its_score(model: Classifier) -> None:
    message = MessageText(body="Cheap replica watches, free casino bonus, click here now!!!")
    (free,) = model.predict([message])
    assert free.label == "spam"
    strict = replace(model, thresholds=np.array([0.0, 1.0 + 1e-9, 1.0, 1.0]))
    (held,) = strict.predict([message])
    assert held.label == "ham"
    assert held.scores == free.scores
    assert held.scores["spam"] > held.scores["ham"]


def test_the_arbiter_says_whether_flagged_mail_is_spam_or_fraud(model: Classifier) -> None:
    messages = [
        MessageText(
            body="Cheap replica watches and free casino bonus, click here, limited offer!!!"
        ),
        MessageText(body="Verify your account password within 24 hours or it will be suspended."),
        MessageText(body="Where is my parcel? Order 8812 has not arrived and tracking is stuck."),
        MessageText(body="You stupid idiot, your lamp is garbage, shut up and go to hell."),
    ]
    # The tiny model never flags abuse in English; here every label flags at 0.5.
    flagging = replace(model, thresholds=np.array([0.0, 0.5, 0.5, 0.5]))
    as_trained = flagging.predict(messages)
    assert [v.label for v in as_trained] == ["spam", "fraud", "ham", "inappropriate"]
    for bias, junk in ((50.0, "fraud"), (-50.0, "spam")):
        swayed = replace(flagging, arbiter_intercept=bias).predict(messages)
        assert [v.label for v in swayed] == [junk, junk, "ham", "inappropriate"]
        assert [v.scores for v in swayed] == [v.scores for v in as_trained]


def test_the_arbiter_reads_the_words_of_phishing_without_links(model: Classifier) -> None:
    texts = [
        "Your account is suspended. Verify your password and bank card within 24 hours.",
        "Cheap deals!!! Buy now, limited offer, free casino bonus, unsubscribe anytime.",
    ]
    rows = feature_rows([MessageText(body=t) for t in texts], model.n_hash)
    values = reweighed(rows, model.idf, model.n_hash)
    fraud, spam = arbiter_logits(rows, values, model.arbiter_coef, model.arbiter_intercept)
    assert fraud > 0.0 > spam


def test_a_corpus_whose_fraud_one_fold_holds_alone_still_trains(tmp_path: Path) -> None:
    # One phishing message, three folds: the fold that holds it out has spam but no
    # fraud to fit the arbiter on.
    rows = [r for r in records() if r["label"] != "fraud" or r["id"] == "tiny:fraud:en:0"]
    path = write_jsonl(tmp_path / "few-fraud.jsonl", rows)
    report = train([path], tmp_path / "m.npz", seed=7, config=CONFIG)
    assert report.per_label["fraud"] == 1
    model = load_model(tmp_path / "m.npz")
    assert model.arbiter_coef.any()


@pytest.mark.parametrize(
    ("label", "spam", "fraud", "campaign", "reasons"),
    [
        ("fraud", 0.7, 0.2, False, ("its words read as phishing",)),
        ("spam", 0.2, 0.7, False, ("its words read as spam",)),
        ("fraud", 0.2, 0.7, False, ()),
        ("spam", 0.15, 0.05, True, ("close to a known spam or phishing campaign",)),
        (
            "fraud",
            0.15,
            0.05,
            True,
            ("close to a known spam or phishing campaign", "its words read as phishing"),
        ),
        ("inappropriate", 0.3, 0.2, False, ()),
    ],
)
def test_a_label_its_scores_do_not_explain_comes_with_the_reason(
    label: str, spam: float, fraud: float, campaign: bool, reasons: tuple[str, ...]
) -> None:
    scores = {"ham": 0.1, "spam": spam, "fraud": fraud, "inappropriate": 1.0 - spam - fraud}
    assert Verdict(label, scores, "v", known_campaign=campaign).reasons == reasons


def test_without_an_arbiter_flagged_mail_takes_its_likelier_label() -> None:
    chosen = np.array([0, 1, 2, 3, 1, 2])
    logits = np.array([5.0, 5.0, -5.0, 5.0, -5.0, 5.0])
    assert arbitrate(chosen, logits).tolist() == [0, 2, 1, 3, 1, 2]


def test_a_model_file_with_half_an_arbiter_is_refused(
    trained: tuple[Path, TrainReport], tmp_path: Path
) -> None:
    with np.load(trained[0], allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files if name != "arbiter_intercept"}
    manifest = json.loads(arrays.pop("manifest").tobytes())
    write_artifact(tmp_path / "half.npz", manifest, arrays)
    with pytest.raises(ModelError, match="expected arrays"):
        load_model(tmp_path / "half.npz")


def test_a_model_file_whose_arbiter_is_not_numbers_is_refused(
    trained: tuple[Path, TrainReport], tmp_path: Path
) -> None:
    with np.load(trained[0], allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    manifest = json.loads(arrays.pop("manifest").tobytes())
    arrays["arbiter_coef"] = arrays["arbiter_coef"] != 0
    write_artifact(tmp_path / "bools.npz", manifest, arrays)
    with pytest.raises(ModelError, match="array arbiter_coef holds bool, not numbers"):
        load_model(tmp_path / "bools.npz")


def test_a_model_file_from_before_the_arbiter_labels_by_the_likelier_score(
    trained: tuple[Path, TrainReport], model: Classifier, tmp_path: Path
) -> None:
    with np.load(trained[0], allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files if not name.startswith("arbiter_")}
    manifest = json.loads(arrays.pop("manifest").tobytes())
    write_artifact(tmp_path / "old.npz", manifest, arrays)
    old = load_model(tmp_path / "old.npz")
    assert not len(old.arbiter_coef)
    spam = MessageText(body="Cheap replica watches and free casino bonus, click here!!!")
    swayed = replace(model, arbiter_intercept=50.0)
    assert swayed.predict([spam])[0].label == "fraud"
    assert replace(old, arbiter_intercept=50.0).predict([spam])[0].label == "spam"


def test_decide_picks_the_likeliest_label_over_its_threshold() -> None:
    proba = np.array([[0.2, 0.5, 0.3, 0.0], [0.1, 0.45, 0.45, 0.0], [0.6, 0.3, 0.1, 0.0]])
    thresholds = np.array([0.0, 0.6, 0.25, 0.5])
    assert decide(proba, thresholds).tolist() == [2, 2, 0]


def test_evaluate_reports_the_cli_figures(model: Classifier) -> None:
    report = evaluate(FILES, model)
    data = report.as_dict()
    for key in ("macro_f1", "ham_fpr", "per_label", "confusion", "msgs_per_s"):
        assert key in data
    assert report.n == 107
    assert 0.0 < report.macro_f1 <= 1.0
    assert report.ham_fpr <= 0.05
    assert sum(sum(row.values()) for row in report.confusion.values()) == 107
    assert "macro-F1" in report.to_text()
