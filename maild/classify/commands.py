"""``maild train``, ``maild evaluate`` and ``maild classify``: the classifier's commands.

They read corpora, a model file and messages, never a mailbox, so they need no
configuration file: a model can be trained and checked on a machine where maild is
not set up. The one exception is ``maild train --include-feedback``, which also
learns from the sellers' flags and unflags in the database the configuration names
(:data:`WITH_DATABASE`). numpy and scikit-learn are imported when one of these
commands runs rather than when the CLI starts, so that ``maild run`` and the other
commands do not pay for them.

Every failure the user can fix (a missing file, a malformed corpus line, a tampered
model) is raised as a :class:`~maild.errors.MaildError` whose text names the file
(and line), which the CLI prints as one line with exit code 1.
"""

from __future__ import annotations

__all__ = ["HANDLERS", "WITH_DATABASE", "add_parsers", "wants_database"]

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from maild.errors import MaildError

if TYPE_CHECKING:
    from maild.classify.model import Classifier
    from maild.classify.train import TrainReport
    from maild.config import Loader, Settings

_MODEL_HELP = "model file (default: the model maild ships, see README 'Classifier')"


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommands of :data:`HANDLERS` to ``commands``."""
    train = commands.add_parser(
        "train",
        help="train a spam/fraud/inappropriate model from labelled corpora",
        description="Fit a classifier on corpora in the shared JSONL(.gz) format (one "
        "object a line: id, label, lang, source, and raw or subject + body) and write "
        "the model file. Progress goes to stderr; the same data and seed give the same file.",
    )
    data = train.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", nargs="+", type=Path, metavar="PATH", help="corpus files")
    data.add_argument(
        "--shipped-from",
        type=Path,
        metavar="CORPORA",
        help="build the model maild ships from the shared corpora directory: only the "
        "sources whose licences allow a distributed model, plus contrast ham",
    )
    train.add_argument("--out", type=Path, required=True, metavar="MODEL", help="model file")
    train.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (0)")
    train.add_argument("--json", action="store_true", help="print the report as JSON")
    train.add_argument(
        "--include-feedback",
        action="store_true",
        help="also learn from the messages sellers flagged (as the reason) or unflagged "
        "(as ham) in the database of maild --config PATH; only with --data",
    )

    evaluate = commands.add_parser(
        "evaluate",
        help="score a model on labelled corpora",
        description="Classify every message of the corpora and print per-label precision, "
        "recall and F1, the confusion matrix, the ham false-positive rate, macro-F1 and "
        "messages per second.",
    )
    evaluate.add_argument(
        "--data", nargs="+", type=Path, required=True, metavar="PATH", help="corpus files"
    )
    evaluate.add_argument("--model", type=Path, metavar="MODEL", help=_MODEL_HELP)
    evaluate.add_argument("--json", action="store_true", help="print JSON for programs")

    classify = commands.add_parser(
        "classify",
        help="classify one message (an .eml file or standard input)",
        description="Print the label, every label's score and the model version of one "
        "RFC 822 message.",
    )
    classify.add_argument(
        "message", nargs="?", default="-", metavar="FILE.eml", help="the message (- or none: stdin)"
    )
    classify.add_argument("--model", type=Path, metavar="MODEL", help=_MODEL_HELP)
    classify.add_argument("--json", action="store_true", help="print JSON for programs")


def _progress(message: str) -> None:
    print(f"maild train: {message}", file=sys.stderr, flush=True)


def _train(args: argparse.Namespace) -> int:
    from maild.classify.shipped import train_shipped
    from maild.classify.train import train

    if args.shipped_from is not None:
        report = train_shipped(args.shipped_from, args.out, args.seed, _progress)
    else:
        report = train(args.data, args.out, args.seed, _progress)
    return _print_report(report, args)


def wants_database(args: argparse.Namespace) -> bool:
    """Whether this command line needs the configuration (and its database) after all."""
    return bool(vars(args).get("include_feedback"))


def _train_with_feedback(settings: Settings, args: argparse.Namespace, _load: Loader) -> int:
    from maild.classify.corpus import feedback_example
    from maild.classify.train import train
    from maild.store import Store

    if args.data is None:
        raise MaildError(
            "--include-feedback needs --data: the shipped model learns only from the "
            "shared corpora, never from one seller's mail"
        )
    store = Store.open(settings.database.url)
    try:
        judged = store.feedback()
    finally:
        store.close()
    extra = [feedback_example(m.pk, m.label, m.raw) for m in judged]
    _progress(f"{len(extra)} messages from the sellers' flags and unflags")
    return _print_report(train(args.data, args.out, args.seed, _progress, extra=extra), args)


def _print_report(report: TrainReport, args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
    else:
        print(_train_text(report))
    return 0


def _train_text(report: TrainReport) -> str:
    labels = ", ".join(f"{label} {n:,}" for label, n in report.per_label.items())
    thresholds, cjk, near = (
        "  ".join(f"{label} {t:.4f}" for label, t in row.items() if label != "ham")
        for row in (report.thresholds, report.cjk_thresholds, report.near_thresholds)
    )
    return "\n".join(
        [
            f"model       {report.model_path}",
            f"version     {report.version}",
            f"digest      {report.digest}",
            f"examples    {report.examples:,} ({labels})",
            f"thresholds  {thresholds}",
            f"  Chinese   {cjk}",
            f"  near a known campaign  {near or 'none'}  (cosine >= {report.near_similarity:.2f}"
            f" to one of {report.campaign_messages:,} spam and phishing messages)",
            f"cross-fit   macro-F1 {report.cv_macro_f1:.4f}  ham FPR {report.cv_ham_fpr:.4%}",
            f"seconds     {report.seconds:.1f}",
        ]
    )


def _load(path: Path | None) -> Classifier:
    from maild.classify.default import DEFAULT_MODEL
    from maild.classify.model import load_model

    if path is None and not DEFAULT_MODEL.is_file():
        raise MaildError(
            f"{DEFAULT_MODEL}: no model has been built yet; pass --model, or build the "
            f"shipped one: maild train --shipped-from CORPORA --out {DEFAULT_MODEL}"
        )
    return load_model(path or DEFAULT_MODEL)


def _evaluate(args: argparse.Namespace) -> int:
    from maild.classify.evaluate import evaluate

    report = evaluate(args.data, _load(args.model))
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.to_text())
    return 0


def _read_message(name: str) -> bytes:
    where = "standard input" if name == "-" else name
    try:
        data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
    except OSError as exc:
        raise MaildError(f"{where}: cannot read the message: {exc.strerror or exc}") from exc
    if not data.strip():
        raise MaildError(f"{where}: empty message; nothing to classify")
    return data


def _classify(args: argparse.Namespace) -> int:
    from maild.classify.mime import message_from_raw

    raw = _read_message(args.message)
    model = _load(args.model)
    (prediction,) = model.predict([message_from_raw(raw)])
    if args.json:
        print(json.dumps(prediction.as_dict(), indent=2))
    else:
        scores = "  ".join(f"{label} {p:.4f}" for label, p in prediction.scores.items())
        why = f" ({'; '.join(prediction.reasons)})" if prediction.reasons else ""
        print(
            f"label   {prediction.label}{why}\nscores  {scores}\nmodel   {prediction.model_version}"
        )
    return 0


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": _train,
    "evaluate": _evaluate,
    "classify": _classify,
}
#: What runs instead when :func:`wants_database` says so; the CLI loads the config first.
WITH_DATABASE: dict[str, Callable[[Settings, argparse.Namespace, Loader], int]] = {
    "train": _train_with_feedback,
}
