"""Contrast ham from two upstream sets of ``shared/corpora`` that dev.jsonl.gz leaves out.

dev.jsonl.gz keeps only the offensive rows of COLD and Davidson. Their *clean* rows
(COLD label 0 "safe", Davidson class 2 "neither") are the same kind of text on the same
topics without the abuse. Without them, every Chinese message that is not an Alipay
question and every tweet-like English line looks "inappropriate" to the model, because
that is all it has seen of such text. Both sets allow a shipped model (Apache-2.0, MIT).

``write_contrast_ham`` turns those rows into the shared JSONL schema, labelled ham, so
that ``maild train`` reads them like any other corpus.
"""

from __future__ import annotations

__all__ = ["contrast_ham_records", "write_contrast_ham"]

import csv
import gzip
import json
from collections.abc import Iterator
from pathlib import Path

from maild.errors import MaildError


def _rows(path: Path) -> Iterator[dict[str, str]]:
    if not path.is_file():
        raise MaildError(f"{path}: missing; expected the shared corpora layout")
    with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as fh:
        yield from csv.DictReader(fh)


def contrast_ham_records(corpora: Path) -> Iterator[dict[str, str]]:
    """COLD label-0 and Davidson class-2 rows as ham records of the shared schema."""
    for split in ("train", "dev"):
        for n, row in enumerate(_rows(corpora / "cold" / f"{split}.csv.gz")):
            if row.get("label") == "0" and row.get("TEXT"):
                yield {
                    "id": f"cold:{split}:safe{n}",
                    "label": "ham",
                    "lang": "zh",
                    "source": f"cold-safe/{split}",
                    "subject": "",
                    "body": row["TEXT"],
                }
    for row in _rows(corpora / "davidson-hate-offensive" / "labeled_data.csv.gz"):
        if row.get("class") == "2" and row.get("tweet"):
            yield {
                "id": f"davidson:{row.get('', '')}",
                "label": "ham",
                "lang": "en",
                "source": "davidson/neither",
                "subject": "",
                "body": row["tweet"],
            }


def write_contrast_ham(corpora: Path, out: Path) -> int:
    """Write the contrast ham to ``out`` (JSONL, gzipped if it ends in .gz); return the count."""
    opener = gzip.open if out.suffix == ".gz" else open
    count = 0
    with opener(out, "wt", encoding="utf-8") as fh:
        for record in contrast_ham_records(corpora):
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count
