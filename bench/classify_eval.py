"""Acceptance figures of the maild classifier (issue 6), printed and saved as JSON.

    .venv/bin/python bench/classify_eval.py [--corpora ../shared/corpora] [--quick]

1. Shipped model on a held-out split: trained only on licence-clean sources (80% of
   the groups), scored on the other 20% of dev.jsonl.gz + ecommerce-ham.
2. Leave-one-source-out: for each source, a model trained without it scores it; the
   pooled predictions give macro-F1 / ham FPR on "sources never seen".
3. Restricted sets (TREC06c, telecom-fraud-zh, JDDC) scored by the shipped model (never
   trained on them), and what a local model trained on everything gets.
4. Speed on one core (batch and single message), model load time, full build time.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]  # no stubs

from maild.classify.corpus import CONTRAST_SOURCES, Example, is_shippable, load_examples
from maild.classify.evaluate import EvaluationReport, figures
from maild.classify.fit import FitConfig, IntArray, fit_classifier
from maild.classify.message import LABELS
from maild.classify.model import Classifier, load_model
from maild.classify.train import prepare, train
from maild.classify.upstream import write_contrast_ham

LOSO_FAMILIES = (
    "spamassassin/",
    "enron-spam/enron1",
    "enron-spam/enron3",
    "enron-spam/enron4",
    "enron-spam/enron5",
    "nazario/20051114",
    "nazario/phishing0",
    "nazario/phishing1",
    "nazario/phishing2_text",
    "davidson/hate",
    "amazonqa-appliances",
    "bitext",
    "atec",
    "ecd-sample",
)


@dataclass(frozen=True)
class Corpora:
    """The featurized corpora and the split every classifier figure is measured on."""

    paths: list[Path]
    examples: list[Example]
    x: Any
    y: IntArray
    src: np.ndarray[Any, Any]
    groups: np.ndarray[Any, Any]
    ship: np.ndarray[Any, Any]  # licence-clean: what the shipped model may learn from
    guard: np.ndarray[Any, Any]  # False: contrast ham, held out of every fit's training
    test: np.ndarray[Any, Any]  # the held-out fifth, by group


def load_corpora(corpora: Path, out: Path) -> Corpora:
    contrast = out / "contrast-ham.jsonl.gz"
    if not contrast.exists():
        write_contrast_ham(corpora, contrast)
    paths = [corpora / "dev.jsonl.gz", corpora / "ecommerce-ham.jsonl.gz", contrast]
    examples = load_examples(paths)
    x, y, sources, groups = prepare(examples)
    bucket = np.array(
        [int(hashlib.blake2b(g.encode(), digest_size=4).hexdigest(), 16) % 5 for g in groups]
    )
    return Corpora(
        paths,
        examples,
        x,
        y,
        np.array(sources),
        np.array(groups),
        np.array([is_shippable(s) for s in sources]),
        np.array([not s.startswith(CONTRAST_SOURCES) for s in sources]),
        bucket == 0,
    )


def line(name: str, r: EvaluationReport) -> None:
    print(f"== {name}: n={r.n} macro-F1={r.macro_f1:.4f} ham-FPR={r.ham_fpr:.4%}")
    for label, row in r.per_label.items():
        if row["support"]:
            print(
                f"     {label:<14} P={row['precision']:.4f} R={row['recall']:.4f} "
                f"F1={row['f1']:.4f} n={int(row['support'])}"
            )


def per_source(y: IntArray, pred: IntArray, src: np.ndarray[Any, Any], mask: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for s in sorted(set(src[mask].tolist())):
        m = mask & (src == s)
        truth = Counter(LABELS[k] for k in y[m].tolist())
        got = Counter(LABELS[k] for k in pred[m].tolist())
        acc = float(np.mean(pred[m] == y[m]))
        out[s] = {"n": int(m.sum()), "accuracy": acc, "true": dict(truth), "pred": dict(got)}
        print(f"     {s:<28} n={int(m.sum()):>6} acc={acc:.4f} true={dict(truth)} pred={dict(got)}")
    return out


def fit_on(data: Corpora, mask: Any, cfg: FitConfig) -> Classifier:
    """The recipe fitted on the rows of ``mask``."""
    model, _ = fit_classifier(
        data.x[mask],
        data.y[mask],
        list(data.src[mask]),
        list(data.groups[mask]),
        cfg,
        None,
        data.guard[mask],
    )
    return model


def without_source(data: Corpora, family: str) -> tuple[Classifier, Any]:
    """A fit on every licence-clean source but ``family`` (with three source folds, as
    for leave-one-source-out), and the licence-clean rows of ``family``."""
    held = np.array([s.startswith(family) for s in data.src.tolist()]) & data.ship
    return fit_on(data, data.ship & ~held, FitConfig(seed=0, folds=3)), held


def scored(model: Classifier, x: Any) -> tuple[Any, Any]:
    """Calibrated probabilities and the arbiter's log-odds of fraud for the rows of ``x``."""
    return model.calibrate(model.raw_scores(x)), model.fraud_logits(x)


def leave_one_source_out(data: Corpora) -> tuple[IntArray, Any, Any]:
    """Labels, calibrated probabilities and the arbiter's log-odds of every
    licence-clean row of the :data:`LOSO_FAMILIES`, each from a model fitted without
    that row's source (-1 and zeros for the rows of no family)."""
    pooled = np.full(len(data.y), -1)
    proba = np.zeros((len(data.y), len(LABELS)))
    logits = np.zeros(len(data.y))
    for fam in LOSO_FAMILIES:
        t = time.perf_counter()
        m, held = without_source(data, fam)
        proba[held], logits[held] = scored(m, data.x[held])
        pooled[held] = m.decide(data.x[held], proba[held])
        print(f"  LOSO {fam}: fit {time.perf_counter() - t:.0f}s")
    return pooled, proba, logits


