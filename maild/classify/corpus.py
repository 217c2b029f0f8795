"""Read labelled corpora in the shared JSONL(.gz) schema into classifier examples.

One JSON object a line: ``id``, ``label``, ``lang``, ``source`` and either ``raw`` (a
full RFC 822 message) or ``subject`` + ``body``. This is the only I/O of the training
side besides the model file. Which sources a *shipped* model may learn from is decided
here too, because it follows from the corpora's licences, not from the model.
"""

from __future__ import annotations

__all__ = [
    "CONTRAST_SOURCES",
    "FEEDBACK_SOURCE",
    "RESTRICTED_SOURCES",
    "Example",
    "family_of",
    "feedback_example",
    "group_of",
    "is_shippable",
    "load_examples",
    "read_records",
]

import gzip
import io
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from maild.classify.message import LABELS, MessageText
from maild.classify.mime import message_from_raw
from maild.errors import MaildError

log = logging.getLogger(__name__)

#: Source-name prefixes whose terms forbid a model that maild ships (see
#: ``shared/corpora/README.md``): TREC06c (TREC agreement, all rights reserved),
#: telecom-fraud-zh (non-commercial research only) and JDDC (research data handed out by
#: JD.com; the README says to clear it before shipping). They stay usable for evaluation
#: and for a user's own local model.
RESTRICTED_SOURCES: tuple[str, ...] = ("trec06c", "telecom-fraud-zh", "jddc2019")
#: Ham that teaches the model what is *not* abuse (clean rows of the abuse corpora,
#: see :mod:`maild.classify.upstream`) but is not mail: it is left out of the ham
#: false-positive budget when thresholds are chosen.
CONTRAST_SOURCES: tuple[str, ...] = ("cold-safe/", "davidson/neither")
#: The sellers' own verdicts (``maild flag``/``unflag``): one source, so that they weigh
#: as a corpus of their own and are held out together in source-aware validation.
FEEDBACK_SOURCE = "feedback"


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled message plus where it came from (for source-aware splits)."""

    id: str
    label: str
    lang: str
    source: str
    message: MessageText

    @property
    def group(self) -> str:
        """Records that must stay on the same side of a split."""
        return group_of(self.id)


def group_of(record_id: str) -> str:
    """JDDC sessions give several records (``jddc2019:<session>:<n>``); keep them together."""
    if record_id.startswith(("jddc2019:", "jddc2019dev:")):
        return record_id.rsplit(":", 1)[0]
    return record_id


#: Source-name prefixes that are one corpus although its parts have their own names
#: (train/dev splits, ham/spam folders, the clean and abusive rows of one collection).
_ONE_CORPUS: tuple[tuple[str, str], ...] = (
    ("spamassassin/", "spamassassin"),
    ("cold-safe/", "cold"),
    ("cold/", "cold"),
    ("davidson/", "davidson"),
)


def family_of(source: str) -> str:
    """The corpus a source belongs to: what "a source the model has never seen" means.

    Source-aware validation holds out whole families, so that the ham and the spam of
    one corpus (which share its formatting) are never on opposite sides of a split.
    """
    for prefix, family in _ONE_CORPUS:
        if source.startswith(prefix):
            return family
    return source.removesuffix("/train").removesuffix("/dev")


def is_shippable(source: str) -> bool:
    """Whether a model maild distributes may be trained on this source."""
    return not source.startswith(RESTRICTED_SOURCES)


def _open(path: Path) -> gzip.GzipFile | io.BufferedReader:
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return path.open("rb")


def read_records(path: Path) -> Iterator[dict[str, object]]:
    """Yield the JSON objects of one corpus file; a broken line is an error with its place."""
    for _lineno, record in _numbered_records(path):
        yield record


def _numbered_records(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    """Records with their line numbers, so that every later complaint can name its line.

    A file that cannot be read to the end (unreadable, truncated or corrupt gzip, not
    UTF-8) is a :class:`MaildError` naming the line reached, never a traceback.
    """
    lineno = 0
    try:
        with _open(path) as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise MaildError(f"{path}:{lineno}: not UTF-8 text") from exc
                except json.JSONDecodeError as exc:
                    raise MaildError(f"{path}:{lineno}: not JSON: {exc.msg}") from exc
                if not isinstance(record, dict):
                    raise MaildError(f"{path}:{lineno}: expected a JSON object")
                yield lineno, record
    except (OSError, EOFError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise MaildError(f"{path}:{lineno + 1}: cannot read the file: {reason}") from exc


def _to_example(record: dict[str, object], where: str) -> Example:
    label = str(record.get("label", ""))
    if label not in LABELS:
        raise MaildError(f"{where}: unknown label {label!r}; expected one of {LABELS}")
    lang = str(record.get("lang", ""))
    raw = record.get("raw")
    if isinstance(raw, str):
        message = replace(message_from_raw(raw), lang=lang)
    else:
        message = MessageText(
            subject=str(record.get("subject") or ""), body=str(record.get("body") or ""), lang=lang
        )
    return Example(
        id=str(record.get("id", where)),
        label=label,
        lang=lang,
        source=str(record.get("source") or "unknown"),
        message=message,
    )


def feedback_example(pk: int, label: str, raw: bytes) -> Example:
    """A stored message a seller judged, read as the pipeline reads it for the model."""
    return Example(
        id=f"{FEEDBACK_SOURCE}:{pk}",
        label=label,
        lang="",
        source=FEEDBACK_SOURCE,
        message=message_from_raw(raw),
    )


def load_examples(
    paths: Iterable[Path],
    keep: Callable[[str], bool] = lambda source: True,
    progress: Callable[[int], None] | None = None,
) -> list[Example]:
    """Load every record of ``paths`` whose source passes ``keep``.

    ``progress`` is called with the running count every 10,000 records, so a CLI can
    show that a long load is alive without this module printing anything.
    """
    out: list[Example] = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise MaildError(f"{path}: no such corpus file")
        for lineno, record in _numbered_records(path):
            if not keep(str(record.get("source") or "unknown")):
                continue
            out.append(_to_example(record, f"{path}:{lineno}"))
            if progress is not None and len(out) % 10_000 == 0:
                progress(len(out))
        log.info("corpus loaded path=%s examples=%d", path, len(out))
    return out
