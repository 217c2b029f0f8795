"""maild's classifier side by side with Apache SpamAssassin on the same messages (issue 6).

Local benchmark only (never run by the tests). Needs Debian's ``spamassassin`` and
``spamc`` packages (``apt-get install -y spamassassin spamc``)::

    .venv/bin/python bench/classify_vs_spamassassin.py [--train-max 2000] [--test-max 800]

1. The split is the one of ``bench/classify_eval.py``: a group (same normalised text)
   is in the test split when its hash is 0 mod 5. maild's model is trained exactly like
   the shipped one (licence-clean sources plus contrast ham) on the training side.
2. SpamAssassin's Bayes is trained with ``sa-learn`` on a bounded random sample of the
   *e-mail* training records of that split (SpamAssassin, Enron, Nazario; plus the
   customer-service ham, as ham): at most ``--train-max`` per side. Records without
   ``raw`` (subject + body) become a minimal RFC 822 message (:func:`as_rfc822`).
3. A sample of test records (at most ``--test-max`` ham and as many spam + fraud, each
   side with an equal share per corpus, see :func:`_stratified`) is scored by a local
   ``spamd`` (``-L``: no network tests, so no DNS blocklists or Razor; rules are those
   of the Debian package) through ``spamc -c``, and by maild on the very same RFC 822
   text (``message_from_raw``).
4. The task is binary: spam or fraud is "spam". Printed and saved to
   ``bench/results/vs_spamassassin.json``: precision, recall, F1 of "spam" and ham FPR for
   both, per source, and SpamAssassin's figures with and without Bayes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import numpy as np

from maild.classify.corpus import (
    CONTRAST_SOURCES,
    family_of,
    is_shippable,
    load_examples,
    read_records,
)
from maild.classify.fit import FitConfig, fit_classifier
from maild.classify.mime import message_from_raw
from maild.classify.model import Classifier
from maild.classify.train import prepare
from maild.classify.upstream import write_contrast_ham

#: Sources whose records are e-mail (or, for ham, messages a seller receives).
MAIL_SOURCES = ("spamassassin/", "enron-spam/", "nazario/")
CUSTOMER_HAM = ("amazonqa-appliances", "bitext", "ecd-sample", "atec")
NOT_HAM = ("spam", "fraud")


def as_rfc822(record: dict[str, object]) -> str:
    """The record as an RFC 822 message: ``raw`` as is, else a minimal plain-text mail."""
    raw = record.get("raw")
    if isinstance(raw, str):
        return raw
    subject = str(record.get("subject") or "")
    body = str(record.get("body") or "")
    digest = hashlib.blake2b(str(record.get("id")).encode(), digest_size=8).hexdigest()
    headers = [
        "From: Sender <sender@example.com>",
        "To: Shop <shop@example.org>",
        f"Subject: {Header(subject, 'utf-8').encode() if subject else ''}",
        f"Date: {format_datetime(datetime(2024, 1, 15, 10, 0, tzinfo=UTC))}",
        f"Message-ID: <{digest}@example.com>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    return "\n".join(headers) + "\n\n" + body + "\n"


def _is_candidate(source: str) -> bool:
    return source.startswith(MAIL_SOURCES) or source.startswith(CUSTOMER_HAM)


def _sample(rows: list[dict[str, object]], k: int, rng: random.Random) -> list[dict[str, object]]:
    return rng.sample(rows, k) if len(rows) > k else list(rows)


def _stratified(
    rows: list[dict[str, object]], k: int, rng: random.Random
) -> list[dict[str, object]]:
    """At most ``k`` rows with every corpus (``family_of``) given an equal share, the rest
    filled at random: a plain sample of the ham would be mostly short Alipay questions."""
    by_family: dict[str, list[dict[str, object]]] = {}
    for row in rows:
        by_family.setdefault(family_of(str(row.get("source") or "")), []).append(row)
    share = k // max(len(by_family), 1)
    chosen = [r for fam in sorted(by_family) for r in _sample(by_family[fam], share, rng)]
    taken = {id(r) for r in chosen}
    rest = [r for r in rows if id(r) not in taken]
    return chosen + _sample(rest, k - len(chosen), rng)


def _binary(label: str) -> int:
    return int(label in NOT_HAM)


def scores(pred: Sequence[int], truth: Sequence[int]) -> dict[str, float]:
    """Precision, recall and F1 of "spam" (1), and the ham false-positive rate."""
    p, t = np.asarray(pred), np.asarray(truth)
    tp = int(((p == 1) & (t == 1)).sum())
    fp = int(((p == 1) & (t == 0)).sum())
    fn = int(((p == 0) & (t == 1)).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    ham = int((t == 0).sum())
    return {
        "precision": prec,
        "recall": rec,
        "f1": f1,
        "ham_fpr": fp / ham if ham else 0.0,
        "n_spam": int((t == 1).sum()),
        "n_ham": ham,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _siteconfig(root: Path, bayes: Path, use_bayes: bool) -> Path:
    """A copy of /etc/spamassassin's plugin list plus our Bayes settings."""
    site = root / ("site-bayes" if use_bayes else "site-nobayes")
    site.mkdir()
    for pre in Path("/etc/spamassassin").glob("*.pre"):
        shutil.copy(pre, site / pre.name)
    (site / "local.cf").write_text(
        f"use_bayes {int(use_bayes)}\nbayes_auto_learn 0\nbayes_auto_expire 0\n"
        f"bayes_path {bayes}/bayes\nbayes_file_mode 0777\nlock_method flock\n"
        "use_bayes_rules 1\nskip_rbl_checks 1\nuse_razor2 0\nuse_pyzor 0\n"
    )
    return site