def speed(model: Classifier, examples: list[Example]) -> dict[str, float]:
    """Messages per second on one core: the process is pinned and BLAS limited to 1 thread."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    messages = [ex.message for ex in examples]
    with threadpool_limits(1):
        model.predict(messages[:200])
        t = time.perf_counter()
        for i in range(0, len(messages), 500):
            model.predict(messages[i : i + 500])
        batch = len(messages) / (time.perf_counter() - t)
        t = time.perf_counter()
        for m in messages[:1000]:
            model.predict([m])
        single = min(1000, len(messages)) / (time.perf_counter() - t)
    mean_chars = float(np.mean([len(m.subject) + len(m.body) for m in messages]))
    return {"batch_msgs_per_s": batch, "single_msgs_per_s": single, "mean_chars": mean_chars}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--corpora", type=Path, default=Path(__file__).parents[2] / "shared" / "corpora"
    )
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    ap.add_argument("--quick", action="store_true", help="skip leave-one-source-out")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}

    t0 = time.perf_counter()
    data = load_corpora(args.corpora, args.out)
    examples, x, y, src = data.examples, data.x, data.y, data.src
    ship, guard, test = data.ship, data.guard, data.test
    print(f"loaded+featurized {len(examples)} messages in {time.perf_counter() - t0:.0f}s")
    cfg = FitConfig(seed=0)

    # 1. shipped model, held-out split
    t = time.perf_counter()
    shipped = fit_on(data, ship & ~test, cfg)
    print(
        f"shipped-split fit {time.perf_counter() - t:.0f}s "
        f"thresholds={np.round(shipped.thresholds, 4)}"
    )
    pred = shipped.decide(x, shipped.calibrate(shipped.raw_scores(x)))
    rep = figures(y[ship & test & guard], pred[ship & test & guard])
    line(
        "SHIPPED model, held-out split of dev.jsonl.gz + ecommerce-ham (licence-clean sources)", rep
    )
    results["heldout_shipped"] = rep.as_dict()
    rep_c = figures(y[test & ~guard], pred[test & ~guard])
    print(
        f"== contrast ham held out (COLD safe, Davidson neither): "
        f"FPR {rep_c.ham_fpr:.4%} n={rep_c.n}"
    )
    results["heldout_contrast_ham_fpr"] = rep_c.ham_fpr
    results["heldout_per_source"] = per_source(y, pred, src, test & ship)
    print("== RESTRICTED sources, never trained on by the shipped model (whole sets):")
    results["restricted_unseen"] = per_source(y, pred, src, ~ship)
    rep_r = figures(y[~ship], pred[~ship])
    line("SHIPPED model on all restricted sets", rep_r)

    # 3b. local model with restricted data, same split
    local = fit_on(data, ~test, cfg)
    pred_l = local.decide(x, local.calibrate(local.raw_scores(x)))
    rep_l = figures(y[test & guard], pred_l[test & guard])
    line("LOCAL model (all sets incl. restricted), held-out split of everything", rep_l)
    results["heldout_local_all"] = rep_l.as_dict()
    results["heldout_local_per_source"] = per_source(y, pred_l, src, test & ~ship)

    # 2. leave one source out
    if not args.quick:
        pooled, _proba, _logits = leave_one_source_out(data)
        done = pooled >= 0
        print("== LEAVE-ONE-SOURCE-OUT (each row predicted by a model that never saw its source):")
        results["loso_per_source"] = per_source(y, pooled, src, done)
        rep_o = figures(y[done], pooled[done])
        line("LOSO pooled", rep_o)
        results["loso_pooled"] = rep_o.as_dict()

    # 4. full build (documented command path), load time, speed
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model.npz"
        t = time.perf_counter()
        report = train(data.paths, out, seed=0, shippable_only=True)
        build_s = time.perf_counter() - t
        t = time.perf_counter()
        model = load_model(out)
        load_s = time.perf_counter() - t
        size = out.stat().st_size
    print(
        f"full shipped build: {build_s:.0f}s (cv macro-F1 {report.cv_macro_f1:.4f}, "
        f"cv ham FPR {report.cv_ham_fpr:.4%}), file {size / 1e6:.1f} MB, load {load_s:.2f}s"
    )
    typical = [ex for ex, keep in zip(examples, test & guard, strict=True) if keep]
    sp = speed(model, typical)
    print(
        f"speed on one core: {sp['batch_msgs_per_s']:.0f} msgs/s in batches of 500, "
        f"{sp['single_msgs_per_s']:.0f} msgs/s one at a time (mean {sp['mean_chars']:.0f} chars)"
    )
    raw = [ex for ex in typical if ex.message.has_html or ex.message.from_domain]
    sp_raw = speed(model, raw)
    print(
        f"speed on full e-mails only: {sp_raw['batch_msgs_per_s']:.0f} msgs/s "
        f"(mean {sp_raw['mean_chars']:.0f} chars)"
    )
    results.update(
        build_seconds=build_s,
        load_seconds=load_s,
        model_bytes=size,
        speed=sp,
        speed_full_emails=sp_raw,
        train_report=report.as_dict(),
    )
    (args.out / "classify_eval.json").write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
