"""``maild train``, ``evaluate`` and ``classify`` end to end, on a corpus made here.

These commands read files named on the command line, so they must run where no
maild.toml exists (or a broken one does); every mistake in their input is one line
naming the file (and line) and exit code 1, never a traceback.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from maild.classify import default
from maild.classify.message import LABELS
from maild.classify.model import NEVER, load_model, save_model
from maild.cli import EX_PROBLEMS, EX_USAGE, main
from tests.support.tiny_corpus import records, write_jsonl

PHISHING = b"""\
From: Bank Security <security@bank.example>
To: support@seller.example
Subject: Account suspended
Message-ID: <phish.1@bank.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Your account is suspended. Verify your password and bank card within 24 hours.
"""
JSON_KEYS = {"macro_f1", "ham_fpr", "per_label", "confusion", "msgs_per_s"}


@pytest.fixture(autouse=True)
def no_usable_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A broken config where maild would look first: these commands must not read it."""
    monkeypatch.chdir(tmp_path)
    broken = tmp_path / "broken.toml"
    broken.write_text("[database\nurl = 3\n")
    monkeypatch.setenv("MAILD_CONFIG", str(broken))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("corpus") / "tiny.jsonl.gz", records())


@pytest.fixture(scope="module")
def model(corpus: Path) -> Path:
    out = corpus.with_name("model.npz")
    assert main(["train", "--data", str(corpus), "--out", str(out), "--seed", "3"]) == 0
    return out


def error_lines(err: str) -> list[str]:
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("maild:")]