def _sa_learn(site: Path, bayes: Path, kind: str, folder: Path) -> None:
    subprocess.run(
        ["sa-learn", f"--siteconfigpath={site}", f"--dbpath={bayes}", f"--{kind}", str(folder)],
        check=True,
        capture_output=True,
    )


def _spamc_scores(port: int, messages: Sequence[str], workers: int) -> list[float]:
    def one(msg: str) -> float:
        done = subprocess.run(
            ["spamc", "-c", "-d", "127.0.0.1", "-p", str(port), "-s", "2000000"],
            input=msg.encode("utf-8", "surrogateescape"),
            capture_output=True,
            check=False,
        )
        return float(done.stdout.decode().split("/")[0])

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(one, messages))


def _wait_port(port: int, proc: subprocess.Popen[bytes], limit: float = 120.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"spamd exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise RuntimeError("spamd did not start")


def spamassassin_scores(
    root: Path, site: Path, messages: Sequence[str], workers: int
) -> list[float]:
    """Score ``messages`` with a local spamd using ``site`` as its site configuration."""
    port = _free_port()
    proc = subprocess.Popen(
        [
            "spamd",
            "-L",
            "-x",
            "-u",
            "nobody",
            f"--siteconfigpath={site}",
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            f"--max-children={workers}",
            f"--pidfile={root / f'spamd-{site.name}.pid'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(root / f"spamd-{site.name}.log").open("wb"),
    )
    try:
        _wait_port(port, proc)
        return _spamc_scores(port, messages, workers)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def per_source(
    sources: Sequence[str], pred: Sequence[int], truth: Sequence[int]
) -> dict[str, dict[str, Any]]:
    """Share right per source, for both systems side by side in the printout."""
    out: dict[str, dict[str, Any]] = {}
    for s in sorted(set(sources)):
        idx = [i for i, x in enumerate(sources) if x == s]
        right = sum(pred[i] == truth[i] for i in idx)
        out[s] = {"n": len(idx), "accuracy": right / len(idx)}
    return out


def train_maild(paths: Sequence[Path], seed: int) -> tuple[Classifier, set[str], set[str]]:
    """maild's model fitted like the shipped one on the training side of the split."""
    examples = load_examples(paths, is_shippable)
    x, y, sources, groups = prepare(examples)
    bucket = np.array(
        [int(hashlib.blake2b(g.encode(), digest_size=4).hexdigest(), 16) % 5 for g in groups]
    )
    test_ids = {ex.id for ex, b in zip(examples, bucket.tolist(), strict=True) if b == 0}
    train_ids = {ex.id for ex, b in zip(examples, bucket.tolist(), strict=True) if b != 0}
    rows = bucket != 0
    guard = np.array([not s.startswith(CONTRAST_SOURCES) for s in sources])
    src = np.array(sources)
    model, _ = fit_classifier(
        x[rows],
        y[rows],
        list(src[rows]),
        [g for g, keep in zip(groups, rows.tolist(), strict=True) if keep],
        FitConfig(seed=seed),
        None,
        guard[rows],
    )
    return model, test_ids, train_ids


Pools = dict[tuple[str, int], list[dict[str, object]]]


def split_pools(paths: Sequence[Path], test_ids: set[str], train_ids: set[str]) -> Pools:
    """Candidate records by (side, spam-or-not)."""
    pools: Pools = {}
    for path in paths:
        for rec in read_records(path):
            source = str(rec.get("source") or "")
            if not (_is_candidate(source) and is_shippable(source)):
                continue
            rid = str(rec.get("id"))
            side = "test" if rid in test_ids else "train" if rid in train_ids else ""
            if side:
                pools.setdefault((side, _binary(str(rec.get("label")))), []).append(rec)
    return pools


def run_spamassassin(
    learn: dict[int, list[dict[str, object]]], messages: Sequence[str], workers: int
) -> dict[str, list[float]]:
    """SpamAssassin scores of ``messages``, with its Bayes trained on ``learn`` and without."""
    out: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="sa-bench-") as tmp:
        root = Path(tmp)
        root.chmod(0o777)
        bayes = root / "bayes"
        bayes.mkdir(mode=0o777)
        site = _siteconfig(root, bayes, use_bayes=True)
        t = time.perf_counter()
        for k, kind in ((1, "spam"), (0, "ham")):
            folder = root / f"learn-{kind}"
            folder.mkdir()
            for i, rec in enumerate(learn[k]):
                (folder / f"{i:06d}.eml").write_text(as_rfc822(rec), "utf-8", "surrogateescape")
            _sa_learn(site, bayes, kind, folder)
        for f in bayes.iterdir():
            f.chmod(0o666)
        print(f"sa-learn done in {time.perf_counter() - t:.0f}s")
        for name, use_bayes in (("spamassassin_bayes", True), ("spamassassin_rules_only", False)):
            conf = site if use_bayes else _siteconfig(root, bayes, use_bayes=False)
            t = time.perf_counter()
            out[name] = spamassassin_scores(root, conf, messages, workers)
            print(f"{name}: scored in {time.perf_counter() - t:.0f}s")
    return out


def report(results: dict[str, Any]) -> None:
    """Print the side-by-side figures."""
    for name in ("maild", "spamassassin_bayes", "spamassassin_rules_only"):
        r = results[name]
        print(
            f"{name:<24} F1={r['f1']:.4f} P={r['precision']:.4f} R={r['recall']:.4f} "
            f"ham-FPR={r['ham_fpr']:.4%} (spam {r['n_spam']}, ham {r['n_ham']})"
        )
    print("share right per source: maild | SA+Bayes | SA rules only")
    for s, row in results["maild_per_source"].items():
        sab = results["spamassassin_bayes_per_source"][s]["accuracy"]
        sar = results["spamassassin_rules_only_per_source"][s]["accuracy"]
        print(f"  {s:<28} n={row['n']:>4} {row['accuracy']:.3f} | {sab:.3f} | {sar:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--corpora", type=Path, default=Path(__file__).parents[2] / "shared" / "corpora"
    )
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    ap.add_argument("--train-max", type=int, default=2000, help="sa-learn messages per side")
    ap.add_argument("--test-max", type=int, default=800, help="test messages per side")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if not shutil.which("spamd") or not shutil.which("spamc"):
        raise SystemExit("needs Debian's spamassassin and spamc: apt-get install -y spamassassin")
    args.out.mkdir(parents=True, exist_ok=True)
    contrast = args.out / "contrast-ham.jsonl.gz"
    if not contrast.exists():
        write_contrast_ham(args.corpora, contrast)
    paths = [args.corpora / "dev.jsonl.gz", args.corpora / "ecommerce-ham.jsonl.gz", contrast]
    rng = random.Random(args.seed)

    t0 = time.perf_counter()
    model, test_ids, train_ids = train_maild(paths, args.seed)
    print(f"maild model trained on the training split in {time.perf_counter() - t0:.0f}s")
    pools = split_pools(paths[:2], test_ids, train_ids)
    learn = {k: _sample(pools[("train", k)], args.train_max, rng) for k in (0, 1)}
    test = [r for k in (0, 1) for r in _stratified(pools[("test", k)], args.test_max, rng)]
    truth = [_binary(str(r.get("label"))) for r in test]
    test_sources = [str(r.get("source")) for r in test]
    messages = [as_rfc822(r) for r in test]
    print(
        f"sa-learn: {len(learn[1])} spam+fraud, {len(learn[0])} ham; "
        f"test: {sum(truth)} spam+fraud, {len(truth) - sum(truth)} ham"
    )

    t = time.perf_counter()
    parsed = [message_from_raw(m) for m in messages]
    maild_pred = [int(p.label != "ham") for p in model.predict(parsed)]
    results: dict[str, Any] = {
        "maild": scores(maild_pred, truth),
        "maild_seconds": time.perf_counter() - t,
        "maild_per_source": per_source(test_sources, maild_pred, truth),
        "train_max": args.train_max,
        "test_max": args.test_max,
    }
    for name, sa in run_spamassassin(learn, messages, args.workers).items():
        sa_pred = [int(s >= 5.0) for s in sa]
        results[name] = scores(sa_pred, truth)
        results[f"{name}_scores"] = sa
        results[f"{name}_per_source"] = per_source(test_sources, sa_pred, truth)
    report(results)
    (args.out / "vs_spamassassin.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
