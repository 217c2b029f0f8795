"""Real mail from the shared corpora, mixed into the demo's mailbox as background.

A development checkout has ``../shared/corpora``; a user's machine does not, and then a
small sample shipped with maild stands in. Only sets whose terms allow it are taken:
SpamAssassin's public corpus (PDDL and CC0; the sample ships only these) and, from the
corpora folder, Jose Nazario's phishing corpus. Never the reserved or restricted sets
(TREC 2006, telecom fraud, JDDC), whatever the corpora README says next.
"""

__all__ = ["CORPUS_FILE", "SAMPLE", "corpus_messages"]

import gzip
import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

CORPUS_FILE = "dev.jsonl.gz"
SAMPLE = "corpus-sample.jsonl.gz"
# How many raw messages of each source the demo takes, in file order.
QUOTAS = {"spamassassin/easy-ham-1": 8, "spamassassin/spam-2": 5, "nazario/phishing1": 3}


def _records(path: Path) -> Iterator[dict[str, str]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            yield json.loads(line)


def corpus_messages(corpora: Path | None) -> tuple[list[bytes], str]:
    """The raw messages to seed, and where they came from (for the progress line)."""
    full = corpora / CORPUS_FILE if corpora is not None else None
    if full is not None and full.is_file():
        source, origin = full, str(full)
    else:
        source, origin = Path(str(resources.files(__package__) / SAMPLE)), "maild's sample"
    left = dict(QUOTAS)
    picked: list[bytes] = []
    for record in _records(source):
        name = record.get("source", "")
        if left.get(name, 0) > 0 and "raw" in record:
            left[name] -= 1
            picked.append(record["raw"].encode("utf-8", "surrogateescape"))
            if not any(left.values()):
                break
    return picked, origin