def test_train_shows_progress_on_stderr_and_the_report_on_stdout(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m.npz"

    code = main(["train", "--data", str(corpus), "--out", str(out), "--seed", "3", "--json"])

    captured = capsys.readouterr()
    assert code == 0
    assert "maild train: featurizing 72 messages" in captured.err
    assert "maild train: final fit on all rows" in captured.err
    report = json.loads(captured.out)
    assert report["examples"] == 72
    assert report["version"] == load_model(out).version


def test_the_report_and_the_model_file_list_the_same_thresholds(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "m.npz"

    assert main(["train", "--data", str(corpus), "--out", str(out), "--seed", "3", "--json"]) == 0

    report, manifest = json.loads(capsys.readouterr().out), load_model(out).manifest
    for key in ("thresholds", "cjk_thresholds", "near_thresholds", "near_similarity"):
        assert report[key] == manifest[key], key
    assert NEVER not in manifest["near_thresholds"].values()


def test_the_same_seed_gives_the_same_file_and_another_seed_another_model(
    corpus: Path, model: Path, tmp_path: Path
) -> None:
    again, other = tmp_path / "again.npz", tmp_path / "other.npz"

    assert main(["train", "--data", str(corpus), "--out", str(again), "--seed", "3"]) == 0
    assert main(["train", "--data", str(corpus), "--out", str(other), "--seed", "4"]) == 0

    assert again.read_bytes() == model.read_bytes()
    assert load_model(other).version.endswith("-s4")


def test_evaluate_prints_the_figures_and_json_has_the_documented_keys(
    corpus: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["evaluate", "--data", str(corpus), "--model", str(model)]) == 0
    text = capsys.readouterr().out
    assert "confusion (rows: true, columns: predicted)" in text
    assert "macro-F1 " in text and "ham FPR " in text and "msgs/s" in text

    assert main(["evaluate", "--data", str(corpus), "--model", str(model), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert set(figures) >= JSON_KEYS
    assert set(figures["per_label"]) == set(LABELS)
    assert set(figures["per_label"]["ham"]) == {"precision", "recall", "f1", "support"}
    assert figures["confusion"]["fraud"]["fraud"] == 18
    assert figures["macro_f1"] == 1.0 and figures["ham_fpr"] == 0.0
    assert figures["msgs_per_s"] > 0


def test_classify_an_eml_file_gives_label_scores_and_model_version(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    eml = tmp_path / "phish.eml"
    eml.write_bytes(PHISHING)

    assert main(["classify", str(eml), "--model", str(model), "--json"]) == 0

    verdict = json.loads(capsys.readouterr().out)
    assert verdict["label"] == "fraud"
    assert set(verdict["scores"]) == set(LABELS)
    assert verdict["scores"]["fraud"] > 0.5
    assert verdict["model_version"] == load_model(model).version


def test_classify_reads_standard_input(
    model: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(PHISHING)))

    assert main(["classify", "-", "--model", str(model)]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["label", "fraud"]
    assert lines[1].startswith("scores  ham ")
    assert lines[2].split() == ["model", load_model(model).version]


def test_classify_says_when_the_arbiter_chose_against_the_scores(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    eml = tmp_path / "phish.eml"
    eml.write_bytes(PHISHING)
    swayed = tmp_path / "reads-spam.npz"
    save_model(replace(load_model(model), arbiter_intercept=-50.0), swayed)

    assert main(["classify", str(eml), "--model", str(swayed)]) == 0

    assert capsys.readouterr().out.splitlines()[0] == "label   spam (its words read as spam)"


def test_the_shipped_model_is_the_default(
    model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    eml = tmp_path / "phish.eml"
    eml.write_bytes(PHISHING)
    monkeypatch.setattr(default, "DEFAULT_MODEL", model)

    assert main(["classify", str(eml), "--json"]) == 0

    assert json.loads(capsys.readouterr().out)["model_version"] == load_model(model).version


def test_without_a_built_default_model_the_error_says_how_to_build_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    eml = tmp_path / "phish.eml"
    eml.write_bytes(PHISHING)
    missing = tmp_path / "default_model.npz"
    monkeypatch.setattr(default, "DEFAULT_MODEL", missing)

    assert main(["classify", str(eml)]) == EX_PROBLEMS

    [line] = error_lines(capsys.readouterr().err)
    assert line.startswith(f"maild: {missing}: no model has been built yet")
    assert f"maild train --shipped-from CORPORA --out {missing}" in line


def tamper(model: Path, out: Path) -> Path:
    """Halve the thresholds without updating the digest, as a hand edit would."""
    with np.load(model, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    arrays["thresholds"] = arrays["thresholds"] * 0.5
    np.savez(out, **arrays)
    return out


@pytest.mark.parametrize("command", ["classify", "evaluate"])
def test_a_tampered_model_is_refused_with_one_clear_line(
    corpus: Path,
    model: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    bad = tamper(model, tmp_path / "tampered.npz")
    eml = tmp_path / "phish.eml"
    eml.write_bytes(PHISHING)
    data = [str(eml)] if command == "classify" else ["--data", str(corpus)]

    assert main([command, *data, "--model", str(bad)]) == EX_PROBLEMS

    [line] = error_lines(capsys.readouterr().err)
    assert line == (
        f"maild: {bad}: content does not match its digest; the file was modified or "
        "damaged and is refused"
    )


@pytest.mark.parametrize(
    ("damage", "says"),
    [("truncated", "not a readable model file"), ("one-array", "not a maild model file")],
)
def test_a_damaged_or_foreign_model_file_is_refused(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str, says: str
) -> None:
    bad = tmp_path / "bad.npz"
    if damage == "truncated":
        bad.write_bytes(model.read_bytes()[:5000])
    else:
        with bad.open("wb") as fh:
            np.save(fh, np.zeros(3))
    eml = tmp_path / "phish.eml"
    eml.write_bytes(PHISHING)

    assert main(["classify", str(eml), "--model", str(bad)]) == EX_PROBLEMS

    [line] = error_lines(capsys.readouterr().err)
    assert line.startswith(f"maild: {bad}: {says}")


GOOD = {"id": "g", "label": "ham", "lang": "en", "source": "s", "subject": "", "body": "hi"}


@pytest.mark.parametrize(
    ("content", "where", "says"),
    [
        (json.dumps(GOOD) + "\n\n" + '{"id": "x", "label": "ham", "body": \n', 3, "not JSON"),
        (json.dumps(GOOD) + "\n" + json.dumps({**GOOD, "label": "x"}) + "\n", 2, "unknown label"),
        (json.dumps(GOOD) + '\n["a list"]\n', 2, "expected a JSON object"),
        (json.dumps(GOOD) + "\n" + '{"body": "caf\xe9"}\n', 2, "not UTF-8 text"),
    ],
    ids=["broken-json", "unknown-label", "not-an-object", "not-utf8"],
)
def test_a_malformed_corpus_line_is_named_by_file_and_line(
    model: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str,
    where: int,
    says: str,
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(content.encode("latin-1" if says == "not UTF-8 text" else "utf-8"))

    assert main(["evaluate", "--data", str(bad), "--model", str(model)]) == EX_PROBLEMS

    [line] = error_lines(capsys.readouterr().err)
    assert line.startswith(f"maild: {bad}:{where}: {says}")


def test_a_truncated_gzip_corpus_is_named(
    corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(corpus.read_bytes()[:-40])

    code = main(["train", "--data", str(cut), "--out", str(tmp_path / "m.npz")])

    assert code == EX_PROBLEMS
    [line] = error_lines(capsys.readouterr().err)
    assert line.startswith(f"maild: {cut}:") and "cannot read the file" in line
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["evaluate", "--data", "nowhere.jsonl", "--model", "{model}"], "nowhere.jsonl: no such"),
        (["classify", "nowhere.eml", "--model", "{model}"], "nowhere.eml: cannot read the message"),
        (["classify", "--model", "nowhere.npz", "{eml}"], "nowhere.npz: no such model file"),
        (
            ["train", "--data", "{corpus}", "--out", "no/such/dir/m.npz"],
            "no/such/dir/m.npz: cannot write the model file",
        ),
    ],
    ids=["corpus", "message", "model", "out-directory"],
)
def test_a_missing_file_is_one_line_naming_it(
    corpus: Path,
    model: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    says: str,
) -> None:
    eml = tmp_path / "phish.eml"
    eml.write_bytes(PHISHING)
    filled = [arg.format(model=model, eml=eml, corpus=corpus) for arg in args]

    assert main(filled) == EX_PROBLEMS

    [line] = error_lines(capsys.readouterr().err)
    assert says in line


def test_empty_standard_input_is_refused(
    model: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\n")))

    assert main(["classify", "--model", str(model)]) == EX_PROBLEMS

    [line] = error_lines(capsys.readouterr().err)
    assert line == "maild: standard input: empty message; nothing to classify"


def test_training_data_without_every_label_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    only_ham = write_jsonl(tmp_path / "ham.jsonl", [r for r in records() if r["label"] == "ham"])

    assert main(["train", "--data", str(only_ham), "--out", str(tmp_path / "m.npz")]) == 1

    [line] = error_lines(capsys.readouterr().err)
    assert "training data has no examples of ['fraud', 'inappropriate', 'spam']" in line


def write_csv_gz(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(gzip.compress(("\ufeff" + text.getvalue()).encode()))


def test_the_shipped_recipe_leaves_restricted_sources_out_and_adds_contrast_ham(
    tmp_path: Path,
) -> None:
    corpora = tmp_path / "corpora"
    corpora.mkdir()
    restricted = {**GOOD, "id": "trec:1", "label": "spam", "source": "trec06c-subset/spam"}
    write_jsonl(corpora / "dev.jsonl.gz", [*records(), restricted])
    jddc = {**GOOD, "id": "jddc2019:s1:0", "source": "jddc2019-sample"}
    write_jsonl(corpora / "ecommerce-ham.jsonl.gz", [jddc, {**GOOD, "source": "amazonqa"}])
    for split in ("train", "dev"):
        write_csv_gz(
            corpora / "cold" / f"{split}.csv.gz",
            ["", "split", "topic", "label", "TEXT"],
            [["0", split, "region", "0", "这个地方的菜很好吃"], ["1", split, "race", "1", "滚"]],
        )
    write_csv_gz(
        corpora / "davidson-hate-offensive" / "labeled_data.csv.gz",
        ["", "count", "hate_speech", "offensive_language", "neither", "class", "tweet"],
        [["7", "3", "0", "0", "3", "2", "what a lovely morning for a walk"]],
    )
    out = tmp_path / "shipped.npz"

    assert main(["train", "--shipped-from", str(corpora), "--out", str(out)]) == 0

    manifest = load_model(out).manifest
    assert manifest["shippable_only"] is True
    assert {"cold-safe/train", "cold-safe/dev", "davidson/neither", "amazonqa"} <= set(
        manifest["sources"]
    )
    assert not {"trec06c-subset/spam", "jddc2019-sample"} & set(manifest["sources"])


@pytest.mark.parametrize("command", ["train", "evaluate", "classify"])
def test_every_classifier_command_has_help(command: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "maild", command, "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert f"usage: maild {command}" in done.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--out", "m.npz"],
        ["train", "--data", "a.jsonl", "--shipped-from", "corpora", "--out", "m.npz"],
        ["train", "--data", "a.jsonl"],
        ["evaluate", "--model", "m.npz"],
    ],
    ids=["no-data", "data-and-shipped", "no-out", "evaluate-no-data"],
)
def test_missing_or_conflicting_options_are_usage_errors(args: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == EX_USAGE
