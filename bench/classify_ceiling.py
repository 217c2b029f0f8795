"""How far thresholds alone could take issue 6's two figures, and what that would cost.

    PYTHONPATH=. .venv/bin/python bench/classify_ceiling.py [--corpora ../shared/corpora]

Issue 6 asks for macro-F1 >= 0.95 with ham FPR <= 0.5% on the held-out split of
``bench/classify_eval.py`` and the same on sources the model never saw. For each, the
non-ham thresholds are also chosen on the scored rows themselves: an oracle no real
choice can beat (coordinate ascent over a grid, highest macro-F1 within the ham
budget). It prints, in this order:

- the split (the shipped recipe fitted on its training side, as that benchmark does):
  macro-F1 with the recipe's thresholds and with the oracle's, which says whether the
  model's ranking or its thresholds keep the split below the goal;
- the share of ham flagged, with either set, among ham of sources it never saw:
  contrast ham (COLD safe, Davidson neither), TREC06c and JDDC (restricted, never
  trained on), and three sources each held out of a fit of their own (with that
  fit's thresholds and with the split oracle's);
- sources never trained on: the leave-one-source-out predictions of
  ``bench/classify_eval.py`` (each source scored by a fit without it), with each
  fit's thresholds and with an oracle chosen on the pooled predictions, also under
  looser ham budgets (1% to 10%); then the bound that confusion between the non-ham
  labels puts on macro-F1 at any thresholds.

Every label here is the model's: thresholds flag, and the arbiter says whether what is
flagged as spam or fraud is spam or fraud.

The split's thresholds here are one set for all messages (the shipped model's stricter
thresholds for mostly-Chinese messages are left out on both sides).
"""

import argparse
from pathlib import Path
from typing import Any

import numpy as np
from classify_eval import (  # beside this file
    Corpora,
    fit_on,
    leave_one_source_out,
    load_corpora,
    scored,
    without_source,
)

from maild.classify.evaluate import EvaluationReport, figures
from maild.classify.fit import FitConfig
from maild.classify.message import LABELS
from maild.classify.model import arbitrate, decide

_FPR_BUDGET = 0.005
_UNSEEN = (
    ("contrast ham", "cold-safe", "davidson/neither"),
    ("TREC06c", "trec06c"),
    ("JDDC", "jddc"),
)
#: Ham budgets beyond the goal's, to show what the unseen-source figure would cost.
_LOOSER = (0.01, 0.02, 0.05, 0.10)
_HELD_OUT = ("spamassassin", "enron-spam", "bitext")


def labelled(proba: Any, logits: Any, thresholds: Any) -> Any:
    """The model's labels at ``thresholds``: flagged by them, spam or fraud by the arbiter."""
    return arbitrate(decide(proba, thresholds), logits)


def oracle(proba: Any, logits: Any, y: Any, budget: float = _FPR_BUDGET) -> tuple[Any, float]:
    """Thresholds (ham's first, unused) with the best macro-F1 within the ham budget."""
    grid = np.unique(
        np.concatenate(
            [np.linspace(0.02, 0.99, 98), np.quantile(proba[:, 1:], np.linspace(0, 1, 60))]
        )
    )
    best, chosen = 0.0, np.array([0.0, 0.5, 0.5, 0.5])
    for _ in range(2):
        for label in (1, 2, 3):
            for value in grid:
                trial = chosen.copy()
                trial[label] = value
                report = figures(y, labelled(proba, logits, trial))
                if report.ham_fpr <= budget and report.macro_f1 > best:
                    best, chosen = report.macro_f1, trial
    return chosen, best


def against_oracle(
    name: str, own: EvaluationReport, proba: Any, logits: Any, y: Any
) -> tuple[Any, EvaluationReport]:
    """Print ``own`` figures beside the oracle's; return the oracle's thresholds and figures."""
    thresholds, best = oracle(proba, logits, y)
    chosen = figures(y, labelled(proba, logits, thresholds))
    print(f"  {name}: macro-F1 {own.macro_f1:.4f}, ham FPR {own.ham_fpr:.3%}")
    print(
        f"  oracle thresholds {np.round(thresholds[1:], 3)}: "
        f"macro-F1 {best:.4f}, ham FPR {chosen.ham_fpr:.3%}"
    )
    return thresholds, chosen


def flagged_ham(proba: Any, y: Any, thresholds: Any) -> str:
    ham = y == 0
    flagged = int((decide(proba[ham], thresholds) != 0).sum())
    return f"{flagged}/{int(ham.sum())} = {flagged / max(int(ham.sum()), 1):.2%}"


def held_out_sources(data: Corpora, thresholds: Any) -> None:
    for family in _HELD_OUT:
        model, held = without_source(data, family)
        proba = model.calibrate(model.raw_scores(data.x[held]))
        y = data.y[held]
        print(
            f"  {family} held out: ham flagged with its fit's thresholds "
            f"{flagged_ham(proba, y, model.thresholds)}, with the split oracle's "
            f"{flagged_ham(proba, y, thresholds)}"
        )


def unseen_sources(data: Corpora) -> None:
    pooled, proba, logits = leave_one_source_out(data)
    done = pooled >= 0
    own = figures(data.y[done], pooled[done])
    print("sources never trained on (leave-one-source-out, pooled):")
    _t, chosen = against_oracle(
        "each fit's thresholds", own, proba[done], logits[done], data.y[done]
    )
    for label, row in chosen.per_label.items():
        print(f"  {label:<14} P={row['precision']:.3f} R={row['recall']:.3f} F1={row['f1']:.3f}")
    for budget in _LOOSER:
        _t, looser = oracle(proba[done], logits[done], data.y[done], budget)
        print(f"  oracle with ham FPR <= {budget:.1%}: macro-F1 {looser:.4f}")
    label_bound(proba[done], logits[done], data.y[done], data.src[done])


def label_bound(proba: Any, logits: Any, y: Any, src: Any) -> None:
    """Thresholds only decide *whether* a message is flagged; which non-ham label it
    gets is its likeliest one, and the arbiter's choice where that is spam or fraud. So
    the share of each label's messages that would get their own label that way bounds
    that label's recall at any thresholds, and with ham and precision perfect,
    macro-F1 at most reaches the mean of those F1s."""
    likeliest = arbitrate(proba[:, 1:].argmax(axis=1) + 1, logits)
    bounds = [1.0]
    for label in (1, 2, 3):
        rows = y == label
        recall = float((likeliest[rows] == label).mean())
        bounds.append(2 * recall / (1 + recall))
        print(f"  {LABELS[label]}: {recall:.1%} would be labelled {LABELS[label]} if flagged")
        for source in sorted(set(src[rows].tolist())):
            here = rows & (src == source)
            share = float((likeliest[here] == label).mean())
            if share < 0.9:
                print(f"    {source}: {share:.1%} of {int(here.sum())}")
    print(
        f"  so at any thresholds, with ham and precision perfect: "
        f"macro-F1 at most {np.mean(bounds):.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpora", type=Path, default=Path(__file__).parents[2] / "shared" / "corpora"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data = load_corpora(args.corpora, args.out)
    train = data.ship & ~data.test
    model = fit_on(data, train, FitConfig(seed=0))
    proba, logits = scored(model, data.x)
    split = data.ship & data.test & data.guard
    own = figures(data.y[split], labelled(proba[split], logits[split], model.thresholds))
    print("split:")
    recipe = f"recipe's thresholds {np.round(model.thresholds[1:], 3)}"
    thresholds, _chosen = against_oracle(recipe, own, proba[split], logits[split], data.y[split])
    print("ham of sources never trained on, flagged (recipe's thresholds | oracle's):")
    sources = data.src.tolist()
    never_trained = data.test | ~data.ship  # as classify_eval.py reports them
    for name, *prefixes in _UNSEEN:
        rows = np.array([s.startswith(tuple(prefixes)) for s in sources]) & never_trained
        print(
            f"  {name}: {flagged_ham(proba[rows], data.y[rows], model.thresholds)} | "
            f"{flagged_ham(proba[rows], data.y[rows], thresholds)}"
        )
    held_out_sources(data, thresholds)
    unseen_sources(data)


if __name__ == "__main__":
    main()
